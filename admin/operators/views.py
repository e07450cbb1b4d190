"""The console's home, the operator accounts page and the operator trail (``/admin/actions``)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import NotFound

from livc.admin.access import actor, operator_guard
from livc.admin.operators import chains, trail
from livc.admin.operators import models as operator_models
from livc.admin.operators import operations as operators
from livc.admin.operators.models import Operator, OperatorAuditEntry, OperatorRole
from livc.admin.operators.operations import OperatorProblem
from livc.admin.web import blueprint
from livc.platform.db import db
from livc.platform.forms import (
    REQUIRED,
    email_field,
    form_values,
    render_form,
)
from livc.platform.paging import Key, keyset_page, page_args
from livc.platform.policy import OperatorAction, decide

HOME_LINKS = (
    (OperatorAction.TENANTS_VIEW, "admin.tenants", _l("Tenants and their onboarding")),
    (OperatorAction.ONBOARDING_MANAGE, "admin.onboard", _l("Onboard a municipality or police zone")),
    (OperatorAction.HEALTH_VIEW, "admin.health", _l("Platform health")),
    (OperatorAction.OPERATORS_MANAGE, "admin.operators", _l("Operator accounts")),
    (OperatorAction.ACCOUNT, "admin.actions", _l("Operator audit trail")),
)


@blueprint.get("/")
@operator_guard(OperatorAction.ACCOUNT)
def home():
    links = [(endpoint, label) for action, endpoint, label in HOME_LINKS if decide(g.operator_person, action)]
    return render_template("admin/home.html", links=links)


# --- operator accounts ----------------------------------------------------------------------


class NewOperatorSchema(Schema):
    email = email_field()
    role = fields.Enum(OperatorRole, by_value=True, required=True, error_messages=REQUIRED)
    display_name = fields.String(load_default="", validate=validate.Length(max=120))


#: The operator accounts by e-mail address (unique), a page at a time.
OPERATOR_ORDER = (Key(Operator.email), Key(Operator.id))


def _operators_page(status: int = 200, errors: dict | None = None, link: str | None = None):
    roles = [(role.value, operator_models.ROLE_LABELS[role]) for role in OperatorRole]
    page = keyset_page(sa.select(Operator), OPERATOR_ORDER, page_args(request.args), scope="console_operators")
    return render_form("admin/operators.html", status, errors, operators=page.items, page=page, roles=roles, link=link)


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

#: Newest first, on the trail's own (unique) sequence number.
TRAIL_ORDER = (Key(OperatorAuditEntry.seq, descending=True),)


@blueprint.get("/actions")
@operator_guard(OperatorAction.ACCOUNT)
def actions():
    """The operator trail in words, newest first, a page at a time; the last recorded check of its
    chain, and a live warning when the entries shown are broken."""
    page = keyset_page(sa.select(OperatorAuditEntry), TRAIL_ORDER, page_args(request.args), scope="operator_trail")
    return render_template("admin/actions.html", lines=trail.readable(page.items), page=page,
                           problems=operators.window_problems(page.items, newest=page.previous_cursor is None),
                           chain=chains.operator_trail_state(),
                           may_check=bool(decide(g.operator_person, OperatorAction.HEALTH_VIEW)))


@blueprint.post("/actions/check")
@operator_guard(OperatorAction.HEALTH_VIEW)
def check_operator_trail():
    state = chains.check_operator_trail(actor=actor())
    if state.intact:
        flash(_l("The operator trail is intact: %(entries)d entries checked.", entries=state.entries), "success")
    else:
        flash(_l("The operator trail is broken: %(problems)s.", problems="; ".join(state.problems)), "error")
    return redirect(url_for("admin.actions"))
