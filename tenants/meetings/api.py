"""The JSON API for meetings: the list, one meeting, and the steps the pages take.

Views only parse and answer: the rules live in :mod:`livc.tenants.meetings.operations` and the
bodies are checked by the schemas the pages share. A refused rule answers 422 field by field and
nothing is saved half-way, also for a member who does not organise the meeting (``_schema``).

Need-to-know holds as on the pages: an agenda item the reader may not read in full is answered
with its kind, code and title only (``"sight": "code"``, no summary, no decisions); a guest
expert gets only the item they are invited for.
"""

from __future__ import annotations

from flask import g, request, url_for
from marshmallow import Schema, fields

from livc.platform.api import InvalidFields, load_body
from livc.platform.forms import apply_or_422
from livc.platform.openapi import documented
from livc.platform.paging import PageQuery, keyset_page, page_answer, page_args
from livc.platform.policy import Action
from livc.tenants.access import guard
from livc.tenants.meetings.models import (
    ATTENDANCE_LABELS,
    ITEM_KIND_LABELS,
    MEETING_KIND_LABELS,
    MEETING_STATUS_LABELS,
    MINUTES_STATE_LABELS,
    AgendaItem,
    Meeting,
    MeetingKind,
    MeetingStatus,
    MinutesState,
)
from livc.tenants.meetings.operations import (
    Sight,
    add_item,
    approve_minutes,
    attendance_counts,
    change_item_registration,
    close_session,
    decisions_by_item,
    item_title,
    may_organise,
    meeting_title,
    meetings_query,
    open_session,
    plan_meeting,
    record_attendance,
    record_minutes_read,
    reschedule_meeting,
    visible_items,
    write_minutes,
)
from livc.tenants.meetings.schemas import (
    NOTHING_MARKED,
    AttendanceSchema,
    ItemRegistrationSchema,
    ItemSchema,
    MeetingSchema,
    MinutesItemSchema,
    RescheduleSchema,
    SessionSchema,
)
from livc.tenants.meetings.views import PAST_ORDER as MEETING_ORDER
from livc.tenants.meetings.views import load_meeting, load_meeting_item
from livc.tenants.signals.registration import ORAL_ONLY_SHOWN, REGISTRATION_LABELS, Registration
from livc.tenants.web import AnswerFor, blueprint, enum_value, label_of, no_store_answer


class MeetingSummaryOut(AnswerFor):
    """A meeting as the list shows it: when, where, its state, attendance counts."""

    id = fields.Integer()
    title = fields.Function(meeting_title)
    table_id = fields.Integer(allow_none=True)
    case_code = fields.String(allow_none=True)
    kind = enum_value(MeetingKind)
    kind_label = fields.Function(lambda meeting: label_of(MEETING_KIND_LABELS, meeting.kind))
    status = enum_value(MeetingStatus)
    status_label = fields.Function(lambda meeting: label_of(MEETING_STATUS_LABELS, meeting.status))
    starts_at = fields.DateTime()
    ends_at = fields.DateTime()
    place = fields.String(allow_none=True)
    video_link = fields.String(allow_none=True)
    chair_id = fields.Integer(allow_none=True)
    secretary_id = fields.Integer(allow_none=True)
    attendance = fields.Function(attendance_counts)
    minutes = fields.Method("_minutes")

    def _minutes(self, meeting: Meeting) -> dict:
        state = meeting.minutes_state
        return {
            "state": state.value,
            "label": str(MINUTES_STATE_LABELS[state]),
            "approved_at": meeting.minutes_approved_at.isoformat() if state == MinutesState.APPROVED else None,
            "approved_in_meeting_id": meeting.minutes_approved_in_id,
            "addenda": len(meeting.addenda),
        }


