"""The cell's organisation: its form, tables, seats, the legal minimum and the partner inventory.

Runs on SQLite and PostgreSQL. The coordinator works through the same pages and API a person
uses; each rule of the circular of 22 May 2018 (seed 004) is refused with its own message and
leaves nothing behind.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from auth_helpers import add_member, post_form, sign_in
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import OrganisationKind, Role
from livc.tenants.cell.models import (
    CellForm,
    CellProfile,
    Participation,
    PartnerInventoryEntry,
    PartnerKind,
    Table,
    TableKind,
    TableSeat,
)
from livc.tenants.cell.operations import can_open_cases, legal_minimum_problems
from livc.tenants.members.models import Membership, MembershipStatus, Organisation

LEUVEN, HERKO = "demo-leuven", "demo-herko"
EN = {"Accept-Language": "en"}
POLICE_CHAIR_OPERATIONAL = "The police may not chair the operational table"
POLICE_CHAIR_STRATEGIC = ("The police may not chair a table of the cell: the mayor leads the strategic table "
                          "(circular of 22 May 2018, seed 004).")
PROSECUTOR = "The public prosecutor never sits at the operational table: only at the strategic table"
INTELLIGENCE = "Intelligence and security services have no place in the cell"
MISSING_MAYOR_OR_OFFICIAL = (
    "Neither the mayor nor an official appointed by the mayor takes part: the mayor joins the cell, or an active "
    "cell coordinator is appointed as the official (circular of 22 May 2018, seed 004)."
)
MISSING_OFFICER = "No information officer with a valid security clearance"
MISSING_ALDERMAN = "Neither the alderman for social affairs nor their mandatee"
# A field's message, after the words screen readers hear before it ("Error:").
ERROR_PREFIX = r'(?:<span class="govuk-visually-hidden">[^<]*</span>\s*)?'


# --- helpers --------------------------------------------------------------------------------


def text(response) -> str:
    """The body as a reader sees it (apostrophes and ampersands unescaped)."""
    return html.unescape(response.get_data(as_text=True))


def field_message(response, field: str) -> str:
    """The message shown under ``field`` on a form page ('' when none)."""
    found = re.search(rf'id="e-{field}">{ERROR_PREFIX}([^<]*)<', response.get_data(as_text=True))
    return html.unescape(found.group(1)).strip() if found else ""


def csrf_header(client, slug: str = LEUVEN) -> dict:
    """What an API client sends: the CSRF token of its session, and English please."""
    return {"X-CSRFToken": client.get(f"/{slug}/api/session").get_json()["csrf_token"], **EN}


def api(client, method: str, path: str, json=None, slug: str = LEUVEN):
    headers = csrf_header(client, slug) if method != "GET" else EN
    return client.open(f"/{slug}/api/organisation{path}", method=method, json=json, headers=headers)


def fields_of(response) -> dict:
    assert response.status_code == 422, text(response)
    return response.get_json()["error"]["fields"]


def audit_entries(app, tenant_id: int, prefix: str = "") -> list[AuditEntry]:
    with app.app_context(), tenant_context(tenant_id):
        entries = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.seq)
        ).all()
        db.session.expunge_all()
        db.session.remove()
    return entries


def counts(app, tenant_id: int) -> tuple[int, ...]:
    """Profiles, tables, seats and inventory entries, removed ones included: a refusal adds none."""
    with app.app_context(), tenant_context(tenant_id):
        found = tuple(
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (CellProfile, Table, TableSeat, PartnerInventoryEntry)
        )
        db.session.remove()
    return found


def update_membership(app, tenant_id: int, membership_id: int, **values) -> None:
    with app.app_context(), tenant_context(tenant_id):
        membership = db.session.get(Membership, membership_id)
        for name, value in values.items():
            setattr(membership, name, value)
        db.session.commit()
        db.session.remove()


def police_organisation(app, tenant_id: int) -> int:
    with app.app_context(), tenant_context(tenant_id):
        organisation = db.session.scalar(sa.select(Organisation).where(Organisation.kind == OrganisationKind.POLICE))
        if organisation is None:
            organisation = Organisation(name="Politiezone Leuven", kind=OrganisationKind.POLICE)
            db.session.add(organisation)
            db.session.commit()
        found = organisation.id
        db.session.remove()
    return found


def set_form(client, form: str, slug: str = LEUVEN) -> None:
    response = api(client, "PATCH", "/profile", {"form": form}, slug)
    assert response.status_code == 200, text(response)


def new_table(client, kind: str, name: str, slug: str = LEUVEN, **extra) -> int:
    response = api(client, "POST", "/tables", {"kind": kind, "name": name, **extra}, slug)
    assert response.status_code == 201, text(response)
    return response.get_json()["table"]["id"]


def comparable(response, path: str) -> str:
    """The body without what differs by nature: request id, own address, CSRF token."""
    body = response.get_data(as_text=True).replace(response.headers["X-Request-ID"], "")
    body = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', body)
    return body.replace(path, "PATH").replace(quote(path, safe=""), "PATH")


# --- building the cell through the pages ----------------------------------------------------


def test_the_coordinator_builds_the_cell_and_a_partner_reads_it(app, cells, coordinator, coordinator_client, partner):
    secretary = add_member(app, cells[LEUVEN], LEUVEN, Role.SECRETARY)
    client = coordinator_client
    profile = post_form(client, f"/{LEUVEN}/organisation/profile",
                        {"form": "strategic_operational", "appointed_official_id": str(coordinator.membership_id)})
    assert profile.status_code == 302 and profile.headers["Location"] == f"/{LEUVEN}/organisation"

    created = post_form(client, f"/{LEUVEN}/organisation/tables/new", {
        "kind": "operational", "name": "Operationele tafel", "chair_membership_id": str(coordinator.membership_id),
        "secretary_membership_id": str(secretary.membership_id), "cadence": "Wekelijks zolang een dossier problematisch is",
    })
    assert created.status_code == 302
    table_path = created.headers["Location"]
    table_id = int(table_path.rsplit("/", 1)[1])
    seats = f"/{LEUVEN}/organisation/tables/{table_id}/seats"
    assert post_form(client, seats, {"membership_id": str(partner.membership_id)}, form_path=table_path).status_code == 302
    outside = post_form(client, seats, {"participant_kind": "justice_house", "participant_organisation": "Justitiehuis Leuven",
                                        "capacity": "justitieassistent"}, form_path=table_path)
    assert outside.status_code == 302

    reader = app.test_client()
    sign_in(reader, partner)
    page = reader.get(f"/{LEUVEN}/organisation", headers=EN)
    assert page.status_code == 200
    body = text(page)
    for shown in ("A strategic and an operational table", "Operationele tafel", "Operational table", "Test coordinator",
                  "Test secretary", "Test partner", "Justitiehuis Leuven", "justitieassistent", "Leuven", "24062",
                  "Wekelijks zolang een dossier problematisch is"):
        assert shown in body, shown
    assert "Manage this table" not in body and coordinator.email not in body

    actions = [entry.action for entry in audit_entries(app, cells[LEUVEN], "cell.")]
    assert actions == ["cell.profile_changed", "cell.table_created", "cell.seat_added", "cell.seat_added"]
    created_entry = audit_entries(app, cells[LEUVEN], "cell.table_created")[0]
    assert created_entry.subject == f"table:{table_id}"
    assert created_entry.details == {"kind": "operational", "chair": coordinator.membership_id,
                                     "secretary": secretary.membership_id}
    for entry in audit_entries(app, cells[LEUVEN], "cell."):  # ids only, never people or names
        assert not re.search(r"Test|Leuven|@", str(entry.details))


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("chair_role", [Role.INFORMATION_OFFICER, Role.POLICE_CHIEF, Role.PARTNER])
def test_the_police_may_not_chair_the_operational_table(app, cells, coordinator_client, chair_role):
    chair = add_member(app, cells[LEUVEN], LEUVEN, chair_role, f"chair.{chair_role.value}@example.test")
    if chair_role == Role.PARTNER:  # a partner member who sits for the police
        update_membership(app, cells[LEUVEN], chair.membership_id, organisation_id=police_organisation(app, cells[LEUVEN]))
    set_form(coordinator_client, "strategic_operational")
    before = counts(app, cells[LEUVEN])

    response = post_form(coordinator_client, f"/{LEUVEN}/organisation/tables/new",
                         {"kind": "operational", "name": "Operationele tafel", "chair_membership_id": str(chair.membership_id)},
                         headers=EN)
    assert response.status_code == 422
    assert field_message(response, "chair_membership_id").startswith(POLICE_CHAIR_OPERATIONAL)
    assert 'value="Operationele tafel"' in response.get_data(as_text=True)  # what was typed stays
    assert counts(app, cells[LEUVEN]) == before


def test_the_police_chair_no_table_of_the_cell_not_even_the_strategic_one(app, cells, coordinator_client):
    chief = add_member(app, cells[LEUVEN], LEUVEN, Role.POLICE_CHIEF)
    set_form(coordinator_client, "strategic_operational")
    response = api(coordinator_client, "POST", "/tables",
                   {"kind": "strategic", "name": "Strategische tafel", "chair_membership_id": chief.membership_id})
    assert fields_of(response) == {"chair_membership_id": [POLICE_CHAIR_STRATEGIC]}
    # The police chief does sit at the strategic table, with the information officer.
    table = new_table(coordinator_client, "strategic", "Strategische tafel")
    assert api(coordinator_client, "POST", f"/tables/{table}/seats", {"membership_id": chief.membership_id}).status_code == 201


@pytest.mark.parametrize("form, kind, participant, refusal", [
    ("strategic_operational", "operational", "public_prosecutor", PROSECUTOR),
    ("strategic_operational", "strategic", "public_prosecutor", None),
    ("integrated", "main", "public_prosecutor", PROSECUTOR),
    ("main_with_case_teams", "main", "public_prosecutor", PROSECUTOR),
    ("strategic_operational", "operational", "intelligence_service", INTELLIGENCE),
    ("strategic_operational", "strategic", "intelligence_service", INTELLIGENCE),
], ids=["prosecutor-operational", "prosecutor-strategic", "prosecutor-integrated-main", "prosecutor-main-with-teams",
        "intelligence-operational", "intelligence-strategic"])
def test_the_prosecutor_sits_at_the_strategic_table_only_and_intelligence_services_nowhere(
        app, cells, coordinator_client, form, kind, participant, refusal):
    set_form(coordinator_client, form)
    table = new_table(coordinator_client, kind, "De tafel")
    before = counts(app, cells[LEUVEN])
    table_path = f"/{LEUVEN}/organisation/tables/{table}"
    response = post_form(coordinator_client, f"{table_path}/seats",
                         {"participant_kind": participant, "participant_organisation": "Parket Leuven"},
                         form_path=table_path, headers=EN)
    if refusal is None:
        assert response.status_code == 302
        assert counts(app, cells[LEUVEN])[2] == before[2] + 1
    else:
        assert response.status_code == 422
        assert field_message(response, "participant_kind").startswith(refusal)
        assert 'value="Parket Leuven"' in response.get_data(as_text=True)
        assert counts(app, cells[LEUVEN]) == before


def test_a_table_where_the_prosecutor_sits_cannot_become_operational(app, cells, coordinator_client):
    set_form(coordinator_client, "strategic_operational")
    table = new_table(coordinator_client, "strategic", "Strategische tafel")
    seat = api(coordinator_client, "POST", f"/tables/{table}/seats",
               {"participant_kind": "public_prosecutor", "participant_organisation": "Parket Leuven", "capacity": "substituut"})
    assert seat.status_code == 201
    changed = api(coordinator_client, "PATCH", f"/tables/{table}", {"kind": "operational"})
    assert list(fields_of(changed)) == ["kind"] and fields_of(changed)["kind"][0].startswith(PROSECUTOR)
    assert api(coordinator_client, "GET", f"/tables/{table}").get_json()["table"]["kind"] == "strategic"


def test_the_tables_follow_the_form_of_the_cell(app, cells, coordinator_client):
    client = coordinator_client
    no_form = api(client, "POST", "/tables", {"kind": "operational", "name": "Operationele tafel"})
    assert fields_of(no_form) == {"kind": ["Choose the form of the cell first."]}

    set_form(client, "integrated")
    wrong_kind = api(client, "POST", "/tables", {"kind": "operational", "name": "Operationele tafel"})
    assert fields_of(wrong_kind) == {"kind": ["This kind of table does not belong to the form of the cell."]}
    new_table(client, "main", "LIVC-R Leuven")
    second = api(client, "POST", "/tables", {"kind": "main", "name": "Nog een tafel"})
    assert fields_of(second)["kind"][0].startswith("An integrated cell works at a single table")

    set_form(client, "main_with_case_teams")
    new_table(client, "main", "Tweede hoofdtafel")
    back = api(client, "PATCH", "/profile", {"form": "integrated"})
    assert fields_of(back) == {"form": ["An integrated cell works at a single table: remove the other tables first."]}
    new_table(client, "strategic", "Strategische tafel")
    split = api(client, "PATCH", "/profile", {"form": "strategic_operational"})
    assert fields_of(split)["form"][0].startswith("These tables do not belong to this form: LIVC-R Leuven, Tweede hoofdtafel.")

    zonal = api(client, "PATCH", "/profile", {"form": "zonal_with_case_teams"})
    assert fields_of(zonal)["form"][0].startswith("A zonal cell is the cell of a police zone")
    assert api(client, "GET", "/profile").get_json()["profile"]["form"] == "main_with_case_teams"


def test_a_police_zone_may_organise_a_zonal_cell_with_case_teams(app, cells):
    zone_coordinator = add_member(app, cells[HERKO], HERKO, Role.COORDINATOR)
    client = app.test_client()
    sign_in(client, zone_coordinator)
    set_form(client, "zonal_with_case_teams", HERKO)
    structure = api(client, "GET", "", slug=HERKO).get_json()
    assert structure["profile"]["form_label"] == "Zonal cell with case teams"
    assert [m["name"] for m in structure["municipalities"]] == ["Herent", "Kortenberg"]


def test_guest_experts_and_ended_members_take_no_place_at_a_table(app, cells, coordinator_client, partner):
    guest = add_member(app, cells[LEUVEN], LEUVEN, Role.GUEST_EXPERT)
    update_membership(app, cells[LEUVEN], partner.membership_id, status=MembershipStatus.ENDED)
    set_form(coordinator_client, "integrated")
    table = new_table(coordinator_client, "main", "LIVC-R Leuven")
    as_guest = api(coordinator_client, "POST", f"/tables/{table}/seats", {"membership_id": guest.membership_id})
    assert fields_of(as_guest)["membership_id"][0].startswith("A guest expert is invited for one case")
    ended = api(coordinator_client, "PATCH", f"/tables/{table}", {"secretary_membership_id": partner.membership_id})
    assert fields_of(ended) == {"secretary_membership_id": ["This person is no longer a member of the cell."]}


def test_a_seat_is_a_member_or_an_outside_participant(app, cells, coordinator, coordinator_client):
    set_form(coordinator_client, "integrated")
    table = new_table(coordinator_client, "main", "LIVC-R Leuven")
    both = api(coordinator_client, "POST", f"/tables/{table}/seats",
               {"membership_id": coordinator.membership_id, "participant_kind": "clb", "participant_organisation": "CLB"})
    assert fields_of(both) == {"membership_id": ["Choose a member of the cell or describe an outside participant, not both."]}
    neither = api(coordinator_client, "POST", f"/tables/{table}/seats", {"capacity": "waarnemer"})
    assert fields_of(neither) == {"membership_id": ["Choose a member of the cell or describe an outside participant."]}
    half = api(coordinator_client, "POST", f"/tables/{table}/seats", {"participant_kind": "clb"})
    assert fields_of(half) == {"participant_organisation": ["This field is required."]}
    assert api(coordinator_client, "POST", f"/tables/{table}/seats", {"membership_id": coordinator.membership_id}).status_code == 201
    twice = api(coordinator_client, "POST", f"/tables/{table}/seats", {"membership_id": coordinator.membership_id})
    assert fields_of(twice) == {"membership_id": ["This member already sits at this table."]}


def test_a_chair_who_later_sits_for_the_police_is_shown_as_a_problem(app, cells, coordinator_client, partner):
    set_form(coordinator_client, "strategic_operational")
    table = new_table(coordinator_client, "operational", "Operationele tafel", chair_membership_id=partner.membership_id)
    update_membership(app, cells[LEUVEN], partner.membership_id, organisation_id=police_organisation(app, cells[LEUVEN]))

    page = coordinator_client.get(f"/{LEUVEN}/organisation", headers=EN)
    assert POLICE_CHAIR_OPERATIONAL in text(page)
    problems = api(coordinator_client, "GET", f"/tables/{table}").get_json()["table"]["problems"]
    assert len(problems) == 1 and problems[0].startswith(POLICE_CHAIR_OPERATIONAL)
    # Saving the table again asks for another chair; choosing nobody puts it right.
    renamed = api(coordinator_client, "PATCH", f"/tables/{table}", {"name": "Casusoverleg"})
    assert list(fields_of(renamed)) == ["chair_membership_id"]
    assert api(coordinator_client, "PATCH", f"/tables/{table}", {"chair_membership_id": None}).status_code == 200


# --- the legal minimum ----------------------------------------------------------------------


def legal_minimum(client) -> list[str]:
    report = client.get(f"/{LEUVEN}/api/organisation/legal-minimum", headers=EN).get_json()["legal_minimum"]
    assert report["can_open_cases"] is (not report["missing"])
    return report["missing"]


def cell_can_open_cases(app, tenant_id: int) -> bool:
    with app.app_context(), tenant_context(tenant_id):
        answer = can_open_cases()
        assert answer is (not legal_minimum_problems())
        db.session.remove()
    return answer


def test_the_legal_minimum_is_reported_until_mayor_or_official_officer_and_alderman_are_present(app, cells, coordinator,
                                                                                               coordinator_client):
    client = coordinator_client
    missing = legal_minimum(client)
    assert len(missing) == 3
    assert missing[0] == MISSING_MAYOR_OR_OFFICIAL and missing[1].startswith(MISSING_OFFICER)
    assert missing[2].startswith(MISSING_ALDERMAN)
    assert not cell_can_open_cases(app, cells[LEUVEN])

    mayor = add_member(app, cells[LEUVEN], LEUVEN, Role.MAYOR, status=MembershipStatus.INVITED)
    assert MISSING_MAYOR_OR_OFFICIAL in legal_minimum(client)  # an invitation not yet accepted does not count
    update_membership(app, cells[LEUVEN], mayor.membership_id, status=MembershipStatus.ACTIVE)
    assert MISSING_MAYOR_OR_OFFICIAL not in legal_minimum(client)

    officer = add_member(app, cells[LEUVEN], LEUVEN, Role.INFORMATION_OFFICER)
    update_membership(app, cells[LEUVEN], officer.membership_id, clearance_expires_on=date.today() - timedelta(days=1))
    assert any(problem.startswith(MISSING_OFFICER) for problem in legal_minimum(client))
    update_membership(app, cells[LEUVEN], officer.membership_id, clearance_expires_on=date.today() + timedelta(days=30))
    assert len(legal_minimum(client)) == 1
    add_member(app, cells[LEUVEN], LEUVEN, Role.SOCIAL_ALDERMAN)
    assert legal_minimum(client) == []
    assert cell_can_open_cases(app, cells[LEUVEN])
    assert "the cell can open cases" in text(client.get(f"/{LEUVEN}/organisation", headers=EN))

    # Without a valid clearance, the police chief does not stand in for the information officer.
    update_membership(app, cells[LEUVEN], officer.membership_id, clearance_expires_on=None)
    add_member(app, cells[LEUVEN], LEUVEN, Role.POLICE_CHIEF)
    assert [problem for problem in legal_minimum(client) if problem.startswith(MISSING_OFFICER)]
    update_membership(app, cells[LEUVEN], officer.membership_id, clearance_expires_on=date.today() + timedelta(days=30))

    # Without the mayor, the official the mayor appointed is enough.
    update_membership(app, cells[LEUVEN], mayor.membership_id, status=MembershipStatus.ENDED)
    assert legal_minimum(client) == [MISSING_MAYOR_OR_OFFICIAL]
    partner = add_member(app, cells[LEUVEN], LEUVEN, Role.PARTNER)
    refused = api(client, "PATCH", "/profile", {"form": "integrated", "appointed_official_id": partner.membership_id})
    assert fields_of(refused) == {"appointed_official_id": [
        "The appointed official is a cell coordinator: choose a coordinator of the cell."]}
    response = api(client, "PATCH", "/profile", {"form": "integrated", "appointed_official_id": coordinator.membership_id})
    assert response.status_code == 200
    assert response.get_json()["profile"]["appointed_official"]["id"] == coordinator.membership_id
    assert legal_minimum(client) == []


# --- who may do what ------------------------------------------------------------------------


def test_a_partner_reads_the_organisation_but_every_change_is_refused_and_audited(app, cells, coordinator_client, partner):
    set_form(coordinator_client, "integrated")
    table = new_table(coordinator_client, "main", "LIVC-R Leuven")
    seat = api(coordinator_client, "POST", f"/tables/{table}/seats", {"membership_id": partner.membership_id}).get_json()["seat"]["id"]
    entry = api(coordinator_client, "POST", "/partners",
                {"organisation_name": "CAW Oost-Brabant", "kind": "caw", "participation": "works_along"}).get_json()["partner"]["id"]
    before = counts(app, cells[LEUVEN])
    client = app.test_client()
    sign_in(client, partner)

    assert client.get(f"/{LEUVEN}/organisation").status_code == 200
    structure = client.get(f"/{LEUVEN}/api/organisation", headers={"Accept-Language": "en"}).get_json()
    assert structure["tables"][0]["seats"][0]["member"]["id"] == partner.membership_id
    assert "email" not in str(structure) and "@" not in str(structure)
    assert structure["partners"][0]["participation_label"] == "Works along"

    pages = ("/organisation/profile", "/organisation/tables/new", f"/organisation/tables/{table}",
             "/organisation/partners/new", f"/organisation/partners/{entry}")
    for path in pages:
        assert client.get(f"/{LEUVEN}{path}").status_code == 403, path
    headers = csrf_header(client)
    for method, path, body in (
        ("POST", f"/organisation/tables/{table}/seats", None),
        ("POST", f"/organisation/seats/{seat}/remove", None),
        ("POST", f"/organisation/tables/{table}/remove", None),
        ("PATCH", "/api/organisation/profile", {"form": "main_with_case_teams"}),
        ("POST", "/api/organisation/tables", {"kind": "main", "name": "X"}),
        ("PATCH", f"/api/organisation/tables/{table}", {"name": "X"}),
        ("DELETE", f"/api/organisation/seats/{seat}", None),
        ("DELETE", f"/api/organisation/partners/{entry}", None),
    ):
        response = client.open(f"/{LEUVEN}{path}", method=method, json=body, headers=headers)
        assert response.status_code == 403, path
    assert counts(app, cells[LEUVEN]) == before

    denied = audit_entries(app, cells[LEUVEN], "access.denied")
    assert len(denied) == len(pages) + 8
    assert {entry.details["action"] for entry in denied} == {"cell_structure.manage"}
    assert {f"table:{table}", f"tableseat:{seat}", f"partnerinventoryentry:{entry}"} <= {e.subject for e in denied}


def test_a_guest_expert_does_not_see_the_organisation(app, cells):
    guest = add_member(app, cells[LEUVEN], LEUVEN, Role.GUEST_EXPERT)
    client = app.test_client()
    sign_in(client, guest)
    assert client.get(f"/{LEUVEN}/organisation").status_code == 403
    assert client.get(f"/{LEUVEN}/api/organisation").status_code == 403
    assert app.test_client().get(f"/{LEUVEN}/api/organisation").status_code == 401


def test_another_cells_rows_answer_exactly_like_rows_that_do_not_exist(app, cells, coordinator_client):
    stranger = add_member(app, cells[HERKO], HERKO, Role.PARTNER)
    with app.app_context(), tenant_context(cells[HERKO]):
        db.session.add(CellProfile(form=CellForm.ZONAL_WITH_CASE_TEAMS))
        table = Table(kind=TableKind.MAIN, name="Zonale LIVC-R")
        entry = PartnerInventoryEntry(organisation_name="CLB Herent", kind=PartnerKind.CLB,
                                      participation=Participation.THINKS_ALONG)
        db.session.add_all([table, entry])
        db.session.flush()
        seat = TableSeat(table_id=table.id, membership_id=stranger.membership_id)
        db.session.add(seat)
        db.session.commit()
        foreign = {"tables": table.id, "seats": seat.id, "partners": entry.id}
        db.session.remove()
    missing = 987654
    paths = ["/organisation/tables/{}", "/organisation/partners/{}", "/api/organisation/tables/{}",
             "/api/organisation/seats/{}", "/api/organisation/partners/{}"]
    for template in paths:
        kind = next(name for name in foreign if f"/{name}/" in template)
        foreign_path, absent_path = (f"/{LEUVEN}{template.format(number)}" for number in (foreign[kind], missing))
        answers = [coordinator_client.get(path, headers=EN) for path in (foreign_path, absent_path)]
        assert [answer.status_code for answer in answers] == [404, 404], template
        assert comparable(answers[0], foreign_path) == comparable(answers[1], absent_path)
    headers = csrf_header(coordinator_client)
    for method, template in (("PATCH", "/api/organisation/tables/{}"), ("DELETE", "/api/organisation/seats/{}"),
                             ("DELETE", "/api/organisation/partners/{}"), ("POST", "/api/organisation/tables/{}/seats")):
        kind = next(name for name in foreign if f"/{name}/" in template)
        for number in (foreign[kind], missing):
            assert coordinator_client.open(f"/{LEUVEN}{template.format(number)}", method=method, json={"name": "x"},
                                           headers=headers).status_code == 404
    # Nor can another cell's member be given a place.
    set_form(coordinator_client, "integrated")
    chaired = api(coordinator_client, "POST", "/tables", {"kind": "main", "name": "Tafel", "chair_membership_id": stranger.membership_id})
    assert fields_of(chaired) == {"chair_membership_id": ["Choose a member of the cell."]}
    assert counts(app, cells[HERKO]) == (1, 1, 1, 1)


# --- the JSON API ---------------------------------------------------------------------------


def test_the_api_builds_changes_and_removes_tables_and_seats(app, cells, coordinator, coordinator_client, partner):
    client = coordinator_client
    assert api(client, "GET", "/profile").get_json()["profile"] == {
        "form": None, "form_label": None, "appointed_official": None, "updated_at": None}
    set_form(client, "strategic_operational")
    created = api(client, "POST", "/tables", {"kind": "operational", "name": "Operationele tafel",
                                              "chair_membership_id": coordinator.membership_id, "cadence": "maandelijks"})
    assert created.status_code == 201
    table = created.get_json()["table"]
    assert created.headers["Location"] == f"/{LEUVEN}/api/organisation/tables/{table['id']}"
    assert table["kind_label"] == "Operational table" and table["serves_as_operational"] is True
    assert table["chair"]["display_name"] == "Test coordinator" and "email" not in table["chair"]

    seat = api(client, "POST", f"/tables/{table['id']}/seats", {"membership_id": partner.membership_id, "capacity": "CLB"})
    assert seat.status_code == 201
    seat_id = seat.get_json()["seat"]["id"]
    assert seat.headers["Location"] == f"/{LEUVEN}/api/organisation/seats/{seat_id}"
    assert api(client, "GET", f"/seats/{seat_id}").get_json()["seat"]["member"]["role"] == "partner"

    assert api(client, "DELETE", f"/seats/{seat_id}").status_code == 204
    assert api(client, "GET", f"/seats/{seat_id}").status_code == 404
    assert api(client, "GET", f"/tables/{table['id']}").get_json()["table"]["seats"] == []
    again = api(client, "POST", f"/tables/{table['id']}/seats", {"membership_id": partner.membership_id})
    assert again.status_code == 201 and again.get_json()["seat"]["id"] == seat_id  # their seat back

    changed = api(client, "PATCH", f"/tables/{table['id']}", {"name": "Casusoverleg", "cadence": None})
    assert changed.status_code == 200
    assert changed.get_json()["table"]["name"] == "Casusoverleg" and changed.get_json()["table"]["cadence"] is None
    assert api(client, "GET", "/tables").get_json()["tables"][0]["name"] == "Casusoverleg"

    assert api(client, "DELETE", f"/tables/{table['id']}").status_code == 204
    assert api(client, "GET", f"/tables/{table['id']}").status_code == 404
    assert api(client, "GET", f"/seats/{seat_id}").status_code == 404
    assert api(client, "GET", "/tables").get_json()["tables"] == []
    actions = [entry.action for entry in audit_entries(app, cells[LEUVEN], "cell.")]
    assert actions == ["cell.profile_changed", "cell.table_created", "cell.seat_added", "cell.seat_removed",
                       "cell.seat_added", "cell.table_changed", "cell.table_removed"]
    assert audit_entries(app, cells[LEUVEN], "cell.table_changed")[0].details["fields"] == ["name", "cadence"]


def test_the_api_answers_bad_bodies_field_by_field_and_saves_nothing(app, cells, coordinator_client):
    set_form(coordinator_client, "strategic_operational")
    before = counts(app, cells[LEUVEN])
    bad = api(coordinator_client, "POST", "/tables", {"kind": "round", "name": "", "chair_membership_id": "x",
                                                      "cadence": "c" * 201})
    assert fields_of(bad) == {
        "kind": ["Choose one of the kinds of table."],
        "name": ["Between 1 and 120 characters."],
        "chair_membership_id": ["Choose a member of the cell."],
        "cadence": ["At most 200 characters."],
    }
    missing = api(coordinator_client, "POST", "/partners", {})
    assert fields_of(missing) == {name: ["This field is required."] for name in ("organisation_name", "kind", "participation")}
    form = api(coordinator_client, "PATCH", "/profile", {"form": "federal"})
    assert fields_of(form) == {"form": ["Choose one of the forms of a cell."]}
    blank = api(coordinator_client, "POST", "/tables", {"kind": "operational", "name": "   "})
    assert fields_of(blank) == {"name": ["This field is required."]}
    assert counts(app, cells[LEUVEN]) == before


def test_changes_without_the_csrf_token_are_refused_and_change_nothing(app, cells, coordinator_client):
    before = counts(app, cells[LEUVEN])
    api_call = coordinator_client.patch(f"/{LEUVEN}/api/organisation/profile", json={"form": "integrated"}, headers=EN)
    assert api_call.status_code == 400 and api_call.get_json()["error"]["status"] == 400
    form = coordinator_client.post(f"/{LEUVEN}/organisation/profile", data={"form": "integrated"}, headers=EN)
    assert form.status_code == 400
    assert counts(app, cells[LEUVEN]) == before
    assert len(audit_entries(app, cells[LEUVEN], "access.csrf_refused")) == 2


# --- forms ----------------------------------------------------------------------------------


def test_forms_keep_what_was_typed_and_show_each_fields_message(app, cells, coordinator_client):
    client = coordinator_client
    no_form = post_form(client, f"/{LEUVEN}/organisation/profile", {"form": "federal"}, headers=EN)
    assert no_form.status_code == 422 and field_message(no_form, "form") == "Choose one of the forms of a cell."

    set_form(client, "strategic_operational")
    long_name = "T" * 121
    table = post_form(client, f"/{LEUVEN}/organisation/tables/new",
                      {"kind": "main", "name": long_name, "cadence": "tweewekelijks"}, headers=EN)
    assert table.status_code == 422 and field_message(table, "name") == "Between 1 and 120 characters."
    assert f'value="{long_name}"' in table.get_data(as_text=True) and 'value="tweewekelijks"' in table.get_data(as_text=True)
    # Once the fields are well formed, the cell's rules answer, still keeping what was typed.
    table = post_form(client, f"/{LEUVEN}/organisation/tables/new",
                      {"kind": "main", "name": "Hoofdtafel", "cadence": "tweewekelijks"}, headers=EN)
    assert table.status_code == 422
    assert field_message(table, "kind") == "This kind of table does not belong to the form of the cell."
    assert '<option value="main"' not in table.get_data(as_text=True)  # not offered: the form has no main table
    assert 'value="Hoofdtafel"' in table.get_data(as_text=True)

    partner = post_form(client, f"/{LEUVEN}/organisation/partners/new", {
        "organisation_name": "Staatsveiligheid", "kind": "intelligence_service", "participation": "kept_informed",
        "notes": "Via de LTF\nnooit rechtstreeks"}, headers=EN)
    assert partner.status_code == 422
    assert field_message(partner, "kind").startswith(INTELLIGENCE)
    assert 'value="Staatsveiligheid"' in partner.get_data(as_text=True)
    assert "Via de LTF\nnooit rechtstreeks</textarea>" in partner.get_data(as_text=True)
    assert counts(app, cells[LEUVEN]) == (1, 0, 0, 0)


def test_the_partner_inventory_through_the_pages(app, cells, coordinator_client):
    client = coordinator_client
    new = f"/{LEUVEN}/organisation/partners/new"
    added = post_form(client, new, {"organisation_name": "  CLB   Leuven ", "kind": "clb", "participation": "works_along",
                                    "contact_role": "directeur"})
    assert added.status_code == 302
    twice = post_form(client, new, {"organisation_name": "clb leuven", "kind": "school", "participation": "kept_informed"},
                      headers=EN)
    assert twice.status_code == 422 and field_message(twice, "organisation_name") == "The inventory already lists this organisation."
    post_form(client, new, {"organisation_name": "Parket Leuven", "kind": "public_prosecutor", "participation": "kept_informed"})

    listed = api(client, "GET", "/partners").get_json()["partners"]
    assert [(p["organisation_name"], p["participation"]) for p in listed] == [
        ("CLB Leuven", "works_along"), ("Parket Leuven", "kept_informed")]
    clb = listed[0]["id"]
    path = f"/{LEUVEN}/organisation/partners/{clb}"
    edited = post_form(client, path, {"organisation_name": "CLB Leuven", "kind": "clb", "participation": "thinks_along"})
    assert edited.status_code == 302
    entry = api(client, "GET", f"/partners/{clb}").get_json()["partner"]
    assert entry["participation_label"] == "Thinks along" and entry["contact_role"] is None  # cleared

    unconfirmed = post_form(client, f"{path}/remove", {}, form_path=path, headers=EN)
    assert unconfirmed.status_code == 422 and field_message(unconfirmed, "confirm") == "Tick the box to confirm."
    assert post_form(client, f"{path}/remove", {"confirm": "yes"}, form_path=path).status_code == 302
    assert "CLB Leuven" not in text(client.get(f"/{LEUVEN}/organisation"))
    assert client.get(path).status_code == 404
    actions = [entry.action for entry in audit_entries(app, cells[LEUVEN], "cell.partner")]
    assert actions == ["cell.partner_added", "cell.partner_added", "cell.partner_changed", "cell.partner_removed"]


def test_seats_and_tables_are_removed_through_the_pages(app, cells, coordinator, coordinator_client):
    set_form(coordinator_client, "integrated")
    table = new_table(coordinator_client, "main", "LIVC-R Leuven")
    seat = api(coordinator_client, "POST", f"/tables/{table}/seats", {"membership_id": coordinator.membership_id}).get_json()["seat"]["id"]
    path = f"/{LEUVEN}/organisation/tables/{table}"
    assert post_form(coordinator_client, f"/{LEUVEN}/organisation/seats/{seat}/remove", {}, form_path=path).status_code == 302
    assert "Nobody sits at this table yet." in text(coordinator_client.get(path, headers=EN))

    unconfirmed = post_form(coordinator_client, f"{path}/remove", {}, form_path=path, headers=EN)
    assert unconfirmed.status_code == 422 and field_message(unconfirmed, "confirm") == "Tick the box to confirm."
    assert post_form(coordinator_client, f"{path}/remove", {"confirm": "yes"}, form_path=path).status_code == 302
    assert coordinator_client.get(path).status_code == 404
    assert "The cell has no tables yet." in text(coordinator_client.get(f"/{LEUVEN}/organisation", headers=EN))
    # With the table gone, the integrated cell may have its one table again.
    new_table(coordinator_client, "main", "LIVC-R Leuven")


def test_every_kind_of_member_organisation_is_a_partner_kind():
    assert {kind.value for kind in OrganisationKind} <= {kind.value for kind in PartnerKind}
