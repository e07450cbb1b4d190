"""Follow-up scenarios per target group and the categories of measures (issue 18, point 5; seeds
000, 001 and 004: "gestandaardiseerde scenario's inzake trajectopvolging ... per doelgroep").

The cell keeps scenarios of typical measures per target group, with a default written once for
each; the coordinator manages them. Starting a case's plan from a scenario proposes its measures,
which the case team adapts and saves at once, or not at all. Every new measure has a category,
and the figures count measures by category. Runs on SQLite and PostgreSQL; members get a
server-side session directly and accepted the secrecy undertaking (``ready_cell``).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session, post_form
from case_helpers import LEUVEN, open_case, ready_cell
from livc.platform.db import db, tenant_context
from livc.platform.roles import OrganisationKind
from livc.platform.tenancy import Tenant
from livc.tenants.cases.models import Measure
from livc.tenants.monitoring.reading import all_facts
from livc.tenants.scenarios.models import FollowUpScenario
from livc.tenants.scenarios.operations import organisation_of_kind
from livc.tenants.signals.models import TargetGroup

EN = {"Accept-Language": "en"}
PAGE = f"/{LEUVEN}/scenarios"
API = f"/{LEUVEN}/api"


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


class Api:
    """A member's client for the API: JSON in and out, with the CSRF token of their session."""

    def __init__(self, app, member):
        self.client = client_for(app, member)
        self.headers = {"X-CSRFToken": self.client.get(f"/{member.tenant_slug}/api/session").get_json()["csrf_token"], **EN}

    def get(self, path: str):
        return self.client.get(path, headers=EN)

    def send(self, method: str, path: str, body=None):
        return self.client.open(path, method=method, json=body, headers=self.headers)


def fields_of(response) -> set[str]:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True))
    return set(response.get_json()["error"]["fields"])


def text(response) -> str:
    return response.get_data(as_text=True)


def in_cell(app, cell, work):
    with app.app_context(), tenant_context(cell.tenant_id):
        try:
            return work()
        finally:
            db.session.remove()


def scenario_rows(app, cell) -> list[tuple[str, str, bool]]:
    return in_cell(app, cell, lambda: [(s.name, s.target_group.value, s.removed_at is not None) for s in
                                       db.session.scalars(sa.select(FollowUpScenario).order_by(FollowUpScenario.id))])


def measures_of(app, cell, case_id: int) -> list[tuple[str, str, int | None, date | None]]:
    def read():
        rows = db.session.scalars(sa.select(Measure).where(Measure.case_id == case_id).order_by(Measure.id))
        return [(m.description, m.category.value, m.organisation_id, m.due_on) for m in rows]
    return in_cell(app, cell, read)


def organisation_id(app, cell, kind: OrganisationKind) -> int | None:
    return in_cell(app, cell, lambda: getattr(organisation_of_kind(kind), "id", None))


SCENARIO_FORM = {
    "name": "Return from a conflict zone",
    "target_group": "ftf",
    "measures.0.description": "Home visit by the prevention service",
    "measures.0.category": "guidance",
    "measures.0.organisation_kind": "municipal_service",
    "measures.0.period_days": "14",
    "measures.1.description": "Check of the travel documents",
    "measures.1.category": "administrative",
    "measures.1.organisation_kind": "municipal_service",
    "measures.1.period_days": "30",
}


# --- the defaults ---------------------------------------------------------------------------------


