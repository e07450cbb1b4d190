"""Cases: the team, the follow-up plan, progress notes, reviews, the LTF feedback and closure.

A case is known everywhere by its code. What the policy lets people see (need-to-know, seed
004) is decided in :mod:`livc.platform.policy`; this module keeps the rules of the work itself:

- the case team: members of the cell relevant for this case, a guest expert for a limited time
  only (until their invitation ends at the latest);
- measures of the personal follow-up plan, each with the responsible partner, a due date and
  a status; a closed case takes no new measures;
- a progress note is read by the case team, or only by the coordinator and the information
  officer, as its author chooses;
- reviews on dates, a next one planned when one is held, and reviews after closure (e.g. at
  6 and 12 months) when the cell enables them;
- closure with a reason; closing with measures still open needs a word on why;
- the feedback form to the Local Task Force goes to the information officer only once every
  effectively participating member approved its current revision; a change makes a new
  revision, and approvals of an older one no longer count (they are kept, as is the change).
  The first answers make revision 1. Each revision's participants are asked once, by a mail
  without any content of the case. The information officer delivers the released form to the
  LTF and records its answer as police information.

Every read of case content goes through :func:`record_read`, and every change is audited with
the case code and field names, never with the content.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from livc.platform import audit, registry
from livc.platform.db import check_version, db, locked
from livc.platform.keys import blind_index, normalise_for_index
from livc.platform.policy import Action, Person, decide
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.access import person_for
from livc.tenants.cases import events as case_events
from livc.tenants.cases.mail import notify_feedback_awaits_approval, notify_feedback_released
from livc.tenants.cases.models import (
    CLOSURE_LABELS,
    FEEDBACK_TEXT_FIELDS,
    OUTCOMES_BY_KIND,
    Case,
    CaseStage,
    CaseStatus,
    CaseTeamMember,
    ClosureReason,
    FeedbackApproval,
    FeedbackStatus,
    FurtherFollowUp,
    LtfFeedback,
    Measure,
    MeasureCategory,
    MeasureStatus,
    NoteVisibility,
    ProgressNote,
    Review,
    ReviewKind,
    ReviewOutcome,
    TerroristPhase,
)
from livc.tenants.decisions.models import DecisionKind, DecisionWay, Proposal
from livc.tenants.decisions.operations import Handler, decisions_about, register
from livc.tenants.decisions.operations import decide as decide_jointly
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.members.operations import active_members
from livc.tenants.signals.models import (
    IDENTITY_FIELDS,
    FlagLevel,
    FollowUpKind,
    Identity,
    Signal,
    TargetGroup,
)
from livc.tenants.signals.operations import (
    REQUIRED,
    Faults,
    add_fault,
    case_settings,
    coerce,
    identity_values,
    next_reference,
    not_kept_reason,
    raise_faults,
    write_identity,
)
from livc.tenants.signals.registration import Registration, change_faults, recording_faults
from livc.tenants.signals.territory import in_territory, territory_codes

MOVED_TO_REQUIRED = _l("Choose the municipality the person moved to.")
MOVED_TO_UNKNOWN = _l("Choose a Belgian municipality from the list.")
CASE_CLOSED = _l("The case is closed: reopen it through a review after closure first.")
NOT_A_MEMBER = _l("Choose an active member of the cell.")
ALREADY_IN_TEAM = _l("This member is already in the case team.")
NOT_IN_TEAM = _l("This member is not in the case team (any more).")
GUEST_UNTIL_REQUIRED = _l("A guest expert joins for a limited time: give the last day.")
UNTIL_AFTER_GUEST_END = _l("A guest expert's time in the team ends at the latest when their invitation ends.")
UNTIL_IN_PAST = _l("This date is in the past.")
UNKNOWN_ORGANISATION = _l("Choose an organisation of the cell.")
NOT_A_BRINGER = _l("Choose a member of the case team.")
STATUS_ONLY = _l("Only the coordinator changes this; the partner responsible for the measure changes its status.")
MEASURE_CLOSED = _l("A done or cancelled measure is no longer changed: add a new one.")
CATEGORY_REQUIRED = _l("Choose the category of the measure.")
OPEN_MEASURES_WHY = _l(
    "Measures of the plan are still open: say why the case closes with them open (they are "
    "cancelled with the closure)."
)
REVIEW_HELD = _l("This review was held already.")
OUTCOME_NOT_FOR_KIND = _l("Choose one of the outcomes of this kind of review.")
NEXT_REVIEW_PAST = _l("The next review is planned on a day to come.")
FEEDBACK_DRAFT_EXISTS = _l("The case has a feedback form in preparation already.")
FEEDBACK_RELEASED = _l("The feedback form was released to the information officer and is no longer changed.")
NOT_PARTICIPATING = _l("Only members who take part in the case approve its feedback form.")
ALREADY_APPROVED = _l("You approved this revision already.")
FEEDBACK_INCOMPLETE = _l("Answer this question before the form is released.")
SECOND_APPROVAL = _l(
    "Releasing the form is a joint decision: a second member of the case team approves it first "
    "(add a member to the team if it has none)."
)
NO_RECIPIENT = _l("The cell has no information officer with a valid security clearance to receive the form.")
NOT_RELEASED = _l("The feedback form is not released yet.")
ALREADY_DELIVERED = _l("The feedback form was marked delivered already.")
DELIVERED_IN_FUTURE = _l("The form cannot have been delivered later than now.")
DELIVERED_BEFORE_RELEASE = _l("The form cannot have been delivered before it was released.")
NOT_DELIVERED = _l("Mark the form delivered to the Local Task Force before recording its answer.")
ALREADY_ANSWERED = _l("The answer of the Local Task Force was recorded already: add what follows as a progress note.")


def missing_approvals(names: str):
    return _l(
        "Every member taking part in the case approves the form before it is released; waiting for: %(names)s",
        names=names,
    )


def _today() -> date:
    return utcnow().date()


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def subject_of(case: Case) -> str:
    return f"case:{case.code}"


def _closed_check(case: Case, faults: Faults, field_name: str = "_schema") -> None:
    if case.closed:
        add_fault(faults, field_name, CASE_CLOSED)


# --- finding and reading ----------------------------------------------------------------------


def find_case(case_id: int) -> Case | None:
    return db.session.get(Case, case_id)


def find_case_by_code(code: str) -> Case | None:
    return db.session.scalar(sa.select(Case).where(Case.code == code))


def cases_for(person: Person, *, include_closed: bool = True, municipality: str | None = None) -> list[Case]:
    """The cases ``person`` may read (the coordinator: all of them), the open ones first, by code;
    only those of a person living in ``municipality`` (a NIS code) when given."""
    query = sa.select(Case).order_by(sa.case((Case.status == CaseStatus.OPEN, 0), else_=1), Case.code)  # open ones first
    if not include_closed:
        query = query.where(Case.status == CaseStatus.OPEN)
    if municipality is not None:
        query = query.where(Case.residence_nis == municipality)
    if person.role != Role.COORDINATOR:
        team = sa.select(CaseTeamMember.case_id).where(
            CaseTeamMember.membership_id == person.membership_id, CaseTeamMember.removed_at.is_(None)
        )
        query = query.where(Case.id.in_(team))
    return [case for case in db.session.scalars(query) if decide(person, Action.CASE_READ, case)]


def record_read(case: Case, what: str = "case") -> None:
    """Account for a read of case content (the case page, its API, a note, the identity...)."""
    audit.record("case.read", subject=subject_of(case), details={"part": what})


def stage_of(case: Case, today: date | None = None) -> CaseStage:
    today = today or _today()
    if case.closed:
        pending = db.session.scalar(
            sa.select(sa.func.count(Review.id)).where(
                Review.case_id == case.id, Review.kind == ReviewKind.AFTER_CLOSURE, Review.held_on.is_(None)
            )
        )
        return CaseStage.AFTERCARE if pending else CaseStage.CLOSED
    if case.next_review_on is not None and case.next_review_on <= today:
        return CaseStage.EVALUATION
    if not case.measures:
        return CaseStage.BUILDING
    return CaseStage.FOLLOW_UP


def target_group_visible(person: Person, case: Case) -> bool:
    """The target group travels with the case unless the person is approached for another
    problem first: then only the coordinator and the information officer see it."""
    return not case.approached_for_other_problem or person.role in (Role.COORDINATOR, Role.INFORMATION_OFFICER)


# --- opening and changing a case ---------------------------------------------------------------


def open_case(
    actor: Membership,
    *,
    identity_id: int | None,
    target_group: TargetGroup,
    follow_up_kind: FollowUpKind,
    flag: FlagLevel,
    approached_for_other_problem: bool = False,
    team_ids: Iterable[int] = (),
    residence_nis: str | None = None,
) -> Case:
    """Open a case (only a weighing calls this: a signal never becomes a case by itself), for a
    person living in ``residence_nis``, one of the cell's municipalities."""
    settings = case_settings()
    case = Case(
        code=next_reference("case"),
        identity_id=identity_id,
        target_group=target_group,
        follow_up_kind=follow_up_kind,
        flag=flag,
        approached_for_other_problem=approached_for_other_problem,
        opened_by_id=actor.id,
        residence_nis=residence_nis,
        next_review_on=_today() + timedelta(days=settings.review_interval_days),
    )
    db.session.add(case)
    db.session.flush()
    db.session.add(Review(case_id=case.id, kind=ReviewKind.FOLLOW_UP, due_on=case.next_review_on))
    for membership_id in sorted(set(team_ids)):
        # Part of the weighing's joint decision: each member is checked as any team change is.
        checked = _team_change_faults(case, {"membership_id": membership_id})
        _add_to_team(case, actor, membership_id, checked["until"])
    audit.record("case.opened", subject=subject_of(case),
                 details={"target_group": target_group.value, "follow_up_kind": follow_up_kind.value,
                          "residence_nis": residence_nis})
    case_events.case_became_active.send(case)
    return case


