"""The JSON API of the follow-up scenarios: the cell's scenarios (the coordinator keeps them), and
starting a case's plan from one.

Views only parse and answer: the rules live in :mod:`livc.tenants.scenarios.operations`. A body
that cannot be read or a refused rule answers 422 field by field (a row's field as
``measures.<row>.<field>``), and a refused request is rolled back: a plan is added whole or not at
all. Another cell's id answers 404.
"""

from __future__ import annotations

from flask import g, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from livc.platform.api import InvalidFields, json_payload
from livc.platform.forms import apply_or_422
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.platform.roles import ORGANISATION_KIND_LABELS, OrganisationKind
from livc.tenants.access import guard
from livc.tenants.cases.api import MeasureOut
from livc.tenants.cases.loads import load_case
from livc.tenants.cases.models import MEASURE_CATEGORY_LABELS, MeasureCategory
from livc.tenants.scenarios.loads import load_case_of_proposal, load_scenario
from livc.tenants.scenarios.operations import (
    change_scenario,
    create_scenario,
    ensure_default_scenarios,
    find_scenario,
    proposed_measures,
    remove_scenario,
    scenarios,
    start_plan,
)
from livc.tenants.scenarios.schemas import (
    PlanMeasureSchema,
    ScenarioMeasureSchema,
    ScenarioSchema,
    read_rows,
    read_scenario,
)
from livc.tenants.signals.models import TARGET_GROUP_LABELS, TargetGroup
from livc.tenants.web import blueprint, enum_value, label_of, no_store_answer

NOT_JSON = _l("Send the data as a JSON object.")


class ScenarioMeasureOut(Schema):
    description = fields.String()
    category = enum_value(MeasureCategory)
    category_label = fields.Function(lambda m: label_of(MEASURE_CATEGORY_LABELS, m.category))
    organisation_kind = enum_value(OrganisationKind)
    organisation_kind_label = fields.Function(lambda m: label_of(ORGANISATION_KIND_LABELS, m.organisation_kind))
    period_days = fields.Integer()


class ScenarioOut(Schema):
    id = fields.Integer()
    name = fields.String()
    target_group = enum_value(TargetGroup)
    target_group_label = fields.Function(lambda s: label_of(TARGET_GROUP_LABELS, s.target_group))
    is_default = fields.Boolean()
    measures = fields.List(fields.Nested(ScenarioMeasureOut))
    updated_at = fields.DateTime()


class ProposedOut(Schema):
    description = fields.String()
    category = enum_value(MeasureCategory)
    organisation_id = fields.Integer(allow_none=True)
    organisation_kind = enum_value(OrganisationKind)
    due_on = fields.Date()


# --- what is accepted and answered, for the OpenAPI document (the views read rows leniently) -----


class ScenarioIn(ScenarioSchema):
    """A scenario: its name, target group and typical measures (``measures`` replaces them all)."""

    measures = fields.List(fields.Nested(ScenarioMeasureSchema))


class PlanIn(Schema):
    measures = fields.List(fields.Nested(PlanMeasureSchema), required=True)
    scenario_id = fields.Integer(allow_none=True, metadata={"description": "The scenario the measures came from."})


class ProposalAnswer(Schema):
    scenario_id = fields.Integer()
    measures = fields.List(fields.Nested(ProposedOut))


def _body() -> dict:
    body = json_payload()  # 415, 400, or 422 for what no column stores
    if not isinstance(body, dict):
        raise InvalidFields({"_schema": [NOT_JSON]})
    return body


def _scenario_values(body: dict, partial: bool) -> tuple[dict, dict]:
    values, faults = read_scenario(body)
    if not partial or "measures" in body:
        rows, row_faults = read_rows(body.get("measures"), ScenarioMeasureSchema())
        values["measures"] = rows
        faults = {**faults, **row_faults}
    if partial:
        values = {name: value for name, value in values.items() if name in body}
    return values, faults


