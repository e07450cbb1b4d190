"""The strategic table's policy follow-up: recording an entry together, reporting on its status.

Seed 004 gives the strategic table the steering of the cell and of local policy (priorities,
working agreements with the Local Task Force); seed 003 asks for a yearly evaluation of the
approach. The rules, whichever way a change comes in (page, API, demo):

- the follow-up belongs to the strategic table: its members by office (mayor, coordinator,
  police chief, alderman for social affairs), those with a seat at it, and the secretary
  (``Action.STRATEGY_VIEW``/``STRATEGY_WORK``, :func:`strategic_table` is the resource). A cell
  without a strategic table has its members by office only; an integrated cell's one table is
  its strategic table too;
- an entry is a decision of the table, never one member's: it is proposed and has no effect
  until another member of the strategic table confirms it, or it is taken in the strategic
  table's meeting in session (:mod:`livc.tenants.decisions`, ``DecisionKind.POLICY_ENTRY``);
- an entry is policy, not a case: it names no case code or signal reference of the cell, and
  its owner is a member at the strategic table or an organisation of the cell;
- a yearly evaluation looks back on a year, once (a dropped one may be done again);
- the status is reported by the entry's owner (a member of the owning organisation) or the
  coordinator, directly: a dated report with a short note, audited, not a decision.

Audit entries carry ids and statuses, never the entry's text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.platform import audit
from livc.platform.db import current_tenant_id, db
from livc.platform.i18n import day
from livc.platform.policy import Action, decide
from livc.platform.roles import ROLE_LABELS, Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.access import person_for
from livc.tenants.cell.models import CellForm, Table, TableKind, TableSeat
from livc.tenants.cell.operations import cell_profile
from livc.tenants.decisions.models import OPEN_STATUSES, DecisionKind, DecisionWay, Proposal
from livc.tenants.decisions.operations import Handler, current_sitting, register
from livc.tenants.decisions.operations import decide as decide_jointly
from livc.tenants.meetings.models import Meeting, MeetingKind, MeetingStatus
from livc.tenants.meetings.operations import meeting_title
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.members.operations import active_members
from livc.tenants.signals.models import CaseSettings
from livc.tenants.signals.operations import Faults, add_fault, default_prefix, raise_faults
from livc.tenants.strategy.models import (
    ENTRY_KIND_LABELS,
    FIRST_YEAR,
    EntryKind,
    EntryState,
    EntryStatus,
    PolicyEntry,
    StatusReport,
)

SUBJECT_TYPE = "policy_entry"
YEARS_AHEAD = 5  # an entry may belong to a year this far ahead (a priority for a coming year)

REQUIRED = _l("This field is required.")
OWNER_REQUIRED = _l("Choose who carries it: a member at the strategic table or an organisation of the cell.")
OWNER_BOTH = _l("Choose a member or an organisation, not both.")
OWNER_NOT_AT_TABLE = _l("Choose a member at the strategic table: only they follow the policy.")
UNKNOWN_ORGANISATION = _l("Choose an organisation of the cell.")
DECIDED_IN_FUTURE = _l("The date of the decision cannot lie in the future.")
DUE_BEFORE_DECIDED = _l("The due date comes after the date of the decision.")
EVALUATION_LOOKS_BACK = _l("A yearly evaluation looks back: its year is the year of the decision or an earlier one.")
NOT_A_STRATEGIC_MEETING = _l("Choose a meeting of the strategic table that has been held.")
SITTING_NOT_STRATEGIC = _l(
    "The meeting in session is not a meeting of the strategic table: propose the entry, another member confirms it."
)
SITTING_OTHER_MEETING = _l("Decided in the meeting in session: choose that meeting here, or leave this empty.")
WAY_NOT_OPEN = _l("An entry is proposed to a second member or decided in the strategic table's meeting in session.")
ALREADY_RECORDED = _l("This entry is recorded already.")
NOT_RECORDED = _l("This entry is not recorded yet: its status is reported once the table confirmed it.")
NOT_AT_TABLE = _l("Only a member at the strategic table confirms its entries.")
NOT_OWNER = _l("Only the entry's owner, or the coordinator, reports on its status.")
NOTHING_CHANGED = _l("Nothing changed: choose another status or write a note.")
NOTE_WHEN_DROPPED = _l("Say in a short note why the entry is dropped.")
FORMER_MEMBER = _l("a former member")
NO_OWNER = _l("no owner any more")


# --- the strategic table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StrategicTable:
    """What the policy decides the follow-up on (``StrategicTableLike``): who has a seat at the
    table that serves as the strategic table, with its chair and secretary."""

    tenant_id: int
    table_id: int | None
    seat_membership_ids: frozenset[int]
    audit_subject: str = "strategic_table"


def policy_table() -> Table | None:
    """The table that serves as the strategic table: the cell's strategic table, or, in an
    integrated cell, its one (main) table. None when the cell has none (seed 004: optional)."""
    tables = list(db.session.scalars(sa.select(Table).where(Table.removed_at.is_(None)).order_by(Table.id)))
    strategic = next((table for table in tables if table.kind == TableKind.STRATEGIC), None)
    if strategic is not None:
        return strategic
    profile = cell_profile()
    if profile is not None and profile.form == CellForm.INTEGRATED:
        return next((table for table in tables if table.kind == TableKind.MAIN), None)
    return None


def strategic_table(audit_subject: str = "strategic_table") -> StrategicTable:
    table = policy_table()
    seated: set[int] = set()
    if table is not None:  # the seats as stored now (a table's loaded seats may be older)
        seated = set(db.session.scalars(sa.select(TableSeat.membership_id).where(
            TableSeat.table_id == table.id, TableSeat.removed_at.is_(None), TableSeat.membership_id.is_not(None),
        ))) | table.organiser_ids
    return StrategicTable(current_tenant_id(), table.id if table else None, frozenset(seated), audit_subject)


def at_strategic_table(membership: Membership, table: StrategicTable | None = None) -> bool:
    """May ``membership`` work on the policy follow-up (the policy's question)?"""
    return bool(decide(person_for(membership), Action.STRATEGY_WORK, table or strategic_table()))


# --- reading ---------------------------------------------------------------------------------------


def today() -> date:
    return utcnow().date()


def find_entry(entry_id: int) -> PolicyEntry | None:
    return db.session.get(PolicyEntry, entry_id)


def proposal_of(entry: PolicyEntry) -> Proposal | None:
    return db.session.get(Proposal, entry.proposal_id) if entry.proposal_id else None


def state_of(entry: PolicyEntry) -> EntryState:
    if entry.recorded:
        return EntryState.RECORDED
    proposal = proposal_of(entry)
    return EntryState.WAITING if proposal is not None and proposal.open else EntryState.WITHDRAWN


_STATUS_ORDER = sa.case({status: rank for rank, status in enumerate(
    (EntryStatus.IN_PROGRESS, EntryStatus.PLANNED, EntryStatus.DONE, EntryStatus.DROPPED))}, value=PolicyEntry.status)


def recorded_entries(kind: EntryKind | None = None, status: EntryStatus | None = None,
                     year: int | None = None) -> list[PolicyEntry]:
    """The recorded entries, newest year first, then open ones first, then by due date."""
    query = sa.select(PolicyEntry).where(PolicyEntry.recorded_at.is_not(None))
    if kind is not None:
        query = query.where(PolicyEntry.kind == kind)
    if status is not None:
        query = query.where(PolicyEntry.status == status)
    if year is not None:
        query = query.where(PolicyEntry.year == year)
    return list(db.session.scalars(query.order_by(
        PolicyEntry.year.desc(), _STATUS_ORDER, sa.case((PolicyEntry.due_on.is_(None), 1), else_=0),
        PolicyEntry.due_on, PolicyEntry.id,
    )))


def waiting_entries() -> list[PolicyEntry]:
    """Entries proposed and waiting for a second member (or a meeting), oldest first."""
    return list(db.session.scalars(
        sa.select(PolicyEntry).join(Proposal, Proposal.id == PolicyEntry.proposal_id)
        .where(PolicyEntry.recorded_at.is_(None), Proposal.status.in_(OPEN_STATUSES))
        .order_by(PolicyEntry.proposed_at, PolicyEntry.id)
    ))


def entry_years() -> list[int]:
    """The years of the recorded entries and this one, newest first (the filter's choices)."""
    years = set(db.session.scalars(sa.select(PolicyEntry.year).where(PolicyEntry.recorded_at.is_not(None)).distinct()))
    return sorted(years | {today().year}, reverse=True)


def owner_name(entry: PolicyEntry) -> str:
    if entry.owner_membership is not None:
        return entry.owner_membership.account.label
    if entry.owner_organisation is not None:
        return entry.owner_organisation.name
    return str(FORMER_MEMBER if entry.owner_membership_id is None and entry.owner_organisation_id is None else NO_OWNER)


def owner_member_choices() -> list[tuple[int, str]]:
    """The members who may carry an entry: active members at the strategic table."""
    table = strategic_table()
    return [
        (member.id, f"{member.account.label} ({ROLE_LABELS[member.role]}, {member.organisation.name})")
        for member in active_members() if member.role != Role.GUEST_EXPERT and at_strategic_table(member, table)
    ]


def organisation_choices() -> list[tuple[int, str]]:
    return [(organisation.id, organisation.name)
            for organisation in db.session.scalars(sa.select(Organisation).order_by(sa.func.lower(Organisation.name)))]


def is_strategic_meeting(meeting: Meeting | None, table: Table | None) -> bool:
    """A meeting of the table that serves as the strategic table (or called as a strategic one)."""
    if meeting is None or meeting.case_id is not None:
        return False
    return meeting.kind == MeetingKind.STRATEGIC or (table is not None and meeting.table_id == table.id)


def strategic_meetings() -> list[Meeting]:
    """The strategic table's meetings held or in session, newest first (where an entry was decided)."""
    table = policy_table()
    condition = Meeting.kind == MeetingKind.STRATEGIC
    if table is not None:
        condition = sa.or_(condition, Meeting.table_id == table.id)
    return list(db.session.scalars(
        sa.select(Meeting).where(condition, Meeting.case_id.is_(None),
                                 Meeting.status.in_((MeetingStatus.HELD, MeetingStatus.IN_SESSION)))
        .order_by(Meeting.starts_at.desc()).limit(50)
    ))


def meeting_choices() -> list[tuple[int, str]]:
    return [(meeting.id, meeting_title(meeting)) for meeting in strategic_meetings()]


def may_report(membership: Membership, entry: PolicyEntry) -> bool:
    """The owner (a member of the owning organisation) or the coordinator reports the status."""
    if membership.role == Role.COORDINATOR:
        return True
    if entry.owner_membership_id is not None:
        return entry.owner_membership_id == membership.id
    return entry.owner_organisation_id is not None and entry.owner_organisation_id == membership.organisation_id


# --- the rules of an entry -------------------------------------------------------------------------


def _case_codes_in(*texts: str | None) -> list[str]:
    """The cell's case codes and signal references written in ``texts`` (their shape: the cell's
    prefix or ``S``, a year, a number)."""
    prefix = db.session.scalar(sa.select(CaseSettings.code_prefix).limit(1)) or default_prefix(
        db.session.get(Tenant, current_tenant_id()))
    prefixes = "|".join(re.escape(p) for p in sorted({"S", *([prefix] if prefix else [])}))
    pattern = re.compile(rf"\b(?:{prefixes})-\d{{4}}-\d{{3,}}\b", re.IGNORECASE)
    found: list[str] = []
    for text in texts:
        for code in pattern.findall(text or ""):
            if code.upper() not in found:
                found.append(code.upper())
    return found


def _owner_faults(faults: Faults, values: Mapping[str, Any]) -> None:
    member_id, organisation_id = values.get("owner_membership_id"), values.get("owner_organisation_id")
    if member_id is None and organisation_id is None:
        add_fault(faults, "owner_membership_id", OWNER_REQUIRED)
    elif member_id is not None and organisation_id is not None:
        add_fault(faults, "owner_organisation_id", OWNER_BOTH)
    elif member_id is not None:
        member = db.session.get(Membership, member_id)
        if member is None or not member.usable or member.role == Role.GUEST_EXPERT or not at_strategic_table(member):
            add_fault(faults, "owner_membership_id", OWNER_NOT_AT_TABLE)
    elif db.session.get(Organisation, organisation_id) is None:
        add_fault(faults, "owner_organisation_id", UNKNOWN_ORGANISATION)


def _year_faults(faults: Faults, values: Mapping[str, Any], decided_on: date | None, entry_id: int | None) -> None:
    year, last = values.get("year"), today().year + YEARS_AHEAD
    if year is None:
        return
    if not FIRST_YEAR <= year <= last:
        add_fault(faults, "year", _l("Enter a year from %(first)s to %(last)s.", first=FIRST_YEAR, last=last))
        return
    if values.get("kind") != EntryKind.YEARLY_EVALUATION:
        return
    if decided_on is not None and year > decided_on.year:
        add_fault(faults, "year", EVALUATION_LOOKS_BACK)
    others = [entry for entry in db.session.scalars(sa.select(PolicyEntry).where(
        PolicyEntry.kind == EntryKind.YEARLY_EVALUATION, PolicyEntry.year == year, PolicyEntry.status != EntryStatus.DROPPED,
    )) if entry.id != entry_id and state_of(entry) != EntryState.WITHDRAWN]
    if others:
        add_fault(faults, "year", _l("The yearly evaluation of %(year)s is already recorded or waiting for confirmation.", year=year))


def _meeting_faults(faults: Faults, values: Mapping[str, Any], way: DecisionWay) -> int | None:
    """The meeting the entry was decided in, checked; in the meeting in session, that one."""
    table = policy_table()
    meeting_id = values.get("meeting_id")
    if meeting_id is not None:
        meeting = db.session.get(Meeting, meeting_id)
        held = meeting is not None and meeting.status in (MeetingStatus.HELD, MeetingStatus.IN_SESSION)
        if not (held and is_strategic_meeting(meeting, table)):
            add_fault(faults, "meeting_id", NOT_A_STRATEGIC_MEETING)
    if way != DecisionWay.MEETING:
        return meeting_id
    sitting = current_sitting()
    if sitting is None:
        return meeting_id  # the engine answers that no meeting is in session
    if not is_strategic_meeting(db.session.get(Meeting, sitting.meeting_id), table):
        add_fault(faults, "way", SITTING_NOT_STRATEGIC)
    elif meeting_id is not None and meeting_id != sitting.meeting_id:
        add_fault(faults, "meeting_id", SITTING_OTHER_MEETING)
    return sitting.meeting_id


def entry_faults(values: Mapping[str, Any], way: DecisionWay = DecisionWay.PROPOSE,
                 entry_id: int | None = None) -> tuple[Faults, int | None]:
    """Every fault of an entry's values at once, and the meeting it was decided in."""
    faults: Faults = {}
    for name in ("kind", "title", "decided_on"):
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            add_fault(faults, name, REQUIRED)
    decided_on, due_on = values.get("decided_on"), values.get("due_on")
    if decided_on is not None and decided_on > today():
        add_fault(faults, "decided_on", DECIDED_IN_FUTURE)
    if decided_on is not None and due_on is not None and due_on < decided_on:
        add_fault(faults, "due_on", DUE_BEFORE_DECIDED)
    _owner_faults(faults, values)
    _year_faults(faults, {**values, "year": values.get("year") or (decided_on.year if decided_on else None)},
                 decided_on, entry_id)
    codes = _case_codes_in(values.get("title"), values.get("text"))
    if codes:
        add_fault(faults, "text" if not _case_codes_in(values.get("title")) else "title",
                  _l("Policy names no case: remove the case code or signal reference (%(codes)s). "
                     "The policy follow-up is kept apart from cases.", codes=", ".join(codes)))
    if way not in (DecisionWay.PROPOSE, DecisionWay.MEETING):
        add_fault(faults, "way", WAY_NOT_OPEN)
    meeting_id = _meeting_faults(faults, values, way)
    return faults, meeting_id


def _values_of(entry: PolicyEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind, "title": entry.title, "text": entry.text, "decided_on": entry.decided_on,
        "due_on": entry.due_on, "year": entry.year, "meeting_id": entry.meeting_id,
        "owner_membership_id": entry.owner_membership_id, "owner_organisation_id": entry.owner_organisation_id,
    }


# --- recording an entry: a joint decision ----------------------------------------------------------


def propose_entry(actor: Membership, values: Mapping[str, Any]) -> Proposal:
    """Put an entry to the strategic table: proposed (another member at the table confirms it) or
    decided in its meeting in session (``values["way"]``). Nothing is recorded before that."""
    values = dict(values)
    way = DecisionWay(values.pop("way", None) or DecisionWay.PROPOSE)
    faults, meeting_id = entry_faults(values, way)
    raise_faults(faults)
    decided_on = values["decided_on"]
    entry = PolicyEntry(
        kind=EntryKind(values["kind"]), title=values["title"].strip(), text=(values.get("text") or "").strip() or None,
        owner_membership_id=values.get("owner_membership_id"), owner_organisation_id=values.get("owner_organisation_id"),
        decided_on=decided_on, due_on=values.get("due_on"), year=values.get("year") or decided_on.year,
        meeting_id=meeting_id, proposed_by_id=actor.id, status=EntryStatus.PLANNED,
    )
    db.session.add(entry)
    db.session.flush()
    audit.record("policy_entry.proposed", subject=f"{SUBJECT_TYPE}:{entry.id}",
                 details={"kind": entry.kind.value, "year": entry.year, "way": way.value})
    proposal = decide_jointly(DecisionKind.POLICY_ENTRY, entry, {"way": way}, actor)
    entry.proposal_id = proposal.id
    db.session.flush()
    return proposal


def _check(entry: PolicyEntry, _values: Mapping[str, Any], _actor: Membership) -> dict[str, Any]:
    """Again when taken: the owner may have left the table, another evaluation may be recorded."""
    if entry.recorded:
        raise ValidationError({"_schema": [str(ALREADY_RECORDED)]})
    faults, _meeting = entry_faults({**_values_of(entry), "meeting_id": None}, entry_id=entry.id)
    raise_faults(faults)
    return {}


def _apply(entry: PolicyEntry, _values: Mapping[str, Any], _actor: Membership, participant_ids: Sequence[int],
           proposal: Proposal) -> None:
    entry.recorded_at = utcnow()
    if entry.meeting_id is None and proposal.meeting_id is not None:
        meeting = db.session.get(Meeting, proposal.meeting_id)
        if is_strategic_meeting(meeting, policy_table()):
            entry.meeting_id = meeting.id
    db.session.flush()
    audit.record("policy_entry.recorded", subject=f"{SUBJECT_TYPE}:{entry.id}",
                 details={"decision": proposal.id, "participants": len(participant_ids)})


def _describe(entry: PolicyEntry, _values: Mapping[str, Any]) -> list[tuple[str, str]]:
    meeting = db.session.get(Meeting, entry.meeting_id) if entry.meeting_id else None
    lines = [
        (str(_l("Kind")), str(ENTRY_KIND_LABELS[entry.kind])),
        (str(_l("Title")), entry.title),
        (str(_l("Owner")), owner_name(entry)),
        (str(_l("Decided on")), day(entry.decided_on)),
        (str(_l("Due on")), day(entry.due_on)),
        (str(_l("Year")), str(entry.year)),
    ]
    if meeting is not None:
        lines.append((str(_l("Decided in the meeting")), meeting_title(meeting)))
    if entry.text:
        lines.append((str(_l("Text")), entry.text))
    return lines


register(Handler(
    kind=DecisionKind.POLICY_ENTRY,
    subject_type=SUBJECT_TYPE,
    load=find_entry,
    code=lambda entry: entry.reference,
    check=_check,
    apply=_apply,
    dump=lambda _values: {},
    restore=lambda _payload: {},
    may_confirm=lambda membership, _entry: at_strategic_table(membership),
    not_allowed_to_confirm=NOT_AT_TABLE,
    describe=_describe,
))


# --- reporting on the status: direct, audited -----------------------------------------------------


def report_status(entry: PolicyEntry, actor: Membership, values: Mapping[str, Any]) -> StatusReport:
    """The owner (or the coordinator) says where the entry stands: a dated report."""
    faults: Faults = {}
    if not entry.recorded:
        add_fault(faults, "_schema", NOT_RECORDED)
    elif not may_report(actor, entry):
        add_fault(faults, "_schema", NOT_OWNER)
    status = values.get("status")
    note = (values.get("note") or "").strip() or None
    if status is None:
        add_fault(faults, "status", REQUIRED)
    else:
        status = EntryStatus(status)
        if status == EntryStatus.DROPPED and note is None and entry.status != EntryStatus.DROPPED:
            add_fault(faults, "note", NOTE_WHEN_DROPPED)
        elif status == entry.status and note is None:
            add_fault(faults, "status", NOTHING_CHANGED)
    raise_faults(faults)
    report = StatusReport(entry_id=entry.id, status=status, previous_status=entry.status, note=note,
                          reported_by_id=actor.id)
    db.session.add(report)
    if status != entry.status:
        entry.status, entry.status_changed_at = status, utcnow()
    db.session.flush()
    db.session.expire(entry, ["reports"])
    audit.record("policy_entry.status_reported", subject=f"{SUBJECT_TYPE}:{entry.id}",
                 details={"status": status.value, "previous": report.previous_status.value, "report": report.id})
    return report


def overdue(entry: PolicyEntry) -> bool:
    return entry.overdue_on(today())

