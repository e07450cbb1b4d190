"""The rules of signing in, shared by the web pages and the JSON API.

Each step either returns what it established or raises :class:`Refused` with the HTTP status,
the field at fault and a message that never tells whether an address has an account here.
Failed attempts are counted and audited after the request's own work is rolled back.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import after_this_request, current_app, g
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext

from livc.platform import audit, sessions
from livc.platform.accounts import (
    Account,
    check_password,
    check_second_factor,
    clear_failures,
    create_password_reset,
    find_account,
    normalise_email,
    note_failure,
    password_problem,
    refused_as_demo,
    set_password,
    throttle_state,
)
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.jobs import enqueue, error_type, task
from livc.platform.mail import render_mail, send_mail
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.platform.web import after_refusal
from livc.tenants.members.models import Invitation, Membership, MembershipStatus
from livc.tenants.members.operations import accept_undertaking, find_invitation, membership_of

log = logging.getLogger(__name__)

SIGN_IN_FAILED = _l("The e-mail address or password is wrong, or this account has no access to this cell.")
CODE_FAILED = _l("This code is not valid. Use the current code of your authenticator app, or an unused recovery code.")
API_SIGN_IN_FAILED = _l("The e-mail address, password or code is wrong, or this account has no access to this cell. "
                        "An authenticator app is set up by signing in on the web pages first.")
PASSWORD_WRONG = _l("This password is wrong.")
PASSWORD_PROBLEMS = {
    "too_short": _l("Use at least 12 characters."),
    "too_long": _l("Use at most 200 characters."),
    "is_email": _l("Do not use your e-mail address as password."),
    "too_simple": _l("Use a less repetitive password."),
}


class Refused(Exception):
    """A sign-in step failed: ``status`` for the response, ``field`` (or "form") for the message,
    and for a lock-out the seconds to wait (``retry_after``, sent as the Retry-After header)."""

    def __init__(self, status: int, field: str, message, retry_after: int | None = None):
        super().__init__(field)
        self.status, self.field, self.message, self.retry_after = status, field, message, retry_after

    @property
    def errors(self) -> dict[str, list[str]]:
        return {self.field: [str(self.message)]}


def locked(retry_after: int) -> Refused:
    """The refusal of a locked address: 429, how long to wait, and Retry-After."""
    minutes = -(-retry_after // 60)
    message = lazy_ngettext("Too many failed attempts. Wait %(num)d minute and try again.",
                            "Too many failed attempts. Wait %(num)d minutes and try again.", minutes)
    return Refused(429, "form", message, retry_after=retry_after)


def throttle_realm() -> str:
    """Failures count per cell: attempts here never lock the person out of another cell."""
    return f"cell:{g.tenant.id}"


def _refuse_failure(email: str, action: str, account: Account | None, reason: str, field: str, message):
    subject = f"account:{account.id}" if account is not None else None
    realm = throttle_realm()
    after_refusal(lambda: (note_failure(email, realm), audit.record(action, subject=subject, details={"reason": reason})))
    raise Refused(401, field, message)


def _not_locked(email: str) -> None:
    state = throttle_state(email, throttle_realm())
    if state.locked:
        after_refusal(lambda: audit.record("auth.sign_in_locked", details={}))
        raise locked(state.retry_after)


def check_credentials(email: str, password: str) -> Account:
    """The account when ``password`` is right and it has a usable seat in this cell."""
    _not_locked(email)
    account = find_account(email)
    password_ok = check_password(account, password)  # hashes even for unknown addresses
    membership = membership_of(account.id) if password_ok else None
    if not password_ok or membership is None or not membership.usable:
        reason = "password" if not password_ok else "no usable membership"
        _refuse_failure(email, "auth.sign_in_failed", account, reason, "form", SIGN_IN_FAILED)
    if refused_as_demo(email):
        _refuse_failure(email, "auth.sign_in_failed", account, "demo account in production", "form", SIGN_IN_FAILED)
    return account


def check_code(account: Account, code: str) -> str:
    """``"totp"`` or ``"recovery_code"``; each code works once."""
    _not_locked(account.email)
    membership = membership_of(account.id)
    factor = check_second_factor(account, code) if membership is not None and membership.usable else None
    if factor is None:
        _refuse_failure(account.email, "auth.second_factor_failed", account, "code", "code", CODE_FAILED)
    return factor


def confirm_password(account: Account, password: str, purpose: str) -> None:
    """Re-authentication before a sensitive change of one's own sign-in."""
    _not_locked(account.email)
    if not check_password(account, password):
        _refuse_failure(account.email, "auth.reauthentication_failed", account, purpose, "password", PASSWORD_WRONG)


def complete_sign_in(account: Account, factor: str) -> Membership:
    """Open a new server-side session for the account's seat in this cell."""
    membership = membership_of(account.id)
    sessions.start(g.tenant.slug, membership, "password")
    clear_failures(account.email, throttle_realm())
    g.audit_actor = f"account:{account.id}"
    audit.record("auth.signed_in", subject=f"account:{account.id}", details={"method": "password", "factor": factor})
    return membership


