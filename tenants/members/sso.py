"""Single sign-on per cell through OpenID Connect.

A cell may configure one provider of its own: municipalities sign in with Microsoft Entra ID,
public partners with the federal or Flemish government login services. The flow is the
authorization code flow with PKCE (S256), ``state`` and ``nonce``; the id_token is checked
against the provider's published keys (JWKS), its ``iss`` must equal the configured issuer
exactly and its ``aud`` must hold our client id. Whatever fails is a :class:`SsoRefused`
with a short reason for the audit trail (never personal data) and a category the views turn
into a translated message.

The provider proves who someone is, including their second factor: a sign-in through SSO
does not ask for the cell's own TOTP code. It never creates accounts either. An identity
(issuer + subject) reaches an account only when it was linked before, or, where the cell
allows it, through an e-mail address the provider marks as verified and that belongs to an
account with a seat in this cell.

The per-sign-in secrets (state, nonce, PKCE verifier) are random, single-use and popped on
the callback, so they live in the signed session cookie; nothing else of the provider's
tokens is kept.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import sqlalchemy as sa
import urllib3
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app, g, session, url_for
from joserfc import jwt
from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy_utils import StringEncryptedType
from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine

from livc.platform import audit
from livc.platform.accounts import AccountIdentity, find_account, normalise_email
from livc.platform.crypto import derived_key
from livc.platform.db import Id, TenantScoped, db
from livc.platform.outbound import guard_session, refused_as_private
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Invitation, Membership, MembershipStatus
from livc.tenants.members.operations import membership_of

ISSUER_MAX = 300
CLIENT_ID_MAX = 255
CLIENT_SECRET_MAX = 500
LABEL_MAX = 80
SCOPE = "openid email"
FLOW_KEY = "sso_flow"  # Flask session: the pending sign-in (state, nonce, PKCE verifier)
FLOW_MAX_AGE = 600  # seconds between leaving for the provider and coming back
DISCOVERY_TTL = 300  # seconds a provider's metadata and keys are reused
JWKS_REFETCH_AFTER = 60  # an unknown key id refetches the keys at most this often
HTTP_TIMEOUT = 10  # seconds for every call to a provider
DOCUMENT_MAX = 512 * 1024  # bytes: a provider's JSON answers are small; anything larger is refused
CLOCK_LEEWAY = 60  # seconds of clock skew accepted on exp/iat
LOGOUT_TOKEN_MAX_AGE = 300  # a back-channel logout token older than this is refused
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Asymmetric algorithms only: a public key must never be usable as an HMAC secret.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def _client_secret_key() -> bytes:
    return derived_key("oidc-client-secret")


class OidcProvider(TenantScoped, db.Model):
    """A cell's OpenID Connect provider: one per cell."""

    __tablename__ = "oidc_providers"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    issuer: Mapped[str] = mapped_column(sa.String(ISSUER_MAX))
    client_id: Mapped[str] = mapped_column(sa.String(CLIENT_ID_MAX))
    # Encrypted at rest (AES-GCM) under a key derived from the platform secret; never shown back.
    client_secret: Mapped[str] = mapped_column(StringEncryptedType(sa.String, _client_secret_key, AesGcmEngine))
    label: Mapped[str] = mapped_column(sa.String(LABEL_MAX))
    enabled: Mapped[bool] = mapped_column(default=False)
    # Link a first sign-in to an existing member through an e-mail address the provider verified.
    link_by_email: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def configured_provider() -> OidcProvider | None:
    """The current cell's provider, enabled or not (settings, logout of running sessions)."""
    return db.session.execute(sa.select(OidcProvider)).scalar_one_or_none()


def provider_for_tenant() -> OidcProvider | None:
    """The current cell's enabled OIDC provider, or None."""
    provider = configured_provider()
    return provider if provider is not None and provider.enabled else None


# --- refusals -------------------------------------------------------------------------------


class Refusal(enum.StrEnum):
    """What kind of failure, for the message the person sees."""

    UNAVAILABLE = "unavailable"  # the provider could not be reached or read
    INVALID = "invalid"  # state, code, token or signature did not check out
    CANCELLED = "cancelled"  # the provider answered with an error (cancelled, refused)
    NO_ACCESS = "no_access"  # a valid identity without a usable seat in this cell


class SsoRefused(Exception):
    """A single sign-on step was refused; ``reason`` goes to the audit trail (no personal data)."""

    def __init__(self, kind: Refusal, reason: str, detail: str | None = None):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.detail = detail  # e.g. the issuer a provider names itself, for the coordinator


