"""The cell's meetings (*casusoverleg*), as stored: when and where a table or a case team meets,
who is invited and who attended, the agenda, the minutes and their addenda, the members'
requests for an ad hoc meeting and their calendar addresses.

Seed 001 lists what the organisers keep: "locatie, frequentie overlegmomenten, uitnodigingen,
aanwezigheidsregister, agendabepaling, taakverdeling (voorzitter, verslaggever), verslag". The
rules that change these rows are :mod:`livc.tenants.meetings.operations`'.

Privacy by design: an agenda item names a case or a signal by its code or reference only, and
its summary in the minutes is encrypted under the case's own key (``case:42``) when it is about
a case, so erasing the case erases it, and under the meeting's key (``meeting:7``) otherwise.
An item handled "not for the minutes" (seed 001: "wanneer iets in het verslag mag komen en
wanneer niet") keeps no summary at all, only that it was handled. Meeting ids name key scopes
and are never reused (SQLite AUTOINCREMENT; sequences on PostgreSQL).

Times are naive UTC in the database like every time of the platform; people type and read them
in Belgian time (:data:`MEETING_ZONE`).
"""

from __future__ import annotations

import enum
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.keys import TENANT_SCOPE, EncryptedField, record_scope
from livc.platform.timeutil import utcnow
from livc.tenants.cell.models import Table
from livc.tenants.members.models import Membership
from livc.tenants.signals.models import REFERENCE_MAX
from livc.tenants.signals.registration import Registration, registration_column

MEETING_ZONE = ZoneInfo("Europe/Brussels")
PLACE_MAX = 200
LINK_MAX = 500
TITLE_MAX = 200
NAME_MAX = 120
SUMMARY_MAX = 5000
REASON_MAX = 2000


def to_utc(local: datetime) -> datetime:
    """A time typed in Belgian time, as stored (naive UTC)."""
    if local.tzinfo is None:
        local = local.replace(tzinfo=MEETING_ZONE)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def to_local(stored: datetime) -> datetime:
    """A stored time (naive UTC) in Belgian time, aware."""
    return stored.replace(tzinfo=ZoneInfo("UTC")).astimezone(MEETING_ZONE)


class MeetingKind(enum.StrEnum):
    REGULAR = "regular"  # on the cadence of seed 004
    AD_HOC = "ad_hoc"  # on a partner's request, or an urgent signal
    STRATEGIC = "strategic"  # the strategic table, when the mayor calls it


MEETING_KIND_LABELS = {
    MeetingKind.REGULAR: _l("Regular meeting"),
    MeetingKind.AD_HOC: _l("Ad hoc meeting"),
    MeetingKind.STRATEGIC: _l("Strategic meeting"),
}


class MeetingStatus(enum.StrEnum):
    PLANNED = "planned"
    IN_SESSION = "in_session"
    HELD = "held"
    CANCELLED = "cancelled"


MEETING_STATUS_LABELS = {
    MeetingStatus.PLANNED: _l("Planned"),
    MeetingStatus.IN_SESSION: _l("In session"),
    MeetingStatus.HELD: _l("Held"),
    MeetingStatus.CANCELLED: _l("Cancelled"),
}


class MinutesState(enum.StrEnum):
    """Where a meeting's minutes stand (derived, not stored)."""

    NONE = "none"  # the meeting is not held yet
    DRAFT = "draft"  # the secretary drafts; the next meeting approves
    APPROVED = "approved"  # locked: corrections are dated addenda


MINUTES_STATE_LABELS = {
    MinutesState.NONE: _l("No minutes yet"),
    MinutesState.DRAFT: _l("Draft, waiting for approval by the next meeting"),
    MinutesState.APPROVED: _l("Approved"),
}


class Attendance(enum.StrEnum):
    """The attendance register (*aanwezigheidsregister*, seed 001)."""

    PRESENT = "present"
    EXCUSED = "excused"  # absent with notice (*met kennisgeving*)
    ABSENT = "absent"  # absent without notice


ATTENDANCE_LABELS = {
    Attendance.PRESENT: _l("Present"),
    Attendance.EXCUSED: _l("Excused"),
    Attendance.ABSENT: _l("Absent without notice"),
}


