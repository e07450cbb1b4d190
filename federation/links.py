"""Reading the links between cells (live, active, with whom), the coordinator check and the
cross-cell audit every federation step uses: the bottom of the federation's modules, so that
alerts, matching, enrolment and the link operations can all import it."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.federation.models import (
    EnrolmentStatus,
    FederationEnrolment,
    FederationLink,
    FederationToken,
)
from livc.platform import audit
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow

NOT_COORDINATOR = _l("Only a coordinator of the cell can do this.")


class FederationError(ValidationError):
    """A federation step that is not allowed (the message says why, never a value)."""

    def __init__(self, message) -> None:
        super().__init__({"_schema": [str(message)]})


def check_coordinator(actor, tenant_id: int) -> None:
    if actor is None or actor.tenant_id != tenant_id or actor.role != Role.COORDINATOR or not actor.usable:
        raise FederationError(NOT_COORDINATOR)
    if current_tenant_id() != tenant_id:
        raise FederationError(NOT_COORDINATOR)


def audit_in(tenant_id: int, action: str, *, subject: str | None = None, details: dict | None = None) -> None:
    """An entry in ``tenant_id``'s trail (ids and refs only)."""
    with tenant_context(tenant_id):
        audit.record(action, subject=subject, details=details)


# --- links ------------------------------------------------------------------------------------


def link_pair(first: int, second: int) -> tuple[int, int]:
    return (first, second) if first < second else (second, first)


def live_link(tenant_id: int, other_tenant_id: int) -> FederationLink | None:
    low, high = link_pair(tenant_id, other_tenant_id)
    return db.session.scalar(
        sa.select(FederationLink).where(
            FederationLink.cell_a_id == low, FederationLink.cell_b_id == high, FederationLink.ended_at.is_(None)
        )
    )


def active_links_query(tenant_id: int) -> sa.Select:
    return sa.select(FederationLink).where(
        FederationLink.ended_at.is_(None),
        FederationLink.a_agreed_at.is_not(None),
        FederationLink.b_agreed_at.is_not(None),
        sa.or_(FederationLink.cell_a_id == tenant_id, FederationLink.cell_b_id == tenant_id),
    )


def linked_cells(tenant_id: int) -> dict[int, int]:
    """The cells actively linked to ``tenant_id``: other cell id -> link id."""
    return {link.other(tenant_id): link.id for link in db.session.scalars(active_links_query(tenant_id))}


def links_of(tenant_id: int) -> list[FederationLink]:
    """Every live link of the cell, agreed or waiting (for pages)."""
    return list(db.session.scalars(
        sa.select(FederationLink).where(
            FederationLink.ended_at.is_(None),
            sa.or_(FederationLink.cell_a_id == tenant_id, FederationLink.cell_b_id == tenant_id),
        ).order_by(FederationLink.id)
    ))


def unenrol_cell(tenant_id: int) -> None:
    """Every enrolment of a cell out of the index (platform-level: no tenant data needed)."""
    ids = sa.select(FederationEnrolment.id).where(FederationEnrolment.tenant_id == tenant_id)
    db.session.execute(sa.delete(FederationToken).where(FederationToken.enrolment_id.in_(ids)))
    db.session.execute(
        sa.update(FederationEnrolment)
        .where(FederationEnrolment.tenant_id == tenant_id, FederationEnrolment.status != EnrolmentStatus.REMOVED)
        .values(status=EnrolmentStatus.REMOVED, updated_at=utcnow())
    )
