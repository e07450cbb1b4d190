"""The LTF's information cards on a case (issue 18, part 4; seeds 000 and 004).

The information officer with a valid security clearance records the cards the Local Task Force
shares (date, reference, a summary, the threat level as the card states it); the coordinator
and that information officer read them, nobody else learns that they exist; each read is
audited; a card is erased 12 months after its date or with its case; the feedback form to the
LTF refers to cards by reference and date only.
"""

from __future__ import annotations

import html
import re
import zlib
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import Member, add_member, give_session, post_form
from case_helpers import LEUVEN, membership, open_case, ready_cell
from livc.app.demo import seed_demo
from livc.app.demo_cases import demo_email
from livc.platform.accounts import find_account
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.keys import DataKey
from livc.platform.roles import Role
from livc.tenants.cases.erasure import erase_case
from livc.tenants.cases.ltf_cards import LtfCard, LtfFeedbackCard
from livc.tenants.cases.models import Case, CaseStatus, CaseTeamMember, ClosureReason, LtfFeedback
from livc.tenants.cases.operations import add_months
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import accept_undertaking, has_accepted_current
from livc.tenants.retention.operations import apply_retention

EN = {"Accept-Language": "en"}
SUMMARY = "Returned from abroad in March; in contact with a recruiter known to the LTF."
CARD = {"card_date": (date.today() - timedelta(days=10)).isoformat(), "reference": "LTF-LEU-2026-031",
        "threat_level": "3", "summary": SUMMARY}
RECORD_RULE = "Only the information officer with a valid security clearance records the LTF's information cards"
READ_RULE = "The LTF's information cards are police information"


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


@pytest.fixture
def case(app, cell):
    """(id, code) of a case with the partner (CLB) in its team."""
    return open_case(app, cell)


@pytest.fixture
def expired_officer(app, cell):
    """A second information officer, whose security clearance ran out yesterday."""
    member = add_member(app, cell.tenant_id, LEUVEN, Role.INFORMATION_OFFICER, f"expired.{LEUVEN}@example.test")
    with app.app_context(), tenant_context(cell.tenant_id):
        officer = membership(member)
        officer.clearance_expires_on = date.today() - timedelta(days=1)
        accept_undertaking(officer)
        db.session.commit()
        db.session.remove()
    return member


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def cards_path(case_id: int) -> str:
    return f"/{LEUVEN}/cases/{case_id}/ltf-cards"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def stored_cards(app, cell) -> list[LtfCard]:
    with app.app_context(), tenant_context(cell.tenant_id):
        cards = db.session.scalars(sa.select(LtfCard).order_by(LtfCard.id)).all()
        db.session.expunge_all()
        return cards


def recorded(app, cell, case_id: int, **overrides) -> int:
    """The information officer records a card through the page: its id."""
    officer = client_for(app, cell.information_officer)
    answer = post_form(officer, cards_path(case_id), {**CARD, **overrides})
    assert answer.status_code == 302, text(answer)
    return stored_cards(app, cell)[-1].id


def trail(app, cell, action: str) -> list[AuditEntry]:
    with app.app_context(), tenant_context(cell.tenant_id):
        entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()
        db.session.expunge_all()
        return entries


def card_reads(app, cell) -> list[AuditEntry]:
    return [entry for entry in trail(app, cell, "case.read") if entry.details.get("part", "").startswith("ltf_")]


def key_destroyed(app, cell, card_id: int) -> bool:
    with app.app_context(), tenant_context(cell.tenant_id):
        key = db.session.scalar(sa.select(DataKey).where(DataKey.scope == f"ltf_card:{card_id}"))
        return key is not None and key.destroyed_at is not None


# --- recording --------------------------------------------------------------------------------


