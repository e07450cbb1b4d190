"""The operators' realm: accounts, recovery codes, server-side sessions and the hash-chained
operator trail (platform-level tables, never memberships of a cell)."""

from __future__ import annotations

import enum
import hashlib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.accounts import EMAIL_MAX, NAME_MAX, Credentials
from livc.platform.audit import GENESIS_HASH, canonical
from livc.platform.db import Id, db, value_enum
from livc.platform.timeutil import utcnow

SETUP_LIFETIME = timedelta(days=7)
SESSION_KEY = "operator"  # Flask session: the operator's session token
TOUCH_EVERY = timedelta(seconds=60)
THROTTLE_REALM = "operator"
TOTP_LABEL = "operator console"  # the authenticator app shows "livc operator console"


class OperatorRole(enum.StrEnum):
    """What an operator may do on the console (see :mod:`livc.platform.policy`)."""

    SUPPORT = "support"
    ADMINISTRATOR = "administrator"


ROLE_LABELS = {
    OperatorRole.SUPPORT: _l("Support"),
    OperatorRole.ADMINISTRATOR: _l("Administrator"),
}


class Operator(Credentials, db.Model):
    """A person who runs the platform: never a member of a cell, never reads case content."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(EMAIL_MAX), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(NAME_MAX), default="")
    role: Mapped[OperatorRole] = mapped_column(value_enum(OperatorRole, 20))
    # The single-use set-up link (only its digest): the operator chooses a password with it.
    setup_token_digest: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    setup_expires_at: Mapped[datetime | None]
    # Raised when the role changes or the account is disabled: open sessions end.
    privilege_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    recovery_codes: Mapped[list[OperatorRecoveryCode]] = relationship(cascade="all, delete-orphan")

    @property
    def label(self) -> str:
        return self.display_name or self.email

    @property
    def usable(self) -> bool:
        return self.disabled_at is None and self.has_password


class OperatorRecoveryCode(db.Model):
    """A one-time code that replaces an operator's second factor once (keyed digest only)."""

    __tablename__ = "operator_recovery_codes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    operator_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None]


class OperatorSession(db.Model):
    """A signed-in operator, kept on the server; the cookie holds a random token only."""

    __tablename__ = "operator_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    operator_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("operators.id", ondelete="CASCADE"), index=True)
    privilege_version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class OperatorAuditEntry(db.Model):
    """One line of the platform's operator audit trail: append-only, hash-chained.

    ``tenant_slug`` names the tenant acted on (a name, not a foreign key: the line outlives an
    offboarded tenant's rows).
    """

    __tablename__ = "operator_audit_entries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(80), index=True)
    tenant_slug: Mapped[str | None] = mapped_column(sa.String(63), index=True)
    subject: Mapped[str | None] = mapped_column(sa.String(120))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    def computed_hash(self) -> str:
        payload = {
            "seq": self.seq,
            "at": self.at.isoformat(timespec="microseconds"),
            "actor": self.actor,
            "action": self.action,
            "tenant_slug": self.tenant_slug,
            "subject": self.subject,
            "details": self.details,
            "prev_hash": self.prev_hash,
        }
        return hashlib.sha256(canonical(payload).encode()).hexdigest()


class OperatorAuditHead(db.Model):
    """The end of the operator trail (one row), locked while appending."""

    __tablename__ = "operator_audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    hash: Mapped[str] = mapped_column(sa.String(64), default=GENESIS_HASH)


@sa.event.listens_for(OperatorAuditEntry, "before_update")
@sa.event.listens_for(OperatorAuditEntry, "before_delete")
def _append_only(mapper, connection, target) -> None:
    raise PermissionError("operator audit entries are append-only")
