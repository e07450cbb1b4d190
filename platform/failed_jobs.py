"""Failed jobs and putting them back: the outbox's failures first, then RQ's failed registries.

Shared by ``livc jobs failed`` / ``livc jobs retry`` and the operator console's health page.
A job written to the outbox that failed for good (a mail after a day of tries, another job after
its retries) is kept there as ``failed``: the list survives a Redis restart, and retrying it
puts it back in the outbox as new. Jobs that never went through the outbox (periodic ones) are
read from RQ's failed registries. What is shown of a failed job is its id, queue, task, tenant
id, when it failed and the type of exception it ended with: never its arguments nor the
exception's message (they may carry personal data).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation
from rq.job import Job
from werkzeug.exceptions import Conflict, ServiceUnavailable

from livc.platform.db import db
from livc.platform.jobs import (
    QUEUES,
    OutboxJob,
    OutboxState,
    OutgoingJob,
    failure_type,
    hand_over,
    queue,
)
from livc.platform.timeutil import utcnow

__all__ = ["FailedJob", "failed_jobs", "failure_type", "outbox_backlog", "outbox_failures", "queue_lengths",
           "retry_failed"]


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    task: str
    tenant_id: int | None
    failed_at: datetime | None
    error: str
    attempts: int | None = None  # rounds tried, for jobs kept in the outbox


def outbox_failures() -> list[FailedJob]:
    """The outbox's jobs that failed for good, newest first (needs only the database)."""
    rows = db.session.scalars(
        sa.select(OutboxJob).where(OutboxJob.state == OutboxState.FAILED).order_by(OutboxJob.done_at.desc())
    ).all()
    return [FailedJob(row.id, row.queue, row.task, row.tenant_id, row.done_at, row.error or "?", row.attempts)
            for row in rows]


def failed_jobs() -> list[FailedJob]:
    """Every failed job: the outbox's, then those in RQ's registries that are not among them
    (RQ's part needs Redis)."""
    found = outbox_failures()
    known = {job.id for job in found}
    for name in QUEUES:
        q = queue(name)
        for job in Job.fetch_many(q.failed_job_registry.get_job_ids(), connection=q.connection):
            if job is None or job.id in known:
                continue
            # The task path, not the description: for jobs without meta it lists the arguments.
            found.append(FailedJob(job.id, name, job.meta.get("task") or job.func_name, job.meta.get("tenant_id"),
                                   job.ended_at, failure_type(job)))
    return found


def outbox_backlog() -> dict:
    """How many outbox jobs wait for an outcome, and since when the oldest is due."""
    count, oldest = db.session.execute(
        sa.select(sa.func.count(), sa.func.min(OutboxJob.available_at)).where(OutboxJob.done_at.is_(None))
    ).one()
    return {"waiting": int(count or 0), "oldest": oldest}


def retry_failed(job_ids: set[str] | None) -> set[str]:
    """Put the failed jobs ``job_ids`` (every one when None) back; the ids retried.

    An outbox job starts again as new (its rounds counted afresh) and is handed to RQ at once,
    or by the relay when Redis cannot take it now. Without a queue (jobs run inline, as in the
    demo) there is nothing to retry: 409, saying so. With Redis out of reach and no outbox job
    to retry, 503 with a clear message, not a 500: the operator can try again.
    """
    if current_app.extensions["livc.settings"].jobs_inline:
        raise Conflict(_l("Jobs run inline here (no Redis is configured): there is no queue to retry jobs on."))
    query = sa.select(OutboxJob).where(OutboxJob.state == OutboxState.FAILED)
    if job_ids is not None:
        query = query.where(OutboxJob.id.in_(job_ids))
    rows = db.session.scalars(query.with_for_update()).all()
    now = utcnow()
    for row in rows:
        row.state, row.attempts, row.error = OutboxState.PENDING, 0, None
        row.available_at, row.relayed_at, row.done_at = now, None, None
    outgoing = [OutgoingJob.of(row) for row in rows]
    db.session.commit()
    retried = {item.id for item in outgoing}
    try:
        for name in QUEUES:
            registry = queue(name).failed_job_registry
            for job_id in registry.get_job_ids():
                if job_id in retried:
                    registry.remove(job_id, delete_job=True)  # the outbox hands it over anew
                elif job_ids is None or job_id in job_ids:
                    try:
                        registry.requeue(job_id)
                    except InvalidJobOperation:  # retried or expired meanwhile
                        continue
                    retried.add(job_id)
    except (RedisError, OSError):
        if not outgoing:
            raise ServiceUnavailable(_l("The job queue (Redis) cannot be reached right now. "
                                        "Jobs already put back stay queued; try again shortly.")) from None
        return retried  # the relay hands the outbox's jobs over once Redis is back
    hand_over(outgoing)
    return retried


def queue_lengths() -> dict[str, dict[str, int]]:
    """Per queue: jobs waiting, and jobs failed after their retries (needs Redis)."""

    lengths = {}
    for name in QUEUES:
        q = queue(name)
        lengths[name] = {"waiting": q.count, "failed": q.failed_job_registry.count}
    return lengths
