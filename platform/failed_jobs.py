"""Failed jobs (after their retries) in RQ's registries, and putting them back on their queue.

Shared by ``livc jobs failed`` / ``livc jobs retry`` and the operator console's health page.
What is shown of a failed job is its id, queue, task, tenant id, when it failed and the type of
exception it ended with: never its arguments nor the exception's message (they may carry
personal data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation
from rq.job import Job
from werkzeug.exceptions import Conflict, ServiceUnavailable

from livc.platform.jobs import QUEUES, queue

_TYPE_NAME = re.compile(r"[A-Za-z_][\w.]*")


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    task: str
    tenant_id: int | None
    failed_at: datetime | None
    error: str


def failure_type(job) -> str:
    """The exception type a failed job ended with; never any of the exception's message."""
    if job.meta.get("error"):
        return str(job.meta["error"])  # noted by the job itself (livc.platform.jobs.execute)
    # Failed outside the job's code (work horse killed, timeout): RQ's own text. Its last line
    # reads "Type: message" (or is a line of a multi-line message): keep only a type name.
    result = job.latest_result()
    lines = ((result.exc_string if result else None) or "").strip().splitlines()
    candidate = lines[-1].split(":", 1)[0].strip() if lines and ":" in lines[-1] else ""
    return candidate if _TYPE_NAME.fullmatch(candidate) else "?"


def failed_jobs() -> list[FailedJob]:
    """Every failed job on every queue (needs Redis)."""


    found = []
    for name in QUEUES:
        q = queue(name)
        for job in Job.fetch_many(q.failed_job_registry.get_job_ids(), connection=q.connection):
            if job is None:
                continue
            # The task path, not the description: for jobs without meta it lists the arguments.
            found.append(FailedJob(job.id, name, job.meta.get("task") or job.func_name, job.meta.get("tenant_id"),
                                   job.ended_at, failure_type(job)))
    return found


def retry_failed(job_ids: set[str] | None) -> set[str]:
    """Put the failed jobs ``job_ids`` (every one when None) back on their queue; the ids retried.

    Without a queue (jobs run inline, as in the demo) there is nothing to retry: 409, saying so.
    With Redis out of reach, 503 with a clear message, not a 500: nothing was retried, and the
    operator can try again.
    """
    if current_app.extensions["livc.settings"].jobs_inline:
        raise Conflict(_l("Jobs run inline here (no Redis is configured): there is no queue to retry jobs on."))
    retried: set[str] = set()
    try:
        for name in QUEUES:
            registry = queue(name).failed_job_registry
            for job_id in registry.get_job_ids():
                if job_ids is None or job_id in job_ids:
                    try:
                        registry.requeue(job_id)
                    except InvalidJobOperation:  # retried or expired meanwhile
                        continue
                    retried.add(job_id)
    except (RedisError, OSError):
        raise ServiceUnavailable(_l("The job queue (Redis) cannot be reached right now. "
                                    "Jobs already put back stay queued; try again shortly.")) from None
    return retried


def queue_lengths() -> dict[str, dict[str, int]]:
    """Per queue: jobs waiting, and jobs failed after their retries (needs Redis)."""

    lengths = {}
    for name in QUEUES:
        q = queue(name)
        lengths[name] = {"waiting": q.count, "failed": q.failed_job_registry.count}
    return lengths
