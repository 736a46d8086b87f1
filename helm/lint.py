#!/usr/bin/env python3.12
"""Lint and render the incident-timer Helm chart offline, with the Helm embedded in helm-sdkpy.

    python3.12 -m venv /tmp/helmvenv && /tmp/helmvenv/bin/pip install helm-sdkpy
    /tmp/helmvenv/bin/python helm/lint.py [--out DIR] [--show]

1. `helm lint` of the chart with its default values. helm-sdkpy has no --strict flag, so
   strictness is applied here: a warning fails like an error (info, e.g. "icon is
   recommended", does not). helm-sdkpy reports each finding's severity and path but not
   its text.
2. `helm template` of the chart for each scenario below: default values, serviceMonitor +
   prometheusRule (+ dashboard) enabled, SASL_SSL with secrets. helm-sdkpy has no
   template action, so the script runs its Install against a stub Kubernetes API on
   127.0.0.1 that accepts every object and keeps it: Helm's own engine renders the
   templates, validates the values against values.schema.json, checks the result is
   valid Kubernetes YAML, and hands back the manifest (what `helm template` prints)
   and NOTES.txt. Nothing leaves the machine.
3. Checks on the rendered objects: the things the chart promises (StatefulSet with
   Parallel pods and a PVC template, restricted security context, probes, policy
   ConfigMap mounted and named by INCIDENT_TIMER_POLICY, SASL from secretKeyRef,
   PrometheusRule = files/alerts.yaml, dashboard ConfigMap = files/dashboard.json).
4. Values the chart must refuse (schema or template guards) are rendered too, and must fail.

Exits 1 on any lint warning or error, failed render or failed check; 0 otherwise.
`--out DIR` writes each scenario's manifest to DIR/<scenario>.yaml; `--show` prints them.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import itertools
import json
import os
import re
import sys
import threading
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

CHART = Path(__file__).resolve().parent / "incident-timer"
NAMESPACE = "incident-timer"

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "monitoring": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
        "dashboard": {"enabled": True, "folder": "Kafka"},
    },
    "sasl-tls": {
        "replicaCount": 4,
        "kafka": {
            "brokers": "b-1.kafka.example:9096,b-2.kafka.example:9096",
            "securityProtocol": "SASL_SSL",
            "partitions": 12,
            "sasl": {"mechanism": "SCRAM-SHA-512", "existingSecret": "incident-timer-kafka",
                     "usernameKey": "user", "passwordKey": "pass"},
            "tls": {"existingSecret": "kafka-client-tls", "caKey": "ca.crt", "certKey": "tls.crt", "keyKey": "tls.key"},
        },
        "policy": "default_region: us\n",
        "persistence": {"storageClassName": "fast-ssd", "size": "20Gi",
                        "retentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"}},
        "serviceMonitor": {"enabled": True, "jobLabel": "sla-timer"},
        "prometheusRule": {"enabled": True},
    },
    "no-persistence-no-policy": {"persistence": {"enabled": False}, "policy": "", "podDisruptionBudget": {"enabled": False}},
}

# Values the chart must refuse: (name, values, text expected in Helm's error).
MUST_FAIL: list[tuple[str, dict[str, Any], str]] = [
    ("unknown security protocol", {"kafka": {"securityProtocol": "PLAIN"}}, "securityProtocol"),
    ("SASL without a secret", {"kafka": {"securityProtocol": "SASL_SSL", "sasl": {"mechanism": "PLAIN"}}},
     "existingSecret"),
    ("SASL protocol without a mechanism", {"kafka": {"securityProtocol": "SASL_PLAINTEXT"}}, "sasl.mechanism"),
    ("bad duration", {"timers": {"tickInterval": "200ms"}}, "tickInterval"),
    ("misspelt value", {"replicas": 3}, "replicas"),
]

SEVERITY = {0: "unknown", 1: "info", 2: "warning", 3: "error"}


# --- a stub Kubernetes API: discovery plus create/get/list/replace of the chart's kinds ------

RESOURCES: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("", "v1"): [("configmaps", "ConfigMap"), ("secrets", "Secret"), ("services", "Service"),
                 ("serviceaccounts", "ServiceAccount"), ("persistentvolumeclaims", "PersistentVolumeClaim"),
                 ("pods", "Pod")],
    ("apps", "v1"): [("statefulsets", "StatefulSet")],
    ("policy", "v1"): [("poddisruptionbudgets", "PodDisruptionBudget")],
    ("monitoring.coreos.com", "v1"): [("servicemonitors", "ServiceMonitor"), ("prometheusrules", "PrometheusRule")],
}


class StubApi:
    """Enough of the Kubernetes API for `helm install --wait=false` to run and to keep what it creates."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str | None, str], dict[str, Any]] = {}
        self._versions = itertools.count(1)
        self._lock = threading.Lock()
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with stub._lock:
                    code, answer = stub.answer(self.command, self.path, self.headers.get("Content-Type") or "", body)
                self._send(code, answer)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def kubeconfig(self) -> str:
        """A kubeconfig (YAML text: helm-sdkpy tells it from a file path by its YAML keys)."""
        host, port = self._server.server_address[:2]
        return (
            "apiVersion: v1\n"
            "kind: Config\n"
            "current-context: stub\n"
            f"clusters:\n- name: stub\n  cluster:\n    server: http://{host}:{port}\n"
            "users:\n- name: stub\n  user:\n    token: stub\n"
            f"contexts:\n- name: stub\n  context:\n    cluster: stub\n    user: stub\n    namespace: {NAMESPACE}\n"
        )

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def _status(code: int, reason: str, message: str) -> tuple[int, dict[str, Any]]:
        return code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                      "message": message, "code": code}

    def answer(self, method: str, raw_path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        url = urllib.parse.urlsplit(raw_path)
        path = url.path.rstrip("/")
        if path == "/version":
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            groups = [{"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v}],
                       "preferredVersion": {"groupVersion": f"{g}/{v}", "version": v}}
                      for g, v in RESOURCES if g]
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            return self._status(404, "NotFound", raw_path)
        if (group, version) not in RESOURCES:
            return self._status(404, "NotFound", raw_path)
        group_version = f"{group}/{version}" if group else version
        kinds = dict(RESOURCES[(group, version)])
        if not rest:
            return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": [
                {"name": plural, "singularName": kind.lower(), "namespaced": True, "kind": kind,
                 "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
                for plural, kind in kinds.items()]}
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        plural, name = rest[0], (rest[1] if len(rest) > 1 else None)
        if plural not in kinds:
            return self._status(404, "NotFound", raw_path)
        key = (group_version, plural, namespace, name or "")
        if method == "GET" and name:
            if key in self.objects:
                return 200, self.objects[key]
            return self._status(404, "NotFound", f'{plural} "{name}" not found')
        if method == "GET":
            items = [obj for (gv, pl, ns, _), obj in self.objects.items()
                     if gv == group_version and pl == plural and (namespace is None or ns == namespace)]
            return 200, {"kind": kinds[plural] + "List", "apiVersion": group_version,
                         "metadata": {"resourceVersion": str(next(self._versions))}, "items": items}
        if method in ("POST", "PUT"):
            if "json" in content_type:
                obj = json.loads(body)
            else:  # Helm's release records (Secrets) come as protobuf: keep a stand-in.
                found = re.search(rb"sh\.helm\.release\.v1\.[a-z0-9.-]+", body)
                obj = {"kind": kinds[plural], "apiVersion": group_version,
                       "metadata": {"name": found.group(0).decode() if found else name or "release"},
                       "helmReleaseRecord": True}
            meta = obj.setdefault("metadata", {})
            if namespace:
                meta.setdefault("namespace", namespace)
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
            meta["resourceVersion"] = str(next(self._versions))
            self.objects[(group_version, plural, namespace, meta["name"])] = obj
            return (201 if method == "POST" else 200), obj
        if method == "DELETE":
            self.objects.pop(key, None)
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        return self._status(405, "MethodNotAllowed", method)

    def rendered(self) -> list[dict[str, Any]]:
        return [obj for obj in self.objects.values() if not obj.get("helmReleaseRecord")]


