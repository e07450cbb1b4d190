"""Crypto-shredding a cell: its federation tokens, links and alerts withdrawn, its hand-overs
withdrawn and its cooperation threads left (the other cells' trails say so), every data key
destroyed, every tenant row deleted, accounts that belonged to nothing else removed."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from livc.admin.lifecycle.models import Offboarding, TenantExport, plain_counts, record_event
from livc.admin.lifecycle.verification import KEPT_AS_EVIDENCE, refers_to, tenant_tables
from livc.federation.handover import withdraw_cell as withdraw_handovers
from livc.federation.links import audit_in
from livc.federation.models import (
    AlertState,
    DismissedPair,
    FederationEnrolment,
    FederationLink,
    MatchAlert,
)
from livc.federation.threads import cell_left as leave_threads
from livc.platform.accounts import Account
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.keys import (
    TENANT_SCOPE,
    DataKey,
    destroy_key,
)
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership


def _withdraw_federation(tenant: Tenant) -> dict[str, int]:
    """End the cell's links and withdraw its alerts, telling the other cells' trails (ids only);
    its enrolments, tokens, alerts and links are then deleted with the other tenant rows."""

    now = utcnow()
    alerts = db.session.scalars(sa.select(MatchAlert).where(
        sa.or_(MatchAlert.tenant_a_id == tenant.id, MatchAlert.tenant_b_id == tenant.id))).all()
    withdrawn = 0
    for alert in alerts:
        other = alert.tenant_b_id if alert.tenant_a_id == tenant.id else alert.tenant_a_id
        if alert.state == AlertState.OPEN:
            alert.state, alert.withdrawn_at, alert.updated_at = AlertState.WITHDRAWN, now, now
            withdrawn += 1
        # Only a cell that could see the alert is told (the newer cell never hears of one the
        # earlier cell did not judge worth checking).
        seen = alert.disclosed_at is not None or getattr(alert, f"tenant_{alert.earlier_side}_id") == other
        if other != tenant.id and seen:
            audit_in(other, "federation.alert_withdrawn", subject=f"alert:{alert.id}",
                     details={"reason": "cell_offboarded", "cell": tenant.id})
    links = db.session.scalars(sa.select(FederationLink).where(
        sa.or_(FederationLink.cell_a_id == tenant.id, FederationLink.cell_b_id == tenant.id))).all()
    ended = 0
    for link in links:
        if link.ended_at is None:
            link.ended_at, link.ended_by_id = now, tenant.id
            ended += 1
            audit_in(link.other(tenant.id), "federation.link_ended", subject=f"cell:{tenant.id}",
                     details={"link_id": link.id, "reason": "cell_offboarded"})
    refs = sa.select(FederationEnrolment.ref).where(FederationEnrolment.tenant_id == tenant.id)
    dismissed = db.session.execute(sa.delete(DismissedPair).where(
        sa.or_(DismissedPair.ref_low.in_(refs), DismissedPair.ref_high.in_(refs)))).rowcount or 0
    handovers = withdraw_handovers(tenant.id)
    threads = leave_threads(tenant.id)
    db.session.flush()
    return {"alerts_withdrawn": withdrawn, "links_ended": ended, "dismissed_pairs": dismissed,
            "handovers_withdrawn": handovers, "threads_left": threads}


def _destroy_keys(tenant_id: int) -> int:
    with tenant_context(tenant_id):
        scopes = set(db.session.scalars(sa.select(DataKey.scope)))
        for scope in sorted(scopes | {TENANT_SCOPE}):
            destroy_key(scope)
        return len(scopes | {TENANT_SCOPE})


def _delete_rows(tenant_id: int) -> dict[str, int]:
    """Delete every row that refers to the tenant (but the destroyed keys, kept as evidence)."""

    removed: dict[str, int] = {}
    with tenant_context(tenant_id):  # row-level security lets the tenant's own rows be seen
        for table, columns in tenant_tables():
            if table.name == KEPT_AS_EVIDENCE:
                continue
            if table.name == AuditEntry.__tablename__ and db.session.get_bind().dialect.name == "postgresql":
                # The app role may not delete audit entries; this function may, for an offboarded tenant only.
                count = db.session.scalar(sa.text("SELECT livc_purge_offboarded_audit(:tenant)"), {"tenant": tenant_id})
            else:
                count = db.session.execute(sa.delete(table).where(refers_to(columns, tenant_id))).rowcount
            removed[table.name] = count or 0
    return removed


def _former_accounts(tenant_id: int) -> set[int]:
    with tenant_context(tenant_id):
        return set(db.session.scalars(sa.select(Membership.account_id)))


def _remove_lone_accounts(account_ids: set[int]) -> int:
    """Delete the accounts that were members of the offboarded cell only (an account with a seat
    in another cell, or used anywhere else on the platform, stays)."""

    if not account_ids:
        return 0
    own = {"recovery_codes", "account_identities"}  # the account's own rows, deleted with it
    referring = [
        (table, column) for table in db.metadata.sorted_tables for column in table.columns
        if table.name not in own and any(key.column.table.name == Account.__tablename__ for key in column.foreign_keys)
    ]
    live_cells = db.session.scalars(sa.select(Tenant.id).where(Tenant.status != TenantStatus.OFFBOARDED)).all()
    used: set[int] = set()
    for table, column in referring:
        query = sa.select(column).where(column.in_(account_ids))
        if "tenant_id" not in table.c:
            used.update(db.session.scalars(query))
            continue
        for cell in live_cells:  # seats and sessions in other cells: row-level security shows one cell at a time
            with tenant_context(cell):
                used.update(db.session.scalars(query.where(table.c.tenant_id == cell)))
    lone = sorted(account_ids - used)
    for account_id in lone:
        db.session.delete(db.session.get(Account, account_id))
    db.session.flush()
    return len(lone)


def step_shred(run: Offboarding, tenant: Tenant) -> dict[str, Any]:
    export = db.session.scalar(sa.select(TenantExport).where(TenantExport.offboarding_id == run.id))
    if export is None:  # never shred what was not handed over
        raise LookupError("the export step has not produced an export")
    federation = _withdraw_federation(tenant)
    keys = _destroy_keys(tenant.id)
    accounts = _former_accounts(tenant.id)
    # Marked first: it ends every job and sign-in, and lets the audit trail be removed.
    tenant.status = TenantStatus.OFFBOARDED
    db.session.flush()
    removed = _delete_rows(tenant.id)
    lone = _remove_lone_accounts(accounts)
    counts = {"keys_destroyed": keys, "rows_removed": sum(removed.values()), "accounts_removed": lone,
              **federation, "tables": removed}
    record_event(tenant, "tenant.shredded", run.requested_by, plain_counts(counts))
    return counts