CASE_FIELDS = ("target_group", "follow_up_kind", "approached_for_other_problem", "goal")


def _edited(instance: Any, changes: Mapping[str, Any], names: Sequence[str]) -> None:
    """Lock ``instance`` and refuse the edit (409) if the version it was made on (``changes``'
    ``version``, when sent) is older and what was sent differs from what the row holds now."""
    locked(instance)
    check_version(instance, changes.get("version"), {name: changes[name] for name in names if name in changes})


def change_case(case: Case, actor: Membership, changes: Mapping[str, Any]) -> list[str]:
    changes = coerce(changes, target_group=TargetGroup, follow_up_kind=FollowUpKind)
    _edited(case, changes, CASE_FIELDS)
    faults: Faults = {}
    _closed_check(case, faults)
    for name in ("target_group", "follow_up_kind"):
        if name in changes and changes[name] is None:
            add_fault(faults, name, REQUIRED)
    raise_faults(faults)
    changed = []
    for name in CASE_FIELDS:
        if name not in changes:
            continue
        value = changes[name]
        if name == "goal":
            value = (value or "").strip() or None
            if value != case.goal:
                case.goal = value
                changed.append(name)
        elif getattr(case, name) != value:
            setattr(case, name, value)
            changed.append(name)
    if changed:
        case.updated_at = utcnow()
        audit.record("case.changed", subject=subject_of(case), details={"fields": changed})
    return changed


RESIDENCE_NOT_OURS = _l(
    "Choose one of the cell's municipalities. A person who moved out of the territory: close the case with "
    "the reason \"moved away\", and the cell of the new municipality is proposed the follow-up."
)
UNKNOWN_MUNICIPALITY_FILTER = _l("Choose one of the cell's municipalities (its NIS code).")


