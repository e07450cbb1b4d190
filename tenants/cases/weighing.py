"""The weighing: the cell decides together on a signal, and so opens a case, adds the signal to
one, refers it elsewhere, or closes it.

Seed 001 and 004 set the rules this module keeps, whichever way a weighing comes in (page, API,
demo):

- a signal never becomes a case by itself: only a weighing does, and a weighing records the
  flag, the checklist of concrete facts observed (nobody is listed on summary or subjective
  grounds), who took part in the joint decision, and the decision;
- a weighing is a joint decision (:mod:`livc.tenants.decisions`): proposed by the coordinator
  and confirmed by another member, or taken in a meeting in session. Until then nothing
  happens: no case, no team, nothing for the federation. Who took part is who proposed,
  confirmed or attended, never a list of names one person typed;
- a case is opened at red or black only, and only once the cell has its legal minimum;
- the cell follows the residents of its territory (seed 004): a case is opened for, and a signal
  added to a case about, a person living in one of the cell's municipalities. Who lives outside
  is referred to the competent cell. The weighing may set or correct where the person lives; the
  case takes it (in a cell of one municipality, that one unless the signal says otherwise);
- a decision of "insufficient elements" is final: the signal is closed, and only a new signal
  brings the person back to the table.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from livc.platform import audit, registry
from livc.platform.db import db, locked
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import Case, CaseStatus
from livc.tenants.cases.operations import open_case
from livc.tenants.cases.schemas import NAMED_PARTICIPANTS
from livc.tenants.cell.operations import can_open_cases, legal_minimum_problems
from livc.tenants.decisions.models import DecisionKind, DecisionWay, Proposal
from livc.tenants.decisions.operations import Handler, decide, register
from livc.tenants.house_rules.gate import case_work_obstacles
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import active_members
from livc.tenants.signals.models import (
    DECISION_LABELS,
    FLAG_LABELS,
    FOLLOW_UP_LABELS,
    OBSERVED_FACT_LABELS,
    SIGNAL_STATUS_BY_DECISION,
    TARGET_GROUP_LABELS,
    FlagLevel,
    FollowUpKind,
    ObservedFact,
    Signal,
    SignalChannel,
    SignalStatus,
    TargetGroup,
    Urgency,
    Weighing,
    WeighingDecision,
    WeighingFact,
    WeighingParticipant,
)
from livc.tenants.signals.operations import (
    IN_FUTURE,
    REQUIRED,
    Faults,
    add_fault,
    coerce,
    raise_faults,
)
from livc.tenants.signals.territory import (
    Residence,
    in_territory,
    residence_of,
    resolve_residence,
    territory_codes,
)


def already_weighed(day: date):
    return _l(
        "This signal was weighed on %(day)s and the decision stands. If something new is observed, "
        "record a new signal.",
        day=format_date(day),
    )


def minimum_missing(problems: str):
    return _l("The cell cannot open cases yet: %(problems)s", problems=problems)


def outside_territory(residence: Residence):
    """Why a case cannot follow a person living outside the territory, and where to refer them."""
    if residence.competent_cell:
        return _l("The person lives in %(municipality)s, outside the cell's territory: refer the signal to the "
                  "competent cell, %(cell)s.", municipality=residence.name, cell=residence.competent_cell)
    return _l("The person lives in %(municipality)s, outside the cell's territory, and no cell on the platform "
              "covers it: refer the signal to the competent services.", municipality=residence.name)


RESIDENCE_FOR_CASE = _l(
    "Choose the municipality of residence among the cell's: a case follows a resident of the cell's territory."
)
FACTS_REQUIRED = _l(
    "Tick at least one concrete fact that was observed, and describe it: nobody is followed on "
    "summary or subjective grounds."
)
FACT_DESCRIPTION = _l("Describe what was observed: behaviour, words, dates, who saw it.")
FLAG_TOO_LOW = _l("A case is opened at red or black only: lower flags are followed up outside the cell.")
REFERRAL_REQUIRED = _l("Say to which service the signal is referred.")
RATIONALE_REQUIRED = _l("Write down why the elements are insufficient; every partner will respect this decision.")
CASE_REQUIRED = _l("Choose an open case of the cell.")


# --- weighing ---------------------------------------------------------------------------------


@dataclass
class FactObserved:
    fact: ObservedFact
    description: str
    observed_on: date | None = None


def weighing_participants() -> list[Membership]:
    """Who can take part in a weighing: active members of the table (no guest experts)."""
    return [membership for membership in active_members() if membership.role != Role.GUEST_EXPERT]


def residence_for_weighing(signal: Signal, values: Mapping[str, Any]) -> str | None:
    """Where the person lives as the weighing sees it: what it says, else what the signal says."""
    return values["residence_nis"] if values.get("residence_nis") else signal.residence_nis


def case_residence(signal: Signal, values: Mapping[str, Any]) -> str | None:
    """The municipality a case opened on the signal takes: the weighing's or the signal's; in a
    cell of one municipality, that one when nothing was said."""
    residence = residence_for_weighing(signal, values)
    codes = territory_codes()
    return codes[0] if residence is None and len(codes) == 1 else residence


def _territory_faults(signal: Signal, values: Mapping[str, Any], faults: Faults) -> None:
    residence = residence_for_weighing(signal, values)
    if residence is not None and not in_territory(residence):
        add_fault(faults, "residence", outside_territory(residence_of(residence)))
    elif values.get("decision") == WeighingDecision.OPEN_CASE and case_residence(signal, values) is None:
        add_fault(faults, "residence", RESIDENCE_FOR_CASE)


def _weighing_faults(signal: Signal, values: Mapping[str, Any]) -> Faults:
    faults: Faults = {}
    if signal.status != SignalStatus.NEW:
        decided = signal.decided_at.date() if signal.decided_at else utcnow().date()
        add_fault(faults, "decision", already_weighed(decided))
        return faults
    for obstacle in case_work_obstacles():  # the legal basis first (seed 002): nothing else is weighed
        add_fault(faults, "decision", obstacle.message)
    if faults:
        return faults
    decision, flag = values.get("decision"), values.get("flag")
    if decision is None:
        add_fault(faults, "decision", REQUIRED)
    if flag is None:
        add_fault(faults, "flag", REQUIRED)
    facts: list[FactObserved] = list(values.get("facts") or ())
    for observed in facts:
        if not observed.description.strip():
            add_fault(faults, f"fact_{observed.fact.value}", FACT_DESCRIPTION)
        elif observed.observed_on and observed.observed_on > utcnow().date():
            add_fault(faults, f"fact_{observed.fact.value}", IN_FUTURE)
    if decision in (WeighingDecision.OPEN_CASE, WeighingDecision.ADD_TO_CASE) and not facts:
        add_fault(faults, "facts", FACTS_REQUIRED)
    if decision == WeighingDecision.OPEN_CASE:
        if flag is not None and flag not in (FlagLevel.RED, FlagLevel.BLACK):
            add_fault(faults, "flag", FLAG_TOO_LOW)
        for field in ("target_group", "follow_up_kind"):
            if values.get(field) is None:
                add_fault(faults, field, REQUIRED)
        if not can_open_cases():
            problems = " ".join(str(problem) for problem in legal_minimum_problems())
            add_fault(faults, "decision", minimum_missing(problems))
    if decision == WeighingDecision.ADD_TO_CASE:
        case = db.session.get(Case, values.get("case_id") or 0)
        if case is not None:
            locked(case)  # not closed by a decision taken at the same moment
        if case is None or case.status != CaseStatus.OPEN:
            add_fault(faults, "case_id", CASE_REQUIRED)
    if decision in (WeighingDecision.OPEN_CASE, WeighingDecision.ADD_TO_CASE):
        _territory_faults(signal, values, faults)
    if decision == WeighingDecision.REFER and not (values.get("referred_to") or "").strip():
        add_fault(faults, "referred_to", REFERRAL_REQUIRED)
    if decision == WeighingDecision.INSUFFICIENT and not (values.get("rationale") or "").strip():
        add_fault(faults, "rationale", RATIONALE_REQUIRED)
    return faults


def check_weighing(signal: Signal, values: Mapping[str, Any], _actor: Membership) -> dict[str, Any]:
    """The weighing's values, checked field by field (when proposed, and again when taken)."""
    values = coerce(values, flag=FlagLevel, decision=WeighingDecision, target_group=TargetGroup,
                    follow_up_kind=FollowUpKind)
    residence_faults: Faults = {}
    given, residence = resolve_residence(values, residence_faults)
    if given:
        values["residence_nis"] = residence
    faults = _weighing_faults(signal, values)
    for field, messages in residence_faults.items():
        faults.setdefault(field, []).extend(messages)
    if values.pop("participant_ids", None):
        add_fault(faults, "participant_ids", NAMED_PARTICIPANTS)
    raise_faults(faults)
    return values


