"""faust's table manager without its one-second pause at start (the app's ``TableManager`` setting)."""

from __future__ import annotations

from faust.tables import TableManager as FaustTableManager


class TableManager(FaustTableManager):
    """faust waits a second at start before it finalises the tables, in case more are added once the app
    runs. The worker adds its one table when it builds the app, so it joins its group a second sooner
    without that wait (restarts at a million tickets were not measurably shorter: BENCHMARKS.md)."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()
