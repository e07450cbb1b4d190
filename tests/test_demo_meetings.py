"""The demo cells' meetings, as ``livc demo`` leaves them (issue 14, "Done when").

The coordinator of demo-leuven finds, through ``GET /demo-leuven/api/meetings``, meetings held
(approved minutes with a point off the record, then minutes waiting for approval) and the next
one planned, and a proposal waiting for a second member's confirmation.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from auth_helpers import give_session
from livc.app.demo import seed_demo
from livc.app.demo_cases import _demo_members
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.tenancy import find_tenant
from livc.tenants.decisions.models import DecisionStatus, Proposal
from livc.tenants.meetings.models import AgendaItem

EN = {"Accept-Language": "en"}


@pytest.fixture
def leuven(app) -> int:
    with app.app_context():
        seed_demo(with_members=True)
        tenant_id = find_tenant("demo-leuven").id
        db.session.remove()
    return tenant_id


def as_member(app, tenant_id: int, role: Role):
    """A client with the demo member's session (they accept the renewed undertaking first)."""
    with app.test_request_context(), tenant_context(tenant_id):
        membership = _demo_members(find_tenant("demo-leuven"))[role]
        member = SimpleNamespace(account_id=membership.account_id, membership_id=membership.id, tenant_id=tenant_id,
                                 tenant_slug="demo-leuven", role=role)
        db.session.remove()
    client = app.test_client()
    give_session(app, client, member)
    token = client.get("/demo-leuven/api/session").get_json()["csrf_token"]
    accepted = client.post("/demo-leuven/api/undertaking", json={"accept": True}, headers={"X-CSRFToken": token, **EN})
    assert accepted.status_code in (200, 201, 204), accepted.get_data(as_text=True)
    return client


def test_the_demo_coordinator_lists_past_and_planned_meetings_with_attendance_and_minutes(app, leuven):
    client = as_member(app, leuven, Role.COORDINATOR)

    answer = client.get("/demo-leuven/api/meetings", headers=EN)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    meetings = sorted(answer.get_json()["meetings"], key=lambda meeting: meeting["starts_at"])
    assert [(m["status"], m["minutes"]["state"]) for m in meetings] == [
        ("held", "approved"), ("held", "draft"), ("planned", "none"),
    ]
    first = meetings[0]
    assert first["attendance"]["excused"] == 1 and first["attendance"]["present"] >= 3
    assert first["minutes"]["approved_in_meeting_id"] == meetings[1]["id"]

    detail = client.get(f"/demo-leuven/api/meetings/{first['id']}", headers=EN).get_json()["meeting"]
    assert len(detail["occasional_attendees"]) == 1
    off_record = [item for item in detail["agenda"] if item["off_the_record"]]
    assert len(off_record) == 1 and off_record[0].get("summary") is None
    planned = client.get(f"/demo-leuven/api/meetings/{meetings[2]['id']}", headers=EN).get_json()["meeting"]
    assert planned["agenda"], "the next meeting's agenda is taken from what needs the table"


def test_the_demo_has_an_off_the_record_point_with_nothing_stored_and_a_proposal_waiting(app, leuven):
    with app.app_context(), tenant_context(leuven):
        off_record = db.session.scalars(sa.select(AgendaItem).where(AgendaItem.off_the_record.is_(True))).all()
        assert len(off_record) == 1 and off_record[0].summary_ciphertext is None and off_record[0].handled
        waiting = db.session.scalars(sa.select(Proposal).where(Proposal.status == DecisionStatus.PROPOSED)).all()
        assert [proposal.kind.value for proposal in waiting] == ["weighing"]
        taken_in_meeting = db.session.scalars(sa.select(Proposal).where(Proposal.meeting_id.is_not(None))).all()
        assert len(taken_in_meeting) == 1 and len(taken_in_meeting[0].participant_ids) >= 3
        db.session.remove()


def test_the_home_page_shows_the_next_meeting_the_member_is_invited_to(app, leuven):
    client = as_member(app, leuven, Role.PARTNER)

    page = client.get("/demo-leuven/home", headers=EN).get_data(as_text=True)

    assert "Next meeting" in page and "Stadhuis, vergaderzaal 2 (DEMO)" in page
    assert "The cell is overdue" not in page  # it met last week and the next meeting is planned
