"""The link operations of the cells' coordinators: ask (:func:`request_link`), agree
(:func:`agree_link`, which enrols both cells' open cases) and end (:func:`end_link`, which
withdraws its open alerts), each audited in both cells. Above enrolment, which it starts."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from livc.federation.enrolment import enrol_cell
from livc.federation.links import (
    FederationError,
    audit_in,
    check_coordinator,
    link_pair,
    linked_cells,
    live_link,
    unenrol_cell,
)
from livc.federation.models import (
    AlertState,
    FederationLink,
    MatchAlert,
)
from livc.platform.db import db
from livc.platform.jobs import enqueue
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow

SAME_CELL = _l("A cell cannot be linked to itself.")
LINK_EXISTS = _l("These cells are already linked or a link is waiting for agreement.")
NO_LINK = _l("There is no such link.")


def request_link(tenant_id: int, other_tenant_id: int, actor) -> FederationLink:
    """The coordinator of ``tenant_id`` asks to be linked to ``other_tenant_id`` (agreed on
    this side already)."""

    check_coordinator(actor, tenant_id)
    other = db.session.get(Tenant, other_tenant_id)
    if other_tenant_id == tenant_id:
        raise FederationError(SAME_CELL)
    if other is None or other.status != TenantStatus.ACTIVE:
        raise FederationError(NO_LINK)
    if live_link(tenant_id, other_tenant_id) is not None:
        raise FederationError(LINK_EXISTS)
    low, high = link_pair(tenant_id, other_tenant_id)
    now = utcnow()
    link = FederationLink(cell_a_id=low, cell_b_id=high, requested_by_id=tenant_id, requested_at=now)
    if tenant_id == low:
        link.a_agreed_at = now
    else:
        link.b_agreed_at = now
    db.session.add(link)
    db.session.flush()
    details = {"link_id": link.id, "requested_by": tenant_id, "membership_id": actor.id}
    audit_in(tenant_id, "federation.link_requested", subject=f"cell:{other_tenant_id}", details=details)
    audit_in(other_tenant_id, "federation.link_requested", subject=f"cell:{tenant_id}", details=details)
    return link


def agree_link(tenant_id: int, other_tenant_id: int, actor) -> FederationLink:
    """The coordinator of ``tenant_id`` agrees to the link the other cell asked for; once both
    agreed, both cells' open cases are enrolled."""
    check_coordinator(actor, tenant_id)
    link = live_link(tenant_id, other_tenant_id)
    if link is None:
        raise FederationError(NO_LINK)
    if link.active:
        return link
    now = utcnow()
    if tenant_id == link.cell_a_id:
        link.a_agreed_at = link.a_agreed_at or now
    else:
        link.b_agreed_at = link.b_agreed_at or now
    db.session.flush()
    details = {"link_id": link.id, "membership_id": actor.id, "active": link.active}
    audit_in(tenant_id, "federation.link_agreed", subject=f"cell:{other_tenant_id}", details=details)
    audit_in(other_tenant_id, "federation.link_agreed", subject=f"cell:{tenant_id}", details=details)
    if link.active:
        for cell in (link.cell_a_id, link.cell_b_id):
            enqueue(enrol_cell, tenant_id=cell)
    return link


def end_link(tenant_id: int, other_tenant_id: int, actor) -> FederationLink:
    """Either side ends the link (or withdraws its request): its open alerts are withdrawn,
    and a cell left without any active link has its tokens taken out of the index."""
    check_coordinator(actor, tenant_id)
    link = live_link(tenant_id, other_tenant_id)
    if link is None:
        raise FederationError(NO_LINK)
    now = utcnow()
    link.ended_at, link.ended_by_id = now, tenant_id
    withdrawn = db.session.execute(
        sa.update(MatchAlert)
        .where(MatchAlert.link_id == link.id, MatchAlert.state == AlertState.OPEN)
        .values(state=AlertState.WITHDRAWN, withdrawn_at=now, updated_at=now)
    ).rowcount
    db.session.flush()
    for cell in (link.cell_a_id, link.cell_b_id):
        if not linked_cells(cell):
            unenrol_cell(cell)
    details = {"link_id": link.id, "membership_id": actor.id, "alerts_withdrawn": withdrawn}
    audit_in(tenant_id, "federation.link_ended", subject=f"cell:{other_tenant_id}", details=details)
    audit_in(other_tenant_id, "federation.link_ended", subject=f"cell:{tenant_id}", details=details)
    return link