class MeetingOut(MeetingSummaryOut):
    """One meeting: its agenda as the reader may see it, and its attendance register."""

    agenda = fields.Method("_agenda")
    register = fields.Method("_register")
    occasional_attendees = fields.Method("_occasional")
    organiser = fields.Method("_organiser")

    def _agenda(self, meeting: Meeting) -> list[dict]:
        decided, _rest = decisions_by_item(meeting)
        answer = []
        for item, sight in visible_items(self.person, meeting):
            entry = {
                "id": item.id, "position": item.position, "kind": item.kind.value,
                "kind_label": label_of(ITEM_KIND_LABELS, item.kind), "title": item_title(item),
                "reference": item.reference, "sight": sight.value, "handled": item.handled,
                "off_the_record": item.off_the_record, "brought_by_id": item.brought_by_id,
                "registration": item.registration.value,
                # Shared orally only: no summary, "shared orally, not registered".
                "registration_label": str(ORAL_ONLY_SHOWN) if item.registration == Registration.ORAL_ONLY
                else label_of(REGISTRATION_LABELS, item.registration),
            }
            if sight == Sight.FULL:
                entry.update(
                    case_id=item.case_id, signal_id=item.signal_id, police_information=item.police_information,
                    summary=None if item.off_the_record else item.summary,
                    decisions=[{"id": p.id, "kind": p.kind.value, "status": p.status.value, "subject_code": p.subject_code}
                               for p in decided.get(item.id, [])],
                )
            answer.append(entry)
        return answer

    def _register(self, meeting: Meeting) -> list[dict]:
        return [{
            "membership_id": invitee.membership_id, "name": invitee.membership.account.label,
            "organisation": invitee.membership.organisation.name, "for_item_id": invitee.item_id,
            "attendance": invitee.attendance.value if invitee.attendance else None,
            "attendance_label": label_of(ATTENDANCE_LABELS, invitee.attendance),
        } for invitee in meeting.invitees]

    def _occasional(self, meeting: Meeting) -> list[dict]:
        return [{"name": a.name, "organisation": a.organisation, "capacity": a.capacity}
                for a in meeting.occasional_attendees]

    def _organiser(self, meeting: Meeting) -> bool:
        return may_organise(g.membership, meeting)


class MeetingAnswer(Schema):
    meeting = fields.Nested(MeetingOut)


class MeetingItemAnswer(MeetingAnswer):
    item_id = fields.Integer()


def _answer(meeting: Meeting, status: int = 200, **extra):
    return no_store_answer(status, location=url_for("tenant.api_meeting", meeting_id=meeting.id) if status == 201 else None,
                           meeting=MeetingOut(g.person).dump(meeting), **extra)


def _apply(operation, *args):
    return apply_or_422(operation, *args)


@blueprint.get("/api/meetings")
@documented(answer=MeetingSummaryOut, many=True, envelope="meetings", query=PageQuery, paged=True,
            summary="The meetings the member may see, the latest start first, a page at a time.", tags=("meetings",))
@guard(Action.CELL_ENTER)
def api_meetings():
    """Past and planned meetings the member may see, with attendance counts and minutes state."""
    page = keyset_page(meetings_query(g.person), MEETING_ORDER, page_args(request.args), scope="meetings")
    return no_store_answer(**page_answer(page, "meetings", MeetingSummaryOut(g.person, many=True).dump(page.items)))


@blueprint.post("/api/meetings")
@documented(body=MeetingSchema, answer=MeetingAnswer, status=201, summary="Plan a meeting.", tags=("meetings",))
@guard(Action.CELL_STRUCTURE_VIEW)
def api_meeting_plan():
    values = load_body(MeetingSchema())
    meeting = _apply(plan_meeting, g.membership, values)
    return _answer(meeting, 201)


@blueprint.get("/api/meetings/<int:meeting_id>")
@documented(answer=MeetingAnswer, summary="A meeting, its agenda as the reader may see it and its register.", tags=("meetings",))
@guard(Action.CELL_ENTER, load=load_meeting)
def api_meeting(meeting_id: int):
    record_minutes_read(g.person, g.resource)
    return _answer(g.resource)


