"""Periodic jobs, kept as data and run by RQ's cron scheduler (``livc cron``).

A periodic job marked ``per_tenant`` fans out into one job per active tenant, so that each
runs inside its own tenant's isolation, exactly like any other job.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from livc.platform.jobs import _task_for, enqueue, execute, queue, task


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    cron: str
    per_tenant: bool = True


PERIODIC = (
    Periodic("audit-chain-verification", "livc.platform.audit.verify_tenant_chain", "17 3 * * *"),
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
    """An RQ :class:`CronScheduler` with every periodic job registered."""
    from rq.cron import CronScheduler

    with app.app_context():
        connection = queue("maintenance").connection
        scheduler = CronScheduler(connection=connection, name=f"livc-cron-{app.name}")
        for periodic in PERIODIC:
            definition = _task_for(periodic.task)
            if periodic.per_tenant:
                args = (None, f"{fan_out.__module__}.fan_out", [periodic.task], {})
                queue_name = fan_out.task.queue
            else:
                args = (None, periodic.task, [], {})
                queue_name = definition.queue
            scheduler.register(
                execute,
                queue_name=app.extensions["livc.settings"].queue_prefix + queue_name,
                args=args,
                cron=periodic.cron,
                name=periodic.name,
            )
    return scheduler
