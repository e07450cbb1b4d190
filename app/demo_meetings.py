"""The demo cells' table and meetings: what a coordinator finds on the meetings page.

Inside a demo cell with its members and cases (:mod:`livc.app.demo_cases`), once:

- the cell's operational table (the main table of an integrated cell), chaired by the
  coordinator, kept by the secretary, with a seat for every member but the guest expert;
- a meeting held five weeks ago: one member excused, an occasional attendee, a case on the
  agenda, minutes with one point off the record (nothing of it is kept), approved at
- the meeting held last week, which also took a decision on a case team (its attendance
  register is the proof), and whose minutes wait for approval;
- the next meeting, planned, its agenda taken from what needs the table;
- a proposal waiting for a second member's confirmation: the weighing of a signal.

Every step goes through the meetings' and decisions' operations (their rules and audit
entries); only the dates are moved back afterwards, as the cases' seeding does.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from livc.platform.db import db
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.access import person_for
from livc.tenants.cases.models import Case, CaseStatus
from livc.tenants.cases.operations import add_team_member
from livc.tenants.cases.weighing import weigh_signal
from livc.tenants.cell.models import (
    TABLE_KINDS_BY_FORM,
    CellForm,
    Table,
    TableKind,
    serves_as_operational,
)
from livc.tenants.cell.operations import add_seat, cell_profile, create_table, live_tables
from livc.tenants.decisions.models import DecisionKind, DecisionWay
from livc.tenants.decisions.operations import open_proposal_about
from livc.tenants.meetings.models import Attendance, Meeting, MeetingKind
from livc.tenants.meetings.operations import (
    add_item,
    add_occasional_attendee,
    approve_minutes,
    close_session,
    open_session,
    plan_meeting,
    record_attendance,
    take_up,
    write_minutes,
)
from livc.tenants.members.models import Membership, UndertakingAcceptance
from livc.tenants.members.operations import accept_undertaking, publish_undertaking
from livc.tenants.signals.models import FlagLevel, Signal, SignalStatus, WeighingDecision

PLACE = "Stadhuis, vergaderzaal 2 (DEMO)"


def seed_demo_meetings(members: dict[Role, Membership]) -> bool:
    """Seed the cell's table and meetings (inside its tenant context); False if it has meetings."""
    if db.session.scalar(sa.select(Meeting.id).limit(1)) is not None:
        return False
    coordinator = members.get(Role.COORDINATOR)
    profile = cell_profile()
    if coordinator is None or profile is None:
        return False
    table = operational_table(members, profile.form)
    _accepted_before(members, utcnow() - timedelta(days=42))
    seeder = _MeetingSeeder(members, table.id)
    seeder.held_five_weeks_ago()
    seeder.held_last_week()
    # The cell renewed its undertaking since: every member accepts it again at their next
    # sign-in, which is the step the demo shows first (the meetings were held under version 1).
    publish_undertaking(None)
    seeder.planned_next()
    seeder.proposal_waiting()
    db.session.flush()
    return True


def _accepted_before(members: dict[Role, Membership], when: datetime) -> None:
    """The members accepted the undertaking before the first meeting (present needs it)."""
    for membership in members.values():
        accept_undertaking(membership)
    for acceptance in db.session.scalars(sa.select(UndertakingAcceptance).where(
        UndertakingAcceptance.membership_id.in_([m.id for m in members.values()])
    )):
        acceptance.accepted_at = when


def operational_table(members: dict[Role, Membership], form: CellForm) -> Table:
    existing = next((table for table in live_tables() if serves_as_operational(table.kind)), None)
    if existing is not None:
        return existing
    kind = next(kind for kind in TABLE_KINDS_BY_FORM[form] if serves_as_operational(kind))
    secretary = members.get(Role.SECRETARY)
    table = create_table(
        kind=kind,
        name="Casusoverleg (DEMO)" if kind == TableKind.OPERATIONAL else "LIVC-R (DEMO)",
        chair_membership_id=members[Role.COORDINATOR].id,
        secretary_membership_id=secretary.id if secretary else None,
    )
    for role, membership in members.items():
        if role != Role.GUEST_EXPERT:
            add_seat(table, membership_id=membership.id)
    return table


