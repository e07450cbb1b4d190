"""Meetings: planning and inviting, the agenda, the attendance register, the minutes, requests.

The rules of seed 001 ("Praktische organisatie": location, frequency, invitations, attendance
register, agenda, chair and secretary, minutes, what may and may not go into them) and seed 004
(the cadence, :mod:`livc.tenants.meetings.cadence`):

- a meeting is of a table, or of a case team; two meetings of one table (or one case team)
  never overlap; it has a place or a video link; its chair and secretary default to the table's;
  while planned, its organisers may move it (day and hours, place or link) under the same rules,
  and its invitees are told;
- the table's seated members are invited (by mail and on their meetings page); an outside expert
  (a guest expert member) is invited for one agenda item only, and sees that item only;
- the platform proposes the agenda from what needs the table; the chair (or the secretary, or
  the coordinator) takes points up, adds other points, reorders and removes them while the
  meeting is planned or in session;
- need-to-know holds inside the meeting (:func:`sight`): an item on a case is shown in full only
  to those the policy lets read the case (the coordinator and its team), police information only
  to the coordinator and a cleared information officer; the others see the code and the title;
- only a member who accepted the cell's current secrecy undertaking and house rules is
  registered present; an occasional attendee only with the confirmation that they signed it;
- the minutes keep per item a short summary, or, "not for the minutes", nothing but that the item
  was handled; the secretary (or the chair) drafts them, a later meeting of the same table in
  session approves them, and from then on they are locked: a correction is a dated addendum;
- a member (not a guest expert) may ask for an ad hoc meeting: the request goes on the next
  agenda as a request of a member.

Who organises a meeting (:func:`may_organise`): the coordinator, and the chair or secretary of
the meeting or of its table. Every change is audited with ids and codes, never with content.
Decisions taken in a meeting are the decisions engine's (:mod:`livc.tenants.decisions`): this
module tells it which meeting is in session and who is present (:func:`sitting_now`).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from livc.platform import audit
from livc.platform.db import cell_lock, check_version, db, locked
from livc.platform.i18n import when
from livc.platform.policy import Action, Person, decide
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.platform.web import after_refusal
from livc.tenants.access import person_for
from livc.tenants.cases import events as case_events
from livc.tenants.cases.models import (
    AGENDA_ATTENDEES,
    OPEN_MEASURE_STATUSES,
    Case,
    CaseStatus,
    CaseTeamMember,
    FeedbackStatus,
    LtfFeedback,
    Measure,
    Review,
)
from livc.tenants.cell.models import Table, TableSeat, serves_as_operational
from livc.tenants.decisions.models import Proposal
from livc.tenants.decisions.operations import (
    Sitting,
    pending_proposals,
    proposals_of_meeting,
    register_sitting_provider,
    sitting_fault,
)
from livc.tenants.meetings import mail
from livc.tenants.meetings.agenda import Occasion, Suggestion, contributed
from livc.tenants.meetings.models import (
    ITEM_KIND_LABELS,
    AgendaItem,
    Attendance,
    Invitee,
    ItemKind,
    Meeting,
    MeetingKind,
    MeetingRequest,
    MeetingStatus,
    MinutesAddendum,
    OccasionalAttendee,
    to_local,
    to_utc,
)
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import active_members, has_accepted_current
from livc.tenants.signals import events as signal_events
from livc.tenants.signals.models import Signal, SignalChannel, SignalStatus
from livc.tenants.signals.operations import Faults, add_fault, coerce, raise_faults
from livc.tenants.signals.registration import Registration, change_faults, recording_faults

TABLE_OR_CASE = _l("Choose a table, or a case for a meeting of its case team.")
NOT_BOTH = _l("A meeting is of a table or of a case team, not both.")
UNKNOWN_TABLE = _l("Choose a table of the cell.")
UNKNOWN_CASE = _l("Choose an open case you follow.")
NOT_ORGANISER = _l("Only the coordinator, or the chair or secretary of this table, plans its meetings.")
NOT_MEETING_ORGANISER = _l("Only the chair or the secretary of this meeting, or the coordinator, does this.")
ENDS_BEFORE = _l("The meeting ends after it starts.")
PLACE_OR_LINK = _l("Give a place or a video link.")
NOT_A_MEMBER = _l("Choose an active member of the cell (not a guest expert).")
NOT_PLANNED = _l("Only a planned meeting is changed this way.")
NOT_IN_SESSION = _l("The meeting is not in session.")
ANOTHER_IN_SESSION = _l("Another meeting of the cell is in session: close it first.")
AGENDA_CLOSED = _l("The agenda is edited while the meeting is planned or in session.")
TITLE_REQUIRED = _l("Give the point a short title (never a name of a person discussed).")
UNKNOWN_CODE = _l("No case of the cell has this code.")
POLICE_NOT_YOURS = _l("Only the coordinator or a cleared information officer marks a point as police information.")
NOT_GUEST = _l("Choose a guest expert of the cell: they are invited for this point only.")
NOT_INVITED = _l("This member is not invited to the meeting.")
PRESENT_IN_SESSION = _l("Register who is present once the meeting is in session.")
UNDERTAKING_SIGNED = _l(
    "An occasional attendee attends only after signing the cell's secrecy undertaking: confirm that they did."
)
REGISTER_CLOSED = _l("The attendance register is kept while the meeting is in session, and until its minutes are approved.")
MINUTES_NOT_YET = _l("The minutes are written once the meeting is in session.")
OFF_RECORD_NO_SUMMARY = _l("Not for the minutes: nothing of this point is kept but that it was handled.")
NOT_HELD = _l("Only the minutes of a held meeting are approved.")
NO_LATER_SITTING = _l(
    "Minutes are approved by a later meeting of the same table, in session: open that meeting first."
)
NOT_LOCKED_YET = _l("The minutes are not approved yet: correct them directly.")
ADDENDUM_REQUIRED = _l("Write the correction.")
MINUTES_ORAL_ONLY = _l(
    "The partner who brought this point shared it orally only: the minutes keep that it was "
    "discussed, not what was said (house rules, seed 001: information is registered only with the "
    "consent of the partner who brought it)."
)
REASON_REQUIRED = _l("Say briefly why the cell should meet (never a name of a person discussed).")


def locked_message(meeting: Meeting):
    """Why approved minutes are refused any change."""
    return _l(
        "These minutes were approved on %(day)s and are locked: add a dated addendum to correct them.",
        day=format_datetime(meeting.minutes_approved_at, "short"),
    )


def not_accepted(name: str):
    return _l(
        "%(name)s has not accepted the cell's current secrecy undertaking and house rules: "
        "the meeting's content stays closed to them until they do.",
        name=name,
    )


def overlaps(when: str):
    return _l("The table meets at that time already (%(when)s): choose another time.", when=when)


def subject_of(meeting: Meeting) -> str:
    return f"meeting:{meeting.id}"


def _now() -> datetime:
    return utcnow()


# --- who may do what -----------------------------------------------------------------------------


def may_organise(membership: Membership, meeting: Meeting | None = None, table: Table | None = None) -> bool:
    """The coordinator, and the chair or secretary of the meeting or of its table (the policy's
    :data:`~livc.platform.policy.Action.MEETING_ORGANISE`)."""
    return bool(decide(person_for(membership), Action.MEETING_ORGANISE, meeting if meeting is not None else table))


def invitee_of(meeting: Meeting, membership_id: int) -> Invitee | None:
    return db.session.scalar(
        sa.select(Invitee).where(Invitee.meeting_id == meeting.id, Invitee.membership_id == membership_id)
    )


def _case(case_id: int | None) -> Case | None:
    return db.session.get(Case, case_id) if case_id is not None else None


def may_see_meeting(person: Person, meeting: Meeting) -> bool:
    """The coordinator; whoever is invited; the table's members for a table's meeting; the
    case team for a case team's meeting. A guest expert sees only a meeting they are invited to."""
    if person.role == Role.COORDINATOR or invitee_of(meeting, person.membership_id) is not None:
        return True
    if person.role == Role.GUEST_EXPERT:
        return False
    if meeting.case_id is not None:
        return bool(decide(person, Action.CASE_READ, _case(meeting.case_id)))
    return meeting.table_id is not None