# --- discovery and keys ---------------------------------------------------------------------


@dataclass(frozen=True)
class Metadata:
    """The parts of a provider's discovery document that livc uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    end_session_endpoint: str | None = None
    id_token_algorithms: tuple[str, ...] = ("RS256",)
    token_auth_methods: tuple[str, ...] = ("client_secret_basic",)
    iss_parameter_supported: bool = False


@dataclass
class _Cache:
    metadata: dict[str, tuple[float, Metadata]] = field(default_factory=dict)
    keys: dict[str, tuple[float, KeySet]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_cache = _Cache()


def clear_cache() -> None:
    """Forget every provider's metadata and keys (tests, or after a provider rotated)."""
    with _cache.lock:
        _cache.metadata.clear()
        _cache.keys.clear()


def issuer_problem(issuer: str) -> str | None:
    """Why ``issuer`` cannot be a provider's address, or None.

    HTTPS only, without query, fragment or credentials. Plain HTTP is accepted for the
    loopback interface outside production (development and tests); in production no IP
    address or localhost either, so a coordinator cannot point the server at internal hosts.
    """
    try:
        parts = urlsplit(issuer)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "malformed"
    if not host or parts.query or parts.fragment or parts.username or parts.password:
        return "malformed"
    production = current_app.extensions["livc.settings"].production
    loopback = host == "localhost" or _is_loopback(host)
    if parts.scheme == "http" and loopback and not production:
        return None
    if parts.scheme != "https":
        return "not_https"
    if production and (loopback or _is_ip(host)):
        return "internal_host"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    return _is_ip(host) and ipaddress.ip_address(host).is_loopback


#: The audit reason's ending when a provider's host name leads to an internal address.
INTERNAL_ADDRESS = "refused: internal address"


def _http(session: requests.Session) -> requests.Session:
    """``session`` reaching public addresses only, checked when connecting (DNS rebinding cannot
    switch it); ``LIVC_SSO_ALLOW_PRIVATE`` lets development and tests use a provider on 127.0.0.1."""
    return guard_session(session, allow_private=current_app.extensions["livc.settings"].sso_allow_private)


def _get_json(url: str, what: str, **kwargs) -> dict:
    """A provider's JSON document: no redirects followed, bounded in time and size."""
    try:
        with _http(requests.Session()) as http, http.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False,
                                                         stream=True, **kwargs) as response:
            response.raise_for_status()
            body = response.raw.read(DOCUMENT_MAX + 1, decode_content=True)
        if len(body) > DOCUMENT_MAX:
            raise ValueError("too large")
        document = json.loads(body)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError) as error:
        if refused_as_private(error):
            raise SsoRefused(Refusal.UNAVAILABLE, f"{what} {INTERNAL_ADDRESS}") from None
        raise SsoRefused(Refusal.UNAVAILABLE, f"{what} unavailable") from None
    if not isinstance(document, dict):
        raise SsoRefused(Refusal.UNAVAILABLE, f"{what} not a JSON object")
    return document


def discover(issuer: str, *, fresh: bool = False) -> Metadata:
    """The provider's metadata from ``<issuer>/.well-known/openid-configuration``, cached briefly.

    The document must name exactly ``issuer`` (OpenID Connect Discovery 1.0, section 4.3):
    a provider that calls itself something else is refused, which also stops mix-ups.
    """
    now = time.monotonic()
    cached = None if fresh else _cache.metadata.get(issuer)
    if cached is not None and now - cached[0] < DISCOVERY_TTL:
        return cached[1]
    if issuer_problem(issuer):
        raise SsoRefused(Refusal.UNAVAILABLE, "issuer address not acceptable")
    document = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery")
    named = document.get("issuer")
    if named != issuer:
        detail = named if isinstance(named, str) and len(named) <= ISSUER_MAX else None
        raise SsoRefused(Refusal.INVALID, "discovery issuer mismatch", detail)
    try:
        metadata = Metadata(
            issuer=issuer,
            authorization_endpoint=_endpoint(document, "authorization_endpoint", browser=True),
            token_endpoint=_endpoint(document, "token_endpoint"),
            jwks_uri=_endpoint(document, "jwks_uri"),
            userinfo_endpoint=_endpoint(document, "userinfo_endpoint", required=False),
            end_session_endpoint=_endpoint(document, "end_session_endpoint", required=False, browser=True),
            id_token_algorithms=tuple(
                alg for alg in document.get("id_token_signing_alg_values_supported") or ["RS256"]
                if alg in SIGNING_ALGORITHMS
            ),
            token_auth_methods=tuple(document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]),
            iss_parameter_supported=document.get("authorization_response_iss_parameter_supported") is True,
        )
    except (TypeError, ValueError):
        raise SsoRefused(Refusal.UNAVAILABLE, "discovery document incomplete") from None
    if not metadata.id_token_algorithms:
        raise SsoRefused(Refusal.UNAVAILABLE, "no supported id_token algorithm")
    with _cache.lock:
        _cache.metadata[issuer] = (now, metadata)
    return metadata


