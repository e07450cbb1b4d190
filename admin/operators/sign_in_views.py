"""Signing in to the operator console: password and a mandatory second factor, set-up links.

An operator's first sign-in (from the set-up link ``livc operator create`` printed, or with a
password but no authenticator yet) always goes through the authenticator enrolment: there is
no way into the console without a second factor.
"""

from __future__ import annotations

import time

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from limits import RateLimitItemPerMinute
from werkzeug.exceptions import TooManyRequests

from livc.admin.access import actor, safe_next
from livc.admin.operators import operations as operators
from livc.admin.operators.models import TOTP_LABEL, Operator
from livc.admin.operators.signing import check_code, check_credentials, complete_sign_in
from livc.admin.web import blueprint
from livc.platform.accounts import (
    enable_totp,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
    qr_svg,
    set_password,
)
from livc.platform.db import db
from livc.platform.forms import (
    CodeSchema,
    InvitationAcceptSchema,
    SignInSchema,
    form_values,
    render_form,
)
from livc.platform.policy import public
from livc.platform.web import after_refusal, client_address
from livc.tenants.access import SIGN_IN_ATTEMPTS_PER_MINUTE, rate_limiter
from livc.tenants.members.signing import Refused, new_password_errors

PENDING_KEY = "operator_pending"
PENDING_MAX_AGE = 600  # seconds between the password and the second factor
LINK_INVALID = _l("This set-up link is no longer valid: it has expired or was already used. Ask an administrator for a new one.")


def limit_credential_attempts() -> None:
    """429 when one client address tries credentials too often (the cells' limit, shared)."""


    prefix = current_app.extensions["livc.settings"].queue_prefix
    if not rate_limiter().hit(RateLimitItemPerMinute(SIGN_IN_ATTEMPTS_PER_MINUTE), f"{prefix}credentials", client_address()):
        endpoint = request.endpoint
        after_refusal(lambda: operators.record_action("auth.rate_limited", actor="anonymous", details={"endpoint": endpoint}))
        raise TooManyRequests()


def _set_pending(operator: Operator, purpose: str, **extra) -> None:
    session[PENDING_KEY] = {"operator": operator.id, "at": int(time.time()), "purpose": purpose, **extra}


def _pending_operator() -> tuple[dict | None, Operator | None]:
    pending = session.get(PENDING_KEY)
    if not pending or time.time() - pending.get("at", 0) > PENDING_MAX_AGE:
        return None, None
    operator = db.session.get(Operator, pending["operator"])
    if operator is None or operator.disabled_at is not None:
        return None, None
    return pending, operator


def _restart():
    session.pop(PENDING_KEY, None)
    flash(_l("Your sign-in took too long. Please start again."), "warning")
    return redirect(url_for("admin.sign_in"))


@blueprint.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    context = {"next": request.values.get("next", "")}
    if request.method == "GET":
        if g.operator is not None:
            return redirect(safe_next(context["next"], url_for("admin.home")))
        return render_form("admin/sign_in.html", **context)
    limit_credential_attempts()
    values, errors = form_values(SignInSchema())
    if errors:
        return render_form("admin/sign_in.html", 422, errors, **context)
    try:
        operator = check_credentials(values["email"], values["password"])
    except Refused as refusal:
        return render_form("admin/sign_in.html", refusal.status, refusal.errors, **context)
    _set_pending(operator, "sign_in", next=context["next"])
    return redirect(url_for("admin.verify" if operator.has_totp else "admin.enrol"))


@blueprint.route("/sign-in/verify", methods=["GET", "POST"])
@public
def verify():
    pending, operator = _pending_operator()
    if pending is None or pending["purpose"] != "sign_in" or not operator.has_totp:
        return _restart()
    if request.method == "GET":
        return render_form("admin/verify.html")
    limit_credential_attempts()
    values, errors = form_values(CodeSchema())
    if errors:
        return render_form("admin/verify.html", 422, errors)
    try:
        factor = check_code(operator, values["code"])
    except Refused as refusal:
        return render_form("admin/verify.html", refusal.status, refusal.errors)
    complete_sign_in(operator, factor)
    if factor == "recovery_code":
        remaining = operator.remaining_recovery_codes
        flash(ngettext("You signed in with a recovery code. %(num)d unused code remains.",
                       "You signed in with a recovery code. %(num)d unused codes remain.", remaining), "warning")
    return redirect(safe_next(pending.get("next"), url_for("admin.home")))


@blueprint.route("/sign-in/authenticator", methods=["GET", "POST"])
@public
def enrol():
    """The authenticator enrolment every operator goes through before first reaching the console."""
    pending, operator = _pending_operator()
    if pending is None and g.operator is not None:  # the recovery codes' page reloaded: signed in already
        return render_template("tenants/recovery_codes.html", codes=None, renew_url=None, next_url=url_for("admin.home"))
    if pending is None or pending["purpose"] not in ("sign_in", "set_up") or operator.has_totp:
        return _restart()
    secret = pending.get("secret")
    if not secret:
        secret = pending["secret"] = new_totp_secret()
        session[PENDING_KEY] = pending
    context = {"qr": qr_svg(provisioning_uri(secret, operator.email, TOTP_LABEL)), "secret": secret}
    if request.method == "GET":
        return render_form("admin/enrol.html", **context)
    limit_credential_attempts()
    values, errors = form_values(CodeSchema())
    if errors or not enable_totp(operator, secret, values["code"]):
        message = _l("This code does not match. Scan the QR code again and enter the current code.")
        return render_form("admin/enrol.html", 422, errors or {"code": [str(message)]}, **context)
    codes = new_recovery_codes(operator)
    session.pop(PENDING_KEY, None)
    operators.record_action("auth.mfa_enrolled", actor=f"operator:{operator.id}", subject=f"operator:{operator.id}")
    complete_sign_in(operator, "totp")
    next_url = safe_next(pending.get("next"), url_for("admin.home"))
    return render_template("tenants/recovery_codes.html", codes=codes, next_url=next_url)


@blueprint.route("/set-up/<token>", methods=["GET", "POST"])
@public
def set_up(token: str):
    """The single-use link of a new operator: choose a name and password, then the authenticator."""
    operator = operators.operator_for_setup(token)
    if operator is None:
        after_refusal(lambda: operators.record_action("operator.set_up_refused", actor="anonymous"))
        return render_template("admin/link_invalid.html", message=LINK_INVALID), 410
    context = {"operator": operator, "token": token}
    if request.method == "GET":
        return render_form("admin/set_up.html", **context)
    limit_credential_attempts()
    values, errors = form_values(InvitationAcceptSchema())
    if not errors:
        errors = new_password_errors(values["password"], values["password_repeat"], operator.email)
    if errors:
        return render_form("admin/set_up.html", 422, errors, **context)
    operator.display_name = values["display_name"]
    set_password(operator, values["password"])
    operator.setup_token_digest = operator.setup_expires_at = None
    # A new authenticator goes with a new password: whatever was enrolled before is replaced.
    operator.totp_secret = operator.totp_enabled_at = None
    operators.end_all_sessions(operator.id)
    operators.record_action("operator.set_up", actor=f"operator:{operator.id}", subject=f"operator:{operator.id}")
    _set_pending(operator, "set_up")
    return redirect(url_for("admin.enrol"))


@blueprint.post("/sign-out")
@public
def sign_out():
    if g.operator is not None:
        operators.record_action("auth.signed_out", actor=actor(), subject=f"operator:{g.operator.id}")
    operators.end_session(g.operator_session)
    flash(_l("You are signed out."), "info")
    return redirect(url_for("admin.sign_in"))