@blueprint.patch("/api/meetings/<int:meeting_id>")
@documented(body=RescheduleSchema(partial=True), answer=MeetingAnswer, summary="Move a planned meeting.", tags=("meetings",))
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def api_meeting_reschedule(meeting_id: int):
    """Move a planned meeting: the fields sent change (``starts_at``, ``ends_at`` in Belgian
    time, ``place``, ``video_link``; null clears a place or link); the invitees are told."""
    meeting = g.resource
    _apply(reschedule_meeting, meeting, g.membership, load_body(RescheduleSchema(partial=True)))
    return _answer(meeting)


@blueprint.post("/api/meetings/<int:meeting_id>/session")
@documented(body=SessionSchema, answer=MeetingAnswer, summary="Open or close the session.", tags=("meetings",))
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def api_meeting_session(meeting_id: int):
    """``{"action": "open"}`` or ``{"action": "close"}``."""
    meeting = g.resource
    body = load_body(SessionSchema())
    _apply(open_session if body["action"] == "open" else close_session, meeting, g.membership)
    return _answer(meeting)


@blueprint.post("/api/meetings/<int:meeting_id>/items")
@documented(body=ItemSchema, answer=MeetingItemAnswer, status=201, summary="Add an agenda item.", tags=("meetings",))
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def api_meeting_item_add(meeting_id: int):
    meeting = g.resource
    values = load_body(ItemSchema())
    item: AgendaItem = _apply(add_item, meeting, g.membership, g.person, values)
    return _answer(meeting, 201, item_id=item.id)


@blueprint.post("/api/meetings/<int:meeting_id>/attendance")
@documented(body=AttendanceSchema, answer=MeetingAnswer, summary="Register attendance.", tags=("meetings",))
@guard(Action.MEETING_ORGANISE, load=load_meeting)
def api_meeting_attendance(meeting_id: int):
    meeting = g.resource
    values = load_body(AttendanceSchema())
    marks = {mark["membership_id"]: mark.get("attendance") for mark in values["marks"]}
    if not marks:
        raise InvalidFields({"marks": [str(NOTHING_MARKED)]})
    _apply(record_attendance, meeting, g.membership, marks)
    return _answer(meeting)


@blueprint.post("/api/meetings/<int:meeting_id>/minutes/items/<int:item_id>")
@documented(body=MinutesItemSchema, answer=MeetingAnswer, summary="Write the minutes of an item.", tags=("meetings",))
@guard(Action.MEETING_ORGANISE, load=load_meeting_item)
def api_meeting_minutes_item(meeting_id: int, item_id: int):
    meeting = g.resource
    values = load_body(MinutesItemSchema())
    _apply(write_minutes, g.item, g.membership, values)
    return _answer(meeting)


@blueprint.put("/api/meetings/<int:meeting_id>/items/<int:item_id>/registration")
@documented(body=ItemRegistrationSchema, answer=MeetingAnswer, summary="Change whether a point is registered.", tags=("meetings",))
@guard(Action.CELL_ENTER, load=load_meeting_item)
def api_meeting_item_registration(meeting_id: int, item_id: int):
    """The partner who brought the point changes their choice: ``registered`` with the
    ``summary`` (while the minutes are written), or ``oral_only`` (its summary is erased)."""
    _apply(change_item_registration, g.item, g.membership, load_body(ItemRegistrationSchema()))
    return _answer(g.resource)


@blueprint.post("/api/meetings/<int:meeting_id>/minutes/approve")
@documented(answer=MeetingAnswer, errors=(422,), summary="Approve the minutes.", tags=("meetings",))
@guard(Action.CELL_ENTER, load=load_meeting)
def api_meeting_minutes_approve(meeting_id: int):
    meeting = g.resource
    _apply(approve_minutes, meeting, g.membership)
    return _answer(meeting)
