"""The federation's enrolment budgets on the console: per cell, counts only (held enrolments,
the weekly budget, enrolments charged this week), and the release of a cell's held enrolments.

No probing (``federation/THREAT_MODEL.md``): a cell that enters more cases in the federation
than its weekly budget has the rest held; an operator who sees the counts (a cell that joins a
link with many open cases, or a burst that looks like guessing) releases them or leaves them
held. Never a case, a code or a reference: the numbers are all the decision needs. The release
is in the operator trail and in the cell's own trail.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l

from livc.admin.access import actor, operator_guard
from livc.admin.operators.operations import record_action
from livc.admin.web import blueprint
from livc.federation import enrolment
from livc.platform.db import db
from livc.platform.policy import OperatorAction
from livc.platform.tenancy import Tenant


def budget_rows() -> list[dict]:
    """Every cell with its budget counts, the cells with held enrolments first."""
    tenants = db.session.scalars(sa.select(Tenant).order_by(Tenant.name)).all()
    rows = [
        {"slug": tenant.slug, "name": tenant.name, "held": enrolment.held_count(tenant.id),
         "used": enrolment.used_this_week(tenant.id), "budget": enrolment.budget_per_week()}
        for tenant in tenants
    ]
    return sorted(rows, key=lambda row: (row["held"] == 0, row["name"].casefold()))


@blueprint.get("/federation/budgets")
@operator_guard(OperatorAction.FEDERATION_BUDGETS_VIEW)
def federation_budgets():
    return render_template("admin/federation_budgets.html", rows=budget_rows())


@blueprint.post("/federation/budgets/<slug>/release")
@operator_guard(OperatorAction.FEDERATION_RELEASE)
def release_enrolments(slug: str):
    tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        abort(404)
    who = actor()
    released = enrolment.release_held(tenant.id, g.operator.id)
    if not released:
        flash(_l("%(cell)s has no held enrolments.", cell=tenant.name), "info")
        return redirect(url_for("admin.federation_budgets"))
    record_action("federation.enrolments_released", actor=who, tenant=tenant, details={"count": released})
    flash(_l("%(count)d held enrolment(s) of %(cell)s released.", count=released, cell=tenant.name), "info")
    return redirect(url_for("admin.federation_budgets"))
