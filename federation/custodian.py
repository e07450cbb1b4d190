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
  ``{"cell": "...", "epoch": N (optional), "elements": ["<base64url>", ...]}``, at most
  :data:`MAX_ELEMENTS` per call, answers ``{"epoch": N, "elements": [...]}``. It never sees a
  match key: only points of ristretto255 that a random blind makes uniformly distributed.
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

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import math
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, jsonify, request
from limits import RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from werkzeug.exceptions import HTTPException

from livc.federation import oprf
from livc.platform.settings import ConfigurationError

ENV_PREFIX = "LIVC_CUSTODIAN_"
SCOPE = "evaluate"
MAX_ELEMENTS = 1000  # per call; the client sends larger sets in batches
MAX_BODY = 256 * 1024  # bytes: 1000 elements of 43 characters fit with room to spare
TOKEN_REQUESTS_PER_MINUTE = 60  # per client address, at the token endpoint
KEYS_FORMAT = "livc-custodian-keys/1"
CLIENTS_FORMAT = "livc-custodian-clients/1"
CELL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
CLIENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CLIENT_SECRET_MIN = 32  # characters, for a secret supplied rather than generated
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


# --- errors ---------------------------------------------------------------------------------


class CustodianError(Exception):
    """A refusal of the custodian; ``status`` and ``code`` are what the HTTP service answers."""

    status = 400
    code = "bad_request"

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": str(self)}


class UnknownEpoch(CustodianError):
    status, code = 409, "unknown_epoch"


class RetiredEpoch(CustodianError):
    status, code = 410, "retired_epoch"


class TooManyElements(CustodianError):
    status, code = 413, "too_many_elements"


class InvalidElement(CustodianError):
    status, code = 422, "invalid_element"

    def __init__(self, index: int, message: str = "not a valid ristretto255 element"):
        super().__init__(f"element {index}: {message}")
        self.index = index

    def body(self) -> dict[str, Any]:
        return {**super().body(), "index": self.index}


class RateLimited(CustodianError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str = "too many elements for this cell; try again later", retry_after: int = 60):
        super().__init__(message)
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {**super().body(), "retry_after": self.retry_after}


class CustodianConfigurationError(ConfigurationError):
    """The custodian's own settings or files are missing or wrong (names the variable or file)."""


# --- encodings and small helpers ------------------------------------------------------------


def encode_element(element: bytes) -> str:
    """An element as sent over HTTP: base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(element).decode().rstrip("=")


def decode_element(text: object) -> bytes:
    """The 32 bytes of an element in base64url (padding optional); ValueError otherwise."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise ValueError("not base64url text")
    unpadded = text.rstrip("=")
    try:
        value = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url text") from None
    if len(value) != oprf.ELEMENT_BYTES or encode_element(value) != unpadded:
        raise ValueError(f"not {oprf.ELEMENT_BYTES} bytes in canonical base64url")
    return value


def epoch_info(epoch: int) -> bytes:
    """The ``info`` of DeriveKeyPair for an epoch: binds each key to its epoch number."""
    return b"livc custodian epoch %d" % epoch


def epoch_key(seed: bytes, epoch: int) -> bytes:
    """The OPRF secret of an epoch, from that epoch's seed."""
    return oprf.derive_key(seed, epoch_info(epoch))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _stat_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


def _check_private(path: Path) -> None:
    """Refuse a secret file that anybody (other than its owner and group) may read or change."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXO):
        raise CustodianConfigurationError(
            f"{path} is accessible to other users (mode {stat.filemode(mode)}): chmod 600 it"
        )


def _write_private(path: Path, content: str, *, exclusive: bool = False) -> bool:
    """Write ``path`` (mode 600) whole, under a temporary name first, then into place.

    ``exclusive``: only if ``path`` does not exist (the first of several writers wins; False
    when another one was first). Otherwise the file is replaced atomically: a reader sees the
    old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
        else:
            os.replace(temporary, path)
        return True
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of ``path`` between processes (the admin commands)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = path.with_name(f".{path.name}.lock")
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


