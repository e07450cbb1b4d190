"""Single sign-on pages of a cell: the sign-in round trip, back-channel logout, the settings.

The protocol work lives in :mod:`livc.tenants.members.sso`; here each refusal becomes a 401 page
with a translated message (nothing the request did is kept) and an ``auth.sso_refused``
audit entry with the reason, recorded after the rollback. An identity that checks out but has
no seat here gets the very message of a failed password sign-in: nobody learns from it who
is a member. SSO sign-in skips the cell's own authenticator code: the provider does the
second factor.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates
from werkzeug.exceptions import NotFound

from livc.platform import audit, sessions
from livc.platform.api import InvalidFields, load_body
from livc.platform.forms import REQUIRED, form_values, render_form, text_field
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.platform.web import after_refusal, csrf
from livc.tenants.access import guard, limit_credential_attempts, public, safe_next
from livc.tenants.members import sso
from livc.tenants.members.signing import SIGN_IN_FAILED
from livc.tenants.web import blueprint

REFUSAL_MESSAGES = {
    sso.Refusal.UNAVAILABLE: _l("The sign-in service of your organisation could not be reached. Try again later, or sign in with your password."),
    sso.Refusal.INVALID: _l("The sign-in could not be completed safely. Please start again."),
    sso.Refusal.CANCELLED: _l("The sign-in was cancelled or refused by your organisation's sign-in service."),
    sso.Refusal.NO_ACCESS: SIGN_IN_FAILED,
}
ISSUER_PROBLEMS = {
    "malformed": _l("Enter the provider's address, for example https://login.microsoftonline.com/TENANT-ID/v2.0."),
    "not_https": _l("The address must start with https://."),
    "internal_host": _l("Use the provider's public address, not an internal one."),
}
DISCOVERY_FAILED = _l("No OpenID Connect provider answered at this address. Enter the issuer address, without /.well-known/openid-configuration.")
ISSUER_INTERNAL = _l("This address leads to a private or internal network. Enter the provider's public https:// address.")
ISSUER_MISMATCH = _l("The provider names itself {issuer}: enter exactly that address.")
SECRET_REQUIRED = _l("Enter the client secret the provider gave you.")
BOOLEAN_ERRORS = {"invalid": _l("Choose yes or no.")}


# --- signing in -----------------------------------------------------------------------------


def _callback_uri() -> str:
    return url_for("tenant.sso_callback", _external=True)


def _refused(refusal: sso.SsoRefused):
    """401 with the message for this kind of failure; the reason goes to the audit trail."""
    reason = refusal.reason
    after_refusal(lambda: audit.record("auth.sso_refused", details={"reason": reason}))
    return render_template("tenants/sso_refused.html", message=REFUSAL_MESSAGES[refusal.kind]), 401


@blueprint.get("/sign-in/sso")
@public
def sso_start():
    """Leave for the cell's provider, with a fresh state, nonce and PKCE challenge."""
    provider = sso.provider_for_tenant()
    if provider is None:
        raise NotFound()
    limit_credential_attempts()
    try:
        return redirect(sso.begin(provider, _callback_uri(), request.args.get("next")))
    except sso.SsoRefused as refusal:
        return _refused(refusal)


@blueprint.get("/sign-in/sso/callback")
@public
def sso_callback():
    """Back from the provider: check everything, find the member, open a session."""
    limit_credential_attempts()
    provider = sso.provider_for_tenant()
    try:
        if provider is None:
            session.pop(sso.FLOW_KEY, None)
            raise sso.SsoRefused(sso.Refusal.UNAVAILABLE, "single sign-on not enabled")
        outcome = sso.finish(provider, request.args, _callback_uri())
        membership = sso.membership_for(provider, outcome.claims)
    except sso.SsoRefused as refusal:
        return _refused(refusal)
    claims = outcome.claims
    sid = claims.get("sid") if isinstance(claims.get("sid"), str) else None
    sessions.start(g.tenant.slug, membership, "sso", sso_issuer=provider.issuer, sso_sid=sid, sso_subject=str(claims["sub"]))
    g.audit_actor = f"account:{membership.account_id}"
    audit.record("auth.signed_in", subject=f"account:{membership.account_id}", details={"method": "sso"})
    return redirect(safe_next(outcome.next_url, url_for("tenant.home")))


@blueprint.post("/sso/backchannel-logout")
@public
def sso_backchannel_logout():
    """The provider ends its session: end ours (OIDC Back-Channel Logout 1.0).

    Called server to server, so without a CSRF token: the signed logout token is the proof.
    """
    provider = sso.configured_provider()
    try:
        if provider is None:
            raise sso.SsoRefused(sso.Refusal.INVALID, "single sign-on not configured")
        claims = sso.validate_logout_token(request.form.get("logout_token"), provider)
    except sso.SsoRefused as refusal:
        reason = refusal.reason
        after_refusal(lambda: audit.record("auth.sso_logout_refused", details={"reason": reason}))
        body = jsonify(error="invalid_request", error_description="the logout token was not accepted")
        return body, 400, {"Cache-Control": "no-store"}
    sid, subject = (value if isinstance(value, str) else None for value in (claims.get("sid"), claims.get("sub")))
    ended = sessions.end_sso_sessions(provider.issuer, sid=sid, subject=subject)
    audit.record("auth.sso_logged_out", details={"sessions_ended": ended})
    return "", 200, {"Cache-Control": "no-store"}


