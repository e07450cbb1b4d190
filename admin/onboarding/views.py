"""The console's tenant pages: the list, a tenant's page with its onboarding progress, onboarding.

A tenant's page shows directory data (name, address, kind, municipalities, status), its
onboarding steps as done or not with dates, and what operators did on it: never anything a
cell wrote. The lifecycle's actions appear in the page's ``admin/_lifecycle.html`` block.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from jinja2 import TemplateNotFound
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from livc.admin.access import actor, operator_guard
from livc.admin.onboarding import operations as onboarding
from livc.admin.onboarding.operations import STEP_LABELS, progress, resend_invitation, tenant_list
from livc.admin.operators.models import OperatorAuditEntry
from livc.admin.web import blueprint
from livc.platform import registry
from livc.platform.db import db
from livc.platform.forms import field_messages
from livc.platform.policy import OperatorAction, decide
from livc.platform.settings import LANGUAGES
from livc.platform.tenancy import Tenant, TenantKind, find_tenant
from livc.tenants.web import KIND_LABELS

LANGUAGE_LABELS = {"nl": _l("Dutch"), "fr": _l("French"), "de": _l("German"), "en": _l("English")}
STATUS_LABELS = {"active": _l("Active"), "suspended": _l("Suspended"), "offboarded": _l("Offboarded")}
SECRET_FIELDS = {"sso_client_secret", "csrf_token"}


def load_tenant(slug: str) -> Tenant:
    tenant = find_tenant(slug)
    if tenant is None:
        raise NotFound(_l("There is no cell at this address."))
    return tenant


@blueprint.context_processor
def _tenant_labels() -> dict:
    return {
        "kind_label": lambda kind: KIND_LABELS[TenantKind(kind)],
        "status_label": lambda status: STATUS_LABELS.get(str(status), status),
        "step_label": lambda key: STEP_LABELS.get(key, key),
        "language_label": lambda code: LANGUAGE_LABELS.get(code, code),
    }


@blueprint.get("/tenants")
@operator_guard(OperatorAction.TENANTS_VIEW)
def tenants():
    rows = [(tenant, progress(tenant)) for tenant in tenant_list()]
    return render_template("admin/tenants.html", rows=rows,
                           may_onboard=decide(g.operator_person, OperatorAction.ONBOARDING_MANAGE))


@blueprint.get("/tenants/<slug>")
@operator_guard(OperatorAction.TENANTS_VIEW, load=load_tenant)
def tenant(slug: str):
    return _tenant_page(g.resource)


def _tenant_page(tenant: Tenant, status: int = 200, errors: dict | None = None):
    actions = db.session.scalars(
        sa.select(OperatorAuditEntry).where(OperatorAuditEntry.tenant_slug == tenant.slug)
        .order_by(OperatorAuditEntry.seq.desc()).limit(50)
    ).all()
    try:
        lifecycle = render_template("admin/_lifecycle.html", tenant=tenant)
    except TemplateNotFound:
        lifecycle = ""
    return render_template(
        "admin/tenant.html", tenant=tenant, steps=progress(tenant), actions=actions, lifecycle=lifecycle,
        errors=errors or {}, may_onboard=decide(g.operator_person, OperatorAction.ONBOARDING_MANAGE),
    ), status


def _form_data() -> dict:
    """The posted form as the onboarding schema reads it (lists for the multiple choices)."""
    form = request.form
    data = {name: form[name].strip() if name not in SECRET_FIELDS else form[name]
            for name in form if name not in ("nis_codes", "languages", "csrf_token") and form[name].strip() != ""}
    data["nis_codes"] = [code for code in form.getlist("nis_codes") if code.strip()]
    data["languages"] = form.getlist("languages")
    data["confirm_overlap"] = form.get("confirm_overlap") == "yes"
    if not data["languages"]:
        data.pop("languages")
    return data


def _onboarding_form(status: int = 200, errors: dict | None = None):
    typed = {name: value for name, value in request.form.items() if name not in SECRET_FIELDS}
    return render_template(
        "admin/onboard.html",
        errors=errors or {},
        typed=typed,
        chosen_codes=set(request.form.getlist("nis_codes")),
        chosen_languages=set(request.form.getlist("languages")) if request.method == "POST" else {"nl"},
        municipalities=registry.municipalities(),
        zones=[(zone.code, f"{zone.code} {zone.name}") for zone in registry.police_zones()],
        kinds=[(kind.value, KIND_LABELS[kind]) for kind in TenantKind],
        languages=[(code, LANGUAGE_LABELS[code]) for code in LANGUAGES],
    ), status


@blueprint.route("/onboard", methods=["GET", "POST"])
@operator_guard(OperatorAction.ONBOARDING_MANAGE)
def onboard():
    if request.method == "GET":
        return _onboarding_form()
    try:
        done = onboarding.onboard(_form_data(), actor=actor())
    except ValidationError as error:
        return _onboarding_form(422, field_messages(error))
    flash(_l("The cell %(cell)s is on the platform. Its first coordinator was invited at %(email)s.",
             cell=done.tenant.name, email=done.coordinator_email), "info")
    return redirect(url_for("admin.tenant", slug=done.tenant.slug))


@blueprint.post("/tenants/<slug>/invitation")
@operator_guard(OperatorAction.ONBOARDING_MANAGE, load=load_tenant)
def resend(slug: str):
    try:
        email = resend_invitation(g.resource, actor=actor(), language=request.form.get("language") or None)
    except ValidationError as error:
        return _tenant_page(g.resource, 422, field_messages(error))
    flash(_l("A new invitation went to %(email)s; the earlier link no longer works.", email=email), "info")
    return redirect(url_for("admin.tenant", slug=slug))
