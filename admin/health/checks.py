"""Platform health for the operator: numbers and states only, never content.

Per tenant the number of members and of cases is counted inside that tenant (ORM filter and
row-level security alike), as a count that returns a number and nothing else. The audit chain's
state is the last recorded check: the nightly verification's or an operator's
(:mod:`livc.admin.operators.chains`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from livc.admin.operators.chains import ChainState, tenant_chain_state
from livc.federation.custodian_client import CustodianError, InProcessCustodian, custodian_for
from livc.platform.db import db, tenant_context
from livc.platform.failed_jobs import failed_jobs, outbox_backlog, outbox_failures, queue_lengths
from livc.platform.settings import ConfigurationError
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.web import database_check
from livc.tenants.cases.models import Case
from livc.tenants.members.models import Membership, MembershipStatus


@dataclass(frozen=True)
class TenantHealth:
    slug: str
    name: str
    status: str
    members: int
    cases: int
    chain: ChainState


def _count(query) -> int:
    return int(db.session.scalar(query) or 0)


def tenant_health(tenant: Tenant) -> TenantHealth:
    with tenant_context(tenant.id):
        members = _count(sa.select(sa.func.count()).select_from(Membership).where(Membership.status == MembershipStatus.ACTIVE))
        cases = _count(sa.select(sa.func.count()).select_from(Case))
    return TenantHealth(tenant.slug, tenant.name, tenant.status.value, members, cases, tenant_chain_state(tenant))


def tenants_by_status() -> dict[str, int]:
    counts = dict(db.session.execute(sa.select(Tenant.status, sa.func.count()).group_by(Tenant.status)).all())
    return {status.value: int(counts.get(status, 0)) for status in TenantStatus}


def custodian_status() -> dict:
    """Whether the federation's key custodian answers, and its current epoch."""

    settings = current_app.extensions["livc.settings"]
    try:
        custodian = custodian_for(settings)
        epochs = custodian.epochs()
    except (CustodianError, ConfigurationError, OSError) as error:
        return {"reachable": False, "problem": type(error).__name__}
    kind = "in-process (development)" if isinstance(custodian, InProcessCustodian) else "service"
    return {"reachable": True, "kind": kind, "current_epoch": epochs.current}


def jobs_status() -> dict:
    settings = current_app.extensions["livc.settings"]
    if settings.jobs_inline:
        return {"inline": True, "queues": {}, "failed": []}
    backlog = outbox_backlog()  # from the database: shown even while Redis is down
    try:
        return {"inline": False, "queues": queue_lengths(), "failed": failed_jobs(), "outbox": backlog}
    except Exception as error:  # noqa: BLE001 - redis-py raises several unrelated types
        return {"inline": False, "queues": {}, "failed": outbox_failures(), "outbox": backlog,
                "problem": type(error).__name__}


def platform_health() -> dict:
    tenants = db.session.scalars(sa.select(Tenant).where(Tenant.status != TenantStatus.OFFBOARDED).order_by(Tenant.slug)).all()
    return {
        "database": database_check(),
        "tenants_by_status": tenants_by_status(),
        "tenants": [tenant_health(tenant) for tenant in tenants],
        "jobs": jobs_status(),
        "custodian": custodian_status(),
    }
