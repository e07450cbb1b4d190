"""The bringing partner's consent (issue 18, part 3; seed 001: information is registered "only
with the consent of the partner who brought it").

A signal's observation, a progress note and an agenda item's contribution carry the bringing
partner's choice: registered, or shared orally only (no content stored, not even encrypted; the
pages say "shared orally, not registered"). Nobody registers it in their place; the bringer may
change the choice later, and every change is audited with ids only. Through the pages and the
API, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session
from case_helpers import LEUVEN, membership, open_case, ready_cell
from livc.app.demo import seed_demo
from livc.platform import migrating
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.settings import load_settings
from livc.tenants.cases.models import ProgressNote
from livc.tenants.cell.models import Table, TableSeat
from livc.tenants.meetings import operations as meetings
from livc.tenants.meetings.models import AgendaItem, Attendance, Meeting
from livc.tenants.signals.models import Signal

ORAL = "Shared orally, not registered"
SAID = "The mother says he no longer sleeps at home and talks of leaving for good."
RULE = "seed 001"


@pytest.fixture
def cell(app, cells):
    """A ready cell whose members all sit at its main table."""
    cell = ready_cell(app, cells[LEUVEN], LEUVEN)
    with app.app_context(), tenant_context(cell.tenant_id):
        table = db.session.scalars(sa.select(Table)).first()
        for member in cell.members():
            db.session.add(TableSeat(table_id=table.id, membership_id=member.membership_id))
        db.session.commit()
        cell.table_id = table.id
        db.session.remove()
    return cell


def signed_in(app, member):
    """A member's browser reading English, with the CSRF header of their session."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    give_session(app, client, member)
    token = client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    client.environ_base["HTTP_X_CSRFTOKEN"] = token
    return client


def fields_of(response) -> dict:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True))
    return response.get_json()["error"]["fields"]


def text(response) -> str:
    return response.get_data(as_text=True)


def trail(app, cell, action: str) -> list[AuditEntry]:
    with app.app_context(), tenant_context(cell.tenant_id):
        entries = list(db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)))
        db.session.remove()
    return entries


def stored(app, cell, model, record_id: int, column: str):
    with app.app_context(), tenant_context(cell.tenant_id):
        value = db.session.execute(sa.select(getattr(model, column)).where(model.id == record_id)).scalar_one()
        db.session.remove()
    return value


def count(app, cell, model) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        found = db.session.scalar(sa.select(sa.func.count(model.id)))
        db.session.remove()
    return found


# --- signals ------------------------------------------------------------------------------------

INTAKE = {"internal_assessment": "done", "urgency": "normal"}


def test_a_signal_shared_orally_only_keeps_no_observation_and_says_so(app, cell):
    partner = signed_in(app, cell.partner)
    before = count(app, cell, Signal)

    refused = partner.post(f"/{LEUVEN}/signals/new",
                           data={**INTAKE, "registration": "oral_only", "observation": SAID})
    assert refused.status_code == 422
    assert "nothing of what was said is kept" in text(refused) and SAID in text(refused)  # what was typed stays
    assert count(app, cell, Signal) == before

    recorded = partner.post(f"/{LEUVEN}/signals/new", data={**INTAKE, "registration": "oral_only"})
    assert recorded.status_code == 302
    signal_id = int(recorded.headers["Location"].rstrip("/").split("/")[-1])
    assert stored(app, cell, Signal, signal_id, "observation_ciphertext") is None
    page = text(partner.get(f"/{LEUVEN}/signals/{signal_id}"))
    assert ORAL in page
    answer = partner.get(f"/{LEUVEN}/api/signals/{signal_id}").get_json()["signal"]
    assert answer["registration"] == "oral_only" and answer["observation"] is None
    assert answer["registration_label"] == ORAL
    assert trail(app, cell, "signal.recorded")[-1].details["registration"] == "oral_only"

    # A registered signal still needs what was observed.
    assert set(fields_of(partner.post(f"/{LEUVEN}/api/signals", json={**INTAKE}))) == {"observation"}


