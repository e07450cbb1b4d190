"""Background jobs on RQ and Redis, inline when no Redis is configured.

A job is a function marked with :func:`task`. It is enqueued with plain ids (never objects, and
never personal data: job arguments sit in Redis and in dashboards) and the tenant it works for.
Inside the worker, :func:`execute` opens an app context, re-enters that tenant (ORM filter and
row-level security alike), runs the function in one transaction and commits. Failures are
retried with back-off, then kept in RQ's failed-job registry (``livc jobs failed``). A job
whose tenant is suspended is kept in the database (:class:`PausedJob`) and handed back to the
queues when the tenant is reactivated; one whose tenant is gone or offboarded is dropped.

Jobs must be idempotent: what must not be lost is written to the database first (an outbox)
and the job delivers it, so a retry or a duplicate delivery does no harm.
"""

from __future__ import annotations

import logging
import os
import platform
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, partial
from importlib import import_module
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry, Worker, get_current_job
from rq.job_lifecycle import call_exception_handlers
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from livc.platform.db import Id, db, tenant_context
from livc.platform.logs import describe_error
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow

log = logging.getLogger(__name__)

QUEUES = ("default", "mail", "federation", "maintenance")
RETRY_INTERVALS = (10, 60, 300)  # seconds before the 1st, 2nd and 3rd retry
JOB_TIMEOUT = 600

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

    @property
    def path(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"


def task(queue: str = "default", retries: int = len(RETRY_INTERVALS)):
    """Mark a function as a job. Only marked functions can be run by a worker."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        definition = Task(func, queue, retries)
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
    """What :func:`enqueue` did: an RQ job id, or ``inline`` with the outcome."""

    job_id: str | None
    inline: bool
    succeeded: bool | None = None


def enqueue(func: Callable[..., Any], *args: Any, tenant_id: int | None, **kwargs: Any) -> Enqueued:
    """Run ``func(*args, **kwargs)`` as ``tenant_id`` in the background.

    ``tenant_id`` is explicit on purpose: a job must never guess whose data it works on.
    Pass ``None`` only for platform-level jobs that touch no tenant data themselves.

    While the caller's transaction is open the job is held back and handed over when that
    transaction commits (and dropped if it rolls back): a job never runs on data that is not
    committed yet, nor waits on the caller's own locks.
    """

    definition: Task = getattr(func, "task", None) or task_for(f"{func.__module__}.{func.__qualname__}")
    settings = current_app.extensions["livc.settings"]
    job_id = None if settings.jobs_inline else uuid.uuid4().hex
    delivery = partial(
        _deliver, current_app._get_current_object(), definition, tenant_id, list(args), kwargs, job_id  # noqa: SLF001
    )
    session = db.session()
    if session.in_transaction():
        session.info.setdefault(_HELD_BACK, []).append(delivery)
        return Enqueued(job_id=job_id, inline=settings.jobs_inline)
    return delivery()


_HELD_BACK = "livc_jobs_held_back"


@event.listens_for(Session, "after_commit")
def _hand_over_held_back_jobs(session: Session) -> None:
    for delivery in session.info.pop(_HELD_BACK, []):
        try:
            delivery()
        except Exception as error:  # the commit stands; say loudly that its job did not go
            log.error("job could not be queued after commit: %s", error_type(error))


@event.listens_for(Session, "after_transaction_end")
def _drop_held_back_jobs(session: Session, transaction) -> None:
    # Runs after after_commit; whatever is still held back here was rolled back with its cause.
    if transaction.parent is None:
        session.info.pop(_HELD_BACK, None)


def _deliver(app: Flask, definition: Task, tenant_id, args: list, kwargs: dict, job_id) -> Enqueued:
    with app.app_context():
        if app.extensions["livc.settings"].jobs_inline:
            return _run_inline(definition, tenant_id, args, kwargs)

        job = queue(definition.queue).enqueue(
            execute,
            tenant_id,
            definition.path,
            args,
            kwargs,
            job_id=job_id,
            retry=Retry(max=definition.retries, interval=list(RETRY_INTERVALS[: definition.retries]))
            if definition.retries
            else None,
            job_timeout=JOB_TIMEOUT,
            description=definition.path,  # not the arguments
            meta={"tenant_id": tenant_id, "task": definition.path},
        )
        return Enqueued(job_id=job.id, inline=False)


def _run_inline(definition: Task, tenant_id: int | None, args, kwargs) -> Enqueued:
    """Embedded mode: run now, in a fresh app context (and so a fresh session and transaction)."""
    app = current_app._get_current_object()  # noqa: SLF001
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


def execute(tenant_id: int | None, task_path: str, args: list, kwargs: dict) -> Any:
    """The function RQ runs for every livc job (in the worker's work horse).

    A failure reaches RQ (which retries it, then keeps it as failed) as :class:`JobFailed`,
    and the job's ``meta["error"]`` names the exception type for ``livc jobs failed``.
    """
    try:
        definition = task_for(task_path)
        app = worker_app()
        with app.app_context():
            try:
                return _execute_in_app(tenant_id, definition, args, kwargs)
            except TenantUnavailable as reason:
                log.warning("job %s not run: %s", task_path, reason)
                return None
    except Exception as error:
        _note_error(error)
        raise JobFailed(describe_error(error)) from None


def error_type(error: BaseException) -> str:
    kind = type(error)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _note_error(error: BaseException) -> None:
    job = get_current_job()
    if job is not None:
        job.meta["error"] = error_type(error)
        job.save_meta()


def _execute_in_app(tenant_id: int | None, definition: Task, args: list, kwargs: dict) -> Any:
    try:
        if tenant_id is None:
            result = definition.func(*args, **kwargs)
            db.session.commit()
            return result
        tenant = db.session.get(Tenant, tenant_id)
        if tenant is not None and tenant.status == TenantStatus.SUSPENDED:
            db.session.add(PausedJob(tenant_id=tenant_id, task=definition.path, args=list(args), kwargs=dict(kwargs)))
            db.session.commit()
            raise TenantPaused(f"tenant {tenant_id} is suspended: job kept until it is reactivated")
        if tenant is None or tenant.status != TenantStatus.ACTIVE:
            raise TenantUnavailable(f"tenant {tenant_id} is missing or not active")
        with tenant_context(tenant_id):
            result = definition.func(*args, **kwargs)
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

        def execute_job(self, job, queue):
            if _BEFORE_EACH_JOB and _worker_app is not None:
                settings = _worker_app.extensions["livc.settings"]
                for hook in _BEFORE_EACH_JOB:
                    try:
                        hook(settings, queue.name.removeprefix(settings.queue_prefix))
                    except Exception as error:  # the job runs anyway and meets the problem itself
                        self.log.warning("before job %s: %s", job.id, describe_error(error))
            return super().execute_job(job, queue)

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


def run_worker(app: Flask, queue_names: list[str], burst: bool = False) -> bool:
    """Start an RQ worker (with its scheduler, which re-enqueues delayed retries)."""
    use_worker_app(app)
    with app.app_context():
        queues = [queue(name) for name in queue_names]
        worker = _worker_class()(queues, connection=queues[0].connection)
        level = app.extensions["livc.settings"].log_level
        return worker.work(with_scheduler=True, burst=burst, logging_level=level)


@task(queue="maintenance", retries=0)
def ping() -> dict[str, str]:
    """Diagnostics: proves a worker runs jobs, and which interpreter and modules it runs on."""

    return {
        "pid": str(os.getpid()),
        "python": sys.version.split()[0],
        "platform_module": platform.__file__,
    }
