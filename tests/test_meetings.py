"""The cell meets (issue 14): planning, the cadence of seed 004, the agenda with need-to-know,
the attendance register, minutes (off the record, approval, lock, addendum), the calendar feed
and the API. Seed 001 lists what the organisers keep; seed 004 says how often they meet."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
import sqlalchemy as sa

from auth_helpers import add_member, give_session
from case_helpers import LEUVEN, membership, open_case, ready_cell, signal_values
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.access import person_for
from livc.tenants.cases.erasure import erase_case
from livc.tenants.cases.models import Case, CaseStatus
from livc.tenants.cell.models import Table, TableKind, TableSeat
from livc.tenants.decisions.operations import current_sitting
from livc.tenants.meetings import operations
from livc.tenants.meetings.cadence import Cadence, cadence_state
from livc.tenants.meetings.models import (
    MEETING_ZONE,
    AgendaItem,
    Attendance,
    CalendarFeed,
    ItemKind,
    Meeting,
    MeetingRequest,
    MeetingStatus,
    to_local,
    to_utc,
)
from livc.tenants.meetings.reminders import send_meeting_reminders
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import accept_undertaking
from livc.tenants.signals.erasure import erase_signal
from livc.tenants.signals.models import FlagLevel, Signal
from livc.tenants.signals.operations import submit_signal

SECRET_SUMMARY = "Said in confidence: the father fears his son travels next month"
KEPT_SUMMARY = "The plan continues; the CLB reports at the next meeting."


@pytest.fixture
def cell(app, demo_tenants):
    """A ready cell with its main table: the coordinator chairs, everyone sits at it."""
    cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN, table=False)
    with app.app_context(), tenant_context(cell.tenant_id):
        table = Table(kind=TableKind.MAIN, name="Main table", chair_membership_id=cell.coordinator.membership_id)
        db.session.add(table)
        db.session.flush()
        for member in cell.members():
            db.session.add(TableSeat(table_id=table.id, membership_id=member.membership_id))
        db.session.commit()
        cell.table_id = table.id
        db.session.remove()
    return cell


def local(days: int, hour: int = 14) -> datetime:
    """A day and hour in Belgian time, ``days`` from today."""
    return datetime.combine(date.today() + timedelta(days=days), datetime.min.time()).replace(hour=hour)


def plan(app, cell, days: int = 7, hour: int = 14, **values) -> int:
    with app.test_request_context(), tenant_context(cell.tenant_id):
        meeting = operations.plan_meeting(membership(cell.coordinator), {
            "table_id": cell.table_id, "starts_at": local(days, hour), "ends_at": local(days, hour + 2),
            "place": "Town hall, room 2", **values,
        })
        db.session.commit()
        return meeting.id


def step(app, cell, meeting_id: int, operation, *args):
    """Run an operation on a meeting as the coordinator (chair), committed."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        meeting = db.session.get(Meeting, meeting_id)
        result = operation(meeting, membership(cell.coordinator), *args)
        db.session.commit()
        return getattr(result, "id", None)


def held_with_case_item(app, cell, case_id: int, days: int = -14) -> tuple[int, int]:
    """A meeting of the table, held ``days`` ago, with the case on its agenda and everyone present."""
    meeting_id = plan(app, cell, days)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        meeting = db.session.get(Meeting, meeting_id)
        coordinator = membership(cell.coordinator)
        item = operations.add_item(meeting, coordinator, _person(coordinator), {
            "title": "Follow-up of the plan", "case_code": _code(case_id)})
        operations.open_session(meeting, coordinator)
        operations.record_attendance(meeting, coordinator, {m.membership_id: Attendance.PRESENT for m in cell.members()})
        db.session.commit()
        return meeting_id, item.id


def _person(member: Membership):
    return person_for(member)


def _code(case_id: int) -> str:
    return db.session.scalar(sa.text("select code from cases where id = :id"), {"id": case_id})


