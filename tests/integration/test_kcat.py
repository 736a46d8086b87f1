"""An independent client, Debian's kcat (librdkafka), produces the inputs and reads the outputs."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import collect, now, opened


@pytest.fixture(scope="module")
def kcat_env(tmp_path_factory) -> dict[str, str]:
    """kcat with the librdkafka of the confluent-kafka wheel.

    Debian's kcat links librdkafka 2.0.2, whose ApiVersions parsing fails against
    the embedded broker ("Read underflow"); a current librdkafka works unchanged.
    The kcat binary is still Debian's: only the library is newer.
    """
    kcat = shutil.which("kcat")
    assert kcat, "kcat is missing: .ci/run installs it (apt-get install kcat)"
    import confluent_kafka

    libs = sorted((Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs").glob("librdkafka*.so*"))
    assert libs, "librdkafka not found in the confluent-kafka wheel"
    directory = tmp_path_factory.mktemp("librdkafka")
    (directory / "librdkafka.so.1").symlink_to(libs[0])
    return {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(directory)}


async def test_kcat_produces_inputs_and_reads_breaches(settings, workers, kcat_env):
    workers("worker")
    event = opened("kcat-1", now())
    subprocess.run(
        ["kcat", "-b", settings.brokers, "-P", "-t", settings.topic_opened, "-k", "kcat-1"],
        input=json.dumps(event).encode(), env=kcat_env, check=True, timeout=30,
    )
    await collect(settings, [settings.topic_breaches], lambda r: len(r) >= 1, timeout=60)
    read = subprocess.run(
        ["kcat", "-b", settings.brokers, "-C", "-t", settings.topic_breaches, "-o", "beginning", "-e", "-J"],
        env=kcat_env, capture_output=True, check=True, timeout=30,
    )
    records = [json.loads(line) for line in read.stdout.decode().splitlines() if line.strip()]
    assert records, read.stderr.decode()
    record = records[0]
    body = json.loads(record["payload"])
    headers = dict(zip(record["headers"][::2], record["headers"][1::2]))
    assert record["key"] == "kcat-1" and body["type"] == "sla.response_breached"
    assert headers["ce_id"] == body["id"] and headers["ce_type"] == "sla.response_breached"
