"""JSON log lines: one parseable line per event, also for what the fast encoder refuses."""

import asyncio
import io
import json
import threading

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


class _Flushes(io.StringIO):
    """stdout that counts its flushes and keeps what each flush made visible."""

    def __init__(self) -> None:
        super().__init__()
        self.visible: list[str] = []

    def flush(self) -> None:
        self.visible.append(self.getvalue())


async def test_lines_of_one_event_loop_pass_are_flushed_together_at_its_end():
    out = _Flushes()
    logger = logs._NamedWriteLogger("incident_timer.test", out)
    logger.info("one")
    logger.info("two")
    assert out.visible == []
    await asyncio.sleep(0)  # the loop's next pass
    assert out.visible == ["one\ntwo\n"]
    logger.warning("three")
    await asyncio.sleep(0)
    assert out.visible == ["one\ntwo\n", "one\ntwo\nthree\n"]


async def test_a_line_of_another_thread_joins_the_lines_a_running_loop_will_write():
    out = _Flushes()
    logger = logs._NamedWriteLogger("incident_timer.test", out)
    logger.info("one")
    thread = threading.Thread(target=logger.info, args=("from a thread",))
    thread.start()
    thread.join()
    assert out.visible == []
    await asyncio.sleep(0)
    assert out.visible == ["one\nfrom a thread\n"]


def test_a_line_written_outside_an_event_loop_is_flushed_at_once():
    out = _Flushes()
    logger = logs._NamedWriteLogger("incident_timer.test", out)
    logger.info("one")
    assert out.visible == ["one\n"]
    asyncio.run(asyncio.sleep(0))  # a loop that has come and gone changes nothing
    logger.error("two")
    assert out.visible == ["one\n", "one\ntwo\n"]