class Sight(enum.StrEnum):
    """How much of an agenda item a reader sees."""

    FULL = "full"  # the item, its summary and its decisions
    CODE = "code"  # the code or reference and the title only


def sight(person: Person, item: AgendaItem, invitee: Invitee | None = None) -> Sight | None:
    """What ``person`` sees of ``item`` (None: not even that it exists).

    A guest expert sees only the item they are invited for. Police information is for the
    coordinator and a cleared information officer; an item on a case for those who may read the
    case (the coordinator and its team); on a signal for those who may read the signal. Where an
    item is both, both rules hold.
    """
    if person.role == Role.GUEST_EXPERT and (invitee is None or invitee.item_id != item.id):
        return None
    if item.police_information and not decide(person, Action.POLICE_INFO_READ):
        return Sight.CODE
    if item.case_id is not None and not decide(person, Action.CASE_READ, _case(item.case_id)):
        return Sight.CODE
    if item.signal_id is not None and not decide(person, Action.SIGNAL_READ, db.session.get(Signal, item.signal_id)):
        return Sight.CODE
    return Sight.FULL


def visible_items(person: Person, meeting: Meeting) -> list[tuple[AgendaItem, Sight]]:
    """The agenda as ``person`` sees it, in order."""
    invitee = invitee_of(meeting, person.membership_id)
    seen = [(item, sight(person, item, invitee)) for item in meeting.items]
    return [(item, seen_as) for item, seen_as in seen if seen_as is not None]


def minutes_reads(person: Person, meeting: Meeting) -> list[tuple[str, str]]:
    """The reads of case and signal content that showing ``meeting``'s minutes to ``person`` makes:
    (action, subject) per point seen in full with a summary, for the audit trail."""
    reads = []
    for item, seen in visible_items(person, meeting):
        if seen != Sight.FULL or item.summary_ciphertext is None or not item.reference:
            continue
        if item.case_id is not None:
            reads.append(("case.read", f"case:{item.reference}"))
        elif item.signal_id is not None:
            reads.append(("signal.read", f"signal:{item.reference}"))
    return reads


def record_minutes_read(person: Person, meeting: Meeting) -> None:
    """Account for every read of case content the minutes show, whatever the page answers."""
    reads, meeting_id = minutes_reads(person, meeting), meeting.id

    def record() -> None:
        for action, subject in reads:
            audit.record(action, subject=subject, details={"part": "meeting minutes", "meeting": meeting_id})

    after_refusal(record)


def item_title(item: AgendaItem) -> str:
    return item.title or str(ITEM_KIND_LABELS[item.kind])


def meeting_title(meeting: Meeting) -> str:
    """The table's name (or the case team's, with the case code) and the day, in Belgian time and
    the reader's date format."""
    day = when(meeting.starts_at)
    if meeting.table is not None:
        return f"{meeting.table.name}, {day}"
    if meeting.case_code:
        return str(_l("Case team %(code)s, %(day)s", code=meeting.case_code, day=day))
    return f"{mail.CASE_TEAM_MEETING}, {day}"


def visible_to(person: Person) -> sa.ColumnElement[bool]:
    """:func:`may_see_meeting` as a condition on ``Meeting``, so lists filter in the query: the
    coordinator sees all; whoever is invited; a guest expert nothing else; others a table's
    meeting, and a case team's meeting of a case they may read (coordinator or its team, as
    :data:`Action.CASE_READ` decides)."""
    if person.role == Role.COORDINATOR:
        return sa.true()
    invited = Meeting.id.in_(sa.select(Invitee.meeting_id).where(Invitee.membership_id == person.membership_id))
    if person.role == Role.GUEST_EXPERT:
        return invited
    in_team = Meeting.case_id.in_(
        sa.select(CaseTeamMember.case_id).where(
            CaseTeamMember.membership_id == person.membership_id,
            CaseTeamMember.removed_at.is_(None),
            sa.or_(CaseTeamMember.until.is_(None), CaseTeamMember.until >= utcnow().date()),
        )
    )
    return sa.or_(invited, sa.and_(Meeting.case_id.is_(None), Meeting.table_id.is_not(None)), in_team)


