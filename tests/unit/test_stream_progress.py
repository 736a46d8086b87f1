"""StreamProgress: what may be committed, and when a record skips unprocessed ones."""

from faust.types import TP

from worker.adapters.faust_runtime import StreamProgress

OPENED = TP("incidents.opened", 0)


RESPONSES = TP("incidents.responses", 0)
OPENED_1 = TP("incidents.opened", 1)


def test_commits_never_pass_the_last_record_whose_state_is_written():
    progress = StreamProgress()
    assert progress.commit_limit(OPENED) is None  # nothing finished since the assignment: commit nothing
    progress.processed(OPENED, 41)
    assert progress.commit_limit(OPENED) is None  # processed, its state still in the write-back
    progress.written(progress.processed_in(0))
    assert progress.commit_limit(OPENED) == 42
    progress.processed(OPENED, 42)
    assert progress.commit_limit(OPENED) == 42


def test_a_write_out_covers_every_topic_of_its_partition_and_no_other_partition():
    progress = StreamProgress()
    progress.processed(OPENED, 5)
    progress.processed(RESPONSES, 7)
    progress.processed(OPENED_1, 3)
    progress.written(progress.processed_in(0))
    assert [progress.commit_limit(tp) for tp in (OPENED, RESPONSES, OPENED_1)] == [6, 8, None]


async def test_a_restart_commits_nothing_until_the_next_write_out():
    class Consumer:  # committed offsets as faust's consumer thread answers them
        async def earliest_offsets(self, *tps):
            return {tp: 0 for tp in tps}

    class Thread:
        def _ensure_consumer(self):
            return type("Aiokafka", (), {"committed": lambda self, tp: 4})()

        async def call_thread(self, method, *args):
            return method(*args)

    consumer = Consumer()
    consumer._thread = Thread()
    progress = StreamProgress()
    progress.processed(OPENED, 9)
    progress.written(progress.processed_in(0))
    await progress.restart(consumer, [OPENED])
    assert progress.commit_limit(OPENED) is None and progress.next_offset[OPENED] == 4
    progress.written(progress.processed_in(0))
    assert progress.commit_limit(OPENED) == 4


def test_a_record_past_unprocessed_ones_is_a_gap():
    progress = StreamProgress()
    progress.processed(OPENED, 9)
    assert progress.gap(OPENED, 10) is None  # the next record
    assert progress.gap(OPENED, 7) is None  # a redelivery: harmless, applied idempotently
    assert progress.gap(OPENED, 15) == (10, False)


def test_records_already_on_their_way_after_a_seek_are_gaps_seen_for_the_first_time():
    progress = StreamProgress()
    progress.processed(OPENED, 265)
    assert [progress.gap(OPENED, o) for o in (336, 337, 338)] == [(266, False)] * 3
    assert progress.gap(OPENED, 266) is None  # reading restarted where it should
    progress.processed(OPENED, 266)
    progress.written(progress.processed_in(0))
    assert progress.commit_limit(OPENED) == 267


def test_reading_back_past_the_gap_again_may_show_a_gap_of_the_log_itself():
    progress = StreamProgress()
    progress.processed(OPENED, 9)
    assert progress.gap(OPENED, 12) == (10, False)
    assert progress.gap(OPENED, 13) == (10, False)
    assert progress.gap(OPENED, 12) == (10, True)  # back at or before the furthest seen: the caller checks the log
    progress.processed(OPENED, 12)
    assert progress.gap(OPENED, 20) == (13, False)  # a new gap starts afresh
