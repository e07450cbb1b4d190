"""The JSON API for cases: the case, its team, plan, notes, reviews, closure and LTF feedback.

Views only parse and answer: every rule lives in :mod:`livc.tenants.cases.operations`, and every body is
checked by the schemas the web pages share (:mod:`livc.tenants.cases.schemas`). A refused rule
answers 422 field by field, and since a refused request is rolled back, nothing is saved
half-way.

Need-to-know: answers carry codes, dates, statuses and ids, and the case content its readers
may see, but never the identity of the person concerned, which only
``POST .../identity/reveal`` answers (audited, never cached). A target group hidden from the
team (the person is approached for another problem first) is answered as ``null``.

Requests that would take someone's access away or send the form out of the cell (removing a
team member, releasing the feedback form) ask for ``{"confirm": true}``: an empty body is
refused, so a client that sends ``{}`` by mistake changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import g, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, post_dump, validate
from werkzeug.exceptions import BadRequest, NotFound

from livc.platform import registry
from livc.platform.api import InvalidFields, load_body
from livc.platform.forms import REQUIRED, apply_or_422
from livc.platform.openapi import documented
from livc.platform.paging import PageQuery, page_answer, page_args
from livc.platform.policy import Action
from livc.platform.roles import ROLE_LABELS
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard, refuse
from livc.tenants.cases.erasure import erase_closed_case_now
from livc.tenants.cases.listing import case_rows_page
from livc.tenants.cases.loads import (
    load_any_feedback,
    load_case,
    load_feedback_case,
    load_measure_case,
    load_note_case,
    load_review_case,
    load_team_member_case,
)
from livc.tenants.cases.models import (
    CLOSURE_LABELS,
    FURTHER_LABELS,
    MEASURE_CATEGORY_LABELS,
    MEASURE_STATUS_LABELS,
    PHASE_LABELS,
    REVIEW_KIND_LABELS,
    REVIEW_OUTCOME_LABELS,
    STAGE_LABELS,
    VISIBILITY_LABELS,
    Case,
    CaseStage,
    CaseStatus,
    ClosureReason,
    FeedbackStatus,
    FurtherFollowUp,
    LtfFeedback,
    MeasureCategory,
    MeasureStatus,
    NoteVisibility,
    ReviewKind,
    ReviewOutcome,
    TerroristPhase,
)
from livc.tenants.cases.operations import (
    add_measure,
    add_note,
    add_team_member,
    approval_state,
    approve_feedback,
    change_case,
    change_identity,
    change_measure,
    change_note_registration,
    change_residence,
    check_municipality_filter,
    close_case,
    feedback_of,
    find_case,
    hold_review,
    may_change_measure,
    may_read_feedback,
    notes_for,
    record_read,
    release_feedback,
    released_feedback,
    remove_team_member,
    reveal_identity,
    reviews_of,
    stage_of,
    start_feedback,
    target_group_visible,
    update_feedback,
)
from livc.tenants.cases.schemas import (
    ApprovalSchema,
    CaseChangeSchema,
    CaseResidenceSchema,
    ClosureSchema,
    DecisionSchema,
    FeedbackSchema,
    MeasureChangeSchema,
    MeasureSchema,
    NoteRegistrationSchema,
    NoteSchema,
    ReviewSchema,
    TeamMemberSchema,
)
from livc.tenants.cases.timeline import Event, timeline
from livc.tenants.decisions.models import DecisionWay, Proposal
from livc.tenants.decisions.operations import proposal_summary
from livc.tenants.decisions.schemas import ProposalSummaryOut
from livc.tenants.members.schemas import FieldSchema
from livc.tenants.signals.models import (
    FLAG_LABELS,
    FOLLOW_UP_LABELS,
    TARGET_GROUP_LABELS,
    FlagLevel,
    FollowUpKind,
)
from livc.tenants.signals.registration import ORAL_ONLY_SHOWN, REGISTRATION_LABELS, Registration
from livc.tenants.signals.schemas import IdentitySchema
from livc.tenants.web import AnswerFor, blueprint, enum_value, label_of, no_store_answer

CONFIRM = _l('Send "confirm": true to confirm.')


# --- what is accepted --------------------------------------------------------------------------


class ConfirmSchema(FieldSchema):
    """What a request that takes away access or sends something out must carry."""

    confirm = fields.Boolean(
        required=True, validate=validate.Equal(True, error=CONFIRM), error_messages={**REQUIRED, "invalid": CONFIRM}
    )


class TeamRemovalSchema(ConfirmSchema, DecisionSchema):
    """Taking a member off the team: confirmed, and put to the cell as any team change."""


def _confirmed(schema: FieldSchema | None = None) -> dict:
    """``{"confirm": true}`` or 422 naming ``confirm`` (an absent body counts as ``{}``)."""
    if not request.get_data():
        raise InvalidFields({"confirm": [str(CONFIRM)]})
    return load_body(schema or ConfirmSchema())


def _decision_answer(proposal: Proposal, **body: Any):
    """200 once the decision is in effect (taken in a meeting, or urgent); 202 while it waits
    for a second member, with nothing changed yet."""
    return no_store_answer(200 if proposal.in_effect else 202, decision=proposal_summary(proposal), **body)


# --- what is answered --------------------------------------------------------------------------


class CaseSummaryOut(AnswerFor):
    """A case as the list shows it: code, where it stands, never anything about the person."""

    id = fields.Integer()
    code = fields.String()
    status = enum_value(CaseStatus)
    stage = fields.Method("_stage")
    stage_label = fields.Method("_stage_label")
    flag = enum_value(FlagLevel)
    flag_label = fields.Function(lambda case: label_of(FLAG_LABELS, case.flag))
    follow_up_kind = enum_value(FollowUpKind)
    follow_up_kind_label = fields.Function(lambda case: label_of(FOLLOW_UP_LABELS, case.follow_up_kind))
    target_group = fields.Method("_target_group")
    target_group_label = fields.Method("_target_group_label")
    opened_at = fields.DateTime()
    residence_nis = fields.String(allow_none=True)  # the municipality of residence, one of the cell's
    residence_name = fields.Function(lambda case: registry.name_of(case.residence_nis))
    next_review_on = fields.Date(allow_none=True)
    open_measures = fields.Method("_open_measures")
    closed_at = fields.DateTime(allow_none=True)
    closure_reason = enum_value(ClosureReason, allow_none=True)
    closure_reason_label = fields.Function(lambda case: label_of(CLOSURE_LABELS, case.closure_reason))

    def __init__(self, person=None, **kwargs) -> None:
        super().__init__(person, **kwargs)
        self.stages: dict[int, CaseStage] = {}  # a case's stage, worked out once per answer
        self.open_counts: dict[int, int] = {}  # a listed case's open measures, counted in SQL

    def _stage_of(self, case: Case) -> CaseStage:
        if case.id not in self.stages:
            self.stages[case.id] = stage_of(case)
        return self.stages[case.id]

    def _stage(self, case: Case) -> str:
        return self._stage_of(case).value

    def _stage_label(self, case: Case) -> str:
        return label_of(STAGE_LABELS, self._stage_of(case))

    def _open_measures(self, case: Case) -> int:
        if case.id in self.open_counts:
            return self.open_counts[case.id]
        return len(case.open_measures)

    def _target_group(self, case: Case) -> str | None:
        return case.target_group.value if target_group_visible(self.person, case) else None

    def _target_group_label(self, case: Case) -> str | None:
        return label_of(TARGET_GROUP_LABELS, case.target_group) if target_group_visible(self.person, case) else None


class TeamMemberOut(Schema):
    """A member of the cell in the case team (a professional, never the person concerned)."""

    id = fields.Integer()
    membership_id = fields.Integer(allow_none=True)
    display_name = fields.Function(lambda member: member.membership.account.display_name if member.membership else None)
    role = fields.Function(lambda member: member.membership.role.value if member.membership else None)
    role_label = fields.Function(lambda member: label_of(ROLE_LABELS, member.membership.role) if member.membership else None)
    organisation = fields.Function(lambda member: member.membership.organisation.name if member.membership else None)
    until = fields.Date(allow_none=True)
    added_at = fields.DateTime()


class MeasureOut(Schema):
    id = fields.Integer()
    description = fields.String()
    organisation_id = fields.Integer(allow_none=True)
    organisation = fields.Function(lambda measure: measure.organisation.name if measure.organisation else None)
    due_on = fields.Date(allow_none=True)
    status = enum_value(MeasureStatus)
    status_label = fields.Function(lambda measure: label_of(MEASURE_STATUS_LABELS, measure.status))
    category = enum_value(MeasureCategory)
    category_label = fields.Function(lambda measure: label_of(MEASURE_CATEGORY_LABELS, measure.category))
    open = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer(metadata={"description": "Send it back with a change: a change made meanwhile answers 409."})


class NoteOut(Schema):
    id = fields.Integer()
    author_id = fields.Integer(allow_none=True)
    author = fields.Function(lambda note: note.author.account.display_name if note.author else None)
    visibility = enum_value(NoteVisibility)
    visibility_label = fields.Function(lambda note: label_of(VISIBILITY_LABELS, note.visibility))
    brought_by_id = fields.Integer(allow_none=True)
    brought_by = fields.Function(lambda note: note.brought_by.account.display_name if note.brought_by else None)
    registration = enum_value(Registration)
    # Shared orally only: no body, "shared orally, not registered".
    registration_label = fields.Function(
        lambda note: str(ORAL_ONLY_SHOWN) if note.registration == Registration.ORAL_ONLY
        else label_of(REGISTRATION_LABELS, note.registration))
    created_at = fields.DateTime()
    body = fields.String(allow_none=True)


class ReviewOut(Schema):
    id = fields.Integer()
    kind = enum_value(ReviewKind)
    kind_label = fields.Function(lambda review: label_of(REVIEW_KIND_LABELS, review.kind))
    due_on = fields.Date()
    held = fields.Boolean()
    held_on = fields.Date(allow_none=True)
    held_by_id = fields.Integer(allow_none=True)
    outcome = enum_value(ReviewOutcome, allow_none=True)
    outcome_label = fields.Function(lambda review: label_of(REVIEW_OUTCOME_LABELS, review.outcome))
    flag = enum_value(FlagLevel, allow_none=True)
    flag_label = fields.Function(lambda review: label_of(FLAG_LABELS, review.flag))
    summary = fields.String(allow_none=True)


class FeedbackSummaryOut(Schema):
    """Where a feedback form stands: who approved its current revision, who is still asked."""

    id = fields.Integer()
    status = enum_value(FeedbackStatus)
    revision = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer(metadata={"description": "Send it back with a change: a change made meanwhile answers 409."})
    released_at = fields.DateTime(allow_none=True)
    approvals = fields.Method("_approvals")

    def _approvals(self, feedback: LtfFeedback) -> dict:
        state = approval_state(find_case(feedback.case_id), feedback)
        return {
            "revision": state.revision,
            "approved": [membership.id for membership in state.approved],
            "waiting": [membership.id for membership in state.waiting],
            "complete": state.complete,
        }


class FeedbackOut(FeedbackSummaryOut):
    """The whole form (*LIVC-R-terugkoppelingsfiche*)."""

    effectiveness = fields.String(allow_none=True)
    cooperation = fields.String(allow_none=True)
    distance = fields.String(allow_none=True)
    further_follow_up = enum_value(FurtherFollowUp, allow_none=True)
    further_follow_up_label = fields.Function(lambda feedback: label_of(FURTHER_LABELS, feedback.further_follow_up))
    further_note = fields.String(allow_none=True)
    other_elements = fields.String(allow_none=True)
    terrorist_phase = enum_value(TerroristPhase, allow_none=True)
    terrorist_phase_label = fields.Function(lambda feedback: label_of(PHASE_LABELS, feedback.terrorist_phase))
    phase_explanation = fields.String(allow_none=True)


class ReleasedFeedbackOut(FeedbackOut):
    """A released form as the information officer receives it: the case by its code only."""

    case_code = fields.Method("_case_code")

    def _case_code(self, feedback: LtfFeedback) -> str:
        return find_case(feedback.case_id).code


class EventOut(Schema):
    """An event of the timeline (oldest first): what, when, the ids of the records concerned,
    and the stage the case entered with it, if any."""

    kind = fields.String()
    at = fields.DateTime()
    id = fields.Function(lambda event: event.record.id if event.record is not None else None)
    membership_id = fields.Function(lambda event: getattr(event.record, "membership_id", None))
    stage = fields.Function(lambda event: event.stage.value if event.stage else None)  # the stage it moved the case to

    @post_dump
    def _only_team_events_name_a_member(self, data: dict, **_kwargs) -> dict:
        if data.get("membership_id") is None:
            data.pop("membership_id", None)
        return data


class CaseOut(CaseSummaryOut):
    """The case as its readers see it, with everything it holds that they may read."""

    approached_for_other_problem = fields.Boolean()
    goal = fields.String(allow_none=True)
    closure_note = fields.String(allow_none=True)
    erase_after = fields.Date(allow_none=True)
    updated_at = fields.DateTime()
    version = fields.Integer(metadata={"description": "Send it back with a change: a change made meanwhile answers 409."})
    identity_recorded = fields.Function(lambda case: case.identity_id is not None)
    team = fields.List(fields.Nested(TeamMemberOut))
    measures = fields.List(fields.Nested(MeasureOut))
    notes = fields.Method("_notes")
    reviews = fields.Function(lambda case: ReviewOut(many=True).dump(reviews_of(case)))
    feedback = fields.Function(lambda case: FeedbackSummaryOut(many=True).dump(feedback_of(case)))
    timeline = fields.Method("_timeline")

    def _notes(self, case: Case) -> list[dict]:
        return NoteOut(many=True).dump(notes_for(self.person, case))

    def _timeline(self, case: Case) -> list[dict]:
        events: list[Event] = timeline(self.person, case)
        return EventOut(many=True).dump(events)


# --- the answers' envelopes, for the OpenAPI document ------------------------------------------------


class CaseChangedAnswer(Schema):
    changed = fields.List(fields.String(), metadata={"description": "The names of the fields that changed."})
    case = fields.Nested(CaseSummaryOut)


class ResidenceChangedAnswer(Schema):
    changed = fields.Boolean()
    case = fields.Nested(CaseSummaryOut)


class IdentityOut(Schema):
    given_names = fields.String(allow_none=True)
    family_name = fields.String(allow_none=True)
    date_of_birth = fields.String(allow_none=True)
    national_number = fields.String(allow_none=True)
    address = fields.String(allow_none=True)


class IdentityChangedAnswer(Schema):
    changed = fields.List(fields.String())
    identity_recorded = fields.Boolean()


class CaseDecisionAnswer(Schema):
    """200 once in effect, 202 while the decision waits for a second member."""

    decision = fields.Nested(ProposalSummaryOut)
    case = fields.Nested(CaseSummaryOut)


class MeasureChangedAnswer(Schema):
    changed = fields.List(fields.String())
    measure = fields.Nested(MeasureOut)


class ReviewAnswer(Schema):
    review = fields.Nested(ReviewOut)
    case = fields.Nested(CaseSummaryOut)


class FeedbackChangedAnswer(Schema):
    changed = fields.List(fields.String())
    feedback = fields.Nested(FeedbackOut)


class ReleasedFeedbackItemOut(Schema):
    id = fields.Integer()
    case_code = fields.String()
    revision = fields.Integer()
    released_at = fields.DateTime(allow_none=True)
    location = fields.String()


class CasesQuery(PageQuery):
    municipality = fields.String(metadata={"description": "A NIS code of one of the cell's municipalities."})


def _summary(case: Case) -> dict:
    return CaseSummaryOut(g.person).dump(case)


# --- cases -------------------------------------------------------------------------------------


@blueprint.get("/api/cases")
@documented(answer=CaseSummaryOut, many=True, envelope="cases", paged=True, query=CasesQuery, tags=("cases",),
            summary="The cases the member may read.")
@guard(Action.CELL_ENTER)
def api_cases():
    """The cases the member may read (the coordinator: all), the open ones first, by code, a page
    at a time (``?per_page=``, default 50; ``next`` is the next page's path, or null);
    ``?municipality=<NIS code>``: those of people living in that municipality of the cell
    (another code, or a cursor that is no longer valid, answers 400)."""
    try:
        municipality = check_municipality_filter(request.args.get("municipality"))
    except ValidationError as error:
        raise BadRequest(" ".join(str(message) for message in error.messages["municipality"])) from None
    page = case_rows_page(g.person, page_args(request.args), utcnow().date(), municipality=municipality)
    summaries = CaseSummaryOut(g.person, many=True)
    summaries.stages.update({row.case.id: row.stage for row in page.items})
    summaries.open_counts.update({row.case.id: row.open_measures for row in page.items})
    return no_store_answer(**page_answer(page, "cases", summaries.dump([row.case for row in page.items])))


@blueprint.get("/api/cases/<int:case_id>")
@documented(answer=CaseOut, envelope="case", tags=("cases",), summary="A case as its reader may see it.")
@guard(Action.CASE_READ, load=load_case)
def api_case(case_id: int):
    case = g.resource
    record_read(case, "case")
    return no_store_answer(case=CaseOut(g.person).dump(case))


@blueprint.patch("/api/cases/<int:case_id>")
@documented(body=CaseChangeSchema, answer=CaseChangedAnswer, tags=("cases",), summary="Change a case.")
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_change(case_id: int):
    """Change the target group, the kind of follow-up or the goal: only the fields sent change."""
    case = g.resource
    changed = apply_or_422(change_case, case, g.membership, load_body(CaseChangeSchema()))
    return no_store_answer(changed=changed, case=_summary(case))


@blueprint.put("/api/cases/<int:case_id>/residence")
@documented(body=CaseResidenceSchema, answer=ResidenceChangedAnswer, tags=("cases",), summary="Record a move within the territory.")
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_residence(case_id: int):
    """The person moved within the territory (``{"residence_nis": "<NIS code>"}``, one of the
    cell's municipalities); a move out of it is a closure with the reason "moved away"."""
    values = load_body(CaseResidenceSchema())
    changed = apply_or_422(change_residence, g.resource, g.membership, values["residence_nis"])
    return no_store_answer(changed=changed, case=_summary(g.resource))


@blueprint.post("/api/cases/<int:case_id>/identity/reveal")
@documented(answer=IdentityOut, envelope="identity", errors=(422,), tags=("cases",), summary="The identity of the person concerned (audited).")
@guard(Action.CASE_READ, load=load_case)
def api_case_identity_reveal(case_id: int):
    """The identity of the person concerned, for this one answer (audited, never cached)."""
    return no_store_answer(identity=apply_or_422(reveal_identity, g.resource, g.membership))


@blueprint.put("/api/cases/<int:case_id>/identity")
@documented(body=IdentitySchema, answer=IdentityChangedAnswer, tags=("cases",), summary="Write the identity of the person concerned.")
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_identity(case_id: int):
    """Write the identity (the fields sent; an empty one clears it): answers which fields
    changed, never their values."""
    changed = apply_or_422(change_identity, g.resource, g.membership, load_body(IdentitySchema()))
    return no_store_answer(changed=changed, identity_recorded=g.resource.identity_id is not None)


# --- the team ----------------------------------------------------------------------------------


@blueprint.post("/api/cases/<int:case_id>/team")
@documented(body=TeamMemberSchema, answer=CaseDecisionAnswer, also=(202,), tags=("cases",), summary="Add a member to the case team.")
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_team_add(case_id: int):
    proposal = apply_or_422(add_team_member, g.resource, g.membership, load_body(TeamMemberSchema()))
    return _decision_answer(proposal, case=_summary(g.resource))


@blueprint.delete("/api/cases/<int:case_id>/team/<int:team_member_id>")
@documented(body=TeamRemovalSchema, answer=CaseDecisionAnswer, also=(202,), tags=("cases",), summary="Take a member out of the case team.")
@guard(Action.CASE_MANAGE, load=load_team_member_case)
def api_case_team_remove(case_id: int, team_member_id: int):
    """Take a member out of the team (``{"confirm": true}``): they no longer read the case."""
    body = _confirmed(TeamRemovalSchema())
    proposal = apply_or_422(remove_team_member, g.resource, g.team_member, g.membership, body.get("way") or DecisionWay.PROPOSE)
    return _decision_answer(proposal, case=_summary(g.resource))


# --- the follow-up plan and notes ----------------------------------------------------------------


@blueprint.post("/api/cases/<int:case_id>/measures")
@documented(body=MeasureSchema, answer=MeasureOut, envelope="measure", status=201, tags=("cases",), summary="Add a measure to the plan.")
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_measure_add(case_id: int):
    measure = apply_or_422(add_measure, g.resource, g.membership, load_body(MeasureSchema()))
    return no_store_answer(201, measure=MeasureOut().dump(measure))


@blueprint.patch("/api/cases/<int:case_id>/measures/<int:measure_id>")
@documented(body=MeasureChangeSchema, answer=MeasureChangedAnswer, tags=("cases",), summary="Change a measure.")
@guard(Action.CASE_WORK, load=load_measure_case)
def api_case_measure_change(case_id: int, measure_id: int):
    """The coordinator changes anything; a team member of the measure's organisation changes its
    status only. A request that asks for no change changes nothing and answers the measure,
    which every reader of the case sees anyway."""
    case, measure = g.resource, g.measure
    values = load_body(MeasureChangeSchema())
    if values and not may_change_measure(g.membership, measure):
        refuse(Action.CASE_WORK, "not of the measure's organisation")
    changed = apply_or_422(change_measure, case, measure, g.membership, values) if values else []
    return no_store_answer(changed=changed, measure=MeasureOut().dump(measure))


@blueprint.post("/api/cases/<int:case_id>/notes")
@documented(body=NoteSchema, answer=NoteOut, envelope="note", status=201, tags=("cases",), summary="Add a progress note.")
@guard(Action.CASE_WORK, load=load_case)
def api_case_note_add(case_id: int):
    note = apply_or_422(add_note, g.resource, g.membership, load_body(NoteSchema()))
    return no_store_answer(201, note=NoteOut().dump(note))


@blueprint.put("/api/cases/<int:case_id>/notes/<int:note_id>/registration")
@documented(body=NoteRegistrationSchema, answer=NoteOut, envelope="note", tags=("cases",), summary="Change whether a note is registered.")
@guard(Action.CASE_WORK, load=load_note_case)
def api_case_note_registration(case_id: int, note_id: int):
    """The partner who brought the note changes their choice: ``registered`` with the ``body``,
    or ``oral_only`` (the body is erased)."""
    note = apply_or_422(change_note_registration, g.resource, g.note, g.membership, load_body(NoteRegistrationSchema()))
    return no_store_answer(note=NoteOut().dump(note))


# --- reviews and closure -----------------------------------------------------------------------


@blueprint.post("/api/cases/<int:case_id>/reviews/<int:review_id>")
@documented(body=ReviewSchema, answer=ReviewAnswer, tags=("cases",), summary="Hold a review.")
@guard(Action.CASE_MANAGE, load=load_review_case)
def api_case_review_hold(case_id: int, review_id: int):
    """Hold the review: its outcome and summary; the next one is planned, or the case reopened."""
    review = apply_or_422(hold_review, g.resource, g.review, g.membership, load_body(ReviewSchema()))
    return no_store_answer(review=ReviewOut().dump(review), case=_summary(g.resource))


@blueprint.post("/api/cases/<int:case_id>/closure")
@documented(body=ClosureSchema, answer=CaseDecisionAnswer, also=(202,), tags=("cases",), summary="Close the case.")
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_close(case_id: int):
    """Close the case with a reason (and a note on why, when measures are still open)."""
    proposal = apply_or_422(close_case, g.resource, g.membership, load_body(ClosureSchema()))
    return _decision_answer(proposal, case=_summary(g.resource))


@blueprint.post("/api/cases/<int:case_id>/erasure")
@documented(body=ConfirmSchema, status=204, tags=("cases",), summary="Erase a closed case now.")
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_erase(case_id: int):
    """Erase a closed case now (``{"confirm": true}``): its keys are destroyed, its rows
    deleted, an anonymous count kept. The nightly retention does the same when it is due."""
    _confirmed()
    apply_or_422(erase_closed_case_now, g.resource, g.membership)
    return "", 204


# --- feedback to the Local Task Force ------------------------------------------------------------


def _feedback_location(case: Case, feedback: LtfFeedback) -> str:
    return url_for("tenant.api_case_feedback", case_id=case.id, feedback_id=feedback.id)


@blueprint.post("/api/cases/<int:case_id>/feedback")
@documented(body=FeedbackSchema, answer=FeedbackOut, envelope="feedback", status=201, tags=("cases",), summary="Start the feedback form to the Local Task Force.")
@guard(Action.CASE_MANAGE, load=load_case)
def api_case_feedback_start(case_id: int):
    case = g.resource
    feedback = apply_or_422(start_feedback, case, g.membership, load_body(FeedbackSchema()))
    return no_store_answer(201, location=_feedback_location(case, feedback), feedback=FeedbackOut().dump(feedback))


@blueprint.get("/api/cases/<int:case_id>/feedback/<int:feedback_id>")
@documented(answer=FeedbackOut, envelope="feedback", tags=("cases",), summary="A feedback form.")
@guard(Action.CASE_WORK, load=load_feedback_case)
def api_case_feedback(case_id: int, feedback_id: int):
    record_read(g.resource, "feedback")
    return no_store_answer(feedback=FeedbackOut().dump(g.feedback))


@blueprint.patch("/api/cases/<int:case_id>/feedback/<int:feedback_id>")
@documented(body=FeedbackSchema, answer=FeedbackChangedAnswer, tags=("cases",), summary="Change the feedback form.")
@guard(Action.CASE_MANAGE, load=load_feedback_case)
def api_case_feedback_change(case_id: int, feedback_id: int):
    """Change the form (the fields sent): any change is a new revision, approved anew."""
    changed = apply_or_422(update_feedback, g.resource, g.feedback, g.membership, load_body(FeedbackSchema()))
    return no_store_answer(changed=changed, feedback=FeedbackOut().dump(g.feedback))


@blueprint.post("/api/cases/<int:case_id>/feedback/<int:feedback_id>/approvals")
@documented(body=ApprovalSchema, answer=FeedbackSummaryOut, envelope="feedback", status=201, tags=("cases",), summary="Approve the revision read.")
@guard(Action.CASE_WORK, load=load_feedback_case)
def api_case_feedback_approve(case_id: int, feedback_id: int):
    """Approve the revision read (``{"revision": n}``): a form changed since is refused."""
    values = load_body(ApprovalSchema())
    apply_or_422(approve_feedback, g.resource, g.feedback, g.membership, values["revision"])
    return no_store_answer(201, feedback=FeedbackSummaryOut().dump(g.feedback))


@blueprint.post("/api/cases/<int:case_id>/feedback/<int:feedback_id>/release")
@documented(body=ConfirmSchema, answer=FeedbackSummaryOut, envelope="feedback", tags=("cases",), summary="Release the form to the information officer.")
@guard(Action.CASE_MANAGE, load=load_feedback_case)
def api_case_feedback_release(case_id: int, feedback_id: int):
    """Release the form to the information officer (``{"confirm": true}``), once every
    participant approved its current revision."""
    _confirmed()
    feedback = apply_or_422(release_feedback, g.resource, g.feedback, g.membership)
    return no_store_answer(feedback=FeedbackSummaryOut().dump(feedback))


@blueprint.get("/api/ltf-feedback")
@documented(answer=ReleasedFeedbackItemOut, many=True, envelope="feedback", tags=("cases",), summary="The released feedback forms.")
@guard(Action.POLICE_INFO_READ)
def api_ltf_feedback_list():
    """The released forms, newest first, by case code: what the information officer passes on."""
    return no_store_answer(feedback=[
        {"id": feedback.id, "case_code": case.code, "revision": feedback.revision,
         "released_at": fields.DateTime().serialize("released_at", feedback),
         "location": url_for("tenant.api_ltf_feedback", feedback_id=feedback.id)}
        for case, feedback in released_feedback()
    ])


@blueprint.get("/api/ltf-feedback/<int:feedback_id>")
@documented(answer=ReleasedFeedbackOut, envelope="feedback", tags=("cases",), summary="A released feedback form.")
@guard(Action.POLICE_INFO_READ, load=load_any_feedback)
def api_ltf_feedback(feedback_id: int):
    feedback = g.resource
    case = find_case(feedback.case_id)
    if not feedback.released or not may_read_feedback(g.person, case, feedback):
        raise NotFound()
    record_read(case, "feedback")
    return no_store_answer(feedback=ReleasedFeedbackOut().dump(feedback))