# --- settings -------------------------------------------------------------------------------


class CustodianSettings(BaseSettings):
    """The custodian's own settings; field ``foo`` is read from ``LIVC_CUSTODIAN_FOO``.

    Nothing here is shared with the platform's settings (``LIVC_*``): the two run apart.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    # Its state: keys.json (the secret), clients.json, audit.jsonl. Own volume in production.
    data_dir: Path = Path("var/custodian")
    # Create the key file (epoch 1) when there is none, at start. Off by default: only for a
    # first installation (or development), since a new key matches no token enrolled before.
    create_key: bool = False
    key_file: Path | None = None  # default data_dir/keys.json
    clients_file: Path | None = None  # default data_dir/clients.json
    audit_file: Path | None = None  # default data_dir/audit.jsonl
    host: str = "127.0.0.1"
    port: int = Field(default=5100, gt=0, lt=65536)
    # Per cell, whatever the client. At least one full call (MAX_ELEMENTS).
    elements_per_minute: int = Field(default=20_000, ge=MAX_ELEMENTS)
    token_seconds: int = Field(default=600, ge=1, le=3600)
    # Rate-limit counters shared by several custodian processes; in memory when unset.
    redis_url: str | None = Field(default=None, repr=False)
    # Proxies whose X-Forwarded-* headers are believed (TLS ended in front of the custodian).
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Serve HTTPS directly (both or neither).
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    @field_validator("redis_url", "key_file", "clients_file", "audit_file", "tls_certfile", "tls_keyfile", mode="before")
    @classmethod
    def _blank_is_unset(cls, value):
        return value or None

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @property
    def keys_path(self) -> Path:
        return self.key_file or self.data_dir / "keys.json"

    @property
    def clients_path(self) -> Path:
        return self.clients_file or self.data_dir / "clients.json"

    @property
    def audit_path(self) -> Path:
        return self.audit_file or self.data_dir / "audit.jsonl"


def load_custodian_settings(overrides: Mapping[str, Any] | None = None) -> CustodianSettings:
    """Read ``LIVC_CUSTODIAN_*`` (``overrides`` win) or raise a one-line configuration error."""
    values = {key.lower(): value for key, value in (overrides or {}).items()}
    try:
        settings = CustodianSettings(**values)
    except ValidationError as error:
        problem = error.errors(include_url=False, include_input=False)[0]
        where = f"{ENV_PREFIX}{str(problem['loc'][0]).upper()}" if problem["loc"] else ENV_PREFIX + "*"
        raise CustodianConfigurationError(f"{where}: {problem['msg'].removeprefix('Value error, ')}") from None
    if (settings.tls_certfile is None) != (settings.tls_keyfile is None):
        raise CustodianConfigurationError(f"{ENV_PREFIX}TLS_CERTFILE and {ENV_PREFIX}TLS_KEYFILE go together")
    return settings


# --- the secret: seeds per epoch ------------------------------------------------------------


@dataclass(frozen=True)
class Epoch:
    number: int
    created: str
    seed: bytes | None  # None once retired: the secret is gone
    retired: str | None = None


@dataclass(frozen=True)
class EpochStatus:
    """What anybody may know of the epochs: numbers only."""

    current: int
    active: tuple[int, ...]
    retired: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        return {"current": self.current, "active": list(self.active), "retired": list(self.retired)}


class KeyStore:
    """The custodian's secret: one seed per epoch, in its key file or (``path=None``) in memory.

    The file is re-read whenever it changed (another process rotated or retired), so a running
    service follows the admin commands. Changes are written whole and atomically, under a lock.
    """

    def __init__(self, path: Path | None, *, create: bool = False, seed: bytes | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._epochs: dict[int, Epoch] = {}
        self._current = 0
        self._keys: dict[tuple[int, bytes], bytes] = {}
        if seed is not None and len(seed) != 32:
            raise ValueError("a seed is 32 bytes")
        if path is None:
            self._epochs = {1: Epoch(1, _now(), seed or secrets.token_bytes(32))}
            self._current = 1
            return
        if not path.exists():
            if not create:
                raise CustodianConfigurationError(
                    f"no key file at {path}: run livc custodian init first (a first installation only: "
                    "a new key matches no token enrolled under a lost one; restore the key file otherwise)"
                )
            first = {1: Epoch(1, _now(), seed or secrets.token_bytes(32))}
            _write_private(path, self._dump(1, first), exclusive=True)  # another process may win
        self._reload()

    # -- reading

    @staticmethod
    def _dump(current: int, epochs: Mapping[int, Epoch]) -> str:
        return json.dumps(
            {
                "format": KEYS_FORMAT,
                "current": current,
                "epochs": [
                    {
                        "epoch": epoch.number,
                        "created": epoch.created,
                        "seed": None if epoch.seed is None else base64.urlsafe_b64encode(epoch.seed).decode(),
                        "retired": epoch.retired,
                    }
                    for epoch in sorted(epochs.values(), key=lambda item: item.number)
                ],
            },
            indent=2,
        ) + "\n"

    def _parse(self, text: str) -> tuple[int, dict[int, Epoch]]:
        problem = f"{self.path} is not a custodian key file"
        try:
            data = json.loads(text)
            if data.get("format") != KEYS_FORMAT:
                raise ValueError
            epochs: dict[int, Epoch] = {}
            for item in data["epochs"]:
                number = item["epoch"]
                if type(number) is not int or number < 1 or number in epochs:
                    raise ValueError
                seed = None if item["seed"] is None else base64.urlsafe_b64decode(item["seed"])
                if seed is not None and len(seed) != 32:
                    raise ValueError
                if (seed is None) == (item.get("retired") is None):
                    raise ValueError
                epochs[number] = Epoch(number, str(item["created"]), seed, item.get("retired"))
            current = data["current"]
            if current not in epochs or epochs[current].seed is None:
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise CustodianConfigurationError(problem) from None
        return current, epochs

    def _reload(self) -> None:
        """(With the lock held, or from __init__.) Read the file again if it changed."""
        if self.path is None:
            return
        signature = _stat_signature(self.path)
        if signature is None:
            raise CustodianConfigurationError(f"the key file {self.path} disappeared")
        if signature == self._signature:
            return
        _check_private(self.path)
        self._current, self._epochs = self._parse(self.path.read_text())
        self._signature = signature

    def status(self) -> EpochStatus:
        with self._lock:
            self._reload()
            numbers = sorted(self._epochs)
            return EpochStatus(
                current=self._current,
                active=tuple(n for n in numbers if self._epochs[n].seed is not None),
                retired=tuple(n for n in numbers if self._epochs[n].seed is None),
            )

    @property
    def current_epoch(self) -> int:
        return self.status().current

    def key(self, epoch: int | None = None) -> tuple[int, bytes]:
        """The epoch (default the current one) and its OPRF secret; refused when unknown or retired."""
        with self._lock:
            self._reload()
            number = self._current if epoch is None else epoch
            found = self._epochs.get(number)
            if found is None:
                raise UnknownEpoch(f"epoch {number} does not exist (current: {self._current})")
            if found.seed is None:
                raise RetiredEpoch(f"epoch {number} is retired")
            cache_key = (number, found.seed)
            if cache_key not in self._keys:
                self._keys[cache_key] = epoch_key(found.seed, number)
            return number, self._keys[cache_key]

    # -- changing

    @contextlib.contextmanager
    def _change(self) -> Iterator[None]:
        if self.path is None:
            with self._lock:
                yield
            return
        with _locked(self.path), self._lock:
            self._signature = None  # read afresh under the lock
            self._reload()
            yield
            _write_private(self.path, self._dump(self._current, self._epochs))
            self._signature = _stat_signature(self.path)

    def rotate(self, seed: bytes | None = None) -> int:
        """Start a new epoch with a fresh seed and make it current; older ones stay active."""
        if seed is not None and len(seed) != 32:
            raise ValueError("a seed is 32 bytes")
        with self._change():
            number = max(self._epochs) + 1
            self._epochs[number] = Epoch(number, _now(), seed or secrets.token_bytes(32))
            self._current = number
            return number

    def retire(self, epoch: int) -> None:
        """Delete an old epoch's seed: its evaluation is refused from now on, for good."""
        with self._change():
            found = self._epochs.get(epoch)
            if found is None:
                raise UnknownEpoch(f"epoch {epoch} does not exist")
            if found.seed is None:
                raise RetiredEpoch(f"epoch {epoch} is already retired")
            if epoch == self._current:
                raise CustodianError(f"epoch {epoch} is the current epoch: rotate first")
            self._epochs[epoch] = Epoch(epoch, found.created, None, _now())
            self._keys = {key: value for key, value in self._keys.items() if key[0] != epoch}


