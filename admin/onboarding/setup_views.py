"""The set-up wizard a new cell's coordinator finds after accepting the operator's invitation.

Each step links to the page where it is done, and is done when the data says so (the form of
the cell chosen, a table with a chair, members invited, house rules published): the wizard
stores nothing but the moment the coordinator finishes it. The operator sees the same steps,
as done or not with dates, never their content (:func:`livc.admin.onboarding.operations.progress`).

The invitation mail promises the wizard: a coordinator who takes up an invitation while the cell's
set-up is unfinished lands here (:data:`livc.tenants.members.sign_in_views.FIRST_LANDINGS`).
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l

from livc.admin.onboarding.models import TenantSetup
from livc.admin.onboarding.operations import STEP_LABELS, SetupIncomplete, finish_setup, setup_steps
from livc.platform.db import db
from livc.platform.policy import Action
from livc.platform.roles import Role
from livc.tenants.access import guard
from livc.tenants.cell.operations import composition_problems, legal_minimum_problems
from livc.tenants.house_rules.gate import case_work_obstacles
from livc.tenants.members.models import Membership
from livc.tenants.members.sign_in_views import FIRST_LANDINGS
from livc.tenants.web import blueprint

STEP_PAGES = {
    "cell_form": ("tenant.cell_profile_edit", _l("Choose the form of the cell and its appointed official.")),
    "tables": ("tenant.cell_table_new", _l("Create the tables of the cell and give each a chair.")),
    "members": ("tenant.member_invite", _l("Invite the members of the cell: partners, the information officer, the secretary...")),
    "house_rules": ("tenant.house_rules", _l("Write and publish the house rules: every member accepts them before reaching a case.")),
}


def wizard_first(membership: Membership) -> str | None:
    """The wizard, for a coordinator of a cell onboarded by the console and not set up yet."""
    if membership.role != Role.COORDINATOR:
        return None
    setup = db.session.get(TenantSetup, membership.tenant_id)
    return url_for("tenant.setup") if setup is not None and setup.finished_at is None else None


FIRST_LANDINGS.append(wizard_first)


def _page(status: int = 200):
    setup = db.session.get(TenantSetup, g.tenant.id)
    steps = setup_steps()
    return render_template(
        "tenants/setup.html", steps=steps, pages=STEP_PAGES, labels=STEP_LABELS,
        composition=composition_problems(), missing=legal_minimum_problems(), obstacles=case_work_obstacles(),
        finished_at=setup.finished_at if setup is not None else None, all_done=all(step.done for step in steps),
    ), status


@blueprint.get("/setup")
@guard(Action.SETUP_MANAGE)
def setup():
    return _page()


@blueprint.post("/setup/finish")
@guard(Action.SETUP_MANAGE)
def setup_finish():
    try:
        finish_setup(g.tenant)
    except SetupIncomplete as incomplete:
        missing = ", ".join(str(STEP_LABELS[key]) for key in incomplete.missing)
        flash(_l("Some steps are not done yet: %(steps)s.", steps=missing), "warning")
        return _page(422)
    flash(_l("The set-up of the cell is finished."), "info")
    return redirect(url_for("tenant.setup"))
