"""The strategic table's policy follow-up (issue 17, point 5; seeds 003 and 004).

Its entries (working agreements with the LTF, priorities, the yearly evaluation...) are recorded
jointly: proposed by one member at the strategic table and confirmed by another, or taken in the
strategic table's meeting in session. The owner (or the coordinator) reports on the status,
directly. Only the strategic table sees it: its members by office, by seat, and the secretary.
Runs on SQLite and PostgreSQL; members get a server-side session directly and accepted the
secrecy undertaking (``ready_cell``: an integrated cell, whose one table serves as the strategic
table once it has one).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import add_member, give_session, post_form
from case_helpers import HERKO, LEUVEN, membership, ready_cell
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.tenants.cell.models import CellForm, TableKind
from livc.tenants.cell.operations import add_seat, change_profile, create_table
from livc.tenants.decisions.models import DecisionStatus, Proposal, TakenIn
from livc.tenants.meetings.models import Attendance
from livc.tenants.meetings.operations import open_session, plan_meeting, record_attendance
from livc.tenants.members.operations import accept_undertaking
from livc.tenants.strategy.models import EntryStatus, PolicyEntry
from livc.tenants.strategy.operations import propose_entry

EN = {"Accept-Language": "en"}
PAGE = f"/{LEUVEN}/strategy"
API = f"/{LEUVEN}/api/strategy"


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN, table=False)  # the tests seat their own tables


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

    def post(self, path: str, body=None):
        return self.client.post(path, json={} if body is None else body, headers=self.headers)


def text(response) -> str:
    return response.get_data(as_text=True)


def menu(page: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main menu".*?</nav>', page, re.S)
    return re.findall(r'class="govuk-service-navigation__link"[^>]*>\s*(.*?)\s*</a>', nav.group(0), re.S) if nav else []


def form(owner_id: int, **overrides) -> dict:
    return {
        "kind": "ltf_agreement",
        "title": "Working agreement on the feedback forms to the LTF",
        "text": "The information officer passes each released form on within five working days.",
        "owner_membership_id": str(owner_id),
        "decided_on": (date.today() - timedelta(days=3)).isoformat(),
        "due_on": (date.today() + timedelta(days=60)).isoformat(),
        "year": str(date.today().year),
        "way": "propose",
        **overrides,
    }


def seat(app, cell, *members, kind: TableKind = TableKind.MAIN) -> int:
    """Give the cell a table serving as its strategic table (the integrated cell's main table, or
    a strategic table after changing the form) and seat ``members`` at it: the table's id."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        if kind == TableKind.STRATEGIC:
            change_profile({"form": CellForm.STRATEGIC_OPERATIONAL})
        table = create_table(kind=kind, name="Strategic table" if kind == TableKind.STRATEGIC else "LIVC-R",
                             chair_membership_id=cell.mayor.membership_id)
        for member in members:
            add_seat(table, membership_id=member.membership_id)
        table_id = table.id
        db.session.commit()
        db.session.remove()
    return table_id


def stored(app, cell, entry_id: int) -> dict:
    with app.app_context(), tenant_context(cell.tenant_id):
        entry = db.session.get(PolicyEntry, entry_id)
        proposal = db.session.get(Proposal, entry.proposal_id)
        found = {"recorded": entry.recorded_at is not None, "status": entry.status, "meeting_id": entry.meeting_id,
                 "decision": proposal.status, "taken_in": proposal.taken_in, "reports": len(entry.reports),
                 "participants": proposal.participant_ids}
        db.session.remove()
    return found


def only_entry_id(app, cell) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        ids = list(db.session.scalars(sa.select(PolicyEntry.id)))
        db.session.remove()
    assert len(ids) == 1, ids
    return ids[0]


def recorded_entry(app, cell, proposer, confirmer, **values) -> int:
    """An entry proposed by ``proposer`` and confirmed by ``confirmer``: its id."""
    api = Api(app, proposer)
    answer = api.post(API, {k: v for k, v in form(cell.mayor.membership_id, **values).items() if v is not None})
    assert answer.status_code == 202, text(answer)
    decision_id = answer.get_json()["decision"]["id"]
    confirmed = Api(app, confirmer).post(f"/{LEUVEN}/api/decisions/{decision_id}/confirm")
    assert confirmed.status_code == 200, text(confirmed)
    return answer.get_json()["entry"]["id"]