@blueprint.get("/api/scenarios")
@documented(answer=ScenarioOut, many=True, envelope="scenarios", summary="The cell's follow-up scenarios.", tags=("scenarios",))
@guard(Action.CASE_SETTINGS_MANAGE)
def api_scenarios():
    ensure_default_scenarios()
    return no_store_answer(scenarios=ScenarioOut(many=True).dump(scenarios()))


@blueprint.post("/api/scenarios")
@documented(body=ScenarioIn, answer=ScenarioOut, envelope="scenario", status=201, summary="Add a scenario.", tags=("scenarios",))
@guard(Action.CASE_SETTINGS_MANAGE)
def api_scenario_create():
    values, faults = _scenario_values(_body(), partial=False)
    scenario = apply_or_422(create_scenario, g.membership, values, faults)
    return no_store_answer(201, url_for("tenant.api_scenario", scenario_id=scenario.id), scenario=ScenarioOut().dump(scenario))


@blueprint.get("/api/scenarios/<int:scenario_id>")
@documented(answer=ScenarioOut, envelope="scenario", summary="A scenario.", tags=("scenarios",))
@guard(Action.CASE_SETTINGS_MANAGE)
def api_scenario(scenario_id: int):
    load_scenario(scenario_id)  # after the policy: only the coordinator learns which ids exist
    return no_store_answer(scenario=ScenarioOut().dump(g.scenario))


@blueprint.patch("/api/scenarios/<int:scenario_id>")
@documented(body=ScenarioIn, answer=ScenarioOut, envelope="scenario", summary="Change a scenario.", tags=("scenarios",))
@guard(Action.CASE_SETTINGS_MANAGE)
def api_scenario_change(scenario_id: int):
    """Fields not sent stay as they are; ``measures``, when sent, replaces them all."""
    load_scenario(scenario_id)  # after the policy: only the coordinator learns which ids exist
    values, faults = _scenario_values(_body(), partial=True)
    scenario = apply_or_422(change_scenario, g.scenario, g.membership, values, faults)
    return no_store_answer(scenario=ScenarioOut().dump(scenario))


@blueprint.delete("/api/scenarios/<int:scenario_id>")
@documented(status=204, summary="Remove a scenario.", tags=("scenarios",))
@guard(Action.CASE_SETTINGS_MANAGE)
def api_scenario_remove(scenario_id: int):
    load_scenario(scenario_id)  # after the policy: only the coordinator learns which ids exist
    remove_scenario(g.scenario, g.membership)
    return no_store_answer(204)


@blueprint.get("/api/cases/<int:case_id>/scenarios/<int:scenario_id>/proposal")
@documented(answer=ProposalAnswer, summary="A scenario's measures as rows of the case's plan.", tags=("scenarios",))
@guard(Action.CASE_MANAGE, load=load_case_of_proposal)
def api_case_scenario_proposal(case_id: int, scenario_id: int):
    """The scenario's measures as rows of the case's plan, to adapt and send to ``/plan``."""
    load_scenario(scenario_id)
    return no_store_answer(scenario_id=g.scenario.id, measures=ProposedOut(many=True).dump(proposed_measures(g.scenario)))


@blueprint.post("/api/cases/<int:case_id>/plan")
@documented(body=PlanIn, answer=MeasureOut, many=True, envelope="measures", status=201, summary="Add the adapted measures to the case's plan.", tags=("scenarios",))
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_plan(case_id: int):
    """Add the adapted measures (``measures``: description, category, organisation_id, due_on) at
    once; ``scenario_id`` names the scenario they came from."""
    body = _body()
    rows, faults = read_rows(body.get("measures"), PlanMeasureSchema())
    scenario = find_scenario(body["scenario_id"]) if isinstance(body.get("scenario_id"), int) else None
    added = apply_or_422(start_plan, g.resource, g.membership, rows, faults, scenario)
    return no_store_answer(201, measures=MeasureOut(many=True).dump(added))
