"""The operator console's blueprint: every operator page and the operator JSON API hang here.

Console modules (onboarding, lifecycle, health...) add their routes to ``blueprint`` and are
imported by ``livc.app.factory.create_app``. Nothing on this blueprint may return case,
signal, meeting or identity content (``tests/test_admin_privacy.py`` walks every route to
prove it).

For console modules (the lifecycle among them):

- guard every view with ``livc.admin.access.operator_guard(OperatorAction.X)`` (or
  ``livc.platform.policy.public``); ``g.operator`` is the signed-in
  :class:`~livc.admin.operators.models.Operator`, ``livc.admin.access.actor()`` its audit actor;
- record every action with ``livc.admin.operators.operations.record_action(action, actor=actor(),
  tenant=tenant, ...)``: it goes to the operator trail and to the tenant's own trail;
- pages extend ``admin/base.html`` and fill ``{% block console %}``; the tenant detail page
  (``admin/tenant.html``, ``/admin/tenants/<slug>``) includes ``admin/_lifecycle.html`` when
  that template exists, with ``tenant`` in its context.
"""

from __future__ import annotations

from flask import Blueprint, g, request, url_for
from flask_babel import lazy_gettext as _l

from livc.admin.access import actor, load_operator, outbox_enabled
from livc.admin.operators.models import ROLE_LABELS
from livc.admin.operators.operations import record_action
from livc.platform.policy import OperatorAction, decide
from livc.platform.web import after_refusal, csrf_refused

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


@csrf_refused.connect_via("admin")
def _record_csrf_refusal(_blueprint: str, *, endpoint: str | None) -> None:
    """The console's own trail keeps every refused form, as a cell's trail does."""
    record_action("access.csrf_refused", actor="anonymous", details={"endpoint": endpoint})


@blueprint.before_request
def _signed_in_operator() -> None:
    load_operator()


#: The console's main menu: (action needed, endpoint, label, endpoint prefixes that belong to it).
CONSOLE_MENU = (
    (OperatorAction.ACCOUNT, "admin.home", _l("Console"), ("admin.home",)),
    (OperatorAction.TENANTS_VIEW, "admin.tenants", _l("Tenants"), ("admin.tenant", "admin.onboard", "admin.lifecycle", "admin.export")),
    (OperatorAction.HEALTH_VIEW, "admin.health", _l("Platform health"), ("admin.health", "admin.job", "admin.outbox")),
    (OperatorAction.FEDERATION_BUDGETS_VIEW, "admin.federation_budgets", _l("Federation budgets"), ("admin.federation",)),
    (OperatorAction.POLICE_ZONES_VIEW, "admin.police_zones_page", _l("Police zones"), ("admin.police_zone",)),
    (OperatorAction.PLATFORM_FIGURES_VIEW, "admin.platform_figures", _l("Platform figures"), ("admin.platform_figures",)),
    (OperatorAction.OPERATORS_MANAGE, "admin.operators", _l("Operators"), ("admin.operators",)),
    (OperatorAction.ACCOUNT, "admin.actions", _l("Operator audit trail"), ("admin.actions", "admin.audit")),
)


def console_menu() -> list[dict]:
    """The console's service navigation for the signed-in operator, the current item marked."""
    endpoint = request.endpoint or ""
    return [
        {"href": url_for(target), "text": str(label), "current": endpoint == target,
         "active": any(endpoint.startswith(prefix) for prefix in prefixes)}
        for action, target, label, prefixes in CONSOLE_MENU if decide(g.operator_person, action)
    ]


@blueprint.context_processor
def _console_context() -> dict:
    shell = {"console_name": _l("Operator console"), "home_url": url_for("admin.home"), "home_label": _l("Console"),
             "home_endpoints": ("admin.home",)}
    if g.get("operator") is not None:
        shell.update(service_navigation=console_menu(), account_label=f"{g.operator.label} ({ROLE_LABELS.get(g.operator.role, g.operator.role)})",
                     account_url=url_for("admin.home"), sign_out_url=url_for("admin.sign_out"))
    else:
        shell.update(home_url=None)
    return {"operator_role_label": lambda role: ROLE_LABELS.get(role, role), "outbox_enabled": _outbox_shown(), **shell}


def _outbox_shown() -> bool:
    """The health page links the outbox only for whom it would open (administrators)."""
    person = g.get("operator_person")
    return outbox_enabled() and person is not None and decide(person, OperatorAction.OUTBOX_VIEW)


@blueprint.after_request
def _record_refused_request(response):
    """A console request refused for its input (fields in error, a spent link, too large) goes
    to the operator trail, unless the code that refused recorded it already: endpoint, status
    and the names of the fields at fault, never what was typed."""


    status = response.status_code
    if status in (400, 410, 413, 415, 422) and not g.get("after_refusal"):
        who, endpoint = actor(), request.endpoint
        fields = sorted(name for name in request.form if name != "csrf_token") if status == 422 else []
        after_refusal(lambda: record_action("request.refused", actor=who,
                                            details={"endpoint": endpoint, "status": status, "fields": fields}))
    return response