#: What a list of meetings shows of each (title, attendance, minutes), loaded with the page.
LIST_LOADS = (
    selectinload(Meeting.table),
    selectinload(Meeting.invitees),
    selectinload(Meeting.occasional_attendees),
    selectinload(Meeting.addenda),
)


def meetings_query(person: Person) -> sa.Select:
    """The meetings ``person`` may see, with what lists show of them (unordered)."""
    return sa.select(Meeting).where(visible_to(person)).options(*LIST_LOADS)


def meetings_for(person: Person) -> list[Meeting]:
    """The meetings ``person`` may see, newest first."""
    return list(db.session.scalars(meetings_query(person).order_by(Meeting.starts_at.desc(), Meeting.id.desc())))


def coming_meetings(person: Person, limit: int) -> list[Meeting]:
    """The meetings not yet over nor held that ``person`` may see, soonest first, at most
    ``limit`` (a cell plans a few months ahead: the list is short)."""
    query = meetings_query(person).where(Meeting.ends_at >= utcnow(), Meeting.status != MeetingStatus.HELD)
    return list(db.session.scalars(query.order_by(Meeting.starts_at, Meeting.id).limit(limit)))


def past_meetings_query(person: Person) -> sa.Select:
    """The meetings over or held that ``person`` may see (the list's second part, paged)."""
    return meetings_query(person).where(sa.or_(Meeting.ends_at < utcnow(), Meeting.status == MeetingStatus.HELD))


def attendance_counts(meeting: Meeting) -> dict[str, int]:
    counts = {"invited": 0, **{value.value: 0 for value in Attendance}, "not_registered": 0}
    for invitee in meeting.invitees:
        counts["invited"] += 1
        counts[invitee.attendance.value if invitee.attendance else "not_registered"] += 1
    counts["occasional"] = len(meeting.occasional_attendees)
    return counts


# --- planning ------------------------------------------------------------------------------------


def _member(membership_id: int | None) -> Membership | None:
    membership = db.session.get(Membership, membership_id) if membership_id is not None else None
    if membership is None or not membership.usable or membership.role == Role.GUEST_EXPERT:
        return None
    return membership


def _overlapping(table_id: int | None, case_id: int | None, starts_at: datetime, ends_at: datetime,
                 other_than: int | None = None) -> Meeting | None:
    query = sa.select(Meeting).where(
        Meeting.status != MeetingStatus.CANCELLED, Meeting.starts_at < ends_at, Meeting.ends_at > starts_at
    )
    query = query.where(Meeting.table_id == table_id) if table_id is not None else query.where(Meeting.case_id == case_id)
    if other_than is not None:
        query = query.where(Meeting.id != other_than)
    return db.session.scalar(query.order_by(Meeting.starts_at).limit(1))


def _when_and_where_faults(faults: Faults, table_id: int | None, case_id: int | None, starts_at: datetime | None,
                           ends_at: datetime | None, place: str | None, video_link: str | None,
                           other_than: int | None = None) -> None:
    """The faults of a meeting's time and place, when it is planned and when it is moved: it ends
    after it starts, it has a place or a video link, and it never overlaps another meeting of its
    table (or case team; ``other_than``: the meeting being moved)."""
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        add_fault(faults, "ends_at", ENDS_BEFORE)
    if not place and not video_link:
        add_fault(faults, "place", PLACE_OR_LINK)
    if (table_id is not None or case_id is not None) and starts_at is not None and ends_at is not None \
            and ends_at > starts_at:
        clash = _overlapping(table_id, case_id, starts_at, ends_at, other_than=other_than)
        if clash is not None:
            add_fault(faults, "starts_at", overlaps(meeting_title(clash)))


def _invited_members(table: Table | None, case: Case | None, extra: Iterable[int | None]) -> list[Membership]:
    """The table's seated members (or the case team), with the chair and the secretary."""
    ids: list[int] = []
    if table is not None:
        ids += [seat.membership_id for seat in db.session.scalars(
            sa.select(TableSeat).where(TableSeat.table_id == table.id, TableSeat.removed_at.is_(None),
                                       TableSeat.membership_id.is_not(None)).order_by(TableSeat.id))]
    if case is not None:
        ids += sorted(case.team_membership_ids)
    ids += [membership_id for membership_id in extra if membership_id is not None]
    members, seen = [], set()
    for membership_id in ids:
        membership = _member(membership_id)
        if membership is not None and membership.id not in seen:
            seen.add(membership.id)
            members.append(membership)
    return members


def plan_meeting(actor: Membership, values: Mapping[str, Any]) -> Meeting:
    """Plan a meeting of a table (``table_id``) or of a case team (``case_id``) and invite.

    ``starts_at`` and ``ends_at`` are typed in Belgian time. Every fault is answered at once,
    field by field, and nothing is saved.
    """
    faults: Faults = {}
    table = case = None
    table_id, case_id = values.get("table_id"), values.get("case_id")
    if table_id is None and case_id is None:
        add_fault(faults, "table_id", TABLE_OR_CASE)
    elif table_id is not None and case_id is not None:
        add_fault(faults, "case_id", NOT_BOTH)
    elif table_id is not None:
        table = db.session.get(Table, table_id)
        if table is None or table.removed:
            add_fault(faults, "table_id", UNKNOWN_TABLE)
            table = None
        elif not may_organise(actor, table=table):
            add_fault(faults, "table_id", NOT_ORGANISER)
    else:
        case = _case(case_id)
        readable = case is not None and decide(person_for(actor), Action.CASE_READ, case)
        if not readable or case.status != CaseStatus.OPEN or actor.role == Role.GUEST_EXPERT:
            add_fault(faults, "case_id", UNKNOWN_CASE)
            case = None
    starts, ends = values.get("starts_at"), values.get("ends_at")
    starts_at = to_utc(starts) if starts is not None else None
    ends_at = to_utc(ends) if ends is not None else None
    _when_and_where_faults(faults, table.id if table else None, case.id if case else None,
                           starts_at, ends_at, values.get("place"), values.get("video_link"))
    chair_id = values.get("chair_id") or (table.chair_membership_id if table is not None else actor.id)
    secretary_id = values.get("secretary_id") or (table.secretary_membership_id if table is not None else None)
    for name, membership_id in (("chair_id", chair_id), ("secretary_id", secretary_id)):
        if membership_id is not None and _member(membership_id) is None:
            add_fault(faults, name, NOT_A_MEMBER)
    raise_faults(faults)

    kind = values.get("kind") or MeetingKind.REGULAR
    meeting = Meeting(
        table_id=table.id if table else None, case_id=case.id if case else None,
        case_code=case.code if case else None, kind=MeetingKind(kind), starts_at=starts_at, ends_at=ends_at,
        place=values.get("place"), video_link=values.get("video_link"), chair_id=chair_id,
        secretary_id=secretary_id, created_by_id=actor.id,
    )
    db.session.add(meeting)
    db.session.flush()
    invited = _invited_members(table, case, (chair_id, secretary_id))
    for membership in invited:
        db.session.add(Invitee(meeting_id=meeting.id, membership_id=membership.id))
    db.session.flush()
    db.session.refresh(meeting)
    audit.record("meeting.planned", subject=subject_of(meeting), details={
        "table_id": meeting.table_id, "case": meeting.case_code, "kind": meeting.kind.value,
        "starts_at": meeting.starts_at.isoformat(), "invited": len(invited),
    })
    mail.notify_invited(meeting, invited)
    return meeting


