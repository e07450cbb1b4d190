"""What a scenario address names: a scenario of the cell (put in ``g.scenario``), 404 for one that
does not exist, was removed or belongs to another cell. The scenario pages load it after the
policy answered (only the coordinator learns which ids exist); a case's plan loads the case for
``guard``, then the scenario."""

from __future__ import annotations

from flask import g
from werkzeug.exceptions import NotFound

from livc.tenants.cases.loads import load_case
from livc.tenants.cases.models import Case
from livc.tenants.scenarios.operations import find_scenario


def load_scenario(scenario_id: int) -> None:
    scenario = find_scenario(scenario_id)
    if scenario is None:
        raise NotFound()
    g.scenario = scenario
    return None


def load_case_of_proposal(case_id: int, scenario_id: int) -> Case:
    """The case (the policy's resource); the view loads the scenario once the policy answered."""
    return load_case(case_id)