def change_residence(case: Case, actor: Membership, nis_code: str | None) -> bool:
    """The person moved within the territory, or the municipality was recorded wrongly: the case
    now follows them in ``nis_code``, another of the cell's municipalities. True if it changed.
    A move out of the territory is a closure ("moved away"), a joint decision."""
    code = (nis_code or "").strip()
    faults: Faults = {}
    _closed_check(case, faults)
    if not code:
        add_fault(faults, "residence_nis", REQUIRED)
    elif not in_territory(code):
        add_fault(faults, "residence_nis", RESIDENCE_NOT_OURS)
    raise_faults(faults)
    if code == case.residence_nis:
        return False
    before, case.residence_nis = case.residence_nis, code
    case.updated_at = utcnow()
    audit.record("case.residence_changed", subject=subject_of(case), details={"from": before, "to": code})
    return True


def check_municipality_filter(nis_code: str | None) -> str | None:
    """A list's municipality filter: None (every case), or one of the cell's NIS codes."""
    code = (nis_code or "").strip()
    if not code:
        return None
    if code not in territory_codes():
        raise_faults({"municipality": [UNKNOWN_MUNICIPALITY_FILTER]})
    return code


def change_identity(case: Case, actor: Membership, values: Mapping[str, Any]) -> list[str]:
    """Write the identity of the person concerned (encrypted); returns the names of the fields
    that changed (never their values)."""
    new = identity_values(values)
    identity = case.identity
    before = {name: getattr(identity, name) for name in new} if identity is not None else {}
    changed = [name for name, value in new.items() if before.get(name) != value]
    if not changed:
        return []
    identity = write_identity(identity, new)
    case.identity_id = identity.id if identity is not None else None
    audit.record("case.identity_changed", subject=subject_of(case), details={"fields": changed})
    case_events.case_identity_changed.send(case)
    return changed


def reveal_identity(case: Case, actor: Membership) -> dict[str, str | None]:
    """The identity of the person concerned, for this one answer, and the audit entry for it.
    Refused, saying why, in a cell that does not keep identities (its house rules)."""
    reason = not_kept_reason()
    if reason is not None:
        raise_faults({"_schema": [reason]})
    audit.record("case.identity_revealed", subject=subject_of(case))
    identity = case.identity
    return {name: (getattr(identity, name) if identity is not None else None) for name in IDENTITY_FIELDS}


@dataclass
class SearchHit:
    kind: str  # "case" or "signal"
    reference: str
    record_id: int
    status: str


def search_people(name: str | None = None, national_number: str | None = None) -> list[SearchHit]:
    """Is this person known to the cell? Looked up through the blind indexes only.

    Answers with codes and references, never with an identity; audited with the number of hits
    (what was searched for is personal data and is not written down).
    """
    criteria = []
    if name and normalise_for_index(name):
        full = blind_index(name, "full_name")
        criteria += [
            Identity.family_name.matches(name),
            Identity.full_name_index == full,
            Identity.reversed_name_index == full,
        ]
    if national_number and normalise_for_index(national_number):
        criteria.append(Identity.national_number.matches(national_number))
    if not criteria:
        return []
    identity_ids = sa.select(Identity.id).where(sa.or_(*criteria))
    hits = [
        SearchHit("case", case.code, case.id, case.status.value)
        for case in db.session.scalars(sa.select(Case).where(Case.identity_id.in_(identity_ids)).order_by(Case.code))
    ]
    hits += [
        SearchHit("signal", signal.reference, signal.id, signal.status.value)
        for signal in db.session.scalars(
            sa.select(Signal).where(Signal.identity_id.in_(identity_ids)).order_by(Signal.reference)
        )
    ]
    audit.record("identity.searched", details={"hits": len(hits)})
    return hits


# --- the case team ---------------------------------------------------------------------------


def team_candidates(case: Case) -> list[Membership]:
    in_team = case.team_membership_ids
    return [m for m in active_members() if m.id not in in_team and m.role != Role.COORDINATOR]


class TeamChange(enum.StrEnum):
    ADD = "add"
    REMOVE = "remove"


def _team_change_faults(case: Case, values: Mapping[str, Any]) -> dict[str, Any]:
    """The change's values, checked (an addition gets its last day: a guest expert's ends with them)."""
    values = dict(values)
    faults: Faults = {}
    _closed_check(case, faults)
    if values.get("change") == TeamChange.REMOVE:
        member = find_team_member(case, values.get("team_member_id") or 0)
        if member is None:
            add_fault(faults, "team_member_id", NOT_IN_TEAM)
        raise_faults(faults)
        values["membership_id"] = member.membership_id
        return values
    membership = db.session.get(Membership, values.get("membership_id") or 0)
    until = values.get("until")
    if membership is None or not membership.usable:
        add_fault(faults, "membership_id", NOT_A_MEMBER)
    elif membership.id in case.team_membership_ids:
        add_fault(faults, "membership_id", ALREADY_IN_TEAM)
    elif membership.role == Role.GUEST_EXPERT:
        if until is None:
            until = membership.expires_at.date() if membership.expires_at else None
            if until is None:
                add_fault(faults, "until", GUEST_UNTIL_REQUIRED)
        elif membership.expires_at is not None and until > membership.expires_at.date():
            add_fault(faults, "until", UNTIL_AFTER_GUEST_END)
    if until is not None and until < _today():
        add_fault(faults, "until", UNTIL_IN_PAST)
    raise_faults(faults)
    values.update(change=TeamChange.ADD, until=until)
    return values


def _add_to_team(case: Case, actor: Membership, membership_id: int, until: date | None) -> CaseTeamMember:
    member = CaseTeamMember(case_id=case.id, membership_id=membership_id, until=until, added_by_id=actor.id)
    db.session.add(member)
    db.session.flush()
    db.session.expire(case, ["team"])
    audit.record("case.team_added", subject=subject_of(case), details={"membership_id": membership_id})
    return member


def _apply_team_change(case: Case, values: Mapping[str, Any], actor: Membership, _participants, _proposal) -> None:
    if values.get("change") == TeamChange.REMOVE:
        member = find_team_member(case, values["team_member_id"])
        member.removed_at = utcnow()
        db.session.flush()
        db.session.expire(case, ["team"])
        audit.record("case.team_removed", subject=subject_of(case), details={"membership_id": member.membership_id})
    else:
        _add_to_team(case, actor, values["membership_id"], values.get("until"))


