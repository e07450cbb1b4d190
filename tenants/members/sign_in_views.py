"""Signing in to a cell: password and second factor, enrolment, invitations, resets, profile.

No message, status or timing here tells whether an e-mail address has an account or a seat
in this cell: a failed sign-in always reads the same, a reset request always gets the same
answer, and a password is always hashed, even for an unknown address.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import flash, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale, ngettext
from flask_babel import lazy_gettext as _l

from livc.platform import audit, sessions
from livc.platform.accounts import (
    Account,
    enable_totp,
    find_password_reset,
    new_recovery_codes,
    new_totp_secret,
    provisioning_uri,
    qr_svg,
)
from livc.platform.db import db
from livc.platform.forms import (
    ChangePasswordSchema,
    CodeSchema,
    InvitationAcceptSchema,
    NewPasswordSchema,
    ResetRequestSchema,
    SignInSchema,
    form_values,
    render_form,
)
from livc.platform.policy import Action
from livc.tenants.access import guard, limit_credential_attempts, public, safe_next
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import current_undertaking, has_accepted_current
from livc.tenants.members.signing import (
    CODE_FAILED,
    Refused,
    accept_current_undertaking,
    change_own_password,
    check_code,
    check_credentials,
    complete_password_reset,
    complete_sign_in,
    confirm_password,
    new_password_errors,
    open_invitation,
    request_password_reset,
    take_up_invitation,
)
from livc.tenants.members.sso import logout_redirect, provider_for_tenant
from livc.tenants.web import blueprint

PENDING_MAX_AGE = 600  # seconds between the password and the second factor
LINK_INVALID = _l("This link is no longer valid: it has expired or was already used. Ask for a new one.")

#: Where a member lands after taking up an invitation (once the authenticator and the recovery
#: codes are done): each function gets the membership and may answer an address in the cell; the
#: first answer wins, else the home page. The console's set-up wizard sends the coordinator of a
#: cell still being set up to itself (``admin/onboarding/setup_views.py``).
FIRST_LANDINGS: list[Callable[[Membership], str | None]] = []


def first_landing(membership: Membership) -> str:
    for landing in FIRST_LANDINGS:
        target = landing(membership)
        if target:
            return target
    return url_for("tenant.home")


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


def _finish_sign_in(account: Account, factor: str) -> None:
    complete_sign_in(account, factor)
    if factor == "recovery_code":
        remaining = account.remaining_recovery_codes
        flash(
            ngettext(
                "You signed in with a recovery code. %(num)d unused code remains.",
                "You signed in with a recovery code. %(num)d unused codes remain.",
                remaining,
            ),
            "warning",
        )


# --- sign in --------------------------------------------------------------------------------


def _refused_page(template: str, refusal: Refused, **context):
    """The form again with the refusal; a lock-out also says when to retry (Retry-After)."""
    body, status = render_form(template, refusal.status, refusal.errors, **context)
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else {}
    return body, status, headers


@blueprint.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in():
    context = {"next": request.values.get("next", ""), "sso": provider_for_tenant()}
    if request.method == "GET":
        if g.person is not None:
            return redirect(safe_next(context["next"], url_for("tenant.home")))
        return render_form("tenants/sign_in.html", **context)
    limit_credential_attempts()
    values, errors = form_values(SignInSchema())
    if errors:
        return render_form("tenants/sign_in.html", 422, errors, **context)
    try:
        account = check_credentials(values["email"], values["password"])
    except Refused as refusal:
        return _refused_page("tenants/sign_in.html", refusal, **context)
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
    try:
        factor = check_code(account, values["code"])
    except Refused as refusal:
        return _refused_page("tenants/verify.html", refusal)
    session.pop("pending", None)
    _finish_sign_in(account, factor)
    return redirect(safe_next(pending.get("next"), url_for("tenant.home")))


@blueprint.route("/sign-in/authenticator", methods=["GET", "POST"])
@public
def enrol():
    """Set up the authenticator app: shown after a first password, an invitation, or a reset of the app."""
    pending, account = _pending_account()
    if pending is None and g.person is not None:  # the recovery codes' page reloaded: signed in already
        return render_template("tenants/recovery_codes.html", codes=None, renew_url=url_for("tenant.profile"),
                               next_url=first_landing(g.membership))
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
        _finish_sign_in(account, "totp")
        next_url = safe_next(pending.get("next"), url_for("tenant.home"))
    return render_template("tenants/recovery_codes.html", codes=codes, next_url=next_url)


@blueprint.post("/sign-out")
@public
def sign_out():
    row = g.auth_session
    target = None
    if row is not None:
        audit.record("auth.signed_out", subject=f"account:{row.account_id}")
        target = logout_redirect(row)
    sessions.end(g.tenant.slug, row)
    flash(_l("You are signed out."), "info")
    return redirect(target or url_for("tenant.sign_in"))


# --- invitations ----------------------------------------------------------------------------


@blueprint.route("/invitation/<token>", methods=["GET", "POST"])
@public
def invitation(token: str):
    invitation = open_invitation(token)
    if invitation is None:
        return render_template("tenants/link_invalid.html", message=LINK_INVALID), 410
    membership = invitation.membership
    account = membership.account
    existing = account.has_password
    context = {"token": token, "membership": membership, "account": account, "existing": existing}
    if request.method == "GET":
        return render_form("tenants/invitation.html", **context)
    limit_credential_attempts()
    schema = SignInSchema(only=("password",)) if existing else InvitationAcceptSchema()
    values, errors = form_values(schema)
    if not errors and not existing:
        errors = new_password_errors(values["password"], values["password_repeat"], account.email)
    if errors:
        return render_form("tenants/invitation.html", 422, errors, **context)
    try:
        take_up_invitation(invitation, values["password"], values.get("display_name"))
    except Refused as refusal:
        return render_form("tenants/invitation.html", refusal.status, refusal.errors, **context)
    _set_pending(account, "sign_in" if account.has_totp else "invitation", next=first_landing(membership))
    return redirect(url_for("tenant.verify" if account.has_totp else "tenant.enrol"))


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
    request_password_reset(values["email"], str(get_locale()))
    # The same answer whether or not the address is known here.
    return render_template("tenants/reset_requested.html")


@blueprint.route("/password-reset/<token>", methods=["GET", "POST"])
@public
def reset_password(token: str):
    reset = find_password_reset(token)
    if reset is None:
        return render_template("tenants/link_invalid.html", message=LINK_INVALID), 410
    if request.method == "GET":
        return render_form("tenants/reset_password.html")
    values, errors = form_values(NewPasswordSchema())
    if not errors:
        errors = new_password_errors(values["password"], values["password_repeat"], reset.account.email)
    if errors:
        return render_form("tenants/reset_password.html", 422, errors)
    complete_password_reset(reset, values["password"])
    flash(_l("Your password was changed. Sign in with it now."), "info")
    return redirect(url_for("tenant.sign_in"))


# --- profile --------------------------------------------------------------------------------


def _profile_form(status: int = 200, errors: dict | None = None):
    return render_form("tenants/profile.html", status, errors, account=g.membership.account, membership=g.membership)


@blueprint.get("/profile")
@guard(Action.PROFILE_MANAGE)
def profile():
    return _profile_form()


@blueprint.post("/profile/password")
@guard(Action.PROFILE_MANAGE)
def change_password():
    limit_credential_attempts()
    values, errors = form_values(ChangePasswordSchema())
    if not errors:
        errors = new_password_errors(values["password"], values["password_repeat"], g.membership.account.email)
    if errors:
        return _profile_form(422, errors)
    try:
        change_own_password(g.membership, values["current_password"], values["password"])
    except Refused as refusal:
        return _profile_form(refusal.status, refusal.errors)
    flash(_l("Your password was changed. Your other sessions in this cell were ended."), "info")
    return redirect(url_for("tenant.profile"))


@blueprint.post("/profile/recovery-codes")
@guard(Action.PROFILE_MANAGE)
def regenerate_recovery_codes():
    account = g.membership.account
    limit_credential_attempts()
    values, errors = form_values(CodeSchema())
    if errors:
        return _profile_form(422, errors)
    try:
        renew_recovery_codes = check_code(account, values["code"]) == "totp"
    except Refused as refusal:
        return _profile_form(refusal.status, refusal.errors)
    if not renew_recovery_codes:  # a recovery code cannot vouch for new recovery codes
        return _profile_form(401, {"code": [str(CODE_FAILED)]})
    codes = new_recovery_codes(account)
    audit.record("auth.recovery_codes_renewed", subject=f"account:{account.id}")
    return render_template("tenants/recovery_codes.html", codes=codes, next_url=url_for("tenant.profile"))


@blueprint.post("/profile/authenticator")
@guard(Action.PROFILE_MANAGE)
def replace_authenticator():
    account = g.membership.account
    limit_credential_attempts()
    values, errors = form_values(SignInSchema(only=("password",)))
    if errors:
        return _profile_form(422, errors)
    try:
        confirm_password(account, values["password"], "authenticator replacement")
    except Refused as refusal:
        return _profile_form(refusal.status, refusal.errors)
    _set_pending(account, "re_enrol")
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
    accept_current_undertaking(g.membership)
    return redirect(safe_next(context["next"], url_for("tenant.home")))