def _endpoint(document: Mapping[str, Any], name: str, *, required: bool = True, browser: bool = False) -> str | None:
    """An endpoint of the document; those the server calls obey the rules of issuer addresses."""
    value = document.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
        raise ValueError(name)
    if not browser and issuer_problem(value.split("?", 1)[0]):
        raise ValueError(name)
    return value


def _keys(jwks_uri: str, *, refresh: bool = False) -> KeySet:
    """The provider's signing keys; ``refresh`` refetches them (a rotated key), rate-limited."""
    now = time.monotonic()
    cached = _cache.keys.get(jwks_uri)
    if cached is not None:
        age = now - cached[0]
        if (not refresh and age < DISCOVERY_TTL) or (refresh and age < JWKS_REFETCH_AFTER):
            return cached[1]
    try:
        keys = KeySet.import_key_set(_get_json(jwks_uri, "jwks"))
    except (JoseError, KeyError, TypeError, ValueError):
        raise SsoRefused(Refusal.UNAVAILABLE, "jwks unreadable") from None
    with _cache.lock:
        _cache.keys[jwks_uri] = (now, keys)
    return keys


def _verified_jwt(token: str, metadata: Metadata, what: str) -> dict[str, Any]:
    """The claims of ``token`` once its signature checks out against the provider's keys."""
    if not isinstance(token, str) or not token or len(token) > 20_000:
        raise SsoRefused(Refusal.INVALID, f"{what} missing")
    for refresh in (False, True):
        try:
            return dict(jwt.decode(token, _keys(metadata.jwks_uri, refresh=refresh), algorithms=metadata.id_token_algorithms).claims)
        except InvalidKeyIdError:
            continue  # perhaps a key the provider rotated in since we fetched them
        except (JoseError, ValueError, TypeError):
            break
    raise SsoRefused(Refusal.INVALID, f"{what} signature")


def _check_claims(claims: dict[str, Any], what: str, **options: jwt.ClaimsOption) -> None:
    registry = jwt.JWTClaimsRegistry(leeway=CLOCK_LEEWAY, **options)
    try:
        registry.validate(claims)
    except ClaimError as error:
        raise SsoRefused(Refusal.INVALID, f"{what} {error.error} {error.claim}") from None
    except JoseError as error:
        raise SsoRefused(Refusal.INVALID, f"{what} {error.error}") from None


# --- the sign-in flow -----------------------------------------------------------------------


def _oauth_client(provider: OidcProvider, metadata: Metadata, redirect_uri: str) -> OAuth2Session:
    methods = metadata.token_auth_methods
    auth_method = "client_secret_post" if "client_secret_basic" not in methods and "client_secret_post" in methods else "client_secret_basic"
    return _http(OAuth2Session(
        provider.client_id,
        provider.client_secret,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
        default_timeout=HTTP_TIMEOUT,
    ))


def begin(provider: OidcProvider, redirect_uri: str, next_url: str | None) -> str:
    """Remember a fresh state, nonce and PKCE verifier; return the provider's authorization URL."""
    metadata = discover(provider.issuer)
    state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    with _oauth_client(provider, metadata, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
        )
    session[FLOW_KEY] = {
        "tenant": g.tenant.id,
        "issuer": provider.issuer,
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": (next_url or "")[:500],
        "at": int(time.time()),
    }
    return url


def _code(value: object) -> str:
    """An error code from outside, made safe for the audit trail."""
    return "".join(ch for ch in str(value)[:40] if ch.isalnum() or ch == "_")


@dataclass(frozen=True)
class Outcome:
    """A checked sign-in: the provider's claims and where the person wanted to go."""

    claims: dict[str, Any]
    next_url: str


