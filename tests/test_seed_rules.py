"""The seeds' rules on composition and on the legal basis before case work (issue 18, parts 1-2).

Seed 004 (the circular of 22 May 2018): the police never coordinate the cell, are never its
appointed official and never chair its operational table; the cell's fixed participants are the
mayor or the official the mayor appointed, the information officer and the alderman for social
affairs or their mandatee. Seed 002 (article 458ter): no case consultation without house rules
in force resting on a legal basis, held at the operational table. Each refusal names the rule and
the seed; nothing is half-saved. Through the pages and the API, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re
from datetime import date

import sqlalchemy as sa

from admin_helpers import add_operator, give_operator_session
from auth_helpers import add_member, give_session, post_form
from case_helpers import LEUVEN, membership, publish_house_rules, ready_cell, signal_values
from livc.platform.db import db, tenant_context
from livc.platform.roles import OrganisationKind, Role
from livc.tenants.cell.models import CellForm, CellProfile, Table, TableKind
from livc.tenants.cell.operations import legal_minimum_problems
from livc.tenants.decisions.models import Proposal
from livc.tenants.house_rules.models import LegalBasis
from livc.tenants.members.models import Invitation, Membership, Organisation
from livc.tenants.members.operations import accept_undertaking, end_membership
from livc.tenants.signals.models import Signal, SignalStatus, Weighing
from livc.tenants.signals.operations import submit_signal

EN = {"Accept-Language": "en"}
BASE = f"/{LEUVEN}"
SEED_004 = "circular of 22 May 2018, seed 004"
SEED_002 = "article 458ter of the Criminal Code, seed 002"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def api_for(app, member):
    client = client_for(app, member)
    headers = {"X-CSRFToken": client.get(f"/{member.tenant_slug}/api/session").get_json()["csrf_token"], **EN}
    return client, headers


def operator_client(app):
    client = app.test_client()
    give_operator_session(app, client, add_operator(app))
    return client


def police_organisation(app, tenant_id: int) -> int:
    with app.app_context(), tenant_context(tenant_id):
        organisation = Organisation(name="Politiezone Leuven", kind=OrganisationKind.POLICE)
        db.session.add(organisation)
        db.session.commit()
        found = organisation.id
        db.session.remove()
    return found


def seats(app, tenant_id: int) -> tuple[int, int]:
    with app.app_context(), tenant_context(tenant_id):
        found = (db.session.scalar(sa.select(sa.func.count()).select_from(Membership)),
                 db.session.scalar(sa.select(sa.func.count()).select_from(Invitation)))
        db.session.remove()
    return found


def field_error(page: str, field: str) -> str:
    found = re.search(rf'id="e-{field}">(?:<span class="govuk-visually-hidden">[^<]*</span>\s*)?([^<]*)', page)
    return found.group(1) if found else ""


# --- part 1: the police coordinate nothing -------------------------------------------------------


def test_a_police_member_is_refused_as_coordinator_through_the_page_and_the_api(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN)
    police = police_organisation(app, cell.tenant_id)
    before = seats(app, cell.tenant_id)
    coordinator = client_for(app, cell.coordinator)
    refused = post_form(coordinator, f"{BASE}/members/invite", {
        "email": "piet.politie@example.test", "display_name": "Piet", "role": "coordinator",
        "organisation_id": str(police)}, headers=EN)
    assert refused.status_code == 422
    assert SEED_004 in field_error(text(refused), "role")
    assert 'value="piet.politie@example.test"' in text(refused)

    client, headers = api_for(app, cell.coordinator)
    answer = client.post(f"{BASE}/api/members", headers=headers, json={
        "email": "piet.politie@example.test", "role": "coordinator", "organisation_id": police})
    assert answer.status_code == 422
    assert SEED_004 in answer.get_json()["error"]["fields"]["role"][0]
    assert seats(app, cell.tenant_id) == before

    # Nor does a coordinator move to the police, nor a police member become coordinator.
    moved = client.patch(f"{BASE}/api/members/{cell.coordinator.membership_id}", headers=headers,
                         json={"organisation_id": police})
    assert moved.status_code == 422 and SEED_004 in moved.get_json()["error"]["fields"]["role"][0]
    promoted = client.patch(f"{BASE}/api/members/{cell.information_officer.membership_id}", headers=headers,
                            json={"role": "coordinator"})
    assert promoted.status_code == 422 and SEED_004 in promoted.get_json()["error"]["fields"]["role"][0]
    with app.app_context(), tenant_context(cell.tenant_id):
        assert membership(cell.information_officer).role.value == "information_officer"
        assert membership(cell.coordinator).organisation.kind != OrganisationKind.POLICE


def put_police_coordinator_in_place(app, cell) -> int:
    """A cell set up before the rule: a coordinator who sits for the police (straight in the database)."""
    police = police_organisation(app, cell.tenant_id)
    officer = add_member(app, cell.tenant_id, LEUVEN, Role.COORDINATOR, "chief.coordinator@example.test")
    with app.app_context(), tenant_context(cell.tenant_id):
        db.session.get(Membership, officer.membership_id).organisation_id = police
        db.session.commit()
        db.session.remove()
    return officer.membership_id


def test_a_police_member_is_refused_as_appointed_official_and_as_chair_of_the_operational_table(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN, table=False)
    police_coordinator = put_police_coordinator_in_place(app, cell)
    coordinator = client_for(app, cell.coordinator)

    official = post_form(coordinator, f"{BASE}/organisation/profile",
                         {"form": "integrated", "appointed_official_id": str(police_coordinator)}, headers=EN)
    assert official.status_code == 422
    assert SEED_004 in field_error(text(official), "appointed_official_id")
    client, headers = api_for(app, cell.coordinator)
    answer = client.patch(f"{BASE}/api/organisation/profile", headers=headers,
                          json={"appointed_official_id": police_coordinator})
    assert answer.status_code == 422
    assert SEED_004 in answer.get_json()["error"]["fields"]["appointed_official_id"][0]

    chaired = post_form(coordinator, f"{BASE}/organisation/tables/new",
                        {"kind": "main", "name": "LIVC-R", "chair_membership_id": str(cell.information_officer.membership_id)},
                        headers=EN)
    assert chaired.status_code == 422
    assert "may not chair the operational table" in field_error(text(chaired), "chair_membership_id")
    assert SEED_004 in field_error(text(chaired), "chair_membership_id")
    api_chaired = client.post(f"{BASE}/api/organisation/tables", headers=headers,
                              json={"kind": "main", "name": "LIVC-R", "chair_membership_id": police_coordinator})
    assert api_chaired.status_code == 422
    assert SEED_004 in api_chaired.get_json()["error"]["fields"]["chair_membership_id"][0]
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Table)) == 0
        assert db.session.scalar(sa.select(CellProfile)).appointed_official_id == cell.coordinator.membership_id


def test_a_cell_that_already_breaks_a_rule_is_shown_what_to_fix_and_is_not_changed(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN)
    police_coordinator = put_police_coordinator_in_place(app, cell)
    with app.app_context(), tenant_context(cell.tenant_id):
        db.session.scalar(sa.select(Table)).chair_membership_id = cell.information_officer.membership_id
        db.session.commit()
        db.session.remove()

    setup = text(client_for(app, cell.coordinator).get(f"{BASE}/setup", headers=EN))
    assert "A coordinator of the cell sits for the police" in setup
    assert "The police may not chair the operational table" in setup
    assert setup.count(SEED_004) >= 2
    organisation = text(client_for(app, cell.coordinator).get(f"{BASE}/organisation", headers=EN))
    assert "A coordinator of the cell sits for the police" in organisation

    console = text(operator_client(app).get(f"/admin/tenants/{LEUVEN}", headers=EN))
    assert "A coordinator of the cell sits for the police" in console
    assert "chief.coordinator@example.test" not in console  # the rule, never the person

    with app.app_context(), tenant_context(cell.tenant_id):
        stays = db.session.get(Membership, police_coordinator)
        assert stays.role.value == "coordinator" and stays.organisation.kind == OrganisationKind.POLICE
        assert db.session.scalar(sa.select(Table)).chair_membership_id == cell.information_officer.membership_id


# --- part 1: the legal minimum -------------------------------------------------------------------


def minimum(app, cell) -> list[str]:
    client = client_for(app, cell.coordinator)
    report = client.get(f"{BASE}/api/organisation/legal-minimum", headers=EN).get_json()["legal_minimum"]
    assert report["can_open_cases"] is (not report["missing"])
    return report["missing"]


def end(app, cell, member) -> None:
    with app.test_request_context(), tenant_context(cell.tenant_id):
        end_membership(membership(member), membership(cell.coordinator))
        db.session.commit()
        db.session.remove()


def test_the_legal_minimum_is_the_mayor_or_the_official_the_information_officer_and_the_alderman_or_mandatee(
        app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN)
    assert minimum(app, cell) == []

    # The appointed official stands for the mayor ("de burgemeester en/of de aangestelde medewerker").
    end(app, cell, cell.mayor)
    assert minimum(app, cell) == []

    # The police chief does not stand in for the information officer.
    add_member(app, cell.tenant_id, LEUVEN, Role.POLICE_CHIEF)
    end(app, cell, cell.information_officer)
    missing = minimum(app, cell)
    assert len(missing) == 1 and "No information officer with a valid security clearance" in missing[0]
    assert SEED_004 in missing[0]

    end(app, cell, cell.alderman)
    assert any("Neither the alderman for social affairs nor their mandatee" in problem for problem in minimum(app, cell))

    # The alderman's mandatee (an OCMW partner here), set on the member's page and through the API.
    coordinator = client_for(app, cell.coordinator)
    page = post_form(coordinator, f"{BASE}/members/{cell.social.membership_id}", {
        "role": "partner", "organisation_id": str(organisation_of(app, cell, cell.social)),
        "clearance_expires_on": "", "expires_on": "", "social_mandatee": "true"}, headers=EN)
    assert page.status_code == 302, text(page)
    assert not any("alderman" in problem for problem in minimum(app, cell))
    client, headers = api_for(app, cell.coordinator)
    refused = client.patch(f"{BASE}/api/members/{cell.partner.membership_id}", headers=headers,
                           json={"role": "police_chief", "social_mandatee": True,
                                 "organisation_id": police_organisation(app, cell.tenant_id)})
    assert refused.status_code == 422
    assert SEED_004 in refused.get_json()["error"]["fields"]["social_mandatee"][0]
    assert client.get(f"{BASE}/api/members/{cell.social.membership_id}", headers=EN).get_json()["member"]["social_mandatee"]


def organisation_of(app, cell, member) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        found = membership(member).organisation_id
        db.session.remove()
    return found


def test_without_the_appointed_official_the_mayor_is_needed_and_the_refusal_names_the_seed(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN)
    end(app, cell, cell.mayor)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        db.session.scalar(sa.select(CellProfile)).appointed_official_id = None
        problems = [str(problem) for problem in legal_minimum_problems()]
        db.session.rollback()
    assert len(problems) == 1 and problems[0].startswith("Neither the mayor nor an official appointed by the mayor")
    assert SEED_004 in problems[0]


# --- part 2: the legal basis before case work ------------------------------------------------------


def new_signal(app, cell) -> int:
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal_id = submit_signal(membership(cell.partner), signal_values()).id
        db.session.commit()
        db.session.remove()
    return signal_id


def weighing_form(cell) -> dict:
    return {
        "flag": "red", "fact_propaganda": "yes",
        "fact_propaganda_description": "Shared an attack video in the class group chat.",
        "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social",
        "team_ids": [str(cell.partner.membership_id)], "rationale": "",
    }


def api_body(cell) -> dict:
    return {
        "flag": "red", "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social",
        "facts": [{"fact": "propaganda", "description": "Shared an attack video in the class group chat."}],
        "team_ids": [cell.partner.membership_id],
    }


def nothing_weighed(app, cell, signal_id: int) -> bool:
    with app.app_context(), tenant_context(cell.tenant_id):
        untouched = (db.session.get(Signal, signal_id).status == SignalStatus.NEW
                     and db.session.scalar(sa.select(sa.func.count()).select_from(Weighing)) == 0
                     and db.session.scalar(sa.select(sa.func.count()).select_from(Proposal)) == 0)
        db.session.remove()
    return untouched


def test_no_signal_is_weighed_before_house_rules_with_a_legal_basis_are_in_force(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN, house_rules=False)
    signal_id = new_signal(app, cell)
    coordinator = client_for(app, cell.coordinator)
    path = f"{BASE}/signals/{signal_id}/weigh"

    page = text(coordinator.get(path, headers=EN))
    assert "The cell cannot weigh signals or open cases yet" in page
    assert SEED_002 in page
    assert f'href="{BASE}/house-rules"' in page
    assert 'class="weighing-form"' not in page
    refused = post_form(coordinator, path, weighing_form(cell), form_path=f"{BASE}/signals/{signal_id}", headers=EN)
    assert refused.status_code == 422 and SEED_002 in text(refused)

    client, headers = api_for(app, cell.coordinator)
    answer = client.post(f"{BASE}/api/signals/{signal_id}/weighing", json=api_body(cell), headers=headers)
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert [rule["rule"] for rule in error["rules"]] == ["house_rules_in_force"]
    assert SEED_002 in error["rules"][0]["message"] and error["rules"][0]["href"] == f"{BASE}/house-rules"
    assert nothing_weighed(app, cell, signal_id)

    # Published with the prosecutor's consent (its reference and date): the cell weighs.
    with app.test_request_context(), tenant_context(cell.tenant_id):
        publish_house_rules(membership(cell.coordinator), LegalBasis.PROSECUTOR_CONSENT,
                            consent_reference="PK/2026/123", consent_date=date(2026, 9, 1))
        accept_undertaking(membership(cell.coordinator))
        db.session.commit()
        db.session.remove()
    client, headers = api_for(app, cell.coordinator)
    accepted = client.post(f"{BASE}/api/signals/{signal_id}/weighing", json=api_body(cell), headers=headers)
    assert accepted.status_code == 202, text(accepted)


def test_the_prosecutors_consent_without_reference_and_date_is_no_legal_basis(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN, house_rules=False)
    client, headers = api_for(app, cell.coordinator)
    drafted = client.put(f"{BASE}/api/house-rules/draft", json={"legal_basis": "prosecutor_consent"}, headers=headers)
    assert drafted.status_code in (200, 201), text(drafted)
    published = client.post(f"{BASE}/api/house-rules/publish", json={}, headers=headers)
    assert published.status_code == 422
    fields = published.get_json()["error"]["fields"]
    assert {"consent_reference", "consent_date"} <= set(fields)
    signal_id = new_signal(app, cell)
    client, headers = api_for(app, cell.coordinator)
    answer = client.post(f"{BASE}/api/signals/{signal_id}/weighing", json=api_body(cell), headers=headers)
    assert answer.status_code == 409 and nothing_weighed(app, cell, signal_id)


def test_no_signal_is_weighed_without_a_table_doing_the_operational_work(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN, table=False)
    signal_id = new_signal(app, cell)
    page = text(client_for(app, cell.coordinator).get(f"{BASE}/signals/{signal_id}/weigh", headers=EN))
    assert "a table that does the operational work" in page and SEED_004 in page
    assert f'href="{BASE}/organisation/tables/new"' in page

    client, headers = api_for(app, cell.coordinator)
    answer = client.post(f"{BASE}/api/signals/{signal_id}/weighing", json=api_body(cell), headers=headers)
    assert answer.status_code == 409
    assert [rule["rule"] for rule in answer.get_json()["error"]["rules"]] == ["operational_table"]
    assert nothing_weighed(app, cell, signal_id)

    # A strategic table alone does not do the operational work; the operational table does.
    with app.app_context(), tenant_context(cell.tenant_id):
        db.session.scalar(sa.select(CellProfile)).form = CellForm.STRATEGIC_OPERATIONAL
        db.session.add(Table(kind=TableKind.STRATEGIC, name="Strategisch", chair_membership_id=cell.mayor.membership_id))
        db.session.commit()
        db.session.remove()
    assert client.post(f"{BASE}/api/signals/{signal_id}/weighing", json=api_body(cell), headers=headers).status_code == 409
    with app.app_context(), tenant_context(cell.tenant_id):
        db.session.add(Table(kind=TableKind.OPERATIONAL, name="Casusoverleg", chair_membership_id=cell.coordinator.membership_id))
        db.session.commit()
        db.session.remove()
    assert client.post(f"{BASE}/api/signals/{signal_id}/weighing", json=api_body(cell), headers=headers).status_code == 202


def test_the_set_up_page_says_what_the_legal_basis_still_needs(app, demo_tenants):
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN, table=False, house_rules=False)
    setup = text(client_for(app, cell.coordinator).get(f"{BASE}/setup", headers=EN))
    assert 'data-rule="house_rules_in_force"' in setup and 'data-rule="operational_table"' in setup
    assert SEED_002 in setup