def evaluate_elements(secret: bytes, elements: list[bytes]) -> list[bytes]:
    """BlindEvaluate every element; :class:`InvalidElement` names the first one refused."""
    evaluated = []
    for index, element in enumerate(elements):
        try:
            evaluated.append(oprf.blind_evaluate(secret, element))
        except oprf.OprfError as error:
            raise InvalidElement(index, str(error)) from None
    return evaluated


# --- registered clients ---------------------------------------------------------------------


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ClientRegistry:
    """The clients allowed a token: id and SHA-256 of the secret, in the clients file."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._clients: dict[str, dict[str, str]] = {}

    def _read(self) -> dict[str, dict[str, str]]:
        signature = _stat_signature(self.path)
        if signature is None:
            self._clients, self._signature = {}, None
            return self._clients
        if signature != self._signature:
            _check_private(self.path)
            try:
                data = json.loads(self.path.read_text())
                if data.get("format") != CLIENTS_FORMAT or not isinstance(data.get("clients"), dict):
                    raise ValueError
                clients = {str(name): dict(entry) for name, entry in data["clients"].items()}
            except (ValueError, TypeError, AttributeError):
                raise CustodianConfigurationError(f"{self.path} is not a custodian clients file") from None
            self._clients, self._signature = clients, signature
        return self._clients

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(self._read())

    def known(self, client_id: str) -> bool:
        return self.fingerprint(client_id) is not None

    def fingerprint(self, client_id: str) -> str | None:
        """The client's current secret hash (changes when it gets a new secret), or None."""
        with self._lock:
            entry = self._read().get(client_id)
        return entry.get("secret_sha256") if entry else None

    def check(self, client_id: str, secret: str) -> bool:
        with self._lock:
            entry = self._read().get(client_id)
        expected = entry.get("secret_sha256", "") if entry else "0" * 64
        return hmac.compare_digest(_secret_hash(secret), expected) and entry is not None

    def _write(self, clients: dict[str, dict[str, str]]) -> None:
        _write_private(self.path, json.dumps({"format": CLIENTS_FORMAT, "clients": clients}, indent=2) + "\n")

    def add(self, client_id: str, secret: str | None = None) -> str:
        """Register (or give a new secret to) ``client_id``; returns the secret, kept only hashed."""
        if not CLIENT_ID.fullmatch(client_id):
            raise ValueError("a client id is 1 to 64 letters, digits, dots, dashes or underscores")
        if secret is not None and len(secret) < CLIENT_SECRET_MIN:
            raise ValueError(f"a client secret has at least {CLIENT_SECRET_MIN} characters")
        secret = secret or secrets.token_urlsafe(32)
        with _locked(self.path), self._lock:
            self._signature = None
            clients = dict(self._read())
            clients[client_id] = {"secret_sha256": _secret_hash(secret), "created": _now()}
            self._write(clients)
        return secret

    def remove(self, client_id: str) -> bool:
        with _locked(self.path), self._lock:
            self._signature = None
            clients = dict(self._read())
            if clients.pop(client_id, None) is None:
                return False
            self._write(clients)
        return True


