"""The worker's app finalises its tables as it starts, without faust's one-second pause."""

from worker.adapters.faust_runtime import TimerApp
from worker.adapters.table_manager import TableManager
from worker.domain.policy import Policy
from worker.settings import WorkerSettings


async def test_the_app_s_table_manager_finalises_the_tables_and_starts_recovery_without_sleeping(monkeypatch):
    tables = TimerApp(WorkerSettings(brokers="127.0.0.1:1"), Policy(), 4).app.tables
    assert isinstance(tables, TableManager) and "tickets" in tables
    calls: list[str] = []

    async def record(name: str) -> None:
        calls.append(name)

    async def sleep(*args, **kwargs) -> None:
        calls.append("sleep")

    monkeypatch.setattr(tables, "_update_channels", lambda: record("tables finalised"))  # declares topics: Kafka
    monkeypatch.setattr(type(tables.recovery), "start", lambda self: record("recovery started"))
    monkeypatch.setattr(tables, "sleep", sleep)
    await tables.on_start()
    assert calls == ["tables finalised", "recovery started"]
