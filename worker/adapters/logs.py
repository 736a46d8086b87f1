"""Structured logs: structlog for our events, faust's and aiokafka's stdlib logs through the same renderer.

JSON lines on stdout with ISO UTC timestamps (``json``), or a readable console
renderer for ``incident-timer dev`` (``console``). Payload bodies are never
logged: titles can carry customer data.

Our own events do not pass through stdlib ``logging``: a level-filtering
structlog logger renders and writes them itself. Through ``logging`` a line
cost about 56 us against 18 us, and the worker logs a line per input event
and per output (measured in the worker bench: 0.67 against 0.52 ms of CPU per
event at INFO and WARNING).

Lines are written and flushed once per pass of the event loop that logs them,
not once per line: each write to the file is a system call that also hands the
GIL to faust's consumer thread, and a burst of breaches logs a line per breach.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging.config
import sys
import threading
from typing import Any, TextIO

import orjson
import structlog

_SHARED = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _PassBuffer:
    """The lines written to one file in one pass of an event loop, written and flushed together at its end.

    A line written outside a running loop is written at once, with any still
    waiting; a line of another thread joins those a running loop will write
    out. At exit every waiting line is written (atexit); a killed process
    loses at most the lines of one pass. Lines of faust's and aiokafka's stdlib
    loggers go straight to stdout, so within one pass they may precede ours.
    """

    def __init__(self, file: TextIO) -> None:
        self.file = file
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.written_by: asyncio.AbstractEventLoop | None = None  # the loop that will write them out
        atexit.register(self.write_out)

    def add(self, line: str) -> None:
        with self.lock:
            self.lines.append(line)
            if self.written_by is not None and self.written_by.is_running():
                return  # a loop will write it out at the end of its pass
            # Looked up once per pass, not per line: on Python 3.11 every lookup is a getpid() system call.
            try:
                loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            self.written_by = loop
        if loop is None:
            self.write_out()
        else:
            loop.call_soon(self.write_out)

    def write_out(self) -> None:
        with self.lock:
            lines, self.lines, self.written_by = self.lines, [], None
            if lines:
                self.file.write("".join(lines))
                self.file.flush()


_buffers: dict[TextIO, _PassBuffer] = {}  # one per file: every logger writing to it shares its pass


class _NamedWriteLogger:
    """A structlog logger writing lines to a file (stdout) through its _PassBuffer, with a ``name``, which
    ``add_logger_name`` reads as it reads stdlib's."""

    def __init__(self, name: str, file: TextIO | None = None) -> None:
        file = file or sys.stdout
        self.name = name
        self._buffer = _buffers.get(file) or _buffers.setdefault(file, _PassBuffer(file))

    def msg(self, message: str) -> None:
        self._buffer.add(message + "\n")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def _json_line(event: dict, **options: Any) -> str:
    """orjson, about 4x faster per line than json (the worker logs a line per event and per output); json
    for what orjson refuses (lone surrogates, integers past 64 bits), so that no line is lost."""
    try:
        return orjson.dumps(event, default=options.get("default"), option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(event, **options)


def _renderer(fmt: str) -> Any:
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(colors=False)
    return structlog.processors.JSONRenderer(serializer=_json_line)


def logging_config(level: str, fmt: str) -> dict:
    """A logging.config dictConfig (also handed to faust's worker, which installs it)."""
    structlog.configure(
        processors=[*_SHARED, structlog.processors.format_exc_info, _renderer(fmt)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_NamedWriteLogger,
        cache_logger_on_first_use=True,
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    _renderer(fmt),
                ],
                "foreign_pre_chain": [*_SHARED, structlog.stdlib.ExtraAdder()],
            }
        },
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "structured", "stream": "ext://sys.stdout"}
        },
        "root": {"level": level, "handlers": ["stdout"]},
    }


def configure(level: str, fmt: str) -> None:
    logging.config.dictConfig(logging_config(level, fmt))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)  # assembled at its first line, so after configure()
