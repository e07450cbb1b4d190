"""Background jobs on RQ and Redis, inline when no Redis is configured.

A job is a function marked with :func:`task`. It is enqueued with plain ids (never objects, and
never personal data: job arguments sit in Redis and in dashboards) and the tenant it works for.
Inside the worker, :func:`execute` opens an app context, re-enters that tenant (ORM filter and
row-level security alike), runs the function in one transaction and commits. Failures are
retried with back-off, then kept in RQ's failed-job registry (``livc jobs failed``). A job
whose tenant is suspended is kept in the database (:class:`PausedJob`) and handed back to the
queues when the tenant is reactivated; one whose tenant is gone or offboarded is dropped.

Jobs that must not be lost go through a transactional outbox (:class:`OutboxJob`, table
``job_outbox``): with Redis configured, :func:`enqueue` writes one row in the caller's
transaction; after the commit the job is handed to RQ at once (its RQ id is the row's id), and
``livc relay`` (:func:`run_relay`) hands over whatever did not get there (Redis down, a Redis
restart that lost its queues, a worker killed mid-job) and the next round of a job whose
retries ran out (mails keep trying for about a day, :data:`MAIL_ROUNDS`). The job marks its row
done in its own transaction, so a duplicate delivery does nothing. A job that failed for good
is kept as ``failed`` in the outbox: listed and retried on the console and by ``livc jobs``.
Inline mode (no Redis) runs jobs at once as before, without the outbox.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache, partial
from importlib import import_module
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker, get_current_job
from rq.job import Job, JobStatus
from rq.job_lifecycle import call_exception_handlers
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from livc.platform import metrics
from livc.platform.db import Id, db, tenant_context, value_enum
from livc.platform.logs import describe_error
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow

log = logging.getLogger(__name__)

QUEUES = ("default", "mail", "federation", "maintenance")
RETRY_INTERVALS = (10, 60, 300)  # seconds before the 1st, 2nd and 3rd retry
JOB_TIMEOUT = 600
# A mail whose retries ran out gets further rounds (each with RETRY_INTERVALS again) after these
# pauses: about a day in all (15 min, 30 min, 1, 2, 4, 8 and 8 h) before it is failed for good.
MAIL_ROUNDS = (900, 1800, 3600, 7200, 14400, 28800, 28800)
# A row handed to RQ but not done after this long is looked at again by the relay.
RELAY_RECHECK = timedelta(minutes=5)
RELAY_BATCH = 500
OUTBOX_KEPT = timedelta(days=7)  # done and skipped rows are purged after this (failed ones stay)

_TASKS: dict[str, Task] = {}
_BEFORE_EACH_JOB: list[Callable[[Any, str], None]] = []


class TenantUnavailable(Exception):
    """The job's tenant no longer exists or was offboarded; the job is dropped, not retried."""


class TenantPaused(TenantUnavailable):
    """The job's tenant is suspended: the job was kept (:class:`PausedJob`), not run."""


class PausedJob(db.Model):
    """A job that came up while its tenant was suspended, kept to run after reactivation.

    Platform-level (ids and the task's plain arguments only, as in Redis); the tenant's
    reactivation hands them back to the queues (:func:`resume_paused_jobs`).
    """

    __tablename__ = "paused_jobs"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(sa.String(200))
    args: Mapped[list] = mapped_column(sa.JSON, default=list)
    kwargs: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    paused_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxState(StrEnum):
    PENDING = "pending"  # to be delivered (done_at is null)
    DONE = "done"
    FAILED = "failed"  # failed for good: listed and retried from the console and `livc jobs`
    SKIPPED = "skipped"  # its tenant is gone or suspended (then kept as a PausedJob)


