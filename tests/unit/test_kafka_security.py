"""SASL and TLS settings reach aiokafka and faust unchanged; secrets stay out of text."""

import ssl

import faust
import pytest

from worker.adapters.faust_runtime import faust_broker_settings
from worker.adapters.kafka_admin import TopologyError, client_options
from worker.settings import WorkerSettings, to_environment


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_over_tls_is_passed_through(mechanism):
    settings = WorkerSettings(security_protocol="SASL_SSL", sasl_mechanism=mechanism,
                              sasl_username="timer", sasl_password="s3cret")
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == mechanism
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("timer", "s3cret")
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    credentials = faust_broker_settings(settings)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.mechanism.value == mechanism
    assert (credentials.username, credentials.password) == ("timer", "s3cret")
    assert credentials.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_without_credentials_is_refused_clearly():
    with pytest.raises(TopologyError, match="SASL_USERNAME"):
        client_options(WorkerSettings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN"))


def test_tls_with_a_ca_file_verifies_certificates(tmp_path):
    missing = tmp_path / "ca.pem"
    with pytest.raises((FileNotFoundError, ssl.SSLError, OSError)):
        client_options(WorkerSettings(security_protocol="SSL", ssl_cafile=missing))
    options = client_options(WorkerSettings(security_protocol="SSL"))
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert isinstance(faust_broker_settings(WorkerSettings(security_protocol="SSL"))["broker_credentials"],
                      faust.SSLCredentials)


def test_the_password_is_not_in_the_settings_text_but_reaches_a_child_process():
    settings = WorkerSettings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN",
                              sasl_username="timer", sasl_password="s3cret")
    assert "s3cret" not in repr(settings) and "s3cret" not in str(settings)
    assert to_environment(settings)["INCIDENT_TIMER_SASL_PASSWORD"] == "s3cret"