def test_each_target_group_gets_a_default_scenario_once_in_the_cells_language(app, cell):
    coordinator = client_for(app, cell.coordinator)
    page = coordinator.get(PAGE)
    assert page.status_code == 200, text(page)
    rows = scenario_rows(app, cell)
    assert sorted(group for _name, group, _removed in rows) == sorted(group.value for group in TargetGroup)
    # Written in the cell's first working language (Dutch), whatever the reader's language.
    names = {group: name for name, group, _removed in rows}
    assert "Ander gewelddadig extremisme" in names["other_extremism"], names
    english = coordinator.get(PAGE, headers=EN)
    assert english.status_code == 200 and names["other_extremism"] in text(english)
    assert len(scenario_rows(app, cell)) == len(TargetGroup)  # not written twice

    ftf = in_cell(app, cell, lambda: db.session.scalar(
        sa.select(FollowUpScenario.id).where(FollowUpScenario.target_group == TargetGroup.FTF)))
    assert post_form(coordinator, f"{PAGE}/{ftf}/remove", {"confirm": "yes"}).status_code == 302
    assert coordinator.get(PAGE).status_code == 200
    rows = scenario_rows(app, cell)
    assert len(rows) == len(TargetGroup)  # a removed default does not come back
    assert [removed for _name, group, removed in rows if group == "ftf"] == [True]


def test_the_defaults_combine_guidance_administrative_police_and_judicial_measures(app, cell):
    body = Api(app, cell.coordinator).get(f"{API}/scenarios").get_json()
    categories = {m["category"] for s in body["scenarios"] for m in s["measures"]}
    assert {"guidance", "care", "education", "work", "housing", "administrative", "judicial_penal", "police"} <= categories
    assert all(m["period_days"] > 0 and m["organisation_kind"] for s in body["scenarios"] for m in s["measures"])


# --- managing the scenarios -------------------------------------------------------------------------


def test_the_coordinator_creates_changes_and_removes_a_scenario_through_the_pages(app, cell):
    coordinator = client_for(app, cell.coordinator)
    created = post_form(coordinator, f"{PAGE}/new", SCENARIO_FORM, headers=EN)
    assert created.status_code == 302, text(created)
    listed = text(coordinator.get(PAGE, headers=EN))
    assert "Return from a conflict zone" in listed and "Check of the travel documents" in listed
    assert "14 days" in listed

    scenario_id = in_cell(app, cell, lambda: db.session.scalar(
        sa.select(FollowUpScenario.id).where(FollowUpScenario.name == "Return from a conflict zone")))
    edit = f"{PAGE}/{scenario_id}"
    assert 'value="Check of the travel documents"' in text(coordinator.get(edit))
    # Emptying a row removes its measure; a new row adds one.
    changed = post_form(coordinator, edit, {
        **SCENARIO_FORM, "name": "Return (adapted)",
        "measures.1.description": "", "measures.1.category": "", "measures.1.organisation_kind": "",
        "measures.1.period_days": "",
        "measures.2.description": "Route to work", "measures.2.category": "work",
        "measures.2.organisation_kind": "vdab", "measures.2.period_days": "90",
    })
    assert changed.status_code == 302, text(changed)
    scenario = Api(app, cell.coordinator).get(f"{API}/scenarios/{scenario_id}").get_json()["scenario"]
    assert scenario["name"] == "Return (adapted)"
    assert [(m["description"], m["category"]) for m in scenario["measures"]] == [
        ("Home visit by the prevention service", "guidance"), ("Route to work", "work")]

    refused = post_form(coordinator, f"{edit}/remove", {}, headers=EN)
    assert refused.status_code == 422 and "Tick the box to confirm." in text(refused)
    assert post_form(coordinator, f"{edit}/remove", {"confirm": "yes"}).status_code == 302
    assert coordinator.get(edit).status_code == 404
    assert "Return (adapted)" not in text(coordinator.get(PAGE))


