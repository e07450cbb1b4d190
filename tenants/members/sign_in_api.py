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
from livc.platform.policy import Action
from livc.platform.roles import ROLE_LABELS
from livc.tenants.access import guard, json_error, limit_credential_attempts, public
from livc.tenants.members.operations import current_undertaking, has_accepted_current
from livc.tenants.members.signing import (
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
        return json_error(refusal.status, refusal.message)
    return json_error(refusal.status, refusal.message, fields=refusal.errors)


def _check_new_password(values: dict, email: str) -> None:
    errors = new_password_errors(values["password"], values.get("password_repeat", ""), email)
    if errors:
        raise InvalidFields(errors)


@blueprint.get("/api/session")
@public
def api_session():
    """Who is signed in here (if anyone), and the CSRF token for the next change."""
    member = MemberSchema().dump(g.membership) if g.person is not None else None
    return jsonify(signed_in=member is not None, member=member, csrf_token=generate_csrf())


@blueprint.post("/api/session")
@public
def api_sign_in():
    limit_credential_attempts()
    values = load_body(SessionRequestSchema())
    try:
        account = check_credentials(values["email"], values["password"])
        if not account.has_totp:
            return json_error(403, _l("Set up your authenticator app by signing in on the web pages first."),
                              code="enrolment_required")
        factor = check_code(account, values["code"])
    except Refused as refusal:
        return _refusal(refusal)
    membership = complete_sign_in(account, factor)
    return jsonify(member=MemberSchema().dump(membership), csrf_token=generate_csrf()), 201


@blueprint.delete("/api/session")
@public
def api_sign_out():
    row = g.auth_session
    if row is not None:
        audit.record("auth.signed_out", subject=f"account:{row.account_id}")
    sessions.end(g.tenant.slug, row)
    return "", 204


@blueprint.post("/api/password-reset")
@public
def api_reset_request():
    limit_credential_attempts()
    values = load_body(EmailSchema())
    request_password_reset(values["email"], str(get_locale()))
    return jsonify(message=str(_l("If the address belongs to a member of this cell, a link to choose a new password is on its way."))), 202


@blueprint.post("/api/password-reset/<token>")
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
    return jsonify(membership_id=invitation.membership_id, next_step="sign_in"), 200


@blueprint.put("/api/profile/password")
@guard(Action.PROFILE_MANAGE)
def api_change_password():
    limit_credential_attempts()
    values = load_body(PasswordChangeSchema())
    _check_new_password(values, g.membership.account.email)
    try:
        change_own_password(g.membership, values["current_password"], values["password"])
    except Refused as refusal:
        return _refusal(refusal)
    return jsonify(csrf_token=generate_csrf())


@blueprint.get("/api/undertaking")
@guard(Action.UNDERTAKING_ACCEPT)
def api_undertaking():
    current = current_undertaking()
    return jsonify(version=current.version, text=current.text, accepted=has_accepted_current(g.membership))


@blueprint.post("/api/undertaking")
@guard(Action.UNDERTAKING_ACCEPT)
def api_accept_undertaking():
    values = load_body(UndertakingBodySchema())
    if not values["accept"]:
        raise InvalidFields({"accept": [str(_l("Tick the box to accept the undertaking."))]})
    return jsonify(version=accept_current_undertaking(g.membership), accepted=True)
