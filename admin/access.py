"""The door of every console page: the signed-in operator, and whether the policy lets them through.

Every view on the ``admin`` blueprint declares :func:`operator_guard` (an
:class:`~livc.platform.policy.OperatorAction`) or :func:`~livc.platform.policy.public`. A cell
member's session counts for nothing here: only an operator session opens the console, and an
operator session opens no cell. Refusals are written to the operator audit trail after the
request's own work is rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import Forbidden, NotFound

from livc.admin.operators import operations as operators
from livc.platform.policy import Access, OperatorAction, OperatorPerson, decide
from livc.platform.web import after_refusal, local_target, wants_json
from livc.tenants.access import json_error

SESSION_ENDED = _l("Your session has ended. Please sign in again.")


def load_operator() -> None:
    """Before every console request: the signed-in operator, if any."""
    g.operator = g.operator_person = g.operator_session = None
    found = operators.current_session()
    if found.ended:
        flash(SESSION_ENDED, "warning")
    if found.row is None:
        return
    g.operator_session, g.operator = found.row, found.operator
    g.operator_person = OperatorPerson(operator_id=found.operator.id, role=found.operator.role)
    g.audit_actor = actor()


def actor() -> str:
    """The audit actor of the current request: ``operator:<id>``."""
    return f"operator:{g.operator.id}" if g.get("operator") is not None else "anonymous"


def operator_guard(action: OperatorAction, *, load: Callable[..., object] | None = None):
    """Let the view run only when the policy allows ``action`` for the signed-in operator.

    ``load`` receives the view's URL values and returns the resource or raises NotFound.
    """

    def wrap(view):
        @wraps(view)
        def guarded(**values):
            if g.get("operator_person") is None:
                return sign_in_required()
            g.resource = load(**values) if load is not None else None
            decision = decide(g.operator_person, action, g.resource)
            if not decision:
                refuse(action, decision.reason)
            return view(**values)

        guarded.access = Access(action, load)
        return guarded

    return wrap


def outbox_enabled() -> bool:
    """The development outbox page: only where ``LIVC_ENV=development`` is set explicitly (an unset
    ``LIVC_ENV`` is not enough), or in a test that enables it; never in production. Who may read
    it is the policy's (administrators only: it shows invitation and reset links)."""
    settings = current_app.extensions["livc.settings"]
    if settings.production:
        return False
    return settings.explicit_development or (settings.env == "test" and bool(current_app.config.get("LIVC_OUTBOX_PAGE")))


def development_only(view):
    """404 where :func:`outbox_enabled` says no. Put it outside :func:`operator_guard`, so that
    where it is off nobody learns the page exists."""

    @wraps(view)
    def only_in_development(**values):
        if not outbox_enabled():
            raise NotFound()
        return view(**values)

    return only_in_development


def refuse(action: OperatorAction | str, reason: str):
    """Record the refusal in the operator trail and answer 403."""
    who, endpoint = actor(), request.endpoint
    after_refusal(
        lambda: operators.record_action("access.denied", actor=who, details={"action": str(action), "reason": reason, "endpoint": endpoint})
    )
    raise Forbidden()


def sign_in_required():
    if wants_json():
        return json_error(401, _l("Sign in first."), code="sign_in_required")
    return redirect(url_for("admin.sign_in", next=request.full_path.rstrip("?")))


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path of the console, else ``default``: no open redirects."""
    return local_target(target, default, "/admin/")