def weigh_signal(signal: Signal, actor: Membership, values: Mapping[str, Any],
                 way: DecisionWay = DecisionWay.PROPOSE) -> Proposal:
    """Put the weighing of ``signal`` to the cell (see :func:`livc.tenants.decisions.operations.decide`)."""
    return decide(DecisionKind.WEIGHING, signal, values, actor, way)


def _apply_weighing(signal: Signal, values: Mapping[str, Any], actor: Membership,
                    participant_ids: Sequence[int], _proposal: Proposal) -> Weighing:
    """The decision's effect: record the weighing (and open the case it decides on)."""
    decision: WeighingDecision = values["decision"]
    weighing = Weighing(signal_id=signal.id, flag=values["flag"], decision=decision, recorded_by_id=actor.id)
    db.session.add(weighing)
    db.session.flush()
    weighing.rationale = (values.get("rationale") or "").strip() or None
    weighing.referred_to = (values.get("referred_to") or "").strip() or None
    for observed in values.get("facts") or ():
        fact = WeighingFact(weighing_id=weighing.id, signal_id=signal.id, fact=observed.fact,
                            observed_on=observed.observed_on, description_ciphertext="")
        db.session.add(fact)
        db.session.flush()
        fact.description = observed.description.strip()
    for membership_id in sorted(set(participant_ids)):
        db.session.add(WeighingParticipant(weighing_id=weighing.id, membership_id=membership_id))

    residence_changed = bool(values.get("residence_nis")) and values["residence_nis"] != signal.residence_nis
    if residence_changed:
        signal.residence_nis = values["residence_nis"]
    case = None
    if decision == WeighingDecision.OPEN_CASE:
        case = open_case(
            actor,
            identity_id=signal.identity_id,
            target_group=TargetGroup(values["target_group"]),
            follow_up_kind=FollowUpKind(values["follow_up_kind"]),
            flag=values["flag"],
            approached_for_other_problem=bool(values.get("approached_for_other_problem")),
            team_ids=values.get("team_ids") or (),
            residence_nis=case_residence(signal, values),
        )
    elif decision == WeighingDecision.ADD_TO_CASE:
        case = db.session.get(Case, values["case_id"])
        if case.identity_id is None and signal.identity_id is not None:
            case.identity_id = signal.identity_id
        if case.residence_nis is None and in_territory(signal.residence_nis):
            case.residence_nis = signal.residence_nis
    weighing.case_id = signal.case_id = case.id if case is not None else None
    signal.status = SIGNAL_STATUS_BY_DECISION[decision]
    signal.decided_at = weighing.decided_at
    db.session.flush()
    audit.record(
        "signal.weighed",
        subject=f"signal:{signal.reference}",
        details={
            "decision": decision.value,
            "flag": weighing.flag.value,
            "facts": sorted(observed.fact.value for observed in values.get("facts") or ()),
            "participants": len(weighing.participants),
            **({"case": case.code} if case is not None else {}),
            **({"residence_changed": True} if residence_changed else {}),
        },
    )
    return weighing


