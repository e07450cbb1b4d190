"""What the platform operator did in the cell: the coordinator's view of the operator's actions.

Every operator action on a tenant is also written into the tenant's own audit trail with actor
``operator:<id>`` (:func:`livc.admin.operators.operations.record_action`); this page lists those entries
in words (:mod:`livc.admin.operators.trail`): when, which operator and their role, what.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, request

from livc.admin.operators import trail
from livc.platform.audit import AuditEntry
from livc.platform.paging import Key, keyset_page, page_args
from livc.platform.policy import Action
from livc.tenants.access import guard
from livc.tenants.web import blueprint


@blueprint.get("/operator-actions")
@guard(Action.OPERATOR_ACTIONS_VIEW)
def operator_actions():
    """Newest first, a page at a time, on the trail's sequence number (unique in the cell)."""
    query = sa.select(AuditEntry).where(AuditEntry.actor.like("operator:%"))
    page = keyset_page(query, (Key(AuditEntry.seq, descending=True),), page_args(request.args), scope="operator_actions")
    return render_template("tenants/operator_actions.html", lines=trail.readable(page.items), page=page)
