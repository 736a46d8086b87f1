# incident-timer worker image.
#
#   docker build -t incident-timer:0.1.0 .
#   docker run --rm -p 9464:9464 -e INCIDENT_TIMER_BROKERS=kafka:9092 incident-timer:0.1.0
#
# Two stages on the same base, so the venv's interpreter path (/usr/local/bin/python3.11)
# and its absolute shebangs (/opt/venv/bin/...) are valid in the final stage. Every
# dependency, rocksdict included, is installed from a binary wheel (--only-binary), so
# neither stage needs a compiler or any apt package; the final stage gets only the venv.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the build needs (see .dockerignore): metadata, README (the package's
# long description) and the worker package.
COPY pyproject.toml README.md ./
COPY worker ./worker

# `.` is this project; rocksdict is the RocksDB binding faust uses for
# INCIDENT_TIMER_STORE=rocksdb (pinned within the range of the project's `rocksdb`
# extra; hadolint does not accept an unpinned `.[rocksdb]`). Then every module of
# the worker package is imported once, so that a runtime dependency missing from
# pyproject.toml fails the build rather than the pod.
RUN pip install --no-cache-dir --only-binary=:all: . "rocksdict==0.3.29" \
    && python -m compileall -q /opt/venv \
    && python -I -c "import importlib, pkgutil, worker; [importlib.import_module(m.name) for m in pkgutil.walk_packages(worker.__path__, 'worker.')]" \
    && incident-timer --help >/dev/null

# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="incident-timer" \
      org.opencontainers.image.description="Event-driven SLA timer worker (faust-streaming): response targets and update cadences for support tickets, from Kafka events." \
      org.opencontainers.image.licenses="Apache-2.0"

# A fixed non-root identity (the Helm chart runs as 10001 too) and the state directory.
RUN groupadd --system --gid 10001 incident-timer \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/incident-timer --shell /usr/sbin/nologin incident-timer \
    && mkdir -p /var/lib/incident-timer \
    && chown 10001:10001 /var/lib/incident-timer

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    INCIDENT_TIMER_STORE=rocksdb \
    INCIDENT_TIMER_DATA_DIR=/var/lib/incident-timer \
    INCIDENT_TIMER_HTTP_PORT=9464

WORKDIR /var/lib/incident-timer
USER 10001:10001

# /metrics, /healthz and /readyz
EXPOSE 9464

# No curl in the slim image: the venv's Python asks /healthz (urlopen raises on non-2xx,
# so the exit status is 1 then). The port follows INCIDENT_TIMER_HTTP_PORT.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('INCIDENT_TIMER_HTTP_PORT', '9464'), timeout=4)"]

ENTRYPOINT ["incident-timer", "worker"]
