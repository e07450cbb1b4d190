"""Lists of constant cost (issue 20): signals, meetings, members, the cell's list of the operator's
actions and the console's operator trail run as many SQL statements with 12 rows as with 2, show
one page at most, and their "next" links reach every row exactly once, in the list's order.

Rows are written straight into the database (the point is the lists' reading, not how rows are
made), and pages are asked five rows at a time (``?per_page=5``) so a few rows make several pages.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from itertools import count

import pytest
from statements import every_page as walk_pages
from statements import next_link
from statements import read as statements_read

from admin_helpers import add_operator, give_operator_session
from auth_helpers import add_member, give_session
from case_helpers import LEUVEN, ready_cell
from conftest import seed_demo_tenants
from livc.admin.operators.operations import record_action
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.meetings.models import Attendance, Invitee, Meeting, MeetingKind, MeetingStatus
from livc.tenants.signals.models import InternalAssessment, Signal, SignalChannel, Urgency

EN = {"Accept-Language": "en"}
PER_PAGE = 5
numbers = count(1)


@pytest.fixture
def cell(sqlite_app):
    tenants = seed_demo_tenants(sqlite_app)
    return ready_cell(sqlite_app, tenants[LEUVEN], LEUVEN)


def signed_in(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


# --- seeding, cheaply ---------------------------------------------------------------------------


def add_signals(app, cell, how_many: int) -> None:
    """Signals recorded by the partner, one a day further back (two on the same instant, so the
    order needs the id too)."""
    with app.app_context(), tenant_context(cell.tenant_id):
        start = utcnow()
        for _ in range(how_many):
            number = next(numbers)
            db.session.add(Signal(
                reference=f"S-T-{number:04d}", channel=SignalChannel.FORM, recorded_by_id=cell.partner.membership_id,
                internal_assessment=InternalAssessment.DONE, urgency=Urgency.NORMAL,
                received_at=start - timedelta(days=number // 2),
            ))
        db.session.commit()
        db.session.remove()


def add_meetings(app, cell, how_many: int) -> None:
    """Past meetings of the cell's table, each with the partner and the social worker invited."""
    with app.app_context(), tenant_context(cell.tenant_id):
        from livc.tenants.cell.models import Table

        table = db.session.scalar(db.select(Table))
        for _ in range(how_many):
            number = next(numbers)
            starts = utcnow() - timedelta(days=7 * number)
            meeting = Meeting(table_id=table.id, kind=MeetingKind.REGULAR, status=MeetingStatus.HELD,
                              starts_at=starts, ends_at=starts + timedelta(hours=2))
            db.session.add(meeting)
            db.session.flush()
            for member in (cell.partner, cell.social):
                db.session.add(Invitee(meeting_id=meeting.id, membership_id=member.membership_id,
                                       attendance=Attendance.PRESENT))
        db.session.commit()
        db.session.remove()


def add_members(app, cell, how_many: int) -> None:
    for _ in range(how_many):
        add_member(app, cell.tenant_id, cell.slug, Role.PARTNER, f"partner{next(numbers)}.{cell.slug}@example.test")


def add_operator_actions(app, cell, operator, how_many: int) -> None:
    """Operator actions on the cell: in the operator trail and in the cell's own trail."""
    with app.test_request_context():
        tenant = db.session.get(Tenant, cell.tenant_id)
        for _ in range(how_many):
            record_action("tenant.invitation_resent", actor=f"operator:{operator.id}", tenant=tenant)
        db.session.commit()
        db.session.remove()


# --- the lists ----------------------------------------------------------------------------------


def rows_of(kind: str, body: str) -> list[str]:
    """What a list shows, in its order: references, ids or sequence numbers."""
    if kind == "api/signals":
        return [signal["reference"] for signal in json.loads(body)["signals"]]
    if kind == "api/meetings":
        return [str(meeting["id"]) for meeting in json.loads(body)["meetings"]]
    if kind == "api/members":
        return [str(member["id"]) for member in json.loads(body)["members"]]
    if kind == "signals":
        return re.findall(r'data-signal="([^"]+)"', body)
    if kind == "meetings":
        past = body.split('class="list meetings past"', 1)
        return re.findall(r'data-meeting="(\d+)"', past[1]) if len(past) == 2 else []
    if kind == "members":
        return re.findall(r'data-membership="(\d+)"', body)
    return re.findall(r'data-action="[^"]+"', body)  # both trails: one line per entry


def read(app, client, path: str) -> tuple[int, str]:
    return statements_read(app, client, path, EN)


def every_page(app, client, kind: str, first: str) -> list[str]:
    return walk_pages(app, client, kind, first, rows_of, PER_PAGE, EN)


CELL_LISTS = {  # list -> (who reads it, how rows are added)
    "signals": ("coordinator", add_signals),
    "api/signals": ("partner", add_signals),
    "meetings": ("partner", add_meetings),
    "api/meetings": ("coordinator", add_meetings),
    "members": ("coordinator", add_members),
    "api/members": ("partner", add_members),
}