class _MeetingSeeder:
    def __init__(self, members: dict[Role, Membership], table_id: int) -> None:
        self.members = members
        self.coordinator = members[Role.COORDINATOR]
        self.person = person_for(self.coordinator)
        self.table_id = table_id
        self.today = utcnow().date()

    def day(self, days_ago: int) -> date:
        return self.today - timedelta(days=days_ago)

    def plan(self, day: date, kind: MeetingKind = MeetingKind.REGULAR) -> Meeting:
        return plan_meeting(self.coordinator, {
            "table_id": self.table_id, "kind": kind, "place": PLACE,
            "starts_at": datetime.combine(day, time(14, 0)), "ends_at": datetime.combine(day, time(16, 0)),
        })

    def attend(self, meeting: Meeting, excused: tuple[Role, ...] = ()) -> None:
        marks = {}
        for invitee in meeting.invitees:
            role = invitee.membership.role
            marks[invitee.membership_id] = Attendance.EXCUSED if role in excused else Attendance.PRESENT
        record_attendance(meeting, self.coordinator, marks)

    def backdate(self, meeting: Meeting) -> None:
        """The session's own times are the meeting's (they were recorded today)."""
        opened, closed = meeting.starts_at, meeting.ends_at
        meeting.created_at = opened - timedelta(days=10)
        meeting.opened_at, meeting.closed_at = opened, closed
        for invitee in meeting.invitees:
            if invitee.recorded_at is not None:
                invitee.recorded_at = opened
        for item in meeting.items:
            item.created_at = opened - timedelta(days=3)
            if item.handled_at is not None:
                item.handled_at = item.written_at = closed
        for attendee in meeting.occasional_attendees:
            attendee.recorded_at = opened

    def open_case_codes(self) -> list[str]:
        return list(db.session.scalars(
            sa.select(Case.code).where(Case.status == CaseStatus.OPEN).order_by(Case.opened_at, Case.id)
        ))

    def held_five_weeks_ago(self) -> None:
        meeting = self.plan(self.day(35))
        open_session(meeting, self.coordinator)
        self.attend(meeting, excused=(Role.MAYOR,))
        add_occasional_attendee(meeting, self.coordinator, {
            "name": "Youssef Jeugdwerker (DEMO)", "organisation": "Jeugddienst (DEMO)",
            "capacity": "Straathoekwerker, uitgenodigd voor het thema-agendapunt", "undertaking_signed": True,
        })
        codes = self.open_case_codes()
        items = [
            (add_item(meeting, self.coordinator, self.person, {"title": "Opvolging casus", "case_code": codes[0]})
             if codes else None),
            add_item(meeting, self.coordinator, self.person, {"title": "Signalen uit het jeugdwerk in de wijk"}),
            add_item(meeting, self.coordinator, self.person, {"title": "Vertrouwelijke toelichting van een partner"}),
        ]
        summaries = [
            "Het plan loopt: het CLB heeft een eerste gesprek gehad; volgende evaluatie zoals gepland.",
            "De straathoekwerker ziet geen nieuwe groepsvorming; de jeugddienst blijft alert en meldt via het CLB.",
        ]
        for item, summary in zip(items, summaries, strict=False):
            if item is not None:
                write_minutes(item, self.coordinator, {"summary": summary})
        # Decided in the meeting: this point is not for the minutes; only that it was handled stays.
        write_minutes(items[2], self.coordinator, {"off_the_record": True})
        close_session(meeting, self.coordinator)
        self.backdate(meeting)
        self.first = meeting

    def held_last_week(self) -> None:
        meeting = self.plan(self.day(7))
        open_session(meeting, self.coordinator)
        self.attend(meeting)
        approve_minutes(self.first, self.coordinator)
        self.first.minutes_approved_at = datetime.combine(self.day(7), time(14, 10))
        case = db.session.scalar(
            sa.select(Case).where(Case.status == CaseStatus.OPEN).order_by(Case.opened_at.desc(), Case.id.desc()).limit(1)
        )
        social = self.members.get(Role.SOCIAL_ALDERMAN)
        if case is not None:
            item = add_item(meeting, self.coordinator, self.person, {"title": "Samenstelling casusteam", "case_code": case.code})
            if social is not None and social.id not in case.team_membership_ids:
                add_team_member(case, self.coordinator, {"membership_id": social.id}, DecisionWay.MEETING)
            write_minutes(item, self.coordinator, {
                "summary": "De tafel voegt het kabinet sociale zaken toe aan het casusteam voor de woonbegeleiding."
            })
        close_session(meeting, self.coordinator)
        self.backdate(meeting)

    def planned_next(self) -> None:
        meeting = self.plan(self.day(-6))
        take_up(meeting, self.coordinator)

    def proposal_waiting(self) -> None:
        """The coordinator proposed to refer a signal; a second member has yet to confirm it."""
        signal = db.session.scalar(
            sa.select(Signal).where(Signal.status == SignalStatus.NEW).order_by(Signal.received_at.desc()).limit(1)
        )
        if signal is None or open_proposal_about(DecisionKind.WEIGHING, "signal", signal.id) is not None:
            return
        weigh_signal(signal, self.coordinator, {
            "decision": WeighingDecision.REFER, "flag": FlagLevel.YELLOW,
            "referred_to": "CAW Oost-Brabant, onthaal (DEMO)",
        })