# --- audit ----------------------------------------------------------------------------------


class AuditLog:
    """Append-only JSON lines: who asked what for which cell, and the outcome. Never elements."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> None:
        line = json.dumps({"time": _now(), "event": event, **fields}, separators=(",", ":")) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line.encode())
            finally:
                os.close(descriptor)


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
        self.limiter = MovingWindowRateLimiter(storage_from_string(settings.redis_url or "memory://"))
        self.elements_limit = RateLimitItemPerMinute(settings.elements_per_minute)
        self.token_limit = RateLimitItemPerMinute(TOKEN_REQUESTS_PER_MINUTE)

    def charge(self, item, cost: int, *identifiers: str) -> None:
        if not self.limiter.hit(item, "livc-custodian", *identifiers, cost=cost):
            reset = self.limiter.get_window_stats(item, "livc-custodian", *identifiers).reset_time
            raise RateLimited(retry_after=max(1, math.ceil(reset - time.time())))


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
        if isinstance(error, RateLimited):
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
        count = len(body["elements"]) if isinstance(body, dict) and isinstance(body.get("elements"), list) else 0
        try:
            cell, epoch, elements = _parse_evaluation(body)
            epoch, secret = custodian.keys.key(epoch)
            custodian.charge(custodian.elements_limit, len(elements), "cell", cell)
            evaluated = evaluate_elements(secret, elements)
        except CustodianError as error:
            custodian.audit.record(
                "evaluate", client=token.client_id, cell=cell, epoch=epoch, elements=count, outcome=error.code
            )
            return refusal(error)
        custodian.audit.record("evaluate", client=token.client_id, cell=cell, epoch=epoch, elements=count, outcome="ok")
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
                    _check_private(path)
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


def serve(settings: CustodianSettings, host: str | None = None, port: int | None = None, threads: int = 4) -> None:
    """Serve the custodian with gunicorn: one process (tokens live in its memory), threads."""
    from gunicorn.app.base import BaseApplication

    existed = settings.keys_path.exists()
    KeyStore(settings.keys_path, create=settings.create_key)  # fail at start, not at the first request
    if not existed:
        click.echo(f"livc custodian: created {settings.keys_path}: a new key, epoch 1", err=True)

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host or settings.host}:{port or settings.port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")
            self.cfg.set("forwarded_allow_ips", settings.forwarded_allow_ips)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 27: no runtime control
                self.cfg.set("control_socket_disable", True)
            if settings.tls_certfile:
                self.cfg.set("certfile", str(settings.tls_certfile))
                self.cfg.set("keyfile", str(settings.tls_keyfile))

        def load(self):
            return create_custodian_app(settings)  # in the worker: no state across the fork

    Server().run()


# --- the command line: livc custodian ... ---------------------------------------------------


@click.group("custodian")
def cli() -> None:
    """The federation's key custodian: its own process and secret (settings LIVC_CUSTODIAN_*)."""


