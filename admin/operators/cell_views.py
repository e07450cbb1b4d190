"""What the platform operator did in the cell: the coordinator's view of the operator's actions.

Every operator action on a tenant is also written into the tenant's own audit trail with actor
``operator:<id>`` (:func:`livc.admin.operators.operations.record_action`); this page lists those entries:
when, which operator, what. Details stay out: they are ids and flags, and nothing secret.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template

from livc.admin.operators.models import ACTION_LABELS, Operator
from livc.platform.audit import AuditEntry
from livc.platform.db import db
from livc.platform.policy import Action
from livc.tenants.access import guard
from livc.tenants.web import blueprint


def _operator_id(actor: str) -> int | None:
    _kind, _, value = actor.partition(":")
    return int(value) if value.isdigit() else None


@blueprint.get("/operator-actions")
@guard(Action.OPERATOR_ACTIONS_VIEW)
def operator_actions():
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.actor.like("operator:%")).order_by(AuditEntry.seq.desc()).limit(500)
    ).all()
    ids = {found for found in map(_operator_id, (entry.actor for entry in entries)) if found is not None}
    names = {op.id: op.label for op in db.session.scalars(sa.select(Operator).where(Operator.id.in_(ids)))} if ids else {}
    rows = [(entry, names.get(_operator_id(entry.actor), entry.actor), ACTION_LABELS.get(entry.action.removeprefix("operator.")))
            for entry in entries]
    return render_template("tenants/operator_actions.html", rows=rows)