def _require_organiser(meeting: Meeting, actor: Membership) -> None:
    if not may_organise(actor, meeting):
        raise_faults({"_schema": [NOT_MEETING_ORGANISER]})


def cancel_meeting(meeting: Meeting, actor: Membership) -> Meeting:
    locked(meeting)
    _require_organiser(meeting, actor)
    if meeting.status != MeetingStatus.PLANNED:
        raise_faults({"_schema": [NOT_PLANNED]})
    meeting.status, meeting.cancelled_at = MeetingStatus.CANCELLED, _now()
    db.session.flush()
    audit.record("meeting.cancelled", subject=subject_of(meeting))
    mail.notify_cancelled(meeting, [invitee.membership for invitee in meeting.invitees if invitee.membership.usable])
    return meeting


def when_and_where(meeting: Meeting) -> tuple[datetime, datetime, str | None, str | None]:
    """What moving a meeting changes: its start and end (stored, UTC), its place and video link."""
    return meeting.starts_at, meeting.ends_at, meeting.place, meeting.video_link


def reschedule_meeting(meeting: Meeting, actor: Membership, values: Mapping[str, Any]) -> Meeting:
    """Move a planned meeting: ``starts_at`` and ``ends_at`` (typed in Belgian time), ``place``,
    ``video_link``; a field not in ``values`` keeps its value (an empty place or link clears it).

    The checks of planning hold (:func:`_when_and_where_faults`), every fault at once, and
    nothing is saved on a fault. A move that changes something is audited (ids and times only),
    the reminder of the day before goes again, and every usable invitee is told by mail (the new
    day, place or link and the link to the meeting: never a case).
    """
    locked(meeting)
    check_version(meeting, values.get("version"))
    _require_organiser(meeting, actor)
    if meeting.status != MeetingStatus.PLANNED:
        raise_faults({"_schema": [NOT_PLANNED]})
    starts_at = to_utc(values["starts_at"]) if values.get("starts_at") is not None else meeting.starts_at
    ends_at = to_utc(values["ends_at"]) if values.get("ends_at") is not None else meeting.ends_at
    place = (values.get("place") or None) if "place" in values else meeting.place
    video_link = (values.get("video_link") or None) if "video_link" in values else meeting.video_link
    faults: Faults = {}
    _when_and_where_faults(faults, meeting.table_id, meeting.case_id, starts_at, ends_at, place, video_link,
                           other_than=meeting.id)
    raise_faults(faults)
    if (starts_at, ends_at, place, video_link) == when_and_where(meeting):
        return meeting
    was_starts_at, was_ends_at = meeting.starts_at, meeting.ends_at
    meeting.starts_at, meeting.ends_at, meeting.place, meeting.video_link = starts_at, ends_at, place, video_link
    meeting.reminded_day_before_at = None  # the day before, they hear of it again
    db.session.flush()
    audit.record("meeting.rescheduled", subject=subject_of(meeting), details={
        "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
        "was_starts_at": was_starts_at.isoformat(), "was_ends_at": was_ends_at.isoformat(),
    })
    mail.notify_moved(meeting, [invitee.membership for invitee in meeting.invitees if invitee.membership.usable],
                      was_starts_at)
    return meeting


def in_session() -> Meeting | None:
    """The cell's meeting in session (at most one at a time)."""
    return db.session.scalar(sa.select(Meeting).where(Meeting.status == MeetingStatus.IN_SESSION).limit(1))


def open_session(meeting: Meeting, actor: Membership) -> Meeting:
    """The meeting starts: decisions may now be taken in it, with those registered present."""
    locked(meeting)
    _require_organiser(meeting, actor)
    if meeting.status != MeetingStatus.PLANNED:
        raise_faults({"_schema": [NOT_PLANNED]})
    cell_lock("meetings.in_session")  # two meetings opened at once: the second sees the first
    if in_session() is not None:
        raise_faults({"_schema": [ANOTHER_IN_SESSION]})
    meeting.status, meeting.opened_at = MeetingStatus.IN_SESSION, _now()
    db.session.flush()
    audit.record("meeting.opened", subject=subject_of(meeting))
    return meeting


def close_session(meeting: Meeting, actor: Membership) -> Meeting:
    """The meeting is held: whoever was not registered is absent without notice."""
    locked(meeting)
    _require_organiser(meeting, actor)
    if meeting.status != MeetingStatus.IN_SESSION:
        raise_faults({"_schema": [NOT_IN_SESSION]})
    now = _now()
    for invitee in meeting.invitees:
        if invitee.attendance is None:
            invitee.attendance, invitee.recorded_at, invitee.recorded_by_id = Attendance.ABSENT, now, actor.id
    meeting.status, meeting.closed_at = MeetingStatus.HELD, now
    db.session.flush()
    audit.record("meeting.held", subject=subject_of(meeting), details=attendance_counts(meeting))
    return meeting