@cli.command("serve")
@click.option("--host", default=None, help="Address to listen on (default LIVC_CUSTODIAN_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default LIVC_CUSTODIAN_PORT, 5100).")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Request threads.")
@click.option("--create-key", is_flag=True,
              help="Create the key file (epoch 1) if there is none: a first installation only "
                   "(default LIVC_CUSTODIAN_CREATE_KEY, false).")
def serve_command(host: str | None, port: int | None, threads: int, create_key: bool) -> None:
    """Serve the custodian. Without its key file it refuses to start (livc custodian init makes
    one), unless told to create it."""
    settings = load_custodian_settings({"create_key": True} if create_key else None)
    if not ClientRegistry(settings.clients_path).ids():
        click.echo("livc custodian: no registered client yet (livc custodian clients add ID)", err=True)
    serve(settings, host, port, threads)


@cli.command("init")
def init_command() -> None:
    """Create the key file (epoch 1) if there is none; change nothing otherwise."""
    settings = load_custodian_settings()
    existed = settings.keys_path.exists()
    status = KeyStore(settings.keys_path, create=True).status()
    click.echo(f"{'kept' if existed else 'created'} {settings.keys_path}: current epoch {status.current}")


@cli.command("status")
def status_command() -> None:
    """The epochs (current, active, retired) and the registered clients."""
    settings = load_custodian_settings()
    status = KeyStore(settings.keys_path).status()
    click.echo(f"key file: {settings.keys_path}")
    click.echo(f"current epoch: {status.current}")
    click.echo(f"active epochs: {', '.join(map(str, status.active))}")
    click.echo(f"retired epochs: {', '.join(map(str, status.retired)) or '-'}")
    click.echo(f"clients: {', '.join(ClientRegistry(settings.clients_path).ids()) or '-'}")


