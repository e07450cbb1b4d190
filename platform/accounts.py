"""People who sign in: one global account per e-mail address, and their credentials.

An account holds who someone is and how they prove it (argon2id password, TOTP second
factor, one-time recovery codes, links to single sign-on identities). What they may do lives
in their memberships of cells (:mod:`livc.tenants.members`). Nothing here ever tells a caller
whether an e-mail address has an account: failures look and take the same.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import pyotp
import segno
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy_utils import StringEncryptedType
from sqlalchemy_utils.types.encrypted.encrypted_type import AesGcmEngine

from livc.platform.crypto import derived_key, keyed_digest, new_token, token_digest
from livc.platform.db import Id, TenantScoped, db
from livc.platform.timeutil import utcnow

log = logging.getLogger(__name__)

PASSWORD_MIN = 12
PASSWORD_MAX = 200
EMAIL_MAX = 254
NAME_MAX = 120
TOTP_ISSUER = "livc"
TOTP_STEP = 30
RECOVERY_CODE_COUNT = 10
PASSWORD_RESET_LIFETIME = timedelta(hours=1)

_hasher = PasswordHasher()  # argon2id with the RFC 9106 low-memory parameters


def normalise_email(email: str) -> str:
    return email.strip().lower()


#: The demo's accounts (``livc demo``), members and operator alike, live under this domain;
#: ``.example`` is reserved (RFC 2606), so no real person's address is ever in it. Their
#: password is published: production refuses them at sign-in (:func:`refused_as_demo`).
DEMO_DOMAIN = "demo.livc.example"


def is_demo_address(email: str) -> bool:
    return normalise_email(email).endswith(f"@{DEMO_DOMAIN}")


def refused_as_demo(email: str) -> bool:
    """A demo account trying to sign in to a production deployment (seeded there before
    seeding was refused, or copied from a demo database): refused, and logged."""
    if not (is_demo_address(email) and current_app.extensions["livc.settings"].production):
        return False
    log.warning("sign-in of a demo account refused in production")
    return True


def _totp_key() -> bytes:
    return derived_key("totp-secret")


class Credentials:
    """How someone proves who they are: argon2id password, TOTP second factor, recovery codes.

    Mixed into :class:`Account` (cell members) and the operator console's own accounts
    (:mod:`livc.admin.operators`), so the helpers below serve both realms. A subclass maps a
    ``recovery_codes`` relationship to its own table of codes (``code_digest``, ``used_at``).
    """

    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    password_changed_at: Mapped[datetime | None]
    # Encrypted at rest (AES-GCM) under a key derived from the platform secret.
    totp_secret: Mapped[str | None] = mapped_column(StringEncryptedType(sa.String, _totp_key, AesGcmEngine))
    totp_enabled_at: Mapped[datetime | None]
    # The last time step a code was accepted for: a code is never accepted twice.
    totp_last_step: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    disabled_at: Mapped[datetime | None]

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def has_totp(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None

    @property
    def remaining_recovery_codes(self) -> int:
        return sum(1 for code in self.recovery_codes if code.used_at is None)


class Account(Credentials, db.Model):
    """A person who can sign in. Global: the same person may be a member of several cells."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(EMAIL_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(NAME_MAX), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(cascade="all, delete-orphan")

    @property
    def label(self) -> str:
        return self.display_name or self.email


class RecoveryCode(db.Model):
    """A one-time code that replaces the second factor once, kept as a keyed digest."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None]


class SignInThrottle(db.Model):
    """Failed sign-ins per e-mail address, known or not (keyed digest): lock-out without telling."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]


