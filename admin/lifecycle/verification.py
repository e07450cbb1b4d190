"""After crypto-shredding: the report that no row of the cell, no usable key and no federation
token remains (what is kept as evidence, and why, is named)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from livc.admin.lifecycle.models import (
    Offboarding,
    OffboardingReport,
    TenantExport,
    TenantExportFile,
    record_event,
)
from livc.platform.db import db, tenant_context
from livc.platform.keys import (
    DataKey,
)
from livc.platform.sessions import AuthSession
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership

# --- step (c): crypto-shredding -------------------------------------------------------------------

KEPT_AS_EVIDENCE = "data_keys"  # destroyed keys stay: when, and that the scope can never be keyed again


def tenant_tables() -> list[tuple[sa.Table, list[sa.Column]]]:
    """Every table that refers to a tenant, with the columns that do, children before parents
    (found from the metadata: a table added later is shredded and verified too)."""
    found = []
    for table in reversed(db.metadata.sorted_tables):
        if table.name == Tenant.__tablename__:
            continue
        columns = [column for column in table.columns
                   if any(key.column.table.name == Tenant.__tablename__ for key in column.foreign_keys)]
        if columns:
            found.append((table, columns))
    return found


# --- step (d): the verification report --------------------------------------------------------------

FEDERATION_TABLES = ("federation_enrolments", "federation_tokens", "federation_links", "match_alerts",
                     "federation_threads", "federation_handovers",
                     "federation_budget_uses", "federation_budget_releases")


def export_state(export: TenantExport | None, now: datetime | None = None) -> str:
    """``missing``, ``pending`` (encrypted, waiting for its one download), ``downloaded`` or
    ``expired`` (the file is gone in both)."""
    if export is None:
        return "missing"
    if export.downloaded_at is not None:
        return "downloaded"
    if export.deleted_at is not None or export.expires_at <= (now or utcnow()):
        return "expired"
    return "pending"


def verify(run: Offboarding, tenant: Tenant) -> OffboardingReport:
    """Check that nothing decryptable of the tenant remains, and record the report."""

    counts: dict[str, int] = {}
    checks: list[dict[str, Any]] = []
    with tenant_context(tenant.id):
        for table, columns in tenant_tables():
            counts[table.name] = db.session.scalar(
                sa.select(sa.func.count()).select_from(table).where(refers_to(columns, tenant.id)))
        live_keys = db.session.scalar(sa.select(sa.func.count()).select_from(DataKey).where(
            DataKey.tenant_id == tenant.id, DataKey.wrapped_key.is_not(None)))
    destroyed = counts.pop(KEPT_AS_EVIDENCE, 0) - live_keys
    left = {table: count for table, count in counts.items() if count}
    checks.append({"check": "keys_destroyed", "passed": live_keys == 0 and destroyed > 0, "found": live_keys,
                   "destroyed": destroyed})
    checks.append({"check": "no_tenant_rows", "passed": not left, "found": sum(left.values()), "tables": sorted(left)})
    for name, tables in (("no_federation", FEDERATION_TABLES),
                         ("no_sessions", (AuthSession.__tablename__,)),
                         ("no_memberships", (Membership.__tablename__,))):
        found = sum(counts.get(table, 0) for table in tables)
        checks.append({"check": name, "passed": found == 0, "found": found})
    export = db.session.scalar(sa.select(TenantExport).where(TenantExport.offboarding_id == run.id))
    state = export_state(export)
    file_kept = export is not None and db.session.get(TenantExportFile, export.id) is not None
    export_ok = (state == "pending" and file_kept) or (state in ("downloaded", "expired") and not file_kept)
    checks.append({"check": "export_pending_or_gone", "passed": export_ok, "state": state})
    checks.append({"check": "tenant_offboarded", "passed": tenant.status == TenantStatus.OFFBOARDED})
    db.session.execute(sa.delete(OffboardingReport).where(OffboardingReport.offboarding_id == run.id))
    report = OffboardingReport(offboarding_id=run.id, tenant_id=tenant.id, tenant_slug=tenant.slug,
                               passed=all(check["passed"] for check in checks), checks=checks, counts=counts,
                               created_at=utcnow())
    db.session.add(report)
    db.session.flush()
    return report


def step_verify(run: Offboarding, tenant: Tenant) -> dict[str, Any]:
    report = verify(run, tenant)
    record_event(tenant, "tenant.verified", run.requested_by, {"report_id": report.id, "passed": report.passed})
    return {"passed": report.passed, "checks": len(report.checks),
            "checks_passed": sum(1 for check in report.checks if check["passed"])}


def report_of(run: Offboarding) -> OffboardingReport | None:
    return db.session.scalar(sa.select(OffboardingReport).where(OffboardingReport.offboarding_id == run.id))


def refers_to(columns: list[sa.Column], tenant_id: int) -> sa.ColumnElement[bool]:
    return sa.or_(*(column == tenant_id for column in columns))
