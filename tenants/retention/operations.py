"""Retention: closed cases and signals not followed up are erased, leaving anonymous counts;
and the coordinators are reminded of reviews and measures coming due.

Erasing a record (:mod:`livc.tenants.cases.erasure`, :mod:`livc.tenants.signals.erasure`)
destroys the keys its content was encrypted under, deletes its rows, and adds one to an
anonymous tally (year, outcome, target group). What is due:

- a closed case from its ``erase_after`` day: the cell's retention period after closure, and
  never before its last review after closure;
- a signal referred elsewhere or closed for insufficient elements, the cell's signal retention
  period after the decision. Signals that led to a case go with the case;
- an information card of the LTF, 12 months after the card's date or with its case, whichever
  comes first (:mod:`livc.tenants.cases.ltf_cards`); police information, so not in the report.

A periodic job runs this every night per cell; :func:`retention_report` answers "what would
be erased" without erasing (the coordinator's page and ``livc retention --dry-run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from livc.platform import audit
from livc.platform.db import db
from livc.platform.jobs import task
from livc.platform.timeutil import utcnow
from livc.tenants.cases.erasure import erase_case
from livc.tenants.cases.ltf_cards import erase_due_cards
from livc.tenants.cases.models import Case, CaseStatus, Measure, Review
from livc.tenants.cases.operations import add_months
from livc.tenants.retention.mail import notify_due
from livc.tenants.signals.erasure import erase_signal
from livc.tenants.signals.models import Signal, SignalStatus
from livc.tenants.signals.operations import active_coordinators, case_settings

ERASABLE_SIGNALS = (SignalStatus.REFERRED, SignalStatus.INSUFFICIENT)
REMIND_REVIEWS_DAYS = 7
REMIND_MEASURES_DAYS = 3


@dataclass(frozen=True)
class Due:
    kind: str  # "case" or "signal"
    reference: str
    record_id: int
    due_on: date


def retention_report(today: date | None = None) -> list[Due]:
    """What is due for erasure on ``today`` (default: today), oldest first."""
    today = today or utcnow().date()
    settings = case_settings()
    due = [
        Due("case", case.code, case.id, case.erase_after)
        for case in db.session.scalars(
            sa.select(Case).where(Case.status == CaseStatus.CLOSED, Case.erase_after <= today).order_by(Case.erase_after)
        )
    ]
    # A signal decided on day D is due on D + the retention period.
    latest = datetime.combine(add_months(today, -settings.retention_months_signals), datetime.max.time())
    for signal in db.session.scalars(
        sa.select(Signal).where(Signal.status.in_(ERASABLE_SIGNALS), Signal.decided_at <= latest)
        .order_by(Signal.decided_at)
    ):
        due.append(Due("signal", signal.reference, signal.id,
                       add_months(signal.decided_at.date(), settings.retention_months_signals)))
    return due


def upcoming_erasures(within_days: int = 60) -> list[Due]:
    """What will be erased within the coming days (so nothing comes as a surprise)."""
    return retention_report(utcnow().date() + timedelta(days=within_days))


def is_overdue(item: Due, today: date | None = None) -> bool:
    """Past its day and still kept: the nightly erasure has not run for it (or failed)."""
    return item.due_on < (today or utcnow().date())


def apply_retention(today: date | None = None, *, dry_run: bool = False) -> list[Due]:
    """Erase what is due (or only report it, with ``dry_run``)."""
    due = retention_report(today)
    if dry_run:
        return due
    # The LTF's information cards have a retention of their own (ltf_cards.CARD_RETENTION_MONTHS).
    cards = erase_due_cards(today)
    for item in due:
        if item.kind == "case":
            case = db.session.get(Case, item.record_id)
            if case is not None:
                erase_case(case)
        else:
            signal = db.session.get(Signal, item.record_id)
            if signal is not None:
                erase_signal(signal)
    if due or cards:
        audit.record("retention.applied", details={
            "cases": sum(1 for item in due if item.kind == "case"),
            "signals": sum(1 for item in due if item.kind == "signal"),
            "ltf_cards": cards,
        })
    return due


@task(queue="maintenance")
def retention_sweep() -> int:
    """The nightly erasure of one cell (fanned out per cell by the scheduler)."""
    return len(apply_retention())


@task(queue="maintenance")
def send_case_reminders() -> int:
    """Remind the coordinators of reviews and measures coming due (once per item)."""
    today = utcnow().date()
    reviews = db.session.execute(
        sa.select(Case, Review).join(Review, Review.case_id == Case.id).where(
            Review.held_on.is_(None), Review.reminded_on.is_(None),
            Review.due_on <= today + timedelta(days=REMIND_REVIEWS_DAYS),
        ).order_by(Review.due_on)
    ).all()
    measures = db.session.execute(
        sa.select(Case, Measure).join(Measure, Measure.case_id == Case.id).where(
            Case.status == CaseStatus.OPEN, Measure.status.in_(("planned", "in_progress")),
            Measure.reminded_on.is_(None), Measure.due_on.is_not(None),
            Measure.due_on <= today + timedelta(days=REMIND_MEASURES_DAYS),
        ).order_by(Measure.due_on)
    ).all()
    if not reviews and not measures:
        return 0
    notify_due(active_coordinators(), [tuple(row) for row in reviews], [tuple(row) for row in measures])
    for _case, review in reviews:
        review.reminded_on = today
    for _case, measure in measures:
        measure.reminded_on = today
    return len(reviews) + len(measures)
