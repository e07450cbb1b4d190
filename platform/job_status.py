"""Whether RQ still holds a job: what a sweep asks before it sends a job's work again.

A sweep that re-enqueues what looks stuck by its age alone duplicates every job still waiting
behind a backlog (161 to 1,119 duplicate enrolment jobs were measured). A job is *live* while
it is queued, deferred, scheduled (a retry waiting for its back-off) or started by a worker
that is still alive (its worker key, renewed by the worker's heartbeat, exists), or while its
outbox row waits to be handed to RQ (:class:`~livc.platform.jobs.OutboxJob`, not relayed yet:
the relay will deliver it); finished, failed, stopped, cancelled, expired or unknown jobs are
not. Inline jobs (no Redis) are never live: they ran in the request that enqueued them.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app
from redis.exceptions import RedisError
from rq import Worker
from rq.job import Job, JobStatus

from livc.platform.db import db
from livc.platform.jobs import OutboxJob, redis_connection

__all__ = ["LIVE_STATES", "live_jobs"]

LIVE_STATES = frozenset({JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.STARTED})


def live_jobs(job_ids: Iterable[str | None]) -> set[str] | None:
    """The ids among ``job_ids`` that RQ still holds (see the module), or None when Redis
    cannot be asked: then nobody knows, and a sweep waits for its next round."""
    ids = sorted({job_id for job_id in job_ids if job_id})
    settings = current_app.extensions["livc.settings"]
    if not ids or settings.jobs_inline:
        return set()
    live = set(db.session.scalars(
        sa.select(OutboxJob.id).where(OutboxJob.id.in_(ids), OutboxJob.done_at.is_(None), OutboxJob.relayed_at.is_(None))
    ))
    connection = redis_connection(settings.redis_url)
    try:
        for job in Job.fetch_many(ids, connection=connection):
            if job is None:
                continue
            status = job.get_status(refresh=False)
            if status == JobStatus.STARTED and not (
                job.worker_name and connection.exists(Worker.redis_worker_namespace_prefix + job.worker_name)
            ):
                continue  # its worker died: nobody will finish it
            if status in LIVE_STATES:
                live.add(job.id)
        return live
    except RedisError:
        return None