def add_team_member(case: Case, actor: Membership, values: Mapping[str, Any],
                    way: DecisionWay = DecisionWay.PROPOSE) -> Proposal:
    """Put a member's joining the case team to the cell (a joint decision)."""
    return decide_jointly(DecisionKind.TEAM_CHANGE, case, {**values, "change": TeamChange.ADD}, actor, way)


def remove_team_member(case: Case, member: CaseTeamMember, actor: Membership,
                       way: DecisionWay = DecisionWay.PROPOSE) -> Proposal:
    """Put a member's leaving the case team to the cell (a joint decision)."""
    values = {"change": TeamChange.REMOVE, "team_member_id": member.id}
    return decide_jointly(DecisionKind.TEAM_CHANGE, case, values, actor, way)


def find_team_member(case: Case, member_id: int) -> CaseTeamMember | None:
    member = db.session.get(CaseTeamMember, member_id)
    if member is None or member.case_id != case.id or member.removed_at is not None:
        return None
    return member


def participating_member_ids(case: Case) -> set[int]:
    """The effectively participating members (seed 004): the case team and the coordinator(s)
    who hold the case."""
    return case.team_membership_ids | {membership.id for membership in active_members(Role.COORDINATOR)}


# --- the follow-up plan ----------------------------------------------------------------------


def _measure_faults(case: Case, values: Mapping[str, Any], creating: bool) -> Faults:
    faults: Faults = {}
    _closed_check(case, faults)
    if creating or "description" in values:
        if not (values.get("description") or "").strip():
            add_fault(faults, "description", REQUIRED)
    if creating or "organisation_id" in values:
        if db.session.get(Organisation, values.get("organisation_id") or 0) is None:
            add_fault(faults, "organisation_id", UNKNOWN_ORGANISATION)
    if creating or "category" in values:
        # Only measures from before the categories are "not recorded" (the monitoring counts them).
        if values.get("category") in (None, MeasureCategory.NOT_RECORDED):
            add_fault(faults, "category", CATEGORY_REQUIRED)
    return faults


def measure_faults(case: Case, values: Mapping[str, Any]) -> Faults:
    """What is wrong with a new measure of ``case`` (its values coerced), without adding it:
    a plan of several measures is checked whole before any is added."""
    return _measure_faults(case, values, creating=True)


def add_measure(case: Case, actor: Membership, values: Mapping[str, Any]) -> Measure:
    values = coerce(values, status=MeasureStatus, category=MeasureCategory)
    raise_faults(_measure_faults(case, values, creating=True))
    measure = Measure(case_id=case.id, organisation_id=values["organisation_id"], due_on=values.get("due_on"),
                      status=values.get("status") or MeasureStatus.PLANNED, created_by_id=actor.id,
                      category=values["category"], description_ciphertext="")
    db.session.add(measure)
    db.session.flush()
    measure.description = values["description"].strip()
    db.session.expire(case, ["measures"])
    audit.record("case.measure_added", subject=subject_of(case), details={"measure_id": measure.id})
    return measure


def find_measure(case: Case, measure_id: int) -> Measure | None:
    measure = db.session.get(Measure, measure_id)
    return measure if measure is not None and measure.case_id == case.id else None


def may_change_measure(actor: Membership, measure: Measure) -> bool:
    """The coordinator changes a measure; a member of the responsible organisation its status."""
    return actor.role == Role.COORDINATOR or actor.organisation_id == measure.organisation_id


def change_measure(case: Case, measure: Measure, actor: Membership, changes: Mapping[str, Any]) -> list[str]:
    """Change a measure. Who may is :func:`may_change_measure` (the views refuse the others);
    a member of the responsible organisation changes the status only."""
    changes = coerce(changes, status=MeasureStatus, category=MeasureCategory)
    _edited(measure, changes, ("organisation_id", "due_on", "status", "category", "description"))
    faults = _measure_faults(case, changes, creating=False)
    if actor.role != Role.COORDINATOR:
        for name in sorted(set(changes) - {"status", "version"}):
            faults[name] = [STATUS_ONLY]
    if not measure.open:
        add_fault(faults, "status", MEASURE_CLOSED)
    raise_faults(faults)
    changed = []
    for name in ("organisation_id", "due_on", "status", "category"):
        if name in changes and changes[name] != getattr(measure, name) and (name != "status" or changes[name]):
            setattr(measure, name, changes[name])
            changed.append(name)
    if "description" in changes and changes["description"].strip() != measure.description:
        measure.description = changes["description"].strip()
        changed.append("description")
    if changed:
        measure.updated_at = utcnow()
        audit.record("case.measure_changed", subject=subject_of(case),
                     details={"measure_id": measure.id, "fields": changed, "status": measure.status.value})
    return changed


# --- progress notes --------------------------------------------------------------------------


def add_note(case: Case, actor: Membership, values: Mapping[str, Any]) -> ProgressNote:
    """A note the author brings, or records for another partner (``brought_by_id``): then only
    that it was shared orally, as the bringing partner's consent rules (seed 001,
    :mod:`livc.tenants.signals.registration`)."""
    values = coerce(values, visibility=NoteVisibility, registration=Registration)
    registration = values.get("registration") or Registration.REGISTERED
    body = (values.get("body") or "").strip() or None
    faults: Faults = {}
    bringer = actor
    if values.get("brought_by_id") is not None:
        bringer = db.session.get(Membership, values["brought_by_id"])
        if bringer is None or bringer not in note_bringers(case):
            add_fault(faults, "brought_by_id", NOT_A_BRINGER)
            bringer = actor
    for field_name, messages in recording_faults(actor_id=actor.id, bringer_id=bringer.id, registration=registration,
                                                 content=body, content_field="body").items():
        faults.setdefault(field_name, []).extend(messages)
    if registration == Registration.REGISTERED and not body:
        add_fault(faults, "body", REQUIRED)
    if values.get("visibility") is None:
        add_fault(faults, "visibility", REQUIRED)
    raise_faults(faults)
    note = ProgressNote(case_id=case.id, author_id=actor.id, brought_by_id=bringer.id, visibility=values["visibility"],
                        registration=registration, body_ciphertext=None)
    db.session.add(note)
    db.session.flush()
    if registration == Registration.REGISTERED:
        note.body = body
    audit.record("case.note_added", subject=subject_of(case), details={
        "note_id": note.id, "visibility": note.visibility.value, "registration": registration.value,
        "brought_by": bringer.id,
    })
    return note


