"""Signing in to a cell: password and second factor, enrolment, invitations, resets, profile.

No message, status or timing here tells whether an e-mail address has an account or a seat
in this cell: a failed sign-in always reads the same, a reset request always gets the same
answer, and a password is always hashed, even for an unknown address.
"""

from __future__ import annotations

import time

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from livc.platform import audit, sessions
from livc.platform.accounts import (
    Account,
    check_password,
    check_second_factor,
    clear_failures,
    create_password_reset,
    enable_totp,
    find_account,
    find_password_reset,
    new_recovery_codes,
    new_totp_secret,
    note_failure,
    password_problem,
    provisioning_uri,
    qr_svg,
    set_password,
    throttle_state,
)
from livc.platform.db import db
from livc.platform.policy import Action
from livc.platform.timeutil import utcnow
from livc.platform.web import after_refusal
from livc.tenants.access import guard, limit_credential_attempts, public, safe_next
from livc.tenants.forms import (
    ChangePasswordSchema,
    CodeSchema,
    InvitationAcceptSchema,
    NewPasswordSchema,
    ResetRequestSchema,
    SignInSchema,
    form_values,
    render_form,
)
from livc.tenants.members import (
    MembershipStatus,
    accept_undertaking,
    current_undertaking,
    find_invitation,
    has_accepted_current,
    membership_of,
)
from livc.tenants.views import blueprint

PENDING_MAX_AGE = 600  # seconds between the password and the second factor
SIGN_IN_FAILED = _l("The e-mail address or password is wrong, or this account has no access to this cell.")
CODE_FAILED = _l("This code is not valid. Use the current code of your authenticator app, or an unused recovery code.")
LOCKED = _l("Too many failed attempts. Wait {minutes} minutes and try again.")
PASSWORD_PROBLEMS = {
    "too_short": _l("Use at least 12 characters."),
    "too_long": _l("Use at most 200 characters."),
    "is_email": _l("Do not use your e-mail address as password."),
    "too_simple": _l("Use a less repetitive password."),
}
LINK_INVALID = _l("This link is no longer valid: it has expired or was already used. Ask for a new one.")


# --- the pending sign-in, between the password and the second factor ---------------------


def _set_pending(account: Account, purpose: str, **extra) -> None:
    session["pending"] = {"tenant": g.tenant.id, "account": account.id, "at": int(time.time()), "purpose": purpose, **extra}


def _pending() -> dict | None:
    pending = session.get("pending")
    if not pending or pending.get("tenant") != g.tenant.id or time.time() - pending.get("at", 0) > PENDING_MAX_AGE:
        return None
    return pending


def _pending_account() -> tuple[dict | None, Account | None]:
    pending = _pending()
    account = db.session.get(Account, pending["account"]) if pending else None
    return (pending, account) if account is not None else (None, None)


def _restart():
    session.pop("pending", None)
    flash(_l("Your sign-in took too long. Please start again."), "warning")
    return redirect(url_for("tenant.sign_in"))


def _locked_response(template: str, minutes: int, **context):
    return render_form(template, 429, {"form": [LOCKED.format(minutes=minutes)]}, **context)


def _count_failure(email: str, action: str, account: Account | None, reason: str) -> None:
    subject = f"account:{account.id}" if account is not None else None
    after_refusal(lambda: (note_failure(email), audit.record(action, subject=subject, details={"reason": reason})))


def _finish_sign_in(account: Account, factor: str, next_url: str | None):
    membership = membership_of(account.id)
    sessions.start(g.tenant.slug, membership, "password")
    clear_failures(account.email)
    g.audit_actor = f"account:{account.id}"
    audit.record("auth.signed_in", subject=f"account:{account.id}", details={"method": "password", "factor": factor})
    if factor == "recovery_code":
        flash(
            _l("You signed in with a recovery code. {count} unused codes remain.").format(count=account.remaining_recovery_codes),
            "warning",
        )
    return redirect(safe_next(next_url, url_for("tenant.home")))


# --- sign in --------------------------------------------------------------------------------


