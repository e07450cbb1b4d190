"""Who may do what: every authorisation decision of the platform, in one place, deny by default.

Views, API endpoints and jobs ask :func:`decide` with the acting :class:`Person`, an
:class:`Action` and, where it matters, the resource. An action without a rule is refused, a
missing person is refused, and every refusal carries a reason for the audit trail.

Need-to-know (seeds 001 and 004): a case is visible to the cell coordinator and to its case
team only; other members see at most that the case exists, by its code, when it is on the
agenda of a meeting they attend. Police information is a class of its own, for the
coordinator and the information officer (with a valid security clearance) only.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from livc.platform.roles import OrganisationKind, Role


class Action(enum.StrEnum):
    CELL_ENTER = "cell.enter"
    PROFILE_MANAGE = "profile.manage"
    UNDERTAKING_ACCEPT = "undertaking.accept"
    MEMBERS_VIEW = "members.view"
    MEMBERS_MANAGE = "members.manage"
    ORGANISATIONS_MANAGE = "organisations.manage"
    SSO_MANAGE = "sso.manage"
    CELL_STRUCTURE_VIEW = "cell_structure.view"
    CELL_STRUCTURE_MANAGE = "cell_structure.manage"
    HOUSE_RULES_VIEW = "house_rules.view"
    HOUSE_RULES_MANAGE = "house_rules.manage"
    CASE_SEE_CODE = "case.see_code"
    CASE_READ = "case.read"
    CASE_WORK = "case.work"
    CASE_MANAGE = "case.manage"
    CASE_SETTINGS_MANAGE = "case_settings.manage"
    SIGNAL_SUBMIT = "signal.submit"
    SIGNAL_READ = "signal.read"
    SIGNAL_WEIGH = "signal.weigh"
    PERSON_SEARCH = "person.search"
    POLICE_INFO_READ = "police_info.read"
    LTF_LIAISON = "ltf.liaison"  # the information officer's part with the Local Task Force
    LTF_CARD_READ = "ltf_card.read"  # the LTF's information cards on a case (police information)
    LTF_CARD_RECORD = "ltf_card.record"  # recording one: the cleared information officer
    FEDERATION_MANAGE = "federation.manage"
    FEDERATION_COOPERATE = "federation.cooperate"
    SETUP_MANAGE = "setup.manage"
    OPERATOR_ACTIONS_VIEW = "operator_actions.view"
    DECISIONS_TAKE = "decisions.take"
    MEETING_ORGANISE = "meeting.organise"
    MONITORING_VIEW = "monitoring.view"  # the cell's anonymous figures, in the scope of :func:`monitoring_scope`
    STRATEGY_VIEW = "strategy.view"  # the strategic table's policy follow-up
    STRATEGY_WORK = "strategy.work"  # propose an entry, report on one's own entries
    # The cell's record of processing and DPIA starting point (GDPR art. 30 and 35): no case content.
    RECORD_OF_PROCESSING_VIEW = "record_of_processing.view"


class OperatorAction(enum.StrEnum):
    """What the platform operator does on the console (``/admin``); never anything in a cell."""

    ACCOUNT = "operator.account"  # one's own sign-in: sign out, the console's home
    HEALTH_VIEW = "operator.health.view"
    TENANTS_VIEW = "operator.tenants.view"  # tenants, their status and onboarding progress
    JOBS_RETRY = "operator.jobs.retry"
    OUTBOX_VIEW = "operator.outbox.view"  # the development outbox
    ONBOARDING_MANAGE = "operator.onboarding.manage"
    LIFECYCLE_MANAGE = "operator.lifecycle.manage"
    OPERATORS_MANAGE = "operator.operators.manage"
    POLICE_ZONES_VIEW = "operator.police_zones.view"  # the police-zone directory (directory data)
    POLICE_ZONES_MANAGE = "operator.police_zones.manage"
    FEDERATION_BUDGETS_VIEW = "operator.federation_budgets.view"  # per cell: counts only
    FEDERATION_RELEASE = "operator.federation.release"  # let a cell's held enrolments proceed
    PLATFORM_FIGURES_VIEW = "operator.figures.view"  # anonymous figures summed over cells that opted in


# Reaching these means reaching case content: the secrecy undertaking must be accepted first.
CONTENT_ACTIONS = frozenset({
    Action.CELL_ENTER, Action.CASE_SEE_CODE, Action.CASE_READ, Action.CASE_WORK, Action.CASE_MANAGE,
    Action.CASE_SETTINGS_MANAGE, Action.SIGNAL_SUBMIT, Action.SIGNAL_READ, Action.SIGNAL_WEIGH,
    Action.PERSON_SEARCH, Action.POLICE_INFO_READ, Action.FEDERATION_MANAGE, Action.FEDERATION_COOPERATE,
    Action.DECISIONS_TAKE, Action.LTF_LIAISON, Action.LTF_CARD_READ, Action.LTF_CARD_RECORD,
    Action.MEETING_ORGANISE, Action.MONITORING_VIEW, Action.STRATEGY_VIEW, Action.STRATEGY_WORK,
})


@dataclass(frozen=True)
class Access:
    """What a view declares: the action it needs (None: public) and how it loads its resource."""

    action: Action | None
    load: Callable[..., object] | None = None


def public(view):
    """Mark a view reachable without signing in (sign-in pages, invitation links, health)."""
    view.access = Access(None)
    return view


@dataclass(frozen=True)
class OperatorPerson:
    """An operator signed in to the console. Not a :class:`Person`: no cell rule applies."""

    operator_id: int
    role: str  # livc.admin.operators.models.OperatorRole


@dataclass(frozen=True)
class Person:
    """A member acting in the cell they signed in to."""

    account_id: int
    membership_id: int
    tenant_id: int
    role: Role
    organisation_kind: OrganisationKind
    clearance_valid: bool = False
    organisation_id: int | None = None
    # In an intermunicipal or zonal cell, the municipality (NIS code) a mayor stands for.
    municipality_nis: str | None = None


class SignalLike(Protocol):
    """What the policy needs to know about a signal."""

    tenant_id: int
    recorded_by_id: int | None


class MeetingLike(Protocol):
    """What the policy needs to know about a meeting (or the table it is of): who organises it."""

    organiser_ids: Collection[int]


class CaseLike(Protocol):
    """What the policy needs to know about a case (the cell issue's model provides it)."""

    tenant_id: int
    team_membership_ids: Collection[int]
    agenda_attendee_ids: Collection[int]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


Rule = Callable[[Person, object | None], Decision]
_RULES: dict[Action, Rule] = {}


def allow(reason: str) -> Decision:
    return Decision(True, reason)


def deny(reason: str) -> Decision:
    return Decision(False, reason)


def rule(*actions: Action):
    def register(func: Rule) -> Rule:
        for action in actions:
            if action in _RULES:
                raise ValueError(f"{action} already has a rule")
            _RULES[action] = func
        return func

    return register


def decide(person: Person | OperatorPerson | None, action: Action | OperatorAction | str,
           resource: object | None = None) -> Decision:
    """May ``person`` do ``action`` (on ``resource``)? Refused unless a rule says yes.

    Operators and cell members are separate realms: an operator has no rule in a cell, a member
    none on the console.
    """
    if person is None:
        return deny("not signed in")
    if isinstance(person, OperatorPerson):
        return _decide_for_operator(person, action)
    if action in frozenset(OperatorAction):
        return deny("the console is for platform operators")
    try:
        rule_for = _RULES[Action(action)]
    except (ValueError, KeyError):
        return deny("no rule for this action")
    if resource is not None and getattr(resource, "tenant_id", person.tenant_id) != person.tenant_id:
        return deny("resource of another cell")
    return rule_for(person, resource)


# Support reads health and onboarding progress and retries failed jobs; administrators also
# onboard, run the lifecycle and manage operator accounts.
_SUPPORT, _ADMINISTRATOR = "support", "administrator"
OPERATOR_RULES: dict[OperatorAction, frozenset[str]] = {
    OperatorAction.ACCOUNT: frozenset({_SUPPORT, _ADMINISTRATOR}),
    OperatorAction.HEALTH_VIEW: frozenset({_SUPPORT, _ADMINISTRATOR}),
    OperatorAction.TENANTS_VIEW: frozenset({_SUPPORT, _ADMINISTRATOR}),
    OperatorAction.JOBS_RETRY: frozenset({_SUPPORT, _ADMINISTRATOR}),
    OperatorAction.OUTBOX_VIEW: frozenset({_ADMINISTRATOR}),  # its mails carry sign-in links
    OperatorAction.ONBOARDING_MANAGE: frozenset({_ADMINISTRATOR}),
    OperatorAction.LIFECYCLE_MANAGE: frozenset({_ADMINISTRATOR}),
    OperatorAction.OPERATORS_MANAGE: frozenset({_ADMINISTRATOR}),
    OperatorAction.POLICE_ZONES_VIEW: frozenset({_SUPPORT, _ADMINISTRATOR}),
    OperatorAction.POLICE_ZONES_MANAGE: frozenset({_ADMINISTRATOR}),
    OperatorAction.FEDERATION_BUDGETS_VIEW: frozenset({_SUPPORT, _ADMINISTRATOR}),
    OperatorAction.FEDERATION_RELEASE: frozenset({_ADMINISTRATOR}),
    OperatorAction.PLATFORM_FIGURES_VIEW: frozenset({_ADMINISTRATOR}),
}


def _decide_for_operator(person: OperatorPerson, action: object) -> Decision:
    try:
        allowed = OPERATOR_RULES[OperatorAction(action)]
    except (ValueError, KeyError):
        return deny("operators have no rights in a cell")
    if person.role in allowed:
        return allow(f"operator role {person.role}")
    return deny(f"operator role {person.role} may not")


def roles(*allowed: Role) -> Rule:
    def check(person: Person, _resource: object | None) -> Decision:
        if person.role in allowed:
            return allow(f"role {person.role}")
        return deny(f"role {person.role} may not")

    return check


@rule(Action.CELL_ENTER, Action.PROFILE_MANAGE, Action.UNDERTAKING_ACCEPT)
def _any_member(person: Person, _resource: object | None) -> Decision:
    return allow("member of the cell")


@rule(Action.MEMBERS_VIEW)
def _members_view(person: Person, resource: object | None) -> Decision:
    # The table knows who sits at it; a guest expert invited for one case does not need to.
    if person.role == Role.GUEST_EXPERT:
        return deny("guest experts see their case team only")
    return allow("member of the table")


_RULES[Action.MEMBERS_MANAGE] = roles(Role.COORDINATOR)
_RULES[Action.ORGANISATIONS_MANAGE] = roles(Role.COORDINATOR)
_RULES[Action.SSO_MANAGE] = roles(Role.COORDINATOR)
_RULES[Action.CELL_STRUCTURE_MANAGE] = roles(Role.COORDINATOR)
_RULES[Action.HOUSE_RULES_MANAGE] = roles(Role.COORDINATOR)
_RULES[Action.CASE_MANAGE] = roles(Role.COORDINATOR)
_RULES[Action.CASE_SETTINGS_MANAGE] = roles(Role.COORDINATOR)
_RULES[Action.SIGNAL_WEIGH] = roles(Role.COORDINATOR)
# "Is this person known to the cell?" answers across every case: the coordinator's question.
_RULES[Action.PERSON_SEARCH] = roles(Role.COORDINATOR)
# Links with other cells and their match alerts: the coordinator speaks for the cell.
_RULES[Action.FEDERATION_MANAGE] = roles(Role.COORDINATOR)
# The set-up wizard after onboarding, and the list of what the platform operator did in the cell.
_RULES[Action.SETUP_MANAGE] = roles(Role.COORDINATOR)
_RULES[Action.OPERATOR_ACTIONS_VIEW] = roles(Role.COORDINATOR)
# The record of processing: the coordinator, who keeps it, and the mayor, who answers for it as
# the controller's representative (and hands it to the municipality's data protection officer).
_RULES[Action.RECORD_OF_PROCESSING_VIEW] = roles(Role.COORDINATOR, Role.MAYOR)


@rule(Action.SIGNAL_SUBMIT)
def _signal_submit(person: Person, _resource: object | None) -> Decision:
    # A guest expert is invited for one case; signals come from the partners of the table.
    if person.role == Role.GUEST_EXPERT:
        return deny("guest experts do not report signals")
    return allow("member of the table")


@rule(Action.SIGNAL_READ)
def _signal_read(person: Person, signal: SignalLike | None) -> Decision:
    if signal is None:
        return deny("no signal given")
    if person.role == Role.COORDINATOR:
        return allow("coordinator")
    if signal.recorded_by_id == person.membership_id:
        return allow("recorded it")
    return deny("signals are for the coordinator and whoever recorded them")


@rule(Action.CELL_STRUCTURE_VIEW, Action.HOUSE_RULES_VIEW, Action.DECISIONS_TAKE)
def _table_member(person: Person, _resource: object | None) -> Decision:
    # Members of the table know how the cell works and decide together (the decisions waiting
    # for a second member); a guest expert invited for one case reads the house rules through
    # the undertaking they accept, and takes no part in the cell's decisions.
    if person.role == Role.GUEST_EXPERT:
        return deny("guest experts see their case team only")
    return allow("member of the table")


def _in_case_team(person: Person, case: CaseLike) -> bool:
    return person.membership_id in set(case.team_membership_ids)


@rule(Action.CASE_READ, Action.CASE_WORK)
def _case_read(person: Person, case: CaseLike | None) -> Decision:
    if case is None:
        return deny("no case given")
    if person.role == Role.COORDINATOR:
        return allow("coordinator")
    if _in_case_team(person, case):
        return allow("case team")
    return deny("not in the case team")


@rule(Action.CASE_SEE_CODE)
def _case_see_code(person: Person, case: CaseLike | None) -> Decision:
    readable = _case_read(person, case)
    if readable or case is None:
        return readable
    if person.membership_id in set(case.agenda_attendee_ids):
        return allow("on the agenda of a meeting attended")
    return deny("not in the case team nor at a meeting with it on the agenda")


@rule(Action.POLICE_INFO_READ)
def _police_info(person: Person, case: CaseLike | None) -> Decision:
    if person.role == Role.COORDINATOR:
        return allow("coordinator")
    if person.role == Role.INFORMATION_OFFICER:
        if person.clearance_valid:
            return allow("information officer with a valid clearance")
        return deny("security clearance missing or expired")
    return deny("police information is for the coordinator and the information officer")


@rule(Action.LTF_LIAISON)
def _ltf_liaison(person: Person, _resource: object | None) -> Decision:
    # The cell's link with the Local Task Force is the police member's (seed 004): the cleared
    # information officer delivers the released feedback form, prints it and records the answer.
    if person.role != Role.INFORMATION_OFFICER:
        return deny("the Local Task Force is the information officer's to deal with")
    if not person.clearance_valid:
        return deny("security clearance missing or expired")
    return allow("information officer with a valid clearance")


# Seed 004: the LTF's information cards reach the cell through the information officer, the
# only member who needs a security clearance; they are police information (seed 000: shared on
# a need-to-know basis). The reasons name the rule and its seed: the pages show them.
LTF_CARD_READ_RULE = "LTF information cards are police information: for the coordinator and the information officer with a valid security clearance (seed 004)"
LTF_CARD_RECORD_RULE = "only the information officer with a valid security clearance records the LTF's information cards (seed 004)"


@rule(Action.LTF_CARD_READ)
def _ltf_card_read(person: Person, _resource: object | None) -> Decision:
    if person.role == Role.COORDINATOR:
        return allow("coordinator")
    if person.role == Role.INFORMATION_OFFICER and person.clearance_valid:
        return allow("information officer with a valid clearance")
    return deny(LTF_CARD_READ_RULE)


@rule(Action.LTF_CARD_RECORD)
def _ltf_card_record(person: Person, _resource: object | None) -> Decision:
    if person.role == Role.INFORMATION_OFFICER and person.clearance_valid:
        return allow("information officer with a valid clearance")
    return deny(LTF_CARD_RECORD_RULE)


@rule(Action.FEDERATION_COOPERATE)
def _federation_cooperate(person: Person, _resource: object | None) -> Decision:
    # The thread with another cell after a confirmed match: the coordinators, and the cleared
    # information officers (the federation then lets them in only when both cells agreed).
    if person.role == Role.COORDINATOR:
        return allow("coordinator")
    if person.role == Role.INFORMATION_OFFICER:
        if person.clearance_valid:
            return allow("information officer with a valid clearance")
        return deny("security clearance missing or expired")
    return deny("cooperation with another cell is for the coordinator and the information officer")


@rule(Action.MEETING_ORGANISE)
def _meeting_organise(person: Person, meeting: MeetingLike | None) -> Decision:
    # Seed 001: the chair leads the meeting and the secretary keeps its register and minutes.
    if meeting is None:
        return deny("no meeting given")
    if person.role == Role.GUEST_EXPERT:
        return deny("guest experts attend their point only")
    if person.role == Role.COORDINATOR:
        return allow("coordinator")
    if person.membership_id in set(meeting.organiser_ids):
        return allow("chair or secretary")
    return deny("only the coordinator, the chair and the secretary organise a meeting")


class StrategicTableLike(Protocol):
    """What the policy needs to know about the strategic table: who holds a seat at it."""

    seat_membership_ids: Collection[int]


# Seed 004: the mayor presides, the strategic table steers; these roles sit at it by office.
STRATEGIC_ROLES = frozenset({Role.MAYOR, Role.COORDINATOR, Role.POLICE_CHIEF, Role.SOCIAL_ALDERMAN})


def _at_strategic_table(person: Person, table: StrategicTableLike | None) -> bool:
    if person.role in STRATEGIC_ROLES:
        return True
    return table is not None and person.membership_id in set(table.seat_membership_ids)


@rule(Action.STRATEGY_VIEW, Action.STRATEGY_WORK)
def _strategy(person: Person, table: StrategicTableLike | None) -> Decision:
    # The policy follow-up is the strategic table's: its members by office or by seat, and the
    # secretary who keeps its register.
    if _at_strategic_table(person, table) or person.role == Role.SECRETARY:
        return allow("at the strategic table")
    return deny("the policy follow-up is for the strategic table")


@rule(Action.MONITORING_VIEW)
def _monitoring(person: Person, _resource: object | None) -> Decision:
    # Every member of the table sees figures, in their scope (monitoring_scope): a partner those
    # of their own organisation's measures only. A guest expert is there for one case.
    if person.role == Role.GUEST_EXPERT:
        return deny("guest experts see their case team only")
    return allow("member of the table")


class FigureScope(enum.StrEnum):
    CELL = "cell"  # every figure, every municipality of the cell
    MUNICIPALITY = "municipality"  # every figure, for one municipality and the cell's total
    ORGANISATION = "organisation"  # the measures of one's own organisation only


@dataclass(frozen=True)
class MonitoringScope:
    kind: FigureScope
    municipality_nis: str | None = None
    organisation_id: int | None = None


def monitoring_scope(person: Person, table: StrategicTableLike | None, cell_nis_codes: Collection[str]) -> MonitoringScope:
    """Which anonymous figures a member sees (seeds 003 and 004, issue 17).

    The coordinator and the strategic table see the cell's figures; in a cell of several
    municipalities a mayor who stands for one of them sees that municipality's figures and the
    cell's total; every other member sees the figures of their own organisation's measures.
    """
    if person.role == Role.MAYOR and person.municipality_nis and len(cell_nis_codes) > 1:
        if person.municipality_nis in set(cell_nis_codes):
            return MonitoringScope(FigureScope.MUNICIPALITY, municipality_nis=person.municipality_nis)
        return MonitoringScope(FigureScope.ORGANISATION, organisation_id=person.organisation_id)
    if _at_strategic_table(person, table):
        return MonitoringScope(FigureScope.CELL)
    return MonitoringScope(FigureScope.ORGANISATION, organisation_id=person.organisation_id)


def actions_without_rule() -> list[Action | OperatorAction]:
    return [action for action in Action if action not in _RULES] + [
        action for action in OperatorAction if action not in OPERATOR_RULES
    ]
