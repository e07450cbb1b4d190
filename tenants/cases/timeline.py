"""The chronicle of a case (*tijdlijn*): every event, oldest first, and where its stage changed.

A case's records keep their own times: its opening, the signals and weighings behind it, the
team's comings and goings, each measure, note and review, the feedback forms to the Local
Task Force (started, released, delivered), its closure. What the
records do not keep, the audit trail does (it is written with every change): a measure's
status changes, closures a later reopening wiped from the case, and the minute a review was
recorded (a review keeps its day only). A record's own time wins over the trail's when the
trail's is later: records seeded or imported with their own dates keep them.

The stage of a case is derived, never stored (:func:`livc.tenants.cases.operations.stage_of`);
replaying the chronicle with the same rule marks the events with which the case entered a new
stage, so that the page can say when and why it moved: a first measure, a review falling due,
a review held, a closure, the last review after closure, a reopening.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from livc.platform import audit
from livc.platform.audit import AuditEntry
from livc.platform.db import db
from livc.platform.policy import Person
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import (
    Case,
    CaseStage,
    CaseTeamMember,
    Measure,
    MeasureStatus,
    Review,
    ReviewKind,
    ReviewOutcome,
)
from livc.tenants.cases.operations import feedback_of, notes_for, reviews_of, subject_of
from livc.tenants.signals.models import Signal, Weighing

# Events at the same time read in this order (a closure before the measures it cancelled).
ORDER = (
    "signal", "weighing", "opened", "team_added", "measure", "measure_status", "note", "review_due", "review",
    "feedback_started", "feedback_released", "feedback_delivered", "closed", "measure_cancelled", "team_removed",
)
_TRAIL = ("case.measure_changed", "case.closed", "case.reviewed")


@dataclass
class Event:
    """Something that happened in a case: when (naive UTC), what kind, the record concerned."""

    at: datetime  # naive UTC; midnight of the day when only the day is known
    kind: str
    record: Any = None
    detail: dict = field(default_factory=dict)
    timed: bool = True  # False: only the day is known
    stage: CaseStage | None = None  # the stage the case entered with this event


def _day(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def timeline(person: Person, case: Case, today: date | None = None) -> list[Event]:
    """What happened in ``case``, oldest first, as ``person`` may see it (restricted notes only
    for their readers), each event that moved the case to another stage marked with it."""
    today = today or utcnow().date()
    trail = _trail(case)
    measures = {measure.id: measure for measure in db.session.scalars(sa.select(Measure).where(Measure.case_id == case.id))}
    reviews = reviews_of(case)
    events = [Event(case.opened_at, "opened", case)]
    for signal in db.session.scalars(sa.select(Signal).where(Signal.case_id == case.id)):
        events.append(Event(signal.received_at, "signal", signal))
        weighing = db.session.scalar(sa.select(Weighing).where(Weighing.signal_id == signal.id))
        if weighing is not None:
            events.append(Event(weighing.decided_at, "weighing", weighing))
    for member in db.session.scalars(sa.select(CaseTeamMember).where(CaseTeamMember.case_id == case.id)):
        events.append(Event(member.added_at, "team_added", member))
        if member.removed_at:
            events.append(Event(member.removed_at, "team_removed", member))
    for measure in measures.values():
        events.append(Event(measure.created_at, "measure", measure))
    events += _status_changes(trail["case.measure_changed"], measures)
    for note in notes_for(person, case):
        events.append(Event(note.created_at, "note", note))
    events += _reviews(reviews, trail["case.reviewed"], today)
    for feedback in feedback_of(case):
        events.append(Event(feedback.created_at, "feedback_started", feedback))
        if feedback.released_at:
            events.append(Event(feedback.released_at, "feedback_released", feedback))
        if feedback.delivered_at:
            events.append(Event(feedback.delivered_at, "feedback_delivered", feedback))
    events += _closures(case, trail["case.closed"], measures.values(), reviews)
    events.sort(key=lambda event: (event.at, ORDER.index(event.kind)))
    _mark_stages(events)
    return events


def last_stage_change(events: list[Event]) -> Event | None:
    """The event with which the case entered its present stage (its opening at first)."""
    return next((event for event in reversed(events) if event.stage is not None), None)


# --- what the trail adds ------------------------------------------------------------------------


def _trail(case: Case) -> dict[str, list[AuditEntry]]:
    found: dict[str, list[AuditEntry]] = defaultdict(list)
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.subject == subject_of(case), AuditEntry.action.in_(_TRAIL))
        .order_by(AuditEntry.seq)
    )
    for entry in entries:
        found[entry.action].append(entry)
    return found


def _status_changes(entries: list[AuditEntry], measures: dict[int, Measure]) -> list[Event]:
    """Each change of a measure's status (the coordinator's or the responsible partner's)."""
    events = []
    for entry in entries:
        measure = measures.get(entry.details.get("measure_id"))
        if measure is None or "status" not in entry.details.get("fields", ()):
            continue
        at = min(entry.at, measure.updated_at)
        events.append(Event(at, "measure_status", measure, {"status": MeasureStatus(entry.details["status"])}))
    return events