# --- a joint decision --------------------------------------------------------------------------


def test_one_member_alone_cannot_record_an_entry_a_second_member_at_the_table_confirms_it(app, cell):
    mayor, coordinator = client_for(app, cell.mayor), client_for(app, cell.coordinator)
    sent = post_form(mayor, f"{PAGE}/new", form(cell.mayor.membership_id), headers=EN)
    assert sent.status_code == 302
    entry_id = only_entry_id(app, cell)
    page = text(mayor.get(sent.headers["Location"], headers=EN))
    assert "The entry is proposed: it is recorded once another member at the strategic table confirms it." in page
    assert stored(app, cell, entry_id)["recorded"] is False
    # Waiting, not in the list of recorded entries.
    listing = text(mayor.get(PAGE, headers=EN))
    assert "Waiting for confirmation" in listing and 'data-year=' not in listing

    decision = db_proposal_id(app, cell, entry_id)
    # Its proposer cannot confirm it alone.
    own = post_form(mayor, f"/{LEUVEN}/decisions/{decision}/confirm", {}, form_path=f"/{LEUVEN}/decisions/{decision}", headers=EN)
    assert own.status_code == 422
    assert "another member of the cell confirms it, not you" in text(own)
    # A partner without a seat at the strategic table cannot either.
    partner = client_for(app, cell.partner)
    refused = post_form(partner, f"/{LEUVEN}/decisions/{decision}/confirm", {}, form_path=f"/{LEUVEN}/decisions/{decision}", headers=EN)
    assert refused.status_code == 422 and "Only a member at the strategic table confirms its entries." in text(refused)
    assert stored(app, cell, entry_id)["recorded"] is False

    confirmed = post_form(coordinator, f"/{LEUVEN}/decisions/{decision}/confirm", {},
                          form_path=f"/{LEUVEN}/decisions/{decision}", headers=EN)
    assert confirmed.status_code == 302
    state = stored(app, cell, entry_id)
    assert state["recorded"] and state["decision"] == DecisionStatus.TAKEN and state["taken_in"] == TakenIn.CONFIRMATION
    assert state["participants"] == {cell.mayor.membership_id, cell.coordinator.membership_id}
    listing = text(mayor.get(PAGE, headers=EN))
    assert f'data-year="{date.today().year}"' in listing and "Working agreement on the feedback forms to the LTF" in listing
    assert "No entry is waiting for confirmation." in listing
    with app.app_context(), tenant_context(cell.tenant_id):
        actions = set(db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.subject == f"policy_entry:{entry_id}")))
        db.session.remove()
    assert {"policy_entry.proposed", "policy_entry.recorded"} <= actions


def db_proposal_id(app, cell, entry_id: int) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        proposal_id = db.session.get(PolicyEntry, entry_id).proposal_id
        db.session.remove()
    return proposal_id


def test_the_strategic_tables_meeting_in_session_records_an_entry_at_once(app, cell):
    table_id = seat(app, cell, cell.mayor, cell.coordinator)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        coordinator = membership(cell.coordinator)
        starts = datetime.combine(date.today(), time(9, 0))
        meeting = plan_meeting(coordinator, {"table_id": table_id, "place": "Town hall",
                                             "starts_at": starts, "ends_at": starts + timedelta(hours=2)})
        open_session(meeting, coordinator)
        record_attendance(meeting, coordinator, {cell.mayor.membership_id: Attendance.PRESENT,
                                                 cell.coordinator.membership_id: Attendance.PRESENT})
        meeting_id = meeting.id
        db.session.commit()
        db.session.remove()
    mayor = client_for(app, cell.mayor)
    assert "Decided in the meeting now in session" in text(mayor.get(f"{PAGE}/new", headers=EN))
    sent = post_form(mayor, f"{PAGE}/new", form(cell.mayor.membership_id, kind="priority", way="meeting",
                                                 title="Priority: resilience of young people online"), headers=EN)
    assert sent.status_code == 302
    state = stored(app, cell, only_entry_id(app, cell))
    assert state["recorded"] and state["taken_in"] == TakenIn.MEETING and state["meeting_id"] == meeting_id
    assert state["participants"] == {cell.mayor.membership_id, cell.coordinator.membership_id}