@cli.command("rotate")
def rotate_command() -> None:
    """Start a new epoch (a new secret) and make it current; older epochs stay evaluable."""
    settings = load_custodian_settings()
    keys = KeyStore(settings.keys_path)
    previous = keys.current_epoch
    epoch = keys.rotate()
    AuditLog(settings.audit_path).record("rotate", epoch=epoch, previous=previous)
    click.echo(f"epoch {epoch} is now current. Once the platform has re-enrolled every case under it,")
    click.echo(f"retire the old one: livc custodian retire {previous}")


@cli.command("retire")
@click.argument("epoch", type=click.IntRange(min=1))
def retire_command(epoch: int) -> None:
    """Delete an old epoch's secret: its tokens can never be evaluated again."""
    settings = load_custodian_settings()
    try:
        KeyStore(settings.keys_path).retire(epoch)
    except CustodianError as error:
        raise click.ClickException(str(error)) from None
    AuditLog(settings.audit_path).record("retire", epoch=epoch)
    click.echo(f"epoch {epoch} retired: its seed is deleted")


@cli.group("clients")
def clients_group() -> None:
    """The clients allowed to ask for evaluations (the platform's deployments)."""


@clients_group.command("add")
@click.argument("client_id")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from standard input instead of generating one.")
def clients_add(client_id: str, secret_stdin: bool) -> None:
    """Register CLIENT_ID (or give it a new secret) and print the secret, once."""
    settings = load_custodian_settings()
    supplied = click.get_text_stream("stdin").readline().strip() if secret_stdin else None
    try:
        secret = ClientRegistry(settings.clients_path).add(client_id, supplied)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    AuditLog(settings.audit_path).record("client_added", client=client_id)
    click.echo(f"client {client_id} registered; on the platform set LIVC_CUSTODIAN_CLIENT_ID={client_id} and")
    if supplied:
        click.echo("LIVC_CUSTODIAN_CLIENT_SECRET to the secret given (kept here only as a hash).")
    else:
        click.echo("LIVC_CUSTODIAN_CLIENT_SECRET to this secret (shown once, kept here only as a hash):")
        click.echo(secret)


@clients_group.command("remove")
@click.argument("client_id")
def clients_remove(client_id: str) -> None:
    """Remove CLIENT_ID: its tokens stop working at once."""
    settings = load_custodian_settings()
    if not ClientRegistry(settings.clients_path).remove(client_id):
        raise click.ClickException(f"no client {client_id!r}")
    AuditLog(settings.audit_path).record("client_removed", client=client_id)
    click.echo(f"client {client_id} removed")


@clients_group.command("list")
def clients_list() -> None:
    """The registered client ids."""
    for client_id in ClientRegistry(load_custodian_settings().clients_path).ids():
        click.echo(client_id)