def _reviews(reviews: list[Review], entries: list[AuditEntry], today: date) -> list[Event]:
    """Reviews held (to the minute when the trail has it for that day), and the days a review
    of the follow-up fell due before it was held: the case was then in evaluation."""
    recorded = {entry.details.get("review_id"): entry.at for entry in entries}
    events = []
    for review in reviews:
        held_late = review.held_on is None or review.held_on >= review.due_on
        if review.kind == ReviewKind.FOLLOW_UP and review.due_on <= today and held_late:
            events.append(Event(_day(review.due_on), "review_due", review, timed=False))
        if review.held_on is None:
            continue
        at = recorded.get(review.id)
        if at is not None and at.date() == review.held_on:
            events.append(Event(at, "review", review))
        else:
            events.append(Event(_day(review.held_on), "review", review, timed=False))
    return events


def _closures(case: Case, entries: list[AuditEntry], measures, reviews: list[Review]) -> list[Event]:
    """Every closure: the present one from the case itself, earlier ones (a review after closure
    took the case up again since) from the trail; and the measures the present one cancelled."""
    times = [entry.at for entry in entries]
    details = [dict(entry.details) for entry in entries]
    if case.closed:
        if times:
            times[-1] = case.closed_at
        else:
            times, details = [case.closed_at], [{}]
        details[-1]["reason"] = case.closure_reason.value if case.closure_reason else None
    after = [review for review in reviews if review.kind == ReviewKind.AFTER_CLOSURE]
    events = []
    for index, (at, detail) in enumerate(zip(times, details, strict=True)):
        until = times[index + 1] if index + 1 < len(times) else None
        present = case.closed and until is None
        # The reviews after closure this closure planned: held before the next one, or still to hold.
        planned = [review for review in after if (review.held_on is None and present) or (
            review.held_on is not None and _day(review.held_on) >= _day(at.date()) and (until is None or _day(review.held_on) < until))]
        detail["planned_after"] = len(planned)
        events.append(Event(at, "closed", case if present else None, detail))
    if case.closed:
        for measure in measures:
            if measure.status == MeasureStatus.CANCELLED and measure.updated_at == case.closed_at:
                events.append(Event(case.closed_at, "measure_cancelled", measure))
    return events


# --- the stages ---------------------------------------------------------------------------------


def _mark_stages(events: list[Event]) -> None:
    """Replay the chronicle with the rule of ``stage_of`` and mark where the stage changed."""
    opened = closed = due = False
    measures = pending_after = 0
    stage = None
    for event in events:
        kind, record = event.kind, event.record
        if kind == "opened":
            opened = True
        elif kind == "measure":
            measures += 1
        elif kind == "review_due":
            due = True
        elif kind == "review" and record.kind == ReviewKind.FOLLOW_UP:
            due = False
        elif kind == "review":
            pending_after = max(pending_after - 1, 0)
            if record.outcome == ReviewOutcome.REOPEN:
                closed, due, pending_after = False, False, 0
        elif kind == "closed":
            closed, due, pending_after = True, False, event.detail.get("planned_after", 0)
        if not opened:
            continue
        if closed:
            now = CaseStage.AFTERCARE if pending_after else CaseStage.CLOSED
        elif due:
            now = CaseStage.EVALUATION
        else:
            now = CaseStage.FOLLOW_UP if measures else CaseStage.BUILDING
        if now != stage:
            event.stage = stage = now


# --- what is new to the reader -----------------------------------------------------------------


def previous_visit(case: Case) -> datetime | None:
    """When the member reading now last opened the case's page (from the reads the audit trail
    keeps; this visit is recorded only once the page is answered)."""
    reads = db.session.execute(
        sa.select(AuditEntry.at, AuditEntry.details)
        .where(AuditEntry.action == "case.read", AuditEntry.subject == subject_of(case),
               AuditEntry.actor == audit.current_actor())
        .order_by(AuditEntry.seq.desc()).limit(50)
    )
    return next((at for at, details in reads if (details or {}).get("part") == "case"), None)
