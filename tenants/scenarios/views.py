"""The follow-up scenarios' pages: the cell's scenarios per target group (the coordinator keeps
them), and starting a case's plan from one.

Views only parse and answer; the rules live in :mod:`livc.tenants.scenarios.operations`. A refused
form answers 422 with the form again, its messages field by field (a row's field as
``measures.<row>.<field>``) and what was typed; a refused request is rolled back, nothing is saved
half-way.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.platform.forms import field_messages
from livc.platform.inputs import bounded_id
from livc.platform.policy import Action
from livc.platform.roles import ORGANISATION_KIND_LABELS
from livc.platform.web import after_refusal
from livc.tenants.access import guard
from livc.tenants.cases.loads import load_case
from livc.tenants.cases.models import CHOSEN_MEASURE_CATEGORIES, MEASURE_CATEGORY_LABELS, Case
from livc.tenants.cases.operations import record_read
from livc.tenants.members.operations import organisation_list
from livc.tenants.scenarios.loads import load_scenario
from livc.tenants.scenarios.models import FollowUpScenario
from livc.tenants.scenarios.operations import (
    change_scenario,
    create_scenario,
    ensure_default_scenarios,
    find_scenario,
    proposed_measures,
    remove_scenario,
    scenarios,
    scenarios_for_case,
    start_plan,
)
from livc.tenants.scenarios.schemas import (
    PlanMeasureSchema,
    ScenarioMeasureSchema,
    read_scenario,
    rows_from_form,
)
from livc.tenants.signals.models import TARGET_GROUP_LABELS, TargetGroup
from livc.tenants.web import blueprint, no_store_page

BLANK_ROWS = 3
CONFIRM = _l("Tick the box to confirm.")


def _choices() -> dict[str, list[tuple[str, Any]]]:
    return {
        "target_groups": [(group.value, TARGET_GROUP_LABELS[group]) for group in TargetGroup],
        "categories": [(category.value, MEASURE_CATEGORY_LABELS[category]) for category in CHOSEN_MEASURE_CATEGORIES],
        "kinds": [(kind.value, label) for kind, label in ORGANISATION_KIND_LABELS.items()],
    }


LABELS = {"target_group": TARGET_GROUP_LABELS, "category": MEASURE_CATEGORY_LABELS, "kind": ORGANISATION_KIND_LABELS}


@blueprint.get("/scenarios")
@guard(Action.CASE_SETTINGS_MANAGE)
def scenarios_list():
    """The cell's scenarios by target group; the defaults are written first where missing."""
    ensure_default_scenarios()
    grouped = [(group, scenarios(group)) for group in TargetGroup]
    return no_store_page("tenants/scenario_list.html", grouped=grouped, labels=LABELS)


def _rows_of(scenario: FollowUpScenario | None) -> list[dict]:
    rows = [{"description": m.description, "category": m.category.value, "organisation_kind": m.organisation_kind.value,
             "period_days": str(m.period_days)} for m in (scenario.measures if scenario else [])]
    return rows + [{} for _ in range(BLANK_ROWS)]


def _form_page(scenario: FollowUpScenario | None, status: int = 200, errors: dict | None = None,
               rows: list[dict] | None = None):
    return no_store_page("tenants/scenario_form.html", status, errors, scenario=scenario,
                         rows=rows if rows is not None else _rows_of(scenario), **_choices())


def _save(scenario: FollowUpScenario | None):
    values, faults = read_scenario(request.form)
    rows, row_faults, typed = rows_from_form(request.form, ScenarioMeasureSchema())
    values["measures"] = rows
    try:
        if scenario is None:
            scenario = create_scenario(g.membership, values, {**faults, **row_faults})
        else:
            change_scenario(scenario, g.membership, values, {**faults, **row_faults})
    except ValidationError as error:
        return _form_page(scenario, 422, field_messages(error), typed + [{} for _ in range(BLANK_ROWS)])
    flash(_l("The scenario %(name)s is saved.", name=scenario.name), "info")
    return redirect(url_for("tenant.scenarios_list", _anchor=f"group-{scenario.target_group.value}"))