def test_a_scenario_with_faults_is_refused_field_by_field_keeping_what_was_typed_and_saves_nothing(app, cell):
    coordinator = client_for(app, cell.coordinator)
    coordinator.get(PAGE)  # the defaults
    before = len(scenario_rows(app, cell))
    refused = post_form(coordinator, f"{PAGE}/new", {
        **SCENARIO_FORM, "name": "", "target_group": "martians",
        "measures.1.category": "not_recorded", "measures.1.period_days": "0",
        "measures.2.description": "Weekly talk", "measures.2.period_days": "soon",
    }, form_path=f"{PAGE}/new", headers=EN)
    assert refused.status_code == 422
    page = text(refused)
    for message in ("This field is required.", "Choose one of the options.", "A period of 1 to 730 days.",
                    "A whole number of days."):
        assert message in page, message
    assert 'value="Home visit by the prevention service"' in page and 'value="Weekly talk"' in page
    assert len(scenario_rows(app, cell)) == before

    api = Api(app, cell.coordinator)
    assert fields_of(api.send("POST", f"{API}/scenarios", {"name": "x" * 201, "measures": []})) == {
        "name", "target_group", "measures"}
    assert fields_of(api.send("POST", f"{API}/scenarios", {
        "name": "Faulty", "target_group": "htf",
        "measures": [{"description": "Fine", "category": "care", "organisation_kind": "hospital", "period_days": 30},
                     {"description": "", "category": "penal", "organisation_kind": "ocmw", "period_days": "x"}],
    })) == {"measures.1.description", "measures.1.category", "measures.1.period_days"}
    assert len(scenario_rows(app, cell)) == before


def test_only_the_coordinator_manages_the_scenarios(app, cell):
    partner = client_for(app, cell.partner)
    assert partner.get(PAGE).status_code == 403
    assert partner.get(f"{PAGE}/new").status_code == 403
    api = Api(app, cell.partner)
    assert api.get(f"{API}/scenarios").status_code == 403
    assert api.send("POST", f"{API}/scenarios", {"name": "Mine", "target_group": "ftf", "measures": []}).status_code == 403


def test_the_api_creates_changes_and_removes_a_scenario(app, cell):
    api = Api(app, cell.coordinator)
    created = api.send("POST", f"{API}/scenarios", {
        "name": "Child of a returnee", "target_group": "child_of_ftf_htf",
        "measures": [{"description": "Pupil guidance", "category": "education", "organisation_kind": "clb",
                      "period_days": 30}],
    })
    assert created.status_code == 201, text(created)
    scenario = created.get_json()["scenario"]
    assert scenario["target_group_label"] == "Child of an FTF or HTF"
    assert scenario["measures"][0]["category_label"] == "Education"
    path = f"{API}/scenarios/{scenario['id']}"
    renamed = api.send("PATCH", path, {"name": "Child of a returnee (school)"})
    assert renamed.status_code == 200 and renamed.get_json()["scenario"]["measures"] == scenario["measures"]
    assert api.send("DELETE", path).status_code == 204
    assert api.get(path).status_code == 404


# --- starting a plan from a scenario -----------------------------------------------------------------


def _default_of(app, cell, group: TargetGroup) -> int:
    Api(app, cell.coordinator).get(f"{API}/scenarios")  # the defaults
    return in_cell(app, cell, lambda: db.session.scalar(
        sa.select(FollowUpScenario.id).where(FollowUpScenario.target_group == group)))


