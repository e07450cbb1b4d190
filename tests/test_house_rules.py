"""House rules (*huisreglement*): drafts, publication behind the undertaking gate, versions, the API.

Runs on SQLite and PostgreSQL. The coordinator writes through the same pages and API a person
uses; members sign in through the real pages (``auth_helpers.sign_in``), accepting the
undertaking in force at that moment.
"""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import sqlalchemy as sa

from auth_helpers import add_member, post_form, sign_in
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.tenants.house_rules.models import CHAPTER_KEYS, HouseRules, HouseRulesStatus
from livc.tenants.members.operations import current_undertaking

LEUVEN, HERKO = "demo-leuven", "demo-herko"
EN = {"Accept-Language": "en"}
RULES = f"/{LEUVEN}/house-rules"
API = f"/{LEUVEN}/api/house-rules"
CHAPTERS = {
    "general": "These rules rest on the law of 30 July 2018 and our local safety plan.",
    "composition_operation": "The prevention officer chairs the cell.\n\nThe chair may invite an expert for one case.",
    "place_date": "We meet in the town hall, every first Tuesday of the month.",
    "minutes": "The secretary keeps the minutes:\n- the agenda\n- who was present",
    "information_management": "What a partner shares is recorded only with that partner's consent.",
}


# --- helpers --------------------------------------------------------------------------------


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def api_headers(client) -> dict:
    """What a script using the API sends: the CSRF token of its session, and a language."""
    return {"X-CSRFToken": client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"], **EN}


def versions(app, tenant_id: int) -> list[HouseRules]:
    with app.app_context(), tenant_context(tenant_id):
        found = db.session.scalars(sa.select(HouseRules).order_by(HouseRules.version)).all()
        db.session.expunge_all()
        db.session.remove()
    return found


def undertaking_version(app, tenant_id: int) -> int:
    with app.app_context(), tenant_context(tenant_id):
        version = current_undertaking().version
        db.session.commit()
        db.session.remove()
    return version


def audit_entries(app, tenant_id: int, action: str) -> list[AuditEntry]:
    with app.app_context(), tenant_context(tenant_id):
        entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()
        db.session.expunge_all()
        db.session.remove()
    return entries


def draft_form(**overrides: str) -> dict:
    return {**CHAPTERS, "legal_basis": "law_2018", "consent_reference": "", "consent_date": "", **overrides}


def publish_through_the_pages(client, **overrides: str) -> None:
    """Start a draft, fill it in, save it for publication, and confirm."""
    assert post_form(client, f"{RULES}/draft/start", {}, form_path=RULES).status_code == 302
    saved = post_form(client, f"{RULES}/draft", draft_form(action="publish", **overrides))
    assert saved.status_code == 302 and saved.headers["Location"] == f"{RULES}/draft/publish", text(saved)
    published = post_form(client, f"{RULES}/draft/publish", {"confirm": "yes"}, headers=EN)
    assert published.status_code == 302 and published.headers["Location"] == RULES


# --- drafting and publishing in the pages -----------------------------------------------------


def test_a_first_draft_starts_from_the_guidance_of_the_seed(app, cells, coordinator_client):
    page = coordinator_client.get(RULES, headers=EN)
    assert page.status_code == 200 and "no house rules of its own yet" in text(page)
    # The guidance is written in the language of the coordinator who starts the draft.
    started = post_form(coordinator_client, f"{RULES}/draft/start", {}, form_path=RULES, headers=EN)
    assert started.status_code == 302 and started.headers["Location"] == f"{RULES}/draft"

    draft = coordinator_client.get(f"{RULES}/draft", headers=EN)
    assert draft.status_code == 200
    assert "The chair may invite an expert who is not a member" in text(draft)  # composition and operation
    assert "the consent of the partner who brought it" in text(draft)  # information management
    [rules] = versions(app, cells[LEUVEN])
    assert rules.status == HouseRulesStatus.DRAFT and rules.version == 1 and rules.legal_basis is None
    assert all(getattr(rules, key) for key in CHAPTER_KEYS)
    # Starting again opens the same draft: one at a time.
    assert post_form(coordinator_client, f"{RULES}/draft/start", {}, form_path=RULES).status_code == 302
    assert len(versions(app, cells[LEUVEN])) == 1
    assert audit_entries(app, cells[LEUVEN], "house_rules.draft_started")[0].details == {"version": 1, "from_version": None}


def test_publishing_needs_every_chapter_and_a_complete_legal_basis_and_saves_nothing_otherwise(app, cells, coordinator_client):
    post_form(coordinator_client, f"{RULES}/draft/start", {}, form_path=RULES)
    [before] = versions(app, cells[LEUVEN])
    gate = undertaking_version(app, cells[LEUVEN])

    refused = post_form(coordinator_client, f"{RULES}/draft", draft_form(
        action="publish", minutes="", general="Our very own general chapter.", legal_basis=""), headers=EN)
    assert refused.status_code == 422
    page = text(refused)
    hidden = r'(?:<span class="govuk-visually-hidden">[^<]*</span>\s*)?'  # "Error:", for screen readers
    assert re.search(rf'id="e-minutes">{hidden}Write this chapter before publishing\.', page)
    assert re.search(rf'id="e-legal_basis">{hidden}Choose the legal basis of the case consultation\.', page)
    assert "Our very own general chapter." in page  # what was typed is shown again
    assert "e-general" not in page

    consent = post_form(coordinator_client, f"{RULES}/draft", draft_form(action="publish", legal_basis="prosecutor_consent"),
                        headers=EN)
    assert consent.status_code == 422
    assert "Give the reference of the public prosecutor's consent." in text(consent)
    assert "Give the date of the public prosecutor's consent." in text(consent)
    future = (date.today() + timedelta(days=3)).isoformat()
    early = post_form(coordinator_client, f"{RULES}/draft", draft_form(
        legal_basis="prosecutor_consent", consent_reference="PK/2026/17", consent_date=future), headers=EN)
    assert early.status_code == 422 and "cannot lie in the future" in text(early)

    [after] = versions(app, cells[LEUVEN])
    assert (after.general, after.minutes, after.legal_basis) == (before.general, before.minutes, None)
    assert after.status == HouseRulesStatus.DRAFT
    assert undertaking_version(app, cells[LEUVEN]) == gate
    assert audit_entries(app, cells[LEUVEN], "house_rules.draft_changed") == []
    assert audit_entries(app, cells[LEUVEN], "request.refused")[-1].details["status"] == 422

    # A draft may stay incomplete while it is written; the publication page says what is missing.
    saved = post_form(coordinator_client, f"{RULES}/draft", draft_form(minutes="", legal_basis=""))
    assert saved.status_code == 302
    confirm = coordinator_client.get(f"{RULES}/draft/publish", headers=EN)
    assert "cannot be published yet" in text(confirm) and "Minutes: Write this chapter before publishing." in text(confirm)
    forced = post_form(coordinator_client, f"{RULES}/draft/publish", {"confirm": "yes"}, headers=EN)
    assert forced.status_code == 422
    assert versions(app, cells[LEUVEN])[0].status == HouseRulesStatus.DRAFT


def test_publishing_asks_for_confirmation_and_makes_every_member_accept_again(app, cells, coordinator, coordinator_client, partner):
    partner_client = app.test_client()
    sign_in(partner_client, partner)
    assert partner_client.get(f"/{LEUVEN}/home").status_code == 200

    post_form(coordinator_client, f"{RULES}/draft/start", {}, form_path=RULES)
    post_form(coordinator_client, f"{RULES}/draft", draft_form(action="publish"))
    unconfirmed = post_form(coordinator_client, f"{RULES}/draft/publish", {}, headers=EN)
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in text(unconfirmed)
    assert versions(app, cells[LEUVEN])[0].status == HouseRulesStatus.DRAFT
    # The undertaking's text is written in the language of the coordinator who publishes.
    assert post_form(coordinator_client, f"{RULES}/draft/publish", {"confirm": "yes"}, headers=EN).status_code == 302

    [rules] = versions(app, cells[LEUVEN])
    assert rules.status == HouseRulesStatus.PUBLISHED and rules.published_by_id == coordinator.membership_id
    assert rules.undertaking_version == undertaking_version(app, cells[LEUVEN]) == 2
    [entry] = audit_entries(app, cells[LEUVEN], "house_rules.published")
    assert entry.details == {"version": 1, "undertaking_version": 2, "superseded_version": None}

    gate = partner_client.get(f"/{LEUVEN}/home")
    assert gate.status_code == 302 and gate.headers["Location"].startswith(f"/{LEUVEN}/undertaking")
    undertaking = text(partner_client.get(f"/{LEUVEN}/undertaking", headers=EN))
    assert "Legal basis: the law of 30 July 2018" in undertaking
    for chapter in ("We meet in the town hall, every first Tuesday of the month.", "- who was present",
                    "The chair may invite an expert for one case."):
        assert f"<p>{chapter}</p>" in undertaking
    assert "article 458ter of the Criminal Code" in undertaking  # the secrecy undertaking stays

    # The coordinator sees who has not accepted yet; the partner only how many did.
    overview = text(coordinator_client.get(RULES, headers=EN))
    assert "0 of the 2 members of the cell accepted the current version." in overview
    assert f'data-membership="{partner.membership_id}"' in overview
    assert post_form(partner_client, f"/{LEUVEN}/undertaking", {"accept": "yes"}).status_code == 302
    assert partner_client.get(f"/{LEUVEN}/home").status_code == 200
    seen_by_partner = text(partner_client.get(RULES, headers=EN))
    assert "1 of the 2 members of the cell accepted the current version." in seen_by_partner
    assert "data-membership" not in seen_by_partner and "Start a new draft" not in seen_by_partner
    assert "We meet in the town hall" in seen_by_partner


def test_a_published_version_never_changes_a_new_draft_copies_it_and_old_versions_stay_readable(app, cells, coordinator_client):
    publish_through_the_pages(coordinator_client)
    post_form(coordinator_client, f"{RULES}/draft/start", {}, form_path=RULES)
    draft = text(coordinator_client.get(f"{RULES}/draft", headers=EN))
    assert "Draft of the house rules, version 2" in draft and CHAPTERS["place_date"] in draft

    changed = post_form(coordinator_client, f"{RULES}/draft", draft_form(place_date="We now meet at the police station."))
    assert changed.status_code == 302
    first, second = versions(app, cells[LEUVEN])
    assert first.place_date == CHAPTERS["place_date"] and first.status == HouseRulesStatus.PUBLISHED
    assert second.place_date == "We now meet at the police station." and second.general == first.general

    post_form(coordinator_client, f"{RULES}/draft", draft_form(action="publish", place_date="We now meet at the police station."))
    assert post_form(coordinator_client, f"{RULES}/draft/publish", {"confirm": "yes"}, headers=EN).status_code == 302
    first, second = versions(app, cells[LEUVEN])
    assert (first.status, second.status) == (HouseRulesStatus.SUPERSEDED, HouseRulesStatus.PUBLISHED)
    assert audit_entries(app, cells[LEUVEN], "house_rules.published")[-1].details["superseded_version"] == 1

    overview = text(coordinator_client.get(RULES, headers=EN))
    assert "Version 2, in force since" in overview and "police station" in overview
    assert f'href="{RULES}/1"' in overview
    old = coordinator_client.get(f"{RULES}/1", headers=EN)
    assert old.status_code == 200 and "no longer in force" in text(old) and CHAPTERS["place_date"] in text(old)
    assert coordinator_client.get(f"{RULES}/3").status_code == 404


def test_a_discarded_draft_leaves_the_rules_in_force_alone(app, cells, coordinator_client):
    publish_through_the_pages(coordinator_client)
    post_form(coordinator_client, f"{RULES}/draft/start", {}, form_path=RULES)
    post_form(coordinator_client, f"{RULES}/draft", draft_form(general="A change nobody wants."))
    assert post_form(coordinator_client, f"{RULES}/draft/discard", {}).status_code == 422
    assert post_form(coordinator_client, f"{RULES}/draft/discard", {"confirm": "yes"}).status_code == 302
    [rules] = versions(app, cells[LEUVEN])
    assert rules.status == HouseRulesStatus.PUBLISHED and rules.general == CHAPTERS["general"]
    assert audit_entries(app, cells[LEUVEN], "house_rules.draft_discarded")[0].details == {"version": 2}
    assert coordinator_client.get(f"{RULES}/draft").headers["Location"] == RULES


# --- who may do what ------------------------------------------------------------------------


def test_a_partner_reads_the_house_rules_but_cannot_write_them_and_the_refusals_are_audited(app, cells, coordinator_client, partner):
    publish_through_the_pages(coordinator_client)
    client = app.test_client()
    sign_in(client, partner)
    assert client.get(RULES).status_code == 200 and client.get(f"{RULES}/1").status_code == 200
    for path in ("/draft", "/draft/publish", "/draft/discard"):
        assert client.get(f"{RULES}{path}").status_code == 403, path
    token = client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    assert client.post(f"{RULES}/draft/start", data={"csrf_token": token}).status_code == 403
    headers = {"X-CSRFToken": token}
    assert client.put(f"{API}/draft", json={"general": "Mine now."}, headers=headers).status_code == 403
    assert client.post(f"{API}/publish", headers=headers).status_code == 403
    assert client.delete(f"{API}/draft", headers=headers).status_code == 403

    denied = audit_entries(app, cells[LEUVEN], "access.denied")
    assert len(denied) == 7 and {entry.details["action"] for entry in denied} == {"house_rules.manage"}
    [rules] = versions(app, cells[LEUVEN])
    assert rules.general == CHAPTERS["general"]


def test_a_guest_expert_reads_the_rules_only_through_the_undertaking(app, cells, coordinator_client):
    publish_through_the_pages(coordinator_client)
    guest = add_member(app, cells[LEUVEN], LEUVEN, Role.GUEST_EXPERT)
    client = app.test_client()
    sign_in(client, guest, accept_undertaking=False)
    assert CHAPTERS["place_date"] in text(client.get(f"/{LEUVEN}/undertaking"))
    assert client.get(RULES).status_code == 403 and client.get(API).status_code == 403


# --- the JSON API ---------------------------------------------------------------------------


def test_the_api_writes_checks_publishes_and_discards_drafts(app, cells, coordinator, coordinator_client, partner):
    client = coordinator_client
    headers = api_headers(client)
    empty = client.get(API).get_json()
    assert empty["house_rules"] is None and empty["versions"] == [] and empty["draft"] is None

    started = client.put(f"{API}/draft", json={"general": CHAPTERS["general"]}, headers=headers)
    assert started.status_code == 200
    draft = started.get_json()["house_rules"]
    assert draft["version"] == 1 and draft["status"] == "draft" and draft["general"] == CHAPTERS["general"]
    assert draft["minutes"]  # the other chapters start from the guidance

    refused = client.post(f"{API}/publish", headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"legal_basis": ["Choose the legal basis of the case consultation."]}
    client.put(f"{API}/draft", json={"legal_basis": "prosecutor_consent", "minutes": None}, headers=headers)
    refused = client.post(f"{API}/publish", headers=headers).get_json()["error"]["fields"]
    assert set(refused) == {"minutes", "consent_reference", "consent_date"}
    assert undertaking_version(app, cells[LEUVEN]) == 1 and versions(app, cells[LEUVEN])[0].status == HouseRulesStatus.DRAFT

    client.put(f"{API}/draft", headers=headers, json={
        "minutes": CHAPTERS["minutes"], "consent_reference": "PK Leuven 2026/17", "consent_date": "2026-01-15"})
    published = client.post(f"{API}/publish", headers=headers)
    assert published.status_code == 200 and published.headers["Location"] == f"{API}/1"
    body = published.get_json()["house_rules"]
    assert body["status"] == "published" and body["undertaking_version"] == 2
    assert (body["legal_basis"], body["consent_reference"], body["consent_date"]) == (
        "prosecutor_consent", "PK Leuven 2026/17", "2026-01-15")

    overview = client.get(API).get_json()
    assert overview["house_rules"]["version"] == 1 and [v["version"] for v in overview["versions"]] == [1]
    acceptance = overview["acceptance"]
    assert (acceptance["undertaking_version"], acceptance["accepted"], acceptance["members"]) == (2, 0, 2)
    assert {m["membership_id"] for m in acceptance["pending"]} == {coordinator.membership_id, partner.membership_id}

    # A change is a new draft, copied from the version in force; the law replaces the consent.
    second = client.put(f"{API}/draft", json={"legal_basis": "law_2018"}, headers=headers).get_json()["house_rules"]
    assert second["version"] == 2 and second["minutes"] == CHAPTERS["minutes"]
    assert (second["consent_reference"], second["consent_date"]) == (None, None)
    assert client.get(f"{API}/1").get_json()["house_rules"]["legal_basis"] == "prosecutor_consent"
    assert client.get(f"{API}/2").get_json()["house_rules"]["status"] == "draft"
    assert client.delete(f"{API}/draft", headers=headers).status_code == 204
    assert client.delete(f"{API}/draft", headers=headers).status_code == 422
    assert client.get(f"{API}/2").status_code == 404
    assert [rules.version for rules in versions(app, cells[LEUVEN])] == [1]


def test_the_api_answers_bad_bodies_field_by_field_and_refuses_changes_without_csrf(app, cells, coordinator_client):
    headers = api_headers(coordinator_client)
    response = coordinator_client.put(f"{API}/draft", headers=headers, json={
        "legal_basis": "a hunch", "consent_date": "last week", "general": "x" * 20001})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert fields == {
        "legal_basis": ["Choose one of the legal bases."],
        "consent_date": ["Enter a date as YYYY-MM-DD."],
        "general": ["At most 20000 characters."],
    }
    assert coordinator_client.put(f"{API}/draft", json={"general": "x"}, headers=EN).status_code == 400
    assert coordinator_client.put(f"{API}/draft", data="general=x", headers=headers).status_code == 415
    assert versions(app, cells[LEUVEN]) == []


def test_the_api_shows_members_neither_the_draft_nor_who_has_not_accepted(app, cells, coordinator_client, partner):
    publish_through_the_pages(coordinator_client)
    coordinator_client.put(f"{API}/draft", json={"general": "Not for everyone yet."}, headers=api_headers(coordinator_client))
    client = app.test_client()
    sign_in(client, partner)
    overview = client.get(API).get_json()
    assert "draft" not in overview and "pending" not in overview["acceptance"]
    assert overview["acceptance"]["accepted"] == 1 and overview["house_rules"]["place_date"] == CHAPTERS["place_date"]
    assert client.get(f"{API}/1").status_code == 200
    assert client.get(f"{API}/2").status_code == 404


def test_another_cells_house_rules_look_like_versions_that_do_not_exist(app, cells, coordinator_client):
    publish_through_the_pages(coordinator_client)
    stranger = add_member(app, cells[HERKO], HERKO, Role.COORDINATOR)
    client = app.test_client()
    sign_in(client, stranger)
    assert client.get(f"/{HERKO}/house-rules/1").status_code == 404
    assert client.get(f"/{HERKO}/api/house-rules/1").status_code == 404
    assert client.get(f"/{HERKO}/api/house-rules").get_json()["versions"] == []


def test_two_coordinators_starting_a_draft_at_once_share_one_draft(postgres_app):
    """The second start waits for the first transaction and then continues with its draft
    (no error page, no second draft)."""
    import threading

    from conftest import seed_demo_tenants
    from livc.tenants.house_rules.operations import start_draft

    app = postgres_app
    cells = seed_demo_tenants(app)
    first = add_member(app, cells[LEUVEN], LEUVEN, Role.COORDINATOR)
    second = add_member(app, cells[LEUVEN], LEUVEN, Role.COORDINATOR, "second.coordinator@example.test")
    from livc.tenants.members.models import Membership

    found: dict[str, int] = {}

    def start_as_second() -> None:
        with app.test_request_context(), tenant_context(cells[LEUVEN]):
            found["second"] = start_draft(db.session.get(Membership, second.membership_id)).version
            db.session.commit()
            db.session.remove()

    with app.test_request_context(), tenant_context(cells[LEUVEN]):
        found["first"] = start_draft(db.session.get(Membership, first.membership_id)).version
        racing = threading.Thread(target=start_as_second)
        racing.start()
        racing.join(timeout=1)
        assert racing.is_alive()  # waiting on the first draft's transaction
        db.session.commit()
        db.session.remove()
    racing.join(timeout=10)
    assert found == {"first": 1, "second": 1}
    drafts = [rules for rules in versions(app, cells[LEUVEN]) if rules.status == HouseRulesStatus.DRAFT]
    assert len(drafts) == 1
    entries = audit_entries(app, cells[LEUVEN], "house_rules.draft_started")
    assert len(entries) == 1, [(e.actor, e.details, e.subject) for e in entries]
