"""JSON log lines: one parseable line per event, also for what the fast encoder refuses."""

import json

import pytest
import structlog

from worker.adapters import logs


@pytest.fixture
def json_logs():
    logs.logging_config("INFO", "json")  # structlog's part only: stdlib logging stays as it is
    yield
    structlog.reset_defaults()


def test_every_line_is_json_even_with_text_orjson_refuses(json_logs, capsys):
    log = logs.get_logger("incident_timer.test")
    log.info("input rejected to the dead-letter topic", detail="bad \ud800 text", offset=7)
    log.info("output emitted", ticket_id="T-Örebro-1", huge=2**70)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["event"], line["level"], line["logger"]) for line in lines] == [
        ("input rejected to the dead-letter topic", "info", "incident_timer.test"),
        ("output emitted", "info", "incident_timer.test"),
    ]
    assert (lines[0]["detail"], lines[0]["offset"]) == ("bad \ud800 text", 7)
    assert (lines[1]["ticket_id"], lines[1]["huge"]) == ("T-Örebro-1", 2**70)
