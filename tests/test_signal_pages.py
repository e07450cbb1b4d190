"""Signals, weighing, "is this person known?", case settings and the dashboard, as people use them.

Pages and the JSON API are driven over HTTP by members of a cell ready to open cases
(``case_helpers.ready_cell``), each with a server-side session (``auth_helpers.give_session``).
Runs on SQLite and PostgreSQL. The person concerned is "Élodie Van den Berghe": no list, search
answer or signal page may name her.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session, post_form
from case_helpers import (
    IDENTITY,
    LEUVEN,
    OBSERVATION,
    confirm_latest,
    membership,
    open_case,
    ready_cell,
    signal_values,
)
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import Case, CaseTeamMember
from livc.tenants.signals.models import CaseSettings, Signal, SignalStatus

EN = {"Accept-Language": "en"}
FAMILY_NAME = IDENTITY["family_name"]
BASE = f"/{LEUVEN}"
YEAR = utcnow().year


# --- helpers --------------------------------------------------------------------------------


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def api_headers(client) -> dict:
    return {"X-CSRFToken": client.get(f"{BASE}/api/session").get_json()["csrf_token"], **EN}


def intake_form(**overrides) -> dict:
    """What a partner types in the intake form (dates as the browser sends them)."""
    return {
        "observation": OBSERVATION,
        "observed_from": (date.today() - timedelta(days=20)).isoformat(),
        "observed_until": "",
        "internal_assessment": "done",
        "assessment_note": "Discussed with the CLB team on Monday.",
        "urgency": "soon",
        **IDENTITY,
        **overrides,
    }


def weighing_form(cell, **overrides) -> dict:
    return {
        "flag": "red",
        "fact_propaganda": "yes",
        "fact_propaganda_description": "Shared an attack video in the class group chat.",
        "fact_propaganda_on": (date.today() - timedelta(days=20)).isoformat(),
        "decision": "open_case",
        "target_group": "other_extremism",
        "follow_up_kind": "social",
        "team_ids": [str(cell.partner.membership_id)],
        "rationale": "",
        **overrides,
    }


def submitted_signal(app, cell, member=None, **overrides) -> tuple[int, str]:
    """A signal recorded straight through the domain (not the subject of the test): (id, reference)."""
    from livc.tenants.signals.operations import submit_signal

    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(member or cell.partner), signal_values(**overrides))
        found = signal.id, signal.reference
        db.session.commit()
        db.session.remove()
    return found


def scalar(app, cell, query):
    with app.app_context(), tenant_context(cell.tenant_id):
        value = db.session.scalar(query)
        db.session.remove()
    return value


def signal_count(app, cell) -> int:
    return scalar(app, cell, sa.select(sa.func.count(Signal.id)))


def signal_id_from(location: str) -> int:
    match = re.fullmatch(rf"{BASE}/signals/(\d+)", location)
    assert match, location
    return int(match.group(1))


# --- intake ---------------------------------------------------------------------------------


def test_a_partner_reports_a_signal_and_reads_it_back_without_the_name(app, cell):
    partner = client_for(app, cell.partner)
    form = partner.get(f"{BASE}/signals/new", headers=EN)
    page = text(form)
    assert form.status_code == 200
    assert "Was this first discussed within your own organisation?" in page
    assert "Person concerned (optional: may stay anonymous)" in page
    assert 'name="channel"' not in page and 'name="reporter_contact"' not in page  # a partner reports, no more

    sent = post_form(partner, f"{BASE}/signals/new", intake_form(urgency="urgent"), headers=EN)
    assert sent.status_code == 302
    signal_id = signal_id_from(sent.headers["Location"])
    shown = partner.get(sent.headers["Location"], headers=EN)
    page = text(shown)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert f"Signal S-{YEAR}-001 recorded." in page
    assert "the coordinator is told" in page
    assert OBSERVATION in page and "A person is named" in page
    assert FAMILY_NAME not in page and IDENTITY["given_names"] not in page and IDENTITY["national_number"] not in page
    assert "The cell has not weighed this signal yet." in page
    with app.app_context(), tenant_context(cell.tenant_id):
        signal = db.session.get(Signal, signal_id)
        assert signal.recorded_by_id == cell.partner.membership_id and signal.identity.family_name == FAMILY_NAME
        reads = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "signal.read")).all()
        assert [entry.subject for entry in reads] == [f"signal:S-{YEAR}-001"]
        db.session.remove()


def test_the_filter_refusal_keeps_what_was_typed_and_saves_nothing(app, cell):
    partner = client_for(app, cell.partner)
    refused = post_form(partner, f"{BASE}/signals/new", intake_form(internal_assessment="not_done"), headers=EN)
    page = text(refused)
    assert refused.status_code == 422
    assert "Discuss the signal within your own organisation first" in page
    assert OBSERVATION in page and "Discussed with the CLB team on Monday." in page
    assert re.search(r'name="internal_assessment" value="not_done" checked', page)
    assert signal_count(app, cell) == 0

    empty = post_form(partner, f"{BASE}/signals/new", {}, headers=EN)
    assert empty.status_code == 422 and "This field is required." in text(empty)
    assert signal_count(app, cell) == 0


def test_the_coordinator_logs_a_call_and_partners_see_only_their_own_signals(app, cell):
    coordinator = client_for(app, cell.coordinator)
    form = text(coordinator.get(f"{BASE}/signals/new", headers=EN))
    assert 'name="channel"' in form and "By phone" in form and "Referral by the Local Task Force" not in form
    without_contact = post_form(coordinator, f"{BASE}/signals/new",
                                intake_form(channel="phone", internal_assessment="not_applicable"), headers=EN)
    assert without_contact.status_code == 422 and "Write down who reported it" in text(without_contact)
    logged = post_form(coordinator, f"{BASE}/signals/new", intake_form(
        channel="phone", internal_assessment="not_applicable", reporter_contact="A teacher, 016 12 34 56",
        given_names="", family_name="", date_of_birth="", national_number="", address=""), headers=EN)
    assert logged.status_code == 302
    assert "Anonymous" in text(coordinator.get(logged.headers["Location"], headers=EN))
    officer_form = text(client_for(app, cell.information_officer).get(f"{BASE}/signals/new", headers=EN))
    assert "Referral by the Local Task Force" in officer_form and "By phone" not in officer_form

    partner = client_for(app, cell.partner)
    assert post_form(partner, f"{BASE}/signals/new", intake_form(), headers=EN).status_code == 302
    own = text(partner.get(f"{BASE}/signals", headers=EN))
    assert f"S-{YEAR}-002" in own and f"S-{YEAR}-001" not in own and "To be weighed" in own
    assert partner.get(logged.headers["Location"]).status_code == 403  # the coordinator's signal

    every = text(coordinator.get(f"{BASE}/signals", headers=EN))
    assert f"S-{YEAR}-001" in every and f"S-{YEAR}-002" in every and "By phone" in every
    assert OBSERVATION not in every and FAMILY_NAME not in every
    assert client_for(app, cell.social).get(f"/{LEUVEN}/signals/{signal_id_from(logged.headers['Location'])}").status_code == 403


# --- weighing --------------------------------------------------------------------------------


def test_the_coordinator_weighs_a_signal_into_a_case_through_the_form(app, cell):
    signal_id, reference = submitted_signal(app, cell)
    coordinator = client_for(app, cell.coordinator)
    path = f"{BASE}/signals/{signal_id}/weigh"
    form = text(coordinator.get(path, headers=EN))
    assert "Concrete, observed signs of radicalisation towards violence" in form  # the red criteria
    assert "Consumes or spreads extremist propaganda" in form and 'name="fact_propaganda_description"' in form
    assert FAMILY_NAME not in form

    # The coordinator proposes the weighing: nothing happens until another member confirms it.
    weighed = post_form(coordinator, path, weighing_form(cell), headers=EN)
    assert weighed.status_code == 302, text(weighed)
    assert weighed.headers["Location"] == f"{BASE}/signals/{signal_id}"
    proposed = text(coordinator.get(weighed.headers["Location"], headers=EN))
    assert f"The weighing of signal {reference} is proposed: it takes effect once another member confirms it." in proposed
    assert scalar(app, cell, sa.select(sa.func.count(Case.id))) == 0
    assert scalar(app, cell, sa.select(Signal.status).where(Signal.id == signal_id)) == SignalStatus.NEW
    waiting = text(coordinator.get(path, headers=EN))
    assert "waits for another member to confirm it" in waiting and 'name="decision"' not in waiting
    # The partner confirms: the case opens.
    confirm_latest(app, cell, cell.partner)
    with app.app_context(), tenant_context(cell.tenant_id):
        case = db.session.scalar(sa.select(Case))
        assert case.code == f"LEU-{YEAR}-001"
        team = db.session.scalars(sa.select(CaseTeamMember.membership_id).where(CaseTeamMember.case_id == case.id)).all()
        assert team == [cell.partner.membership_id]
        assert db.session.get(Signal, signal_id).status == SignalStatus.CASE_OPENED
        code = case.code
        db.session.remove()

    page = text(coordinator.get(f"{BASE}/signals/{signal_id}", headers=EN))
    assert "Open a case in the cell" in page and code in page and "Shared an attack video" in page
    assert "Who took part" in page and FAMILY_NAME not in page
    # The partner who reported it learns the decision, not the flag or the facts.
    partner_page = text(client_for(app, cell.partner).get(f"{BASE}/signals/{signal_id}", headers=EN))
    assert "Open a case in the cell" in partner_page and code in partner_page
    assert "Shared an attack video" not in partner_page and "Who took part" not in partner_page

    shown_again = text(coordinator.get(path, headers=EN))
    assert 'name="decision"' not in shown_again and "Open a case in the cell" in shown_again
    again = post_form(coordinator, path, weighing_form(cell), headers=EN)  # (the token of the sign-out form)
    assert again.status_code == 422
    assert "This signal was weighed on" in text(again) and "the decision stands" in text(again)
    assert scalar(app, cell, sa.select(sa.func.count(Case.id))) == 1
    assert reference in page


def test_missing_facts_and_typed_participants_are_refused_field_by_field(app, cell):
    """Missing facts are named field by field; a list of participants (a form of before the joint
    decisions) is refused: who took part is who proposes and confirms."""
    signal_id, _reference = submitted_signal(app, cell)
    coordinator = client_for(app, cell.coordinator)
    path = f"{BASE}/signals/{signal_id}/weigh"
    bare = post_form(coordinator, path, {"flag": "red", "decision": "open_case"}, headers=EN)
    page = text(bare)
    assert bare.status_code == 422
    assert "Tick at least one concrete fact that was observed" in page
    assert 'name="participant_ids"' not in page
    assert re.search(r'id="e-target_group">(?:<span class="govuk-visually-hidden">[^<]*</span>\s*)?This field is required', page)
    typed = post_form(coordinator, path, weighing_form(cell, participant_ids=[str(cell.partner.membership_id)]), headers=EN)
    assert typed.status_code == 422
    assert "Who took part is not typed: it is the members who confirm the proposal" in text(typed)

    undescribed = post_form(coordinator, path, weighing_form(cell, fact_propaganda_description=""), headers=EN)
    assert undescribed.status_code == 422
    assert re.search(r'id="e-fact_propaganda">(?:<span class="govuk-visually-hidden">[^<]*</span>\s*)?Describe what was observed', text(undescribed))
    bad_date = post_form(coordinator, path, weighing_form(cell, fact_threats="yes", fact_threats_on="not a date"), headers=EN)
    page = text(bad_date)
    assert bad_date.status_code == 422
    assert re.search(r'id="e-fact_threats">(?:<span class="govuk-visually-hidden">[^<]*</span>\s*)?Enter a date as YYYY-MM-DD', page)
    assert re.search(r'name="fact_threats" value="yes" checked', page)  # what was ticked stays ticked
    assert re.search(rf'name="team_ids" value="{cell.partner.membership_id}" checked', page)

    low = post_form(coordinator, path, weighing_form(cell, flag="yellow"), headers=EN)
    assert low.status_code == 422 and "A case is opened at red or black only" in text(low)
    assert post_form(coordinator, path, {}, headers=EN).status_code == 422
    assert scalar(app, cell, sa.select(sa.func.count(Case.id))) == 0
    assert scalar(app, cell, sa.select(Signal.status).where(Signal.id == signal_id)) == SignalStatus.NEW

    referred = post_form(coordinator, path, weighing_form(cell, decision="refer", flag="yellow", referred_to="CAW Oost-Brabant"),
                         headers=EN)
    assert referred.status_code == 302 and referred.headers["Location"] == f"{BASE}/signals/{signal_id}"
    assert scalar(app, cell, sa.select(Signal.status).where(Signal.id == signal_id)) == SignalStatus.NEW
    confirm_latest(app, cell, cell.partner)
    assert scalar(app, cell, sa.select(Signal.status).where(Signal.id == signal_id)) == SignalStatus.REFERRED
    assert scalar(app, cell, sa.select(sa.func.count(Case.id))) == 0  # the case fields were ignored
    assert "CAW Oost-Brabant" in text(coordinator.get(referred.headers["Location"], headers=EN))


def test_a_partner_cannot_weigh_search_or_change_settings(app, cell):
    signal_id, _reference = submitted_signal(app, cell)
    partner = client_for(app, cell.partner)
    token = {"X-CSRFToken": partner.get(f"{BASE}/api/session").get_json()["csrf_token"]}
    assert partner.get(f"{BASE}/signals/{signal_id}/weigh").status_code == 403
    assert partner.post(f"{BASE}/signals/{signal_id}/weigh", data=weighing_form(cell), headers=token).status_code == 403
    assert partner.post(f"{BASE}/api/signals/{signal_id}/weighing", json={"flag": "red"}, headers=token).status_code == 403
    assert partner.get(f"{BASE}/search").status_code == 403
    assert partner.post(f"{BASE}/search", data={"name": FAMILY_NAME}, headers=token).status_code == 403
    assert partner.post(f"{BASE}/api/search", json={"name": FAMILY_NAME}, headers=token).status_code == 403
    assert partner.get(f"{BASE}/case-settings").status_code == 403
    assert partner.get(f"{BASE}/retention").status_code == 403
    assert partner.get(f"{BASE}/signals/987654").status_code == 404
    assert scalar(app, cell, sa.select(Signal.status)) == SignalStatus.NEW


# --- is this person known? --------------------------------------------------------------------


def test_the_search_finds_a_case_by_name_variants_and_national_number_and_names_nobody(app, cell):
    case_id, code = open_case(app, cell)
    _other_id, other_reference = submitted_signal(app, cell)
    coordinator = client_for(app, cell.coordinator)
    for query in ({"name": "VANDENBERGHE élodie"}, {"name": "Elodie van den berghe"}, {"national_number": "07031412342"}):
        found = post_form(coordinator, f"{BASE}/search", query, headers=EN)
        page = text(found)
        assert found.status_code == 200, query
        assert f'href="{BASE}/cases/{case_id}">{code}</a>' in page
        assert other_reference in page and "Case opened" in page and "To be weighed" in page
        assert FAMILY_NAME not in page and "VANDENBERGHE" not in page and "Élodie" not in page
        assert found.headers["Cache-Control"] == "no-store"
    unknown = text(post_form(coordinator, f"{BASE}/search", {"name": "Janssens Piet"}, headers=EN))
    assert "The cell knows no case or signal about this person." in unknown and code not in unknown

    empty = post_form(coordinator, f"{BASE}/search", {"name": " ", "national_number": ""}, headers=EN)
    assert empty.status_code == 422 and "Give a name, a national number, or both." in text(empty)
    with app.app_context(), tenant_context(cell.tenant_id):
        searches = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "identity.searched")).all()
        assert [entry.details["hits"] for entry in searches] == [3, 3, 3, 0]
        db.session.remove()


# --- case settings and retention --------------------------------------------------------------


def settings_form(**overrides) -> dict:
    return {
        "code_prefix": "LEU", "flag_green_criteria": "", "flag_yellow_criteria": "",
        "flag_red_criteria": "Our own red criteria.", "flag_black_criteria": "", "review_interval_days": "60",
        "reviews_after_closure": "yes", "review_months_after_closure": "6,12", "retention_months_closed": "24",
        "retention_months_signals": "6", **overrides,
    }


def test_the_coordinator_changes_the_case_settings_and_bad_ones_are_refused(app, cell):
    coordinator = client_for(app, cell.coordinator)
    path = f"{BASE}/case-settings"
    page = text(coordinator.get(path, headers=EN))
    assert "No sign of radicalisation towards violence" in page  # the standard text as placeholder
    saved = post_form(coordinator, path, settings_form(), headers=EN)
    assert saved.status_code == 302 and saved.headers["Location"] == path
    assert "The case settings were saved." in text(coordinator.get(path, headers=EN))

    bad_prefix = post_form(coordinator, path, settings_form(code_prefix="g1"), headers=EN)
    assert bad_prefix.status_code == 422 and "Two to six capital letters" in text(bad_prefix)
    too_short = post_form(coordinator, path, settings_form(retention_months_closed="3"), headers=EN)
    assert too_short.status_code == 422
    assert re.search(r'id="e-retention_months_closed">(?:<span class="govuk-visually-hidden">[^<]*</span>\s*)?Closed cases would be erased before their last review', text(too_short))
    assert post_form(coordinator, path, {}, headers=EN).status_code == 422
    unticked = post_form(coordinator, path, settings_form(reviews_after_closure="", flag_red_criteria="",
                                                          retention_months_closed="3"), headers=EN)
    assert unticked.status_code == 302  # without reviews after closure, a short retention is fine
    with app.app_context(), tenant_context(cell.tenant_id):
        settings = db.session.scalar(sa.select(CaseSettings))
        assert (settings.code_prefix, settings.review_interval_days, settings.retention_months_closed) == ("LEU", 60, 3)
        assert settings.reviews_after_closure is False and settings.flag_red_criteria is None  # back to the standard
        db.session.remove()


def test_the_retention_page_shows_what_will_be_erased_soon(app, cell):
    signal_id, reference = submitted_signal(app, cell)
    coordinator = client_for(app, cell.coordinator)
    headers = api_headers(coordinator)
    changed = coordinator.patch(f"{BASE}/api/case-settings", json={"retention_months_signals": 1}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["changed"] == ["retention_months_signals"]
    closed = post_form(coordinator, f"{BASE}/signals/{signal_id}/weigh", {
        "flag": "green", "decision": "insufficient", "rationale": "A quarrel between classmates, nothing more."},
        headers=EN)
    assert closed.status_code == 302
    assert coordinator.get(f"{BASE}/api/retention").get_json()["due"] == []  # a proposal only
    confirm_latest(app, cell, cell.partner)
    page = text(coordinator.get(f"{BASE}/retention", headers=EN))
    assert reference in page and "Erased within the coming 60 days" in page
    due = coordinator.get(f"{BASE}/api/retention").get_json()["due"]
    assert [(item["kind"], item["reference"]) for item in due] == [("signal", reference)]


# --- the JSON API ------------------------------------------------------------------------------


def test_the_api_records_reads_and_weighs_signals(app, cell):
    partner = client_for(app, cell.partner)
    headers = api_headers(partner)
    body = {**signal_values(), "observed_from": (date.today() - timedelta(days=3)).isoformat()}
    created = partner.post(f"{BASE}/api/signals", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    signal = created.get_json()["signal"]
    assert created.headers["Location"] == f"{BASE}/api/signals/{signal['id']}"
    assert signal["reference"] == f"S-{YEAR}-001" and signal["person_named"] is True and signal["weighing"] is None
    assert FAMILY_NAME not in created.get_data(as_text=True)

    invalid = partner.post(f"{BASE}/api/signals", json={}, headers=headers)
    assert invalid.status_code == 422
    assert set(invalid.get_json()["error"]["fields"]) == {"observation", "internal_assessment", "urgency"}
    filtered = partner.post(f"{BASE}/api/signals", json={**body, "internal_assessment": "not_done"}, headers=headers)
    assert filtered.status_code == 422 and list(filtered.get_json()["error"]["fields"]) == ["internal_assessment"]
    assert partner.post(f"{BASE}/api/signals", json={**body, "channel": "phone"}, headers=headers).status_code == 422
    assert signal_count(app, cell) == 1

    read = partner.get(created.headers["Location"])
    assert read.status_code == 200 and read.get_json()["signal"]["observation"] == OBSERVATION
    assert [s["reference"] for s in partner.get(f"{BASE}/api/signals").get_json()["signals"]] == [f"S-{YEAR}-001"]

    coordinator = client_for(app, cell.coordinator)
    coordinator_headers = api_headers(coordinator)
    weighing_path = f"{BASE}/api/signals/{signal['id']}/weighing"
    assert coordinator.post(weighing_path, json={}, headers=coordinator_headers).status_code == 422
    nested = coordinator.post(weighing_path, json={"flag": "red", "decision": "open_case",
                                                   "facts": [{"fact": "propaganda", "description": "x", "observed_on": "soon"}]},
                              headers=coordinator_headers)
    assert nested.status_code == 422 and "observed_on" in nested.get_json()["error"]["fields"]["facts"]["0"]
    weighing = {
        "flag": "red", "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social",
        "team_ids": [cell.partner.membership_id],
        "facts": [{"fact": "propaganda", "description": "Shared an attack video.",
                   "observed_on": (date.today() - timedelta(days=3)).isoformat()}],
    }
    typed = coordinator.post(weighing_path, json={**weighing, "participant_ids": [cell.partner.membership_id]},
                             headers=coordinator_headers)
    assert typed.status_code == 422 and list(typed.get_json()["error"]["fields"]) == ["participant_ids"]
    # Accepted (202), not done: a second member confirms before anything happens.
    weighed = coordinator.post(weighing_path, json=weighing, headers=coordinator_headers)
    assert weighed.status_code == 202, weighed.get_json()
    proposed = weighed.get_json()
    assert proposed["decision"]["status"] == "proposed" and proposed["decision"]["in_effect"] is False
    assert proposed["signal"]["status"] == "new" and "weighing" not in proposed and "case" not in proposed
    assert partner.get(created.headers["Location"]).get_json()["signal"]["weighing"] is None
    confirm_latest(app, cell, cell.partner)
    answer = coordinator.get(created.headers["Location"]).get_json()["signal"]
    assert answer["weighing"]["decision"] == "open_case" and answer["weighing"]["flag"] == "red"
    answer["case"] = answer["weighing"]["case"]
    assert answer["case"]["code"].endswith(f"-{YEAR}-001") and answer["status"] == "case_opened"
    again = coordinator.post(weighing_path, json=weighing, headers=coordinator_headers)
    assert again.status_code == 422 and "was weighed on" in again.get_json()["error"]["fields"]["decision"][0]

    seen_by_partner = partner.get(created.headers["Location"]).get_json()["signal"]["weighing"]
    assert seen_by_partner["decision"] == "open_case" and seen_by_partner["case"]["code"] == answer["case"]["code"]
    assert seen_by_partner["flag"] is None and seen_by_partner["facts"] is None  # the coordinator's

    hits = coordinator.post(f"{BASE}/api/search", json={"name": "vandenberghe ELODIE"}, headers=coordinator_headers)
    assert hits.status_code == 200
    assert {(hit["kind"], hit["reference"]) for hit in hits.get_json()["hits"]} == {
        ("case", answer["case"]["code"]), ("signal", f"S-{YEAR}-001")}
    assert FAMILY_NAME not in hits.get_data(as_text=True)
    assert coordinator.post(f"{BASE}/api/search", json={}, headers=coordinator_headers).status_code == 422

    settings = coordinator.get(f"{BASE}/api/case-settings", headers={"Accept-Language": "en"}).get_json()["settings"]
    assert settings["flag_red_criteria"] is None and settings["criteria"]["red"].startswith("Concrete, observed signs")
    assert coordinator.patch(f"{BASE}/api/case-settings", json={}, headers=coordinator_headers).status_code == 422
    bad = coordinator.patch(f"{BASE}/api/case-settings", json={"code_prefix": "g1"}, headers=coordinator_headers)
    assert bad.status_code == 422 and list(bad.get_json()["error"]["fields"]) == ["code_prefix"]


# --- the dashboard -----------------------------------------------------------------------------


def test_the_dashboard_shows_signals_to_weigh_and_reviews_due(app, cell):
    coordinator = client_for(app, cell.coordinator)
    headers = api_headers(coordinator)
    assert coordinator.patch(f"{BASE}/api/case-settings", json={"review_interval_days": 7}, headers=headers).status_code == 200
    case_id, code = open_case(app, cell)
    _waiting_id, waiting = submitted_signal(app, cell, urgency="urgent")

    home = coordinator.get(f"{BASE}/home", headers=EN)
    page = text(home)
    assert home.status_code == 200
    assert "Signals to weigh" in page and waiting in page and "Urgent: the coordinator acts today" in page
    assert "Reviews due" in page and re.search(rf'href="{BASE}/cases/{case_id}">{code}</a>:\s*Review of the follow-up', page)
    assert "Case building" in page and "House rules" in page and "Is this person known to the cell?" in page
    assert FAMILY_NAME not in page and OBSERVATION not in page

    board = coordinator.get(f"{BASE}/api/dashboard").get_json()["dashboard"]
    assert [s["reference"] for s in board["open_signals"]] == [waiting]
    assert [r["case"]["code"] for r in board["reviews_due"]] == [code]

    partner_page = text(client_for(app, cell.partner).get(f"{BASE}/home", headers=EN))
    assert "Signals to weigh" not in partner_page and "Signals I recorded" in partner_page and waiting in partner_page
    assert code in partner_page  # the partner is in the case team
    assert "Is this person known to the cell?" not in partner_page
    social_page = text(client_for(app, cell.social).get(f"{BASE}/home", headers=EN))
    assert code not in social_page and waiting not in social_page and "No case to follow." in social_page