# --- the agenda ----------------------------------------------------------------------------------


def _discusses_cases(meeting: Meeting) -> bool:
    return meeting.case_id is not None or (meeting.table is not None and serves_as_operational(meeting.table.kind))


def _case_suggestions(meeting: Meeting) -> list[Suggestion]:
    day = to_local(meeting.starts_at).date()
    only = (lambda query, column: query.where(column == meeting.case_id)) if meeting.case_id else (lambda q, _c: q)
    found: list[Suggestion] = []
    if meeting.case_id is None:
        for signal in db.session.scalars(sa.select(Signal).where(Signal.status == SignalStatus.NEW).order_by(Signal.received_at)):
            found.append(Suggestion(ItemKind.SIGNAL, signal.reference, signal_id=signal.id,
                                    police_information=signal.channel == SignalChannel.LTF_REFERRAL))
    reviews = only(sa.select(Case).join(Review, Review.case_id == Case.id).where(
        Review.held_on.is_(None), Review.due_on <= day), Case.id)
    for case in db.session.scalars(reviews.distinct().order_by(Case.code)):
        found.append(Suggestion(ItemKind.REVIEW, case.code, case_id=case.id))
    measures = only(sa.select(Case).join(Measure, Measure.case_id == Case.id).where(
        Case.status == CaseStatus.OPEN, Measure.status.in_(OPEN_MEASURE_STATUSES), Measure.due_on <= day), Case.id)
    for case in db.session.scalars(measures.distinct().order_by(Case.code)):
        found.append(Suggestion(ItemKind.MEASURES, case.code, case_id=case.id))
    feedback = only(sa.select(Case).join(LtfFeedback, LtfFeedback.case_id == Case.id).where(
        LtfFeedback.status == FeedbackStatus.DRAFT), Case.id)
    for case in db.session.scalars(feedback.distinct().order_by(Case.code)):
        found.append(Suggestion(ItemKind.FEEDBACK, case.code, case_id=case.id))
    for proposal in pending_proposals():
        if meeting.case_id is not None and not (proposal.subject_type == "case" and proposal.subject_id == meeting.case_id):
            continue
        found.append(Suggestion(
            ItemKind.DECISION, proposal.subject_code, proposal_id=proposal.id,
            case_id=proposal.subject_id if proposal.subject_type == "case" else None,
            signal_id=proposal.subject_id if proposal.subject_type == "signal" else None,
            police_information=proposal.police_information,
        ))
    return found


def proposed_agenda(meeting: Meeting) -> list[Suggestion]:
    """What needs the table and is not on the agenda yet: signals to weigh, cases with reviews
    or measures due by the meeting's day, feedback forms waiting for approval, decisions waiting
    for confirmation, contributions (the federation's match alerts), members' requests."""
    suggestions: list[Suggestion] = []
    if _discusses_cases(meeting):
        suggestions += _case_suggestions(meeting)
    suggestions += contributed(Occasion(meeting.id, _discusses_cases(meeting), meeting.case_id))
    if meeting.case_id is None:
        for request in db.session.scalars(
            sa.select(MeetingRequest).where(MeetingRequest.meeting_id.is_(None)).order_by(MeetingRequest.requested_at)
        ):
            suggestions.append(Suggestion(ItemKind.REQUEST, request_id=request.id))
    taken = {_key_of(item) for item in meeting.items}
    unique: dict[tuple, Suggestion] = {}
    for suggestion in suggestions:
        if suggestion.key not in taken:
            unique.setdefault(suggestion.key, suggestion)
    return list(unique.values())


def _key_of(item: AgendaItem) -> tuple:
    return (item.kind, item.case_id, item.signal_id, item.proposal_id, item.request_id)


def suggestion_token(suggestion: Suggestion) -> str:
    """How a page names a suggestion to take it up."""
    return ":".join("" if part is None else str(part) for part in suggestion.key)


def _check_agenda_open(meeting: Meeting, actor: Membership) -> None:
    locked(meeting)  # agenda changes take turns: positions and checks see each other's work
    _require_organiser(meeting, actor)
    if meeting.status not in (MeetingStatus.PLANNED, MeetingStatus.IN_SESSION):
        raise_faults({"_schema": [AGENDA_CLOSED]})


def _next_position(meeting: Meeting) -> int:
    return (db.session.scalar(sa.select(sa.func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting.id)) or 0) + 1


def take_up(meeting: Meeting, actor: Membership, tokens: Iterable[str] | None = None) -> list[AgendaItem]:
    """Put proposed points on the agenda: those named by ``tokens``, or all of them."""
    _check_agenda_open(meeting, actor)
    wanted = set(tokens) if tokens is not None else None
    added = []
    position = _next_position(meeting)
    for suggestion in proposed_agenda(meeting):
        if wanted is not None and suggestion_token(suggestion) not in wanted:
            continue
        item = AgendaItem(
            meeting_id=meeting.id, position=position, kind=suggestion.kind, title=suggestion.title,
            reference=suggestion.reference, case_id=suggestion.case_id, signal_id=suggestion.signal_id,
            proposal_id=suggestion.proposal_id, request_id=suggestion.request_id,
            police_information=suggestion.police_information, added_by_id=actor.id,
            **_brought(suggestion),
        )
        db.session.add(item)
        if suggestion.request_id is not None:
            db.session.get(MeetingRequest, suggestion.request_id).meeting_id = meeting.id
        added.append(item)
        position += 1
    db.session.flush()
    db.session.expire(meeting, ["items"])
    if added:
        audit.record("meeting.agenda_proposed_taken", subject=subject_of(meeting), details={
            "items": [item.id for item in added], "references": [item.reference for item in added if item.reference],
        })
    return added