class OutboxJob(db.Model):
    """A job written in the transaction that wants it (the transactional outbox).

    Platform-level, ids and plain arguments only, as in Redis. ``done_at`` is set once the job
    has an outcome (``state`` says which): rows with a null ``done_at`` are the outbox's backlog.
    On PostgreSQL a cell's transaction sees and writes only its own rows (migration 0030).
    """

    __tablename__ = "job_outbox"
    __table_args__ = (sa.Index("ix_job_outbox_done_at_available_at", "done_at", "available_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)  # also the RQ job id
    tenant_id: Mapped[int | None] = mapped_column(Id, index=True)  # a plain value: see the migration
    task: Mapped[str] = mapped_column(sa.String(200))
    queue: Mapped[str] = mapped_column(sa.String(20))
    args: Mapped[list] = mapped_column(sa.JSON, default=list)
    kwargs: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    state: Mapped[OutboxState] = mapped_column(value_enum(OutboxState, 10), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)  # rounds that ended in failure
    error: Mapped[str | None] = mapped_column(sa.String(200))  # the last failure's exception type
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    relayed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]


class JobFailed(Exception):
    """A job raised: says which exception and where, never its message.

    The worker logs a failed job's traceback and RQ keeps it in Redis (dashboards show it);
    an exception's message can carry personal data, so what reaches either is this, raised
    in place of the original (see :func:`livc.platform.logs.describe_error`).
    """


@dataclass(frozen=True)
class Task:
    func: Callable[..., Any]
    queue: str
    retries: int
    rounds: tuple[int, ...] = ()  # pauses (s) before further rounds of retries, from the outbox

    @property
    def path(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


def task(queue: str = "default", retries: int = len(RETRY_INTERVALS), rounds: tuple[int, ...] = ()):
    """Mark a function as a job. Only marked functions can be run by a worker.

    ``retries`` are RQ's quick retries (:data:`RETRY_INTERVALS`); ``rounds`` the pauses before
    each further round of them (kept in the outbox, so they outlive Redis), e.g. :data:`MAIL_ROUNDS`.
    """
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        definition = Task(func, queue, retries, tuple(rounds))
        _TASKS[definition.path] = definition
        func.task = definition  # type: ignore[attr-defined]
        return func

    return register


def before_each_job(hook: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
    """Register ``hook(settings, queue name)``, run in a worker's main process before each job's
    work horse is forked: what it prepares (a cached access token) every job inherits. A hook
    that raises is logged by type and skipped."""
    _BEFORE_EACH_JOB.append(hook)
    return hook


def task_for(path: str) -> Task:
    module_name, _, _ = path.rpartition(".")
    import_module(module_name)  # registers the module's tasks
    try:
        return _TASKS[path]
    except KeyError:
        raise LookupError(f"not a registered task: {path}") from None


@dataclass(frozen=True)
class Enqueued:
    """What :func:`enqueue` did: the job's id (its outbox row's, and RQ's), or ``inline`` with
    the outcome."""

    job_id: str | None
    inline: bool
    succeeded: bool | None = None


@dataclass(frozen=True)
class OutgoingJob:
    """An outbox row's plain values, to hand to RQ after the commit that wrote it."""

    id: str
    tenant_id: int | None
    task: str
    queue: str
    args: list
    kwargs: dict

    @classmethod
    def of(cls, row: OutboxJob) -> OutgoingJob:
        return cls(row.id, row.tenant_id, row.task, row.queue, list(row.args), dict(row.kwargs))


def enqueue(func: Callable[..., Any], *args: Any, tenant_id: int | None, **kwargs: Any) -> Enqueued:
    """Run ``func(*args, **kwargs)`` as ``tenant_id`` in the background.

    ``tenant_id`` is explicit on purpose: a job must never guess whose data it works on.
    Pass ``None`` only for platform-level jobs that touch no tenant data themselves.

    With Redis, the job is written to the outbox in the caller's transaction (or in one of its
    own when none is open) and handed to RQ when that transaction commits; the relay hands it
    over later if Redis cannot take it then. Rolled back with the caller's transaction, it never
    existed. Inline (no Redis), it runs after the caller's commit: a job never runs on data that
    is not committed yet, nor waits on the caller's own locks.
    """

    definition: Task = getattr(func, "task", None) or task_for(f"{func.__module__}.{func.__qualname__}")
    app = current_app._get_current_object()  # noqa: SLF001
    session = db.session()
    if app.extensions["livc.settings"].jobs_inline:
        delivery = partial(_run_inline, app, definition, tenant_id, list(args), kwargs)
        if session.in_transaction():
            session.info.setdefault(_HELD_BACK, []).append(delivery)
            return Enqueued(job_id=None, inline=True)
        return delivery()

    row = OutboxJob(id=uuid.uuid4().hex, tenant_id=tenant_id, task=definition.path, queue=definition.queue,
                    args=list(args), kwargs=dict(kwargs), state=OutboxState.PENDING, attempts=0)
    outgoing = OutgoingJob.of(row)
    if session.in_transaction():
        session.add(row)
        session.info.setdefault(_OUTGOING, []).append(outgoing)
    else:  # nothing to join: a transaction of its own, committed now
        with Session(db.engine) as own:
            own.add(row)
            own.commit()
        hand_over([outgoing])
    return Enqueued(job_id=outgoing.id, inline=False)


_HELD_BACK = "livc_jobs_held_back"  # inline jobs waiting for the commit
_OUTGOING = "livc_jobs_outgoing"  # outbox rows written in this transaction


@event.listens_for(Session, "after_commit")
def _hand_over_held_back_jobs(session: Session) -> None:
    outgoing = session.info.pop(_OUTGOING, [])
    if outgoing:
        hand_over(outgoing)
    for delivery in session.info.pop(_HELD_BACK, []):
        try:
            delivery()
        except Exception as error:  # the commit stands; say loudly that its job did not go
            log.error("job could not be run after commit: %s", error_type(error))


@event.listens_for(Session, "after_transaction_end")
def _drop_held_back_jobs(session: Session, transaction) -> None:
    # Runs after after_commit; whatever is still held back here was rolled back with its cause.
    if transaction.parent is None:
        session.info.pop(_HELD_BACK, None)
        session.info.pop(_OUTGOING, None)


def hand_over(outgoing: list[OutgoingJob]) -> list[str]:
    """The fast path: hand committed outbox rows to RQ now and mark them relayed; what Redis
    cannot take stays for the relay (one line in the log, no traceback). The ids handed over."""
    handed: list[str] = []
    try:
        for item in outgoing:
            _push(item)
            handed.append(item.id)
    except (RedisError, OSError) as error:
        log.warning("%d job(s) kept in the outbox for the relay: Redis unavailable (%s)",
                    len(outgoing) - len(handed), error_type(error))
    if handed:
        try:
            with db.engine.begin() as connection:  # the caller's transaction is over
                connection.execute(
                    sa.update(OutboxJob.__table__)
                    .where(OutboxJob.__table__.c.id.in_(handed), OutboxJob.__table__.c.relayed_at.is_(None))
                    .values(relayed_at=utcnow())
                )
        except sa.exc.SQLAlchemyError as error:  # the relay will see them queued and mark them
            log.warning("jobs handed over but not marked relayed: %s", error_type(error))
    return handed


def _push(item: OutgoingJob) -> None:
    definition = task_for(item.task)
    queue(item.queue).enqueue(
        execute,
        item.tenant_id,
        item.task,
        item.args,
        item.kwargs,
        item.id,
        job_id=item.id,
        retry=Retry(max=definition.retries, interval=list(RETRY_INTERVALS[: definition.retries]))
        if definition.retries
        else None,
        job_timeout=JOB_TIMEOUT,
        description=item.task,  # not the arguments
        meta={"tenant_id": item.tenant_id, "task": item.task},
    )


def _run_inline(app: Flask, definition: Task, tenant_id: int | None, args, kwargs) -> Enqueued:
    """Embedded mode: run now, in a fresh app context (and so a fresh session and transaction)."""
    try:
        with app.app_context():
            _execute_in_app(tenant_id, definition, args, kwargs)
    except TenantUnavailable as reason:
        log.info("inline job %s not run: %s", definition.path, reason)
        return Enqueued(job_id=None, inline=True, succeeded=False)
    except Exception as error:  # the caller's request must not fail because of its job
        log.error("inline job %s failed: %s", definition.path, error_type(error))
        return Enqueued(job_id=None, inline=True, succeeded=False)
    return Enqueued(job_id=None, inline=True, succeeded=True)


def execute(tenant_id: int | None, task_path: str, args: list, kwargs: dict, outbox_id: str | None = None) -> Any:
    """The function RQ runs for every livc job (in the worker's work horse).

    A failure reaches RQ (which retries it, then keeps it as failed) as :class:`JobFailed`,
    and the job's ``meta["error"]`` names the exception type for ``livc jobs failed``. When the
    last retry of an outbox job with further ``rounds`` fails, the outbox schedules the next
    round (the relay hands it over then) and RQ sees the job end.
    """
    try:
        definition = task_for(task_path)
        app = worker_app()
        with app.app_context():
            try:
                return _execute_in_app(tenant_id, definition, args, kwargs, outbox_id)
            except TenantUnavailable as reason:
                log.warning("job %s not run: %s", task_path, reason)
                return None
            except Exception as error:
                if outbox_id is not None and _last_try() and not _failed_round(outbox_id, error_type(error)):
                    log.warning("job %s (%s) failed: %s; the outbox tries it again later",
                                outbox_id, task_path, describe_error(error))
                    return None
                raise
    except Exception as error:
        _note_error(error)
        raise JobFailed(describe_error(error)) from None


def _last_try() -> bool:
    job = get_current_job()
    return job is None or not job.retries_left


def _failed_round(outbox_id: str, error_name: str) -> bool:
    """Note a round that failed on the job's outbox row; True when the job failed for good."""
    try:
        row = db.session.get(OutboxJob, outbox_id, with_for_update=True)
        if row is None or row.done_at is not None:
            return True
        final = record_failure(row, error_name, utcnow())
        db.session.commit()
        return final
    except sa.exc.SQLAlchemyError:  # the row stays pending: the relay finds RQ's failure later
        db.session.rollback()
        return True
    finally:
        db.session.remove()


def record_failure(row: OutboxJob, error_name: str, now: datetime) -> bool:
    """A round of ``row`` failed: schedule the next one, or mark it failed; True when failed."""
    try:
        rounds = task_for(row.task).rounds
    except (LookupError, ImportError):
        rounds = ()
    row.attempts += 1
    row.error = error_name[:200]
    if row.attempts <= len(rounds):
        row.available_at = now + timedelta(seconds=rounds[row.attempts - 1])
        row.relayed_at = None
        return False
    row.state = OutboxState.FAILED
    row.done_at = now
    return True


def error_type(error: BaseException) -> str:
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _note_error(error: BaseException) -> None:
    job = get_current_job()
    if job is not None:
        job.meta["error"] = error_type(error)
        job.save_meta()


def _claim(outbox_id: str | None) -> bool:
    """Lock the job's outbox row for this transaction; False when it is done already (a
    duplicate delivery) or gone with its tenant."""
    if outbox_id is None:
        return True
    done = db.session.execute(
        sa.select(OutboxJob.done_at).where(OutboxJob.id == outbox_id).with_for_update()
    ).first()
    return done is not None and done.done_at is None


def _conclude(outbox_id: str | None, state: OutboxState) -> None:
    """Mark the job's outbox row with its outcome, in the job's own transaction."""
    if outbox_id is not None:
        db.session.execute(
            sa.update(OutboxJob)
            .where(OutboxJob.id == outbox_id, OutboxJob.done_at.is_(None))
            .values(state=state, done_at=utcnow())
        )


def _execute_in_app(tenant_id: int | None, definition: Task, args: list, kwargs: dict,
                    outbox_id: str | None = None) -> Any:
    try:
        if not _claim(outbox_id):
            log.info("job %s was done already: not run again", outbox_id)
            return None
        if tenant_id is None:
            result = definition.func(*args, **kwargs)
            _conclude(outbox_id, OutboxState.DONE)
            db.session.commit()
            return result
        tenant = db.session.get(Tenant, tenant_id)
        if tenant is not None and tenant.status == TenantStatus.SUSPENDED:
            db.session.add(PausedJob(tenant_id=tenant_id, task=definition.path, args=list(args), kwargs=dict(kwargs)))
            _conclude(outbox_id, OutboxState.SKIPPED)
            db.session.commit()
            raise TenantPaused(f"tenant {tenant_id} is suspended: job kept until it is reactivated")
        if tenant is None or tenant.status != TenantStatus.ACTIVE:
            _conclude(outbox_id, OutboxState.SKIPPED)
            db.session.commit()
            raise TenantUnavailable(f"tenant {tenant_id} is missing or not active")
        with tenant_context(tenant_id):
            result = definition.func(*args, **kwargs)
            _conclude(outbox_id, OutboxState.DONE)
            db.session.commit()  # inside the context: the final flush belongs to the tenant
        return result
    except BaseException:
        db.session.rollback()
        raise
    finally:
        db.session.remove()


def resume_paused_jobs(tenant_id: int) -> int:
    """Hand the jobs kept while ``tenant_id`` was suspended back to the queues (in the caller's
    transaction: they are enqueued when it commits, and kept if it rolls back)."""
    paused = db.session.scalars(
        sa.select(PausedJob).where(PausedJob.tenant_id == tenant_id).order_by(PausedJob.id)
    ).all()
    for job in paused:
        enqueue(task_for(job.task).func, *job.args, tenant_id=tenant_id, **job.kwargs)
        db.session.delete(job)
    db.session.flush()
    return len(paused)


# --- the relay ------------------------------------------------------------------------------

_IN_FLIGHT = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
_TYPE_NAME = re.compile(r"[A-Za-z_][\w.]*")


def failure_type(job: Job) -> str:
    """The exception type a failed RQ job ended with; never any of the exception's message."""
    if job.meta.get("error"):
        return str(job.meta["error"])  # noted by the job itself (execute)
    # Failed outside the job's code (work horse killed, timeout): RQ's own text. Its last line
    # reads "Type: message" (or is a line of a multi-line message): keep only a type name.
    result = job.latest_result()
    lines = ((result.exc_string if result else None) or "").strip().splitlines()
    candidate = lines[-1].split(":", 1)[0].strip() if lines and ":" in lines[-1] else ""
    return candidate if _TYPE_NAME.fullmatch(candidate) else "?"


def relay_outbox(limit: int = RELAY_BATCH) -> int:
    """Hand to RQ the outbox rows that are due and not there: never handed over (Redis was
    down), or handed over a while ago and still not done (Redis lost them, or their round is
    due again). A job RQ still holds (queued, running, waiting for a retry) is left alone, so
    the queue never holds a row twice; one RQ failed outside the job's code (time limit, killed
    work horse) counts as a failed round. Returns how many rows were handed over.

    Rows are locked with SKIP LOCKED: several relays, and a job holding its row, do not wait
    on each other. Redis errors propagate, after what was done is committed.
    """
    now = utcnow()
    rows = db.session.scalars(
        sa.select(OutboxJob)
        .where(
            OutboxJob.done_at.is_(None),
            OutboxJob.available_at <= now,
            sa.or_(OutboxJob.relayed_at.is_(None), OutboxJob.relayed_at < now - RELAY_RECHECK),
        )
        .order_by(OutboxJob.available_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    handed = 0
    try:
        if rows:
            jobs = Job.fetch_many([row.id for row in rows], connection=queue("default").connection)
            for row, job in zip(rows, jobs, strict=True):
                status = job.get_status(refresh=False) if job is not None else None
                if status in _IN_FLIGHT:
                    row.relayed_at = now
                    continue
                if status == JobStatus.FAILED:  # RQ failed it without the job noting its round
                    job.delete()
                    if record_failure(row, failure_type(job), now):
                        log.warning("job %s (%s) failed for good: %s", row.id, row.task, row.error)
                        continue
                    if row.available_at > now:
                        continue
                _push(OutgoingJob.of(row))
                row.relayed_at = now
                handed += 1
    finally:
        db.session.commit()
    _purge_finished(now)
    return handed


def _purge_finished(now: datetime) -> None:
    """Forget rows done or skipped a week ago, a batch at a time (failed ones wait for the operator)."""
    old = (
        sa.select(OutboxJob.id)
        .where(OutboxJob.done_at < now - OUTBOX_KEPT, OutboxJob.state != OutboxState.FAILED)
        .limit(RELAY_BATCH)
    )
    db.session.execute(sa.delete(OutboxJob).where(OutboxJob.id.in_(old.scalar_subquery())))
    db.session.commit()


@contextmanager
def _stopped_by_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT while the block runs (in the main thread)."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGINT)}
    for number in previous:
        signal.signal(number, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_relay(app: Flask, interval: float = 5.0, once: bool = False) -> int:
    """``livc relay``: relay the outbox every ``interval`` seconds until SIGTERM or SIGINT.

    Redis or the database out of reach is one line in the log, then a back-off (doubling up
    to a minute) and another try, for as long as it takes. Returns how many rows it relayed.
    """
    total, wait, problem = 0, interval, None
    with _stopped_by_signals() as stop:
        while True:
            handed = 0
            with app.app_context():
                try:
                    handed = relay_outbox()
                    total += handed
                    if problem is not None:
                        log.info("relay: working again after %s", problem)
                    problem, wait = None, interval
                except (RedisError, OSError, sa.exc.SQLAlchemyError) as error:
                    if problem != error_type(error):
                        log.warning("relay: cannot relay now (%s); trying again with back-off", error_type(error))
                    problem, wait = error_type(error), min(wait * 2, 60.0)
                    try:
                        db.session.rollback()
                    except sa.exc.SQLAlchemyError:
                        pass
                finally:
                    db.session.remove()
            if once:
                return total
            if handed < RELAY_BATCH and stop.wait(wait):
                return total


def queue(name: str):
    """The RQ queue ``name`` (with the configured prefix) on the configured Redis."""

    settings = current_app.extensions["livc.settings"]
    return Queue(settings.queue_prefix + name, connection=redis_connection(settings.redis_url))


@cache
def redis_connection(url: str):
    return Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)


_worker_app: Flask | None = None


def worker_app() -> Flask:
    """The app a worker process runs jobs in: created once by ``livc worker`` (see
    :func:`run_worker`) and reused by every job; inside an app context, that app."""
    if has_app_context():
        return current_app._get_current_object()  # noqa: SLF001
    if _worker_app is None:
        raise RuntimeError("no app for jobs in this process: start workers with `livc worker`")
    return _worker_app


def use_worker_app(app: Flask) -> None:
    global _worker_app
    _worker_app = app


def _dispose_pool_after_fork() -> None:
    # A forked work horse must not reuse the parent's pooled connections.
    if _worker_app is not None:
        with _worker_app.app_context():
            db.engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_pool_after_fork)


@cache
def _worker_class():


    class LivcWorker(Worker):
        """RQ's worker, but a failed job is logged in one line and by type and place only.

        (RQ logs the whole traceback, whose last line is the exception's message.)
        """

        livc_stop_requested = False

        def request_stop(self, signum, frame):
            self.livc_stop_requested = True  # asked to stop: not a loop that broke on Redis
            return super().request_stop(signum, frame)

        def execute_job(self, job, queue):
            if _BEFORE_EACH_JOB and _worker_app is not None:
                settings = _worker_app.extensions["livc.settings"]
                for hook in _BEFORE_EACH_JOB:
                    try:
                        hook(settings, queue.name.removeprefix(settings.queue_prefix))
                    except Exception as error:  # the job runs anyway and meets the problem itself
                        self.log.warning("before job %s: %s", job.id, describe_error(error))
            if not metrics.enabled():
                return super().execute_job(job, queue)
            started = time.perf_counter()
            try:
                return super().execute_job(job, queue)
            finally:  # timed here, around the work horse: one process's figures, not one per job
                prefix = _worker_app.extensions["livc.settings"].queue_prefix if _worker_app is not None else ""
                status = job.get_status(refresh=True) if job.connection is not None else None
                metrics.job_ran(queue.name.removeprefix(prefix), job.meta.get("task") or job.func_name,
                                time.perf_counter() - started, failed=status in (JobStatus.FAILED, JobStatus.SCHEDULED))

        def handle_exception(self, job, *exc_info):
            error = exc_info[1]
            if isinstance(error, JobFailed):
                what = str(error)  # already type and place, see execute()
            else:
                what = describe_error(error) if error is not None else "unknown error"
            try:
                task_path = job.meta.get("task") or job.func_name
            except Exception:  # an undecodable job still gets its line
                task_path = "?"
            self.log.error("Worker %s: job %s (%s) failed: %s", self.name, job.id, task_path, what)
            call_exception_handlers(self._exc_handlers, job, *exc_info)

    return LivcWorker


class _OneLine(logging.Filter):
    """RQ's worker logs some errors with their traceback (its last line is the message, which
    may carry personal data): keep the line, name the exception's type only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.getMessage()} ({error_type(record.exc_info[1])})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


_ONE_LINE = _OneLine()


def run_worker(app: Flask, queue_names: list[str], burst: bool = False) -> bool:
    """Run an RQ worker (with its scheduler, which re-enqueues delayed retries) that outlives
    Redis: when Redis goes away it logs one line, waits (back-off from 1 s doubling to 30 s)
    and starts again once Redis answers, until SIGTERM or SIGINT."""
    use_worker_app(app)
    logging.getLogger("rq.worker").addFilter(_ONE_LINE)
    worked = False
    with app.app_context():
        level = app.extensions["livc.settings"].log_level
        queues = [queue(name) for name in queue_names]
        connection = queues[0].connection
        while True:
            worker = None
            try:
                worker = _worker_class()(queues, connection=connection)
                worked = worker.work(with_scheduler=True, burst=burst, logging_level=level) or worked
            except (RedisError, OSError) as error:
                problem = error_type(error)
            else:
                if worker.livc_stop_requested:
                    return worked
                try:
                    connection.ping()
                except (RedisError, OSError) as error:
                    problem = error_type(error)
                else:
                    if burst:
                        return worked
                    problem = "the work loop ended"
            log.warning("worker: Redis unavailable (%s): waiting for it", problem)
            if not _wait_for_redis(connection):
                return worked
            log.info("worker: Redis answers again: resuming")


def _wait_for_redis(connection, longest: float = 30.0) -> bool:
    """Wait until ``connection`` answers (True) or SIGTERM/SIGINT comes (False)."""
    wait = 1.0
    with _stopped_by_signals() as stop:
        while not stop.wait(wait):
            try:
                connection.ping()
                return True
            except (RedisError, OSError):
                wait = min(wait * 2, longest)
    return False


@task(queue="maintenance", retries=0)
def ping() -> dict[str, str]:
    """Diagnostics: proves a worker runs jobs, and which interpreter and modules it runs on."""

    return {
        "pid": str(os.getpid()),
        "python": sys.version.split()[0],
        "platform_module": platform.__file__,
    }