def test_without_a_meeting_in_session_and_never_urgently_an_entry_is_only_proposed(app, cell):
    api = Api(app, cell.coordinator)
    assert set(api.post(API, form(cell.mayor.membership_id, way="meeting")).get_json()["error"]["fields"]) == {"way"}
    assert set(api.post(API, form(cell.mayor.membership_id, way="urgent")).get_json()["error"]["fields"]) == {"way"}
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PolicyEntry)) == 0
        db.session.remove()


# --- status reports ---------------------------------------------------------------------------------


def member_of(app, cell, role: Role, email: str | None = None):
    """A new member of the cell with ``role``, who accepted the secrecy undertaking."""
    member = add_member(app, cell.tenant_id, LEUVEN, role, email)
    with app.app_context(), tenant_context(cell.tenant_id):
        accept_undertaking(membership(member))
        db.session.commit()
        db.session.remove()
    return member


def test_the_owner_reports_the_status_with_a_dated_history_others_are_refused(app, cell):
    chief = member_of(app, cell, Role.POLICE_CHIEF)
    entry_id = recorded_entry(app, cell, cell.coordinator, cell.mayor)
    path = f"{PAGE}/{entry_id}"
    mayor = client_for(app, cell.mayor)  # the owner
    page = text(mayor.get(path, headers=EN))
    assert "Report on the status" in page and "No status report yet." in page

    done = post_form(mayor, f"{path}/status", {"status": "in_progress", "note": "Draft discussed with the LTF."},
                     form_path=path, headers=EN)
    assert done.status_code == 302
    page = text(mayor.get(path, headers=EN))
    assert "In progress" in page and "Draft discussed with the LTF." in page and "reported by Test mayor" in page
    assert stored(app, cell, entry_id)["status"] == EntryStatus.IN_PROGRESS

    # Dropping says why; the same status without a note changes nothing: 422, what was typed kept.
    dropped = post_form(mayor, f"{path}/status", {"status": "dropped"}, form_path=path, headers=EN)
    assert dropped.status_code == 422 and "Say in a short note why the entry is dropped." in text(dropped)
    same = post_form(mayor, f"{path}/status", {"status": "in_progress", "note": ""}, form_path=path, headers=EN)
    assert same.status_code == 422 and "Nothing changed" in text(same)
    too_long = post_form(mayor, f"{path}/status", {"status": "done", "note": "x" * 501}, form_path=path, headers=EN)
    assert too_long.status_code == 422 and "x" * 501 in text(too_long)

    # The police chief sits at the strategic table by office, but does not own the entry.
    chief_client = client_for(app, chief)
    assert "Report on the status" not in text(chief_client.get(path, headers=EN))
    refused = post_form(chief_client, f"{path}/status", {"status": "done", "note": "Not mine"}, form_path=f"{PAGE}/new", headers=EN)
    assert refused.status_code == 403
    # The coordinator may report on any entry.
    coordinator = Api(app, cell.coordinator)
    answer = coordinator.post(f"{API}/{entry_id}/status", {"status": "done", "note": "Signed by both parties."})
    assert answer.status_code == 201, text(answer)
    history = answer.get_json()["entry"]["history"]
    assert [(r["previous_status"], r["status"]) for r in history] == [("planned", "in_progress"), ("in_progress", "done")]
    assert stored(app, cell, entry_id)["reports"] == 2