def new_password_errors(password: str, repeat: str, email: str) -> dict[str, list[str]]:
    problem = password_problem(password, email)
    if problem:
        return {"password": [str(PASSWORD_PROBLEMS[problem])]}
    if password != repeat:
        return {"password_repeat": [str(_l("The two passwords differ."))]}
    return {}


def end_sessions_everywhere(account_id: int) -> int:
    """End the account's sessions in every cell: the password is the account's, not a cell's,
    so a session it opened anywhere must not outlive it. Each cell is entered in turn (its
    ORM filter and row-level security apply); returns how many sessions ended."""
    ended = 0
    for tenant_id in db.session.scalars(sa.select(Tenant.id)).all():
        with tenant_context(tenant_id):
            ended += sessions.end_all_for(account_id)
    return ended


def change_own_password(membership: Membership, current: str, new: str) -> None:
    """Change the password; the person's sessions in every cell end, this one is renewed."""
    account = membership.account
    if not check_password(account, current):
        _refuse_failure(account.email, "auth.password_change_failed", account, "current password",
                        "current_password", PASSWORD_WRONG)
    set_password(account, new)
    audit.record("auth.password_changed", subject=f"account:{account.id}")
    method = g.auth_session.method if getattr(g, "auth_session", None) is not None else "password"
    end_sessions_everywhere(account.id)
    sessions.start(g.tenant.slug, membership, method)


def request_password_reset(email: str, locale: str) -> None:
    """Hand the request to a job, whoever asks: the answer and its timing are the same for an
    address with a seat here and for any other (the job looks the address up).

    The job is handed over once the answer is out (when the server closes the response):
    without Redis jobs run inline, and a member's link would otherwise be made and mailed
    before the answer, which would then take longer for a member than for anyone else.
    """
    app = current_app._get_current_object()  # noqa: SLF001
    address, tenant_id = normalise_email(email), g.tenant.id

    def hand_over() -> None:
        try:
            with app.app_context():
                enqueue(mail_password_reset, address, locale, tenant_id=tenant_id)
        except Exception as error:  # the answer is out: say loudly that the job did not go
            log.error("password reset job not handed over: %s", error_type(error))

    @after_this_request
    def after_the_answer(response):
        response.call_on_close(hand_over)
        return response


@task(queue="mail")
def mail_password_reset(email: str, locale: str) -> bool:
    """Mail a reset link when ``email`` has a usable seat in the job's cell; else do nothing."""
    account = find_account(email)
    membership = membership_of(account.id) if account is not None else None
    if membership is None or not membership.usable:
        return False
    tenant = db.session.get(Tenant, current_tenant_id())
    token = create_password_reset(account)
    base_url = current_app.extensions["livc.settings"].base_url
    link = f"{base_url}/{tenant.slug}/password-reset/{token}"
    subject, body = render_mail("password_reset", locale, tenant=tenant, account=account, link=link)
    send_mail(account.email, subject, body, tenant_id=tenant.id)
    audit.record("auth.password_reset_requested", actor="system", subject=f"account:{account.id}")
    return True


def complete_password_reset(reset, password: str) -> None:
    """Set the new password from a reset link; the link is spent and every session here ends."""
    set_password(reset.account, password)
    reset.used_at = utcnow()
    clear_failures(reset.account.email, throttle_realm())
    ended = end_sessions_everywhere(reset.account_id)
    audit.record("auth.password_reset", subject=f"account:{reset.account_id}",
                 actor=f"account:{reset.account_id}", details={"sessions_ended": ended})


def open_invitation(token: str) -> Invitation | None:
    """The invitation for ``token`` when it can still be used; a spent one is audited."""
    invitation = find_invitation(token)
    if invitation is None or not invitation.open:
        if invitation is not None:
            reason = "used" if invitation.used_at else "revoked" if invitation.revoked_at else "expired"
            after_refusal(lambda: audit.record("invitation.refused", subject=f"invitation:{invitation.id}",
                                               details={"reason": reason}))
        return None
    return invitation


def take_up_invitation(invitation: Invitation, password: str, display_name: str | None) -> None:
    """Join the cell: a new person sets a password, someone with an account proves theirs."""
    membership = invitation.membership
    account = membership.account
    if account.has_password:
        confirm_password(account, password, "invitation")
    else:
        account.display_name = (display_name or "").strip()
        set_password(account, password)
    invitation.used_at = utcnow()
    membership.status = MembershipStatus.ACTIVE
    audit.record("member.joined", subject=f"membership:{membership.id}", actor=f"account:{account.id}",
                 details={"role": membership.role.value})


def accept_current_undertaking(membership: Membership) -> int:
    version = accept_undertaking(membership)
    audit.record("undertaking.accepted", subject=f"membership:{membership.id}", details={"version": version})
    return version
