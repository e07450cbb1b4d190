"""The countable facts of a cell's records: what every figure is summed from.

A fact is anonymous by construction: a figure, a month, the municipality of residence, one
category per breakdown and, for a measure, the organisation that carries it. The same functions
count a live record and, when retention erases it, the record's last state into the kept counts
(:mod:`livc.tenants.monitoring.ledger`), so history survives retention and is never counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from livc.platform.db import db
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import Case, LtfFeedback, Measure, MeasureStatus, Review
from livc.tenants.meetings.models import Meeting, MeetingStatus
from livc.tenants.members.models import Organisation
from livc.tenants.signals.models import Signal

SEPARATOR = "|"  # between the leaves of a fact's category, one per breakdown
NO_ORGANISATION = "-"


@dataclass(frozen=True)
class Fact:
    figure: str
    month: date  # first day of the month
    municipality: str  # NIS code of residence, "" when not recorded
    category: tuple[str, ...]  # one leaf per breakdown of the figure
    organisation_id: int | None = None


def month_of(moment: date | datetime) -> date:
    return date(moment.year, moment.month, 1)


def _today() -> date:
    return utcnow().date()


# Durations in buckets, never in days: a duration of one case is a date of one case.
DECISION_BUCKETS = ((7, "week"), (30, "month"), (90, "quarter"), (None, "longer"))
FOLLOW_UP_BUCKETS = ((91, "3m"), (182, "6m"), (365, "12m"), (None, "longer"))


def bucket(days: int, buckets) -> str:
    for limit, name in buckets:
        if limit is None or days <= limit:
            return name
    raise AssertionError("the last bucket has no limit")


def signal_facts(signal: Signal) -> Iterator[Fact]:
    residence = signal.residence_nis or ""
    reporter = signal.reporter_organisation.kind.value if signal.reporter_organisation is not None else "none"
    yield Fact("signals_received", month_of(signal.received_at), residence, (signal.channel.value, reporter))
    weighing = signal.weighing
    if weighing is not None:
        days = max((weighing.decided_at - signal.received_at).days, 0)
        yield Fact("signals_weighed", month_of(weighing.decided_at), residence,
                   (weighing.decision.value, bucket(days, DECISION_BUCKETS)))


def _organisation_leaf(kinds: dict[int, str], organisation_id: int | None) -> str:
    kind = kinds.get(organisation_id, "other") if organisation_id is not None else "other"
    return f"{kind}/{organisation_id if organisation_id is not None else NO_ORGANISATION}"


def case_facts(case: Case, *, kinds: dict[int, str] | None = None, today: date | None = None,
               measures: Iterable[Measure] | None = None, reviews: Iterable[Review] | None = None,
               feedback: Iterable[LtfFeedback] | None = None) -> Iterator[Fact]:
    """A case's facts: its opening and closure, its measures, reviews and released feedback forms.
    The collections may be given (loaded once for many cases); else they are read here."""
    today = today or _today()
    residence = case.residence_nis or ""
    kinds = kinds if kinds is not None else organisation_kinds()
    yield Fact("cases_opened", month_of(case.opened_at), residence, (case.target_group.value, case.follow_up_kind.value))
    if case.closed_at is not None and case.closure_reason is not None:
        days = max((case.closed_at - case.opened_at).days, 0)
        yield Fact("cases_closed", month_of(case.closed_at), residence,
                   (case.closure_reason.value, bucket(days, FOLLOW_UP_BUCKETS)))
    if measures is None:
        measures = db.session.scalars(sa.select(Measure).where(Measure.case_id == case.id))
    for measure in measures:
        leaf = (_organisation_leaf(kinds, measure.organisation_id),)
        organisation_id = measure.organisation_id
        yield Fact("measures_planned", month_of(measure.created_at), residence, leaf, organisation_id)
        yield Fact("measures_by_category", month_of(measure.created_at), residence, (measure.category.value,))
        done_on = measure.updated_at.date() if measure.status == MeasureStatus.DONE else None
        if done_on is not None:
            yield Fact("measures_done", month_of(done_on), residence, leaf, organisation_id)
        if measure.due_on is not None and measure.status != MeasureStatus.CANCELLED:
            late = (done_on > measure.due_on) if done_on is not None else measure.due_on < today
            if late:
                yield Fact("measures_late", month_of(measure.due_on), residence, leaf, organisation_id)
    if reviews is None:
        reviews = db.session.scalars(sa.select(Review).where(Review.case_id == case.id))
    for review in reviews:
        if review.held_on is not None:
            outcome = "on_time" if review.held_on <= review.due_on else "late"
        elif review.due_on < today:
            outcome = "missed"
        else:
            continue
        yield Fact("reviews", month_of(review.due_on), residence, (outcome,))
    if feedback is None:
        feedback = db.session.scalars(sa.select(LtfFeedback).where(LtfFeedback.case_id == case.id))
    for form in feedback:
        if form.released_at is not None:
            yield Fact("ltf_feedback", month_of(form.released_at), residence, ("released",))


def organisation_kinds() -> dict[int, str]:
    return {id_: kind.value for id_, kind in db.session.execute(sa.select(Organisation.id, Organisation.kind))}


#: Confirmed match alerts, told by the federation (registered when the app is assembled): each a
#: (moment of confirmation, the cell's own case id or None once erased) for the current cell.
ALERT_CONFIRMATIONS: list[Callable[[int], Iterable[tuple[datetime, int | None]]]] = []


def live_facts(tenant_id: int, today: date | None = None) -> Iterator[Fact]:
    """Every fact of the cell's records that exist now (inside the cell's tenant context)."""
    today = today or _today()
    for signal in db.session.scalars(sa.select(Signal)):
        yield from signal_facts(signal)
    kinds = organisation_kinds()
    by_case: dict[str, dict[int, list]] = {"measures": {}, "reviews": {}, "feedback": {}}
    for name, model in (("measures", Measure), ("reviews", Review), ("feedback", LtfFeedback)):
        for row in db.session.scalars(sa.select(model)):
            by_case[name].setdefault(row.case_id, []).append(row)
    residence: dict[int, str] = {}
    for case in db.session.scalars(sa.select(Case)):
        residence[case.id] = case.residence_nis or ""
        yield from case_facts(case, kinds=kinds, today=today, measures=by_case["measures"].get(case.id, ()),
                              reviews=by_case["reviews"].get(case.id, ()), feedback=by_case["feedback"].get(case.id, ()))
    for confirmations in ALERT_CONFIRMATIONS:
        for confirmed_at, case_id in confirmations(tenant_id):
            yield Fact("alerts_confirmed", month_of(confirmed_at), residence.get(case_id, ""), ("confirmed",))
    for meeting in db.session.scalars(sa.select(Meeting).where(Meeting.status.in_((MeetingStatus.HELD, MeetingStatus.CANCELLED)))):
        category = "cancelled" if meeting.status == MeetingStatus.CANCELLED else meeting.kind.value
        yield Fact("meetings", month_of(meeting.starts_at), "", (category,))