def test_a_member_of_the_owning_organisation_reports_and_a_waiting_entry_has_no_status_yet(app, cell):
    seat(app, cell, cell.partner)
    organisation_id = organisation_of(app, cell, cell.partner)
    api = Api(app, cell.coordinator)
    waiting = api.post(API, form(cell.mayor.membership_id, owner_membership_id=None, owner_organisation_id=organisation_id))
    assert waiting.status_code == 202
    entry_id = waiting.get_json()["entry"]["id"]
    partner = Api(app, cell.partner)
    early = partner.post(f"{API}/{entry_id}/status", {"status": "in_progress"})
    assert early.status_code == 422 and "_schema" in early.get_json()["error"]["fields"]
    assert partner.post(f"/{LEUVEN}/api/decisions/{waiting.get_json()['decision']['id']}/confirm").status_code == 200
    answer = partner.post(f"{API}/{entry_id}/status", {"status": "in_progress", "note": "First session planned."})
    assert answer.status_code == 201
    assert answer.get_json()["entry"]["owner"] == {"type": "organisation", "membership_id": None,
                                                  "organisation_id": organisation_id, "name": "Test clb"}


def organisation_of(app, cell, member) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        organisation_id = membership(member).organisation_id
        db.session.remove()
    return organisation_id


# --- who sees it ------------------------------------------------------------------------------------


def test_the_mayor_and_the_coordinator_see_it_a_partner_without_a_seat_is_refused(app, cell):
    entry_id = recorded_entry(app, cell, cell.coordinator, cell.mayor)
    for member in (cell.mayor, cell.coordinator):
        client = client_for(app, member)
        assert client.get(PAGE, headers=EN).status_code == 200
        assert "Policy" in menu(text(client.get(f"/{LEUVEN}/home", headers=EN)))
    partner = client_for(app, cell.partner)
    for path in (PAGE, f"{PAGE}/{entry_id}", f"{PAGE}/new", API, f"{API}/{entry_id}"):
        assert partner.get(path, headers=EN).status_code == 403, path
    assert "Policy" not in menu(text(partner.get(f"/{LEUVEN}/home", headers=EN)))
    assert Api(app, cell.partner).post(API, form(cell.mayor.membership_id)).status_code == 403
    guest = client_for(app, member_of(app, cell, Role.GUEST_EXPERT))
    assert guest.get(PAGE, headers=EN).status_code == 403


@pytest.mark.parametrize("kind", [TableKind.STRATEGIC, TableKind.MAIN])
def test_a_partner_with_a_seat_at_the_strategic_table_sees_it(app, cell, kind):
    entry_id = recorded_entry(app, cell, cell.coordinator, cell.mayor)
    seat(app, cell, cell.partner, kind=kind)
    partner = client_for(app, cell.partner)
    assert partner.get(PAGE, headers=EN).status_code == 200
    assert partner.get(f"{API}/{entry_id}", headers=EN).get_json()["entry"]["state"] == "recorded"
    assert "Policy" in menu(text(partner.get(f"/{LEUVEN}/home", headers=EN)))
    # The social partner (OCMW) has no seat: still refused.
    assert client_for(app, cell.social).get(PAGE, headers=EN).status_code == 403


def test_a_main_table_is_not_the_strategic_table_beside_a_strategic_one(app, cell):
    """In a cell with a strategic table, a seat at another table gives no sight of the policy."""
    seat(app, cell, cell.coordinator, kind=TableKind.STRATEGIC)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        operational = create_table(kind=TableKind.OPERATIONAL, name="Case table", chair_membership_id=cell.coordinator.membership_id)
        add_seat(operational, membership_id=cell.partner.membership_id)
        db.session.commit()
        db.session.remove()
    assert client_for(app, cell.partner).get(PAGE, headers=EN).status_code == 403


# --- bad input ---------------------------------------------------------------------------------------