def test_only_the_reporter_changes_a_signals_choice_and_each_change_is_audited(app, cell):
    partner, coordinator = signed_in(app, cell.partner), signed_in(app, cell.coordinator)
    created = partner.post(f"/{LEUVEN}/api/signals", json={**INTAKE, "registration": "oral_only"})
    assert created.status_code == 201
    signal_id = created.get_json()["signal"]["id"]
    path = f"/{LEUVEN}/api/signals/{signal_id}/registration"

    # The coordinator cannot register it in the reporter's place.
    refused = fields_of(coordinator.put(path, json={"registration": "registered", "observation": SAID}))
    assert set(refused) == {"registration"} and RULE in refused["registration"][0]
    # The reporter registers it only with what was observed.
    assert set(fields_of(partner.put(path, json={"registration": "registered"}))) == {"observation"}
    assert stored(app, cell, Signal, signal_id, "observation_ciphertext") is None

    registered = partner.put(path, json={"registration": "registered", "observation": SAID})
    assert registered.status_code == 200 and registered.get_json()["signal"]["observation"] == SAID
    assert SAID in text(coordinator.get(f"/{LEUVEN}/signals/{signal_id}"))

    # Back to oral only through the page: the observation is erased.
    back = partner.post(f"/{LEUVEN}/signals/{signal_id}/registration", data={"registration": "oral_only"})
    assert back.status_code == 302
    assert stored(app, cell, Signal, signal_id, "observation_ciphertext") is None
    assert ORAL in text(coordinator.get(f"/{LEUVEN}/signals/{signal_id}"))

    changes = trail(app, cell, "signal.registration_changed")
    assert [(e.details["from"], e.details["to"]) for e in changes] == [("oral_only", "registered"), ("registered", "oral_only")]
    assert all(SAID not in str(e.details) and e.details["signal_id"] == signal_id for e in changes)


# --- progress notes -----------------------------------------------------------------------------


def test_the_coordinator_cannot_register_a_note_for_a_partner_only_record_it_was_shared_orally(app, cell):
    case_id, _code = open_case(app, cell)
    coordinator, partner = signed_in(app, cell.coordinator), signed_in(app, cell.partner)
    notes = f"/{LEUVEN}/cases/{case_id}/notes"
    brought = {"brought_by_id": cell.partner.membership_id, "visibility": "team"}

    refused = coordinator.post(notes, data={**brought, "registration": "registered", "body": SAID})
    assert refused.status_code == 422
    assert "Only the partner who brought this information registers it" in text(refused) and RULE in text(refused)
    api_refused = fields_of(coordinator.post(f"/{LEUVEN}/api/cases/{case_id}/notes",
                                             json={**brought, "registration": "registered", "body": SAID}))
    assert set(api_refused) == {"registration"}
    outside = fields_of(coordinator.post(f"/{LEUVEN}/api/cases/{case_id}/notes", json={
        "brought_by_id": cell.social.membership_id, "visibility": "team", "registration": "oral_only"}))
    assert set(outside) == {"brought_by_id"}  # only a member of the case team brings a note on it
    assert count(app, cell, ProgressNote) == 0

    recorded = coordinator.post(notes, data={**brought, "registration": "oral_only"})
    assert recorded.status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        note = db.session.scalars(sa.select(ProgressNote)).one()
        assert note.body_ciphertext is None and note.brought_by_id == cell.partner.membership_id
        db.session.remove()
    seen = text(partner.get(f"/{LEUVEN}/cases/{case_id}"))
    assert ORAL in seen and "Brought by" in seen
    listed = partner.get(f"/{LEUVEN}/api/cases/{case_id}").get_json()["case"]["notes"]
    assert [(n["registration"], n["body"], n["brought_by_id"]) for n in listed] == [
        ("oral_only", None, cell.partner.membership_id)]


