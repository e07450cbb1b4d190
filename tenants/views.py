"""Tenant pages under ``/<slug>/``: resolving the tenant is the first thing any of them does."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import Forbidden, NotFound

from livc.platform.db import enter_tenant
from livc.platform.policy import Action, decide, public
from livc.tenants.access import guard
from livc.tenants.models import SLUG_PATTERN, Tenant, TenantKind, TenantStatus
from livc.tenants.operations import find_tenant

blueprint = Blueprint("tenant", __name__, url_prefix="/<tenant_slug>", template_folder="templates")

KIND_LABELS = {
    TenantKind.MUNICIPALITY: _l("Municipal cell"),
    TenantKind.INTERMUNICIPAL: _l("Intermunicipal cell"),
    TenantKind.POLICE_ZONE: _l("Zonal cell of a police zone"),
}


def resolve_tenant(slug: str) -> Tenant:
    """The tenant at ``slug``, or a 404 (unknown, gone) or 403 (suspended) refusal."""
    tenant = find_tenant(slug) if SLUG_PATTERN.match(slug) else None
    if tenant is None:
        raise NotFound(_l("There is no cell at this address."))
    if tenant.status == TenantStatus.OFFBOARDED:
        raise NotFound(_l("This cell is no longer on the platform."))
    if tenant.status == TenantStatus.SUSPENDED:
        raise Forbidden(_l("Access to this cell is suspended. Contact your cell coordinator."))
    return tenant


@blueprint.url_value_preprocessor
def _enter_tenant(_endpoint, values) -> None:
    g.tenant = resolve_tenant(values.pop("tenant_slug"))
    g.tenant_token = enter_tenant(g.tenant.id)


@blueprint.url_defaults
def _tenant_slug(_endpoint, values) -> None:
    if "tenant_slug" not in values and getattr(g, "tenant", None) is not None:
        values["tenant_slug"] = g.tenant.slug


@blueprint.before_request
def _signed_in_member() -> None:
    from livc.tenants.access import load_person

    load_person()


@blueprint.after_request
def _audit_refused_request(response):
    from livc.tenants.access import audit_refused_request

    return audit_refused_request(response)


@blueprint.context_processor
def _labels() -> dict:
    from livc.tenants.members import ORGANISATION_KIND_LABELS, ROLE_LABELS, standard_undertaking

    return {
        "standard_undertaking": standard_undertaking,
        "role_label": lambda role: ROLE_LABELS[role],
        "organisation_kind_label": lambda kind: ORGANISATION_KIND_LABELS[kind],
    }


@blueprint.get("/")
@public
def landing():
    return render_template("tenants/landing.html", tenant=g.tenant, kind_label=KIND_LABELS[g.tenant.kind])


@blueprint.get("/home")
@guard(Action.CELL_ENTER)
def home():
    """The cell's dashboard: what waits for the member, and the pages they may reach."""
    from livc.tenants.signal_views import dashboard_context

    links = [(action, endpoint, label) for action, endpoint, label in HOME_LINKS if decide(g.person, action)]
    return render_template(
        "tenants/home.html", tenant=g.tenant, membership=g.membership, links=links, kind_label=KIND_LABELS[g.tenant.kind],
        **dashboard_context(g.person),
    )


HOME_LINKS = (
    (Action.SETUP_MANAGE, "tenant.setup", _l("Set-up of the cell")),
    (Action.SIGNAL_SUBMIT, "tenant.signal_new", _l("Report a signal")),
    (Action.SIGNAL_SUBMIT, "tenant.signals", _l("Signals")),
    (Action.CELL_ENTER, "tenant.cases", _l("Cases")),
    (Action.POLICE_INFO_READ, "tenant.ltf_feedback_inbox", _l("Feedback forms for the Local Task Force")),
    (Action.PERSON_SEARCH, "tenant.person_search", _l("Is this person known to the cell?")),
    (Action.CASE_SETTINGS_MANAGE, "tenant.case_settings", _l("Case settings")),
    (Action.CASE_SETTINGS_MANAGE, "tenant.retention", _l("Retention and erasure")),
    (Action.FEDERATION_MANAGE, "tenant.federation", _l("Links with other cells")),
    (Action.CELL_STRUCTURE_VIEW, "tenant.cell_structure", _l("Organisation of the cell")),
    (Action.HOUSE_RULES_VIEW, "tenant.house_rules", _l("House rules")),
    (Action.MEMBERS_VIEW, "tenant.members", _l("Members of the cell")),
    (Action.ORGANISATIONS_MANAGE, "tenant.organisations", _l("Organisations at the table")),
    (Action.SSO_MANAGE, "tenant.sso_settings", _l("Single sign-on")),
    (Action.OPERATOR_ACTIONS_VIEW, "tenant.operator_actions", _l("Actions of the platform operator")),
    (Action.PROFILE_MANAGE, "tenant.profile", _l("Your profile and sign-in")),
)