class PasswordReset(TenantScoped, db.Model):
    """A single-use, expiring password reset link for one cell (only its digest is kept)."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    account_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()


class AccountIdentity(db.Model):
    """An account's identity at an OpenID Connect provider (issuer + subject)."""

    __tablename__ = "account_identities"
    __table_args__ = (sa.UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(sa.String(300))
    subject: Mapped[str] = mapped_column(sa.String(255))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship()


# --- look-up --------------------------------------------------------------------------------


def find_account(email: str) -> Account | None:
    return db.session.execute(
        sa.select(Account).where(Account.email == normalise_email(email))
    ).scalar_one_or_none()


def get_or_create_account(email: str, display_name: str = "") -> Account:
    account = find_account(email)
    if account is None:
        account = Account(email=normalise_email(email), display_name=display_name.strip())
        db.session.add(account)
        db.session.flush()
    elif display_name and not account.display_name:
        account.display_name = display_name.strip()
    return account


# --- passwords ------------------------------------------------------------------------------


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is not acceptable (a message key), or None."""
    if len(password) < PASSWORD_MIN:
        return "too_short"
    if len(password) > PASSWORD_MAX:
        return "too_long"
    if email and normalise_email(password) == normalise_email(email):
        return "is_email"
    if len(set(password)) < 5:
        return "too_simple"
    return None


def set_password(account: Credentials, password: str) -> None:
    account.password_hash = _hasher.hash(password)
    account.password_changed_at = utcnow()


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def check_password(account: Credentials | None, password: str) -> bool:
    """True when ``password`` is the account's. Takes as long when there is no such account."""
    stored = account.password_hash if account is not None and account.password_hash else None
    try:
        _hasher.verify(stored or _dummy_hash(), password[: PASSWORD_MAX + 1])
    except (VerificationError, InvalidHashError):
        return False
    if stored is None or account.disabled_at is not None:
        return False
    if _hasher.check_needs_rehash(stored):
        set_password(account, password)
    return True


# --- second factor --------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str, tenant_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=f"{TOTP_ISSUER} {tenant_name}")


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as inline SVG markup (no script, no external image)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff", title="QR")


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code if not ch.isspace() and ch != "-").lower()