def signed_in(app, member):
    """A member's browser, reading English (the messages asserted are the English ones)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    give_session(app, client, member)
    return client


def csrf(client, slug: str = LEUVEN) -> dict:
    return {"X-CSRFToken": client.get(f"/{slug}/api/session").get_json()["csrf_token"]}


# --- planning ----------------------------------------------------------------------------------


def test_a_meeting_is_planned_for_the_table_and_its_seated_members_are_invited(app, cell):
    client = signed_in(app, cell.coordinator)
    response = client.post(f"/{LEUVEN}/meetings/new", headers=csrf(client), data={
        "table_id": cell.table_id, "kind": "regular", "starts_at": local(3).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": local(3, 16).strftime("%Y-%m-%dT%H:%M"), "place": "Town hall"})
    assert response.status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        meeting = db.session.scalar(sa.select(Meeting))
        assert {invitee.membership_id for invitee in meeting.invitees} == {m.membership_id for m in cell.members()}
        assert meeting.chair_id == cell.coordinator.membership_id  # the table's chair by default
        assert to_local(meeting.starts_at).hour == 14  # typed in Belgian time
    page = client.get(f"/{LEUVEN}/meetings").get_data(as_text=True)
    assert "Main table" in page


def test_two_meetings_of_one_table_never_overlap_and_nothing_is_saved(app, cell):
    plan(app, cell, 3, 14)
    client = signed_in(app, cell.coordinator)
    response = client.post(f"/{LEUVEN}/meetings/new", headers=csrf(client), data={
        "table_id": cell.table_id, "starts_at": local(3, 15).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": local(3, 17).strftime("%Y-%m-%dT%H:%M"), "place": "Elsewhere"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "The table meets at that time already" in page and 'value="Elsewhere"' in page
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count(Meeting.id))) == 1


def test_a_partner_who_does_not_chair_the_table_cannot_plan_its_meetings(app, cell):
    client = signed_in(app, cell.partner)
    response = client.post(f"/{LEUVEN}/api/meetings", headers=csrf(client), json={
        "table_id": cell.table_id, "starts_at": local(3).isoformat(), "ends_at": local(3, 16).isoformat(),
        "place": "Town hall"})
    assert response.status_code == 422
    assert "table_id" in response.get_json()["error"]["fields"]


# --- moving a meeting -----------------------------------------------------------------------------


def form_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


def mails(app) -> list[tuple[str, str, str]]:
    """The mails of the development outbox, in order: (to, subject, body)."""
    found = []
    for path in sorted((app.extensions["livc.settings"].data_dir / "mail").glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        found.append((message["To"], message["Subject"], message.get_content()))
    return found


def when_and_where(app, cell, meeting_id: int) -> tuple:
    with app.app_context(), tenant_context(cell.tenant_id):
        meeting = db.session.get(Meeting, meeting_id)
        return to_local(meeting.starts_at).replace(tzinfo=None), to_local(meeting.ends_at).replace(tzinfo=None), \
            meeting.place, meeting.video_link


def test_moving_a_meeting_updates_it_and_tells_the_invitees_without_a_case_code(app, cell):
    _case_id, code = open_case(app, cell)
    meeting_id = plan(app, cell, 7)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        meeting, coordinator = db.session.get(Meeting, meeting_id), membership(cell.coordinator)
        operations.add_item(meeting, coordinator, _person(coordinator), {"title": "Follow-up", "case_code": code})
        meeting.reminded_day_before_at = utcnow()  # as if the reminder went already
        db.session.commit()
    client = signed_in(app, cell.coordinator)
    assert 'Move the meeting' in client.get(f"/{LEUVEN}/meetings/{meeting_id}").get_data(as_text=True)
    assert 'Move the meeting' not in signed_in(app, cell.partner).get(f"/{LEUVEN}/meetings/{meeting_id}").get_data(as_text=True)
    form = client.get(f"/{LEUVEN}/meetings/{meeting_id}/edit").get_data(as_text=True)
    assert f'value="{form_time(local(7))}"' in form and 'value="Town hall, room 2"' in form  # Belgian time
    before = len(mails(app))

    response = client.post(f"/{LEUVEN}/meetings/{meeting_id}/edit", headers=csrf(client), data={
        "starts_at": form_time(local(8, 10)), "ends_at": form_time(local(8, 12)), "place": "",
        "video_link": "https://meet.example.test/livc"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/meetings/{meeting_id}")
    assert "The meeting is moved; the invitees were told." in client.get(response.headers["Location"]).get_data(as_text=True)
    assert when_and_where(app, cell, meeting_id) == (local(8, 10), local(8, 12), None, "https://meet.example.test/livc")
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.get(Meeting, meeting_id).reminded_day_before_at is None  # the day before, again
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "meeting.rescheduled"))
        assert entry.subject == f"meeting:{meeting_id}" and set(entry.details) == {
            "starts_at", "ends_at", "was_starts_at", "was_ends_at"}
        invited = {invitee.membership.account.email for invitee in db.session.get(Meeting, meeting_id).invitees}
    moved = mails(app)[before:]
    assert {to for to, _subject, _body in moved} == invited and len(moved) == len(invited)
    for _to, subject, body in moved:
        assert local(8, 10).strftime("%d/%m/%Y %H:%M") in subject + body  # the new day and hour
        assert local(7).strftime("%d/%m/%Y %H:%M") in body  # which meeting moved
        assert "https://meet.example.test/livc" in body and f"/{LEUVEN}/meetings/{meeting_id}" in body
        assert "Main table" in subject and code not in subject + body and "Follow-up" not in body


def test_moving_a_meeting_onto_another_of_the_same_table_is_refused_and_nothing_changes(app, cell):
    plan(app, cell, 7, 14)
    meeting_id = plan(app, cell, 7, 18)
    unchanged = when_and_where(app, cell, meeting_id)
    before = len(mails(app))
    client = signed_in(app, cell.coordinator)
    response = client.post(f"/{LEUVEN}/meetings/{meeting_id}/edit", headers=csrf(client), data={
        "starts_at": form_time(local(7, 15)), "ends_at": form_time(local(7, 17)), "place": "Police station"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "The table meets at that time already" in page and 'value="Police station"' in page  # what was typed
    assert f'value="{form_time(local(7, 15))}"' in page
    api = client.patch(f"/{LEUVEN}/api/meetings/{meeting_id}", headers=csrf(client), json={
        "starts_at": local(7, 15).isoformat(), "ends_at": local(7, 17).isoformat()})
    assert api.status_code == 422 and set(api.get_json()["error"]["fields"]) == {"starts_at"}
    every = client.patch(f"/{LEUVEN}/api/meetings/{meeting_id}", headers=csrf(client), json={
        "starts_at": local(7, 20).isoformat(), "ends_at": local(7, 19).isoformat(), "place": None})
    assert every.status_code == 422 and set(every.get_json()["error"]["fields"]) == {"ends_at", "place"}  # all at once
    assert when_and_where(app, cell, meeting_id) == unchanged and len(mails(app)) == before
    # An hour later overlaps only the meeting itself: that is fine.
    moved = client.patch(f"/{LEUVEN}/api/meetings/{meeting_id}", headers=csrf(client), json={
        "starts_at": local(7, 19).isoformat(), "ends_at": local(7, 21).isoformat()})
    assert moved.status_code == 200 and moved.get_json()["meeting"]["id"] == meeting_id
    assert when_and_where(app, cell, meeting_id) == (local(7, 19), local(7, 21), "Town hall, room 2", None)


def test_a_held_meeting_cannot_be_moved(app, cell):
    meeting_id = plan(app, cell, -7)
    step(app, cell, meeting_id, operations.open_session)
    step(app, cell, meeting_id, operations.close_session)
    unchanged = when_and_where(app, cell, meeting_id)
    client = signed_in(app, cell.coordinator)
    assert "Move the meeting" not in client.get(f"/{LEUVEN}/meetings/{meeting_id}").get_data(as_text=True)
    assert "Only a planned meeting is changed this way." in client.get(f"/{LEUVEN}/meetings/{meeting_id}/edit").get_data(as_text=True)
    response = client.post(f"/{LEUVEN}/meetings/{meeting_id}/edit", headers=csrf(client), data={
        "starts_at": form_time(local(3)), "ends_at": form_time(local(3, 16)), "place": "Town hall"})
    assert response.status_code == 422 and "Only a planned meeting is changed this way." in response.get_data(as_text=True)
    api = client.patch(f"/{LEUVEN}/api/meetings/{meeting_id}", headers=csrf(client), json={"place": "Elsewhere"})
    assert api.status_code == 422 and "_schema" in api.get_json()["error"]["fields"]
    assert when_and_where(app, cell, meeting_id) == unchanged


def test_a_member_who_does_not_organise_the_meeting_cannot_move_it(app, cell):
    meeting_id = plan(app, cell, 7)
    unchanged = when_and_where(app, cell, meeting_id)
    client = signed_in(app, cell.partner)  # seated at the table, neither its chair nor its secretary
    assert client.get(f"/{LEUVEN}/meetings/{meeting_id}/edit").status_code == 403
    assert client.post(f"/{LEUVEN}/meetings/{meeting_id}/edit", headers=csrf(client), data={
        "starts_at": form_time(local(3)), "ends_at": form_time(local(3, 16)), "place": "x"}).status_code == 403
    assert client.patch(f"/{LEUVEN}/api/meetings/{meeting_id}", headers=csrf(client),
                        json={"place": "Elsewhere"}).status_code == 403
    assert when_and_where(app, cell, meeting_id) == unchanged


# --- the cadence of seed 004 ---------------------------------------------------------------------


def _cadence(app, cell):
    with app.app_context(), tenant_context(cell.tenant_id):
        return cadence_state()


def test_the_cadence_is_ad_hoc_without_cases_monthly_with_cases_and_weekly_with_a_problematic_one(app, cell):
    assert _cadence(app, cell).cadence == Cadence.AD_HOC
    assert _cadence(app, cell).next_due is None  # the cell may sleep
    case_id, _code = open_case(app, cell, flag=FlagLevel.RED)
    state = _cadence(app, cell)
    assert state.cadence == Cadence.WEEKLY and state.problematic_cases == 1
    with app.app_context(), tenant_context(cell.tenant_id):  # a review lowered the flag
        db.session.get(Case, case_id).flag = FlagLevel.YELLOW
        db.session.commit()
    assert _cadence(app, cell).cadence == Cadence.MONTHLY


def test_the_next_meeting_is_due_a_week_after_the_last_held_one_and_the_cell_is_shown_overdue(app, cell):
    case_id, _code = open_case(app, cell, flag=FlagLevel.RED)
    meeting_id, _item = held_with_case_item(app, cell, case_id, days=-10)
    step(app, cell, meeting_id, operations.close_session)
    state = _cadence(app, cell)
    assert state.next_due == date.today() - timedelta(days=3)
    assert state.overdue
    page = signed_in(app, cell.partner).get(f"/{LEUVEN}/meetings").get_data(as_text=True)
    assert "The table is overdue" in page
    plan(app, cell, 2)
    assert not _cadence(app, cell).overdue


def test_any_member_asks_for_an_ad_hoc_meeting_and_it_goes_on_the_next_agenda(app, cell):
    client = signed_in(app, cell.social)
    response = client.post(f"/{LEUVEN}/meetings/requests", headers=csrf(client), data={"reason": "A school is worried"})
    assert response.status_code == 302
    assert _cadence(app, cell).next_due == date.today()  # ad hoc, and someone asked
    meeting_id = plan(app, cell, 2)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        meeting = db.session.get(Meeting, meeting_id)
        added = operations.take_up(meeting, membership(cell.coordinator))
        assert [item.kind for item in added] == [ItemKind.REQUEST]
        assert db.session.scalar(sa.select(MeetingRequest)).meeting_id == meeting_id
        db.session.commit()
    guest = add_member(app, cell.tenant_id, LEUVEN, Role.GUEST_EXPERT)
    guest_client = signed_in(app, guest)
    assert guest_client.post(f"/{LEUVEN}/meetings/requests", headers=csrf(guest_client), data={"reason": "x"}).status_code == 403


# --- the agenda and need-to-know ------------------------------------------------------------------


def test_the_agenda_proposes_signals_to_weigh_by_reference_only(app, cell):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        reference = submit_signal(membership(cell.partner), signal_values()).reference
        db.session.commit()
    meeting_id = plan(app, cell, 2)
    client = signed_in(app, cell.coordinator)
    page = client.get(f"/{LEUVEN}/meetings/{meeting_id}/agenda").get_data(as_text=True)
    assert reference in page and "Van den Berghe" not in page
    response = client.post(f"/{LEUVEN}/meetings/{meeting_id}/agenda/proposed", headers=csrf(client), data={})
    assert response.status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        item = db.session.scalar(sa.select(AgendaItem))
        assert (item.kind, item.reference) == (ItemKind.SIGNAL, reference)


def test_a_member_outside_the_case_team_sees_only_the_code_and_title_of_its_item(app, cell):
    case_id, code = open_case(app, cell)  # the partner is in its team, the OCMW member is not
    meeting_id, item_id = held_with_case_item(app, cell, case_id, days=0)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        operations.write_minutes(db.session.get(AgendaItem, item_id), membership(cell.coordinator), {"summary": KEPT_SUMMARY})
        db.session.commit()
    outside = signed_in(app, cell.social).get(f"/{LEUVEN}/api/meetings/{meeting_id}").get_json()["meeting"]["agenda"]
    assert outside == [{**{k: outside[0][k] for k in outside[0]}, "sight": "code"}]
    assert outside[0]["reference"] == code and "summary" not in outside[0] and "case_id" not in outside[0]
    team = signed_in(app, cell.partner).get(f"/{LEUVEN}/api/meetings/{meeting_id}").get_json()["meeting"]["agenda"]
    assert team[0]["sight"] == "full" and team[0]["summary"] == KEPT_SUMMARY
    minutes = signed_in(app, cell.social).get(f"/{LEUVEN}/meetings/{meeting_id}/minutes").get_data(as_text=True)
    assert code in minutes and KEPT_SUMMARY not in minutes
    # Being at the meeting with the case on its agenda lets them see its code (the policy's rule).
    with app.app_context(), tenant_context(cell.tenant_id):
            assert cell.social.membership_id in db.session.get(Case, case_id).agenda_attendee_ids


def test_police_information_is_shown_only_to_the_coordinator_and_a_cleared_information_officer(app, cell):
    meeting_id = plan(app, cell, 2)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        coordinator = membership(cell.coordinator)
        operations.add_item(db.session.get(Meeting, meeting_id), coordinator, _person(coordinator),
                            {"title": "Information card from the LTF", "police_information": True})
        db.session.commit()
    sights = {member.role: signed_in(app, member).get(f"/{LEUVEN}/api/meetings/{meeting_id}").get_json()["meeting"]["agenda"][0]["sight"]
              for member in (cell.coordinator, cell.information_officer, cell.partner)}
    assert sights == {Role.COORDINATOR: "full", Role.INFORMATION_OFFICER: "full", Role.PARTNER: "code"}
    partner = signed_in(app, cell.partner)
    assert partner.post(f"/{LEUVEN}/api/meetings/{meeting_id}/items", headers=csrf(partner),
                        json={"title": "x"}).status_code == 403  # not an organiser: the policy refuses


def test_a_guest_expert_is_invited_for_one_item_and_sees_only_that_item(app, cell):
    guest = add_member(app, cell.tenant_id, LEUVEN, Role.GUEST_EXPERT)
    with app.app_context(), tenant_context(cell.tenant_id):
        accept_undertaking(db.session.get(Membership, guest.membership_id))
        db.session.commit()
    meeting_id = plan(app, cell, 2)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        meeting, coordinator = db.session.get(Meeting, meeting_id), membership(cell.coordinator)
        operations.add_item(meeting, coordinator, _person(coordinator), {"title": "Local context"})
        operations.add_item(meeting, coordinator, _person(coordinator), {"title": "Radicalisation online", "guest_id": guest.membership_id})
        db.session.commit()
    client = signed_in(app, guest)
    agenda = client.get(f"/{LEUVEN}/api/meetings/{meeting_id}").get_json()["meeting"]["agenda"]
    assert [item["title"] for item in agenda] == ["Radicalisation online"]
    assert "Local context" not in client.get(f"/{LEUVEN}/meetings/{meeting_id}").get_data(as_text=True)
    other = plan(app, cell, 9)
    assert client.get(f"/{LEUVEN}/meetings/{other}").status_code == 404  # not invited: does not exist


# --- the attendance register ---------------------------------------------------------------------


def test_a_member_who_did_not_accept_the_undertaking_is_not_registered_present(app, cell):
    newcomer = add_member(app, cell.tenant_id, LEUVEN, Role.SOCIAL_ALDERMAN)
    with app.app_context(), tenant_context(cell.tenant_id):
        db.session.add(TableSeat(table_id=cell.table_id, membership_id=newcomer.membership_id))
        db.session.commit()
    meeting_id = plan(app, cell, 0, 8)
    step(app, cell, meeting_id, operations.open_session)
    client = signed_in(app, cell.coordinator)
    response = client.post(f"/{LEUVEN}/meetings/{meeting_id}/attendance", headers=csrf(client), data={
        f"attendance_{cell.partner.membership_id}": "present", f"attendance_{newcomer.membership_id}": "present"})
    assert response.status_code == 422
    assert "has not accepted the cell&#39;s current secrecy undertaking" in response.get_data(as_text=True)
    with app.app_context(), tenant_context(cell.tenant_id):
        assert all(invitee.attendance is None for invitee in db.session.get(Meeting, meeting_id).invitees)  # nothing half-saved


def test_an_occasional_attendee_is_registered_only_with_the_signed_undertaking(app, cell):
    meeting_id = plan(app, cell, 0, 8)
    step(app, cell, meeting_id, operations.open_session)
    client = signed_in(app, cell.coordinator)
    values = {"name": "An Peeters", "organisation": "JAC Leuven", "capacity": "youth worker"}
    refused = client.post(f"/{LEUVEN}/meetings/{meeting_id}/attendance/occasional", headers=csrf(client), data=values)
    assert refused.status_code == 422 and "signing the cell" in refused.get_data(as_text=True)
    accepted = client.post(f"/{LEUVEN}/meetings/{meeting_id}/attendance/occasional", headers=csrf(client),
                           data={**values, "undertaking_signed": "yes"})
    assert accepted.status_code == 302
    page = client.get(f"/{LEUVEN}/meetings/{meeting_id}/print").get_data(as_text=True)
    assert "An Peeters, JAC Leuven (youth worker)" in page


# --- decisions in the meeting --------------------------------------------------------------------


def test_the_meeting_in_session_is_the_sitting_the_decisions_see_with_its_present_members(app, cell):
    meeting_id = plan(app, cell, 0, 8)
    step(app, cell, meeting_id, operations.open_session)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        operations.record_attendance(db.session.get(Meeting, meeting_id), membership(cell.coordinator), {
            cell.coordinator.membership_id: "present", cell.partner.membership_id: "present",
            cell.mayor.membership_id: "excused"})
        sitting = current_sitting()
        assert sitting.meeting_id == meeting_id
        assert sitting.present_ids == {cell.coordinator.membership_id, cell.partner.membership_id}
        db.session.commit()
    other = plan(app, cell, 0, 20)
    client = signed_in(app, cell.coordinator)
    response = client.post(f"/{LEUVEN}/meetings/{other}/open", headers=csrf(client))
    assert response.status_code == 422 and "Another meeting of the cell is in session" in response.get_data(as_text=True)


# --- the minutes --------------------------------------------------------------------------------


def test_nothing_of_a_point_off_the_record_reaches_the_database(app, cell, tmp_path):
    case_id, _code = open_case(app, cell)
    meeting_id, item_id = held_with_case_item(app, cell, case_id, days=0)
    client = signed_in(app, cell.coordinator)
    response = client.post(f"/{LEUVEN}/meetings/{meeting_id}/minutes/items/{item_id}", headers=csrf(client),
                           data={"summary": SECRET_SUMMARY, "off_the_record": "yes"})
    assert response.status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        item = db.session.get(AgendaItem, item_id)
        assert item.off_the_record and item.handled and item.summary_ciphertext is None
        dump = "\n".join(db.session.connection().connection.driver_connection.iterdump()) if db.engine.dialect.name == "sqlite" else ""
    assert SECRET_SUMMARY not in dump
    page = client.get(f"/{LEUVEN}/meetings/{meeting_id}/minutes").get_data(as_text=True)
    assert "Handled; not for the minutes." in page and SECRET_SUMMARY not in page


def test_minutes_are_approved_by_the_next_meeting_in_session_then_locked_and_corrected_by_addendum(app, cell):
    case_id, code = open_case(app, cell)
    first, item_id = held_with_case_item(app, cell, case_id, days=-7)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        operations.write_minutes(db.session.get(AgendaItem, item_id), membership(cell.coordinator), {"summary": KEPT_SUMMARY})
        db.session.commit()
    step(app, cell, first, operations.close_session)
    client = signed_in(app, cell.coordinator)
    early = client.post(f"/{LEUVEN}/meetings/{first}/minutes/approve", headers=csrf(client))
    assert early.status_code == 422 and "a later meeting of the same table, in session" in early.get_data(as_text=True)

    second = plan(app, cell, 0, 8)
    step(app, cell, second, operations.open_session)
    # The approving meeting decides with its members registered present: none yet, no approval.
    unregistered = client.post(f"/{LEUVEN}/meetings/{first}/minutes/approve", headers=csrf(client))
    assert unregistered.status_code == 422 and "registered present" in unregistered.get_data(as_text=True)
    step(app, cell, second, operations.record_attendance,
         {m.membership_id: Attendance.PRESENT for m in (cell.coordinator, cell.partner)})
    assert client.post(f"/{LEUVEN}/meetings/{first}/minutes/approve", headers=csrf(client)).status_code == 302
    with app.app_context(), tenant_context(cell.tenant_id):
        approved = db.session.get(Meeting, first)
        assert approved.minutes_locked and approved.minutes_approved_in_id == second

    changed = client.post(f"/{LEUVEN}/meetings/{first}/minutes/items/{item_id}", headers=csrf(client), data={"summary": "Rewritten"})
    assert changed.status_code == 422 and "are locked: add a dated addendum" in changed.get_data(as_text=True)
    api = client.post(f"/{LEUVEN}/api/meetings/{first}/minutes/items/{item_id}", headers=csrf(client), json={"summary": "Rewritten"})
    assert api.status_code == 422
    addendum = client.post(f"/{LEUVEN}/meetings/{first}/minutes/addenda", headers=csrf(client),
                           data={"text": "The CLB reports in two meetings, not at the next."})
    assert addendum.status_code == 302
    printed = client.get(f"/{LEUVEN}/meetings/{first}/print").get_data(as_text=True)
    assert KEPT_SUMMARY in printed and "The CLB reports in two meetings" in printed and code in printed
    assert "Van den Berghe" not in printed and "Élodie" not in printed


def test_reading_a_case_point_of_the_minutes_is_in_the_audit_trail_and_a_code_only_reader_leaves_none(app, cell):
    case_id, code = open_case(app, cell)
    meeting_id, item_id = held_with_case_item(app, cell, case_id, days=0)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        operations.write_minutes(db.session.get(AgendaItem, item_id), membership(cell.coordinator), {"summary": KEPT_SUMMARY})
        db.session.commit()

    def reads() -> int:
        with app.app_context(), tenant_context(cell.tenant_id):
            return db.session.scalar(sa.select(sa.func.count(AuditEntry.seq)).where(
                AuditEntry.action == "case.read", AuditEntry.subject == f"case:{code}",
                AuditEntry.details["part"].as_string() == "meeting minutes"))

    partner = signed_in(app, cell.partner)  # in the case team: reads the summary
    assert KEPT_SUMMARY in partner.get(f"/{LEUVEN}/meetings/{meeting_id}/minutes").get_data(as_text=True)
    assert reads() == 1
    partner.get(f"/{LEUVEN}/api/meetings/{meeting_id}")
    assert reads() == 2
    social = signed_in(app, cell.social)  # outside the team: the code and title only, no read
    assert KEPT_SUMMARY not in social.get(f"/{LEUVEN}/meetings/{meeting_id}/print").get_data(as_text=True)
    assert reads() == 2


def test_an_erased_case_leaves_no_code_nor_summary_on_the_agenda(app, cell):
    case_id, _code = open_case(app, cell)
    _meeting_id, item_id = held_with_case_item(app, cell, case_id, days=0)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        operations.write_minutes(db.session.get(AgendaItem, item_id), membership(cell.coordinator), {"summary": KEPT_SUMMARY})
        case = db.session.get(Case, case_id)
        case.status, case.closed_at = CaseStatus.CLOSED, utcnow()
        erase_case(case)
        db.session.commit()
    with app.app_context(), tenant_context(cell.tenant_id):
        item = db.session.get(AgendaItem, item_id)
        assert (item.case_id, item.reference, item.summary_ciphertext) == (None, None, None)
        assert item.handled


def test_an_erased_signal_leaves_no_reference_nor_summary_on_the_agenda(app, cell):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal_id = submit_signal(membership(cell.partner), signal_values()).id
        db.session.commit()
    meeting_id = plan(app, cell, 0)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        meeting, coordinator = db.session.get(Meeting, meeting_id), membership(cell.coordinator)
        [item] = operations.take_up(meeting, coordinator)
        operations.open_session(meeting, coordinator)
        operations.write_minutes(item, coordinator, {"summary": KEPT_SUMMARY})
        assert item.key_scope == f"signal:{signal_id}"  # the summary goes with the signal's key
        erase_signal(db.session.get(Signal, signal_id))
        db.session.commit()
        item_id = item.id
    with app.app_context(), tenant_context(cell.tenant_id):
        item = db.session.get(AgendaItem, item_id)
        assert (item.signal_id, item.reference, item.summary_ciphertext) == (None, None, None)
        assert item.handled


# --- the calendar --------------------------------------------------------------------------------


def test_the_calendar_feed_has_date_place_and_table_but_no_case_and_a_revoked_address_is_gone(app, cell):
    case_id, code = open_case(app, cell)
    held_with_case_item(app, cell, case_id, days=1)
    client = signed_in(app, cell.partner)
    page = client.post(f"/{LEUVEN}/meetings/calendar/new", headers=csrf(client)).get_data(as_text=True)
    address = page.split('class="calendar-address">')[1].split("<")[0]
    path = address.split("localhost", 1)[-1].split(":5000", 1)[-1]
    path = path[path.index(f"/{LEUVEN}/"):]
    feed = app.test_client().get(path)
    assert feed.status_code == 200 and feed.headers["Content-Type"].startswith("text/calendar")
    text = feed.get_data(as_text=True)
    assert "BEGIN:VEVENT" in text and "Main table" in text and "Town hall" in text
    assert code not in text and "Follow-up of the plan" not in text
    client.post(f"/{LEUVEN}/meetings/calendar/new", headers=csrf(client))  # a new address revokes the old
    assert app.test_client().get(path).status_code == 404
    client.post(f"/{LEUVEN}/meetings/calendar/revoke", headers=csrf(client))
    with app.app_context(), tenant_context(cell.tenant_id):
            assert db.session.scalar(sa.select(sa.func.count(CalendarFeed.id))) == 0


# --- the API ---------------------------------------------------------------------------------------


def test_the_api_lists_past_and_planned_meetings_with_attendance_and_minutes_state(app, cell):
    case_id, _code = open_case(app, cell)
    past, _item = held_with_case_item(app, cell, case_id, days=-7)
    step(app, cell, past, operations.close_session)
    client = signed_in(app, cell.coordinator)
    created = client.post(f"/{LEUVEN}/api/meetings", headers=csrf(client), json={
        "table_id": cell.table_id, "starts_at": local(5).isoformat(), "ends_at": local(5, 16).isoformat(),
        "video_link": "https://meet.example.test/livc"})
    assert created.status_code == 201 and created.headers["Location"].endswith(f"/api/meetings/{created.get_json()['meeting']['id']}")
    listed = {m["id"]: m for m in client.get(f"/{LEUVEN}/api/meetings").get_json()["meetings"]}
    assert listed[past]["status"] == MeetingStatus.HELD.value
    assert listed[past]["attendance"]["present"] == len(cell.members())
    assert listed[past]["minutes"]["state"] == "draft"
    planned = listed[created.get_json()["meeting"]["id"]]
    assert planned["status"] == "planned" and planned["minutes"]["state"] == "none"
    refused = client.post(f"/{LEUVEN}/api/meetings", headers=csrf(client), json={
        "table_id": cell.table_id, "starts_at": local(5, 15).isoformat(), "ends_at": local(5, 14).isoformat()})
    assert refused.status_code == 422
    assert set(refused.get_json()["error"]["fields"]) == {"ends_at", "place"}


def test_the_reminder_of_the_day_before_names_the_table_and_never_a_case(app, cell, tmp_path):
    case_id, code = open_case(app, cell)
    held_with_case_item(app, cell, case_id, days=1)
    # Tomorrow at 10:00 in Belgium: within the reminder's 36 hours at any hour of today (a
    # meeting at 14:00 on the machine's next day was out of reach just after midnight).
    tomorrow = datetime.now(MEETING_ZONE).date() + timedelta(days=1)
    starts = to_utc(datetime.combine(tomorrow, datetime.min.time()).replace(hour=10))
    with app.test_request_context(), tenant_context(cell.tenant_id):
        db.session.execute(sa.update(Meeting).values(status=MeetingStatus.PLANNED, starts_at=starts,
                                                     ends_at=starts + timedelta(hours=2)))
        assert send_meeting_reminders() >= len(cell.members())
        db.session.commit()
        assert send_meeting_reminders() == 0  # once
        db.session.commit()
    mails = [path.read_text() for path in (app.extensions["livc.settings"].data_dir / "mail").glob("*.eml")]
    # In each member's language (Dutch by default): the table's name and the day, never the case.
    tomorrow = [text for text in mails if "Main table" in text and ("Tomorrow" in text or "Morgen" in text)]
    assert tomorrow and all(code not in text for text in mails)