# --- lint, render, checks --------------------------------------------------------------------

class Report:
    def __init__(self, verbose: bool = False) -> None:
        self.failures: list[str] = []
        self.passed = 0
        self.verbose = verbose

    def ok(self, text: str) -> None:
        self.passed += 1
        if self.verbose:
            print(f"  ok    {text}")

    def fail(self, text: str) -> None:
        print(f"  FAIL  {text}")
        self.failures.append(text)

    def check(self, condition: Any, text: str) -> None:
        (self.ok if condition else self.fail)(text)


def lint(helm: Any, report: Report) -> None:
    print(f"helm lint {CHART} (strict: warnings fail)")
    result = asyncio.run(helm.Lint(helm.Configuration(namespace=NAMESPACE)).run(str(CHART)))
    messages = result.get("Messages") or []
    for message in messages:
        severity = SEVERITY.get(message.get("Severity"), str(message.get("Severity")))
        line = f"lint {severity} in {message.get('Path')}"
        if message.get("Severity", 0) >= 2:
            report.fail(line + " (helm-sdkpy gives no text: see the render below for Helm's message)")
        else:
            print(f"  info  {line}" + (" (icon is recommended)" if message.get("Path") == "Chart.yaml" else ""))
    report.check(result.get("TotalChartsLinted") == 1 and not result.get("Errors"),
                 f"lint: {result.get('TotalChartsLinted')} chart linted, {len(result.get('Errors') or [])} errors")