def test_the_partner_who_brought_a_note_registers_it_later_or_takes_it_back(app, cell):
    case_id, _code = open_case(app, cell)
    coordinator, partner = signed_in(app, cell.coordinator), signed_in(app, cell.partner)
    added = coordinator.post(f"/{LEUVEN}/api/cases/{case_id}/notes", json={
        "brought_by_id": cell.partner.membership_id, "visibility": "team", "registration": "oral_only"})
    assert added.status_code == 201
    note_id = added.get_json()["note"]["id"]
    api = f"/{LEUVEN}/api/cases/{case_id}/notes/{note_id}/registration"

    assert RULE in fields_of(coordinator.put(api, json={"registration": "registered", "body": SAID}))["registration"][0]
    refused = partner.post(f"/{LEUVEN}/cases/{case_id}/notes/{note_id}/registration", data={"registration": "registered"})
    assert refused.status_code == 422 and "Write down what is registered." in text(refused)
    assert stored(app, cell, ProgressNote, note_id, "body_ciphertext") is None

    registered = partner.post(f"/{LEUVEN}/cases/{case_id}/notes/{note_id}/registration",
                              data={"registration": "registered", "body": SAID})
    assert registered.status_code == 302
    assert SAID in text(coordinator.get(f"/{LEUVEN}/cases/{case_id}"))

    taken_back = partner.put(api, json={"registration": "oral_only"})
    assert taken_back.status_code == 200 and taken_back.get_json()["note"]["body"] is None
    assert stored(app, cell, ProgressNote, note_id, "body_ciphertext") is None
    assert SAID not in text(coordinator.get(f"/{LEUVEN}/cases/{case_id}"))

    changes = trail(app, cell, "case.note_registration_changed")
    assert [(e.details["note_id"], e.details["from"], e.details["to"]) for e in changes] == [
        (note_id, "oral_only", "registered"), (note_id, "registered", "oral_only")]
    assert all(SAID not in str(e.details) for e in changes)


def test_a_note_the_author_brings_orally_only_keeps_no_text(app, cell):
    case_id, _code = open_case(app, cell)
    partner = signed_in(app, cell.partner)
    refused = fields_of(partner.post(f"/{LEUVEN}/api/cases/{case_id}/notes",
                                     json={"visibility": "team", "registration": "oral_only", "body": SAID}))
    assert set(refused) == {"body"}
    added = partner.post(f"/{LEUVEN}/api/cases/{case_id}/notes", json={"visibility": "team", "registration": "oral_only"})
    assert added.status_code == 201 and added.get_json()["note"]["registration_label"] == ORAL
    assert stored(app, cell, ProgressNote, added.get_json()["note"]["id"], "body_ciphertext") is None


# --- agenda items and minutes -------------------------------------------------------------------


def _meeting_in_session(app, cell) -> int:
    starts = datetime.combine(date.today(), datetime.min.time()).replace(hour=9)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        coordinator = membership(cell.coordinator)
        meeting = meetings.plan_meeting(coordinator, {
            "table_id": cell.table_id, "starts_at": starts, "ends_at": starts + timedelta(hours=2),
            "place": "Town hall, room 2"})
        meetings.open_session(meeting, coordinator)
        meetings.record_attendance(meeting, coordinator, {m.membership_id: Attendance.PRESENT for m in cell.members()})
        db.session.commit()
        meeting_id = meeting.id
        db.session.remove()
    return meeting_id


