"""The JSON API of signing in: the same rules as the pages (:mod:`livc.tenants.members.signing`).

An API client works like a browser: it keeps the session cookie, reads the CSRF token from
``GET /api/session`` and sends it as ``X-CSRFToken`` with every change. Signing in takes the
password and the current authenticator code in one request; enrolling the authenticator is
done once in the web pages (it shows a QR code).
"""

from __future__ import annotations

from flask import g, jsonify
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema, fields, validate

from livc.platform import audit, sessions
from livc.platform.accounts import NAME_MAX, find_password_reset
from livc.platform.api import InvalidFields, load_body
from livc.platform.forms import REQUIRED, email_field, secret_field, text_field
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.platform.roles import ROLE_LABELS
from livc.tenants.access import guard, json_error, limit_credential_attempts, public
from livc.tenants.members.operations import current_undertaking, has_accepted_current
from livc.tenants.members.signing import (
    API_SIGN_IN_FAILED,
    Refused,
    accept_current_undertaking,
    change_own_password,
    check_code,
    check_credentials,
    complete_password_reset,
    complete_sign_in,
    new_password_errors,
    open_invitation,
    request_password_reset,
    take_up_invitation,
)
from livc.tenants.web import blueprint


class SessionRequestSchema(Schema):
    email = email_field()
    password = secret_field()
    code = fields.String(required=True, validate=validate.Length(min=6, max=20), error_messages=REQUIRED)


class MemberSchema(Schema):
    """The signed-in member as the API shows them: no secrets, no hashes."""

    account_id = fields.Integer()
    membership_id = fields.Integer(attribute="id")
    email = fields.String(attribute="account.email")
    display_name = fields.String(attribute="account.display_name")
    role = fields.Function(lambda m: m.role.value)
    role_label = fields.Function(lambda m: str(ROLE_LABELS[m.role]))
    organisation = fields.String(attribute="organisation.name")
    organisation_kind = fields.Function(lambda m: m.organisation.kind.value)
    clearance_valid = fields.Boolean()
    undertaking_accepted = fields.Function(lambda m: has_accepted_current(m))


class SessionOut(Schema):
    """``GET /api/session``: who is signed in (``member`` is null when nobody is)."""

    signed_in = fields.Boolean(required=True)
    member = fields.Nested(MemberSchema, allow_none=True, required=True)
    csrf_token = fields.String(required=True)


class SignedInOut(Schema):
    member = fields.Nested(MemberSchema, required=True)
    csrf_token = fields.String(required=True)


class MessageOut(Schema):
    message = fields.String(required=True)


class InvitationTakenOut(Schema):
    membership_id = fields.Integer(required=True)
    next_step = fields.String(required=True)


class CsrfOut(Schema):
    csrf_token = fields.String(required=True)


class UndertakingOut(Schema):
    version = fields.Integer(required=True)
    text = fields.String(required=True, allow_none=True)  # null: the standard undertaking
    accepted = fields.Boolean(required=True)


class UndertakingAcceptedOut(Schema):
    version = fields.Integer(required=True)
    accepted = fields.Boolean(required=True)


class EmailSchema(Schema):
    email = email_field()


class NewPasswordBodySchema(Schema):
    password = secret_field()
    password_repeat = secret_field()


class InvitationBodySchema(Schema):
    password = secret_field()
    password_repeat = fields.String(validate=validate.Length(max=200))
    display_name = text_field(NAME_MAX, required=False)


class PasswordChangeSchema(NewPasswordBodySchema):
    current_password = secret_field()


class UndertakingBodySchema(Schema):
    accept = fields.Boolean(required=True, error_messages=REQUIRED)


def _refusal(refusal: Refused):
    if refusal.field == "form":
        response, status = json_error(refusal.status, refusal.message)
    else:
        response, status = json_error(refusal.status, refusal.message, fields=refusal.errors)
    if refusal.retry_after:
        response.headers["Retry-After"] = str(refusal.retry_after)
    return response, status


def _check_new_password(values: dict, email: str) -> None:
    errors = new_password_errors(values["password"], values.get("password_repeat", ""), email)
    if errors:
        raise InvalidFields(errors)


@blueprint.get("/api/session")
@documented(answer=SessionOut)
@public
def api_session():
    """Who is signed in here (if anyone), and the CSRF token for the next change."""
    member = g.membership if g.person is not None else None
    return jsonify(SessionOut().dump({"signed_in": member is not None, "member": member, "csrf_token": generate_csrf()}))