def _confirmed_later(signal: Signal, _proposal: Proposal, membership_id: int) -> None:
    """An urgent weighing's confirmation: the confirming member joins who took part."""
    weighing = db.session.scalars(sa.select(Weighing).where(Weighing.signal_id == signal.id)).first()
    if weighing is not None and membership_id not in {p.membership_id for p in weighing.participants}:
        db.session.add(WeighingParticipant(weighing_id=weighing.id, membership_id=membership_id))
        db.session.flush()
        db.session.expire(weighing, ["participants"])


def _police_information(signal: Signal, values: Mapping[str, Any]) -> bool:
    """Police information is involved when the Local Task Force referred the signal, when the
    police reported it, or when the decision gives the police a part in the follow-up."""
    reporter = db.session.get(Membership, signal.recorded_by_id or 0)
    return (
        signal.channel == SignalChannel.LTF_REFERRAL
        or (reporter is not None and reporter.role in (Role.INFORMATION_OFFICER, Role.POLICE_CHIEF))
        or values.get("follow_up_kind") in (FollowUpKind.POLICE, FollowUpKind.MIXED)
    )


def _dump(values: Mapping[str, Any]) -> dict[str, Any]:
    """The weighing's values as JSON until the decision is taken (dates in ISO form)."""
    dumped = {
        name: (value.value if isinstance(value, enum.Enum) else value)
        for name, value in values.items()
        if name != "facts" and value is not None
    }
    dumped["team_ids"] = list(values.get("team_ids") or ())
    dumped["facts"] = [
        {"fact": observed.fact.value, "description": observed.description,
         "observed_on": observed.observed_on.isoformat() if observed.observed_on else None}
        for observed in values.get("facts") or ()
    ]
    return dumped