@blueprint.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    from livc.platform.sso import provider_for_tenant

    context = {"next": request.values.get("next", ""), "sso": provider_for_tenant()}
    if request.method == "GET":
        if g.person is not None:
            return redirect(safe_next(context["next"], url_for("tenant.home")))
        return render_form("tenants/sign_in.html", **context)
    limit_credential_attempts()
    values, errors = form_values(SignInSchema())
    if errors:
        return render_form("tenants/sign_in.html", 422, errors, **context)
    email = values["email"]
    state = throttle_state(email)
    if state.locked:
        after_refusal(lambda: audit.record("auth.sign_in_locked", details={}))
        return _locked_response("tenants/sign_in.html", -(-state.retry_after // 60), **context)
    account = find_account(email)
    password_ok = check_password(account, values["password"])
    membership = membership_of(account.id) if password_ok else None
    if not password_ok or membership is None or not membership.usable:
        reason = "password" if not password_ok else "no usable membership"
        _count_failure(email, "auth.sign_in_failed", account, reason)
        return render_form("tenants/sign_in.html", 401, {"form": [SIGN_IN_FAILED]}, **context)
    _set_pending(account, "sign_in", next=context["next"])
    if not account.has_totp:
        return redirect(url_for("tenant.enrol"))
    return redirect(url_for("tenant.verify"))


@blueprint.route("/sign-in/verify", methods=["GET", "POST"])
@public
def verify():
    pending, account = _pending_account()
    if pending is None or pending["purpose"] != "sign_in" or not account.has_totp:
        return _restart()
    if request.method == "GET":
        return render_form("tenants/verify.html")
    limit_credential_attempts()
    values, errors = form_values(CodeSchema())
    if errors:
        return render_form("tenants/verify.html", 422, errors)
    state = throttle_state(account.email)
    if state.locked:
        return _locked_response("tenants/verify.html", -(-state.retry_after // 60))
    membership = membership_of(account.id)
    factor = check_second_factor(account, values["code"]) if membership is not None and membership.usable else None
    if factor is None:
        _count_failure(account.email, "auth.second_factor_failed", account, "code")
        return render_form("tenants/verify.html", 401, {"code": [CODE_FAILED]})
    session.pop("pending", None)
    return _finish_sign_in(account, factor, pending.get("next"))


@blueprint.route("/sign-in/authenticator", methods=["GET", "POST"])
@public
def enrol():
    """Set up the authenticator app: shown after a first password, an invitation, or a reset of the app."""
    pending, account = _pending_account()
    if pending is None or pending["purpose"] not in ("sign_in", "invitation", "re_enrol"):
        return _restart()
    if pending["purpose"] != "re_enrol" and account.has_totp:
        return _restart()
    secret = pending.get("secret")
    if not secret:
        secret = pending["secret"] = new_totp_secret()
        session["pending"] = pending
    uri = provisioning_uri(secret, account.email, g.tenant.name)
    context = {"qr": qr_svg(uri), "secret": secret, "account": account}
    if request.method == "GET":
        return render_form("tenants/enrol.html", **context)
    values, errors = form_values(CodeSchema())
    if errors or not enable_totp(account, secret, values["code"]):
        return render_form("tenants/enrol.html", 422, errors or {"code": [_l("This code does not match. Scan the QR code again and enter the current code.")]}, **context)
    codes = new_recovery_codes(account)
    session.pop("pending", None)
    audit.record("auth.mfa_enrolled", subject=f"account:{account.id}", actor=f"account:{account.id}", details={"purpose": pending["purpose"]})
    if pending["purpose"] == "re_enrol":
        next_url = url_for("tenant.profile")
    else:
        _finish_sign_in(account, "totp", pending.get("next"))
        next_url = safe_next(pending.get("next"), url_for("tenant.home"))
    return render_template("tenants/recovery_codes.html", codes=codes, next_url=next_url)


@blueprint.post("/sign-out")
@public
def sign_out():
    from livc.platform.sso import logout_redirect

    row = g.auth_session
    target = None
    if row is not None:
        audit.record("auth.signed_out", subject=f"account:{row.account_id}")
        target = logout_redirect(row)
    sessions.end(g.tenant.slug, row)
    flash(_l("You are signed out."), "info")
    return redirect(target or url_for("tenant.sign_in"))


# --- invitations ----------------------------------------------------------------------------


def _invitation_or_gone(token: str):
    invitation = find_invitation(token)
    if invitation is None or not invitation.open:
        if invitation is not None:
            reason = "used" if invitation.used_at else "revoked" if invitation.revoked_at else "expired"
            after_refusal(lambda: audit.record("invitation.refused", subject=f"invitation:{invitation.id}", details={"reason": reason}))
        return None
    return invitation


@blueprint.route("/invitation/<token>", methods=["GET", "POST"])
@public
def invitation(token: str):
    invitation = _invitation_or_gone(token)
    if invitation is None:
        return render_template("tenants/link_invalid.html", message=LINK_INVALID), 410
    membership = invitation.membership
    account = membership.account
    existing = account.has_password
    context = {"token": token, "membership": membership, "account": account, "existing": existing}
    if request.method == "GET":
        return render_form("tenants/invitation.html", **context)
    limit_credential_attempts()
    if existing:
        values, errors = form_values(SignInSchema(only=("password",)))
        if errors:
            return render_form("tenants/invitation.html", 422, errors, **context)
        state = throttle_state(account.email)
        if state.locked:
            return _locked_response("tenants/invitation.html", -(-state.retry_after // 60), **context)
        if not check_password(account, values["password"]):
            _count_failure(account.email, "auth.sign_in_failed", account, "password (invitation)")
            return render_form("tenants/invitation.html", 401, {"password": [_l("This password is wrong.")]}, **context)
    else:
        values, errors = form_values(InvitationAcceptSchema())
        errors = errors or _new_password_errors(values, account.email)
        if errors:
            return render_form("tenants/invitation.html", 422, errors, **context)
        account.display_name = values["display_name"]
        set_password(account, values["password"])
    invitation.used_at = utcnow()
    membership.status = MembershipStatus.ACTIVE
    audit.record("member.joined", subject=f"membership:{membership.id}", actor=f"account:{account.id}", details={"role": membership.role.value})
    _set_pending(account, "sign_in" if account.has_totp else "invitation")
    return redirect(url_for("tenant.verify" if account.has_totp else "tenant.enrol"))


def _new_password_errors(values: dict, email: str) -> dict:
    problem = password_problem(values["password"], email)
    if problem:
        return {"password": [PASSWORD_PROBLEMS[problem]]}
    if values["password"] != values["password_repeat"]:
        return {"password_repeat": [_l("The two passwords differ.")]}
    return {}


# --- password reset -------------------------------------------------------------------------


@blueprint.route("/password-reset", methods=["GET", "POST"])
@public
def reset_request():
    if request.method == "GET":
        return render_form("tenants/reset_request.html")
    limit_credential_attempts()
    values, errors = form_values(ResetRequestSchema())
    if errors:
        return render_form("tenants/reset_request.html", 422, errors)
    account = find_account(values["email"])
    membership = membership_of(account.id) if account is not None else None
    if membership is not None and membership.usable:
        _mail_reset_link(account)
    # The same answer whether or not the address is known here.
    return render_template("tenants/reset_requested.html")


def _mail_reset_link(account: Account) -> None:
    from livc.platform.mail import render_mail, send_mail

    token = create_password_reset(account)
    link = url_for("tenant.reset_password", token=token, _external=True)
    subject, body = render_mail("password_reset", str(get_locale()), tenant=g.tenant, account=account, link=link)
    send_mail(account.email, subject, body, tenant_id=g.tenant.id)
    audit.record("auth.password_reset_requested", subject=f"account:{account.id}")


@blueprint.route("/password-reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    reset = find_password_reset(token)
    if reset is None:
        return render_template("tenants/link_invalid.html", message=LINK_INVALID), 410
    if request.method == "GET":
        return render_form("tenants/reset_password.html")
    values, errors = form_values(NewPasswordSchema())
    errors = errors or _new_password_errors(values, reset.account.email)
    if errors:
        return render_form("tenants/reset_password.html", 422, errors)
    set_password(reset.account, values["password"])
    reset.used_at = utcnow()
    clear_failures(reset.account.email)
    ended = sessions.end_all_for(reset.account_id)
    audit.record("auth.password_reset", subject=f"account:{reset.account_id}", actor=f"account:{reset.account_id}", details={"sessions_ended": ended})
    flash(_l("Your password was changed. Sign in with it now."), "info")
    return redirect(url_for("tenant.sign_in"))


# --- profile --------------------------------------------------------------------------------


@blueprint.get("/profile")
@guard(Action.PROFILE_MANAGE)
def profile():
    return render_form("tenants/profile.html", account=g.membership.account, membership=g.membership)


@blueprint.post("/profile/password")
@guard(Action.PROFILE_MANAGE)
def change_password():
    account = g.membership.account
    context = {"account": account, "membership": g.membership}
    limit_credential_attempts()
    values, errors = form_values(ChangePasswordSchema())
    errors = errors or _new_password_errors(values, account.email)
    if errors:
        return render_form("tenants/profile.html", 422, errors, **context)
    if not check_password(account, values["current_password"]):
        _count_failure(account.email, "auth.password_change_failed", account, "current password")
        return render_form("tenants/profile.html", 401, {"current_password": [_l("This password is wrong.")]}, **context)
    set_password(account, values["password"])
    audit.record("auth.password_changed", subject=f"account:{account.id}")
    # Other sessions of this person in this cell end; this one gets a new identifier.
    sessions.end_all_for(account.id)
    sessions.start(g.tenant.slug, g.membership, g.auth_session.method)
    flash(_l("Your password was changed. Your other sessions in this cell were ended."), "info")
    return redirect(url_for("tenant.profile"))


@blueprint.post("/profile/recovery-codes")
@guard(Action.PROFILE_MANAGE)
def regenerate_recovery_codes():
    account = g.membership.account
    limit_credential_attempts()
    values, errors = form_values(CodeSchema())
    if errors or check_second_factor(account, values["code"]) != "totp":
        if not errors:
            _count_failure(account.email, "auth.second_factor_failed", account, "recovery codes")
        return render_form("tenants/profile.html", 401 if not errors else 422, errors or {"code": [CODE_FAILED]}, account=account, membership=g.membership)
    codes = new_recovery_codes(account)
    audit.record("auth.recovery_codes_renewed", subject=f"account:{account.id}")
    return render_template("tenants/recovery_codes.html", codes=codes, next_url=url_for("tenant.profile"))


@blueprint.post("/profile/authenticator")
@guard(Action.PROFILE_MANAGE)
def replace_authenticator():
    account = g.membership.account
    limit_credential_attempts()
    values, errors = form_values(SignInSchema(only=("password",)))
    if errors or not check_password(account, values["password"]):
        if not errors:
            _count_failure(account.email, "auth.password_change_failed", account, "authenticator replacement")
        return render_form("tenants/profile.html", 401 if not errors else 422, errors or {"password": [_l("This password is wrong.")]}, account=account, membership=g.membership)
    pending = {"tenant": g.tenant.id, "account": account.id, "at": int(time.time()), "purpose": "re_enrol"}
    session["pending"] = pending
    audit.record("auth.mfa_replacement_started", subject=f"account:{account.id}")
    return redirect(url_for("tenant.enrol"))


# --- the secrecy undertaking ----------------------------------------------------------------


@blueprint.route("/undertaking", methods=["GET", "POST"])
@guard(Action.UNDERTAKING_ACCEPT)
def undertaking():
    current = current_undertaking()
    accepted = has_accepted_current(g.membership)
    context = {"undertaking": current, "accepted": accepted, "next": request.values.get("next", "")}
    if request.method == "GET":
        return render_form("tenants/undertaking.html", **context)
    if request.form.get("accept") != "yes":
        return render_form("tenants/undertaking.html", 422, {"accept": [_l("Tick the box to accept the undertaking.")]}, **context)
    version = accept_undertaking(g.membership)
    audit.record("undertaking.accepted", subject=f"membership:{g.membership.id}", details={"version": version})
    return redirect(safe_next(context["next"], url_for("tenant.home")))