def matching_totp_step(secret: str, code: str, after_step: int = 0, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (one step of clock drift allowed), if newer than ``after_step``."""
    code = _normalise_code(code)
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // TOTP_STEP)
    for step in (current - 1, current, current + 1):
        if step > after_step and hmac.compare_digest(totp.at(step * TOTP_STEP), code):
            return step
    return None


def enable_totp(account: Credentials, secret: str, code: str) -> bool:
    """Enrol ``secret`` when ``code`` proves the person's app holds it."""
    step = matching_totp_step(secret, code)
    if step is None:
        return False
    account.totp_secret = secret
    account.totp_last_step = step
    account.totp_enabled_at = utcnow()
    return True


def check_totp(account: Credentials, code: str) -> bool:
    """Accept a current code once: a replayed code (same or earlier step) is refused.

    The step is claimed with one conditional UPDATE, so that requests arriving together with
    the same code cannot all pass: the database lets exactly one of them move the step forward
    (PostgreSQL's row lock, SQLite's single writer), the others find it taken and are refused.
    """
    if not account.has_totp:
        return False
    step = matching_totp_step(account.totp_secret, code, after_step=account.totp_last_step)
    if step is None:
        return False
    model = type(account)
    claimed = db.session.execute(
        sa.update(model)
        .where(model.id == account.id, model.totp_last_step < step)
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    set_committed_value(account, "totp_last_step", step)
    return True


def _recovery_digest(code: str) -> str:
    return keyed_digest("recovery-code", _normalise_code(code))


def new_recovery_codes(account: Credentials) -> list[str]:
    """Replace the account's recovery codes; the plain codes are shown once, never stored."""
    code_model = sa.inspect(type(account)).relationships["recovery_codes"].mapper.class_
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = ["-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3)) for _ in range(RECOVERY_CODE_COUNT)]
    account.recovery_codes.clear()
    db.session.flush()
    account.recovery_codes.extend(code_model(code_digest=_recovery_digest(code)) for code in codes)
    return codes


def use_recovery_code(account: Credentials, code: str) -> bool:
    """Spend a recovery code; like a TOTP step, it is claimed atomically, so it works once."""
    digest = _recovery_digest(code)
    for stored in account.recovery_codes:
        if stored.used_at is None and hmac.compare_digest(stored.code_digest, digest):
            now = utcnow()
            model = type(stored)
            claimed = db.session.execute(
                sa.update(model)
                .where(model.id == stored.id, model.used_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed != 1:
                return False
            set_committed_value(stored, "used_at", now)
            return True
    return False


def check_second_factor(account: Credentials, code: str) -> str | None:
    """``"totp"`` or ``"recovery_code"`` when ``code`` is accepted, else None."""
    if check_totp(account, code):
        return "totp"
    if len(_normalise_code(code)) == 12 and use_recovery_code(account, code):
        return "recovery_code"
    return None


# --- throttling -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottleState:
    locked: bool
    retry_after: int = 0  # seconds


FIRST_LOCK = timedelta(minutes=1)
#: Failures are forgotten after this long without another one (a success forgets them at once).
FAILURES_FORGOTTEN_AFTER = timedelta(hours=24)


def _throttle_key(email: str, realm: str = "") -> str:
    """Per realm (one cell, or the operator console): failures in one realm never lock the
    person out of another, so nobody can shut a member out of every cell from a cell where
    they have no seat."""
    purpose = f"sign-in-throttle:{realm}" if realm else "sign-in-throttle"
    return keyed_digest(purpose, normalise_email(email))


def lock_duration(failures: int) -> timedelta | None:
    """How long ``failures`` in a row lock the address: none below the allowance, then one
    minute, doubling with every further failure up to ``lockout_minutes``. A guesser is slowed
    to a crawl; the person, whose few typos hardly count, is not shut out for long."""
    settings = current_app.extensions["livc.settings"]
    beyond = failures - settings.sign_in_failures_allowed
    if beyond < 0:
        return None
    ceiling = timedelta(minutes=settings.lockout_minutes)
    return min(FIRST_LOCK * (2 ** min(beyond, 20)), ceiling)


def throttle_state(email: str, realm: str = "") -> ThrottleState:
    row = db.session.get(SignInThrottle, _throttle_key(email, realm))
    now = utcnow()
    if row is None or row.locked_until is None or row.locked_until <= now:
        return ThrottleState(False)
    return ThrottleState(True, int((row.locked_until - now).total_seconds()) + 1)


def note_failure(email: str, realm: str = "") -> ThrottleState:
    """Count a failed attempt in ``realm``; lock the address there for a growing while."""
    key = _throttle_key(email, realm)
    now = utcnow()
    # Failures arriving together must all count (and not collide on the new row): make sure
    # the row exists, then count under its lock (PostgreSQL's row lock, SQLite's one writer).
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(
        insert(SignInThrottle).values(key=key, failures=0, last_failure_at=now).on_conflict_do_nothing(index_elements=["key"])
    )
    row = db.session.get(SignInThrottle, key, with_for_update=True, populate_existing=True)
    if row.last_failure_at is not None and now - row.last_failure_at >= FAILURES_FORGOTTEN_AFTER:
        row.failures, row.locked_until = 0, None
    row.failures += 1
    row.last_failure_at = now
    duration = lock_duration(row.failures)
    if duration is not None:
        row.locked_until = now + duration
    db.session.flush()
    return throttle_state(email, realm)


def clear_failures(email: str, realm: str = "") -> None:
    row = db.session.get(SignInThrottle, _throttle_key(email, realm))
    if row is not None:
        db.session.delete(row)


# --- password resets ------------------------------------------------------------------------


def create_password_reset(account: Account) -> str:
    """A reset link for the current cell; earlier unused links of the account stop working."""
    now = utcnow()
    db.session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.account_id == account.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_token()
    db.session.add(
        PasswordReset(token_digest=token_digest(token), account_id=account.id, expires_at=now + PASSWORD_RESET_LIFETIME)
    )
    return token


def find_password_reset(token: str) -> PasswordReset | None:
    """The unused, unexpired reset for ``token`` in the current cell, or None (all failures alike)."""
    reset = db.session.execute(
        sa.select(PasswordReset).where(PasswordReset.token_digest == token_digest(token[:100]))
    ).scalar_one_or_none()
    if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
        return None
    return reset
