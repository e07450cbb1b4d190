"""Who sits in a cell: organisations, memberships with a role, invitations, the secrecy undertaking.

A membership ties a global account to one cell, with one role and the organisation the person
represents at the table. The rules of later issues read the organisation's kind (police,
school, ...), the role, and the information officer's security clearance.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.accounts import Account
from livc.platform.crypto import new_token, token_digest
from livc.platform.db import Id, TenantScoped, db
from livc.platform.timeutil import utcnow

INVITATION_LIFETIME = timedelta(days=7)


def _enum(cls, length: int = 30):
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


class Role(enum.StrEnum):
    """A member's role in the cell (seeds 001 and 004)."""

    MAYOR = "mayor"
    COORDINATOR = "coordinator"
    INFORMATION_OFFICER = "information_officer"
    POLICE_CHIEF = "police_chief"
    SOCIAL_ALDERMAN = "social_alderman"
    PARTNER = "partner"
    SECRETARY = "secretary"
    GUEST_EXPERT = "guest_expert"


ROLE_LABELS = {
    Role.MAYOR: _l("Mayor"),
    Role.COORDINATOR: _l("Cell coordinator"),
    Role.INFORMATION_OFFICER: _l("Information officer"),
    Role.POLICE_CHIEF: _l("Police chief"),
    Role.SOCIAL_ALDERMAN: _l("Alderman for social affairs"),
    Role.PARTNER: _l("Partner member"),
    Role.SECRETARY: _l("Secretary"),
    Role.GUEST_EXPERT: _l("Guest expert"),
}


class OrganisationKind(enum.StrEnum):
    MUNICIPAL_SERVICE = "municipal_service"
    CLB = "clb"
    OCMW = "ocmw"
    CAW = "caw"
    SCHOOL = "school"
    POLICE = "police"
    JUSTICE_HOUSE = "justice_house"
    VDAB = "vdab"
    HOSPITAL = "hospital"
    YOUTH_SERVICE = "youth_service"
    OTHER = "other"


ORGANISATION_KIND_LABELS = {
    OrganisationKind.MUNICIPAL_SERVICE: _l("Municipal service"),
    OrganisationKind.CLB: _l("Pupil guidance centre (CLB)"),
    OrganisationKind.OCMW: _l("Public social welfare centre (OCMW)"),
    OrganisationKind.CAW: _l("General welfare centre (CAW)"),
    OrganisationKind.SCHOOL: _l("School"),
    OrganisationKind.POLICE: _l("Police"),
    OrganisationKind.JUSTICE_HOUSE: _l("Justice house"),
    OrganisationKind.VDAB: _l("Employment service (VDAB)"),
    OrganisationKind.HOSPITAL: _l("Hospital"),
    OrganisationKind.YOUTH_SERVICE: _l("Youth service"),
    OrganisationKind.OTHER: _l("Other"),
}


class MembershipStatus(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    ENDED = "ended"


class Organisation(TenantScoped, db.Model):
    """An organisation at the cell's table (a CLB, the local police, the OCMW, ...)."""

    __tablename__ = "organisations"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[OrganisationKind] = mapped_column(_enum(OrganisationKind))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Membership(TenantScoped, db.Model):
    """One person's seat in one cell."""

    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "account_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("organisations.id"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    status: Mapped[MembershipStatus] = mapped_column(_enum(MembershipStatus, 20), default=MembershipStatus.INVITED)
    # The information officer's security clearance; police information is shown only while valid.
    clearance_expires_on: Mapped[date | None]
    # Guest experts are invited for a limited time.
    expires_at: Mapped[datetime | None]
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


# --- operations ------------------------------------------------------------------------------


def current_undertaking() -> Undertaking:
    """The cell's current undertaking; a cell that wrote none has the standard one, version 1."""
    latest = db.session.execute(sa.select(Undertaking).order_by(Undertaking.version.desc()).limit(1)).scalar()
    if latest is None:
        latest = Undertaking(version=1, text=None)
        db.session.add(latest)
        db.session.flush()
    return latest


def publish_undertaking(text: str | None) -> Undertaking:
    """A new version: every member accepts it again before reaching case content."""
    version = current_undertaking().version + 1
    undertaking = Undertaking(version=version, text=text)
    db.session.add(undertaking)
    db.session.flush()
    return undertaking


def has_accepted_current(membership: Membership) -> bool:
    version = current_undertaking().version
    return (
        db.session.execute(
            sa.select(UndertakingAcceptance.id).where(
                UndertakingAcceptance.membership_id == membership.id, UndertakingAcceptance.version == version
            )
        ).first()
        is not None
    )


def accept_undertaking(membership: Membership) -> int:
    version = current_undertaking().version
    if not has_accepted_current(membership):
        db.session.add(UndertakingAcceptance(membership_id=membership.id, version=version))
        db.session.flush()
    return version


def membership_of(account_id: int) -> Membership | None:
    """The account's membership in the current cell, whatever its status."""
    return db.session.execute(sa.select(Membership).where(Membership.account_id == account_id)).scalar_one_or_none()


def create_invitation(membership: Membership, created_by: str) -> str:
    """Revoke the membership's open invitations and issue a new one; returns the token."""
    now = utcnow()
    for old in db.session.execute(
        sa.select(Invitation).where(Invitation.membership_id == membership.id, Invitation.used_at.is_(None))
    ).scalars():
        old.revoked_at = old.revoked_at or now
    token = new_token()
    db.session.add(
        Invitation(
            token_digest=token_digest(token),
            membership_id=membership.id,
            created_by=created_by,
            expires_at=now + INVITATION_LIFETIME,
        )
    )
    db.session.flush()
    return token


def find_invitation(token: str) -> Invitation | None:
    """The invitation for ``token`` in the current cell, used or not (callers check ``open``)."""
    return db.session.execute(
        sa.select(Invitation).where(Invitation.token_digest == token_digest(token[:100]))
    ).scalar_one_or_none()