def _brought(suggestion: Suggestion) -> dict:
    """Who brings a proposed point and their choice (seed 001): a signal's reporter as they
    chose at the intake, a member who asked for the meeting (their request is registered);
    other points are the cell's own business."""
    if suggestion.signal_id is not None:
        signal = db.session.get(Signal, suggestion.signal_id)
        if signal is not None:
            return {"brought_by_id": signal.recorded_by_id, "registration": signal.registration}
    if suggestion.request_id is not None:
        asked = db.session.get(MeetingRequest, suggestion.request_id)
        if asked is not None:
            return {"brought_by_id": asked.requested_by_id, "registration": Registration.REGISTERED}
    return {}


def _guest(membership_id: int | None) -> Membership | None:
    membership = db.session.get(Membership, membership_id) if membership_id is not None else None
    if membership is None or membership.role != Role.GUEST_EXPERT or not membership.usable:
        return None
    return membership


def add_item(meeting: Meeting, actor: Membership, person: Person, values: Mapping[str, Any]) -> AgendaItem:
    """Another point: a title, optionally a case by its code, police information, and a guest
    expert invited for this point only."""
    _check_agenda_open(meeting, actor)
    faults: Faults = {}
    title = (values.get("title") or "").strip()
    if not title:
        add_fault(faults, "title", TITLE_REQUIRED)
    case = None
    if values.get("case_code"):
        case = db.session.scalar(sa.select(Case).where(Case.code == values["case_code"].strip().upper()))
        if case is None:
            add_fault(faults, "case_code", UNKNOWN_CODE)
    police = bool(values.get("police_information"))
    if police and not decide(person, Action.POLICE_INFO_READ):
        add_fault(faults, "police_information", POLICE_NOT_YOURS)
    guest = None
    if values.get("guest_id") is not None:
        guest = _guest(values["guest_id"])
        if guest is None:
            add_fault(faults, "guest_id", NOT_GUEST)
    bringer = actor
    if values.get("brought_by_id") is not None:
        bringer = _member(values["brought_by_id"])
        if bringer is None or bringer.role == Role.GUEST_EXPERT:
            add_fault(faults, "brought_by_id", NOT_A_MEMBER)
            bringer = actor
    registration = coerce(values, registration=Registration).get("registration") or Registration.REGISTERED
    for name, messages in recording_faults(actor_id=actor.id, bringer_id=bringer.id, registration=registration,
                                           content=None, content_field="title").items():
        faults.setdefault(name, []).extend(messages)
    raise_faults(faults)
    item = AgendaItem(
        meeting_id=meeting.id, position=_next_position(meeting), kind=ItemKind.OTHER, title=title,
        reference=case.code if case else None, case_id=case.id if case else None, police_information=police,
        added_by_id=actor.id, brought_by_id=bringer.id, registration=registration,
    )
    db.session.add(item)
    db.session.flush()
    audit.record("meeting.item_added", subject=subject_of(meeting), details={"item": item.id, "case": item.reference})
    if guest is not None:
        invite_guest(item, actor, guest.id)
    db.session.expire(meeting, ["items", "invitees"])
    return item


def invite_guest(item: AgendaItem, actor: Membership, guest_id: int | None) -> Invitee:
    """Invite a guest expert for ``item`` only (seed 004: "experts uitgenodigd voor één casus")."""
    meeting = db.session.get(Meeting, item.meeting_id)
    _check_agenda_open(meeting, actor)
    guest = _guest(guest_id)
    if guest is None:
        raise_faults({"guest_id": [NOT_GUEST]})
    invitee = invitee_of(meeting, guest.id)
    if invitee is None:
        invitee = Invitee(meeting_id=meeting.id, membership_id=guest.id, item_id=item.id)
        db.session.add(invitee)
    else:
        invitee.item_id = item.id
    db.session.flush()
    audit.record("meeting.guest_invited", subject=subject_of(meeting), details={"item": item.id, "membership_id": guest.id})
    mail.notify_invited(meeting, [guest])
    return invitee


def move_item(item: AgendaItem, actor: Membership, up: bool) -> None:
    meeting = db.session.get(Meeting, item.meeting_id)
    _check_agenda_open(meeting, actor)
    items = list(meeting.items)
    index = items.index(item)
    other = index - 1 if up else index + 1
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
        for position, each in enumerate(items, start=1):
            each.position = position
        db.session.flush()
        audit.record("meeting.agenda_reordered", subject=subject_of(meeting), details={"item": item.id})
    db.session.expire(meeting, ["items"])


def remove_item(item: AgendaItem, actor: Membership) -> None:
    meeting = db.session.get(Meeting, item.meeting_id)
    _check_agenda_open(meeting, actor)
    if item.request_id is not None:
        request = db.session.get(MeetingRequest, item.request_id)
        if request is not None:
            request.meeting_id = None  # back to the next agenda
    db.session.execute(sa.delete(Invitee).where(Invitee.item_id == item.id))
    db.session.delete(item)
    db.session.flush()
    db.session.expire(meeting, ["items", "invitees"])
    audit.record("meeting.item_removed", subject=subject_of(meeting), details={"item": item.id})


# --- the attendance register --------------------------------------------------------------------


def _register_open(meeting: Meeting) -> bool:
    return meeting.status in (MeetingStatus.PLANNED, MeetingStatus.IN_SESSION, MeetingStatus.HELD) and not meeting.minutes_locked


def record_attendance(meeting: Meeting, actor: Membership, marks: Mapping[int, Attendance | str | None]) -> None:
    """Register who is present, excused, or absent without notice (membership id -> mark).

    Present is registered only in session or after, and only for a member who accepted the
    cell's current secrecy undertaking and house rules. Every fault at once; nothing half-saved.
    """
    locked(meeting)
    _require_organiser(meeting, actor)
    if meeting.minutes_locked:
        raise_faults({"_schema": [locked_message(meeting)]})
    if not _register_open(meeting):
        raise_faults({"_schema": [REGISTER_CLOSED]})
    faults: Faults = {}
    changes = []
    for membership_id, mark in marks.items():
        field = f"attendance_{membership_id}"
        invitee = invitee_of(meeting, membership_id)
        mark = Attendance(mark) if mark else None
        if invitee is None:
            add_fault(faults, field, NOT_INVITED)
            continue
        if mark == Attendance.PRESENT:
            if meeting.status == MeetingStatus.PLANNED:
                add_fault(faults, field, PRESENT_IN_SESSION)
                continue
            if not has_accepted_current(invitee.membership) or not invitee.membership.usable:
                add_fault(faults, field, not_accepted(invitee.membership.account.label))
                continue
        changes.append((invitee, mark))
    raise_faults(faults)
    now = _now()
    for invitee, mark in changes:
        if invitee.attendance != mark:
            invitee.attendance, invitee.recorded_at, invitee.recorded_by_id = mark, now, actor.id
    db.session.flush()
    audit.record("meeting.attendance_recorded", subject=subject_of(meeting), details={
        "marks": {str(invitee.membership_id): mark.value if mark else None for invitee, mark in changes},
    })