def test_a_plan_started_from_a_scenario_proposes_its_measures_which_the_team_adapts_and_saves(app, cell):
    case_id, code = open_case(app, cell)  # target group: other violent extremism
    coordinator = client_for(app, cell.coordinator)
    case_page = text(coordinator.get(f"/{LEUVEN}/cases/{case_id}", headers=EN))
    assert "Start the plan from a follow-up scenario" in case_page
    scenario_id = _default_of(app, cell, TargetGroup.OTHER_EXTREMISM)
    path = f"/{LEUVEN}/cases/{case_id}/plan/scenario"

    proposed = coordinator.get(f"{path}?scenario={scenario_id}", headers=EN)
    assert proposed.status_code == 200, text(proposed)
    page = text(proposed)
    clb, ocmw = organisation_id(app, cell, OrganisationKind.CLB), organisation_id(app, cell, OrganisationKind.OCMW)
    assert clb is not None and ocmw is not None
    # Pre-filled: the scenario's text (the default is written in the cell's first language, Dutch
    # here) and category, an organisation of its kind, today + its period.
    assert 'value="Leerlingenbegeleiding of een traject naar opleiding"' in page
    assert re.search(rf'name="measures\.1\.organisation_id".*?<option value="{clb}" selected', page, re.S)
    assert f'value="{(date.today() + timedelta(days=60)).isoformat()}"' in page
    assert re.search(r'name="measures\.2\.category".*?<option value="housing" selected', page, re.S)

    saved = post_form(coordinator, path, {
        "scenario_id": scenario_id,
        # Adapted: another organisation (the cell has no CAW), another text and date.
        "measures.0.keep": "yes", "measures.0.description": "Weekly talk with the OCMW's counsellor",
        "measures.0.category": "guidance", "measures.0.organisation_id": ocmw,
        "measures.0.due_on": (date.today() + timedelta(days=21)).isoformat(),
        "measures.1.keep": "yes", "measures.1.description": "Pupil guidance or a route to training",
        "measures.1.category": "education", "measures.1.organisation_id": clb,
        "measures.1.due_on": (date.today() + timedelta(days=60)).isoformat(),
        # Left out by the team.
        "measures.2.description": "Support in finding stable housing", "measures.2.category": "housing",
        "measures.2.organisation_id": ocmw, "measures.2.due_on": (date.today() + timedelta(days=60)).isoformat(),
    }, form_path=f"{path}?scenario={scenario_id}")
    assert saved.status_code == 302, text(saved)
    assert measures_of(app, cell, case_id) == [
        ("Weekly talk with the OCMW's counsellor", "guidance", ocmw, date.today() + timedelta(days=21)),
        ("Pupil guidance or a route to training", "education", clb, date.today() + timedelta(days=60)),
    ]
    plan = text(coordinator.get(f"/{LEUVEN}/cases/{case_id}", headers=EN))
    assert "Education" in plan and "Add a follow-up scenario's measures" in plan


def test_a_plan_with_a_faulty_row_is_refused_by_field_and_adds_no_measure(app, cell):
    case_id, _code = open_case(app, cell)
    scenario_id = _default_of(app, cell, TargetGroup.OTHER_EXTREMISM)
    coordinator = client_for(app, cell.coordinator)
    path = f"/{LEUVEN}/cases/{case_id}/plan/scenario"
    clb = organisation_id(app, cell, OrganisationKind.CLB)
    refused = post_form(coordinator, path, {
        "scenario_id": scenario_id,
        "measures.0.keep": "yes", "measures.0.description": "Fine", "measures.0.category": "guidance",
        "measures.0.organisation_id": clb,
        "measures.1.keep": "yes", "measures.1.description": "", "measures.1.category": "not_recorded",
        "measures.1.organisation_id": "", "measures.1.due_on": "someday",
    }, form_path=f"{path}?scenario={scenario_id}", headers=EN)
    assert refused.status_code == 422
    page = text(refused)
    assert 'id="e-measures.1.description"' in page and 'id="e-measures.1.organisation_id"' in page
    assert 'id="e-measures.1.category"' in page and 'id="e-measures.1.due_on"' in page
    assert 'id="e-measures.0.description"' not in page
    assert 'value="Fine"' in page  # what was typed stays
    assert measures_of(app, cell, case_id) == []

    nothing = post_form(coordinator, path, {"scenario_id": scenario_id, "measures.0.description": "Unticked",
                                            "measures.0.category": "care"},
                        form_path=f"{path}?scenario={scenario_id}", headers=EN)
    assert nothing.status_code == 422 and "Keep at least one measure of the plan." in text(nothing)
    assert measures_of(app, cell, case_id) == []