def test_the_information_officer_records_a_card_kept_encrypted_and_reads_it_back(app, cell, case):
    case_id, code = case
    officer = client_for(app, cell.information_officer)
    form = officer.get(cards_path(case_id), headers=EN)
    assert form.status_code == 200 and "Record an LTF information card" in text(form)
    card_id = recorded(app, cell, case_id)

    page = text(officer.get(cards_path(case_id), headers=EN))
    assert SUMMARY in page and "LTF-LEU-2026-031" in page and "Level 3: serious" in page
    card = stored_cards(app, cell)[0]
    assert card.case_id == case_id and card.recorded_by_id == cell.information_officer.membership_id
    assert SUMMARY not in card.summary_ciphertext and card.summary_ciphertext.startswith("v1.")
    assert card.erase_after == add_months(date.fromisoformat(CARD["card_date"]), 12)
    recorded_entry = trail(app, cell, "ltf_card.recorded")[-1]
    assert recorded_entry.subject == f"case:{code}" and recorded_entry.details["card_id"] == card_id
    assert SUMMARY not in str(recorded_entry.details)


@pytest.mark.parametrize(("overrides", "faults"), [
    ({"card_date": "", "reference": "", "summary": "", "threat_level": ""},
     {"card_date", "reference", "summary", "threat_level"}),
    ({"card_date": (date.today() + timedelta(days=2)).isoformat(), "threat_level": "5"}, {"card_date", "threat_level"}),
    ({"card_date": (date.today() - timedelta(days=400)).isoformat(), "reference": "R" * 41}, {"card_date", "reference"}),
    ({"card_date": "yesterday"}, {"card_date"}),
])
def test_bad_input_is_refused_field_by_field_keeping_what_was_typed_and_nothing_is_saved(app, cell, case, overrides, faults):
    case_id, _code = case
    officer = client_for(app, cell.information_officer)
    answer = post_form(officer, cards_path(case_id), {**CARD, **overrides}, headers=EN)
    assert answer.status_code == 422
    page = text(answer)
    marked = set(re.findall(r'id="e-(\w+)"', page))
    assert faults <= marked, marked
    if "summary" not in faults:
        assert SUMMARY in page  # what was typed is kept
    assert stored_cards(app, cell) == []


def test_the_api_records_a_card_and_answers_bad_input_by_field(app, cell, case):
    case_id, _code = case
    officer = client_for(app, cell.information_officer)
    api = f"/{LEUVEN}/api/cases/{case_id}/ltf-cards"
    token = officer.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    bad = officer.post(api, json={"reference": "", "threat_level": "high"}, headers={"X-CSRFToken": token, **EN})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"card_date", "reference", "summary", "threat_level"}
    assert stored_cards(app, cell) == []
    made = officer.post(api, json=CARD, headers={"X-CSRFToken": token, **EN})
    assert made.status_code == 201
    assert made.get_json()["card"]["threat_level"] == "3" and made.get_json()["card"]["summary"] == SUMMARY
    listed = officer.get(api).get_json()["cards"]
    assert [card["reference"] for card in listed] == ["LTF-LEU-2026-031"]


def test_only_the_information_officer_with_a_valid_clearance_records_a_card_and_the_refusal_names_the_rule(
        app, cell, case, expired_officer):
    case_id, _code = case
    for member in (cell.coordinator, cell.partner, cell.mayor, expired_officer):
        client = client_for(app, member)
        token = client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
        page = client.post(cards_path(case_id), data={"csrf_token": token, **CARD}, headers=EN)
        assert page.status_code == 403 and RECORD_RULE in text(page) and "(seed 004)" in text(page), member.role
        api = client.post(f"/{LEUVEN}/api/cases/{case_id}/ltf-cards", json=CARD, headers={"X-CSRFToken": token, **EN})
        assert api.status_code == 403 and RECORD_RULE in api.get_json()["error"]["message"]
    assert stored_cards(app, cell) == []
    refusals = [entry for entry in trail(app, cell, "access.denied") if entry.details["action"] == "ltf_card.record"]
    assert len(refusals) == 8 and "seed 004" in refusals[-1].details["reason"]


# --- visibility -------------------------------------------------------------------------------


def test_the_coordinator_and_the_cleared_information_officer_see_the_cards_on_the_case_page(app, cell, case):
    case_id, _code = case
    recorded(app, cell, case_id)
    for member in (cell.coordinator, cell.information_officer):
        client = client_for(app, member)
        if member is cell.information_officer:  # the case page is the team's: put them in it
            with app.app_context(), tenant_context(cell.tenant_id):
                db.session.add(CaseTeamMember(case_id=case_id, membership_id=member.membership_id))
                db.session.commit()
        page = text(client.get(f"/{LEUVEN}/cases/{case_id}", headers=EN))
        assert "LTF information cards" in page and "LTF-LEU-2026-031" in page and "Level 3: serious" in page
        assert SUMMARY not in page  # the summary is on the cards' own page
        assert SUMMARY in text(client.get(cards_path(case_id), headers=EN))


