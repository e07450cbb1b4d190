"""Who sits in a cell, as stored: organisations, memberships with a role, invitations, and the
versions of the secrecy undertaking with who accepted which. The rules that change them are
:mod:`livc.tenants.members.operations`'."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.accounts import Account
from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.roles import OrganisationKind, Role
from livc.platform.timeutil import utcnow

INVITATION_LIFETIME = timedelta(days=7)
GUEST_EXPERT_MAX_DAYS = 365  # a guest expert is invited for one case, for at most a year


class MembershipStatus(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    ENDED = "ended"


# What the member list shows: the stored status, and "expired" for a guest expert whose time is up.
STATUS_LABELS = {
    "invited": _l("Invited"),
    "active": _l("Active"),
    "ended": _l("Ended"),
    "expired": _l("Access expired"),
}


class Organisation(TenantScoped, db.Model):
    """An organisation at the cell's table (a CLB, the local police, the OCMW, ...)."""

    __tablename__ = "organisations"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[OrganisationKind] = mapped_column(value_enum(OrganisationKind))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(TenantScoped, db.Model):
    """One person's seat in one cell."""

    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "account_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("organisations.id"), index=True)
    role: Mapped[Role] = mapped_column(value_enum(Role))
    status: Mapped[MembershipStatus] = mapped_column(value_enum(MembershipStatus, 20), default=MembershipStatus.INVITED)
    # The information officer's security clearance; police information is shown only while valid.
    clearance_expires_on: Mapped[date | None]
    # In an intermunicipal or zonal cell, the municipality (NIS code) a mayor stands for.
    municipality_nis: Mapped[str | None] = mapped_column(sa.String(5))
    # The alderman for social affairs' mandatee (*gemandateerde*, seed 004): stands in for the
    # alderman among the cell's fixed participants (the legal minimum).
    social_mandatee: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Guest experts are invited for a limited time.
    expires_at: Mapped[datetime | None]
    # The name the inviter typed: shown while the seat is only invited (see ``shown_name``).
    invited_name: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    # Raised on every change of role or rights: open sessions get a new identifier.
    privilege_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]

    account: Mapped[Account] = relationship()
    organisation: Mapped[Organisation] = relationship()

    @property
    def usable(self) -> bool:
        """May this membership be used to enter the cell right now?"""
        if self.status != MembershipStatus.ACTIVE or self.account.disabled_at is not None:
            return False
        return self.expires_at is None or self.expires_at > utcnow()

    @property
    def clearance_valid(self) -> bool:
        return self.clearance_expires_on is not None and self.clearance_expires_on >= utcnow().date()

    @property
    def expires_on(self) -> date | None:
        """The last day of a guest expert's seat (forms and the API speak in days)."""
        return self.expires_at.date() if self.expires_at is not None else None

    @property
    def shown_name(self) -> str:
        """The name the cell shows for this seat. While it is only invited, the name the inviter
        typed, never the account's own: the account may be known in other cells, and an
        invitation must not reveal that (nor the name there). Once taken up, the person's own."""
        if self.status == MembershipStatus.INVITED:
            return self.invited_name or ""
        return self.account.display_name

    @property
    def shown_account_id(self) -> int | None:
        """The global account id, once the person took up the seat (hidden while invited)."""
        return None if self.status == MembershipStatus.INVITED else self.account_id

    @property
    def seat_status(self) -> str:
        """The status as the member list shows it (a key of STATUS_LABELS)."""
        if self.status == MembershipStatus.ACTIVE and self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return self.status.value


class Invitation(TenantScoped, db.Model):
    """A single-use, expiring link that lets an invited person take up their membership."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    membership_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(100))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    membership: Mapped[Membership] = relationship()

    @property
    def open(self) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > utcnow()


class Undertaking(TenantScoped, db.Model):
    """A version of the cell's house rules and secrecy undertaking (art. 458ter Sw.)."""

    __tablename__ = "undertakings"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    version: Mapped[int]
    # The cell's own text; None means the platform's standard undertaking, in the reader's language.
    text: Mapped[str | None] = mapped_column(sa.Text)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class UndertakingAcceptance(TenantScoped, db.Model):
    __tablename__ = "undertaking_acceptances"
    __table_args__ = (sa.UniqueConstraint("membership_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    membership_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
