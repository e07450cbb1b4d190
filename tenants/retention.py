"""Retention: closed cases and signals not followed up are erased, leaving anonymous counts.

Erasing a record destroys the keys its content was encrypted under (crypto-shredding: every
copy, backups included, becomes unreadable), deletes its rows, and adds one to an anonymous
tally (year, outcome, target group). What is due:

- a closed case from its ``erase_after`` day: the cell's retention period after closure, and
  never before its last review after closure;
- a signal referred elsewhere or closed for insufficient elements, the cell's signal retention
  period after the decision. Signals that led to a case go with the case.

A periodic job runs this every night per cell; :func:`retention_report` answers "what would
be erased" without erasing (the coordinator's page and ``livc retention --dry-run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.federation import enrolment as federation
from livc.platform import audit
from livc.platform.db import db
from livc.platform.jobs import task
from livc.platform.keys import destroy_key, record_scope
from livc.platform.timeutil import utcnow
from livc.tenants.case_models import (
    Case,
    CaseStatus,
    CaseTeamMember,
    ErasureTally,
    FeedbackApproval,
    Identity,
    LtfFeedback,
    Measure,
    ProgressNote,
    Review,
    Signal,
    SignalStatus,
    Weighing,
    WeighingFact,
    WeighingParticipant,
)
from livc.tenants.cases import _add_months
from livc.tenants.members import Membership
from livc.tenants.signals import active_coordinators, case_settings

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
    latest = datetime.combine(_add_months(today, -settings.retention_months_signals), datetime.max.time())
    for signal in db.session.scalars(
        sa.select(Signal).where(Signal.status.in_(ERASABLE_SIGNALS), Signal.decided_at <= latest)
        .order_by(Signal.decided_at)
    ):
        due.append(Due("signal", signal.reference, signal.id,
                       _add_months(signal.decided_at.date(), settings.retention_months_signals)))
    return due


def upcoming_erasures(within_days: int = 60) -> list[Due]:
    """What will be erased within the coming days (so nothing comes as a surprise)."""
    return retention_report(utcnow().date() + timedelta(days=within_days))


def _tally(record: str, year: int, outcome: str, target_group: str = "") -> None:
    row = db.session.scalar(sa.select(ErasureTally).where(
        ErasureTally.year == year, ErasureTally.record == record, ErasureTally.outcome == outcome,
        ErasureTally.target_group == target_group,
    ))
    if row is None:
        row = ErasureTally(year=year, record=record, outcome=outcome, target_group=target_group, count=0)
        db.session.add(row)
    row.count += 1


def _erase_identity(identity_id: int | None) -> None:
    if identity_id is None:
        return
    still_used = db.session.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.identity_id == identity_id))
    still_used += db.session.scalar(
        sa.select(sa.func.count()).select_from(Signal).where(Signal.identity_id == identity_id)
    )
    if still_used:
        return
    db.session.execute(sa.delete(Identity).where(Identity.id == identity_id))
    destroy_key(record_scope("identity", identity_id))


def erase_signal(signal: Signal, *, tally: bool = True) -> None:
    weighing_ids = sa.select(Weighing.id).where(Weighing.signal_id == signal.id)
    db.session.execute(sa.delete(WeighingFact).where(WeighingFact.signal_id == signal.id))
    db.session.execute(sa.delete(WeighingParticipant).where(WeighingParticipant.weighing_id.in_(weighing_ids)))
    db.session.execute(sa.delete(Weighing).where(Weighing.signal_id == signal.id))
    identity_id, reference, signal_id = signal.identity_id, signal.reference, signal.id
    if tally:
        _tally("signal", signal.received_at.year, signal.status.value)
    db.session.delete(signal)
    db.session.flush()
    destroy_key(record_scope("signal", signal_id))
    _erase_identity(identity_id)
    audit.record("signal.erased", subject=f"signal:{reference}")


def erase_case(case: Case) -> None:
    case_id, code, identity_id = case.id, case.code, case.identity_id
    _tally("case", case.opened_at.year, case.closure_reason.value if case.closure_reason else "", case.target_group.value)
    for signal in db.session.scalars(sa.select(Signal).where(Signal.case_id == case_id)).all():
        erase_signal(signal, tally=False)
    feedback_ids = sa.select(LtfFeedback.id).where(LtfFeedback.case_id == case_id)
    db.session.execute(sa.delete(FeedbackApproval).where(FeedbackApproval.feedback_id.in_(feedback_ids)))
    for model in (LtfFeedback, ProgressNote, Measure, Review, CaseTeamMember):
        db.session.execute(sa.delete(model).where(model.case_id == case_id))
    db.session.execute(sa.update(Weighing).where(Weighing.case_id == case_id).values(case_id=None))
    federation.remove_enrolment(case, "erased")
    db.session.delete(case)
    db.session.flush()
    destroy_key(record_scope("case", case_id))
    _erase_identity(identity_id)
    audit.record("case.erased", subject=f"case:{code}")


ERASE_OPEN_CASE = _l("Only a closed case can be erased: close it first.")


def erase_closed_case_now(case: Case, actor: Membership) -> None:
    """Erase a closed case before its retention period ends, at the coordinator's decision
    (the person moved and another cell took over, the cell decides no review is needed, or a
    request under the GDPR). Audited with who decided it."""
    if case.status != CaseStatus.CLOSED:
        raise ValidationError({"_schema": [str(ERASE_OPEN_CASE)]})
    audit.record("case.erasure_requested", subject=f"case:{case.code}", details={"membership_id": actor.id})
    erase_case(case)


def apply_retention(today: date | None = None, *, dry_run: bool = False) -> list[Due]:
    """Erase what is due (or only report it, with ``dry_run``)."""
    due = retention_report(today)
    if dry_run:
        return due
    for item in due:
        if item.kind == "case":
            case = db.session.get(Case, item.record_id)
            if case is not None:
                erase_case(case)
        else:
            signal = db.session.get(Signal, item.record_id)
            if signal is not None:
                erase_signal(signal)
    if due:
        audit.record("retention.applied", details={
            "cases": sum(1 for item in due if item.kind == "case"),
            "signals": sum(1 for item in due if item.kind == "signal"),
        })
    return due


@task(queue="maintenance")
def retention_sweep() -> int:
    """The nightly erasure of one cell (fanned out per cell by the scheduler)."""
    return len(apply_retention())


@task(queue="maintenance")
def send_case_reminders() -> int:
    """Remind the coordinators of reviews and measures coming due (once per item)."""
    from livc.tenants.case_mail import notify_due

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
