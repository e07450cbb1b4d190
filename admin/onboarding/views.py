"""The console's tenant pages: the list, a tenant's page with its onboarding progress, onboarding.

A tenant's page shows directory data (name, address, kind, municipalities, status), its
onboarding steps as done or not with dates, the last check of its audit trail (with a button to
check it now), and what operators did on it, in words: never anything a cell wrote. The
lifecycle's actions appear in the page's ``admin/_lifecycle.html`` block.

The onboarding form finds municipalities by a search field (a submit button of the same form,
so that everything typed stays), not a list of 565 to scroll (``municipalities.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from jinja2 import TemplateNotFound
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from livc.admin.access import actor, operator_guard
from livc.admin.onboarding import municipalities as finding
from livc.admin.onboarding import operations as onboarding
from livc.admin.onboarding.operations import (
    STEP_LABELS,
    TenantFilters,
    invitations_sent,
    progress,
    resend_invitation,
    rules_to_fix,
    tenant_page,
)
from livc.admin.operators import chains, trail
from livc.admin.operators.models import OperatorAuditEntry
from livc.admin.web import blueprint
from livc.platform import registry
from livc.platform.db import db
from livc.platform.forms import field_messages
from livc.platform.paging import page_args
from livc.platform.policy import OperatorAction, decide
from livc.platform.settings import LANGUAGES
from livc.platform.tenancy import Tenant, TenantKind, TenantStatus, find_tenant
from livc.tenants.web import KIND_LABELS

LANGUAGE_LABELS = {"nl": _l("Dutch"), "fr": _l("French"), "de": _l("German"), "en": _l("English")}
STATUS_LABELS = {"active": _l("Active"), "suspended": _l("Suspended"), "offboarded": _l("Offboarded")}
SECRET_FIELDS = {"sso_client_secret", "csrf_token"}
#: Fields of the onboarding form that only steer the form itself (the municipality search).
FORM_ONLY_FIELDS = {"municipality_search", "find", "known_codes"}


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
    """The cells a page at a time (``?status=``, ``?kind=``, ``?q=`` in the query), each with its
    onboarding steps done and the platform's own facts: when it was onboarded and its
    coordinator last invited."""
    filters = TenantFilters.from_args(request.args)
    page = tenant_page(page_args(request.args), filters)
    invited = invitations_sent(page.items)
    rows = [(tenant, invited.get(tenant.slug), progress(tenant)) for tenant in page.items]
    return render_template("admin/tenants.html", rows=rows, page=page, filters=filters,
                           statuses=[(status.value, STATUS_LABELS[status.value]) for status in TenantStatus],
                           kinds=[(kind.value, KIND_LABELS[kind]) for kind in TenantKind],
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
    live = tenant.status != TenantStatus.OFFBOARDED
    return render_template(
        "admin/tenant.html", tenant=tenant, steps=progress(tenant), rules=rules_to_fix(tenant), actions=trail.readable(actions), lifecycle=lifecycle,
        chain=chains.tenant_chain_state(tenant) if live else None,
        may_check=live and bool(decide(g.operator_person, OperatorAction.HEALTH_VIEW)),
        errors=errors or {}, may_onboard=decide(g.operator_person, OperatorAction.ONBOARDING_MANAGE),
    ), status


@blueprint.post("/tenants/<slug>/audit-check")
@operator_guard(OperatorAction.HEALTH_VIEW, load=load_tenant)
def check_audit_chain(slug: str):
    """Check the cell's audit trail now: the outcome is recorded and shown, never any content."""
    tenant = g.resource
    try:
        state = chains.check_tenant_chain(tenant, actor=actor())
    except chains.NothingToCheck:
        flash(_l("An offboarded cell has no audit trail left on the platform."), "warning")
    else:
        if state.intact:
            flash(_l("The audit trail of %(cell)s is intact: %(entries)d entries checked.", cell=tenant.name,
                     entries=state.entries), "success")
        else:
            flash(_l("The audit trail of %(cell)s is broken: %(problems)s.", cell=tenant.name,
                     problems="; ".join(state.problems)), "error")
    if request.form.get("back") == "health":
        return redirect(url_for("admin.health", _anchor=f"chain-{slug}"))
    return redirect(url_for("admin.tenant", slug=slug, _anchor="audit-trail"))


def _form_data() -> dict:
    """The posted form as the onboarding schema reads it (lists for the multiple choices)."""
    form = request.form
    skipped = {"nis_codes", "languages", "csrf_token", *FORM_ONLY_FIELDS}
    data = {name: form[name].strip() if name not in SECRET_FIELDS else form[name]
            for name in form if name not in skipped and form[name].strip() != ""}
    data["nis_codes"] = [code for code in form.getlist("nis_codes") if code.strip()]
    data["languages"] = form.getlist("languages")
    data["confirm_overlap"] = form.get("confirm_overlap") == "yes"
    if not data["languages"]:
        data.pop("languages")
    return data


def _onboarding_form(status: int = 200, errors: dict | None = None):
    """The form with what was typed, the municipalities chosen, and those the search finds.

    A municipality of the German-speaking Community chosen since the form was last shown ticks
    German among the working languages (once: the operator may untick it again).
    """
    posted = request.method == "POST"
    typed = {name: value for name, value in request.values.items() if name not in SECRET_FIELDS}
    chosen = finding.chosen(request.form.getlist("nis_codes"))
    known = set(request.form.get("known_codes", "").split())
    languages = set(request.form.getlist("languages")) if posted else {"nl"}
    german = [m for m in chosen if finding.german_speaking(m) and m.nis_code not in known]
    if german and "de" not in languages:
        languages.add("de")
    query = request.values.get("municipality_search", "").strip()
    found, matched = finding.search(query)
    chosen_codes = [m.nis_code for m in chosen]
    return render_template(
        "admin/onboard.html",
        errors=errors or {},
        typed=typed,
        chosen=chosen,
        chosen_codes=chosen_codes,
        found=[m for m in found if m.nis_code not in chosen_codes],
        matched=matched,
        truncated=matched > len(found),
        query=query,
        german=german,
        german_speaking=finding.german_speaking,
        province_name=registry.province_name,
        chosen_languages=languages,
        zones=[(zone.code, f"{zone.code} {zone.name}") for zone in registry.police_zones()],
        kinds=[(kind.value, KIND_LABELS[kind]) for kind in TenantKind],
        languages=[(code, LANGUAGE_LABELS[code]) for code in LANGUAGES],
    ), status


@blueprint.route("/onboard", methods=["GET", "POST"])
@operator_guard(OperatorAction.ONBOARDING_MANAGE)
def onboard():
    if request.method == "GET" or request.form.get("find") == "yes":
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