def render(helm: Any, release: str, values: dict[str, Any]) -> tuple[dict[str, Any] | None, list[dict[str, Any]], str]:
    """Helm's install against the stub API: (release, rendered objects, error text)."""
    stub = StubApi()
    try:
        config = helm.Configuration(namespace=NAMESPACE, kubeconfig=stub.kubeconfig)
        try:
            result = asyncio.run(helm.Install(config).run(release, str(CHART), values=values or None,
                                                          wait=False, timeout=60))
        except helm.HelmError as exc:
            return None, [], str(exc)
        return result, stub.rendered(), ""
    finally:
        stub.close()


def by_kind(objects: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    kinds: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    return kinds


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container.get("env", [])}


def alert_rules_file() -> tuple[str, list[str]]:
    text = (CHART / "files" / "alerts.yaml").read_text()
    return text, re.findall(r"^\s*-\s*alert:\s*(\S+)\s*$", text, flags=re.M)


def check_scenario(name: str, values: dict[str, Any], objects: list[dict[str, Any]], report: Report) -> None:
    kinds = by_kind(objects)
    sts_list = kinds.get("StatefulSet", [])
    report.check(len(sts_list) == 1, f"{name}: one StatefulSet")
    if not sts_list:
        return
    sts = sts_list[0]
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "worker")
    env = env_of(container)
    kafka = values.get("kafka", {})
    persistence = values.get("persistence", {}).get("enabled", True)

    report.check(spec.get("podManagementPolicy") == "Parallel", f"{name}: podManagementPolicy Parallel")
    report.check(spec.get("serviceName", "").endswith("-headless")
                 and any(s["metadata"]["name"] == spec["serviceName"] and s["spec"].get("clusterIP") == "None"
                         for s in kinds.get("Service", [])),
                 f"{name}: governing headless Service {spec.get('serviceName')}")
    report.check(spec.get("replicas") == values.get("replicaCount", 2), f"{name}: replicas {spec.get('replicas')}")
    claims = spec.get("volumeClaimTemplates") or []
    if persistence:
        report.check([c["metadata"]["name"] for c in claims] == ["data"]
                     and claims[0]["spec"]["resources"]["requests"]["storage"],
                     f"{name}: RocksDB state on a PVC (volumeClaimTemplates data, "
                     f"{claims[0]['spec']['resources']['requests']['storage'] if claims else '-'})")
    else:
        report.check(not claims and any(v["name"] == "data" and "emptyDir" in v for v in pod["volumes"]),
                     f"{name}: persistence off: data on an emptyDir")

    psc, csc = pod.get("securityContext", {}), container.get("securityContext", {})
    report.check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 10001
                 and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
                 f"{name}: pod securityContext runAsNonRoot, uid 10001, seccomp RuntimeDefault")
    report.check(csc.get("readOnlyRootFilesystem") is True and csc.get("allowPrivilegeEscalation") is False
                 and csc.get("capabilities", {}).get("drop") == ["ALL"] and csc.get("runAsUser") == 10001,
                 f"{name}: container securityContext read-only root, no privilege escalation, drop ALL")
    report.check(pod.get("enableServiceLinks") is False, f"{name}: enableServiceLinks false (no INCIDENT_TIMER_* service env)")
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    report.check("emptyDir" in volumes.get(mounts.get("/tmp", ""), {}), f"{name}: /tmp is an emptyDir")
    report.check(mounts.get("/var/lib/incident-timer") == "data" and env.get("INCIDENT_TIMER_DATA_DIR") == "/var/lib/incident-timer"
                 and env.get("INCIDENT_TIMER_STORE") == "rocksdb",
                 f"{name}: INCIDENT_TIMER_STORE=rocksdb, INCIDENT_TIMER_DATA_DIR on the data volume")
    ports = container.get("ports", [])
    report.check(ports and ports[0]["name"] == "http-metrics" and ports[0]["containerPort"] == 9464
                 and env.get("INCIDENT_TIMER_HTTP_PORT") == "9464",
                 f"{name}: container port http-metrics 9464 = INCIDENT_TIMER_HTTP_PORT")
    probes = {p: container.get(p, {}).get("httpGet", {}).get("path") for p in ("startupProbe", "livenessProbe", "readinessProbe")}
    report.check(probes == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"},
                 f"{name}: probes {probes}")
    report.check(container.get("resources", {}).get("requests"), f"{name}: resource requests set")
    report.check(env.get("INCIDENT_TIMER_BROKERS") == kafka.get("brokers", "kafka:9092"),
                 f"{name}: INCIDENT_TIMER_BROKERS={env.get('INCIDENT_TIMER_BROKERS')}")
    topics = {k: v for k, v in env.items() if k.startswith("INCIDENT_TIMER_TOPIC_")}
    report.check(len(topics) == 7 and env.get("INCIDENT_TIMER_PARTITIONS") == str(kafka.get("partitions", 8)),
                 f"{name}: 7 topics and INCIDENT_TIMER_PARTITIONS={env.get('INCIDENT_TIMER_PARTITIONS')}")
    unknown_env = [k for k in env if not k.startswith("INCIDENT_TIMER_")]
    report.check(not unknown_env, f"{name}: only INCIDENT_TIMER_* variables ({len(env)})")

    policy = values.get("policy", "present")
    configmaps = {c["metadata"]["name"]: c for c in kinds.get("ConfigMap", [])}
    policy_maps = [c for n, c in configmaps.items() if n.endswith("-policy")]
    if policy:
        policy_volume = volumes.get(mounts.get("/etc/incident-timer/policy", ""), {})
        report.check(len(policy_maps) == 1 and "policy.yaml" in policy_maps[0]["data"]
                     and policy_volume.get("configMap", {}).get("name") == policy_maps[0]["metadata"]["name"]
                     and env.get("INCIDENT_TIMER_POLICY") == "/etc/incident-timer/policy/policy.yaml"
                     and "checksum/policy" in spec["template"]["metadata"].get("annotations", {}),
                     f"{name}: policy ConfigMap mounted, INCIDENT_TIMER_POLICY points at it, checksum rolls pods")
        if isinstance(values.get("policy"), str):
            report.check(policy_maps and policy_maps[0]["data"]["policy.yaml"].strip() == values["policy"].strip(),
                         f"{name}: policy.yaml is values.policy verbatim")
    else:
        report.check(not policy_maps and "INCIDENT_TIMER_POLICY" not in env,
                     f"{name}: no policy: no ConfigMap, INCIDENT_TIMER_POLICY unset (built-in policy)")

    sasl = kafka.get("sasl", {})
    if sasl.get("mechanism"):
        refs = {k: env.get(k, {}).get("secretKeyRef") if isinstance(env.get(k), dict) else None
                for k in ("INCIDENT_TIMER_SASL_USERNAME", "INCIDENT_TIMER_SASL_PASSWORD")}
        report.check(refs == {"INCIDENT_TIMER_SASL_USERNAME": {"name": sasl["existingSecret"], "key": sasl["usernameKey"]},
                              "INCIDENT_TIMER_SASL_PASSWORD": {"name": sasl["existingSecret"], "key": sasl["passwordKey"]}}
                     and env.get("INCIDENT_TIMER_SASL_MECHANISM") == sasl["mechanism"],
                     f"{name}: SASL user name and password from secretKeyRef {sasl['existingSecret']}")
        report.check(not kinds.get("Secret"), f"{name}: the chart creates no Secret")
    else:
        report.check(not any(k.startswith("INCIDENT_TIMER_SASL") for k in env), f"{name}: no SASL settings")
    tls = kafka.get("tls", {})
    if tls.get("existingSecret"):
        report.check(env.get("INCIDENT_TIMER_SSL_CAFILE") == f"/etc/incident-timer/tls/{tls['caKey']}"
                     and volumes.get(mounts.get("/etc/incident-timer/tls", ""), {}).get("secret", {}).get("secretName")
                     == tls["existingSecret"],
                     f"{name}: CA bundle mounted from Secret {tls['existingSecret']}")
        if tls.get("certKey"):
            report.check(env.get("INCIDENT_TIMER_SSL_CERTFILE") == f"/etc/incident-timer/tls/{tls['certKey']}"
                         and env.get("INCIDENT_TIMER_SSL_KEYFILE") == f"/etc/incident-timer/tls/{tls['keyKey']}",
                         f"{name}: mutual TLS client certificate and key from the same Secret")

    services = [s for s in kinds.get("Service", []) if s["metadata"]["name"].endswith("-metrics")]
    report.check(len(services) == 1 and services[0]["spec"]["ports"][0]["name"] == "http-metrics"
                 and services[0]["spec"]["ports"][0]["port"] == 9464,
                 f"{name}: metrics Service port http-metrics 9464")
    pdbs = kinds.get("PodDisruptionBudget", [])
    if values.get("podDisruptionBudget", {}).get("enabled", True):
        report.check(len(pdbs) == 1 and pdbs[0]["spec"].get("maxUnavailable") == 1, f"{name}: PodDisruptionBudget maxUnavailable 1")
    else:
        report.check(not pdbs, f"{name}: no PodDisruptionBudget")

    monitors = kinds.get("ServiceMonitor", [])
    if values.get("serviceMonitor", {}).get("enabled"):
        job = values["serviceMonitor"].get("jobLabel", "incident-timer")
        endpoint = monitors[0]["spec"]["endpoints"][0] if monitors else {}
        report.check(endpoint.get("port") == "http-metrics" and endpoint.get("path") == "/metrics"
                     and {"targetLabel": "job", "replacement": job, "action": "replace"} in endpoint.get("relabelings", []),
                     f"{name}: ServiceMonitor scrapes http-metrics /metrics as job={job}")
        selector = monitors[0]["spec"]["selector"]["matchLabels"] if monitors else {}
        report.check(services and all(services[0]["metadata"]["labels"].get(k) == v for k, v in selector.items()),
                     f"{name}: ServiceMonitor selects the metrics Service")
    else:
        report.check(not monitors, f"{name}: no ServiceMonitor")

    rules = kinds.get("PrometheusRule", [])
    if values.get("prometheusRule", {}).get("enabled"):
        text, names = alert_rules_file()
        job = values.get("serviceMonitor", {}).get("jobLabel", "incident-timer")
        groups = rules[0]["spec"]["groups"] if rules else []
        rendered = [rule for group in groups for rule in group["rules"]]
        report.check([g["name"] for g in groups] == ["incident-timer"] and [r["alert"] for r in rendered] == names,
                     f"{name}: PrometheusRule has the {len(names)} alerts of files/alerts.yaml")
        expected_text = text.replace('job="incident-timer"', f'job="{job}"')
        missing = [r["alert"] for r in rendered
                   if not all(line.strip() in expected_text for line in r["expr"].splitlines() if line.strip())]
        report.check(not missing, f"{name}: PrometheusRule expressions are those of files/alerts.yaml (job={job})")
    else:
        report.check(not rules, f"{name}: no PrometheusRule")

    dashboards = [c for n, c in configmaps.items() if n.endswith("-dashboard")]
    if values.get("dashboard", {}).get("enabled"):
        shipped = json.loads((CHART / "files" / "dashboard.json").read_text())
        report.check(len(dashboards) == 1 and dashboards[0]["metadata"]["labels"].get("grafana_dashboard") == "1"
                     and json.loads(dashboards[0]["data"]["incident-timer.json"]) == shipped,
                     f"{name}: dashboard ConfigMap (grafana_dashboard: \"1\") holds files/dashboard.json")
    else:
        report.check(not dashboards, f"{name}: no dashboard ConfigMap")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write each scenario's rendered manifest to OUT/<scenario>.yaml")
    parser.add_argument("--show", action="store_true", help="print the rendered manifests")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every passed check too")
    args = parser.parse_args()

    import helm_sdkpy as helm  # imported here so that --help works without it

    print(f"helm-sdkpy {helm.__version__} ({helm.get_version()}), chart {CHART}")
    report = Report(args.verbose)
    lint(helm, report)

    for name, values in SCENARIOS.items():
        release = "incident-timer" if name == "defaults" else f"it-{name}"
        print(f"helm template {release} {CHART.name} ({name}: {json.dumps(values) if values else 'default values'})")
        result, objects, error = render(helm, release, values)
        if result is None:
            report.fail(f"{name}: render failed: {error}")
            continue
        manifest = result.get("manifest", "")
        kinds = sorted(f"{obj['kind']}/{obj['metadata']['name']}" for obj in objects)
        report.check(manifest and objects, f"{name}: rendered {len(objects)} objects")
        print(f"  rendered {len(objects)} objects: {', '.join(kinds)}")
        before = report.passed
        report.check(result.get("info", {}).get("notes"), f"{name}: NOTES.txt renders")
        check_scenario(name, values, objects, report)
        print(f"  {report.passed - before} checks passed")
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name}.yaml").write_text(manifest)
        if args.show:
            print(manifest)

    print("values the chart must refuse")
    for name, values, expected in MUST_FAIL:
        result, _, error = render(helm, "it-refused", values)
        refused = result is None and expected in error
        text = f"refused: {name}" + (f" ({error.splitlines()[-1].strip()[:160]})" if error else " (was accepted)")
        report.check(refused, text)
        if refused and not report.verbose:
            print(f"  {text}")

    if report.failures:
        print(f"\n{len(report.failures)} check(s) failed:")
        for failure in report.failures:
            print(f"  - {failure}")
        return 1
    print(f"\nchart OK: lint clean, {len(SCENARIOS)} scenarios rendered, {report.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
