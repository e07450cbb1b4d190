"""The door of every cell page: who is signed in, and whether the policy lets them through.

Every view of a cell is declared with :func:`guard` (an action of :mod:`livc.platform.policy`)
or :func:`public`. The authorisation matrix test walks the URL map and fails on any view that
declares neither. Refusals are audited, in a transaction of their own, after the request's
work has been rolled back.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import sqlalchemy as sa
from flask import current_app, flash, g, jsonify, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from limits import RateLimitItemPerMinute
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import Forbidden, NotFound, TooManyRequests

from livc.platform import audit, sessions
from livc.platform.address_limits import AddressLimiter
from livc.platform.db import db
from livc.platform.policy import CONTENT_ACTIONS, Access, Action, Person, decide, public  # noqa: F401
from livc.platform.web import ERROR_TEXTS, after_refusal, client_address, local_target, wants_json
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import has_accepted_current

SESSION_ENDED = _l("Your session has ended. Please sign in again.")
SIGN_IN_ATTEMPTS_PER_MINUTE = 30  # per client address, on every credential-checking endpoint


def guard(action: Action, *, load: Callable[..., object] | None = None):
    """Let the view run only when the policy allows ``action`` for the signed-in member.

    ``load`` receives the view's URL values and returns the resource or raises NotFound. It
    runs inside the cell, so another cell's ids look exactly like ids that do not exist.
    """

    def wrap(view):
        @wraps(view)
        def guarded(**values):
            if g.person is None:
                return sign_in_required()
            g.resource = load(**values) if load is not None else None
            decision = decide(g.person, action, g.resource)
            if not decision:
                refuse(action, decision.reason)
            if action in CONTENT_ACTIONS and not has_accepted_current(g.membership):
                if wants_json():
                    return json_error(403, _l("Accept the cell's secrecy undertaking first."), code="undertaking_required")
                return redirect(url_for("tenant.undertaking", next=_current_path()))
            return view(**values)

        guarded.access = Access(action, load)
        return guarded

    return wrap


AUDITED_REFUSALS = (400, 410, 413, 415, 422)


def audit_refused_request(response):
    """After any cell request refused for its input (bad or expired form, spent link, fields in
    error, too large), record it, unless the code that refused already did with more detail.

    Only the endpoint, the status and the names of the fields at fault are kept: never what was
    typed, which may be a password or a name.
    """
    status = response.status_code
    if status in AUDITED_REFUSALS and g.get("tenant") is not None and not g.get("after_refusal"):
        endpoint = request.endpoint
        # A 422 answer had its body read; never parse the body of a refused one (too large).
        fields = sorted(name for name in request.form if name != "csrf_token") if status == 422 else []
        after_refusal(lambda: audit.record("request.refused", details={"endpoint": endpoint, "status": status, "fields": fields}))
    return response


def audit_subject(resource) -> str:
    """How the audit trail names a guarded resource: ``<type>:<id>``, or what it says itself."""
    return getattr(resource, "audit_subject", None) or f"{type(resource).__name__.lower()}:{resource.id}"


def refuse(action: Action | str, reason: str):
    """Audit the refusal and answer 403."""
    subject = audit_subject(g.resource) if getattr(g, "resource", None) is not None else None
    endpoint = request.endpoint
    after_refusal(
        lambda: audit.record("access.denied", subject=subject, details={"action": str(action), "reason": reason, "endpoint": endpoint})
    )
    raise Forbidden()


def json_error(status: int, message, *, code: str | None = None, fields: dict | None = None):
    """An API refusal in the platform's error shape, with a machine-readable ``code``."""
    title = ERROR_TEXTS.get(status, ERROR_TEXTS[400])[0]
    body = {"status": status, "title": str(title), "message": str(message)}
    if code:
        body["code"] = code
    if fields:
        body["fields"] = fields
    return jsonify(error=body), status


def sign_in_required():
    if wants_json():
        return json_error(401, _l("Sign in first."), code="sign_in_required")
    return redirect(url_for("tenant.sign_in", next=_current_path()))


def _current_path() -> str:
    return request.full_path.rstrip("?")


def safe_next(target: str | None, default: str) -> str:
    """``target`` when it is a path inside this cell, else ``default``: no open redirects."""
    return local_target(target, default, f"/{g.tenant.slug}/")


def load_person() -> None:
    """Before every cell request: the signed-in member of this cell, if any."""
    g.person = g.membership = g.auth_session = None
    if g.pop("session_cookie_refused", False):
        endpoint = request.endpoint
        after_refusal(lambda: audit.record("auth.session_cookie_refused", details={"endpoint": endpoint}))
    found = sessions.current(g.tenant.slug, also=_with_member)
    row = found.row
    if found.ended:
        flash(SESSION_ENDED, "warning")
    if row is None:
        return
    membership = found.joined[0] if found.joined else db.session.get(Membership, row.membership_id)
    if membership is None or not membership.usable:
        sessions.end(g.tenant.slug, row)
        flash(SESSION_ENDED, "warning")
        return
    if row.privilege_version != membership.privilege_version:
        sessions.rotate(g.tenant.slug, row, membership.privilege_version)
    g.auth_session = row
    g.membership = membership
    g.person = person_for(membership)
    g.audit_actor = f"account:{membership.account_id}"


def _with_member(query: sa.Select) -> sa.Select:
    """The session's query, with its membership, account and organisation in the same statement
    (what :func:`load_person` reads next: one round trip instead of four on every request)."""
    return (query.add_columns(Membership)
            .outerjoin(Membership, Membership.id == sessions.AuthSession.membership_id)
            .options(joinedload(Membership.account), joinedload(Membership.organisation)))


def person_for(membership: Membership) -> Person:
    return Person(
        account_id=membership.account_id,
        membership_id=membership.id,
        tenant_id=membership.tenant_id,
        role=membership.role,
        organisation_kind=membership.organisation.kind,
        clearance_valid=membership.clearance_valid,
        organisation_id=membership.organisation_id,
        municipality_nis=membership.municipality_nis,
    )


def rate_limiter() -> AddressLimiter:
    """The app's per-address limiter: Redis, the database while Redis is down (never a 500)."""
    limiter = current_app.extensions.get("livc.rate_limiter")
    if limiter is None:
        limiter = current_app.extensions["livc.rate_limiter"] = AddressLimiter(current_app.extensions["livc.settings"].redis_url)
    return limiter


def limit_credential_attempts() -> None:
    """429 when one client address tries credentials too often (any account, any cell)."""
    item = RateLimitItemPerMinute(SIGN_IN_ATTEMPTS_PER_MINUTE)
    prefix = current_app.extensions["livc.settings"].queue_prefix  # deployments sharing one Redis
    if not rate_limiter().hit(item, f"{prefix}credentials", client_address()):
        after_refusal(lambda: audit.record("auth.rate_limited", details={"endpoint": request.endpoint}))
        raise TooManyRequests()


def not_found():
    raise NotFound()
