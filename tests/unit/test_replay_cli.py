"""The offline replay command and the checked-in schemas."""

import json
from pathlib import Path

import pytest

from worker import schemas
from worker.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "worker" / "examples" / "volvo-sample.jsonl"
VOLVO = ROOT.parent / "shared" / "data" / "volvo-incidents-2010-2012.jsonl"


def test_checked_in_schemas_match_the_models():
    assert schemas.stale(ROOT / "schemas") == [], "run: incident-timer schemas"


def test_replay_sample_prints_facts_and_summary(tmp_path, capsys):
    out = tmp_path / "facts.jsonl"
    assert main(["replay", str(SAMPLE), "--out", str(out)]) == 0
    facts = [json.loads(line) for line in out.read_text().splitlines()]
    types = {f["type"] for f in facts}
    assert {"sla.response_breached", "sla.update_overdue", "sla.update_overdue_cleared"} <= types
    summary = capsys.readouterr().err
    assert "compliance" in summary and "premium" in summary and "events applied: 979" in summary


def test_bad_lines_are_reported_with_line_numbers_and_skipped(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    good = SAMPLE.read_text().splitlines()[:5]
    events.write_text("\n".join([good[0], "not json", '{"type": "incident.opened"}', *good[1:]]) + "\n")
    rejects = tmp_path / "rejects.jsonl"
    assert main(["replay", str(events), "--rejects", str(rejects)]) == 0
    err = capsys.readouterr().err
    assert f"{events}:2: skipped (not_json)" in err
    assert f"{events}:3: skipped (invalid)" in err
    assert "events applied: 5" in err
    dead = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(d["line"], d["reason"]) for d in dead] == [(2, "not_json"), (3, "invalid")]


def test_arrival_order_and_sorted_order_agree_on_sample(tmp_path):
    sorted_out, arrival_out = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    main(["replay", str(SAMPLE), "--out", str(sorted_out)])
    main(["replay", str(SAMPLE), "--arrival-order", "--out", str(arrival_out)])
    facts = {json.loads(line)["id"] for line in sorted_out.read_text().splitlines()}
    arrived = [json.loads(line) for line in arrival_out.read_text().splitlines()]
    assert facts <= {a["id"] for a in arrived}


def test_bad_policy_stops_before_reading_events(tmp_path, capsys):
    policy = tmp_path / "p.yaml"
    policy.write_text("severity_change: sometimes\n")
    assert main(["replay", str(SAMPLE), "--policy", str(policy)]) == 2
    assert "severity_change" in capsys.readouterr().err


@pytest.mark.skipif(not VOLVO.exists(), reason="shared Volvo data not present")
def test_full_volvo_log_replays_without_bad_lines(tmp_path, capsys):
    out = tmp_path / "facts.jsonl"
    assert main(["replay", str(VOLVO), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "events applied: 65533" in err and "bad lines skipped: 0" in err
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(ids) == len(set(ids)) > 1000


def test_readme_documents_every_worker_setting():
    from worker.settings import ENV_PREFIX, WorkerSettings

    readme = (ROOT / "README.md").read_text()
    missing = [name for name in WorkerSettings.model_fields if f"`{ENV_PREFIX}{name.upper()}`" not in readme]
    assert missing == []