def test_the_api_proposes_a_scenarios_measures_and_adds_the_adapted_plan_at_once(app, cell):
    case_id, _code = open_case(app, cell)
    scenario_id = _default_of(app, cell, TargetGroup.OTHER_EXTREMISM)
    api = Api(app, cell.coordinator)
    proposal = api.get(f"{API}/cases/{case_id}/scenarios/{scenario_id}/proposal")
    assert proposal.status_code == 200, text(proposal)
    rows = proposal.get_json()["measures"]
    assert [(row["category"], row["organisation_kind"]) for row in rows] == [
        ("guidance", "caw"), ("education", "clb"), ("housing", "ocmw")]
    assert rows[0]["organisation_id"] is None  # the cell has no CAW: the team chooses
    assert rows[1]["due_on"] == (date.today() + timedelta(days=60)).isoformat()

    rows[0]["organisation_id"] = organisation_id(app, cell, OrganisationKind.OCMW)
    faulty = [dict(rows[0]), {**rows[1], "description": "", "category": "police-ish"}]
    assert fields_of(api.send("POST", f"{API}/cases/{case_id}/plan", {"scenario_id": scenario_id, "measures": faulty})) == {
        "measures.1.description", "measures.1.category"}
    assert measures_of(app, cell, case_id) == []

    plan = [{name: row[name] for name in ("description", "category", "organisation_id", "due_on")} for row in rows[:2]]
    added = api.send("POST", f"{API}/cases/{case_id}/plan", {"scenario_id": scenario_id, "measures": plan})
    assert added.status_code == 201, text(added)
    assert [m["category_label"] for m in added.get_json()["measures"]] == ["Guidance", "Education"]
    assert len(measures_of(app, cell, case_id)) == 2
    # The plan is the coordinator's: a team member changes the status of their measures only.
    partner = Api(app, cell.partner)
    assert partner.get(f"{API}/cases/{case_id}/scenarios/{scenario_id}/proposal").status_code == 403
    assert partner.send("POST", f"{API}/cases/{case_id}/plan", {"measures": plan}).status_code == 403


# --- the category of a measure, counted by the figures ------------------------------------------------


def test_a_new_measure_needs_a_category_and_the_figures_count_measures_by_category(app, cell):
    case_id, _code = open_case(app, cell)
    api = Api(app, cell.coordinator)
    clb = organisation_id(app, cell, OrganisationKind.CLB)
    path = f"{API}/cases/{case_id}/measures"
    assert fields_of(api.send("POST", path, {"description": "Mentoring", "organisation_id": clb})) == {"category"}
    assert fields_of(api.send("POST", path, {"description": "Mentoring", "organisation_id": clb,
                                             "category": "not_recorded"})) == {"category"}
    coordinator = client_for(app, cell.coordinator)
    refused = post_form(coordinator, f"/{LEUVEN}/cases/{case_id}/measures", {"description": "Mentoring",
                        "organisation_id": clb}, form_path=f"/{LEUVEN}/cases/{case_id}", headers=EN)
    assert refused.status_code == 422 and 'id="e-category"' in text(refused)
    assert measures_of(app, cell, case_id) == []

    for category in ("care", "care", "judicial_penal"):
        added = api.send("POST", path, {"description": "Measure", "organisation_id": clb, "category": category})
        assert added.status_code == 201, text(added)
    measure_id = added.get_json()["measure"]["id"]
    changed = api.send("PATCH", f"{path}/{measure_id}", {"category": "police"})
    assert changed.status_code == 200 and changed.get_json()["measure"]["category_label"] == "Police follow-up"

    def counted():
        tenant = db.session.get(Tenant, cell.tenant_id)
        totals: dict[str, int] = {}
        for fact, count in all_facts(tenant.id):
            if fact.figure == "measures_by_category":
                totals[fact.category[0]] = totals.get(fact.category[0], 0) + count
        return totals
    assert in_cell(app, cell, counted) == {"care": 2, "police": 1}

    figures = api.get(f"{API}/monitoring?figure=measures_by_category").get_json()
    (figure,) = figures["figures"]
    assert figure["title"] == "Measures by category"
    (table, *_places) = figure["tables"]
    labels = [row["label"] for row in table["rows"]]
    assert "Judicial or penal measure" in labels and "Category not recorded" in labels