def note_bringers(case: Case) -> list[Membership]:
    """Who may bring a note on the case: its team and the coordinators."""
    ids = case.team_membership_ids | {member.id for member in active_members(Role.COORDINATOR)}
    found = (db.session.get(Membership, membership_id) for membership_id in sorted(ids))
    return [membership for membership in found if membership is not None and membership.usable]


def change_note_registration(case: Case, note: ProgressNote, actor: Membership, values: Mapping[str, Any]) -> ProgressNote:
    """The bringing partner changes their choice: oral only erases the body, registered needs it."""
    values = coerce(values, registration=Registration)
    body = (values.get("body") or "").strip() or None
    bringer_id = note.brought_by_id if note.brought_by_id is not None else note.author_id
    raise_faults(change_faults(actor_id=actor.id, bringer_id=bringer_id, current=note.registration,
                               new=values.get("registration"), content=body, content_field="body"))
    previous, note.registration = note.registration, values["registration"]
    if note.registration == Registration.ORAL_ONLY:
        note.body_ciphertext = None
    else:
        note.body = body
    db.session.flush()
    audit.record("case.note_registration_changed", subject=subject_of(case), details={
        "note_id": note.id, "from": previous.value, "to": note.registration.value,
    })
    return note


def find_note(case: Case, note_id: int) -> ProgressNote | None:
    note = db.session.get(ProgressNote, note_id)
    return note if note is not None and note.case_id == case.id else None


def may_read_note(person: Person, note: ProgressNote) -> bool:
    if note.visibility == NoteVisibility.TEAM or person.membership_id in (note.author_id, note.brought_by_id):
        return True
    return person.role == Role.COORDINATOR or (
        person.role == Role.INFORMATION_OFFICER and bool(decide(person, Action.POLICE_INFO_READ))
    )


def notes_for(person: Person, case: Case) -> list[ProgressNote]:
    notes = db.session.scalars(sa.select(ProgressNote).where(ProgressNote.case_id == case.id).order_by(ProgressNote.id))
    return [note for note in notes if may_read_note(person, note)]


# --- reviews ---------------------------------------------------------------------------------


def reviews_of(case: Case) -> list[Review]:
    return list(db.session.scalars(sa.select(Review).where(Review.case_id == case.id).order_by(Review.due_on, Review.id)))


def find_review(case: Case, review_id: int) -> Review | None:
    review = db.session.get(Review, review_id)
    return review if review is not None and review.case_id == case.id else None


def next_open_review(case: Case) -> Review | None:
    return db.session.scalar(
        sa.select(Review).where(Review.case_id == case.id, Review.held_on.is_(None)).order_by(Review.due_on).limit(1)
    )


def hold_review(case: Case, review: Review, actor: Membership, values: Mapping[str, Any]) -> Review:
    """Record a review; plan the next one (while the case is open), or reopen the case. The case,
    then the review, are locked first: a review sent twice is held once."""
    locked(case)
    locked(review)
    values = coerce(values, outcome=ReviewOutcome, flag=FlagLevel)
    faults: Faults = {}
    outcome, next_on = values.get("outcome"), values.get("next_review_on")
    if review.held:
        add_fault(faults, "_schema", REVIEW_HELD)
    if outcome is None:
        add_fault(faults, "outcome", REQUIRED)
    elif outcome not in OUTCOMES_BY_KIND[review.kind]:
        add_fault(faults, "outcome", OUTCOME_NOT_FOR_KIND)
    if not (values.get("summary") or "").strip():
        add_fault(faults, "summary", REQUIRED)
    if next_on is not None and next_on <= _today():
        add_fault(faults, "next_review_on", NEXT_REVIEW_PAST)
    if review.kind == ReviewKind.FOLLOW_UP:
        _closed_check(case, faults)
    raise_faults(faults)
    review.held_on, review.held_by_id, review.outcome = _today(), actor.id, outcome
    review.flag = values.get("flag")
    review.summary = values["summary"].strip()
    if review.flag is not None and not case.closed:
        case.flag = review.flag
    settings = case_settings()
    if review.kind == ReviewKind.FOLLOW_UP:
        if outcome != ReviewOutcome.PROPOSE_CLOSURE or next_on is not None:
            case.next_review_on = next_on or _today() + timedelta(days=settings.review_interval_days)
            db.session.add(Review(case_id=case.id, kind=ReviewKind.FOLLOW_UP, due_on=case.next_review_on))
        else:
            case.next_review_on = None
    elif outcome == ReviewOutcome.REOPEN:
        _reopen(case)
    else:
        case.erase_after = erase_after(case)
    case.updated_at = utcnow()
    db.session.flush()
    audit.record("case.reviewed", subject=subject_of(case),
                 details={"review_id": review.id, "kind": review.kind.value, "outcome": outcome.value})
    return review


def _reopen(case: Case) -> None:
    settings = case_settings()
    for pending in db.session.scalars(
        sa.select(Review).where(Review.case_id == case.id, Review.held_on.is_(None))
    ):
        db.session.delete(pending)
    case.status, case.closed_at, case.closed_by_id, case.closure_reason = CaseStatus.OPEN, None, None, None
    case.closure_note, case.erase_after = None, None
    case.next_review_on = _today() + timedelta(days=settings.review_interval_days)
    db.session.add(Review(case_id=case.id, kind=ReviewKind.FOLLOW_UP, due_on=case.next_review_on))
    audit.record("case.reopened", subject=subject_of(case))
    case_events.case_became_active.send(case)


def erase_after(case: Case) -> date:
    """When a closed case is due for erasure: the retention period after closure, and never
    before its last review after closure."""
    settings = case_settings()
    closed_on = (case.closed_at or utcnow()).date()
    last_review = db.session.scalar(
        sa.select(sa.func.max(Review.due_on)).where(Review.case_id == case.id, Review.kind == ReviewKind.AFTER_CLOSURE)
    )
    return max(add_months(closed_on, settings.retention_months_closed), last_review or closed_on)


