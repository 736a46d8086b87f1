"""StreamProgress: what may be committed, and when a record skips unprocessed ones."""

from faust.types import TP

from worker.adapters.faust_runtime import StreamProgress

OPENED = TP("incidents.opened", 0)


def test_commits_never_pass_the_last_record_finished():
    progress = StreamProgress()
    assert progress.commit_limit(OPENED) is None  # nothing finished since the assignment: commit nothing
    progress.processed(OPENED, 41)
    assert progress.commit_limit(OPENED) == 42


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
    assert progress.commit_limit(OPENED) == 267


def test_reading_back_past_the_gap_again_may_show_a_gap_of_the_log_itself():
    progress = StreamProgress()
    progress.processed(OPENED, 9)
    assert progress.gap(OPENED, 12) == (10, False)
    assert progress.gap(OPENED, 13) == (10, False)
    assert progress.gap(OPENED, 12) == (10, True)  # back at or before the furthest seen: the caller checks the log
    progress.processed(OPENED, 12)
    assert progress.gap(OPENED, 20) == (13, False)  # a new gap starts afresh