def finish(provider: OidcProvider, params: Mapping[str, str], redirect_uri: str) -> Outcome:
    """Check the provider's answer on the callback; the pending flow is used up whatever happens."""
    flow = session.pop(FLOW_KEY, None)
    if not flow or flow.get("tenant") != g.tenant.id or time.time() - flow.get("at", 0) > FLOW_MAX_AGE:
        raise SsoRefused(Refusal.INVALID, "no pending sign-in")
    if not hmac.compare_digest(str(params.get("state", "")).encode(), flow["state"].encode()):
        raise SsoRefused(Refusal.INVALID, "state mismatch")
    if flow["issuer"] != provider.issuer:
        raise SsoRefused(Refusal.INVALID, "provider changed during sign-in")
    metadata = discover(provider.issuer)
    # RFC 9207: the answer names its issuer, so an answer from another provider is refused.
    if "iss" in params and params["iss"] != provider.issuer:
        raise SsoRefused(Refusal.INVALID, "response issuer mismatch")
    if "iss" not in params and metadata.iss_parameter_supported:
        raise SsoRefused(Refusal.INVALID, "response issuer missing")
    if params.get("error"):
        raise SsoRefused(Refusal.CANCELLED, f"provider error {_code(params['error'])}")
    if not params.get("code"):
        raise SsoRefused(Refusal.INVALID, "no code")
    token = exchange_code(provider, metadata, params["code"], flow["verifier"], redirect_uri)
    claims = validate_id_token(
        token.get("id_token"), metadata, issuer=provider.issuer, client_id=provider.client_id, nonce=flow["nonce"]
    )
    claims = _with_userinfo(claims, token.get("access_token"), metadata)
    return Outcome(claims, flow.get("next") or "")


def exchange_code(provider: OidcProvider, metadata: Metadata, code: str, verifier: str, redirect_uri: str) -> dict:
    """Trade the code (and the PKCE verifier) for tokens at the provider's token endpoint."""
    try:
        with _oauth_client(provider, metadata, redirect_uri) as client:
            return dict(client.fetch_token(metadata.token_endpoint, code=code[:2000], code_verifier=verifier))
    except requests.RequestException:
        raise SsoRefused(Refusal.UNAVAILABLE, "token endpoint unavailable") from None
    except (AuthlibBaseError, KeyError, TypeError, ValueError) as error:  # an error answer, or a malformed one
        raise SsoRefused(Refusal.INVALID, f"token exchange {_code(getattr(error, 'error', None) or type(error).__name__)}") from None