# --- closure ---------------------------------------------------------------------------------


def _closure_faults(case: Case, values: Mapping[str, Any], _actor: Membership | None = None) -> dict[str, Any]:
    values = coerce(values, reason=ClosureReason)
    faults: Faults = {}
    _closed_check(case, faults)
    reason = values.get("reason")
    note = (values.get("note") or "").strip()
    if reason is None:
        add_fault(faults, "reason", REQUIRED)
    elif reason == ClosureReason.OTHER and not note:
        add_fault(faults, "note", REQUIRED)
    elif reason == ClosureReason.MOVED_AWAY:
        _moved_to_faults(values.get("municipality"), faults)
    if case.open_measures and not note:
        add_fault(faults, "note", OPEN_MEASURES_WHY)
    raise_faults(faults)
    return values


def _moved_to_faults(nis_code: str | None, faults: Faults) -> None:
    """A case closed because the person moved away names the new municipality (a NIS code of
    the registry): the federation proposes a hand-over to the cell covering it."""
    code = (nis_code or "").strip()
    if not code:
        add_fault(faults, "municipality", MOVED_TO_REQUIRED)
    elif registry.municipality(code) is None:
        add_fault(faults, "municipality", MOVED_TO_UNKNOWN)


def close_case(case: Case, actor: Membership, values: Mapping[str, Any],
               way: DecisionWay = DecisionWay.PROPOSE) -> Proposal:
    """Put the closure of ``case`` to the cell (a joint decision)."""
    return decide_jointly(DecisionKind.CLOSURE, case, values, actor, way)


def _apply_closure(case: Case, values: Mapping[str, Any], actor: Membership, _participants, _proposal) -> None:
    reason: ClosureReason = values["reason"]
    note = (values.get("note") or "").strip()
    still_open = case.open_measures
    now = utcnow()
    for measure in still_open:
        measure.status, measure.updated_at = MeasureStatus.CANCELLED, now
    for pending in db.session.scalars(
        sa.select(Review).where(Review.case_id == case.id, Review.held_on.is_(None), Review.kind == ReviewKind.FOLLOW_UP)
    ):
        db.session.delete(pending)
    case.status, case.closed_at, case.closed_by_id, case.closure_reason = CaseStatus.CLOSED, now, actor.id, reason
    case.closure_note = note or None
    case.next_review_on = None
    settings = case_settings()
    if settings.reviews_after_closure:
        for months in settings.months_after_closure:
            db.session.add(Review(case_id=case.id, kind=ReviewKind.AFTER_CLOSURE, due_on=add_months(now.date(), months)))
    db.session.flush()
    case.erase_after = erase_after(case)
    case.updated_at = now
    moved_to = (values.get("municipality") or "").strip() if reason == ClosureReason.MOVED_AWAY else None
    audit.record("case.closed", subject=subject_of(case),
                 details={"reason": reason.value, "measures_cancelled": len(still_open),
                          **({"municipality": moved_to} if moved_to else {})})
    case_events.case_closed.send(case, reason=reason, municipality=moved_to or None)


# --- feedback to the Local Task Force ----------------------------------------------------------


def feedback_of(case: Case) -> list[LtfFeedback]:
    return list(db.session.scalars(sa.select(LtfFeedback).where(LtfFeedback.case_id == case.id).order_by(LtfFeedback.id)))


def find_feedback(case: Case, feedback_id: int) -> LtfFeedback | None:
    feedback = db.session.get(LtfFeedback, feedback_id)
    return feedback if feedback is not None and feedback.case_id == case.id else None


def _feedback_subject(case: Case) -> str:
    return subject_of(case)


def start_feedback(case: Case, actor: Membership, values: Mapping[str, Any] | None = None) -> LtfFeedback:
    locked(case)  # one draft at a time, even when started twice at once
    if any(feedback.status == FeedbackStatus.DRAFT for feedback in feedback_of(case)):
        raise_faults({"_schema": [FEEDBACK_DRAFT_EXISTS]})
    feedback = LtfFeedback(case_id=case.id, created_by_id=actor.id, updated_by_id=actor.id)
    db.session.add(feedback)
    db.session.flush()
    audit.record("case.feedback_started", subject=subject_of(case), details={"feedback_id": feedback.id})
    if values:
        update_feedback(case, feedback, actor, values)
    return feedback


FEEDBACK_CHOICE_FIELDS = ("further_follow_up", "terrorist_phase")
FEEDBACK_FIELDS = (*FEEDBACK_TEXT_FIELDS, *FEEDBACK_CHOICE_FIELDS)
# What must be answered before release (the note on further follow-up and the explanation
# of the phase are optional).
FEEDBACK_QUESTIONS = ("effectiveness", "cooperation", "distance", "further_follow_up", "other_elements", "terrorist_phase")


def _answered(feedback: LtfFeedback) -> bool:
    return any(getattr(feedback, name) not in (None, "") for name in FEEDBACK_FIELDS)


def update_feedback(case: Case, feedback: LtfFeedback, actor: Membership, changes: Mapping[str, Any]) -> list[str]:
    """Change the form; any change is a new revision, which every participant approves anew.

    A form without any answer (just started) is no revision yet: its first answers make
    revision 1, unless someone approved it empty."""
    changes = coerce(changes, further_follow_up=FurtherFollowUp, terrorist_phase=TerroristPhase)
    _edited(feedback, changes, FEEDBACK_FIELDS)
    if feedback.released:
        raise_faults({"_schema": [FEEDBACK_RELEASED]})
    new_revision = _answered(feedback) or bool(approver_ids(feedback))
    changed = []
    for name in FEEDBACK_FIELDS:
        if name not in changes:
            continue
        value = changes[name]
        if name in FEEDBACK_TEXT_FIELDS:
            value = (value or "").strip() or None
        if getattr(feedback, name) != value:
            setattr(feedback, name, value)
            changed.append(name)
    if changed:
        approvals_dropped = len(approver_ids(feedback))
        if new_revision:
            # Counted in the database: two edits make two revisions, and an approval recorded
            # for one never counts for the other.
            feedback.revision = LtfFeedback.revision + 1
        db.session.flush()
        db.session.refresh(feedback, ["revision"])
        feedback.updated_at, feedback.updated_by_id = utcnow(), actor.id
        audit.record("case.feedback_changed", subject=subject_of(case), details={
            "feedback_id": feedback.id, "revision": feedback.revision, "fields": changed,
            "approvals_reset": approvals_dropped,
        })
        ask_for_approval(case, feedback, actor)
    return changed


