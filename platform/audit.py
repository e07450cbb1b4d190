"""The audit trail: append-only, per tenant, hash-chained.

Every entry commits to the one before it (``hash = sha256(canonical entry + prev_hash)``), and a
per-tenant head row holds the last sequence number and hash. Changing, removing or reordering
any entry, or cutting off the tail, breaks the chain, and :func:`verify_chain` (``livc audit
verify``) says where. On PostgreSQL the app role may only insert and read entries.

Later features call one function, :func:`record`, for every read of case content and every
change. Subjects are case codes or ids, never names: the trail must not become a list of
persons itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy.orm import Mapped, mapped_column

from livc.platform.db import Id, TenantContextRequired, TenantScoped, current_tenant_id, db
from livc.platform.jobs import task
from livc.platform.timeutil import utcnow

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64


class AuditEntry(TenantScoped, db.Model):
    """One line of a tenant's audit trail."""

    __tablename__ = "audit_entries"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "seq", name="uq_audit_entries_tenant_seq"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    at: Mapped[datetime] = mapped_column(sa.DateTime)
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(80))
    subject: Mapped[str | None] = mapped_column(sa.String(120))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    def computed_hash(self) -> str:
        payload = {
            "tenant_id": self.tenant_id,
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }
        return hashlib.sha256(canonical(payload).encode()).hexdigest()


class AuditHead(TenantScoped, db.Model):
    """The end of a tenant's chain; locked while appending, so entries never race."""

    __tablename__ = "audit_heads"

    tenant_id: Mapped[int] = mapped_column(
        Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    hash: Mapped[str] = mapped_column(sa.String(64), default=GENESIS_HASH)


@sa.event.listens_for(AuditEntry, "before_update")
@sa.event.listens_for(AuditEntry, "before_delete")
def _append_only(mapper, connection, target) -> None:
    raise PermissionError("audit entries are append-only")


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def current_actor() -> str:
    """Who is acting: set per request by the sign-in layer (``g.audit_actor``), else system."""
    if has_request_context():
        return getattr(g, "audit_actor", "anonymous")
    return "system"


def record(
    action: str,
    *,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
) -> AuditEntry:
    """Append an entry to the current tenant's trail, in the caller's transaction.

    ``action`` is a dotted verb (``case.read``, ``member.role_changed``); ``subject`` an
    identifier such as ``case:GNT-2026-007``; ``details`` a small JSON-able dict without
    personal data of the people discussed.
    """
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantContextRequired("audit entries belong to a tenant")
    head = db.session.execute(sa.select(AuditHead).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(seq=0, hash=GENESIS_HASH)
        db.session.add(head)
    entry = AuditEntry(
        tenant_id=tenant_id,
        seq=head.seq + 1,
        at=utcnow(),
        actor=actor or current_actor(),
        action=action,
        subject=subject,
        # Stored exactly as hashed: JSON round-trip first.
        details=json.loads(canonical(details or {})),
        prev_hash=head.hash,
    )
    entry.hash = entry.computed_hash()
    head.seq, head.hash = entry.seq, entry.hash
    db.session.add(entry)
    db.session.flush()  # written now, inside the tenant context it belongs to
    return entry


@dataclass
class ChainReport:
    """What :func:`verify_chain` found for one tenant."""

    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain() -> ChainReport:
    """Walk the current tenant's trail from the start and report every break."""
    report = ChainReport()
    expected_seq, expected_prev = 1, GENESIS_HASH
    rows = db.session.execute(
        sa.select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=500)
    ).scalars()
    for entry in rows:
        report.entries += 1
        if entry.seq != expected_seq:
            report.problems.append(
                f"entries {expected_seq} to {entry.seq - 1} are missing"
                if entry.seq > expected_seq
                else f"entry {entry.seq} appears out of order"
            )
        elif entry.prev_hash != expected_prev:
            report.problems.append(f"entry {entry.seq} does not follow entry {entry.seq - 1}")
        if entry.computed_hash() != entry.hash:
            report.problems.append(f"entry {entry.seq} was changed")
        expected_seq, expected_prev = entry.seq + 1, entry.hash
    head = db.session.execute(sa.select(AuditHead)).scalar_one_or_none()
    last_seq = expected_seq - 1
    if head is not None and (head.seq, head.hash) != (last_seq, expected_prev):
        if head.seq > last_seq:
            report.problems.append(f"entries {last_seq + 1} to {head.seq} are missing at the end")
        else:
            report.problems.append("the chain's end does not match its head")
    return report


@task(queue="maintenance")
def verify_tenant_chain() -> bool:
    """Periodic check of one tenant's chain; the outcome is itself recorded in the chain."""
    report = verify_chain()
    if not report.intact:
        log.error("audit chain broken for tenant %s: %s", current_tenant_id(), "; ".join(report.problems))
    record(
        "audit.chain_verified",
        actor="system",
        details={"entries": report.entries, "intact": report.intact},
    )
    return report.intact
