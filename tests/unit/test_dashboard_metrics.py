"""The Grafana dashboard and the alert rules use only metrics the worker exports.

Every PromQL expression of ``helm/incident-timer/files/dashboard.json`` (panel targets and
template-variable queries) and of ``helm/incident-timer/files/alerts.yaml`` is reduced to
the metric names it selects; histogram series (``_bucket``, ``_sum``, ``_count``) count as
their histogram. Those names must all be in ``EXPORTED``.

``EXPORTED`` is the documented list of the worker's metrics, plus ``up`` (set by
Prometheus) and the default collectors of prometheus-client. It is meant to be replaced
by the names of a live scrape of the worker's /metrics.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART_FILES = ROOT / "helm" / "incident-timer" / "files"
DASHBOARD = CHART_FILES / "dashboard.json"
ALERTS = CHART_FILES / "alerts.yaml"

# The worker's own metrics, as documented (histograms by their base name).
DOCUMENTED = {
    "incident_timer_input_events_total",
    "incident_timer_rejected_events_total",
    "incident_timer_duplicate_events_total",
    "incident_timer_output_events_total",
    "incident_timer_open_timers",
    "incident_timer_fire_delay_seconds",
    "incident_timer_event_processing_seconds",
    "incident_timer_consumer_lag",
    "incident_timer_recovery_duration_seconds",
    "incident_timer_recovering",
    "incident_timer_orphan_events_held",
    "incident_timer_orphan_events_dropped_total",
    "incident_timer_fired_while_lagging_total",
    "incident_timer_ready",
    "incident_timer_last_tick_timestamp_seconds",
    "incident_timer_changelog_resends_total",
    "incident_timer_changelog_unreadable_records_total",
}

EXPORTED = DOCUMENTED | {
    # set by Prometheus for every target
    "up",
    # prometheus-client's default process and platform/GC collectors
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_start_time_seconds",
    "process_open_fds",
    "process_max_fds",
    "python_info",
    "python_gc_objects_collected_total",
    "python_gc_objects_uncollectable_total",
    "python_gc_collections_total",
}

HISTOGRAMS = {"incident_timer_fire_delay_seconds", "incident_timer_event_processing_seconds"}

# PromQL words that look like identifiers but are not metric names.
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "offset", "bool", "inf", "nan", "atan2",
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VAR = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\w+")
_LABEL_VALUES = re.compile(r"\blabel_values\s*\(\s*([^,()]*(?:\{[^}]*\})?)\s*,\s*\w+\s*\)")
_IDENT = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:])")
_DURATION = re.compile(r"^\d")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (label names, functions and keywords stripped)."""
    text = _LABEL_VALUES.sub(lambda m: m.group(1), expr)  # Grafana: label_values(metric, label)
    text = _GRAFANA_VAR.sub("5m", text)
    text = _STRING.sub('""', text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        word = match.group(1)
        rest = text[match.end():].lstrip()
        if rest.startswith("("):  # a function or an aggregation
            continue
        if word.lower() in KEYWORDS or _DURATION.match(word):
            continue
        names.add(word)
    return {_histogram_name(name) for name in names}


def _histogram_name(name: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and base in HISTOGRAMS:
            return base
    return name


def _dashboard_exprs() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    found: list[tuple[str, str]] = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f"panel {panel.get('title')!r} {target.get('refId')}", target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            query = query.get("query") if isinstance(query, dict) else query
            if query:
                found.append((f"variable {variable['name']!r}", query))
    return found


def _alert_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [
        (f"rule {rule.get('alert') or rule.get('record')!r}", rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def test_extraction_ignores_functions_keywords_labels_and_histogram_suffixes():
    expr = (
        'histogram_quantile(0.99, sum by (le, namespace) (rate(incident_timer_fire_delay_seconds_bucket'
        '{job="incident-timer", le!="+Inf", pod=~"$pod"}[$__rate_interval] offset 5m))) > 5 '
        'and on (instance) up{job="x"} == 1 unless absent(incident_timer_ready) '
        "or time() - incident_timer_last_tick_timestamp_seconds > bool 60"
    )
    assert metric_names(expr) == {
        "incident_timer_fire_delay_seconds", "up", "incident_timer_ready", "incident_timer_last_tick_timestamp_seconds",
    }
    assert metric_names('label_values(up{job="incident-timer"}, namespace)') == {"up"}
    assert metric_names("sum(rate(incident_timer_event_processing_seconds_count[5m]))") == {
        "incident_timer_event_processing_seconds"
    }
    assert metric_names('{__name__="x"}') == set()


def test_dashboard_and_alerts_have_expressions():
    dashboard = _dashboard_exprs()
    alerts = _alert_exprs()
    assert len(dashboard) >= 10
    assert {name for name, _ in alerts} >= {
        "rule 'IncidentTimerDown'", "rule 'IncidentTimerConsumerLagGrowing'", "rule 'IncidentTimerFireDelayHigh'",
        "rule 'IncidentTimerDeadLetters'", "rule 'IncidentTimerRecoveryStuck'", "rule 'IncidentTimerNoTicks'",
    }
    for where, expr in dashboard + alerts:
        assert metric_names(expr), f"{where}: no metric name found in {expr!r}"


@pytest.mark.parametrize("where, expr", _dashboard_exprs() + _alert_exprs(), ids=lambda value: value[:60])
def test_every_metric_used_is_exported(where, expr):
    unknown = metric_names(expr) - EXPORTED
    assert not unknown, f"{where} uses metrics the worker does not export: {sorted(unknown)}\n{expr}"


def test_every_worker_metric_is_on_the_dashboard():
    used = set().union(*(metric_names(expr) for _, expr in _dashboard_exprs()))
    assert DOCUMENTED - used == set()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)")
def test_dashboard_expressions_parse(tmp_path):
    """promtool parses every dashboard expression (Grafana variables replaced by plain values)."""
    def plain(expr: str) -> str:
        expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
        return _GRAFANA_VAR.sub(".*", expr)

    rules = [
        {"record": f"dashboard:expr_{index}", "expr": plain(expr)}
        for index, (where, expr) in enumerate(_dashboard_exprs())
        if not where.startswith("variable")
    ]
    path = tmp_path / "dashboard-rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