csrf.exempt(sso_backchannel_logout)


# --- settings -------------------------------------------------------------------------------


class SsoSettingsSchema(Schema):
    issuer = fields.String(
        required=True,
        validate=validate.Length(max=sso.ISSUER_MAX, error=_l("At most {max} characters.")),
        error_messages=REQUIRED,
    )
    client_id = text_field(sso.CLIENT_ID_MAX)
    # Write-only: blank or absent keeps the current secret.
    client_secret = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=sso.CLIENT_SECRET_MAX, error=_l("At most {max} characters.")),
    )
    label = text_field(sso.LABEL_MAX)
    enabled = fields.Boolean(load_default=False, error_messages=BOOLEAN_ERRORS)
    link_by_email = fields.Boolean(load_default=False, error_messages=BOOLEAN_ERRORS)

    @validates("issuer")
    def _issuer(self, value: str, **_kwargs) -> None:
        problem = sso.issuer_problem(value)
        if problem:
            raise ValidationError(str(ISSUER_PROBLEMS[problem]))

    def handle_error(self, error: ValidationError, data, **kwargs) -> None:
        """Every field's messages as a list of plain strings, for pages and JSON alike."""
        messages = {
            name: [str(m) for m in (found if isinstance(found, list | tuple) else [found])]
            for name, found in error.normalized_messages().items()
        }
        raise ValidationError(messages, data=error.data, valid_data=error.valid_data)


def setting_errors(values: dict[str, Any]) -> dict[str, list[str]]:
    """What the schema cannot know: a secret for a new provider, and a provider that answers."""
    if not values.get("client_secret") and sso.configured_provider() is None:
        return {"client_secret": [str(SECRET_REQUIRED)]}
    try:
        sso.discover(values["issuer"], fresh=True)
    except sso.SsoRefused as refusal:
        if refusal.detail:
            return {"issuer": [str(ISSUER_MISMATCH).format(issuer=refusal.detail)]}
        if refusal.reason.endswith(sso.INTERNAL_ADDRESS):
            return {"issuer": [str(ISSUER_INTERNAL)]}
        return {"issuer": [str(DISCOVERY_FAILED)]}
    return {}


def _registration_uris() -> dict[str, str]:
    """What the coordinator registers at the provider for this cell."""
    return {
        "redirect_uri": _callback_uri(),
        "post_logout_redirect_uri": url_for("tenant.sign_in", _external=True),
        "backchannel_logout_uri": url_for("tenant.sso_backchannel_logout", _external=True),
    }


@blueprint.route("/sso", methods=["GET", "POST"])
@guard(Action.SSO_MANAGE)
def sso_settings():
    provider = sso.configured_provider()
    context = {"provider": provider, "uris": _registration_uris(), "submitted": request.method == "POST"}
    if request.method == "GET":
        return render_form("tenants/sso_settings.html", **context)
    values, errors = form_values(SsoSettingsSchema())
    errors = errors or setting_errors(values)
    if errors:
        return render_form("tenants/sso_settings.html", 422, errors, **context)
    sso.save_provider(values)
    flash(_l("The single sign-on settings were saved."), "info")
    return redirect(url_for("tenant.sso_settings"))


class SsoSettingsOut(Schema):
    """The settings as the API shows them; the provider's fields only once one is configured."""

    configured = fields.Boolean(required=True)
    redirect_uri = fields.String(required=True)
    post_logout_redirect_uri = fields.String(required=True)
    backchannel_logout_uri = fields.String(required=True)
    issuer = fields.String()
    client_id = fields.String()
    label = fields.String()
    enabled = fields.Boolean()
    link_by_email = fields.Boolean()
    client_secret_set = fields.Boolean()
    updated_at = fields.String()


def _settings_out(provider: sso.OidcProvider | None) -> dict[str, Any]:
    """The settings as the API shows them: never the secret, only whether there is one."""
    out: dict[str, Any] = {"configured": provider is not None, **_registration_uris()}
    if provider is not None:
        out.update(
            issuer=provider.issuer,
            client_id=provider.client_id,
            label=provider.label,
            enabled=provider.enabled,
            link_by_email=provider.link_by_email,
            client_secret_set=bool(provider.client_secret),
            updated_at=provider.updated_at.isoformat() + "Z",
        )
    return SsoSettingsOut().dump(out)


@blueprint.get("/api/sso")
@documented(answer=SsoSettingsOut, envelope="sso", summary="The cell's single sign-on settings (never the secret).")
@guard(Action.SSO_MANAGE)
def api_sso():
    return jsonify(sso=_settings_out(sso.configured_provider()))


@blueprint.put("/api/sso")
@documented(body=SsoSettingsSchema, answer=SsoSettingsOut, envelope="sso", summary="Set up single sign-on (the provider is asked for its configuration).")
@guard(Action.SSO_MANAGE)
def api_sso_update():
    values = load_body(SsoSettingsSchema())
    errors = setting_errors(values)
    if errors:
        raise InvalidFields(errors)
    return jsonify(sso=_settings_out(sso.save_provider(values)))
