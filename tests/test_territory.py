"""The territory of a cell (seed 004: the cell follows the residents of its territory; issue 17):
where the person of a signal and a case lives, the referral of someone living outside to the
competent cell, moves within the territory, the case list by municipality, and a mayor for each
municipality of an intermunicipal or zonal cell.

demo-leuven covers Leuven (24062); the zonal demo-herko covers Herent (24038) and Kortenberg
(24055). Pages and the JSON API are driven over HTTP by members with a server-side session.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa

from auth_helpers import Member, add_member, give_session, post_form
from case_helpers import (
    HERKO,
    LEUVEN,
    OBSERVATION,
    confirm_latest,
    membership,
    open_case,
    ready_cell,
    signal_values,
)
from livc.app.demo import demo_logins, seed_demo
from livc.platform.accounts import find_account
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.tenants.cases.models import Case
from livc.tenants.cell.models import CellForm, CellProfile
from livc.tenants.cell.operations import can_open_cases, legal_minimum_problems
from livc.tenants.members.models import Membership, MembershipStatus
from livc.tenants.members.operations import accept_undertaking
from livc.tenants.signals.models import Signal
from livc.tenants.signals.operations import submit_signal

EN = {"Accept-Language": "en"}
LEUVEN_NIS, HERENT, KORTENBERG, GENT = "24062", "24038", "24055", "44021"
LEUVEN_CELL = "DEMO LIVC-R Leuven"


@pytest.fixture
def herko(app, cells):
    return ready_cell(app, cells[HERKO], HERKO)


@pytest.fixture
def leuven(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


class Api:
    """A member's JSON client, with the CSRF token of their session."""

    def __init__(self, app, member):
        self.slug = member.tenant_slug
        self.client = client_for(app, member)
        token = self.client.get(f"/{self.slug}/api/session").get_json()["csrf_token"]
        self.headers = {"X-CSRFToken": token, **EN}

    def get(self, path: str):
        return self.client.get(f"/{self.slug}/api{path}", headers=EN)

    def send(self, method: str, path: str, body: dict):
        return self.client.open(f"/{self.slug}/api{path}", method=method, json=body, headers=self.headers)


def intake_form(**overrides) -> dict:
    return {"observation": OBSERVATION, "internal_assessment": "done", "urgency": "soon", **overrides}


def weighing_form(cell, **overrides) -> dict:
    return {
        "flag": "red",
        "fact_propaganda": "yes",
        "fact_propaganda_description": "Shared an attack video in the class group chat.",
        "decision": "open_case",
        "target_group": "other_extremism",
        "follow_up_kind": "social",
        "team_ids": [str(cell.partner.membership_id)],
        **overrides,
    }


def weighing_body(cell, **overrides) -> dict:
    return {
        "flag": "red", "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social",
        "facts": [{"fact": "propaganda", "description": "Shared an attack video in the class group chat."}],
        "team_ids": [cell.partner.membership_id], **overrides,
    }