def test_nobody_else_learns_the_cards_exist_not_even_the_case_team(app, cell, case, expired_officer):
    case_id, _code = case
    recorded(app, cell, case_id)
    partner = client_for(app, cell.partner)  # in the case team
    case_page = text(partner.get(f"/{LEUVEN}/cases/{case_id}", headers=EN))
    assert "LTF-LEU-2026-031" not in case_page and "LTF information card" not in case_page
    for member in (cell.partner, cell.mayor, cell.social, expired_officer):
        client = client_for(app, member)
        page = client.get(cards_path(case_id), headers=EN)
        assert page.status_code == 403 and READ_RULE in text(page) and "LTF-LEU" not in text(page)
        api = client.get(f"/{LEUVEN}/api/cases/{case_id}/ltf-cards", headers=EN)
        assert api.status_code == 403 and "LTF-LEU" not in api.get_data(as_text=True)
    # A refused reader's answer is the same for a case with cards and one without.
    other_id, _ = open_case(app, cell)
    answers = []
    for path in (cards_path(other_id), cards_path(case_id)):
        answer = partner.get(path, headers=EN)
        body = text(answer).replace(answer.headers["X-Request-ID"], "").replace(path, "")
        answers.append((answer.status_code, re.sub(r'name="csrf_token" value="[^"]*"', "", body)))
    assert answers[0] == answers[1]


def test_every_read_of_the_cards_is_audited_with_their_ids_never_their_content(app, cell, case):
    case_id, code = case
    card_id = recorded(app, cell, case_id)
    before = len(card_reads(app, cell))
    client_for(app, cell.coordinator).get(cards_path(case_id))
    client_for(app, cell.coordinator).get(f"/{LEUVEN}/cases/{case_id}")
    client_for(app, cell.information_officer).get(f"/{LEUVEN}/api/cases/{case_id}/ltf-cards")
    reads = card_reads(app, cell)[before:]
    assert [entry.details["part"] for entry in reads] == ["ltf_cards", "ltf_cards_panel", "ltf_cards"]
    assert all(entry.details["card_ids"] == [card_id] and entry.subject == f"case:{code}" for entry in reads)
    assert all(SUMMARY not in str(entry.details) for entry in reads)


# --- retention --------------------------------------------------------------------------------


def test_a_card_is_erased_twelve_months_after_its_date_with_its_key(app, cell, case):
    case_id, _code = case
    old_day = add_months(date.today(), -11)
    old = recorded(app, cell, case_id, card_date=old_day.isoformat(), reference="LTF-OLD")
    new = recorded(app, cell, case_id)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        apply_retention(add_months(old_day, 12) - timedelta(days=1))
        db.session.commit()
    assert [card.id for card in stored_cards(app, cell)] == [old, new]
    with app.test_request_context(), tenant_context(cell.tenant_id):
        apply_retention(add_months(old_day, 12))
        db.session.commit()
        assert db.session.get(Case, case_id) is not None  # the case keeps its own retention
    assert [card.id for card in stored_cards(app, cell)] == [new]
    assert key_destroyed(app, cell, old) and not key_destroyed(app, cell, new)
    assert trail(app, cell, "retention.applied")[-1].details["ltf_cards"] == 1
    assert "LTF-OLD" not in text(client_for(app, cell.coordinator).get(cards_path(case_id)))


def test_erasing_the_case_erases_its_cards_their_keys_and_the_forms_references(app, cell, case):
    case_id, _code = case
    card_id = recorded(app, cell, case_id)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        feedback = LtfFeedback(case_id=case_id)
        db.session.add(feedback)
        db.session.flush()
        db.session.add(LtfFeedbackCard(feedback_id=feedback.id, card_id=card_id))
        case_row = db.session.get(Case, case_id)
        case_row.status, case_row.closure_reason = CaseStatus.CLOSED, ClosureReason.GOALS_REACHED
        erase_case(case_row)
        db.session.commit()
        assert db.session.scalars(sa.select(LtfFeedbackCard)).all() == []
    assert stored_cards(app, cell) == []
    assert key_destroyed(app, cell, card_id)