def _restore(payload: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(payload)
    values["facts"] = [
        FactObserved(ObservedFact(item["fact"]), item["description"],
                     date.fromisoformat(item["observed_on"]) if item.get("observed_on") else None)
        for item in payload.get("facts") or ()
    ]
    return values


def _describe(_signal: Signal, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What a weighing proposes, line by line, for the members who confirm it."""
    lines = [(str(_l("Decision")), str(DECISION_LABELS[WeighingDecision(values["decision"])])),
             (str(_l("Flag")), str(FLAG_LABELS[FlagLevel(values["flag"])]))]
    if values.get("target_group"):
        lines.append((str(_l("Target group")), str(TARGET_GROUP_LABELS[TargetGroup(values["target_group"])])))
    if values.get("follow_up_kind"):
        lines.append((str(_l("Kind of follow-up")), str(FOLLOW_UP_LABELS[FollowUpKind(values["follow_up_kind"])])))
    team = [db.session.get(Membership, member_id) for member_id in values.get("team_ids") or ()]
    if team:
        lines.append((str(_l("Case team")), ", ".join(m.account.label for m in team if m is not None)))
    case = db.session.get(Case, values.get("case_id") or 0)
    if case is not None:
        lines.append((str(_l("Case")), case.code))
    if values.get("residence_nis"):
        lines.append((str(_l("Municipality of residence")), registry.name_of(values["residence_nis"])))
    for name, label in (("referred_to", _l("Referred to")), ("rationale", _l("Why the elements are insufficient"))):
        if values.get(name):
            lines.append((str(label), values[name]))
    for observed in values.get("facts") or ():
        lines.append((str(OBSERVED_FACT_LABELS[observed.fact]), observed.description))
    return lines


register(Handler(
    kind=DecisionKind.WEIGHING,
    subject_type="signal",
    load=lambda signal_id: db.session.get(Signal, signal_id),
    code=lambda signal: signal.reference,
    check=check_weighing,
    apply=_apply_weighing,
    dump=_dump,
    restore=_restore,
    police_information=_police_information,
    may_act_urgently=lambda signal: signal.urgency == Urgency.URGENT and signal.status == SignalStatus.NEW,
    confirmed_later=_confirmed_later,
    describe=_describe,
))
