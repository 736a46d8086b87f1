"""Metrics scraped by a real Prometheus, promtool on /metrics, and one breach followed in the logs."""

import json
import shutil
import subprocess
import urllib.parse
import urllib.request

import pytest

from worker.adapters.embedded_broker import free_port

from tests.integration.conftest import collect, now, opened, poll_until


def http_get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except urllib.error.URLError:  # not listening yet
        return 0, b""


@pytest.fixture
def prometheus(tmp_path):
    """Start a real Prometheus scraping one target every second; yields (start, query)."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: .ci/run installs it (apt-get install prometheus)"
    processes = []

    def start(target: str) -> str:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: incident-timer\n    static_configs: [{{targets: ['{target}']}}]\n"
        )
        processes.append(subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


def query(base: str, expression: str) -> list:
    status, body = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expression}))
    assert status == 200, body
    return json.loads(body)["data"]["result"]


async def test_prometheus_scrapes_breaches_and_fire_delay_and_logs_follow_one_ticket(
    settings, workers, prometheus
):
    port = free_port()
    worker = workers("worker", http_port=port)
    base = f"http://127.0.0.1:{port}"
    await poll_until(lambda: http_get(f"{base}/healthz")[0] == 200, 60, "/healthz answers")
    await poll_until(lambda: http_get(f"{base}/readyz")[0] == 200, 60, "/readyz says ready")
    server = prometheus(f"127.0.0.1:{port}")
    # Prometheus answers queries with 503 until it has opened its storage.
    await poll_until(lambda: http_get(f"{server}/-/ready")[0] == 200, 60, "Prometheus is ready")
    await poll_until(lambda: query(server, 'up{job="incident-timer"} == 1'), 60, "Prometheus scrapes the worker")
    before = query(server, "sum(incident_timer_output_events_total)")
    assert before == [] or float(before[0]["value"][1]) == 0.0

    await produce_one_breach(settings)
    await poll_until(lambda: query(server, 'incident_timer_output_events_total{type="sla.response_breached"} > 0'),
                60, "the breach counter rose in Prometheus")
    samples = await poll_until(lambda: query(server, "incident_timer_fire_delay_seconds_count > 0"), 60,
                          "the fire-delay histogram has samples")
    assert float(samples[0]["value"][1]) >= 1

    # promtool accepts the exposition format
    status, body = http_get(f"{base}/metrics")
    assert status == 200
    check = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

    # every metric the dashboard and the alert rules use is in the live exposition
    from tests.unit.test_dashboard_metrics import _alert_exprs, _dashboard_exprs, metric_names

    live = {line.split()[2] for line in body.decode().splitlines() if line.startswith("# TYPE ")}
    live |= {name + "_total" for name in live}  # counters' families are named without _total
    used = set().union(*(metric_names(expr) for _, expr in _dashboard_exprs() + _alert_exprs()))
    assert used - live - {"up"} == set(), f"dashboard or alerts use metrics the worker does not export: {used - live}"

    # the logs: JSON lines, and the breach can be followed from input to output by ticket_id alone
    lines = [json.loads(line) for line in worker.log_text().splitlines() if line.startswith("{")]
    assert lines and all("timestamp" in line and line["timestamp"].endswith("Z") for line in lines)
    trail = [line for line in lines if line.get("ticket_id") == "observed-1"]
    assert [line["event"] for line in trail] == ["input applied", "output emitted"]
    assert trail[0]["topic"] == settings.topic_opened and {"partition", "offset", "event_id"} <= set(trail[0])
    assert trail[1]["type"] == "sla.response_breached"
    assert "customer secret" not in worker.log_text(), "payload bodies stay out of the logs"


async def produce_one_breach(settings):
    from tests.integration.conftest import produce

    event = opened("observed-1", now())
    event["title"] = "customer secret title"
    await produce(settings, [event])
    await collect(settings, [settings.topic_breaches], lambda r: len(r) >= 1, timeout=60)