# --- the feedback form's references -------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for literal in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", content, re.S):
            shown.append(re.sub(rb"\\(.)", rb"\1", literal).decode("cp1252"))
    return " ".join(shown)


ANSWERS = {
    "effectiveness": "Works well.", "cooperation": "Comes to every appointment.", "distance": "No new posts.",
    "further_follow_up": "useful", "further_note": "Until June.", "other_elements": "Mentoring.",
    "terrorist_phase": "no", "phase_explanation": "No sign of preparation.",
}


def released_form(app, cell, case_id: int) -> int:
    """A feedback form answered, approved by both participants and released: its id."""
    coordinator = client_for(app, cell.coordinator)
    case_page = f"/{LEUVEN}/cases/{case_id}"
    assert post_form(coordinator, f"{case_page}/feedback", ANSWERS, form_path=case_page).status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        feedback_id = db.session.scalar(sa.select(LtfFeedback.id).where(LtfFeedback.case_id == case_id))
    form = f"{case_page}/feedback/{feedback_id}"
    for member in (cell.coordinator, cell.partner):
        client = client_for(app, member)
        revision = re.search(r'name="revision" value="(\d+)"', text(client.get(form))).group(1)
        assert post_form(client, f"{form}/approve", {"revision": revision}, form_path=form).status_code == 302
    assert post_form(coordinator, f"{form}/release", {"confirm": "yes"}).status_code == 302
    return feedback_id


def test_the_feedback_form_refers_to_cards_by_reference_and_date_never_the_summary(app, cell, case):
    case_id, _code = case
    card_id = recorded(app, cell, case_id)
    feedback_id = released_form(app, cell, case_id)
    choose = f"/{LEUVEN}/ltf-feedback/{feedback_id}/cards"
    officer = client_for(app, cell.information_officer)
    assert post_form(officer, choose, {"cards_form": "yes", "card_ids": str(card_id)}).status_code == 302

    reference = "LTF-LEU-2026-031"
    ltf_page = text(officer.get(f"/{LEUVEN}/ltf-feedback/{feedback_id}", headers=EN))
    assert reference in ltf_page and SUMMARY not in ltf_page
    printed = text(officer.get(f"/{LEUVEN}/ltf-feedback/{feedback_id}/print", headers=EN))
    assert reference in printed and SUMMARY not in printed
    pdf = pdf_text(officer.get(f"/{LEUVEN}/ltf-feedback/{feedback_id}/pdf", headers=EN).data)
    assert reference in pdf and "Returned from abroad" not in pdf
    coordinator_form = text(client_for(app, cell.coordinator).get(f"/{LEUVEN}/cases/{case_id}/feedback/{feedback_id}", headers=EN))
    assert reference in coordinator_form and SUMMARY not in coordinator_form
    # The partner took part in the form, but the cards are police information.
    partner_form = text(client_for(app, cell.partner).get(f"/{LEUVEN}/cases/{case_id}/feedback/{feedback_id}", headers=EN))
    assert reference not in partner_form and "LTF information card" not in partner_form
    assert client_for(app, cell.partner).get(choose).status_code == 403
    api = officer.get(f"/{LEUVEN}/api/ltf-feedback/{feedback_id}/cards").get_json()
    assert api == {"cards": [{"id": card_id, "reference": reference, "card_date": CARD["card_date"]}]}


