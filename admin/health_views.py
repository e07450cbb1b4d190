"""The console's health page, the operator accounts page and the operator audit trail page."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import NotFound

from livc.admin import operators
from livc.admin.access import actor, operator_guard
from livc.admin.health import platform_health
from livc.admin.operators import Operator, OperatorProblem, OperatorRole
from livc.admin.web import blueprint
from livc.platform.db import db
from livc.platform.policy import OperatorAction
from livc.tenants.forms import REQUIRED, email_field, form_values, render_form


@blueprint.get("/health")
@operator_guard(OperatorAction.HEALTH_VIEW)
def health():
    return render_template("admin/health.html", health=platform_health())


@blueprint.post("/jobs/retry")
@operator_guard(OperatorAction.JOBS_RETRY)
def retry_jobs():
    """Put failed jobs back on their queue: the ones ticked, or all of them."""
    from livc.platform.failed_jobs import retry_failed

    if request.form.get("all") == "yes":
        wanted = None
    else:
        wanted = set(request.form.getlist("job_id"))
        if not wanted:
            flash(_l("Tick the jobs to retry."), "warning")
            return redirect(url_for("admin.health"))
    retried = retry_failed(wanted)
    operators.record_action("jobs.retried", actor=actor(), details={"jobs": sorted(retried)})
    flash(_l("%(count)d job(s) put back on their queue.", count=len(retried)), "info")
    return redirect(url_for("admin.health"))


# --- operator accounts ----------------------------------------------------------------------


class NewOperatorSchema(Schema):
    email = email_field()
    role = fields.Enum(OperatorRole, by_value=True, required=True, error_messages=REQUIRED)
    display_name = fields.String(load_default="", validate=validate.Length(max=120))


def _operators_page(status: int = 200, errors: dict | None = None, link: str | None = None):
    roles = [(role.value, operators.ROLE_LABELS[role]) for role in OperatorRole]
    return render_form("admin/operators.html", status, errors, operators=operators.operator_list(), roles=roles, link=link)


@blueprint.route("/operators", methods=["GET", "POST"], endpoint="operators")
@operator_guard(OperatorAction.OPERATORS_MANAGE)
def operators_page():
    if request.method == "GET":
        return _operators_page()
    values, errors = form_values(NewOperatorSchema())
    if errors:
        return _operators_page(422, errors)
    try:
        _operator, link = operators.create_operator(values["email"], values["role"], actor=actor(),
                                                    display_name=values["display_name"])
    except OperatorProblem as problem:
        return _operators_page(422, {"email": [str(problem)]})
    return _operators_page(link=link)


def load_operator_account(operator_id: int) -> Operator:
    found = db.session.get(Operator, operator_id)
    if found is None:
        raise NotFound()
    return found


@blueprint.post("/operators/<int:operator_id>/disable")
@operator_guard(OperatorAction.OPERATORS_MANAGE, load=load_operator_account)
def disable_operator(operator_id: int):
    try:
        operators.disable_operator(g.resource, actor=actor())
    except OperatorProblem as problem:
        return _operators_page(422, {"form": [str(problem)]})
    flash(_l("The operator account is disabled; its sessions ended."), "info")
    return redirect(url_for("admin.operators"))


# --- the operator audit trail ---------------------------------------------------------------


@blueprint.get("/actions")
@operator_guard(OperatorAction.ACCOUNT)
def actions():
    return render_template("admin/actions.html", entries=operators.recent_actions(200),
                           problems=operators.verify_operator_trail())