def add_occasional_attendee(meeting: Meeting, actor: Membership, values: Mapping[str, Any]) -> OccasionalAttendee:
    """An occasional attendee (name, organisation, capacity), only once they signed the undertaking."""
    locked(meeting)
    _require_organiser(meeting, actor)
    if meeting.minutes_locked:
        raise_faults({"_schema": [locked_message(meeting)]})
    faults: Faults = {}
    if meeting.status not in (MeetingStatus.IN_SESSION, MeetingStatus.HELD):
        add_fault(faults, "_schema", PRESENT_IN_SESSION)
    if values.get("undertaking_signed") is not True:
        add_fault(faults, "undertaking_signed", UNDERTAKING_SIGNED)
    raise_faults(faults)
    attendee = OccasionalAttendee(
        meeting_id=meeting.id, name=values["name"], organisation=values["organisation"],
        capacity=values["capacity"], undertaking_signed=True, recorded_by_id=actor.id,
    )
    db.session.add(attendee)
    db.session.flush()
    db.session.expire(meeting, ["occasional_attendees"])
    audit.record("meeting.occasional_attendee", subject=subject_of(meeting), details={"attendee": attendee.id})
    return attendee


# --- the minutes -----------------------------------------------------------------------------------


def _check_minutes_open(meeting: Meeting, actor: Membership) -> None:
    locked(meeting)
    _require_organiser(meeting, actor)
    if meeting.minutes_locked:
        raise_faults({"_schema": [locked_message(meeting)]})
    if meeting.status not in (MeetingStatus.IN_SESSION, MeetingStatus.HELD):
        raise_faults({"_schema": [MINUTES_NOT_YET]})


def write_minutes(item: AgendaItem, actor: Membership, values: Mapping[str, Any]) -> AgendaItem:
    """The item's part of the minutes: a short summary, or "not for the minutes" (then nothing
    of what was said is kept, not even encrypted: only that the item was handled)."""
    meeting = db.session.get(Meeting, item.meeting_id)
    _check_minutes_open(meeting, actor)
    locked(item)
    off_the_record = bool(values.get("off_the_record"))
    check_version(item, values.get("version"), {"summary": None if off_the_record else values.get("summary"),
                                                "off_the_record": off_the_record})
    if item.registration == Registration.ORAL_ONLY and not off_the_record and (values.get("summary") or "").strip():
        raise_faults({"summary": [MINUTES_ORAL_ONLY]})
    item.off_the_record = off_the_record
    if off_the_record or item.registration == Registration.ORAL_ONLY:
        item.summary_ciphertext = None
    else:
        summary = (values.get("summary") or "").strip()
        item.summary = summary or None
    item.handled_at = item.handled_at or _now()
    item.written_at, item.written_by_id = _now(), actor.id
    db.session.flush()
    audit.record("meeting.minutes_written", subject=subject_of(meeting), details={
        "item": item.id, "off_the_record": off_the_record, "case": item.reference if item.case_id else None,
    })
    return item


def change_item_registration(item: AgendaItem, actor: Membership, values: Mapping[str, Any]) -> AgendaItem:
    """The partner who brought the point changes their choice (seed 001): oral only erases its
    summary from the minutes, approved or not (the consent goes before the record); registered
    needs the summary then, while the minutes are still written."""
    values = coerce(values, registration=Registration)
    meeting = locked(db.session.get(Meeting, item.meeting_id))
    locked(item)
    summary = (values.get("summary") or "").strip() or None
    faults = change_faults(actor_id=actor.id, bringer_id=item.brought_by_id, current=item.registration,
                           new=values.get("registration"), content=summary, content_field="summary")
    if not faults and values["registration"] == Registration.REGISTERED:
        if meeting.minutes_locked:
            faults["_schema"] = [locked_message(meeting)]
        elif meeting.status not in (MeetingStatus.IN_SESSION, MeetingStatus.HELD):
            faults["_schema"] = [MINUTES_NOT_YET]
    raise_faults(faults)
    previous, item.registration = item.registration, values["registration"]
    if item.registration == Registration.ORAL_ONLY:
        item.summary_ciphertext = None
    else:
        item.summary = summary
        item.off_the_record = False
        item.handled_at = item.handled_at or _now()
        item.written_at, item.written_by_id = _now(), actor.id
    db.session.flush()
    audit.record("meeting.item_registration_changed", subject=subject_of(meeting), details={
        "item": item.id, "from": previous.value, "to": item.registration.value,
    })
    return item


def approving_sitting(meeting: Meeting) -> Meeting | None:
    """The later meeting of the same table (or case team) now in session, which may approve."""
    sitting = in_session()
    if sitting is None or sitting.id == meeting.id or sitting.starts_at <= meeting.starts_at:
        return None
    same = (sitting.table_id is not None and sitting.table_id == meeting.table_id) or (
        sitting.case_id is not None and sitting.case_id == meeting.case_id)
    return sitting if same else None


def approve_minutes(meeting: Meeting, actor: Membership) -> Meeting:
    """The next meeting in session approves the minutes (a decision of that meeting, with its
    members registered present); from then on they are locked."""
    locked(meeting)
    if meeting.minutes_locked:
        raise_faults({"_schema": [locked_message(meeting)]})
    if meeting.status != MeetingStatus.HELD:
        raise_faults({"_schema": [NOT_HELD]})
    sitting = approving_sitting(meeting)
    if sitting is None:
        raise_faults({"_schema": [NO_LATER_SITTING]})
    _require_organiser(sitting, actor)
    # The approving meeting decides: recorded by one of its members registered present, two at least.
    fault = sitting_fault(actor, sitting_now())
    if fault:
        raise_faults({"_schema": [fault]})
    meeting.minutes_approved_at, meeting.minutes_approved_in_id, meeting.minutes_approved_by_id = _now(), sitting.id, actor.id
    db.session.flush()
    audit.record("meeting.minutes_approved", subject=subject_of(meeting), details={"in_meeting": sitting.id})
    return meeting


