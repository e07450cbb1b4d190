"""Friction a coordinator met on the cell's own pages (issue 16), each put right and kept so.

A form offers only what its rules accept (its default is always one of them); a page says
plainly what is overdue; a mistyped national number is called a typing error; and every error
summary links to a field that exists on the page. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import add_member, give_session, post_form
from case_helpers import IDENTITY, LEUVEN, membership, ready_cell, signal_values
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.cell.models import CellProfile, PartnerInventoryEntry
from livc.tenants.signals.models import SignalStatus
from livc.tenants.signals.operations import case_settings, submit_signal
from livc.tenants.signals.schemas import national_number_valid

EN = {"Accept-Language": "en"}
BASE = f"/{LEUVEN}"


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN, table=False)  # the tests add their own tables


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def options(page: str, name: str) -> list[str]:
    """The values a select offers, in order."""
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    assert select, f"no select {name}"
    return [value for value in re.findall(r'<option value="([^"]*)"', select.group(1)) if value]


def set_form(app, cell, form: str) -> None:
    with app.app_context(), tenant_context(cell.tenant_id):
        db.session.scalar(sa.select(CellProfile)).form = form
        db.session.commit()
        db.session.remove()


def summary_targets_exist(response) -> list[str]:
    """Every link of the error summary, checked against the page's ids: those that lead nowhere."""
    page = response.get_data(as_text=True)
    summary = re.search(r'class="govuk-error-summary.*?</ul>', page, re.S)
    assert summary, "the page shows no error summary"
    targets = re.findall(r'href="#([^"]+)"', summary.group(0))
    assert targets, "the error summary links to no field"
    return [target for target in targets if f'id="{target}"' not in page]


# --- 1. a new table's default kind is one the cell's form has ------------------------------


@pytest.mark.parametrize("form, first", [
    ("integrated", "main"),
    ("strategic_operational", "operational"),
    ("main_with_case_teams", "main"),
])
def test_adding_a_table_with_the_forms_own_default_kind_works(app, cell, form, first):
    set_form(app, cell, form)
    coordinator = client_for(app, cell.coordinator)
    page = text(coordinator.get(f"{BASE}/organisation/tables/new", headers=EN))
    offered = options(page, "kind")
    assert offered[0] == first  # the select's default: the working table, the one a cell must have
    added = post_form(coordinator, f"{BASE}/organisation/tables/new", {"kind": offered[0], "name": "De tafel"}, headers=EN)
    assert added.status_code == 302, text(added)


def test_an_integrated_cell_is_offered_its_one_table_and_then_no_other(app, cell):
    coordinator = client_for(app, cell.coordinator)
    assert options(text(coordinator.get(f"{BASE}/organisation/tables/new", headers=EN)), "kind") == ["main"]
    assert post_form(coordinator, f"{BASE}/organisation/tables/new", {"kind": "main", "name": "LIVC-R"}).status_code == 302

    structure = text(coordinator.get(f"{BASE}/organisation", headers=EN))
    assert "An integrated cell works at a single table, and the cell has it already." in structure
    assert f'href="{BASE}/organisation/tables/new"' not in structure
    again = text(coordinator.get(f"{BASE}/organisation/tables/new", headers=EN))
    assert "An integrated cell works at a single table, and the cell has it already." in again
    assert 'name="kind"' not in again  # no form that could only be refused


def test_the_second_table_of_a_two_table_cell_defaults_to_the_one_still_missing(app, cell):
    set_form(app, cell, "strategic_operational")
    coordinator = client_for(app, cell.coordinator)
    post_form(coordinator, f"{BASE}/organisation/tables/new", {"kind": "operational", "name": "Operationele tafel"})
    assert options(text(coordinator.get(f"{BASE}/organisation/tables/new", headers=EN)), "kind") == ["strategic", "operational"]


# --- 2. no seat is offered that the rules refuse ----------------------------------------------


def test_no_seat_is_offered_to_the_intelligence_services_and_the_prosecutor_only_at_the_strategic_table(app, cell):
    set_form(app, cell, "strategic_operational")
    coordinator = client_for(app, cell.coordinator)
    tables = {}
    for kind in ("operational", "strategic"):
        added = post_form(coordinator, f"{BASE}/organisation/tables/new", {"kind": kind, "name": kind})
        tables[kind] = added.headers["Location"]

    operational = options(text(coordinator.get(tables["operational"], headers=EN)), "participant_kind")
    strategic = options(text(coordinator.get(tables["strategic"], headers=EN)), "participant_kind")
    assert "intelligence_service" not in operational and "intelligence_service" not in strategic
    assert "public_prosecutor" not in operational and "public_prosecutor" in strategic
    assert "clb" in operational and "justice_house" in strategic

    inventory = options(text(coordinator.get(f"{BASE}/organisation/partners/new", headers=EN)), "kind")
    assert "intelligence_service" not in inventory and "public_prosecutor" in inventory


