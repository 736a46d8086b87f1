"""Issue 6, scenario 7: the worker reaches Kafka over TLS with certificate verification.

The embedded broker's own TLS flags do not work in the build shipped here, so
Debian's stunnel4 terminates TLS in front of it and the broker advertises the
stunnel port: every client connection, bootstrap and fetch alike, goes through TLS.
The certificates come from a throw-away CA (trustme), for the IP 127.0.0.1.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import trustme
from pydantic import SecretStr

from worker.adapters.embedded_broker import EmbeddedBroker, free_port
from worker.adapters.kafka_admin import prepare_topics
from worker.settings import to_environment

from tests.integration.conftest import collect, facts, now, opened, produce, response

pytestmark = pytest.mark.reliability

SECRET = "s3cr3t-never-in-logs"


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    """A broker behind stunnel: yields (bootstrap address of the TLS port, CA file)."""
    if not shutil.which("stunnel4"):
        pytest.fail("stunnel4 is needed (apt-get install stunnel4; .ci/run installs it)")
    here = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(here / "ca.pem")
    server = ca.issue_cert("127.0.0.1")
    server.private_key_and_cert_chain_pem.write_to_path(here / "server.pem")
    tls_port = free_port()
    with EmbeddedBroker(log_file=here / "broker.log", advertised_port=tls_port) as broker:
        (here / "stunnel.conf").write_text(
            f"foreground = yes\npid =\noutput = {here / 'stunnel.log'}\n"
            f"[kafka]\naccept = 127.0.0.1:{tls_port}\nconnect = {broker.bootstrap}\ncert = {here / 'server.pem'}\n"
        )
        stunnel = subprocess.Popen(["stunnel4", str(here / "stunnel.conf")], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            listening(tls_port, stunnel)
            yield f"127.0.0.1:{tls_port}", here
        finally:
            stunnel.terminate()
            stunnel.wait(10)


def listening(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Wait until stunnel accepts connections on ``port`` (nothing to await: poll the port)."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "stunnel4 exited; see its log"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"stunnel4 is not listening on {port}"
            time.sleep(0.05)


def tls_settings(settings, tls_broker, **overrides):
    bootstrap, here = tls_broker
    return settings.model_copy(update={"brokers": bootstrap, "security_protocol": "SSL",
                                       "ssl_cafile": here / "ca.pem", **overrides})


def run_worker(settings, timeout: float = 60) -> subprocess.CompletedProcess:
    """The worker in the foreground: it must give up by itself, well before ``timeout``."""
    return subprocess.run([sys.executable, "-m", "worker.cli", "worker"],
                          env={**os.environ, **to_environment(settings)}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


async def test_worker_over_verified_tls_breaches_as_on_plaintext(settings, workers, tls_broker):
    secure = tls_settings(settings, tls_broker)
    await prepare_topics(secure)
    workers("tls", brokers=secure.brokers, security_protocol="SSL", ssl_cafile=secure.ssl_cafile)
    t0 = now()
    await produce(secure, [opened("TLS-1", t0), opened("TLS-2", t0), response("TLS-2", t0 + timedelta(seconds=1))])
    records = await collect(secure, [secure.topic_breaches], lambda r: len(r) >= 1, timeout=60)
    assert {f["ticket_id"] for f in facts(records)} == {"TLS-1"}


def test_wrong_ca_is_a_clear_error_and_a_non_zero_exit(settings, tls_broker):
    other_ca = tls_broker[1] / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(other_ca)
    result = run_worker(tls_settings(settings, tls_broker, ssl_cafile=other_ca))
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "certificate verify failed" in result.stderr, result.stderr[-2000:]


def test_wrong_host_name_is_a_clear_error_and_a_non_zero_exit(settings, tls_broker):
    bootstrap, _ = tls_broker
    port = bootstrap.rsplit(":", 1)[1]
    result = run_worker(tls_settings(settings, tls_broker, brokers=f"localhost:{port}"))  # the cert names 127.0.0.1
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "certificate verify failed" in result.stderr and "localhost" in result.stderr, result.stderr[-2000:]


def test_sasl_secret_never_appears_in_output_even_when_authentication_fails(settings, tls_broker):
    result = run_worker(tls_settings(settings, tls_broker, security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                                     sasl_username="timer", sasl_password=SecretStr(SECRET)))
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert SECRET not in result.stdout + result.stderr
