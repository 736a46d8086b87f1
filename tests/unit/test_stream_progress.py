"""StreamProgress: what may be committed, and when a record skips unprocessed ones."""

from faust.types import TP

from worker.adapters.faust_runtime import StreamProgress

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


def test_records_already_on_their_way_after_a_seek_each_seek_again():
    progress = StreamProgress()
    progress.processed(OPENED, 265)
    assert [progress.skipped_to(OPENED, o) for o in (336, 337, 338)] == [266, 266, 266]
    assert progress.skipped_to(OPENED, 266) is None  # reading restarted where it should
    progress.processed(OPENED, 266)
    assert progress.commit_limit(OPENED) == 267


def test_a_gap_still_there_when_reading_restarts_is_the_logs_own():
    progress = StreamProgress()
    progress.processed(OPENED, 9)
    assert progress.skipped_to(OPENED, 11) == 10
    assert progress.skipped_to(OPENED, 11) is None  # re-read from 10 and still 11 first: e.g. a transaction marker
    progress.processed(OPENED, 11)
    assert progress.skipped_to(OPENED, 20) == 12  # a new gap is checked again
