"""Periodic jobs, kept as data and run by RQ's cron scheduler (``livc cron``).

A periodic job marked ``per_tenant`` fans out into one job per active tenant, so that each
runs inside its own tenant's isolation, exactly like any other job. A suspended tenant's
periodic jobs are not run while it is suspended; they run again at their next time after
its reactivation (one-off jobs of a suspended tenant are kept, see ``jobs.PausedJob``).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from livc.platform.jobs import JOB_TIMEOUT, _task_for, enqueue, execute, queue, task


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    cron: str
    per_tenant: bool = True


PERIODIC = (
    Periodic("audit-chain-verification", "livc.platform.audit.verify_tenant_chain", "17 3 * * *"),
    Periodic("expired-session-purge", "livc.platform.sessions.purge_expired_sessions", "*/15 * * * *"),
    Periodic("case-retention", "livc.tenants.retention.retention_sweep", "41 2 * * *"),
    Periodic("case-reminders", "livc.tenants.retention.send_case_reminders", "7 6 * * *"),
    Periodic("federation-sweep", "livc.federation.enrolment.sweep_enrolments", "*/10 * * * *"),
    Periodic("export-expiry", "livc.admin.lifecycle.expire_exports", "23 * * * *", per_tenant=False),
)


@task(queue="maintenance")
def fan_out(task_path: str) -> int:
    """Enqueue ``task_path`` once for every active tenant; returns how many."""
    from livc.platform.db import db
    from livc.tenants.models import Tenant, TenantStatus

    func = _task_for(task_path).func
    tenant_ids = db.session.scalars(
        sa.select(Tenant.id).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.id)
    ).all()
    for tenant_id in tenant_ids:
        enqueue(func, tenant_id=tenant_id)
    return len(tenant_ids)


def build_scheduler(app: Flask):
    """An RQ :class:`CronScheduler` with every periodic job registered.

    The jobs it enqueues look like those of :func:`~livc.platform.jobs.enqueue`: they run
    through :func:`~livc.platform.jobs.execute`, with the task path and tenant in their meta
    (what ``livc jobs failed`` shows) and the same time limit.
    """
    from rq.cron import CronScheduler

    prefix = app.extensions["livc.settings"].queue_prefix
    with app.app_context():
        connection = queue("maintenance").connection
        # Named per deployment (queue prefix) and process, as RQ's default name is.
        name = f"livc-cron:{prefix}{socket.gethostname()}:{os.getpid()}"
        scheduler = CronScheduler(connection=connection, name=name)
        for periodic in PERIODIC:
            definition = _task_for(periodic.task)
            if periodic.per_tenant:
                runs = fan_out.task
                args = (None, runs.path, [periodic.task], {})
            else:
                runs = definition
                args = (None, runs.path, [], {})
            scheduler.register(
                execute,
                queue_name=prefix + runs.queue,
                args=args,
                cron=periodic.cron,
                name=periodic.name,
                job_timeout=JOB_TIMEOUT,
                meta={"tenant_id": None, "task": runs.path},
            )
    return scheduler