def new_signal(app, cell, **values) -> int:
    """A signal from the cell's partner (the person named, where they live as ``values`` say)."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(cell.partner), signal_values(**values))
        signal_id = signal.id
        db.session.commit()
        db.session.remove()
    return signal_id


def case_residence(app, cell, case_id: int) -> str | None:
    with app.app_context(), tenant_context(cell.tenant_id):
        residence = db.session.get(Case, case_id).residence_nis
        db.session.remove()
    return residence


def entries(app, cell, action: str) -> list[AuditEntry]:
    with app.app_context(), tenant_context(cell.tenant_id):
        found = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()
        db.session.remove()
    return found


# --- intake ----------------------------------------------------------------------------------


def test_a_partner_records_where_the_person_lives_among_the_cells_municipalities(app, herko):
    client = client_for(app, herko.partner)
    form = text(client.get(f"/{HERKO}/signals/new", headers=EN))
    for choice in ("Herent", "Kortenberg", "Outside the cell's territory", "Not known yet"):
        assert choice in form
    assert 'value="24038" checked' not in form and 'value="24055" checked' not in form  # two: nothing chosen for them

    response = post_form(client, f"/{HERKO}/signals/new", intake_form(residence=KORTENBERG), headers=EN)
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"], headers=EN))
    assert "Municipality of residence" in page and "Kortenberg" in page
    assert "outside the territory" not in page


def test_a_cell_of_one_municipality_preselects_it_and_a_signal_may_say_not_known_yet(app, leuven):
    client = client_for(app, leuven.partner)
    assert 'value="24062" checked' in text(client.get(f"/{LEUVEN}/signals/new", headers=EN))
    response = post_form(client, f"/{LEUVEN}/signals/new", intake_form(residence="unknown"), headers=EN)
    assert response.status_code == 302
    assert "Not known yet" in text(client.get(response.headers["Location"], headers=EN))


def test_a_person_living_outside_the_territory_is_referred_to_the_competent_cell(app, herko):
    client = client_for(app, herko.partner)
    # Typed as the French name: the registry knows every name of a municipality.
    response = post_form(client, f"/{HERKO}/signals/new",
                         intake_form(residence="outside", residence_outside="louvain"), headers=EN)
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"], headers=EN))
    assert "Leuven" in page and "outside the territory" in page
    assert f"Competent cell on the platform: {LEUVEN_CELL}" in page

    signal_id = int(response.headers["Location"].rsplit("/", 1)[1])
    answer = Api(app, herko.coordinator).get(f"/signals/{signal_id}").get_json()["signal"]["residence"]
    assert answer == {"residence_nis": LEUVEN_NIS, "residence_name": "Leuven", "in_territory": False,
                      "competent_cell": {"name": LEUVEN_CELL, "slug": LEUVEN}}


def test_where_no_cell_on_the_platform_covers_the_municipality_the_signal_page_says_so(app, herko):
    client = client_for(app, herko.partner)
    response = post_form(client, f"/{HERKO}/signals/new", intake_form(residence="outside", residence_outside=GENT),
                         headers=EN)
    page = text(client.get(response.headers["Location"], headers=EN))
    assert "No cell on the platform covers Gent" in page
    assert "Competent cell" not in page


def test_an_unknown_municipality_is_refused_and_what_was_typed_is_kept(app, herko):
    client = client_for(app, herko.partner)
    refused = post_form(client, f"/{HERKO}/signals/new",
                        intake_form(residence="outside", residence_outside="Atlantis"), headers=EN)
    assert refused.status_code == 422
    page = text(refused)
    assert "No Belgian municipality has this name or NIS code" in page
    assert 'value="Atlantis"' in page and 'value="outside" checked' in page and OBSERVATION in page

    empty = post_form(client, f"/{HERKO}/signals/new", intake_form(residence="outside"), headers=EN)
    assert empty.status_code == 422
    assert "Type the municipality where the person lives" in text(empty)
    with app.app_context(), tenant_context(herko.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count(Signal.id))) == 0
        db.session.remove()


def test_the_api_takes_the_residence_as_a_nis_code_and_refuses_an_unknown_one(app, herko):
    api = Api(app, herko.partner)
    body = {"observation": OBSERVATION, "internal_assessment": "done", "urgency": "normal"}
    created = api.send("POST", "/signals", {**body, "residence": HERENT})
    assert created.status_code == 201
    assert created.get_json()["signal"]["residence"]["residence_name"] == "Herent"
    assert created.get_json()["signal"]["residence"]["in_territory"] is True
    refused = api.send("POST", "/signals", {**body, "residence": "99999"})
    assert refused.status_code == 422 and set(refused.get_json()["error"]["fields"]) == {"residence"}
    anonymous = api.send("POST", "/signals", body)
    assert anonymous.status_code == 201 and anonymous.get_json()["signal"]["residence"]["residence_nis"] is None


# --- weighing --------------------------------------------------------------------------------


def test_opening_a_case_for_someone_living_outside_is_refused_with_the_competent_cell(app, herko):
    signal_id = new_signal(app, herko, residence=LEUVEN_NIS)
    client = client_for(app, herko.coordinator)
    path = f"/{HERKO}/signals/{signal_id}/weigh"
    weigh_page = text(client.get(path, headers=EN))
    assert f"Competent cell on the platform: {LEUVEN_CELL}" in weigh_page

    refused = post_form(client, path, weighing_form(herko), headers=EN)
    assert refused.status_code == 422
    page = text(refused)
    assert f"outside the cell's territory: refer the signal to the competent cell, {LEUVEN_CELL}" in page
    assert "Shared an attack video in the class group chat." in page  # what was typed is kept

    # Adding it to a case is refused the same way; referring it is the way.
    case_id, _code = open_case(app, herko)
    api = Api(app, herko.coordinator)
    added = api.send("POST", f"/signals/{signal_id}/weighing",
                     weighing_body(herko, decision="add_to_case", case_id=case_id))
    assert added.status_code == 422 and "residence" in added.get_json()["error"]["fields"]
    referred = api.send("POST", f"/signals/{signal_id}/weighing",
                        {"flag": "yellow", "decision": "refer", "referred_to": LEUVEN_CELL})
    assert referred.status_code == 202


def test_in_a_cell_of_several_municipalities_a_case_needs_the_municipality_and_takes_it(app, herko):
    signal_id = new_signal(app, herko)  # where the person lives is not known yet
    client = client_for(app, herko.coordinator)
    path = f"/{HERKO}/signals/{signal_id}/weigh"
    refused = post_form(client, path, weighing_form(herko), headers=EN)
    assert refused.status_code == 422
    assert "Choose the municipality of residence among the cell's" in text(refused)

    proposed = post_form(client, path, weighing_form(herko, residence=KORTENBERG), headers=EN)
    assert proposed.status_code == 302
    confirm_latest(app, herko, herko.partner)
    with app.app_context(), tenant_context(herko.tenant_id):
        signal = db.session.get(Signal, signal_id)
        assert signal.residence_nis == KORTENBERG  # the weighing set it
        assert db.session.get(Case, signal.case_id).residence_nis == KORTENBERG
        db.session.remove()


def test_the_case_takes_the_signals_residence_and_the_weighing_may_correct_it(app, herko, leuven):
    api = Api(app, herko.coordinator)
    from_signal = new_signal(app, herko, residence=HERENT)
    assert api.send("POST", f"/signals/{from_signal}/weighing", weighing_body(herko)).status_code == 202
    confirm_latest(app, herko, herko.partner)
    corrected = new_signal(app, herko, residence=LEUVEN_NIS)  # the intake had it wrong
    assert api.send("POST", f"/signals/{corrected}/weighing",
                    weighing_body(herko, residence=KORTENBERG)).status_code == 202
    confirm_latest(app, herko, herko.partner)
    with app.app_context(), tenant_context(herko.tenant_id):
        residences = {signal.id: (signal.residence_nis, db.session.get(Case, signal.case_id).residence_nis)
                      for signal in db.session.scalars(sa.select(Signal))}
        db.session.remove()
    assert residences == {from_signal: (HERENT, HERENT), corrected: (KORTENBERG, KORTENBERG)}

    # A cell of one municipality: a case whose signal did not say takes that one.
    case_id, _code = open_case(app, leuven)
    assert case_residence(app, leuven, case_id) == LEUVEN_NIS


# --- a move within the territory -------------------------------------------------------------


def test_the_coordinator_corrects_the_municipality_of_a_case_on_its_page(app, herko):
    case_id, code = open_case(app, herko)
    assert case_residence(app, herko, case_id) == HERENT
    client = client_for(app, herko.coordinator)
    page_path = f"/{HERKO}/cases/{case_id}"
    assert "The person moved within the territory" in text(client.get(page_path, headers=EN))

    moved = post_form(client, f"{page_path}/residence", {"residence_nis": KORTENBERG}, form_path=page_path, headers=EN)
    assert moved.status_code == 302
    assert "Kortenberg" in text(client.get(page_path, headers=EN))
    [entry] = entries(app, herko, "case.residence_changed")
    assert entry.subject == f"case:{code}" and entry.details == {"from": HERENT, "to": KORTENBERG}

    # Out of the territory is a closure ("moved away"), not a correction.
    refused = post_form(client, f"{page_path}/residence", {"residence_nis": LEUVEN_NIS}, form_path=page_path,
                        headers=EN)
    assert refused.status_code == 422
    assert 'close the case with the reason "moved away"' in text(refused)
    assert case_residence(app, herko, case_id) == KORTENBERG


def test_the_api_moves_a_case_within_the_territory_for_the_coordinator_only(app, herko):
    case_id, _code = open_case(app, herko)
    api = Api(app, herko.coordinator)
    moved = api.send("PUT", f"/cases/{case_id}/residence", {"residence_nis": KORTENBERG})
    assert moved.status_code == 200 and moved.get_json()["changed"] is True
    assert moved.get_json()["case"]["residence_nis"] == KORTENBERG
    assert moved.get_json()["case"]["residence_name"] == "Kortenberg"
    again = api.send("PUT", f"/cases/{case_id}/residence", {"residence_nis": KORTENBERG})
    assert again.get_json()["changed"] is False
    outside = api.send("PUT", f"/cases/{case_id}/residence", {"residence_nis": GENT})
    assert outside.status_code == 422 and set(outside.get_json()["error"]["fields"]) == {"residence_nis"}
    partner = Api(app, herko.partner).send("PUT", f"/cases/{case_id}/residence", {"residence_nis": HERENT})
    assert partner.status_code == 403
    assert case_residence(app, herko, case_id) == KORTENBERG
    assert len(entries(app, herko, "case.residence_changed")) == 1


# --- the case list by municipality -------------------------------------------------------------


def test_the_case_list_shows_and_filters_by_municipality(app, herko):
    herent_id, herent_code = open_case(app, herko)
    kortenberg_id, kortenberg_code = open_case(app, herko, residence=KORTENBERG)
    client = client_for(app, herko.coordinator)
    listed = text(client.get(f"/{HERKO}/cases", headers=EN))
    assert "Municipality" in listed and herent_code in listed and kortenberg_code in listed
    filtered = text(client.get(f"/{HERKO}/cases?municipality={KORTENBERG}", headers=EN))
    assert kortenberg_code in filtered and herent_code not in filtered

    api = Api(app, herko.coordinator)
    answer = api.get(f"/cases?municipality={HERENT}")
    assert [case["id"] for case in answer.get_json()["cases"]] == [herent_id]
    assert {case["residence_nis"] for case in api.get("/cases").get_json()["cases"]} == {HERENT, KORTENBERG}
    assert kortenberg_id != herent_id


def test_an_unknown_municipality_filter_is_answered_with_a_message_not_an_error(app, herko, leuven):
    open_case(app, herko)
    api = Api(app, herko.coordinator)
    for wrong in (LEUVEN_NIS, "abc"):
        answer = api.get(f"/cases?municipality={wrong}")
        assert answer.status_code == 400
        assert "Choose one of the cell's municipalities" in answer.get_json()["error"]["message"]
    page = client_for(app, herko.coordinator).get(f"/{HERKO}/cases?municipality={LEUVEN_NIS}", headers=EN)
    assert page.status_code == 400
    assert "Choose one of the cell's municipalities" in text(page)
    # A cell of one municipality shows no municipality column, and filters the same way.
    single = text(client_for(app, leuven.coordinator).get(f"/{LEUVEN}/cases", headers=EN))
    assert "case-municipality" not in single


# --- a mayor for each municipality -----------------------------------------------------------


def test_in_a_cell_of_several_municipalities_a_mayor_stands_for_one_and_each_has_one(app, herko):
    client = client_for(app, herko.coordinator)
    invite = f"/{HERKO}/members/invite"
    form = text(client.get(invite, headers=EN))
    assert "Mayor of" in form and "Kortenberg" in form
    with app.app_context(), tenant_context(herko.tenant_id):
        organisation_id = membership(herko.mayor).organisation_id
        db.session.remove()
    data = {"email": "new.mayor@example.test", "role": "mayor", "organisation_id": str(organisation_id)}

    missing = post_form(client, invite, data, headers=EN)
    assert missing.status_code == 422 and "choose the one this mayor stands for" in text(missing)
    taken = post_form(client, invite, {**data, "municipality_nis": HERENT}, headers=EN)
    assert taken.status_code == 422 and "Herent has a mayor in the cell already" in text(taken)
    assert 'value="new.mayor@example.test"' in text(taken)

    # The mayor of Kortenberg leaves; a new one is invited for Kortenberg and listed as such. (Without
    # an official appointed by the mayors, the mayor of each municipality is needed: seed 004.)
    with app.test_request_context(headers=EN), tenant_context(herko.tenant_id):
        db.session.scalar(sa.select(CellProfile)).appointed_official_id = None
        kortenberg = db.session.scalar(sa.select(Membership).where(Membership.municipality_nis == KORTENBERG))
        kortenberg.status = MembershipStatus.ENDED
        db.session.commit()
        assert not can_open_cases()
        assert any("Kortenberg" in str(problem) for problem in legal_minimum_problems())
        db.session.remove()
    invited = post_form(client, invite, {**data, "municipality_nis": KORTENBERG}, headers=EN)
    assert invited.status_code == 302
    listed = text(client.get(f"/{HERKO}/members", headers=EN))
    assert "Mayor of" in listed and "Kortenberg" in listed
    # Invited is not there yet: the cell still misses the mayor of Kortenberg.
    with app.app_context(), tenant_context(herko.tenant_id):
        assert not can_open_cases()
        db.session.remove()


def test_the_members_api_keeps_one_mayor_per_municipality(app, herko, leuven):
    api = Api(app, herko.coordinator)
    mayor = api.get(f"/members/{herko.mayor.membership_id}").get_json()["member"]
    assert (mayor["municipality_nis"], mayor["municipality"]) == (HERENT, "Herent")
    taken = api.send("PATCH", f"/members/{herko.mayor.membership_id}", {"municipality_nis": KORTENBERG})
    assert taken.status_code == 422 and set(taken.get_json()["error"]["fields"]) == {"municipality_nis"}
    partner = api.send("PATCH", f"/members/{herko.partner.membership_id}", {"municipality_nis": HERENT})
    assert partner.status_code == 422  # only a mayor stands for a municipality

    # A cell of one municipality: no municipality to choose, none kept.
    single = Api(app, leuven.coordinator)
    organisation_id = single.get(f"/members/{leuven.mayor.membership_id}").get_json()["member"]["organisation"]["id"]
    body = {"email": "second.mayor@example.test", "role": "mayor", "organisation_id": organisation_id}
    refused = single.send("POST", "/members", {**body, "municipality_nis": LEUVEN_NIS})
    assert refused.status_code == 422 and set(refused.get_json()["error"]["fields"]) == {"municipality_nis"}
    created = single.send("POST", "/members", body)
    assert created.status_code == 201 and created.get_json()["member"]["municipality_nis"] is None
    assert "Mayor of" not in text(client_for(app, leuven.coordinator).get(f"/{LEUVEN}/members/invite", headers=EN))


def test_the_legal_minimum_of_a_cell_of_several_municipalities_wants_the_mayor_of_each(app, cells):
    herko_id = cells[HERKO]
    coordinator = add_member(app, herko_id, HERKO, Role.COORDINATOR)
    add_member(app, herko_id, HERKO, Role.INFORMATION_OFFICER)
    mayor = add_member(app, herko_id, HERKO, Role.MAYOR)
    add_member(app, herko_id, HERKO, Role.SOCIAL_ALDERMAN)
    seed = " (circular of 22 May 2018, seed 004)."
    with app.test_request_context(headers=EN), tenant_context(herko_id):
        db.session.add(CellProfile(form=CellForm.INTEGRATED))
        db.session.flush()
        # Without the official the mayors appointed: a mayor who stands for no municipality counts for none.
        assert [str(p) for p in legal_minimum_problems()] == [
            "No official appointed by the mayors, and no active member stands as mayor for: Herent, Kortenberg" + seed]
        db.session.get(Membership, mayor.membership_id).municipality_nis = HERENT
        assert [str(p) for p in legal_minimum_problems()] == [
            "No official appointed by the mayors, and no active member stands as mayor for: Kortenberg" + seed]
        # The appointed official stands for the mayors.
        db.session.scalar(sa.select(CellProfile)).appointed_official_id = coordinator.membership_id
        assert legal_minimum_problems() == []
        db.session.rollback()
        db.session.remove()


def test_opened_cases_before_the_territory_are_listed_without_a_municipality(app, herko):
    case_id, code = open_case(app, herko)
    with app.app_context(), tenant_context(herko.tenant_id):
        db.session.get(Case, case_id).residence_nis = None
        db.session.commit()
        db.session.remove()
    page = text(client_for(app, herko.coordinator).get(f"/{HERKO}/cases/{case_id}", headers=EN))
    assert "Not recorded" in page
    assert Api(app, herko.coordinator).get("/cases").get_json()["cases"][0]["residence_nis"] is None
    assert code in text(client_for(app, herko.coordinator).get(f"/{HERKO}/cases", headers=EN))



# --- the demo ----------------------------------------------------------------------------------


def test_the_demo_zonal_cell_has_a_mayor_per_municipality_and_its_people_live_somewhere(app):
    with app.app_context():
        cells = {tenant.slug: tenant.id for tenant in seed_demo(with_members=True)}
        logins = {(login.tenant_slug, login.email) for login in demo_logins()}
        assert ("demo-herko", "mayor-kortenberg.herko@demo.livc.example") in logins
        assert find_account("mayor-kortenberg.herko@demo.livc.example").display_name == "Mia Burgemeester (DEMO)"
        with tenant_context(cells[HERKO]):
            mayors = db.session.scalars(sa.select(Membership).where(Membership.role == Role.MAYOR)).all()
            assert sorted(mayor.municipality_nis for mayor in mayors) == [HERENT, KORTENBERG]
            assert can_open_cases()
            herko_signals = db.session.scalars(sa.select(Signal)).all()
            herko_cases = db.session.scalars(sa.select(Case)).all()
        with tenant_context(cells[LEUVEN]):
            leuven_places = {s.residence_nis for s in db.session.scalars(sa.select(Signal))}
            leuven_places |= {c.residence_nis for c in db.session.scalars(sa.select(Case))}
        db.session.remove()
    assert leuven_places == {LEUVEN_NIS}
    assert {case.residence_nis for case in herko_cases} == {HERENT, KORTENBERG}
    assert None not in {signal.residence_nis for signal in herko_signals}
    [outside] = [signal for signal in herko_signals if signal.residence_nis == LEUVEN_NIS]
    assert outside.case_id is None  # waiting to be referred

    coordinator = client_for(app, _demo_member(app, cells[HERKO], "coordinator.herko@demo.livc.example"))
    page = text(coordinator.get(f"/{HERKO}/signals/{outside.id}", headers=EN))
    assert f"Competent cell on the platform: {LEUVEN_CELL}" in page


def _demo_member(app, tenant_id: int, email: str):
    """A demo member as the helpers know members, who accepted the secrecy undertaking."""
    with app.app_context():
        account = find_account(email)
        with tenant_context(tenant_id):
            seat = db.session.scalar(sa.select(Membership).where(Membership.account_id == account.id))
            accept_undertaking(seat)
            member = Member(email, "", account.totp_secret, HERKO, tenant_id, account.id, seat.id, seat.role)
            db.session.commit()
        db.session.remove()
    return member
