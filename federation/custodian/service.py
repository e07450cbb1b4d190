"""The key custodian: the one holder of the OPRF secret, a service of its own (``livc custodian``).

The platform turns match keys into tokens through the OPRF of :mod:`livc.federation.oprf`; the
secret of that function lives here and nowhere else: not in the platform's database, not in
its configuration, not in its processes (production). The custodian:

- keeps a random 32-byte seed per **epoch** in its own key file (``keys.json``, mode 600, in
  ``LIVC_CUSTODIAN_DATA_DIR`` or at ``LIVC_CUSTODIAN_KEY_FILE``), created explicitly: by
  ``livc custodian init``, or by ``serve`` with ``--create-key`` / ``LIVC_CUSTODIAN_CREATE_KEY``
  (a first installation only). A service that finds no key file refuses to start: on an emptied
  volume a new key would silently match no token enrolled under the lost one. The
  epoch's OPRF key is ``oprf.derive_key(seed, b"livc custodian epoch N")``. ``rotate`` starts
  epoch N+1 (a fresh seed) and makes it current; older epochs stay evaluable, so the platform
  can re-enrol every case under the new epoch, until ``retire`` deletes their seed: from then
  on their evaluation is refused (410) and their tokens can never be produced again.
- authenticates its callers with OAuth2 client credentials (authlib): ``POST /oauth/token``
  (``client_secret_basic`` or ``client_secret_post``) issues short-lived random bearer tokens,
  kept in memory (a restart only makes callers fetch a new one). Clients are registered with
  ``livc custodian clients add ID``, which prints a generated secret once; the clients file
  keeps only its SHA-256 (the secret is 256 random bits: a slow hash adds nothing).
- evaluates blinded elements: ``POST /evaluate`` (bearer), JSON
  ``{"cell": "...", "epoch": N (optional), "elements": ["<base64url>", ...], "purpose": "enrol"
  or "reenrol" (optional), "scheme": N (optional)}``, at most :data:`MAX_ELEMENTS` per call,
  answers ``{"epoch": N, "elements": [...]}``. It never sees a match key: only points of
  ristretto255 that a random blind makes uniformly distributed.
- bounds probing on its own (:class:`~.storage.EnrolmentLedger`): a call with a ``purpose`` is one
  case's keys (at most ``elements_per_enrolment``); per client and cell, at most
  ``enrolments_per_week`` enrolments a rolling week, and re-enrolments only after a recent
  rotation or key scheme change, no more than the cell ever enrolled: refused 429
  ``enrolment_budget`` otherwise. A call without a purpose (batch evaluation by an operator's
  tool) is bounded by the rate limit alone.
- rate-limits per cell (elements per minute, the ``limits`` library, in memory or Redis) and
  audits every evaluation, refused or not, to an append-only JSON-lines file: time, client,
  cell, epoch, number of elements, outcome. Never an element.

It runs as one gunicorn process with threads (tokens and, without Redis, rate-limit counters
are in that process's memory); rotation and retirement by the command line are picked up by
the running service, which re-reads its key and clients files when they change.

Errors answer JSON ``{"error": code, "message": ...}``: 400 ``bad_request``, 401 (authlib's
``invalid_client`` / ``missing_authorization`` / ``invalid_token``), 409 ``unknown_epoch``,
410 ``retired_epoch``, 413 ``too_many_elements``, 422 ``invalid_element`` (with ``index``),
429 ``rate_limited`` (with ``Retry-After``).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, jsonify, request
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import HTTPException

from livc.federation.custodian.settings import (
    CELL,
    CLIENT_ID,
    MAX_BODY,
    MAX_ELEMENTS,
    SCOPE,
    TOKEN_REQUESTS_PER_MINUTE,
    CustodianConfigurationError,
    CustodianError,
    CustodianSettings,
    EnrolmentRefused,
    InvalidElement,
    RateLimited,
    TooManyElements,
    decode_element,
    encode_element,
    load_custodian_settings,
)
from livc.federation.custodian.storage import (
    AuditLog,
    ClientRegistry,
    EnrolmentLedger,
    KeyStore,
    check_private,
    evaluate_elements,
)
from livc.platform import metrics

# --- OAuth2 (authlib) -----------------------------------------------------------------------


class _Client(ClientMixin):
    """A registered client, or (``registered=False``) an unknown id that no secret opens:
    an unknown id and a wrong secret get the same answer."""

    def __init__(self, client_id: str, registry: ClientRegistry, registered: bool):
        self.client_id = client_id
        self._registry = registry
        self._registered = registered

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return SCOPE

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return self._registered and self._registry.check(self.client_id, client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type == "client_credentials"


@dataclass
class _Token(TokenMixin):
    client_id: str
    scope: str
    issued_at: float
    expires_in: int
    registry: ClientRegistry
    fingerprint: str | None  # of the client's secret when the token was issued

    def check_client(self, client):
        return client.get_client_id() == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        # Removing a client, or giving it a new secret, ends its tokens at once.
        return self.fingerprint is None or self.registry.fingerprint(self.client_id) != self.fingerprint


class TokenStore:
    """Issued bearer tokens, in memory, by SHA-256 of the token (never the token itself)."""

    def __init__(self, registry: ClientRegistry):
        self._registry = registry
        self._lock = threading.Lock()
        self._tokens: dict[str, _Token] = {}

    @staticmethod
    def _digest(access_token: str) -> str:
        return hashlib.sha256(access_token.encode()).hexdigest()

    def save(self, token: Mapping[str, Any], client_id: str) -> None:
        now = time.time()
        with self._lock:
            self._tokens = {key: kept for key, kept in self._tokens.items() if now < kept.issued_at + kept.expires_in}
            self._tokens[self._digest(token["access_token"])] = _Token(
                client_id,
                token.get("scope", SCOPE),
                now,
                int(token["expires_in"]),
                self._registry,
                self._registry.fingerprint(client_id),
            )

    def find(self, access_token: str) -> _Token | None:
        with self._lock:
            return self._tokens.get(self._digest(access_token))


class _ClientCredentials(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class _BearerValidator(BearerTokenValidator):
    def __init__(self, tokens: TokenStore):
        super().__init__()
        self._tokens = tokens

    def authenticate_token(self, token_string):
        return self._tokens.find(token_string)


# --- the service ----------------------------------------------------------------------------


class Custodian:
    """Everything the service holds: secret, clients, tokens, rate limits, audit."""

    def __init__(self, settings: CustodianSettings):
        self.settings = settings
        self.keys = KeyStore(settings.keys_path, create=settings.create_key)
        self.clients = ClientRegistry(settings.clients_path)
        self.tokens = TokenStore(self.clients)
        self.audit = AuditLog(settings.audit_path)
        self.ledger = EnrolmentLedger(settings.enrolments_path, settings.enrolments_per_week, settings.reenrol_days)
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.redis_url or "memory://"))
        self.elements_limit = RateLimitItemPerMinute(settings.elements_per_minute)
        self.token_limit = RateLimitItemPerMinute(TOKEN_REQUESTS_PER_MINUTE)

    def charge(self, item, cost: int, *identifiers: str) -> None:
        if not self.limiter.hit(item, "livc-custodian", *identifiers, cost=cost):
            reset = self.limiter.get_window_stats(item, "livc-custodian", *identifiers).reset_time
            raise RateLimited(retry_after=max(1, math.ceil(reset - time.time())))


PURPOSES = ("enrol", "reenrol")


def _parse_purpose(body: dict) -> tuple[str | None, int | None]:
    purpose, scheme = body.get("purpose"), body.get("scheme")
    if purpose is not None and purpose not in PURPOSES:
        raise CustodianError("purpose: enrol or reenrol, or left out")
    if scheme is not None and (type(scheme) is not int or scheme < 0):
        raise CustodianError("scheme: a whole number, or left out")
    return purpose, scheme


def _parse_evaluation(body: object) -> tuple[str, int | None, list[bytes]]:
    """The cell, epoch and decoded elements of a request, or the CustodianError to answer."""
    if not isinstance(body, dict):
        raise CustodianError("the body is a JSON object with cell, elements and optionally epoch")
    cell = body.get("cell")
    if isinstance(cell, int) and not isinstance(cell, bool):
        cell = str(cell)
    if not isinstance(cell, str) or not CELL.fullmatch(cell):
        raise CustodianError("cell: the cell's address or id (letters, digits, . _ : -; at most 100)")
    epoch = body.get("epoch")
    if epoch is not None and (type(epoch) is not int or epoch < 1):
        raise CustodianError("epoch: a positive whole number, or left out for the current epoch")
    elements = body.get("elements")
    if not isinstance(elements, list) or not elements:
        raise CustodianError("elements: a non-empty list of base64url elements")
    if len(elements) > MAX_ELEMENTS:
        raise TooManyElements(f"at most {MAX_ELEMENTS} elements per call ({len(elements)} sent)")
    decoded = []
    for index, text in enumerate(elements):
        try:
            decoded.append(decode_element(text))
        except ValueError as error:
            raise InvalidElement(index, str(error)) from None
    return cell, epoch, decoded


def create_custodian_app(config: CustodianSettings | Mapping[str, Any] | None = None) -> Flask:
    """The custodian's web app. ``config``: its settings, or overrides of ``LIVC_CUSTODIAN_*``."""
    settings = config if isinstance(config, CustodianSettings) else load_custodian_settings(config)
    custodian = Custodian(settings)
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY,
        OAUTH2_SCOPES_SUPPORTED=[SCOPE],
        OAUTH2_TOKEN_EXPIRES_IN={"client_credentials": settings.token_seconds},
        OAUTH2_ACCESS_TOKEN_GENERATOR=lambda *args, **kwargs: secrets.token_urlsafe(32),
    )
    app.extensions["livc.custodian"] = custodian

    def query_client(client_id: str) -> _Client:
        return _Client(client_id, custodian.clients, custodian.clients.known(client_id))

    def save_token(token, oauth_request) -> None:
        custodian.tokens.save(token, oauth_request.client.get_client_id())

    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(_ClientCredentials)
    protector = ResourceProtector()
    protector.register_token_validator(_BearerValidator(custodian.tokens))

    def authenticated(endpoint: str) -> _Token:
        try:
            return protector.acquire_token([SCOPE])
        except OAuth2Error as error:
            unread = {"cell": None, "epoch": None, "elements": None} if endpoint == "evaluate" else {}
            custodian.audit.record(endpoint, client=None, **unread, outcome="unauthorized")
            protector.raise_error_response(error)

    def refusal(error: CustodianError):
        response = jsonify(error.body())
        response.status_code = error.status
        if isinstance(error, RateLimited | EnrolmentRefused):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.post("/oauth/token")
    def token():
        try:
            custodian.charge(custodian.token_limit, 1, "token", request.remote_addr or "?")
        except RateLimited as error:
            custodian.audit.record("token", client=None, outcome="rate_limited")
            return refusal(error)
        response = server.create_token_response()
        client_id = request.authorization.username if request.authorization else request.form.get("client_id")
        client_id = client_id if isinstance(client_id, str) and CLIENT_ID.fullmatch(client_id) else None
        outcome = "issued" if response.status_code == 200 else "refused"
        custodian.audit.record("token", client=client_id, outcome=outcome)
        return response

    @app.post("/evaluate")
    def evaluate():
        token = authenticated("evaluate")
        body = request.get_json(silent=True)
        cell = epoch = None
        marked: dict[str, str] = {}  # the call's purpose, when it says one (audited with it)
        count = len(body["elements"]) if isinstance(body, dict) and isinstance(body.get("elements"), list) else 0
        try:
            cell, epoch, elements = _parse_evaluation(body)
            purpose, scheme = _parse_purpose(body)
            marked = {"purpose": purpose} if purpose is not None else {}
            epoch, secret = custodian.keys.key(epoch)
            custodian.charge(custodian.elements_limit, len(elements), "cell", cell)
            if purpose is not None:
                if len(elements) > settings.elements_per_enrolment:
                    raise EnrolmentRefused(f"one case's keys per enrolment call (at most {settings.elements_per_enrolment})")
                custodian.ledger.admit(token.client_id, cell, purpose, epoch, custodian.keys.created(epoch), scheme)
            evaluated = evaluate_elements(secret, elements)
            metrics.elements_evaluated(len(evaluated))
        except CustodianError as error:
            custodian.audit.record(
                "evaluate", client=token.client_id, cell=cell, epoch=epoch, elements=count, outcome=error.code,
                **marked,
            )
            return refusal(error)
        custodian.audit.record("evaluate", client=token.client_id, cell=cell, epoch=epoch, elements=count, outcome="ok",
                               **marked)
        return jsonify({"epoch": epoch, "elements": [encode_element(item) for item in evaluated]})

    @app.get("/epochs")
    def epochs():
        authenticated("epochs")
        return jsonify(custodian.keys.status().as_json())

    @app.get("/healthz")
    def healthz():
        """Ready to evaluate: the key file and the clients file can be read and are private (a
        file that went missing, was garbled or opened to others answers 503, nothing more)."""
        try:
            custodian.keys.status()
            custodian.clients.ids()
            for path in (settings.keys_path, settings.clients_path):
                if path.exists():  # a file made readable by others since it was last read
                    check_private(path)
        except (CustodianConfigurationError, OSError):
            return jsonify({"status": "unavailable"}), 503
        return jsonify({"status": "ok"})

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.response is not None:
            return error.response
        if isinstance(getattr(error, "body", None), str):  # authlib's answers (401, WWW-Authenticate)
            return error.get_response()
        code = (error.name or "error").lower().replace(" ", "_")
        response = jsonify({"error": code, "message": error.description})
        response.status_code = error.code or 500
        return response

    @app.after_request
    def no_store(response):
        response.headers["Cache-Control"] = "no-store"
        return response

    return app