def test_a_refused_entry_answers_422_with_every_message_and_what_was_typed(app, cell):
    mayor = client_for(app, cell.mayor)
    typed = form(cell.mayor.membership_id, title="Priority on polarisation in schools",
                 decided_on=(date.today() + timedelta(days=2)).isoformat(), due_on=(date.today() - timedelta(days=30)).isoformat(),
                 owner_organisation_id=str(organisation_of(app, cell, cell.partner)), year="1999",
                 text="Follow up LEU-2026-004 at school.")
    answer = post_form(mayor, f"{PAGE}/new", typed, headers=EN)
    page = text(answer)
    assert answer.status_code == 422
    assert 'value="Priority on polarisation in schools"' in page and "Follow up LEU-2026-004 at school." in page
    assert "Enter a year, such as 2026." in page and 'value="1999"' in page
    # The shape of every field is checked first; then the rules answer every fault at once.
    answer = post_form(mayor, f"{PAGE}/new", {**typed, "year": str(date.today().year)}, headers=EN)
    page = text(answer)
    assert answer.status_code == 422
    for message in ("The date of the decision cannot lie in the future.", "The due date comes after the date of the decision.",
                    "Choose a member or an organisation, not both.",
                    "Policy names no case: remove the case code or signal reference (LEU-2026-004)."):
        assert message in page, message
    assert 'value="Priority on polarisation in schools"' in page
    nothing = post_form(mayor, f"{PAGE}/new", {}, headers=EN)
    assert nothing.status_code == 422 and "Fill in the form first" in text(nothing)
    # A partner not at the strategic table cannot be made its owner.
    api = Api(app, cell.mayor)
    assert set(api.post(API, form(cell.partner.membership_id)).get_json()["error"]["fields"]) == {"owner_membership_id"}
    assert set(api.post(API, form(cell.mayor.membership_id, owner_membership_id=None)).get_json()["error"]["fields"]) == {"owner_membership_id"}
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PolicyEntry)) == 0
        db.session.remove()


def test_a_yearly_evaluation_looks_back_once_per_year(app, cell):
    last_year = str(date.today().year - 1)
    recorded_entry(app, cell, cell.coordinator, cell.mayor, kind="yearly_evaluation", year=last_year, due_on=None)
    api = Api(app, cell.coordinator)
    twice = api.post(API, form(cell.mayor.membership_id, kind="yearly_evaluation", year=last_year))
    assert twice.status_code == 422
    assert twice.get_json()["error"]["fields"]["year"] == [f"The yearly evaluation of {last_year} is already recorded or waiting for confirmation."]
    ahead = api.post(API, form(cell.mayor.membership_id, kind="yearly_evaluation", year=str(date.today().year + 1)))
    assert ahead.get_json()["error"]["fields"]["year"] == ["A yearly evaluation looks back: its year is the year of the decision or an earlier one."]


def test_bad_filters_give_a_field_message_not_an_error(app, cell):
    recorded_entry(app, cell, cell.coordinator, cell.mayor)
    mayor = client_for(app, cell.mayor)
    page = mayor.get(f"{PAGE}?kind=gossip&year=soon&status=done", headers=EN)
    assert page.status_code == 422
    body = text(page)
    assert "Choose one of the options." in body and "Enter a year, such as 2026." in body
    assert "The list below is not filtered: correct the filter first." in body
    answer = Api(app, cell.mayor).get(f"{API}?kind=gossip&year=soon")
    assert answer.status_code == 422 and set(answer.get_json()["error"]["fields"]) == {"kind", "year"}
    assert mayor.get(f"{PAGE}?status=done", headers=EN).status_code == 200
    assert "No recorded entry fits this filter." in text(mayor.get(f"{PAGE}?status=done", headers=EN))


def test_an_overdue_entry_is_said_in_words(app, cell):
    recorded_entry(app, cell, cell.coordinator, cell.mayor, title="Priority on radicalisation online",
                   decided_on=(date.today() - timedelta(days=90)).isoformat(), due_on=(date.today() - timedelta(days=10)).isoformat())
    page = text(client_for(app, cell.mayor).get(PAGE, headers=EN))
    assert "Overdue entries: 1." in page
    assert re.search(r"Overdue: it was due on [^<]+\.", page)
    assert Api(app, cell.mayor).get(API).get_json()["entries"][0]["overdue"] is True


# --- isolation and the API ---------------------------------------------------------------------------