def ask_for_approval(case: Case, feedback: LtfFeedback, actor: Membership) -> list[Membership]:
    """Tell the members whose approval the current revision awaits, once per revision: by a mail
    that says only that a form of a case of their cell waits (no code, no content), with the
    case's address. The member who made the revision knows it already."""
    if feedback.released or feedback.notified_revision == feedback.revision or not _answered(feedback):
        return []
    recipients = [member for member in approval_state(case, feedback).waiting if member.id != actor.id]
    feedback.notified_revision = feedback.revision
    notify_feedback_awaits_approval(case, recipients)
    audit.record("case.feedback_approval_asked", subject=subject_of(case), details={
        "feedback_id": feedback.id, "revision": feedback.revision, "recipients": [m.id for m in recipients],
    })
    return recipients


def approver_ids(feedback: LtfFeedback) -> set[int]:
    """The members who approved the form's current revision."""
    return set(db.session.scalars(
        sa.select(FeedbackApproval.membership_id).where(
            FeedbackApproval.feedback_id == feedback.id, FeedbackApproval.revision == feedback.revision
        )
    ))


@dataclass
class ApprovalState:
    revision: int
    approved: list[Membership] = field(default_factory=list)
    waiting: list[Membership] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every participating member approved, and they are two at least: a joint decision."""
        return len(self.approved) >= 2 and not self.waiting


def approval_state(case: Case, feedback: LtfFeedback) -> ApprovalState:
    approvers = approver_ids(feedback)
    state = ApprovalState(feedback.revision)
    for membership_id in sorted(participating_member_ids(case) | approvers):
        membership = db.session.get(Membership, membership_id)
        if membership is None:
            continue
        (state.approved if membership_id in approvers else state.waiting).append(membership)
    return state


def approve_feedback(case: Case, feedback: LtfFeedback, actor: Membership, revision: int | None = None) -> None:
    """Approve the revision the member read (a stale revision is refused: it changed since)."""
    locked(feedback)
    faults: Faults = {}
    if feedback.released:
        add_fault(faults, "_schema", FEEDBACK_RELEASED)
    elif actor.id not in participating_member_ids(case):
        add_fault(faults, "_schema", NOT_PARTICIPATING)
    elif revision is not None and revision != feedback.revision:
        add_fault(faults, "revision", _l("The form changed since you read it: read revision %(revision)s and approve that.",
                                      revision=feedback.revision))
    elif actor.id in approver_ids(feedback):
        add_fault(faults, "_schema", ALREADY_APPROVED)
    raise_faults(faults)
    db.session.add(FeedbackApproval(feedback_id=feedback.id, membership_id=actor.id, revision=feedback.revision))
    db.session.flush()
    audit.record("case.feedback_approved", subject=subject_of(case),
                 details={"feedback_id": feedback.id, "revision": feedback.revision})


def release_faults(case: Case, feedback: LtfFeedback) -> Faults:
    faults: Faults = {}
    if feedback.released:
        add_fault(faults, "_schema", FEEDBACK_RELEASED)
        return faults
    for name in FEEDBACK_QUESTIONS:
        if getattr(feedback, name) in (None, ""):
            add_fault(faults, name, FEEDBACK_INCOMPLETE)
    state = approval_state(case, feedback)
    if state.waiting:
        names = ", ".join(m.account.display_name for m in state.waiting)
        add_fault(faults, "approvals", missing_approvals(names))
    elif not state.complete:
        add_fault(faults, "approvals", SECOND_APPROVAL)
    if not information_officers():
        add_fault(faults, "_schema", NO_RECIPIENT)
    return faults


def information_officers() -> list[Membership]:
    return [membership for membership in active_members(Role.INFORMATION_OFFICER) if membership.clearance_valid]


def release_feedback(case: Case, feedback: LtfFeedback, actor: Membership) -> LtfFeedback:
    """Release the form to the cell's information officer(s), who pass it to the LTF."""
    locked(feedback)
    raise_faults(release_faults(case, feedback))
    feedback.status, feedback.released_at, feedback.released_by_id = FeedbackStatus.RELEASED, utcnow(), actor.id
    db.session.flush()
    recipients = information_officers()
    audit.record("case.feedback_released", subject=subject_of(case), details={
        "feedback_id": feedback.id, "revision": feedback.revision,
        "approvals": len(approver_ids(feedback)), "recipients": [m.id for m in recipients],
    })
    notify_feedback_released(case, recipients)
    return feedback


def deliver_feedback(case: Case, feedback: LtfFeedback, actor: Membership, values: Mapping[str, Any]) -> None:
    """The information officer handed the released form to the LTF at ``delivered_at`` (naive
    UTC; now when not given)."""
    delivered_at = values.get("delivered_at") or utcnow()
    locked(feedback)
    faults: Faults = {}
    if not feedback.released:
        add_fault(faults, "_schema", NOT_RELEASED)
    elif feedback.delivered:
        add_fault(faults, "_schema", ALREADY_DELIVERED)
    elif delivered_at > utcnow() + timedelta(minutes=1):
        add_fault(faults, "delivered_at", DELIVERED_IN_FUTURE)
    elif delivered_at < feedback.released_at.replace(second=0, microsecond=0):
        add_fault(faults, "delivered_at", DELIVERED_BEFORE_RELEASE)
    raise_faults(faults)
    feedback.delivered_at, feedback.delivered_by_id = delivered_at, actor.id
    db.session.flush()
    audit.record("case.feedback_delivered", subject=subject_of(case), details={
        "feedback_id": feedback.id, "revision": feedback.revision, "delivered_at": delivered_at.isoformat(),
    })