def test_a_table_where_the_prosecutor_sits_is_not_offered_the_operational_kind(app, cell):
    set_form(app, cell, "strategic_operational")
    coordinator = client_for(app, cell.coordinator)
    table = post_form(coordinator, f"{BASE}/organisation/tables/new", {"kind": "strategic", "name": "Strategisch"}).headers["Location"]
    seated = post_form(coordinator, f"{table}/seats", {"participant_kind": "public_prosecutor", "participant_organisation": "Parket"},
                       form_path=table)
    assert seated.status_code == 302
    assert options(text(coordinator.get(table, headers=EN)), "kind") == ["strategic"]


# --- 3 and 4. the retention page: a noun for its column, and what is overdue first -------------


def decided_signal(app, cell, decided_days_ago: int) -> str:
    """A signal referred elsewhere ``decided_days_ago`` days ago: its reference."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(cell.partner), signal_values())
        signal.status, signal.decided_at = SignalStatus.REFERRED, utcnow() - timedelta(days=decided_days_ago)
        reference = signal.reference
        db.session.commit()
        db.session.remove()
    return reference


def test_the_retention_page_lists_overdue_erasures_first_under_their_own_heading(app, cell):
    with app.app_context(), tenant_context(cell.tenant_id):
        months = case_settings().retention_months_signals
        db.session.remove()
    overdue = decided_signal(app, cell, months * 31 + 20)  # due some weeks ago, still kept
    coming = decided_signal(app, cell, months * 31 - 40)  # due in about a month
    coordinator = client_for(app, cell.coordinator)

    page = text(coordinator.get(f"{BASE}/retention", headers=EN))
    assert page.index("<h2>Overdue") < page.index("Erased within the coming 60 days")
    overdue_section = page[page.index("<h2>Overdue"):page.index("Erased within the coming 60 days")]
    coming_section = page[page.index("Erased within the coming 60 days"):]
    assert overdue in overdue_section and coming not in overdue_section
    assert coming in coming_section and overdue not in coming_section
    assert "These should have been erased already" in overdue_section

    due = coordinator.get(f"{BASE}/api/retention").get_json()["due"]
    assert {item["reference"]: item["overdue"] for item in due} == {overdue: True, coming: False}


def test_the_retention_column_is_named_as_a_noun_not_the_verb_record(app, cell):
    decided_signal(app, cell, 400)
    coordinator = client_for(app, cell.coordinator)
    english = text(coordinator.get(f"{BASE}/retention", headers=EN))
    assert '<th scope="col">Case or signal</th>' in english and '<th scope="col">Record</th>' not in english
    dutch = text(coordinator.get(f"{BASE}/retention", headers={"Accept-Language": "nl"}))
    assert "Registreer" not in dutch


def test_nothing_overdue_shows_no_overdue_heading(app, cell):
    coordinator = client_for(app, cell.coordinator)
    page = text(coordinator.get(f"{BASE}/retention", headers=EN))
    assert "<h2>Overdue" not in page and "Nothing will be erased in this period." in page


# --- 5. a national number with a wrong check number is a typing error ---------------------------


def wrong_check(number: str) -> str:
    """``number`` with its last two digits changed so that they no longer match."""
    digits = re.sub(r"\D", "", number)
    for check in range(100):
        candidate = f"{digits[:9]}{check:02d}"
        if not national_number_valid(candidate):
            return f"{candidate[:2]}.{candidate[2:4]}.{candidate[4:6]}-{candidate[6:9]}.{candidate[9:]}"
    raise AssertionError("every check number matches")


@pytest.mark.parametrize("number, message", [
    ("wrong-check", "This national number's check digits do not match: check it for a typing error."),
    ("07.03.14-123.4", "Enter the 11 digits of a Belgian national number (YY.MM.DD-XXX.CC)."),
    ("07.03.14-ABC.42", "Enter the 11 digits of a Belgian national number (YY.MM.DD-XXX.CC)."),
], ids=["eleven-digits-wrong-check", "ten-digits", "letters"])
def test_a_mistyped_national_number_is_told_what_is_wrong_with_it(app, cell, number, message):
    if number == "wrong-check":
        number = wrong_check(IDENTITY["national_number"])
    partner = client_for(app, cell.partner)
    form = {"observation": "Seen at the station.", "internal_assessment": "done", "urgency": "normal",
            "national_number": number}
    refused = post_form(partner, f"{BASE}/signals/new", form, headers=EN)
    assert refused.status_code == 422
    page = text(refused)
    shown = re.search(r'id="e-national_number">(?:<span[^>]*>[^<]*</span>\s*)?([^<]*)<', page)
    assert shown and shown.group(1).strip() == message
    assert f'value="{number}"' in page  # kept, to correct it
    assert summary_targets_exist(refused) == []


def test_the_api_gives_the_same_message_for_a_wrong_check_number(app, cell):
    partner = client_for(app, cell.partner)
    token = partner.get(f"{BASE}/api/session").get_json()["csrf_token"]
    body = {**{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in signal_values().items()},
            "national_number": wrong_check(IDENTITY["national_number"])}
    refused = partner.post(f"{BASE}/api/signals", json=body, headers={"X-CSRFToken": token, **EN})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"]["national_number"] == [
        "This national number's check digits do not match: check it for a typing error."]


# --- 8. every error summary leads to its field --------------------------------------------------


def test_confirmations_refused_link_to_their_tick_box(app, cell):
    coordinator = client_for(app, cell.coordinator)
    table = post_form(coordinator, f"{BASE}/organisation/tables/new", {"kind": "main", "name": "LIVC-R"}).headers["Location"]
    partner = post_form(coordinator, f"{BASE}/organisation/partners/new",
                        {"organisation_name": "CLB Leuven", "kind": "clb", "participation": "works_along"})
    assert partner.status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        partner_id = db.session.scalar(sa.select(PartnerInventoryEntry.id))
        db.session.remove()
    ended = add_member(app, cell.tenant_id, LEUVEN, Role.PARTNER, "to.end@example.test")

    for path, form_path in (
        (f"{table}/remove", table),
        (f"{BASE}/organisation/partners/{partner_id}/remove", f"{BASE}/organisation/partners/{partner_id}"),
        (f"{BASE}/members/{ended.membership_id}/end", None),
    ):
        refused = post_form(coordinator, path, {}, form_path=form_path, headers=EN)
        assert refused.status_code == 422, path
        assert summary_targets_exist(refused) == [], path
        assert 'id="f-confirm"' in refused.get_data(as_text=True)


def test_forms_of_the_cell_link_each_message_to_its_field(app, cell):
    coordinator = client_for(app, cell.coordinator)
    table = post_form(coordinator, f"{BASE}/organisation/tables/new", {"kind": "main", "name": "LIVC-R"}).headers["Location"]
    seat = post_form(coordinator, f"{table}/seats", {"participant_kind": "clb"}, form_path=table, headers=EN)
    assert seat.status_code == 422 and summary_targets_exist(seat) == []
    partner = post_form(coordinator, f"{BASE}/organisation/partners/new",
                        {"organisation_name": "", "kind": "clb", "participation": "works_along", "notes": "x" * 2001},
                        headers=EN)
    assert partner.status_code == 422 and summary_targets_exist(partner) == []


def test_the_profile_links_a_wrong_password_to_the_form_it_was_typed_in(app, cell):
    member = client_for(app, cell.partner)
    refused = post_form(member, f"{BASE}/profile/authenticator", {"password": "not the password"},
                        form_path=f"{BASE}/profile", headers=EN)
    assert refused.status_code in (401, 422)
    assert summary_targets_exist(refused) == []
    page = refused.get_data(as_text=True)
    assert re.search(r'href="#f-auth-password"', page)
    assert 'id="e-password"' not in page  # the new-password field of the other form stays clean


def test_the_undertaking_not_ticked_links_to_its_tick_box(app, cell):
    newcomer = add_member(app, cell.tenant_id, LEUVEN, Role.PARTNER, "newcomer@example.test")
    client = client_for(app, newcomer)
    refused = post_form(client, f"{BASE}/undertaking", {}, headers=EN)
    assert refused.status_code == 422
    assert summary_targets_exist(refused) == [] and 'id="f-accept"' in refused.get_data(as_text=True)