def test_a_form_refers_only_to_cards_of_its_own_case(app, cell, case):
    case_id, _code = case
    other_id, _ = open_case(app, cell)
    foreign_card = recorded(app, cell, other_id)
    feedback_id = released_form(app, cell, case_id)
    coordinator = client_for(app, cell.coordinator)
    token = coordinator.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    api = coordinator.put(f"/{LEUVEN}/api/ltf-feedback/{feedback_id}/cards", json={"card_ids": [foreign_card]},
                          headers={"X-CSRFToken": token, **EN})
    assert api.status_code == 422 and api.get_json()["error"]["fields"] == {"card_ids": ["Choose cards of this case."]}
    page = post_form(coordinator, f"/{LEUVEN}/ltf-feedback/{feedback_id}/cards",
                     {"cards_form": "yes", "card_ids": str(foreign_card)}, headers=EN)
    assert page.status_code == 422 and "Choose cards of this case." in text(page)
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.scalars(sa.select(LtfFeedbackCard)).all() == []


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_shows_an_ltf_card_on_a_case_to_the_information_officer_and_to_nobody_else_in_its_team(app):
    with app.app_context():
        tenants = {tenant.slug: tenant.id for tenant in seed_demo(with_members=True)}
        seed_demo(with_members=True)  # seeding again adds no second card
        with tenant_context(tenants[LEUVEN]):
            card = db.session.scalars(sa.select(LtfCard)).one()
            case_id, reference = card.case_id, card.reference
            readers = {}
            for role in (Role.INFORMATION_OFFICER, Role.PARTNER):
                account = find_account(demo_email(LEUVEN, role))
                found = db.session.scalar(sa.select(Membership).where(Membership.account_id == account.id))
                if not has_accepted_current(found):
                    accept_undertaking(found)
                readers[role] = Member(account.email, "", "", LEUVEN, tenants[LEUVEN], account.id, found.id, role)
            team = set(db.session.scalars(sa.select(CaseTeamMember.membership_id).where(CaseTeamMember.case_id == case_id)))
            db.session.commit()
        db.session.remove()
    officer_page = text(client_for(app, readers[Role.INFORMATION_OFFICER]).get(f"/{LEUVEN}/cases/{case_id}", headers=EN))
    assert reference in officer_page and "Level 2: average" in officer_page
    assert readers[Role.PARTNER].membership_id in team  # the partner reads the case, not the card
    partner_page = client_for(app, readers[Role.PARTNER]).get(f"/{LEUVEN}/cases/{case_id}", headers=EN)
    assert partner_page.status_code == 200 and reference not in text(partner_page)


def test_the_information_officer_reaches_a_case_s_cards_by_its_code_even_outside_its_team(app, cell, case):
    case_id, code = case
    recorded(app, cell, case_id)
    officer = client_for(app, cell.information_officer)  # not in this case's team
    assert officer.get(f"/{LEUVEN}/cases/{case_id}").status_code == 403
    home = text(officer.get(f"/{LEUVEN}/home", headers=EN))
    assert "LTF information cards" in home
    listed = text(officer.get(f"/{LEUVEN}/ltf-cards", headers=EN))
    assert code in listed and SUMMARY not in listed
    found = officer.get(f"/{LEUVEN}/ltf-cards", query_string={"code": code.lower()})
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/cases/{case_id}/ltf-cards")
    unknown = officer.get(f"/{LEUVEN}/ltf-cards", query_string={"code": "LEU-1999-999"}, headers=EN)
    assert unknown.status_code == 422 and "No case of the cell has this code." in text(unknown)
    assert "LTF information cards" not in text(client_for(app, cell.partner).get(f"/{LEUVEN}/home", headers=EN))
    assert client_for(app, cell.partner).get(f"/{LEUVEN}/ltf-cards").status_code == 403


def test_a_form_in_preparation_is_not_shown_to_an_information_officer_outside_the_case_team(app, cell, case):
    case_id, _code = case
    recorded(app, cell, case_id)
    case_page = f"/{LEUVEN}/cases/{case_id}"
    coordinator = client_for(app, cell.coordinator)
    assert post_form(coordinator, f"{case_page}/feedback", {"confirm": "yes"}, form_path=case_page).status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        feedback_id = db.session.scalar(sa.select(LtfFeedback.id).where(LtfFeedback.case_id == case_id))
    choose = f"/{LEUVEN}/ltf-feedback/{feedback_id}/cards"
    assert coordinator.get(choose).status_code == 200
    officer = client_for(app, cell.information_officer)  # cleared, but not in this case's team
    assert officer.get(choose).status_code == 404
    assert officer.get(f"/{LEUVEN}/api/ltf-feedback/{feedback_id}/cards").status_code == 404