def record_ltf_answer(case: Case, feedback: LtfFeedback, actor: Membership, values: Mapping[str, Any]) -> ProgressNote:
    """The LTF's answer to a delivered form: police information, kept as a progress note that
    only the coordinator and the information officer read, linked to the form."""
    locked(feedback)
    faults: Faults = {}
    if not feedback.released:
        add_fault(faults, "_schema", NOT_RELEASED)
    elif not feedback.delivered:
        add_fault(faults, "_schema", NOT_DELIVERED)
    elif feedback.answer_note_id is not None:
        add_fault(faults, "_schema", ALREADY_ANSWERED)
    elif not (values.get("answer") or "").strip():
        add_fault(faults, "answer", REQUIRED)
    raise_faults(faults)
    note = add_note(case, actor, {"body": values["answer"], "visibility": NoteVisibility.RESTRICTED})
    feedback.answer_note_id = note.id
    db.session.flush()
    audit.record("case.feedback_answer_recorded", subject=subject_of(case),
                 details={"feedback_id": feedback.id, "note_id": note.id})
    return note


def ltf_answer(person: Person, feedback: LtfFeedback) -> ProgressNote | None:
    """The LTF's answer to the form, for those who may read police information only."""
    note = feedback.answer
    return note if note is not None and may_read_note(person, note) else None


def may_read_feedback(person: Person, case: Case, feedback: LtfFeedback) -> bool:
    """The case's readers, and once released the information officer (it is theirs to pass on)."""
    if decide(person, Action.CASE_READ, case):
        return True
    return feedback.released and person.role == Role.INFORMATION_OFFICER and bool(decide(person, Action.POLICE_INFO_READ))


def released_feedback() -> list[tuple[Case, LtfFeedback]]:
    rows = db.session.execute(
        sa.select(Case, LtfFeedback).join(LtfFeedback, LtfFeedback.case_id == Case.id)
        .where(LtfFeedback.status == FeedbackStatus.RELEASED).order_by(LtfFeedback.released_at.desc())
    )
    return [(case, feedback) for case, feedback in rows]


@dataclass
class Observed:
    """A signal behind a case, and its weighing's facts for those who may read them."""

    signal: Signal
    facts: list = field(default_factory=list)


def observations(person: Person, case: Case) -> list[Observed]:
    """What the partners observed, signal by signal: the case team reads the observations;
    the facts recorded at the weighing (they may rest on police information) are for the
    coordinator and the information officer."""
    facts_allowed = person.role == Role.COORDINATOR or bool(decide(person, Action.POLICE_INFO_READ))
    found = []
    for signal in db.session.scalars(sa.select(Signal).where(Signal.case_id == case.id).order_by(Signal.received_at)):
        weighing = signal.weighing
        found.append(Observed(signal, list(weighing.facts) if weighing is not None and facts_allowed else []))
    return found


# --- joint decisions on a case (livc.tenants.decisions) ----------------------------------------


def case_decisions(case: Case) -> list[Proposal]:
    """The cell's decisions on ``case``: the weighings of its signals that opened it or added to
    it, and its own decisions (team changes, closure), in the order they were put to the cell."""
    signal_ids = db.session.scalars(sa.select(Signal.id).where(Signal.case_id == case.id)).all()
    weighings = [proposal for signal_id in signal_ids for proposal in decisions_about("signal", signal_id)
                 if proposal.in_effect]
    return sorted(weighings + decisions_about("case", case.id), key=lambda proposal: (proposal.proposed_at, proposal.id))


def _police_follow_up(case: Case, _values: Mapping[str, Any]) -> bool:
    """A case with a police or mixed follow-up holds police information: the information officer confirms."""
    return case.follow_up_kind in (FollowUpKind.POLICE, FollowUpKind.MIXED)


def _may_confirm(membership: Membership, case: Case) -> bool:
    """Who may read the case confirms its decisions (need-to-know: the team and the coordinator)."""
    return bool(decide(person_for(membership), Action.CASE_READ, case))


def _case_values_dump(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: value.value if isinstance(value, enum.Enum) else value.isoformat() if isinstance(value, date) else value
        for name, value in values.items()
        if value is not None
    }


def _case_values_restore(payload: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(payload)
    if values.get("until"):
        values["until"] = date.fromisoformat(values["until"])
    return values


def _describe_team_change(case: Case, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    membership = db.session.get(Membership, values.get("membership_id") or 0)
    who = membership.account.label if membership is not None else "—"
    if values.get("change") == TeamChange.REMOVE:
        return [(str(_l("Leaves the case team")), who)]
    lines = [(str(_l("Joins the case team")), who)]
    if values.get("until"):
        lines.append((str(_l("Last day in the team")), values["until"].isoformat()))
    return lines


def _describe_closure(case: Case, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    lines = [(str(_l("Reason")), str(CLOSURE_LABELS[ClosureReason(values["reason"])]))]
    if values.get("municipality") and values.get("reason") == ClosureReason.MOVED_AWAY:
        moved_to = registry.municipality(values["municipality"])
        lines.append((str(_l("Moved to")), moved_to.name() if moved_to else values["municipality"]))
    if values.get("note"):
        lines.append((str(_l("Note")), values["note"]))
    if case.open_measures:
        lines.append((str(_l("Measures cancelled with the closure")), str(len(case.open_measures))))
    return lines


def _load_case(case_id: int) -> Case | None:
    return db.session.get(Case, case_id)


for _kind, _check, _apply, _describe in (
    (DecisionKind.TEAM_CHANGE, lambda case, values, _actor: _team_change_faults(case, values), _apply_team_change,
     _describe_team_change),
    (DecisionKind.CLOSURE, _closure_faults, _apply_closure, _describe_closure),
):
    register(Handler(
        kind=_kind, subject_type="case", load=_load_case, code=lambda case: case.code, check=_check, apply=_apply,
        dump=_case_values_dump, restore=_case_values_restore, police_information=_police_follow_up,
        may_confirm=_may_confirm, describe=_describe,
    ))