@blueprint.post("/api/session")
@documented(body=SessionRequestSchema, answer=SignedInOut, status=201, errors=(401, 403, 422, 429))
@public
def api_sign_in():
    """Sign in with password and code in one request.

    Until both are right, every refusal reads the same (status, message, fields), whichever
    was wrong: an anonymous caller never learns that a password was right. A lock-out (429)
    is the exception; it is answered whatever the password, so it tells nothing either.
    """
    limit_credential_attempts()
    values = load_body(SessionRequestSchema())
    try:
        account = check_credentials(values["email"], values["password"])
        if not account.has_totp:  # counted and audited like a wrong code, answered alike
            check_code(account, "")
        factor = check_code(account, values["code"])
    except Refused as refusal:
        if refusal.status == 401:
            refusal = Refused(401, "form", API_SIGN_IN_FAILED)
        return _refusal(refusal)
    membership = complete_sign_in(account, factor)
    return jsonify(SignedInOut().dump({"member": membership, "csrf_token": generate_csrf()})), 201


@blueprint.delete("/api/session")
@documented(status=204, summary="Sign out (ends this session).")
@public
def api_sign_out():
    row = g.auth_session
    if row is not None:
        audit.record("auth.signed_out", subject=f"account:{row.account_id}")
    sessions.end(g.tenant.slug, row)
    return "", 204


@blueprint.post("/api/password-reset")
@documented(body=EmailSchema, answer=MessageOut, status=202, errors=(429,), summary="Ask for a link to choose a new password.")
@public
def api_reset_request():
    limit_credential_attempts()
    values = load_body(EmailSchema())
    request_password_reset(values["email"], str(get_locale()))
    message = _l("If the address belongs to a member of this cell, a link to choose a new password is on its way.")
    return jsonify(MessageOut().dump({"message": str(message)})), 202


@blueprint.post("/api/password-reset/<token>")
@documented(body=NewPasswordBodySchema, status=204, errors=(410, 429), summary="Choose a new password with a reset link's token.")
@public
def api_reset_password(token: str):
    reset = find_password_reset(token)
    if reset is None:
        return json_error(410, _l("This link is no longer valid: it has expired or was already used. Ask for a new one."))
    values = load_body(NewPasswordBodySchema())
    _check_new_password(values, reset.account.email)
    complete_password_reset(reset, values["password"])
    return "", 204


@blueprint.post("/api/invitations/<token>")
@documented(body=InvitationBodySchema, answer=InvitationTakenOut, errors=(401, 410, 429))
@public
def api_accept_invitation(token: str):
    """Take up an invitation; the authenticator is then set up in the web pages."""
    invitation = open_invitation(token)
    if invitation is None:
        return json_error(410, _l("This link is no longer valid: it has expired or was already used. Ask for a new one."))
    limit_credential_attempts()
    values = load_body(InvitationBodySchema())
    account = invitation.membership.account
    if not account.has_password:
        _check_new_password(values, account.email)
    try:
        take_up_invitation(invitation, values["password"], values.get("display_name"))
    except Refused as refusal:
        return _refusal(refusal)
    return jsonify(InvitationTakenOut().dump({"membership_id": invitation.membership_id, "next_step": "sign_in"})), 200


@blueprint.put("/api/profile/password")
@documented(body=PasswordChangeSchema, answer=CsrfOut, errors=(429,),
            summary="Change one's own password (every other session of the account ends; a new CSRF token).")
@guard(Action.PROFILE_MANAGE)
def api_change_password():
    limit_credential_attempts()
    values = load_body(PasswordChangeSchema())
    _check_new_password(values, g.membership.account.email)
    try:
        change_own_password(g.membership, values["current_password"], values["password"])
    except Refused as refusal:
        return _refusal(refusal)
    return jsonify(CsrfOut().dump({"csrf_token": generate_csrf()}))


@blueprint.get("/api/undertaking")
@documented(answer=UndertakingOut, summary="The cell's secrecy undertaking, and whether it was accepted.")
@guard(Action.UNDERTAKING_ACCEPT)
def api_undertaking():
    current = current_undertaking()
    return jsonify(UndertakingOut().dump({"version": current.version, "text": current.text,
                                          "accepted": has_accepted_current(g.membership)}))


@blueprint.post("/api/undertaking")
@documented(body=UndertakingBodySchema, answer=UndertakingAcceptedOut, summary="Accept the secrecy undertaking.")
@guard(Action.UNDERTAKING_ACCEPT)
def api_accept_undertaking():
    values = load_body(UndertakingBodySchema())
    if not values["accept"]:
        raise InvalidFields({"accept": [str(_l("Tick the box to accept the undertaking."))]})
    return jsonify(UndertakingAcceptedOut().dump({"version": accept_current_undertaking(g.membership), "accepted": True}))
