"""Periodic jobs, kept as data (``livc.app.periodic``) and run by RQ's cron scheduler (``livc cron``).

A periodic job marked ``per_tenant`` fans out into one job per active tenant, so that each
runs inside its own tenant's isolation, exactly like any other job. A suspended tenant's
periodic jobs are not run while it is suspended; they run again at their next time after
its reactivation (one-off jobs of a suspended tenant are kept, see ``jobs.PausedJob``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask
from rq.cron import CronScheduler

from livc.platform.db import db
from livc.platform.jobs import JOB_TIMEOUT, enqueue, execute, queue, task, task_for
from livc.platform.tenancy import Tenant, TenantStatus


@dataclass(frozen=True)
class Periodic:
    """A periodic job: its name, the path of its task (``func.task.path``), a cron line, and
    whether it runs once per active tenant. The list of them is the composition root's
    (``livc.app.periodic``): each domain's periodic tasks, gathered at the top."""

    name: str
    task: str
    cron: str
    per_tenant: bool = True


@task(queue="maintenance")
def fan_out(task_path: str) -> int:
    """Enqueue ``task_path`` once for every active tenant; returns how many."""

    func = task_for(task_path).func
    tenant_ids = db.session.scalars(
        sa.select(Tenant.id).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.id)
    ).all()
    for tenant_id in tenant_ids:
        enqueue(func, tenant_id=tenant_id)
    return len(tenant_ids)


def build_scheduler(app: Flask, periodic_jobs: Iterable[Periodic]):
    """An RQ :class:`CronScheduler` with ``periodic_jobs`` registered.

    The jobs it enqueues look like those of :func:`~livc.platform.jobs.enqueue`: they run
    through :func:`~livc.platform.jobs.execute`, with the task path and tenant in their meta
    (what ``livc jobs failed`` shows) and the same time limit.
    """

    prefix = app.extensions["livc.settings"].queue_prefix
    with app.app_context():
        connection = queue("maintenance").connection
        # Named per deployment (queue prefix) and process, as RQ's default name is.
        name = f"livc-cron:{prefix}{socket.gethostname()}:{os.getpid()}"
        scheduler = CronScheduler(connection=connection, name=name)
        for periodic in periodic_jobs:
            definition = task_for(periodic.task)
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
