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

from flask import Blueprint, g, request

from livc.admin.access import actor, load_operator, outbox_enabled
from livc.admin.operators.models import ROLE_LABELS
from livc.admin.operators.operations import record_action
from livc.platform.web import after_refusal, csrf_refused

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


@csrf_refused.connect_via("admin")
def _record_csrf_refusal(_blueprint: str, *, endpoint: str | None) -> None:
    """The console's own trail keeps every refused form, as a cell's trail does."""
    record_action("access.csrf_refused", actor="anonymous", details={"endpoint": endpoint})


@blueprint.before_request
def _signed_in_operator() -> None:
    load_operator()


@blueprint.context_processor
def _console_context() -> dict:
    return {"operator_role_label": lambda role: ROLE_LABELS.get(role, role), "outbox_enabled": outbox_enabled()}


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