class ItemKind(enum.StrEnum):
    """What brings an item onto the agenda."""

    SIGNAL = "signal"  # a signal waiting to be weighed
    REVIEW = "review"  # a case whose review is due
    MEASURES = "measures"  # a case whose measures are due
    FEEDBACK = "feedback"  # a feedback form to the LTF waiting for approval
    DECISION = "decision"  # a decision waiting for confirmation
    MATCH_ALERT = "match_alert"  # a possible shared case with a linked cell
    REQUEST = "request"  # a member asked for it
    OTHER = "other"  # another point, added by the chair


ITEM_KIND_LABELS = {
    ItemKind.SIGNAL: _l("Signal to weigh"),
    ItemKind.REVIEW: _l("Review due"),
    ItemKind.MEASURES: _l("Measures due"),
    ItemKind.FEEDBACK: _l("Feedback form to the LTF waiting for approval"),
    ItemKind.DECISION: _l("Decision waiting for confirmation"),
    ItemKind.MATCH_ALERT: _l("Match alert with a linked cell"),
    ItemKind.REQUEST: _l("Request of a member"),
    ItemKind.OTHER: _l("Other point"),
}


# --- models ----------------------------------------------------------------------------------


def _membership_column(**kwargs) -> Mapped[int | None]:
    return mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True, **kwargs)


class Meeting(TenantScoped, db.Model):
    """A meeting of a table, or of a case team (then ``case_id`` names the case)."""

    __tablename__ = "meetings"
    __table_args__ = (
        sa.Index("ix_meetings_tenant_starts", "tenant_id", "starts_at", "id"),  # the lists' order
        {"sqlite_autoincrement": True},
    )
    # Raised on every change (migration 0029): an edit made on an older version answers 409.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    table_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("cell_tables.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    # The case team's meeting keeps the case's code for its title (cleared when the case is erased).
    case_code: Mapped[str | None] = mapped_column(sa.String(REFERENCE_MAX))
    kind: Mapped[MeetingKind] = mapped_column(value_enum(MeetingKind))
    status: Mapped[MeetingStatus] = mapped_column(value_enum(MeetingStatus), default=MeetingStatus.PLANNED, index=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    place: Mapped[str | None] = mapped_column(sa.String(PLACE_MAX))
    video_link: Mapped[str | None] = mapped_column(sa.String(LINK_MAX))
    chair_id: Mapped[int | None] = _membership_column()
    secretary_id: Mapped[int | None] = _membership_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = _membership_column()
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # The minutes: approved by a later meeting in session, then locked.
    minutes_approved_at: Mapped[datetime | None]
    minutes_approved_in_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("meetings.id", ondelete="SET NULL"), index=True
    )
    minutes_approved_by_id: Mapped[int | None] = _membership_column()
    # Reminders sent (once each).
    reminded_day_before_at: Mapped[datetime | None]
    minutes_reminded_at: Mapped[datetime | None]

    table: Mapped[Table | None] = relationship()
    chair: Mapped[Membership | None] = relationship(foreign_keys=[chair_id])
    secretary: Mapped[Membership | None] = relationship(foreign_keys=[secretary_id])
    items: Mapped[list[AgendaItem]] = relationship(order_by="AgendaItem.position, AgendaItem.id", viewonly=True)
    invitees: Mapped[list[Invitee]] = relationship(order_by="Invitee.id", viewonly=True)
    occasional_attendees: Mapped[list[OccasionalAttendee]] = relationship(
        order_by="OccasionalAttendee.id", viewonly=True
    )
    addenda: Mapped[list[MinutesAddendum]] = relationship(order_by="MinutesAddendum.id", viewonly=True)

    @property
    def key_scope(self) -> str:
        return record_scope("meeting", self.id)

    @property
    def minutes_state(self) -> MinutesState:
        if self.minutes_approved_at is not None:
            return MinutesState.APPROVED
        if self.status == MeetingStatus.HELD:
            return MinutesState.DRAFT
        return MinutesState.NONE

    @property
    def minutes_locked(self) -> bool:
        return self.minutes_approved_at is not None

    @property
    def organiser_ids(self) -> set[int]:
        """Who organises it beside the coordinator (the policy's rule): its chair and secretary,
        and its table's."""
        ids = {self.chair_id, self.secretary_id}
        if self.table is not None:
            ids |= self.table.organiser_ids
        return {membership_id for membership_id in ids if membership_id is not None}