def test_another_cells_entries_are_not_found(app, cells, cell):
    ours = recorded_entry(app, cell, cell.coordinator, cell.mayor)
    herko = ready_cell(app, cells[HERKO], HERKO)
    with app.test_request_context(), tenant_context(herko.tenant_id):
        proposal = propose_entry(membership(herko.coordinator), {
            "kind": "priority", "title": "Their priority", "owner_membership_id": herko.mayor.membership_id,
            "decided_on": date.today(), "year": date.today().year})
        theirs = proposal.subject_id
        db.session.commit()
        db.session.remove()
    coordinator = Api(app, cell.coordinator)
    for path in (f"{PAGE}/{theirs}", f"{API}/{theirs}"):
        found, missing = coordinator.get(path), coordinator.get(path.replace(str(theirs), "987654"))
        assert found.status_code == missing.status_code == 404, path
    assert coordinator.post(f"{API}/{theirs}/status", {"status": "done", "note": "x"}).status_code == 404
    assert [entry["id"] for entry in coordinator.get(API).get_json()["entries"]] == [ours]
    assert "Their priority" not in text(coordinator.get(PAGE))


def test_the_whole_path_through_the_api(app, cell):
    mayor, coordinator = Api(app, cell.mayor), Api(app, cell.coordinator)
    proposed = mayor.post(API, form(cell.mayor.membership_id, kind="priority", title="Priority: a referral path for schools"))
    assert proposed.status_code == 202 and proposed.headers["Location"].endswith(f"{API}/{proposed.get_json()['entry']['id']}")
    body = proposed.get_json()
    assert body["decision"]["in_effect"] is False and body["entry"]["state"] == "waiting"
    assert [entry["id"] for entry in coordinator.get(API).get_json()["waiting"]] == [body["entry"]["id"]]
    assert coordinator.get(API).get_json()["entries"] == []
    assert coordinator.post(f"/{LEUVEN}/api/decisions/{body['decision']['id']}/confirm").status_code == 200
    entry = coordinator.get(f"{API}/{body['entry']['id']}").get_json()["entry"]
    assert entry["state"] == "recorded" and entry["status"] == "planned" and entry["kind_label"] == "Policy priority"
    assert entry["owner"]["membership_id"] == cell.mayor.membership_id and entry["history"] == []
    assert mayor.post(f"{API}/{entry['id']}/status", {"status": "done"}).status_code == 201
    assert [e["id"] for e in mayor.get(f"{API}?status=done&year={date.today().year}&kind=priority").get_json()["entries"]] == [entry["id"]]
    assert mayor.get(f"{API}?status=planned").get_json()["entries"] == []
    bad = mayor.post(API, {"kind": "wish", "title": "", "decided_on": "tomorrow"})
    assert bad.status_code == 422 and {"kind", "decided_on"} <= set(bad.get_json()["error"]["fields"])


# --- the demo ----------------------------------------------------------------------------------------


def test_the_demo_mayor_finds_agreements_priorities_last_years_evaluation_and_an_overdue_entry(app):
    from types import SimpleNamespace

    from livc.app.demo import seed_demo
    from livc.app.demo_cases import _demo_members
    from livc.platform.tenancy import find_tenant

    with app.test_request_context():
        seed_demo(with_members=True)
        tenant = find_tenant(LEUVEN)
        with tenant_context(tenant.id):
            mayor = _demo_members(tenant)[Role.MAYOR]
            member = SimpleNamespace(account_id=mayor.account_id, membership_id=mayor.id, tenant_id=tenant.id,
                                     tenant_slug=LEUVEN, role=Role.MAYOR)
            accept_undertaking(mayor)  # the demo renewed its undertaking since the meetings
        db.session.commit()
        db.session.remove()
    entries = Api(app, member).get(API).get_json()["entries"]
    kinds = sorted(entry["kind"] for entry in entries)
    assert kinds == ["ltf_agreement", "other_agreement", "priority", "priority", "yearly_evaluation"]
    evaluation = next(entry for entry in entries if entry["kind"] == "yearly_evaluation")
    assert evaluation["year"] == date.today().year - 1 and evaluation["status"] == "done"
    assert [entry["kind"] for entry in entries if entry["overdue"]] == ["other_agreement"]
    assert all(entry["state"] == "recorded" for entry in entries)
    page = text(client_for(app, member).get(PAGE, headers=EN))
    assert "Overdue entries: 1." in page and "Working agreement with the Local Task Force" in page
