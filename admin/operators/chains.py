"""Checking the hash chains of the audit trails from the console, and their last known state.

A cell's trail is checked every night (``livc.platform.audit.verify_tenant_chain``, recorded in
the cell's trail as ``audit.chain_verified``); an operator may check it now
(:func:`check_tenant_chain`), and the operator trail too (:func:`check_operator_trail`). A check
walks the chain with the existing verification and records its outcome (intact or where it
breaks, and how many entries it walked) in the operator trail, and for a cell in the cell's
trail too: the state the console shows is the last recorded one, with its time. Never any
content: numbers, and where the chain breaks ("entry 12 was changed").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from livc.admin.operators.models import OperatorAuditEntry
from livc.admin.operators.operations import record_action, verify_operator_trail
from livc.platform.audit import AuditEntry, verify_chain
from livc.platform.db import db, tenant_context
from livc.platform.tenancy import Tenant, TenantStatus

#: Recorded outcomes of a cell's check: the nightly job's and an operator's.
TENANT_CHECKS = ("audit.chain_verified", "operator.audit.chain_checked")
PROBLEMS_KEPT = 10  # a broken chain names where; the first breaks are enough to act


class NothingToCheck(ValueError):
    """An offboarded cell has no trail left on the platform."""


@dataclass(frozen=True)
class ChainState:
    """The last recorded check of a chain; all None when it was never checked."""

    verified_at: datetime | None
    intact: bool | None
    entries: int | None
    problems: list[str] = field(default_factory=list)
    by: str | None = None  # the actor who checked: ``system`` for the nightly job


NOT_CHECKED = ChainState(None, None, None)


def _state(row) -> ChainState:
    if row is None:
        return NOT_CHECKED
    details = row.details or {}
    return ChainState(row.at, bool(details.get("intact")), details.get("entries"), list(details.get("problems") or []),
                      row.actor)


def tenant_chain_state(tenant: Tenant) -> ChainState:
    """The last recorded check of ``tenant``'s trail, read inside the tenant."""
    with tenant_context(tenant.id):
        row = db.session.execute(
            sa.select(AuditEntry.at, AuditEntry.details, AuditEntry.actor)
            .where(AuditEntry.action.in_(TENANT_CHECKS)).order_by(AuditEntry.seq.desc()).limit(1)
        ).first()
    return _state(row)


def check_tenant_chain(tenant: Tenant, *, actor: str) -> ChainState:
    """Walk ``tenant``'s chain now and record the outcome (both trails); returns it."""
    if tenant.status == TenantStatus.OFFBOARDED:
        raise NothingToCheck(tenant.slug)
    with tenant_context(tenant.id):
        report = verify_chain()
    details = {"entries": report.entries, "intact": report.intact, "problems": report.problems[:PROBLEMS_KEPT]}
    entry = record_action("audit.chain_checked", actor=actor, tenant=tenant, subject=f"tenant:{tenant.slug}",
                          details=details)
    return ChainState(entry.at, report.intact, report.entries, details["problems"], actor)


def operator_trail_state() -> ChainState:
    """The last recorded check of the operator trail."""
    row = db.session.execute(
        sa.select(OperatorAuditEntry.at, OperatorAuditEntry.details, OperatorAuditEntry.actor)
        .where(OperatorAuditEntry.action == "operator_trail.checked")
        .order_by(OperatorAuditEntry.seq.desc()).limit(1)
    ).first()
    return _state(row)


def check_operator_trail(*, actor: str) -> ChainState:
    """Walk the operator trail's chain now and record the outcome in it; returns it."""
    problems = verify_operator_trail()
    entries = db.session.scalar(sa.select(sa.func.count()).select_from(OperatorAuditEntry)) or 0
    details = {"entries": entries, "intact": not problems, "problems": problems[:PROBLEMS_KEPT]}
    entry = record_action("operator_trail.checked", actor=actor, details=details)
    return ChainState(entry.at, not problems, entries, details["problems"], actor)