def test_the_minutes_cannot_register_a_contribution_its_partner_shares_orally_only(app, cell):
    meeting_id = _meeting_in_session(app, cell)
    coordinator, partner = signed_in(app, cell.coordinator), signed_in(app, cell.partner)
    items = f"/{LEUVEN}/api/meetings/{meeting_id}/items"
    point = {"title": "Worries at school", "brought_by_id": cell.partner.membership_id}

    # Put on the agenda for the partner: only as shared orally.
    refused = fields_of(coordinator.post(items, json={**point, "registration": "registered"}))
    assert set(refused) == {"registration"} and RULE in refused["registration"][0]
    added = coordinator.post(items, json={**point, "registration": "oral_only"})
    assert added.status_code == 201
    item_id = added.get_json()["item_id"]

    # The secretary's minutes keep no summary of it: page and API refuse, naming the rule.
    minutes = f"/{LEUVEN}/meetings/{meeting_id}/minutes/items/{item_id}"
    page = coordinator.post(minutes, data={"summary": SAID})
    assert page.status_code == 422 and RULE in text(page) and "shared it orally only" in text(page)
    api = fields_of(coordinator.post(f"/{LEUVEN}/api/meetings/{meeting_id}/minutes/items/{item_id}", json={"summary": SAID}))
    assert set(api) == {"summary"}
    assert stored(app, cell, AgendaItem, item_id, "summary_ciphertext") is None
    handled = coordinator.post(minutes, data={"off_the_record": ""})
    assert handled.status_code == 302
    assert ORAL in text(coordinator.get(f"/{LEUVEN}/meetings/{meeting_id}/minutes"))
    agenda = coordinator.get(f"/{LEUVEN}/api/meetings/{meeting_id}").get_json()["meeting"]["agenda"]
    assert [(i["registration"], i["summary"], i["handled"]) for i in agenda] == [("oral_only", None, True)]

    # The partner registers what they brought, then takes it back; the coordinator cannot.
    change = f"/{LEUVEN}/api/meetings/{meeting_id}/items/{item_id}/registration"
    assert RULE in fields_of(coordinator.put(change, json={"registration": "registered", "summary": SAID}))["registration"][0]
    assert partner.put(change, json={"registration": "registered", "summary": SAID}).status_code == 200
    assert SAID in text(coordinator.get(f"/{LEUVEN}/meetings/{meeting_id}/minutes"))
    back = partner.post(f"/{LEUVEN}/meetings/{meeting_id}/minutes/items/{item_id}/registration",
                        data={"registration": "oral_only"})
    assert back.status_code == 302
    assert stored(app, cell, AgendaItem, item_id, "summary_ciphertext") is None
    changes = trail(app, cell, "meeting.item_registration_changed")
    assert [(e.details["item"], e.details["to"]) for e in changes] == [(item_id, "registered"), (item_id, "oral_only")]
    assert all(SAID not in str(e.details) for e in changes)


def test_a_signal_shared_orally_only_stays_oral_only_on_the_agenda(app, cell):
    partner = signed_in(app, cell.partner)
    created = partner.post(f"/{LEUVEN}/api/signals", json={**INTAKE, "registration": "oral_only"})
    reference = created.get_json()["signal"]["reference"]
    meeting_id = _meeting_in_session(app, cell)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        meetings.take_up(db.session.get(Meeting, meeting_id), membership(cell.coordinator))
        db.session.commit()
        item = db.session.scalars(sa.select(AgendaItem).where(AgendaItem.reference == reference)).one()
        assert item.registration == "oral_only" and item.brought_by_id == cell.partner.membership_id
        db.session.remove()


# --- the demo -----------------------------------------------------------------------------------


def test_the_demo_shows_a_note_shared_orally_only_once(app):
    with app.app_context():
        tenants = {tenant.slug: tenant.id for tenant in seed_demo(with_members=True)}
        seed_demo(with_members=True)  # seeding again adds none
        db.session.remove()
    for tenant_id in tenants.values():
        with app.app_context(), tenant_context(tenant_id):
            oral = db.session.scalars(sa.select(ProgressNote).where(ProgressNote.registration == "oral_only")).all()
            assert len(oral) == 1 and oral[0].body_ciphertext is None
            assert oral[0].brought_by_id is not None and oral[0].brought_by_id != oral[0].author_id
            db.session.remove()


def test_the_consent_migration_keeps_signal_ids_from_being_reused_on_sqlite(tmp_path):
    """Migration 0022 rebuilds the signals table on SQLite: its ids name key scopes, so it keeps
    AUTOINCREMENT, both ways."""
    settings = load_settings({"data_dir": str(tmp_path)})

    def signals_table() -> str:
        engine = sa.create_engine(settings.migration_url, poolclass=sa.pool.NullPool)
        with engine.connect() as connection:
            sql = connection.execute(sa.text("select sql from sqlite_master where name = 'signals'")).scalar()
        engine.dispose()
        return sql

    migrating.upgrade(settings, "0022")
    assert "AUTOINCREMENT" in signals_table() and "registration" in signals_table()
    migrating.downgrade(settings, "0021")
    assert "AUTOINCREMENT" in signals_table() and "registration" not in signals_table()
