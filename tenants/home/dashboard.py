"""The member's dashboard, on the cell's home page and in the API: the signals to weigh, the
member's own signals, the cases they may read by stage, and what is due for them; and the
queries behind each role's cards (:mod:`livc.tenants.home.boards`): the measures of the member's
organisation, their case teams, the feedback forms on their way to the Local Task Force, the
police information the information officer records, the year's key figures (:mod:`livc.tenants.monitoring`).

It reads signals, cases and meetings, which is why it sits above those domains. Nothing here
decrypts: a dashboard shows codes, dates, statuses and counts, never what a case says.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask import g
from marshmallow import Schema, fields
from sqlalchemy.orm import selectinload

from livc.platform.db import db
from livc.platform.openapi import documented
from livc.platform.policy import Action, Person
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.cases import tallies
from livc.tenants.cases.listing import (
    first_cases_by_stage,
    readable,
    readable_where,
    stage_column,
    stage_counts,
)
from livc.tenants.cases.models import (
    MEASURE_STATUS_LABELS,
    OPEN_MEASURE_STATUSES,
    REVIEW_KIND_LABELS,
    STAGE_LABELS,
    Case,
    CaseStage,
    CaseStatus,
    FeedbackStatus,
    LtfFeedback,
    Measure,
    Review,
)
from livc.tenants.cases.operations import approval_state
from livc.tenants.meetings.models import AgendaItem, Meeting, MeetingStatus
from livc.tenants.meetings.operations import Sight, meetings_for, visible_items
from livc.tenants.monitoring.figures import Period, Shown
from livc.tenants.monitoring.reading import figures
from livc.tenants.signals.models import Signal, Urgency
from livc.tenants.signals.operations import open_signals, open_signals_count, signals_recorded_by
from livc.tenants.signals.views import LABELS as SIGNAL_LABELS
from livc.tenants.signals.views import SignalSummaryOut
from livc.tenants.web import blueprint, label_of, no_store_answer

URGENCY_ORDER = {Urgency.URGENT: 0, Urgency.SOON: 1, Urgency.NORMAL: 2}
LABELS = {
    **SIGNAL_LABELS, "stage": STAGE_LABELS, "review_kind": REVIEW_KIND_LABELS, "measure_status": MEASURE_STATUS_LABELS,
}
DUE_WITHIN_DAYS = 14


#: How many cases, measures or reviews a card or the API lists at most (the full lists are paged).
SHOWN = 10


@dataclass
class Dashboard:
    """What waits for one member, each case among those they may read: the first :data:`SHOWN`
    of each list, and how many there are in all (counted in SQL, whatever the cell's size)."""

    open_signals: list[Signal]
    my_signals: list[Signal]
    cases_by_stage: dict[CaseStage, list[Case]]  # the first few of each stage
    stage_counts: dict[CaseStage, int]
    measures_due: list[tuple[Case, Measure]]
    reviews_due: list[tuple[Case, Review]]
    feedback_to_approve: list[tuple[Case, LtfFeedback]]
    measures_due_count: int = 0
    reviews_due_count: int = 0
    open_signals_count: int = 0


#: How many draft feedback forms the dashboards weigh at most (the oldest change first): each
#: asks who approved it, so they are bounded; how many there are in all is counted apart.
FEEDBACK_READ = 50


def _shown_and_counted(entity, conditions: list, *order, joined: bool = False, options=(),
                       kept: int | None = None) -> tuple[list, int]:
    """The first :data:`SHOWN` rows of ``entity`` (a measure or a review) meeting ``conditions``,
    each with its case, in ``order``; and how many rows meet them: ``kept`` when the tallies
    gave it, else counted on ``entity``'s own index (``joined``: through its case, when a
    condition is on the case)."""
    shown = (sa.select(Case, entity).select_from(entity).join(Case, Case.id == entity.case_id)
             .where(*conditions).order_by(*order).limit(SHOWN).options(*options))
    rows = [tuple(row) for row in db.session.execute(shown)]
    if kept is not None:
        return rows, kept
    counted = sa.select(sa.func.count(entity.id)).select_from(entity)
    if joined:
        counted = counted.join(Case, Case.id == entity.case_id)
    return rows, db.session.scalar(counted.where(*conditions)) or 0


def dashboard(person: Person) -> Dashboard:
    """``person``'s dashboard: their cases by stage, measures and reviews due within two weeks,
    feedback forms they take part in and did not approve yet, and the signals to weigh for the
    coordinator. A constant number of statements, however many cases the cell has."""
    today = utcnow().date()
    horizon = today + timedelta(days=DUE_WITHIN_DAYS)
    of_readable = readable_where(person, today, Measure.case_id)
    measures, measures_count = _shown_and_counted(
        Measure, [*of_readable, Measure.status.in_(OPEN_MEASURE_STATUSES),
                  Measure.due_on.is_not(None), Measure.due_on <= horizon],
        Measure.due_on, Measure.id, options=(selectinload(Measure.organisation),),
        kept=None if of_readable else tallies.open_measures_due(horizon),
    )
    reviews, reviews_count = _shown_and_counted(
        Review, [*readable_where(person, today, Review.case_id), Review.held_on.is_(None), Review.due_on <= horizon],
        Review.due_on, Review.id,
    )
    to_approve = [(item.case, item.feedback) for item in feedback_in_progress(person)
                  if item.step == FeedbackStep.YOUR_APPROVAL]
    coordinator = person.role == Role.COORDINATOR
    return Dashboard(
        open_signals=open_signals(SHOWN) if coordinator else [],
        open_signals_count=open_signals_count() if coordinator else 0,
        my_signals=signals_recorded_by(person.membership_id, SHOWN),
        cases_by_stage=first_cases_by_stage(person, today, SHOWN),
        stage_counts=stage_counts(person, today),
        measures_due=measures,
        reviews_due=reviews,
        feedback_to_approve=to_approve,
        measures_due_count=measures_count,
        reviews_due_count=reviews_count,
    )


@dataclass(frozen=True)
class FollowedCase:
    """A case whose team the member is in and that is still followed, with its next review."""

    case: Case
    stage: CaseStage
    next_review_on: date | None


def followed_cases(person: Person, today: date) -> tuple[list[FollowedCase], int, int]:
    """The first :data:`SHOWN` cases whose team ``person`` is in that are still followed (open,
    or closed with reviews after closure to hold), the next review first; how many are followed
    in all; and how many others are closed."""
    stage = stage_column(today)
    next_review = sa.case(
        (Case.status == CaseStatus.CLOSED,
         sa.select(sa.func.min(Review.due_on)).where(Review.case_id == Case.id, Review.held_on.is_(None))
         .scalar_subquery()),
        else_=Case.next_review_on,
    )
    rows = db.session.execute(
        readable(person, today, in_team=True).add_columns(stage, next_review)
        .where(stage != CaseStage.CLOSED.value)
        .order_by(next_review.is_(None), next_review, Case.code).limit(SHOWN)
    )
    followed = [FollowedCase(case, CaseStage(value), day) for case, value, day in rows]
    counts = stage_counts(person, today, in_team=True)
    closed = counts.pop(CaseStage.CLOSED)
    return followed, sum(counts.values()), closed


def measures_of_organisation(person: Person, organisation_id: int) -> tuple[list[tuple[Case, Measure]], int]:
    """The first :data:`SHOWN` open measures ``person``'s organisation is responsible for (a
    measure names an organisation, not a member:
    :func:`livc.tenants.cases.operations.may_change_measure`), on the open cases they may read;
    the earliest due first (so the overdue ones), those without a day last; and how many in all."""
    today = utcnow().date()
    return _shown_and_counted(
        Measure, [*readable_where(person, today, Measure.case_id), Case.status == CaseStatus.OPEN,
                  Measure.organisation_id == organisation_id, Measure.status.in_(OPEN_MEASURE_STATUSES)],
        Measure.due_on.is_(None), Measure.due_on, Measure.id, joined=True,
    )


class FeedbackStep(enum.StrEnum):
    """What a draft feedback form waits for, seen by the coordinator."""

    YOUR_APPROVAL = "your_approval"
    RELEASE = "release"  # every participating member approved: the coordinator releases it
    OTHERS = "others"  # other members still have to approve


@dataclass(frozen=True)
class FeedbackInProgress:
    case: Case
    feedback: LtfFeedback
    step: FeedbackStep


def _drafts_where(person: Person) -> list:
    return [*readable_where(person, utcnow().date(), LtfFeedback.case_id), LtfFeedback.status == FeedbackStatus.DRAFT]


def feedback_drafts_count(person: Person) -> int:
    """How many draft feedback forms the cases ``person`` reads have (one count on the index)."""
    return db.session.scalar(
        sa.select(sa.func.count(LtfFeedback.id)).select_from(LtfFeedback).where(*_drafts_where(person))
    ) or 0


def feedback_in_progress(person: Person, limit: int = FEEDBACK_READ) -> list[FeedbackInProgress]:
    """The draft feedback forms of the cases ``person`` reads, the ``limit`` changed the longest
    ago, with the step each waits for; those waiting for ``person`` first."""
    drafts = db.session.execute(
        sa.select(Case, LtfFeedback).select_from(LtfFeedback).join(Case, Case.id == LtfFeedback.case_id)
        .where(*_drafts_where(person)).order_by(LtfFeedback.updated_at, LtfFeedback.id).limit(limit)
    )
    found = []
    for case, feedback in drafts:
        state = approval_state(case, feedback)
        if person.membership_id in {membership.id for membership in state.waiting}:
            step = FeedbackStep.YOUR_APPROVAL
        elif state.complete:
            step = FeedbackStep.RELEASE
        else:
            step = FeedbackStep.OTHERS
        found.append(FeedbackInProgress(case, feedback, step))
    order = list(FeedbackStep)
    return sorted(found, key=lambda item: order.index(item.step))


@dataclass(frozen=True)
class WithTheOfficer:
    """The released feedback forms, at the information officer's step: to deliver to the Local
    Task Force, then its answer to record (police information), each the oldest first."""

    to_deliver: list[tuple[Case, LtfFeedback]]
    answer_to_record: list[tuple[Case, LtfFeedback]]


def feedback_with_the_officer(limit: int = FEEDBACK_READ) -> WithTheOfficer:
    """The first ``limit`` released forms to deliver and the first ``limit`` delivered ones whose
    answer waits, read in SQL (the forms released over the years are never all read)."""
    def first(*conditions, order) -> list[tuple[Case, LtfFeedback]]:
        rows = db.session.execute(
            sa.select(Case, LtfFeedback).select_from(LtfFeedback).join(Case, Case.id == LtfFeedback.case_id)
            .where(LtfFeedback.status == FeedbackStatus.RELEASED, *conditions)
            .order_by(order, LtfFeedback.id).limit(limit)
        )
        return [(case, feedback) for case, feedback in rows]

    return WithTheOfficer(
        to_deliver=first(LtfFeedback.delivered_at.is_(None), order=LtfFeedback.released_at),
        answer_to_record=first(LtfFeedback.delivered_at.is_not(None), LtfFeedback.answer_note_id.is_(None),
                               order=LtfFeedback.delivered_at),
    )


@dataclass(frozen=True)
class PolicePoint:
    """A point of a coming meeting marked as police information."""

    meeting: Meeting
    item: AgendaItem


def coming_meetings(person: Person) -> list[Meeting]:
    """The meetings ``person`` may see that are planned or in session, the soonest first."""
    now = utcnow()
    coming = [meeting for meeting in meetings_for(person)
              if meeting.status in (MeetingStatus.PLANNED, MeetingStatus.IN_SESSION) and meeting.ends_at >= now]
    return sorted(coming, key=lambda meeting: meeting.starts_at)


def police_points(person: Person) -> list[PolicePoint]:
    """The points marked as police information on the agenda of the coming meetings ``person``
    may see in full, not handled yet, the soonest first."""
    return [
        PolicePoint(meeting, item)
        for meeting in coming_meetings(person)
        for item, seen in visible_items(person, meeting)
        if item.police_information and item.handled_at is None and seen == Sight.FULL
    ]


KEY_FIGURES = ("signals_received", "cases_opened", "cases_closed")


@dataclass(frozen=True)
class KeyFigures:
    """The year's key figures in the member's scope, hidden as on the figures page ("< 5", "×"):
    counts only, no code, no content."""

    year: int
    municipality: str  # the mayor's municipality in a cell of several, else ""
    shown: list[tuple[str, Shown]]  # (figure key, the year's total), cases followed now last


def key_figures(person: Person, tenant: Tenant, today: date) -> KeyFigures:
    """Signals received, cases opened and closed this year, and the cases followed now: each
    figure's total for the year, as :mod:`livc.tenants.monitoring` hides it."""
    found = figures(person, tenant, Period(today.year), figure_keys=KEY_FIGURES)
    shown = [(view.key, view.tables[0].rows[-1].cells[-1]) for view in found.views
             if view.key in KEY_FIGURES and view.tables]
    if found.active is not None:
        shown.append((found.active.key, found.active.tables[0].rows[-1].cells[-1]))
    place = found.scope.municipality_nis
    return KeyFigures(today.year, found.territory.label(place) if place else "", shown)


class CaseRefOut(Schema):
    id = fields.Integer()
    code = fields.String()


class StageOut(Schema):
    stage = fields.String()
    stage_label = fields.String()
    count = fields.Integer(metadata={"description": "How many cases stand at this stage."})
    cases = fields.List(fields.Nested(CaseRefOut), metadata={
        "description": "The first ten of them by code: the case list pages through all."})


class MeasureDueOut(Schema):
    case = fields.Nested(CaseRefOut)
    measure_id = fields.Integer()
    due_on = fields.Date()
    status = fields.String()
    status_label = fields.String()
    organisation = fields.String(allow_none=True)


class ReviewDueOut(Schema):
    case = fields.Nested(CaseRefOut)
    review_id = fields.Integer()
    kind = fields.String()
    kind_label = fields.String()
    due_on = fields.Date()


class FeedbackToApproveOut(Schema):
    case = fields.Nested(CaseRefOut)
    feedback_id = fields.Integer()
    revision = fields.Integer()


class DashboardOut(Schema):
    """What :func:`_dashboard_json` answers."""

    open_signals = fields.List(fields.Nested(SignalSummaryOut),
                               metadata={"description": "The first ten, the most urgent first."})
    open_signals_count = fields.Integer()
    my_signals = fields.List(fields.Nested(SignalSummaryOut), metadata={"description": "The last ten."})
    cases_by_stage = fields.List(fields.Nested(StageOut))
    measures_due = fields.List(fields.Nested(MeasureDueOut), metadata={"description": "The first ten."})
    measures_due_count = fields.Integer()
    reviews_due = fields.List(fields.Nested(ReviewDueOut), metadata={"description": "The first ten."})
    reviews_due_count = fields.Integer()
    feedback_to_approve = fields.List(fields.Nested(FeedbackToApproveOut))


class DashboardAnswer(Schema):
    dashboard = fields.Nested(DashboardOut)


def _dashboard_json(board: Dashboard) -> dict:
    def case_ref(case: Case) -> dict:
        return {"id": case.id, "code": case.code}

    return {
        "open_signals": SignalSummaryOut(many=True).dump(board.open_signals),
        "open_signals_count": board.open_signals_count,
        "my_signals": SignalSummaryOut(many=True).dump(board.my_signals),
        "cases_by_stage": [
            {"stage": stage.value, "stage_label": str(STAGE_LABELS[stage]), "count": board.stage_counts[stage],
             "cases": [case_ref(c) for c in cases]}
            for stage, cases in board.cases_by_stage.items()
        ],
        "measures_due": [
            {"case": case_ref(case), "measure_id": measure.id, "due_on": measure.due_on.isoformat(),
             "status": measure.status.value, "status_label": label_of(MEASURE_STATUS_LABELS, measure.status),
             "organisation": measure.organisation.name if measure.organisation else None}
            for case, measure in board.measures_due
        ],
        "measures_due_count": board.measures_due_count,
        "reviews_due": [
            {"case": case_ref(case), "review_id": review.id, "kind": review.kind.value,
             "kind_label": label_of(REVIEW_KIND_LABELS, review.kind), "due_on": review.due_on.isoformat()}
            for case, review in board.reviews_due
        ],
        "reviews_due_count": board.reviews_due_count,
        "feedback_to_approve": [
            {"case": case_ref(case), "feedback_id": feedback.id, "revision": feedback.revision}
            for case, feedback in board.feedback_to_approve
        ],
    }


@blueprint.get("/api/dashboard")
@documented(answer=DashboardAnswer, summary="What waits for the member.", tags=("home",))
@guard(Action.CELL_ENTER)
def api_dashboard():
    """The dashboard: signals to weigh (coordinator), my signals, the cases I may read by
    stage, measures and reviews due within two weeks, feedback forms waiting for my approval."""
    return no_store_answer(dashboard=_dashboard_json(dashboard(g.person)))
