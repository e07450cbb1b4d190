"""Meeting pages: the list with the cadence and the next meeting due, planning a meeting, the
meeting page, its agenda, attendance register and minutes, the printable minutes, and each
member's calendar address.

Views only parse and answer; the rules live in :mod:`livc.tenants.meetings.operations`. Every
page is guarded with ``Action.CELL_ENTER`` (a member who has not accepted the cell's current
secrecy undertaking and house rules is sent to accept them first), and a meeting address
answers 404 to a member who may not see that meeting, like an id that does not exist. Changing
a meeting is for its organisers (:func:`~livc.tenants.meetings.operations.may_organise`): the
operations answer anyone else with the rule that forbids it, like any refused rule. A refused
form answers 422 (audited) with the page again, its messages field by field and what was typed;
nothing is saved half-way. Pages with meeting
content are never kept by the browser.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import Response, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema
from werkzeug.exceptions import NotFound

from livc.platform.db import db
from livc.platform.forms import (
    NOTHING_SENT,
    every_field,
    form_status,
    run_rule,
    submit_form,
)
from livc.platform.i18n import when
from livc.platform.paging import MAX_PER_PAGE, Key, keyset_page, page_args
from livc.platform.policy import Action, public
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.cases.models import CaseStatus
from livc.tenants.cases.operations import cases_for
from livc.tenants.cell.models import Table
from livc.tenants.decisions.models import DECISION_KIND_LABELS, DECISION_STATUS_LABELS
from livc.tenants.meetings import calendar
from livc.tenants.meetings.cadence import CADENCE_LABELS, Cadence, cadence_state
from livc.tenants.meetings.models import (
    ATTENDANCE_LABELS,
    ITEM_KIND_LABELS,
    MEETING_KIND_LABELS,
    MEETING_STATUS_LABELS,
    MINUTES_STATE_LABELS,
    AgendaItem,
    Attendance,
    Meeting,
    MeetingStatus,
    to_local,
)
from livc.tenants.meetings.operations import (
    NOT_PLANNED,
    Sight,
    add_addendum,
    add_item,
    add_occasional_attendee,
    approve_minutes,
    approving_sitting,
    attendance_counts,
    cancel_meeting,
    change_item_registration,
    close_session,
    coming_meetings,
    decisions_by_item,
    invitee_of,
    item_title,
    may_organise,
    may_see_meeting,
    meeting_title,
    move_item,
    open_session,
    past_meetings_query,
    plan_meeting,
    proposed_agenda,
    record_attendance,
    record_minutes_read,
    remove_item,
    request_meeting,
    reschedule_meeting,
    subject_readable,
    suggestion_token,
    take_up,
    visible_items,
    waiting_requests,
    when_and_where,
    write_minutes,
)
from livc.tenants.meetings.schemas import (
    AddendumSchema,
    ItemRegistrationSchema,
    ItemSchema,
    MeetingSchema,
    MinutesItemSchema,
    OccasionalSchema,
    RequestSchema,
    RescheduleSchema,
)
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import active_members
from livc.tenants.signals.registration import REGISTRATION_LABELS
from livc.tenants.web import blueprint, no_store

LABELS = {
    "kind": MEETING_KIND_LABELS,
    "status": MEETING_STATUS_LABELS,
    "minutes": MINUTES_STATE_LABELS,
    "attendance": ATTENDANCE_LABELS,
    "item": ITEM_KIND_LABELS,
    "cadence": CADENCE_LABELS,
    "decision_kind": DECISION_KIND_LABELS,
    "decision_status": DECISION_STATUS_LABELS,
}
DEFAULT_START = time(14, 0)
DEFAULT_LENGTH = timedelta(hours=2)


@blueprint.app_template_filter("meeting_time")
def meeting_time(value: datetime | None, pattern: str | None = None) -> str:
    """A stored time in Belgian time, for a page: the reader's language's date format (Babel), or
    ``pattern`` (a form field's value, a time of day)."""
    if value is None:
        return "—"
    return to_local(value).strftime(pattern) if pattern else when(value)


# --- helpers ------------------------------------------------------------------------------------


def load_meeting(meeting_id: int) -> Meeting:
    """A meeting the signed-in member may see; any other id answers 404 alike."""
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or g.person is None or not may_see_meeting(g.person, meeting):
        raise NotFound()
    return meeting


def load_meeting_item(meeting_id: int, item_id: int) -> Meeting:
    meeting = load_meeting(meeting_id)
    item = db.session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        raise NotFound()
    g.item = item
    return meeting


def _page(template: str, status: int = 200, errors: dict | None = None, **context: Any) -> Response:
    """A page with meeting content, with what was typed and its errors, never kept."""
    typed = {name: value for name, value in request.form.items() if name != "csrf_token"}
    return no_store(make_response(render_template(template, typed=typed, errors=errors or {}, **context), status))


def _submit(schema: Schema, operation) -> tuple[Any, dict]:
    return submit_form(schema, operation, require_sent=True)


def _to(endpoint: str, meeting: Meeting, anchor: str | None = None):
    return redirect(url_for(endpoint, meeting_id=meeting.id, _anchor=anchor))


def _member_choices() -> list[tuple[int, str]]:
    return [(member.id, member.account.label) for member in active_members() if member.role != Role.GUEST_EXPERT]


def _guest_choices() -> list[tuple[int, str]]:
    return [(member.id, member.account.label) for member in active_members(Role.GUEST_EXPERT)]


def _meeting_context(meeting: Meeting) -> dict:
    """What every page of one meeting shows: its agenda as the reader may see it, and more."""
    by_item, other_decisions = decisions_by_item(meeting)
    return {
        "meeting": meeting,
        "title": meeting_title(meeting),
        "items": visible_items(g.person, meeting),
        "item_title": item_title,
        "full": Sight.FULL,
        "organiser": may_organise(g.membership, meeting),
        "invitee": invitee_of(meeting, g.membership.id),
        "counts": attendance_counts(meeting),
        "decisions": by_item,
        "other_decisions": [proposal for proposal in other_decisions if subject_readable(g.person, proposal)],
        "labels": LABELS,
        "statuses": MeetingStatus,
    }


# --- the list, planning, requests --------------------------------------------------------------


def _plannable_tables() -> list[Table]:
    tables = db.session.scalars(db.select(Table).where(Table.removed_at.is_(None)).order_by(Table.id)).all()
    return [table for table in tables if may_organise(g.membership, table=table)]


@blueprint.get("/meetings")
@guard(Action.CELL_ENTER)
def meetings():
    """Past and planned meetings, the cadence and the next meeting due, and asking for one."""
    return _list_page()


#: The past meetings' order, newest first (``ix_meetings_tenant_starts``, migration 0033).
PAST_ORDER = (Key(Meeting.starts_at, descending=True), Key(Meeting.id, descending=True))


def _list_page(status: int = 200, errors: dict | None = None):
    """The coming meetings (a short list: what is planned), then the past ones a page at a time."""
    guest = g.person.role == Role.GUEST_EXPERT
    past = keyset_page(past_meetings_query(g.person), PAST_ORDER, page_args(request.args), scope="meetings.past")
    return _page(
        "tenants/meeting_list.html", status, errors,
        coming=coming_meetings(g.person, MAX_PER_PAGE), past=past.items, page=past,
        state=None if guest else cadence_state(), cadences=Cadence, guest=guest,
        may_plan=not guest and (g.person.role == Role.COORDINATOR or bool(_plannable_tables())),
        requests=[] if guest else waiting_requests(), labels=LABELS, title_of=meeting_title,
        counts_of=attendance_counts,
    )


@blueprint.post("/meetings/requests")
@guard(Action.CELL_STRUCTURE_VIEW)
def meeting_request():
    """Any member of the table (not a guest expert) asks for an ad hoc meeting."""
    _request, errors = _submit(RequestSchema(), lambda values: request_meeting(g.membership, values["reason"]))
    if errors:
        return _list_page(422, errors)
    flash(_l("Your request is on the next agenda; the coordinator was told."), "info")
    return redirect(url_for("tenant.meetings"))


def _new_page(status: int = 200, errors: dict | None = None):
    state = cadence_state()
    day = state.next_due or (utcnow().date() + timedelta(days=7))
    starts = datetime.combine(day, DEFAULT_START)
    cases = [case for case in cases_for(g.person, include_closed=False) if case.status == CaseStatus.OPEN]
    return _page(
        "tenants/meeting_new.html", status, errors, tables=[(t.id, t.name) for t in _plannable_tables()],
        cases=[(case.id, case.code) for case in cases], members=_member_choices(),
        kinds=list(MEETING_KIND_LABELS.items()), default_starts=starts.strftime("%Y-%m-%dT%H:%M"),
        default_ends=(starts + DEFAULT_LENGTH).strftime("%Y-%m-%dT%H:%M"),
    )


@blueprint.route("/meetings/new", methods=["GET", "POST"])
@guard(Action.CELL_STRUCTURE_VIEW)
def meeting_new():
    """Plan a meeting of a table (its chair, secretary or the coordinator), or of a case team."""
    if request.method == "GET":
        return _new_page()
    meeting, errors = _submit(MeetingSchema(), lambda values: plan_meeting(g.membership, values))
    if errors:
        return _new_page(422, errors)
    flash(_l("The meeting is planned and its invitations are sent."), "info")
    return _to("tenant.meeting", meeting)


# --- one meeting -------------------------------------------------------------------------------


@blueprint.get("/meetings/<int:meeting_id>")
@guard(Action.CELL_ENTER, load=load_meeting)
def meeting(meeting_id: int):
    return _meeting_page(g.resource)


def _meeting_page(current: Meeting, status: int = 200, errors: dict | None = None):
    pending = _unapproved_before(current) if current.status == MeetingStatus.IN_SESSION else []
    return _page("tenants/meeting_page.html", status, errors, to_approve=pending, **_meeting_context(current))


def _unapproved_before(meeting: Meeting) -> list[Meeting]:
    """Held meetings whose minutes this meeting, in session, may approve."""
    held = db.session.scalars(db.select(Meeting).where(
        Meeting.status == MeetingStatus.HELD, Meeting.minutes_approved_at.is_(None), Meeting.starts_at < meeting.starts_at,
    ).order_by(Meeting.starts_at)).all()
    return [other for other in held if approving_sitting(other) is meeting]


def _session_step(meeting_id: int, step, message) -> Response:
    current = g.resource
    _done, errors = run_rule(step, current, g.membership)
    if errors:
        return _meeting_page(current, 422, errors)
    flash(message, "info")
    return _to("tenant.meeting", current)


@blueprint.post("/meetings/<int:meeting_id>/open")
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_open(meeting_id: int):
    return _session_step(meeting_id, open_session, _l("The meeting is in session: decisions may be taken in it."))


@blueprint.post("/meetings/<int:meeting_id>/close")
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_close(meeting_id: int):
    return _session_step(meeting_id, close_session, _l("The meeting is closed; its minutes wait for the next meeting."))


@blueprint.post("/meetings/<int:meeting_id>/cancel")
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_cancel(meeting_id: int):
    return _session_step(meeting_id, cancel_meeting, _l("The meeting is cancelled; the invitees were told."))


def _edit_page(meeting: Meeting, status: int = 200, errors: dict | None = None):
    """The form to move a meeting, with its current day, hours, place and link (Belgian time)."""
    planned = meeting.status == MeetingStatus.PLANNED
    if not planned and not errors:
        errors = {"_schema": [str(NOT_PLANNED)]}
    return _page("tenants/meeting_edit.html", status, errors, meeting=meeting, title=meeting_title(meeting),
                 planned=planned)


@blueprint.route("/meetings/<int:meeting_id>/edit", methods=["GET", "POST"])
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_edit(meeting_id: int):
    """Move a planned meeting (day and hours, place or video link); the invitees are told."""
    meeting = g.resource
    if request.method == "GET":
        return _edit_page(meeting)
    schema = RescheduleSchema()
    before = when_and_where(meeting)
    _moved, errors = _submit(
        schema, lambda values: reschedule_meeting(meeting, g.membership, every_field(values, schema)))
    if errors:
        return _edit_page(meeting, form_status(errors), errors)
    if when_and_where(meeting) == before:
        flash(_l("Nothing changed."), "info")
    else:
        flash(_l("The meeting is moved; the invitees were told."), "info")
    return _to("tenant.meeting", meeting)


# --- the agenda -------------------------------------------------------------------------------


def _agenda_page(meeting: Meeting, status: int = 200, errors: dict | None = None, failed: str | None = None):
    suggestions = proposed_agenda(meeting) if may_organise(g.membership, meeting) else []
    return _page(
        "tenants/meeting_agenda.html", status, errors, failed=failed,
        suggestions=[(suggestion_token(s), s) for s in suggestions], guests=_guest_choices(),
        bringers=[(g.membership.id, str(_l("Myself")))] + [
            choice for choice in _member_choices() if choice[0] != g.membership.id],
        registration_options=list(REGISTRATION_LABELS.items()),
        **_meeting_context(meeting),
    )


@blueprint.get("/meetings/<int:meeting_id>/agenda")
@guard(Action.CELL_ENTER, load=load_meeting)
def meeting_agenda(meeting_id: int):
    return _agenda_page(g.resource)


@blueprint.post("/meetings/<int:meeting_id>/agenda/proposed")
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_agenda_take_up(meeting_id: int):
    """Put the proposed points ticked (or, without any ticked, all of them) on the agenda."""
    meeting = g.resource
    tokens = request.form.getlist("tokens") or None
    added, errors = run_rule(take_up, meeting, g.membership, tokens)
    if errors:
        return _agenda_page(meeting, 422, errors, failed="proposed")
    flash(_l("%(count)s points put on the agenda.", count=len(added)), "info")
    return _to("tenant.meeting_agenda", meeting)


@blueprint.post("/meetings/<int:meeting_id>/agenda/items")
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_agenda_add(meeting_id: int):
    meeting = g.resource
    _item, errors = _submit(ItemSchema(), lambda values: add_item(meeting, g.membership, g.person, values))
    if errors:
        return _agenda_page(meeting, 422, errors, failed="item")
    flash(_l("The point is on the agenda."), "info")
    return _to("tenant.meeting_agenda", meeting)


@blueprint.post("/meetings/<int:meeting_id>/agenda/items/<int:item_id>/move")
@guard(Action.MEETING_ORGANISE, load=load_meeting_item)
def meeting_agenda_move(meeting_id: int, item_id: int):
    meeting = g.resource
    _done, errors = run_rule(move_item, g.item, g.membership, request.form.get("direction") != "down")
    if errors:
        return _agenda_page(meeting, 422, errors, failed="move")
    return _to("tenant.meeting_agenda", meeting)


@blueprint.post("/meetings/<int:meeting_id>/agenda/items/<int:item_id>/remove")
@guard(Action.MEETING_ORGANISE, load=load_meeting_item)
def meeting_agenda_remove(meeting_id: int, item_id: int):
    meeting = g.resource
    _done, errors = run_rule(remove_item, g.item, g.membership)
    if errors:
        return _agenda_page(meeting, 422, errors, failed="move")
    flash(_l("The point is off the agenda."), "info")
    return _to("tenant.meeting_agenda", meeting)


# --- the attendance register --------------------------------------------------------------------


def _attendance_page(meeting: Meeting, status: int = 200, errors: dict | None = None, failed: str | None = None):
    return _page(
        "tenants/meeting_attendance.html", status, errors, failed=failed,
        marks=list(ATTENDANCE_LABELS.items()), register_open=not meeting.minutes_locked, **_meeting_context(meeting),
    )


@blueprint.get("/meetings/<int:meeting_id>/attendance")
@guard(Action.CELL_ENTER, load=load_meeting)
def meeting_attendance(meeting_id: int):
    return _attendance_page(g.resource)


@blueprint.post("/meetings/<int:meeting_id>/attendance")
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_attendance_record(meeting_id: int):
    """The register: one choice per invitee (``attendance_<membership id>``)."""
    meeting = g.resource
    marks = {}
    for invitee in meeting.invitees:
        value = request.form.get(f"attendance_{invitee.membership_id}")
        if value is not None:
            marks[invitee.membership_id] = value or None
    if not marks:
        return _attendance_page(meeting, 422, {"_schema": [str(NOTHING_SENT)]}, failed="register")
    if any(value not in (None, *Attendance) for value in marks.values()):
        return _attendance_page(meeting, 422, {"_schema": [str(_l("Choose one of the options."))]}, failed="register")
    _done, errors = run_rule(record_attendance, meeting, g.membership, marks)
    if errors:
        return _attendance_page(meeting, 422, errors, failed="register")
    flash(_l("The attendance register is saved."), "info")
    return _to("tenant.meeting_attendance", meeting)


@blueprint.post("/meetings/<int:meeting_id>/attendance/occasional")
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_occasional_add(meeting_id: int):
    meeting = g.resource
    _attendee, errors = _submit(OccasionalSchema(), lambda values: add_occasional_attendee(meeting, g.membership, values))
    if errors:
        return _attendance_page(meeting, 422, errors, failed="occasional")
    flash(_l("The occasional attendee is registered."), "info")
    return _to("tenant.meeting_attendance", meeting)


# --- the minutes ---------------------------------------------------------------------------------


def _minutes_page(meeting: Meeting, status: int = 200, errors: dict | None = None, failed: str | None = None):
    record_minutes_read(g.person, meeting)
    return _page("tenants/meeting_minutes.html", status, errors, failed=failed,
                 sitting=approving_sitting(meeting), **_meeting_context(meeting))


@blueprint.get("/meetings/<int:meeting_id>/minutes")
@guard(Action.CELL_ENTER, load=load_meeting)
def meeting_minutes(meeting_id: int):
    return _minutes_page(g.resource)


@blueprint.post("/meetings/<int:meeting_id>/minutes/items/<int:item_id>")
@guard(Action.MEETING_ORGANISE, load=load_meeting_item)
def meeting_minutes_item(meeting_id: int, item_id: int):
    meeting = g.resource
    _item, errors = _submit(MinutesItemSchema(), lambda values: write_minutes(g.item, g.membership, values))
    if errors:
        return _minutes_page(meeting, form_status(errors), errors, failed=f"item-{item_id}")
    flash(_l("The minutes of this point are saved."), "info")
    return _to("tenant.meeting_minutes", meeting, f"item-{item_id}")


@blueprint.post("/meetings/<int:meeting_id>/minutes/items/<int:item_id>/registration")
@guard(Action.CELL_ENTER, load=load_meeting_item)
def meeting_item_registration(meeting_id: int, item_id: int):
    """The partner who brought the point changes their choice: registered, or shared orally only."""
    meeting = g.resource
    _item, errors = _submit(ItemRegistrationSchema(), lambda values: change_item_registration(g.item, g.membership, values))
    if errors:
        return _minutes_page(meeting, 422, errors, failed=f"registration-{item_id}")
    flash(_l("Your choice for this point is saved."), "info")
    return _to("tenant.meeting_minutes", meeting, f"item-{item_id}")


@blueprint.post("/meetings/<int:meeting_id>/minutes/approve")
@guard(Action.CELL_ENTER, load=load_meeting)
def meeting_minutes_approve(meeting_id: int):
    """Approved by the later meeting in session (its chair, secretary or the coordinator)."""
    meeting = g.resource
    _done, errors = run_rule(approve_minutes, meeting, g.membership)
    if errors:
        return _minutes_page(meeting, 422, errors, failed="approve")
    flash(_l("The minutes are approved and locked."), "info")
    return _to("tenant.meeting_minutes", meeting)


@blueprint.post("/meetings/<int:meeting_id>/minutes/addenda")
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def meeting_minutes_addendum(meeting_id: int):
    meeting = g.resource
    _addendum, errors = _submit(AddendumSchema(), lambda values: add_addendum(meeting, g.membership, values["text"]))
    if errors:
        return _minutes_page(meeting, 422, errors, failed="addendum")
    flash(_l("The addendum is added to the minutes."), "info")
    return _to("tenant.meeting_minutes", meeting, "addenda")


@blueprint.get("/meetings/<int:meeting_id>/print")
@guard(Action.CELL_ENTER, load=load_meeting)
def meeting_print(meeting_id: int):
    """The minutes to print: case codes only, never a name of a person discussed."""
    record_minutes_read(g.person, g.resource)
    return _page("tenants/meeting_print.html", **_meeting_context(g.resource))


# --- the calendar -------------------------------------------------------------------------------


@blueprint.get("/meetings/calendar")
@guard(Action.CELL_ENTER)
def meeting_calendar():
    return _calendar_page()


def _calendar_page(new_address: str | None = None):
    return _page("tenants/meeting_calendar.html", feed=calendar.feed_of(g.membership), new_address=new_address)


@blueprint.post("/meetings/calendar/new")
@guard(Action.CELL_ENTER)
def meeting_calendar_new():
    """A new secret address, shown once; the old one stops working."""
    token = calendar.new_feed(g.membership)
    return _calendar_page(url_for("tenant.meeting_calendar_feed", token=token, _external=True))


@blueprint.post("/meetings/calendar/revoke")
@guard(Action.CELL_ENTER)
def meeting_calendar_revoke():
    if calendar.revoke_feed(g.membership):
        flash(_l("Your calendar address no longer works."), "info")
    return redirect(url_for("tenant.meeting_calendar"))


@blueprint.get("/calendar/<token>.ics")
@public
def meeting_calendar_feed(token: str):
    """The member's meetings for their calendar program: the address is the secret."""
    membership: Membership | None = calendar.member_of_feed(token) if len(token) <= 100 else None
    if membership is None:
        raise NotFound()
    response = make_response(calendar.calendar_of(membership))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    return no_store(response)

