"""The member's dashboard, on the cell's home page and in the API: the signals to weigh, the
member's own signals, the cases they may read by stage, and what is due for them.

It reads both signals and cases, which is why it sits above both domains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import g

from livc.platform.db import db
from livc.platform.policy import Action, Person, decide
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.cases.models import (
    MEASURE_STATUS_LABELS,
    OPEN_MEASURE_STATUSES,
    REVIEW_KIND_LABELS,
    STAGE_LABELS,
    Case,
    CaseStage,
    FeedbackStatus,
    LtfFeedback,
    Measure,
    Review,
)
from livc.tenants.cases.operations import (
    approver_ids,
    cases_for,
    participating_member_ids,
    stage_of,
)
from livc.tenants.signals.models import Signal, Urgency
from livc.tenants.signals.operations import open_signals, signals_recorded_by
from livc.tenants.signals.views import LABELS as SIGNAL_LABELS
from livc.tenants.signals.views import SignalSummaryOut, case_url
from livc.tenants.web import blueprint, label_of, no_store_answer

URGENCY_ORDER = {Urgency.URGENT: 0, Urgency.SOON: 1, Urgency.NORMAL: 2}
LABELS = {
    **SIGNAL_LABELS, "stage": STAGE_LABELS, "review_kind": REVIEW_KIND_LABELS, "measure_status": MEASURE_STATUS_LABELS,
}
DUE_WITHIN_DAYS = 14


@dataclass
class Dashboard:
    """What waits for one member, each case among those they may read."""

    open_signals: list[Signal]
    my_signals: list[Signal]
    cases_by_stage: dict[CaseStage, list[Case]]
    measures_due: list[tuple[Case, Measure]]
    reviews_due: list[tuple[Case, Review]]
    feedback_to_approve: list[tuple[Case, LtfFeedback]]


def dashboard(person: Person) -> Dashboard:
    """``person``'s dashboard: measures and reviews due within two weeks, feedback forms they
    take part in and did not approve yet, and the signals to weigh for the coordinator."""
    today = utcnow().date()
    horizon = today + timedelta(days=DUE_WITHIN_DAYS)
    cases = cases_for(person)
    by_stage: dict[CaseStage, list[Case]] = {stage: [] for stage in CaseStage}
    for case in cases:
        by_stage[stage_of(case, today)].append(case)
    case_ids = {case.id: case for case in cases}
    measures = db.session.scalars(
        sa.select(Measure).where(
            Measure.case_id.in_(case_ids), Measure.status.in_(OPEN_MEASURE_STATUSES),
            Measure.due_on.is_not(None), Measure.due_on <= horizon,
        ).order_by(Measure.due_on)
    )
    reviews = db.session.scalars(
        sa.select(Review).where(Review.case_id.in_(case_ids), Review.held_on.is_(None), Review.due_on <= horizon)
        .order_by(Review.due_on)
    )
    to_approve = []
    for feedback in db.session.scalars(
        sa.select(LtfFeedback).where(LtfFeedback.case_id.in_(case_ids), LtfFeedback.status == FeedbackStatus.DRAFT)
    ):
        case = case_ids[feedback.case_id]
        if person.membership_id in participating_member_ids(case) and person.membership_id not in approver_ids(feedback):
            to_approve.append((case, feedback))
    return Dashboard(
        open_signals=open_signals() if person.role == Role.COORDINATOR else [],
        my_signals=signals_recorded_by(person.membership_id)[:10],
        cases_by_stage=by_stage,
        measures_due=[(case_ids[m.case_id], m) for m in measures],
        reviews_due=[(case_ids[r.case_id], r) for r in reviews],
        feedback_to_approve=to_approve,
    )


def _dashboard_json(board: Dashboard) -> dict:
    def case_ref(case: Case) -> dict:
        return {"id": case.id, "code": case.code}

    return {
        "open_signals": SignalSummaryOut(many=True).dump(board.open_signals),
        "my_signals": SignalSummaryOut(many=True).dump(board.my_signals),
        "cases_by_stage": [
            {"stage": stage.value, "stage_label": str(STAGE_LABELS[stage]), "cases": [case_ref(c) for c in cases]}
            for stage, cases in board.cases_by_stage.items()
        ],
        "measures_due": [
            {"case": case_ref(case), "measure_id": measure.id, "due_on": measure.due_on.isoformat(),
             "status": measure.status.value, "status_label": label_of(MEASURE_STATUS_LABELS, measure.status),
             "organisation": measure.organisation.name if measure.organisation else None}
            for case, measure in board.measures_due
        ],
        "reviews_due": [
            {"case": case_ref(case), "review_id": review.id, "kind": review.kind.value,
             "kind_label": label_of(REVIEW_KIND_LABELS, review.kind), "due_on": review.due_on.isoformat()}
            for case, review in board.reviews_due
        ],
        "feedback_to_approve": [
            {"case": case_ref(case), "feedback_id": feedback.id, "revision": feedback.revision}
            for case, feedback in board.feedback_to_approve
        ],
    }


def dashboard_context(person: Person) -> dict:
    """What the home page shows: signals to weigh, my signals, cases by stage, what is due."""
    board = dashboard(person)
    return {
        "board": board,
        # the most urgent first, then in the order they came in
        "signals_to_weigh": sorted(board.open_signals, key=lambda signal: URGENCY_ORDER[signal.urgency]),
        "labels": LABELS,
        "case_url": case_url,
        "today": utcnow().date(),
        "stages": [stage for stage in CaseStage if stage != CaseStage.CLOSED],
        "closed_stage": CaseStage.CLOSED,
        "may_weigh": bool(decide(person, Action.SIGNAL_WEIGH)),
        "may_report": bool(decide(person, Action.SIGNAL_SUBMIT)),
    }


@blueprint.get("/api/dashboard")
@guard(Action.CELL_ENTER)
def api_dashboard():
    """The dashboard: signals to weigh (coordinator), my signals, the cases I may read by
    stage, measures and reviews due within two weeks, feedback forms waiting for my approval."""
    return no_store_answer(dashboard=_dashboard_json(dashboard(g.person)))
