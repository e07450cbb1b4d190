"""The key custodian's own settings (``LIVC_CUSTODIAN_*``, never the platform's), its errors
(each with the HTTP status and code the service answers) and the base64url wire encoding of
elements: what the service, its storage, its command line and the platform's client share."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from livc.federation import oprf
from livc.platform.settings import ConfigurationError

ENV_PREFIX = "LIVC_CUSTODIAN_"
SCOPE = "evaluate"
MAX_ELEMENTS = 1000  # per call; the client sends larger sets in batches
MAX_BODY = 256 * 1024  # bytes: 1000 elements of 43 characters fit with room to spare
TOKEN_REQUESTS_PER_MINUTE = 60  # per client address, at the token endpoint
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


class EnrolmentRefused(CustodianError):
    """Over the client's weekly enrolment budget for the cell, or a re-enrolment the custodian
    does not expect (THREAT_MODEL.md, "Probing"): the platform waits and retries (like 429)."""

    status, code = 429, "enrolment_budget"

    def __init__(self, message: str = "the cell's enrolments are over budget", retry_after: int = 3600):
        super().__init__(message)
        self.retry_after = retry_after


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


def timestamp_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    # No probing, enforced here too, per client and cell, whatever the platform says: new
    # enrolments (calls with "purpose": "enrol") per rolling week; above the platform's own
    # budget (LIVC_FEDERATION_ENROLMENTS_PER_WEEK, 10) so that an operator's release there still
    # passes, but a bound that a compromised platform cannot lift. Re-enrolments ("reenrol")
    # are admitted only under an epoch made current, or a key scheme first seen, within
    # reenrol_days, and no more per epoch and scheme than the cell ever enrolled.
    enrolments_per_week: int = Field(default=30, ge=1)
    reenrol_days: int = Field(default=30, ge=1)
    elements_per_enrolment: int = Field(default=128, ge=1, le=MAX_ELEMENTS)  # one case's keys
    enrolments_file: Path | None = None  # default data_dir/enrolments.json
    # Rate-limit counters shared by several custodian processes; in memory when unset.
    redis_url: str | None = Field(default=None, repr=False)
    # Proxies whose X-Forwarded-* headers are believed (TLS ended in front of the custodian).
    forwarded_allow_ips: str = "127.0.0.1,::1"
    # Prometheus metrics (evaluated elements, request latency) on a port of their own; off when unset.
    metrics_port: int | None = Field(default=None, gt=0, lt=65536)
    # Serve HTTPS directly (both or neither).
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    @field_validator("redis_url", "key_file", "clients_file", "audit_file", "enrolments_file", "tls_certfile", "tls_keyfile", "metrics_port",
                     mode="before")
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
    def enrolments_path(self) -> Path:
        return self.enrolments_file or self.data_dir / "enrolments.json"

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
