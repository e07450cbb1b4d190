"""Prometheus metrics (``prometheus-client``), on a port of their own: ``LIVC_METRICS_PORT``.

Off when the setting is unset: nothing is measured and no port is opened. When set, each
command serves ``/metrics`` on that port (never through the ingress; the chart scrapes pods):

- ``livc serve``: request latency per Flask endpoint (``livc_http_request_duration_seconds``,
  labelled by the endpoint's *name*, method and status, never the URL, which carries ids).
  gunicorn's workers are processes, so the web runs prometheus-client's multiprocess mode: the
  workers write their values to files in ``PROMETHEUS_MULTIPROC_DIR`` (made private to the
  instance when unset), the exporter in gunicorn's master adds them up, and a worker's files
  are marked dead when it exits.
- ``livc worker``: job durations and failures per queue and task
  (``livc_job_duration_seconds``, ``livc_job_failures_total``), timed in the worker's main
  process around each job's work horse (a horse per job would leave a file per job).
- every exporter: the depth of each queue (``livc_queue_depth``), the outbox's backlog and the
  age of its oldest waiting job (``livc_outbox_waiting``, ``livc_outbox_oldest_age_seconds``),
  read when scraped.
- match alerts created (``livc_federation_alerts_created_total``, where matching runs) and the
  custodian's evaluated elements (``livc_custodian_evaluations_total``, on the custodian's own
  ``LIVC_CUSTODIAN_METRICS_PORT``).

Labels carry names the code chose (endpoints, queues, tasks), never a value a person typed.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from redis import Redis
from rq import Queue

log = logging.getLogger(__name__)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


@dataclass(frozen=True)
class _Instruments:
    requests: Histogram
    jobs: Histogram
    job_failures: Counter
    alerts: Counter
    evaluations: Counter


_instruments: _Instruments | None = None
_registry: CollectorRegistry | None = None


def _create(registry: CollectorRegistry | None) -> _Instruments:
    return _Instruments(
        requests=Histogram("livc_http_request_duration_seconds", "Time to answer a request, per Flask endpoint",
                           ["endpoint", "method", "status"], registry=registry),
        jobs=Histogram("livc_job_duration_seconds", "Time a job took, per queue and task, by outcome",
                       ["queue", "task", "outcome"], buckets=JOB_BUCKETS, registry=registry),
        job_failures=Counter("livc_job_failures", "Jobs that failed (a retry may follow), per queue and task",
                             ["queue", "task"], registry=registry),
        alerts=Counter("livc_federation_alerts_created", "Match alerts created between linked cells",
                       registry=registry),
        evaluations=Counter("livc_custodian_evaluations", "Blinded elements the key custodian evaluated",
                            registry=registry),
    )


def enabled() -> bool:
    return _instruments is not None


# --- starting: one call per command --------------------------------------------------------------


def prepare_for_processes() -> str:
    """Before gunicorn forks its workers: multiprocess mode in a directory of this instance's own.

    ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it (emptied: values of an earlier run
    would be added to this one's), else a new private temporary directory.
    """
    global _instruments
    folder = os.environ.get(MULTIPROCESS_DIR)
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        for entry in os.scandir(folder):
            if entry.is_file() and entry.name.endswith(".db"):
                os.unlink(entry.path)
    else:
        folder = os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="livc-metrics-")
    # prometheus-client picks its value store when imported; this process imported it before
    # the directory was known.
    values.ValueClass = values.get_value_class()
    _instruments = _create(registry=None)  # summed from the workers' files by the exporter
    return folder


def start_exporter(port: int, *, redis_url: str | None = None, queue_prefix: str = "",
                   queues: tuple[str, ...] = (), database_url: str | None = None) -> CollectorRegistry:
    """Serve ``/metrics`` on ``port`` (all interfaces: the pod's scraper reaches it) from a
    thread of this process. In multiprocess mode (after :func:`prepare_for_processes`) the
    values come from every process's files; otherwise from this process."""
    global _instruments, _registry
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR) and _instruments is not None:
        MultiProcessCollector(registry)
    elif _instruments is None:
        _instruments = _create(registry=registry)
    if redis_url:
        registry.register(QueueDepth(redis_url, queue_prefix, queues))
    if database_url:
        registry.register(OutboxBacklog(database_url))
    start_http_server(port, registry=registry)
    _registry = registry
    log.info("metrics: served on port %s", port)
    return registry


def process_ended(pid: int) -> None:
    """A gunicorn worker exited: its live gauges are dropped (its counters stay counted)."""
    if os.environ.get(MULTIPROCESS_DIR):
        mark_process_dead(pid)


def remove_private_directory(folder: str) -> None:
    if folder.startswith(tempfile.gettempdir()) and os.path.basename(folder).startswith("livc-metrics-"):
        shutil.rmtree(folder, ignore_errors=True)


# --- what is measured -----------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Time every request, labelled by its endpoint's name (a no-op while metrics are off)."""

    # Before any blueprint's preprocessor: a cell's is where an unknown cell is refused (404).
    @app.url_value_preprocessor
    def _started(_endpoint=None, _values=None) -> None:
        if _instruments is not None:
            g.metrics_started = time.perf_counter()

    @app.after_request
    def _answered(response):
        started = g.pop("metrics_started", None)
        if _instruments is not None and started is not None:
            _instruments.requests.labels(
                endpoint=request.endpoint or "unmatched", method=request.method, status=str(response.status_code),
            ).observe(time.perf_counter() - started)
        return response


def job_ran(queue: str, task: str, seconds: float, failed: bool) -> None:
    if _instruments is None:
        return
    _instruments.jobs.labels(queue=queue, task=task, outcome="failed" if failed else "succeeded").observe(seconds)
    if failed:
        _instruments.job_failures.labels(queue=queue, task=task).inc()


def alert_created() -> None:
    if _instruments is not None:
        _instruments.alerts.inc()


def elements_evaluated(count: int) -> None:
    if _instruments is not None:
        _instruments.evaluations.inc(count)


# --- read when scraped ---------------------------------------------------------------------------


class QueueDepth(Collector):
    """Jobs waiting on each queue, from Redis."""

    def __init__(self, redis_url: str, prefix: str, queues: tuple[str, ...]):
        self.connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        self.prefix, self.queues = prefix, queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("livc_queue_depth", "Jobs waiting on a queue", labels=["queue"])
        try:
            for name in self.queues:
                depth.add_metric([name], Queue(self.prefix + name, connection=self.connection).count)
        except Exception as error:  # Redis down: no figure rather than a failed scrape
            log.warning("metrics: queue depth unavailable (%s)", type(error).__name__)
            return
        yield depth


class OutboxBacklog(Collector):
    """The outbox's jobs not done yet, and how long the oldest has waited (a relay or a worker
    that stopped shows as a growing age)."""

    def __init__(self, database_url: str):
        # Its own connection, never pooled: the exporter may run in gunicorn's master, which forks.
        self.engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool, hide_parameters=True)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self.engine.connect() as connection:
                waiting, oldest = connection.execute(sa.text(
                    "SELECT count(*), min(created_at) FROM job_outbox WHERE done_at IS NULL"
                )).one()
        except sa.exc.SQLAlchemyError as error:
            log.warning("metrics: outbox backlog unavailable (%s)", type(error).__name__)
            return
        yield GaugeMetricFamily("livc_outbox_waiting", "Outbox jobs not done yet", value=waiting)
        if isinstance(oldest, str):  # SQLite hands back text
            oldest = datetime.fromisoformat(oldest)
        age = 0.0 if oldest is None else (datetime.now(UTC) - oldest.replace(tzinfo=oldest.tzinfo or UTC)).total_seconds()
        yield GaugeMetricFamily("livc_outbox_oldest_age_seconds", "Age of the oldest outbox job not done yet",
                                value=max(age, 0.0))