class Invitee(TenantScoped, db.Model):
    """A member invited to a meeting, and their line in the attendance register.

    A guest expert is invited for one agenda item only (``item_id``) and sees that item only.
    """

    __tablename__ = "meeting_invitees"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "membership_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("meeting_agenda_items.id", ondelete="CASCADE"), index=True
    )
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    attendance: Mapped[Attendance | None] = mapped_column(value_enum(Attendance))
    recorded_at: Mapped[datetime | None]
    recorded_by_id: Mapped[int | None] = _membership_column()

    membership: Mapped[Membership] = relationship(foreign_keys=[membership_id])


class OccasionalAttendee(TenantScoped, db.Model):
    """Someone who attends without being a member (*los lid*): name, organisation, capacity,
    registered only with the confirmation that they signed the secrecy undertaking."""

    __tablename__ = "meeting_occasional_attendees"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    organisation: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    capacity: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    undertaking_signed: Mapped[bool] = mapped_column(default=False)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = _membership_column()


class AgendaItem(TenantScoped, db.Model):
    """An item of a meeting's agenda, and its part of the minutes."""

    __tablename__ = "meeting_agenda_items"

    # Raised on every change (migration 0029): minutes written on an older one answer 409.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    kind: Mapped[ItemKind] = mapped_column(value_enum(ItemKind))
    # A short title everyone at the meeting may read: never a name of a person discussed.
    title: Mapped[str | None] = mapped_column(sa.String(TITLE_MAX))
    # The case code or signal reference the item is about (what lists and the minutes show).
    reference: Mapped[str | None] = mapped_column(sa.String(REFERENCE_MAX))
    case_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    signal_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("signals.id", ondelete="SET NULL"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(Id, index=True)  # a decision waiting (no FK: a lower domain)
    request_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("meeting_requests.id", ondelete="SET NULL"), index=True
    )
    police_information: Mapped[bool] = mapped_column(default=False)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by_id: Mapped[int | None] = _membership_column()
    # The partner who brings the point (None: the cell's own business) and their choice (seed
    # 001): the minutes keep no summary of a contribution shared orally only.
    brought_by_id: Mapped[int | None] = _membership_column()
    registration: Mapped[Registration] = registration_column()
    # The minutes: handled, off the record (nothing kept but that), or a short summary.
    handled_at: Mapped[datetime | None]
    off_the_record: Mapped[bool] = mapped_column(default=False)
    summary_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    written_at: Mapped[datetime | None]
    written_by_id: Mapped[int | None] = _membership_column()

    summary = EncryptedField("summary_ciphertext")

    @property
    def key_scope(self) -> str:
        """The case's key for an item on a case, the signal's for an item on a signal (erasing
        either erases the summary), the meeting's otherwise."""
        if self.case_id is not None:
            return record_scope("case", self.case_id)
        if self.signal_id is not None:
            return record_scope("signal", self.signal_id)
        return record_scope("meeting", self.meeting_id)

    @property
    def handled(self) -> bool:
        return self.handled_at is not None


class MinutesAddendum(TenantScoped, db.Model):
    """A dated correction of approved minutes: approved minutes themselves never change."""

    __tablename__ = "meeting_minutes_addenda"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    written_by_id: Mapped[int | None] = _membership_column()
    text_ciphertext: Mapped[str] = mapped_column(sa.Text)

    text = EncryptedField("text_ciphertext")

    written_by: Mapped[Membership | None] = relationship()

    @property
    def key_scope(self) -> str:
        return record_scope("meeting", self.meeting_id)


class MeetingRequest(TenantScoped, db.Model):
    """A member's request for an ad hoc meeting (seed 004: "ad hoc (op vraag van een van de
    partners)"); it goes on the next agenda as a request of a member."""

    __tablename__ = "meeting_requests"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    requested_by_id: Mapped[int | None] = _membership_column()
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The meeting whose agenda took it up (None: still waiting).
    meeting_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("meetings.id", ondelete="SET NULL"), index=True)
    reason_ciphertext: Mapped[str] = mapped_column(sa.Text)

    reason = EncryptedField("reason_ciphertext")
    key_scope = TENANT_SCOPE

    requested_by: Mapped[Membership | None] = relationship()


class CalendarFeed(TenantScoped, db.Model):
    """A member's secret calendar address: only a digest of its token is kept; a new token
    replaces the old one, and deleting the row revokes the address."""

    __tablename__ = "meeting_calendar_feeds"
    __table_args__ = (sa.UniqueConstraint("membership_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    membership_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
