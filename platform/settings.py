"""Settings, read once from ``LIVC_*`` environment variables, typed and validated at start-up.

Development needs no configuration at all: an SQLite file under ``LIVC_DATA_DIR``, jobs run
inline, a secret key generated once and kept in the data folder. Production refuses to start
on a missing or unsafe setting and says, in one line, which variable to fix.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ENV_PREFIX = "LIVC_"
LANGUAGES = ("nl", "fr", "de", "en")


class ConfigurationError(Exception):
    """A setting is missing or wrong; the message names the environment variable."""


def variable(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


MASTER_KEY_BYTES = 32
_URLSAFE_B64 = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def parse_master_key(value: str) -> bytes:
    """The 32 bytes of a master key written as urlsafe base64 (padding optional).

    Strict on purpose: a key that only decodes after dropping stray characters, or that is
    shorter than 256 bits, is a mistake to report, not to repair.
    """
    value = value.strip()
    unpadded = value.rstrip("=")
    if not _URLSAFE_B64.match(value) or len(unpadded) % 4 == 1 or (value != unpadded and len(value) % 4):
        raise ValueError("must be urlsafe base64 of 32 random bytes")
    try:
        key = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("must be urlsafe base64 of 32 random bytes") from None
    if len(key) != MASTER_KEY_BYTES or base64.urlsafe_b64encode(key).decode().rstrip("=") != unpadded:
        raise ValueError("must be urlsafe base64 of exactly 32 random bytes")
    return key


class Settings(BaseSettings):
    """Every setting of the platform. Field ``foo`` is read from ``LIVC_FOO``."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = "development"
    secret_key: str | None = Field(default=None, repr=False)
    # Wraps every cell's data keys (see livc.platform.keys). Deliberately not derived from
    # secret_key: rotating the cookie secret must never make encrypted identities unreadable,
    # and this key can later move to a KMS while the cookie secret stays in configuration.
    master_key: str | None = Field(default=None, repr=False)
    data_dir: Path = Path("var")
    database_url: str | None = Field(default=None, repr=False)
    # Migrations run as the owner of the tables; the app connects as a role that owns nothing
    # and cannot bypass row-level security. Defaults to database_url (fine on SQLite).
    migrate_database_url: str | None = Field(default=None, repr=False)
    database_pool_size: int = Field(default=5, gt=0, le=100)
    redis_url: str | None = Field(default=None, repr=False)
    default_locale: Literal["nl", "fr", "en"] = "nl"
    max_content_length: int = Field(default=2 * 1024 * 1024, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=5000, gt=0, lt=65536)
    queue_prefix: str = ""
    # Proxies whose X-Forwarded-* headers are believed (gunicorn's scheme, the client address
    # of rate limits): addresses or CIDR networks, comma-separated. None by default; never "*".
    forwarded_allow_ips: str = ""
    # Where people reach the platform: links in e-mails are built on it.
    public_url: str | None = None
    # Outgoing mail: smtp://user:password@host:port (STARTTLS when offered) or smtps://...;
    # unset, mails are written as .eml files under data_dir/mail (development only).
    smtp_url: str | None = Field(default=None, repr=False)
    mail_from: str = "livc <no-reply@localhost>"
    # Sign-in sessions end after this much inactivity, and in any case this long after sign-in.
    session_idle_minutes: int = Field(default=30, gt=0, le=24 * 60)
    session_absolute_hours: int = Field(default=12, gt=0, le=7 * 24)
    # Temporary lock-out after this many failed sign-ins in a row for one e-mail address.
    sign_in_failures_allowed: int = Field(default=5, gt=0, le=100)
    lockout_minutes: int = Field(default=15, gt=0, le=24 * 60)
    # The federation's key custodian (livc.federation.custodian), a separate deployment that
    # alone holds the OPRF secret: only its address and this platform's client credentials are
    # configured here, never its secret. Unset outside production: an in-process custodian
    # (development and demo only, see livc.federation.custodian_client.custodian_for).
    custodian_url: str | None = None
    custodian_client_id: str | None = None
    custodian_client_secret: str | None = Field(default=None, repr=False)
    # No probing (federation/THREAT_MODEL.md): new enrolments a cell may make per rolling week
    # before further ones are held for an operator's release, and how many days after an alert
    # the newer case's closure or erasure is shown to the earlier cell.
    federation_enrolments_per_week: int = Field(default=10, gt=0, le=10_000)
    federation_probing_window_days: int = Field(default=14, gt=0, le=365)
    # Single sign-on may reach a provider on a private or loopback address (a provider on
    # 127.0.0.1 in development and tests); production refuses to start with it.
    sso_allow_private: bool = False
    # Prometheus metrics (livc.platform.metrics) on a port of their own, apart from the app's
    # (never through the ingress). Unset: no exporter. The chart's suggestion: 9100.
    metrics_port: int | None = Field(default=None, gt=0, lt=65536)

    @field_validator(
        "database_url", "migrate_database_url", "redis_url", "secret_key", "master_key", "smtp_url", "public_url"
    )
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _blank_port_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _forwarded_allow_ips(cls, value: str) -> str:
        """Addresses or networks (CIDR), comma-separated; ``*`` is refused: it would let any
        peer write the client address that rate limits count by."""
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            if entry == "*":
                raise ValueError("'*' trusts every peer; name the proxies' addresses or networks (e.g. 10.0.0.0/8)")
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or a network") from None
        return ",".join(entries)

    @field_validator("database_url", "migrate_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("is not a database URL") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError("must be an sqlite:// or postgresql:// URL")
        if url.get_backend_name() == "postgresql" and url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)

    @field_validator("master_key")
    @classmethod
    def _master_key(cls, value: str | None) -> str | None:
        if value is not None:
            parse_master_key(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("custodian_url", "custodian_client_id", "custodian_client_secret")
    @classmethod
    def _custodian(cls, value: str | None, info) -> str | None:
        value = value or None
        if info.field_name == "custodian_url" and value is not None:
            if not value.startswith(("http://", "https://")):
                raise ValueError("must be an http:// or https:// URL")
            value = value.rstrip("/")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("smtp://", "smtps://")):
            raise ValueError("must be an smtp:// or smtps:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @model_validator(mode="after")
    def _master_key_apart(self) -> Settings:
        # One leaked value must not both forge cookies and unwrap every cell's data keys.
        if self.master_key and self.secret_key and self.master_key.strip() == self.secret_key.strip():
            raise ValueError("master_key: must differ from LIVC_SECRET_KEY")
        return self

    @model_validator(mode="after")
    def _custodian_credentials(self) -> Settings:
        if self.custodian_url and not (self.custodian_client_id and self.custodian_client_secret):
            field = "custodian_client_id" if not self.custodian_client_id else "custodian_client_secret"
            raise ValueError(f"{field}: required with LIVC_CUSTODIAN_URL (livc custodian clients add prints them)")
        return self

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        if self.env != "production":
            return self
        if not self.secret_key or len(self.secret_key) < 32:
            raise ValueError("secret_key: required in production, at least 32 characters")
        if not self.master_key:
            raise ValueError("master_key: required in production, urlsafe base64 of 32 random bytes")
        if not self.database_url or not self.database_url.startswith("postgresql"):
            raise ValueError("database_url: required in production, a postgresql:// URL")
        if not self.redis_url:
            raise ValueError("redis_url: required in production (jobs must not run inline)")
        if not self.public_url or not self.public_url.startswith("https://"):
            raise ValueError("public_url: required in production, an https:// URL")
        if not self.smtp_url:
            raise ValueError("smtp_url: required in production (invitations and resets are mailed)")
        if self.sso_allow_private:
            raise ValueError("sso_allow_private: not in production (SSO must reach public providers only)")
        return self

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def explicit_development(self) -> bool:
        """``LIVC_ENV=development`` was set, not merely left unset: what shows secrets (the
        development outbox's invitation and reset links) needs it, so a deployment that forgot
        the setting does not show them."""
        return self.env == "development" and "env" in self.model_fields_set

    @property
    def demo_allowed(self) -> bool:
        """Demo cells and accounts (their password is published) may be seeded: development
        set explicitly, or the test suite; never a deployment that left ``LIVC_ENV`` unset."""
        return self.explicit_development or self.env == "test"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'livc.sqlite').resolve()}"

    @property
    def migration_url(self) -> str:
        return self.migrate_database_url or self.sqlalchemy_url

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def jobs_inline(self) -> bool:
        return self.redis_url is None

    def prepare_data_dir(self) -> None:
        """The embedded database and development secrets live here; create it when needed.

        Private whatever the umask: the folder is created 0700 and the embedded database 0600
        (it holds members' addresses and the audit trails), so other users of the machine read
        neither.
        """
        if self.database_url is None or self.secret_key is None or self.master_key is None:
            if not self.data_dir.exists():
                self.data_dir.mkdir(parents=True, exist_ok=True)
                self.data_dir.chmod(0o700)
        if self.database_url is None:
            database = self.data_dir / "livc.sqlite"
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
            database.chmod(0o600)

    def flask_secret_key(self) -> str:
        """The configured key, or in development one generated once and kept in data_dir."""
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if not key_file.exists():
            self.prepare_data_dir()
            key_file.touch(mode=0o600)
            key_file.write_text(secrets.token_urlsafe(48))
        return key_file.read_text().strip()

    def master_key_bytes(self) -> bytes:
        """The configured master key, or in development one generated once into data_dir.

        Production always configures it (checked at start). The generated file is written
        whole under a temporary name and then linked into place, so processes starting
        together never read a half-written key, nor each keep a different one: losing or
        replacing this key makes every encrypted identity unreadable.
        """
        if self.master_key:
            return parse_master_key(self.master_key)
        key_file = self.data_dir / "master_key"
        if not key_file.exists():
            self.prepare_data_dir()
            generated = base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES)).decode()
            _create_secret_file(key_file, generated)
        try:
            return parse_master_key(key_file.read_text())
        except ValueError as error:
            problem = f"the generated key in {key_file} {error}"
            raise ConfigurationError(f"{variable('master_key')}: {problem}") from None


def _create_secret_file(path: Path, content: str) -> None:
    """Write ``path`` (mode 600) unless it exists, atomically: the first writer wins."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: keep its key
    finally:
        temporary.unlink(missing_ok=True)


def load_settings(overrides: dict | None = None) -> Settings:
    """Read the environment (``overrides`` win) or raise one-line :class:`ConfigurationError`."""
    values = {key.lower(): value for key, value in (overrides or {}).items()}
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigurationError(_first_problem(error)) from None


def _first_problem(error: ValidationError) -> str:
    problem = error.errors(include_url=False, include_input=False)[0]
    message = problem["msg"].removeprefix("Value error, ")
    if problem["loc"]:
        return f"{variable(str(problem['loc'][0]))}: {message}"
    # Model-level rules start their message with the field name.
    field, _, rest = message.partition(": ")
    return f"{variable(field)}: {rest}"