def validate_id_token(id_token: str | None, metadata: Metadata, *, issuer: str, client_id: str, nonce: str) -> dict[str, Any]:
    """The id_token's claims after checking signature, issuer, audience, times and nonce."""
    claims = _verified_jwt(id_token, metadata, "id_token")
    _check_claims(
        claims,
        "id_token",
        iss={"essential": True, "value": issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise SsoRefused(Refusal.INVALID, "id_token azp mismatch")
    return claims


def _with_userinfo(claims: dict[str, Any], access_token: str | None, metadata: Metadata) -> dict[str, Any]:
    """Add the e-mail claims from the userinfo endpoint when the id_token does not carry them."""
    if "email" in claims or not access_token or not metadata.userinfo_endpoint:
        return claims
    try:
        info = _get_json(metadata.userinfo_endpoint, "userinfo", headers={"Authorization": f"Bearer {access_token}"})
    except SsoRefused:
        return claims  # no e-mail then: linking by e-mail is simply not possible
    if info.get("sub") != claims["sub"]:
        raise SsoRefused(Refusal.INVALID, "userinfo subject mismatch")
    return {**claims, **{name: info[name] for name in ("email", "email_verified") if name in info}}


# --- who signs in ---------------------------------------------------------------------------


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    """The e-mail address the provider vouches for, or None.

    Only ``email_verified`` true counts (some providers send the string ``"true"``). Providers
    that never send it (Entra ID by default) cannot link by e-mail: link those identities once
    through a provider that does, or have the coordinator rely on earlier links.
    """
    email = claims.get("email")
    verified = claims.get("email_verified")
    if not isinstance(email, str) or not email or len(email) > 254:
        return None
    return normalise_email(email) if verified is True or verified == "true" else None


def membership_for(provider: OidcProvider, claims: Mapping[str, Any]) -> Membership:
    """The usable membership the identity signs in to, linking or taking up an invitation first.

    Refused (:attr:`Refusal.NO_ACCESS`) without telling why, as a failed password sign-in.
    """
    subject = str(claims["sub"])
    identity = db.session.execute(
        sa.select(AccountIdentity).where(AccountIdentity.issuer == provider.issuer, AccountIdentity.subject == subject)
    ).scalar_one_or_none()
    email = _verified_email(claims)
    if identity is not None:
        account = identity.account
    else:
        if not provider.link_by_email or email is None:
            raise SsoRefused(Refusal.NO_ACCESS, "identity not linked")
        account = find_account(email)
        if account is None or membership_of(account.id) is None:
            raise SsoRefused(Refusal.NO_ACCESS, "no account with a seat for this e-mail")
        other = db.session.execute(
            sa.select(AccountIdentity.id).where(AccountIdentity.account_id == account.id, AccountIdentity.issuer == provider.issuer)
        ).first()
        if other is not None:
            raise SsoRefused(Refusal.NO_ACCESS, "account linked to another subject of this issuer")
        identity = AccountIdentity(account_id=account.id, issuer=provider.issuer, subject=subject)
        db.session.add(identity)
        db.session.flush()
        audit.record("auth.sso_linked", subject=f"account:{account.id}", actor=f"account:{account.id}",
                     details={"issuer": provider.issuer, "via": "verified e-mail"})
    membership = membership_of(account.id)
    if membership is None:
        raise SsoRefused(Refusal.NO_ACCESS, "no membership")
    if membership.status == MembershipStatus.INVITED:
        if email is None or email != account.email:
            raise SsoRefused(Refusal.NO_ACCESS, "invitation needs a verified matching e-mail")
        invitation = db.session.execute(
            sa.select(Invitation).where(Invitation.membership_id == membership.id).order_by(Invitation.id.desc())
        ).scalars().first()
        if invitation is None or not invitation.open:
            raise SsoRefused(Refusal.NO_ACCESS, "no open invitation")
        invitation.used_at = utcnow()
        membership.status = MembershipStatus.ACTIVE
        audit.record("member.joined", subject=f"membership:{membership.id}", actor=f"account:{account.id}",
                     details={"role": membership.role.value, "method": "sso"})
    if not membership.usable:
        raise SsoRefused(Refusal.NO_ACCESS, "membership not usable")
    return membership


# --- logout ---------------------------------------------------------------------------------


def logout_redirect(row) -> str | None:
    """Where to send the browser to end the provider's session too (RP-initiated logout).

    The id_token is not kept, so no ``id_token_hint``: the provider identifies us by
    ``client_id`` and asks the person to confirm.
    """
    if row is None or row.method != "sso" or not row.sso_issuer:
        return None
    provider = configured_provider()
    if provider is None or provider.issuer != row.sso_issuer:
        return None
    try:
        endpoint = discover(provider.issuer).end_session_endpoint
    except SsoRefused:
        return None
    if not endpoint:
        return None
    query = urlencode({"client_id": provider.client_id, "post_logout_redirect_uri": url_for("tenant.sign_in", _external=True)})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def validate_logout_token(token: str | None, provider: OidcProvider) -> dict[str, Any]:
    """A back-channel logout token's claims (OIDC Back-Channel Logout 1.0, section 2.6)."""
    metadata = discover(provider.issuer)
    claims = _verified_jwt(token, metadata, "logout_token")
    _check_claims(
        claims,
        "logout_token",
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        iat={"essential": True},
        events={"essential": True},
    )
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
        raise SsoRefused(Refusal.INVALID, "logout_token without logout event")
    if "nonce" in claims:
        raise SsoRefused(Refusal.INVALID, "logout_token with nonce")
    if not isinstance(claims.get("sid"), str) and not isinstance(claims.get("sub"), str):
        raise SsoRefused(Refusal.INVALID, "logout_token without sid or sub")
    if claims["iat"] < time.time() - LOGOUT_TOKEN_MAX_AGE:
        raise SsoRefused(Refusal.INVALID, "logout_token too old")
    return claims


# --- settings -------------------------------------------------------------------------------


def save_provider(values: Mapping[str, Any]) -> OidcProvider:
    """Create or change the cell's provider; the secret changes only when a new one is given.

    Audited as ``sso.configured`` with what changed, never the secret itself.
    """
    provider = configured_provider()
    created = provider is None
    if provider is None:
        provider = OidcProvider()
        db.session.add(provider)
    for name in ("issuer", "client_id", "label", "enabled", "link_by_email"):
        setattr(provider, name, values[name])
    secret_changed = bool(values.get("client_secret"))
    if secret_changed:
        provider.client_secret = values["client_secret"]
    provider.updated_at = utcnow()
    db.session.flush()
    audit.record(
        "sso.configured",
        subject=f"oidc_provider:{provider.id}",
        details={
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "enabled": provider.enabled,
            "link_by_email": provider.link_by_email,
            "created": created,
            "secret_changed": secret_changed,
        },
    )
    return provider