def add_addendum(meeting: Meeting, actor: Membership, text: str | None) -> MinutesAddendum:
    """A dated correction of approved minutes."""
    locked(meeting)
    _require_organiser(meeting, actor)
    if not meeting.minutes_locked:
        raise_faults({"text": [NOT_LOCKED_YET]})
    if not (text or "").strip():
        raise_faults({"text": [ADDENDUM_REQUIRED]})
    addendum = MinutesAddendum(meeting_id=meeting.id, written_by_id=actor.id, text_ciphertext="")
    db.session.add(addendum)
    db.session.flush()
    addendum.text = text.strip()
    db.session.flush()
    db.session.expire(meeting, ["addenda"])
    audit.record("meeting.minutes_addendum", subject=subject_of(meeting), details={"addendum": addendum.id})
    return addendum


def decisions_by_item(meeting: Meeting) -> tuple[dict[int, list[Proposal]], list[Proposal]]:
    """The decisions taken in the meeting, per agenda item (matched by subject), and the rest."""
    by_item: dict[int, list[Proposal]] = {}
    rest: list[Proposal] = []
    for proposal in proposals_of_meeting(meeting.id):
        item = next((item for item in meeting.items if item.proposal_id == proposal.id), None) or next((
            item for item in meeting.items
            if (proposal.subject_type == "case" and item.case_id == proposal.subject_id)
            or (proposal.subject_type == "signal" and item.signal_id == proposal.subject_id)
        ), None)
        if item is None:
            rest.append(proposal)
        else:
            by_item.setdefault(item.id, []).append(proposal)
    return by_item, rest


def subject_readable(person: Person, proposal: Proposal) -> bool:
    """May ``person`` read what a decision is about (the case or the signal)?"""
    if proposal.police_information and not decide(person, Action.POLICE_INFO_READ):
        return False
    if proposal.subject_type == "case":
        return bool(decide(person, Action.CASE_READ, _case(proposal.subject_id)))
    return bool(decide(person, Action.SIGNAL_READ, db.session.get(Signal, proposal.subject_id)))


# --- requests of members -------------------------------------------------------------------------


def request_meeting(actor: Membership, reason: str | None) -> MeetingRequest:
    """A member asks for an ad hoc meeting; the coordinators hear of it (no content)."""
    if actor.role == Role.GUEST_EXPERT:
        raise_faults({"reason": [NOT_A_MEMBER]})
    if not (reason or "").strip():
        raise_faults({"reason": [REASON_REQUIRED]})
    request = MeetingRequest(requested_by_id=actor.id, reason_ciphertext="")
    db.session.add(request)
    db.session.flush()
    request.reason = reason.strip()
    db.session.flush()
    audit.record("meeting.requested", subject=f"meeting_request:{request.id}")
    mail.notify_requested([member for member in active_members(Role.COORDINATOR) if member.id != actor.id])
    return request


def waiting_requests() -> list[MeetingRequest]:
    return list(db.session.scalars(
        sa.select(MeetingRequest).where(MeetingRequest.meeting_id.is_(None)).order_by(MeetingRequest.requested_at)))


# --- what other domains ask --------------------------------------------------------------------


def sitting_now() -> Sitting | None:
    """The meeting in session, as the decisions engine sees it: its members registered present
    (guest experts, invited for one item, do not take the table's decisions)."""
    meeting = in_session()
    if meeting is None:
        return None
    present = frozenset(
        invitee.membership_id for invitee in meeting.invitees
        if invitee.attendance == Attendance.PRESENT and invitee.item_id is None
    )
    return Sitting(meeting_id=meeting.id, title=meeting_title(meeting), present_ids=present)


def agenda_attendees(case_id: int) -> set[int]:
    """Who attends a meeting with case ``case_id`` on its agenda (the policy's "on the agenda of a
    meeting attended", which lets them see its code): those invited to a meeting planned or in
    session, and those registered present at a held one; a guest expert only for their item."""
    rows = db.session.execute(
        sa.select(Invitee.membership_id, Invitee.item_id, Invitee.attendance, Meeting.status, AgendaItem.id)
        .join(Meeting, Meeting.id == Invitee.meeting_id)
        .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
        .where(AgendaItem.case_id == case_id, Meeting.status != MeetingStatus.CANCELLED)
    ).all()
    found = set()
    for membership_id, guest_item_id, attendance, status, item_id in rows:
        if guest_item_id is not None and guest_item_id != item_id:
            continue
        if status == MeetingStatus.HELD and attendance != Attendance.PRESENT:
            continue
        found.add(membership_id)
    return found


def _case_erased(case: Case, **_details) -> None:
    """An erased case leaves no code nor summary on any agenda: only that an item was handled."""
    for item in db.session.scalars(sa.select(AgendaItem).where(AgendaItem.case_id == case.id)):
        item.case_id = item.reference = item.summary_ciphertext = None
    for meeting in db.session.scalars(sa.select(Meeting).where(Meeting.case_id == case.id)):
        meeting.case_id = meeting.case_code = None
    db.session.flush()


def _signal_erased(signal: Signal, **_details) -> None:
    """An erased signal leaves no reference nor summary on any agenda: only that an item was handled."""
    for item in db.session.scalars(sa.select(AgendaItem).where(AgendaItem.signal_id == signal.id)):
        item.signal_id = item.reference = item.summary_ciphertext = None
    db.session.flush()


register_sitting_provider(sitting_now)
if agenda_attendees not in AGENDA_ATTENDEES:
    AGENDA_ATTENDEES.append(agenda_attendees)
case_events.case_erased.connect(_case_erased)
signal_events.signal_erased.connect(_signal_erased)