@pytest.mark.parametrize("kind", CELL_LISTS)
def test_a_cell_list_runs_as_many_statements_for_12_rows_as_for_2_and_pages_reach_every_row_once(sqlite_app, cell, kind):
    app = sqlite_app
    who, add = CELL_LISTS[kind]
    client = signed_in(app, getattr(cell, who))
    first = f"/{cell.slug}/{kind}?per_page={PER_PAGE}"
    read(app, client, first)  # warm: the first request of a session may set it up
    before = len(every_page(app, client, kind, first))
    add(app, cell, 2)
    few, _ = read(app, client, first)

    add(app, cell, 10)
    many, body = read(app, client, first)
    assert many <= few + 1, f"{kind}: {few} statements with 2 rows, {many} with 12"
    assert len(rows_of(kind, body)) == PER_PAGE

    seen = every_page(app, client, kind, first)
    assert len(seen) == len(set(seen)) == before + 12
    if kind.endswith("signals"):  # newest first; on the same instant, the later one first
        with app.app_context(), tenant_context(cell.tenant_id):
            newest_first = db.session.scalars(
                db.select(Signal.reference).order_by(Signal.received_at.desc(), Signal.id.desc())).all()
        assert seen == newest_first


def test_the_lists_of_the_operators_actions_cost_the_same_at_any_length(sqlite_app, cell):
    app = sqlite_app
    operator = add_operator(app)
    console = app.test_client()
    give_operator_session(app, console, operator)
    coordinator = signed_in(app, cell.coordinator)
    lists = ((console, "actions", f"/admin/actions?per_page={PER_PAGE}"),
             (coordinator, "operator-actions", f"/{cell.slug}/operator-actions?per_page={PER_PAGE}"))
    add_operator_actions(app, cell, operator, 2)
    few = {kind: read(app, client, path)[0] for client, kind, path in lists}
    before = {kind: len(every_page(app, client, kind, path)) for client, kind, path in lists}

    add_operator_actions(app, cell, operator, 10)
    for client, kind, path in lists:
        many, body = read(app, client, path)
        assert many <= few[kind] + 1, f"{kind}: {few[kind]} statements, then {many}"
        assert len(rows_of(kind, body)) == PER_PAGE
        assert len(every_page(app, client, kind, path)) == before[kind] + 10
    assert "The trail was tampered with" not in read(app, console, lists[0][2])[1]


def test_the_match_alerts_cost_the_same_at_any_number_and_pages_reach_every_alert_once(sqlite_app):
    """One real alert between two linked cells, then copies of it (half of them confirmed, which
    shows the other cell's coordinators and the cooperation thread) written directly."""
    from test_federation_pages import AMRANI_H, AMRANI_L, link_cells, open_person

    from case_helpers import HERKO
    from livc.federation.models import AlertState, MatchAlert, SideStatus

    app = sqlite_app
    tenants = seed_demo_tenants(app)
    leuven, herko = ready_cell(app, tenants[LEUVEN], LEUVEN), ready_cell(app, tenants[HERKO], HERKO)
    link_cells(app, leuven, herko)
    open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)

    def add_alerts(how_many: int) -> None:
        with app.app_context():
            real = db.session.scalar(db.select(MatchAlert).order_by(MatchAlert.id))
            copied = {column.key: getattr(real, column.key) for column in MatchAlert.__table__.columns
                      if column.key not in ("id", "version_a", "version_b")}
            for _ in range(how_many):
                number = next(numbers)
                confirmed = number % 2 == 0
                db.session.add(MatchAlert(**{
                    **copied, "version_a": f"copy-{number}", "version_b": f"copy-{number}",
                    "created_at": utcnow() - timedelta(minutes=number),
                    "state": AlertState.CONFIRMED if confirmed else AlertState.OPEN,
                    "status_a": SideStatus.CONFIRMED if confirmed else SideStatus.NEW,
                    "status_b": SideStatus.CONFIRMED if confirmed else SideStatus.NEW,
                    "shared_reference": f"F-{number:04d}" if confirmed else None,
                    "confirmed_at": utcnow() if confirmed else None,
                }))
            db.session.commit()
            db.session.remove()

    kind, first = "alerts", f"/{LEUVEN}/federation/alerts?per_page={PER_PAGE}"
    client = signed_in(app, leuven.coordinator)
    alert_ids = lambda body: re.findall(r'<li class="federation-alert" id="alert-\d+" data-alert="(\d+)"', body)  # noqa: E731
    read(app, client, first)
    add_alerts(2)
    few, _ = read(app, client, first)
    add_alerts(10)
    many, body = read(app, client, first)
    assert many <= few + 1, f"alerts: {few} statements with 3 alerts, {many} with 13"
    assert len(alert_ids(body)) == PER_PAGE

    seen, path = [], first
    while path:
        _cost, body = read(app, client, path)
        seen += alert_ids(body)
        path = next_link(kind, body)
    assert len(seen) == len(set(seen)) == 13


@pytest.mark.postgres
def test_on_postgresql_the_signal_and_meeting_pages_reach_every_row_once_in_order(postgres_app):
    """The keyset comparisons and the meetings' visibility in SQL, on PostgreSQL under RLS."""
    app = postgres_app
    tenants = seed_demo_tenants(app)
    cell = ready_cell(app, tenants[LEUVEN], LEUVEN)
    add_signals(app, cell, 7)
    add_meetings(app, cell, 7)
    for kind, who in (("api/signals", cell.coordinator), ("meetings", cell.partner)):
        seen = every_page(app, signed_in(app, who), kind, f"/{cell.slug}/{kind}?per_page={PER_PAGE}")
        assert len(seen) == len(set(seen)) == 7, kind