@blueprint.route("/scenarios/new", methods=["GET", "POST"])
@guard(Action.CASE_SETTINGS_MANAGE)
def scenario_new():
    if request.method == "GET":
        return _form_page(None)
    return _save(None)


@blueprint.route("/scenarios/<int:scenario_id>", methods=["GET", "POST"])
@guard(Action.CASE_SETTINGS_MANAGE)
def scenario_edit(scenario_id: int):
    load_scenario(scenario_id)  # after the policy: only the coordinator learns which ids exist
    if request.method == "GET":
        return _form_page(g.scenario)
    return _save(g.scenario)


@blueprint.route("/scenarios/<int:scenario_id>/remove", methods=["GET", "POST"])
@guard(Action.CASE_SETTINGS_MANAGE)
def scenario_remove(scenario_id: int):
    load_scenario(scenario_id)  # after the policy: only the coordinator learns which ids exist
    scenario = g.scenario
    if request.method == "GET":
        return no_store_page("tenants/scenario_remove.html", scenario=scenario, labels=LABELS)
    if request.form.get("confirm") != "yes":
        return no_store_page("tenants/scenario_remove.html", 422, {"confirm": [str(CONFIRM)]}, scenario=scenario, labels=LABELS)
    remove_scenario(scenario, g.membership)
    flash(_l("The scenario %(name)s is removed.", name=scenario.name), "info")
    return redirect(url_for("tenant.scenarios_list"))


# --- starting a plan from a scenario ---------------------------------------------------------------


def _proposed_rows(scenario: FollowUpScenario) -> list[dict]:
    return [{
        "description": row["description"], "category": row["category"].value,
        "organisation_id": str(row["organisation_id"] or ""), "due_on": row["due_on"].isoformat(), "keep": "yes",
        "kind": ORGANISATION_KIND_LABELS[row["organisation_kind"]],
    } for row in proposed_measures(scenario)]


def _plan_page(case: Case, scenario: FollowUpScenario | None, status: int = 200, errors: dict | None = None,
               rows: list[dict] | None = None):
    after_refusal_read(case)
    return no_store_page(
        "tenants/scenario_plan.html", status, errors, case=case, scenario=scenario,
        scenario_choices=[(s.id, f"{s.name} ({TARGET_GROUP_LABELS[s.target_group]})") for s in scenarios_for_case(case)],
        rows=rows if rows is not None else (_proposed_rows(scenario) if scenario else []),
        organisations=[(o.id, o.name) for o in organisation_list()], **_choices(),
    )


def after_refusal_read(case: Case) -> None:
    """Account for this view of the case's plan, also when the answer is a refusal (rolled back)."""
    after_refusal(lambda: record_read(case, "plan"))


@blueprint.get("/cases/<int:case_id>/plan/scenario")
@guard(Action.CASE_MANAGE, load=load_case)
def case_scenario_plan(case_id: int):
    """Choose a scenario; its measures are proposed as rows of the plan to adapt."""
    ensure_default_scenarios()
    chosen = request.args.get("scenario", type=bounded_id)
    scenario = find_scenario(chosen) if chosen else None
    errors = {"scenario": [str(_l("Choose a scenario of the cell."))]} if chosen and scenario is None else None
    return _plan_page(g.resource, scenario, 422 if errors else 200, errors)


@blueprint.post("/cases/<int:case_id>/plan/scenario")
@guard(Action.CASE_MANAGE, load=load_case)
def case_scenario_plan_save(case_id: int):
    """Save the kept rows as measures of the plan, all at once or none."""
    case = g.resource
    scenario = find_scenario(request.form.get("scenario_id", type=bounded_id) or 0)
    rows, faults, typed = rows_from_form(request.form, PlanMeasureSchema(), kept_only=True)
    try:
        added = start_plan(case, g.membership, rows, faults, scenario)
    except ValidationError as error:
        for row in typed:
            row["keep"] = "yes"
        return _plan_page(case, scenario, 422, field_messages(error), typed)
    flash(_l("%(count)s measures were added to the follow-up plan.", count=len(added)), "info")
    return redirect(url_for("tenant.case", case_id=case.id, _anchor="plan"))
