"""The due-index rebuild after a rebalance: the recovered tickets leave the garbage collector's walk."""

import gc

from worker.adapters.faust_runtime import TimerApp
from worker.domain.policy import Policy
from worker.domain.timers import TicketState
from worker.service.timer_service import StoredTicket
from worker.settings import WorkerSettings


def test_the_rebuild_freezes_what_it_recovered_out_of_full_collections():
    app = TimerApp(WorkerSettings(brokers="127.0.0.1:1"), Policy(), 4)
    app.owned_partitions = lambda: {1}  # no consumer here: the assignment is given
    app.table.data.data["T-1"] = StoredTicket(1, "", 0, TicketState("T-1"))  # as recovery leaves it
    gc.unfreeze()
    try:
        app._rebuild()
        assert gc.get_freeze_count() > 0
        assert app.service.partitions.keys() == {1}
    finally:
        gc.unfreeze()
