"""The policy module's need-to-know rules, for the case and police-information resources that
later issues build: deny by default, the case team and the coordinator only, police
information for the coordinator and an information officer with a valid clearance."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from livc.platform.policy import Action, Person, actions_without_rule, decide
from livc.platform.roles import OrganisationKind, Role


@dataclass
class Case:
    tenant_id: int = 1
    id: int = 7
    team_membership_ids: set[int] = field(default_factory=set)
    agenda_attendee_ids: set[int] = field(default_factory=set)


def person(role: Role, membership_id: int = 10, *, tenant_id: int = 1, clearance_valid: bool = False) -> Person:
    kind = OrganisationKind.POLICE if role in (Role.INFORMATION_OFFICER, Role.POLICE_CHIEF) else OrganisationKind.CLB
    return Person(account_id=membership_id, membership_id=membership_id, tenant_id=tenant_id, role=role,
                  organisation_kind=kind, clearance_valid=clearance_valid)


def test_every_action_has_a_rule_and_anything_else_is_refused():
    assert actions_without_rule() == []
    assert not decide(person(Role.COORDINATOR), "case.delete_everything")
    assert not decide(None, Action.CELL_ENTER)


@pytest.mark.parametrize("role", list(Role))
def test_a_case_is_read_by_the_coordinator_and_its_team_only(role):
    outsider, insider = person(role, 10), person(role, 11)
    case = Case(team_membership_ids={11})
    assert bool(decide(insider, Action.CASE_READ, case))
    assert bool(decide(outsider, Action.CASE_READ, case)) == (role == Role.COORDINATOR)


def test_a_meeting_attendee_sees_the_case_code_but_not_its_content():
    attendee = person(Role.PARTNER, 12)
    case = Case(team_membership_ids={11}, agenda_attendee_ids={12})
    assert decide(attendee, Action.CASE_SEE_CODE, case)
    assert not decide(attendee, Action.CASE_READ, case)
    assert not decide(person(Role.MAYOR, 13), Action.CASE_SEE_CODE, case)


def test_another_cells_case_is_refused_even_to_its_team():
    case = Case(tenant_id=2, team_membership_ids={11})
    decision = decide(person(Role.COORDINATOR, 11), Action.CASE_READ, case)
    assert not decision and decision.reason == "resource of another cell"


@pytest.mark.parametrize("role, clearance, allowed", [
    (Role.COORDINATOR, False, True),
    (Role.INFORMATION_OFFICER, True, True),
    (Role.INFORMATION_OFFICER, False, False),  # clearance missing or expired
    (Role.POLICE_CHIEF, True, False),
    (Role.MAYOR, False, False),
    (Role.PARTNER, False, False),
])
def test_police_information_is_for_the_coordinator_and_a_cleared_information_officer(role, clearance, allowed):
    team_member = person(role, 11, clearance_valid=clearance)
    assert bool(decide(team_member, Action.POLICE_INFO_READ, Case(team_membership_ids={11}))) == allowed
