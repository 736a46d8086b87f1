"""StreamProgress: what may be committed, and when a record skips unprocessed ones."""

from faust.types import TP

from worker.adapters.faust_runtime import GAP_SEEKS, StreamProgress

OPENED = TP("incidents.opened", 0)


def test_commits_never_pass_the_last_record_finished():
    progress = StreamProgress()
    assert progress.commit_limit(OPENED) is None  # nothing finished since the assignment: commit nothing
    progress.processed(OPENED, 41)
    assert progress.commit_limit(OPENED) == 42


def test_a_record_past_unprocessed_ones_sends_the_reader_back():
    progress = StreamProgress()
    progress.processed(OPENED, 9)
    assert progress.skipped_to(OPENED, 10) is None  # the next record
    assert progress.skipped_to(OPENED, 7) is None  # a redelivery: harmless, applied idempotently
    assert progress.skipped_to(OPENED, 15) == 10


def test_a_gap_that_persists_after_seeking_back_is_the_logs_own():
    progress = StreamProgress()
    progress.processed(OPENED, 9)
    assert [progress.skipped_to(OPENED, 11) for _ in range(GAP_SEEKS)] == [10] * GAP_SEEKS
    assert progress.skipped_to(OPENED, 11) is None  # e.g. a transaction marker at 10
    progress.processed(OPENED, 11)
    progress.processed(OPENED, 12)
    assert progress.skipped_to(OPENED, 20) == 13  # a new gap is checked again
