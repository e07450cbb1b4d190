"""The cell's counts the coordinator's dashboard and the meetings' cadence show, from the tallies
the database keeps (:class:`~livc.tenants.cases.models.CaseTally`, migration 0035).

A count over the cell's cases would read every case: 50,000 index entries for a cell that size.
The tallies hold one row per kept stage, flag and next review day (per status and due day for
measures), written by triggers in the statement that changes a case or a measure; a count is the
sum of the few rows that match, and what depends on the day ("evaluation": an open case whose
next review is due; a measure due within two weeks) is a condition on the row's day. These are
the whole cell's counts: for the coordinator, who reads every case. A member who reads only
their team's cases is counted on those cases (:mod:`livc.tenants.cases.listing`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa

from livc.platform.db import db
from livc.tenants.cases.models import (
    NO_DAY,
    OPEN_MEASURE_STATUSES,
    TALLY_CASE,
    TALLY_MEASURE,
    Case,
    CaseStage,
    CaseTally,
    Measure,
)
from livc.tenants.signals.models import FlagLevel

#: The kept stages of an open case.
OPEN_STAGES = (CaseStage.BUILDING.value, CaseStage.FOLLOW_UP.value)


def stage_counts(today: date) -> dict[CaseStage, int]:
    """How many of the cell's cases stand at each stage on ``today``."""
    due = sa.and_(CaseTally.state.in_(OPEN_STAGES), CaseTally.day <= today)
    stage = sa.case((due, CaseStage.EVALUATION.value), else_=CaseTally.state)
    counts = {stage: 0 for stage in CaseStage}
    for value, count in db.session.execute(
        sa.select(stage, sa.func.sum(CaseTally.n)).where(CaseTally.subject == TALLY_CASE).group_by(stage)
    ):
        counts[CaseStage(value)] += int(count or 0)
    return counts


def open_cases(flags: Iterable[FlagLevel]) -> tuple[int, int]:
    """How many of the cell's cases are open, and how many of those carry one of ``flags``."""
    flagged = sa.case((CaseTally.flag.in_([flag.value for flag in flags]), CaseTally.n), else_=0)
    count, with_flag = db.session.execute(
        sa.select(sa.func.sum(CaseTally.n), sa.func.sum(flagged))
        .where(CaseTally.subject == TALLY_CASE, CaseTally.state.in_(OPEN_STAGES))
    ).one()
    return int(count or 0), int(with_flag or 0)


def open_measures_due(by: date) -> int:
    """How many of the cell's measures are still open and due on ``by`` or earlier."""
    return int(db.session.scalar(
        sa.select(sa.func.sum(CaseTally.n)).where(
            CaseTally.subject == TALLY_MEASURE, CaseTally.state.in_([s.value for s in OPEN_MEASURE_STATUSES]),
            CaseTally.day <= by,
        )
    ) or 0)


def _counted() -> dict[tuple[str, str, str, date], int]:
    """What the cell's tallies must hold, counted on its cases and measures."""
    review_day = sa.func.coalesce(Case.next_review_on, NO_DAY)
    due_day = sa.func.coalesce(Measure.due_on, NO_DAY)
    cases = db.session.execute(
        sa.select(Case.base_stage, Case.flag, review_day, sa.func.count())
        .group_by(Case.base_stage, Case.flag, review_day)
    )
    measures = db.session.execute(
        sa.select(Measure.status, due_day, sa.func.count()).group_by(Measure.status, due_day)
    )
    counted = {(TALLY_CASE, str(stage), str(flag), _as_day(day)): n for stage, flag, day, n in cases}
    counted |= {(TALLY_MEASURE, str(status), "", _as_day(day)): n for status, day, n in measures}
    return counted


def _as_day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def drift() -> dict[tuple[str, str, str, date], tuple[int, int]]:
    """Where the cell's tallies differ from a count of its rows: key -> (kept, counted). Empty
    unless the triggers were bypassed (a restore or bulk load with triggers disabled)."""
    kept = {(t.subject, t.state, t.flag, t.day): t.n for t in db.session.scalars(sa.select(CaseTally)) if t.n}
    counted = _counted()
    return {key: (kept.get(key, 0), counted.get(key, 0)) for key in kept.keys() | counted.keys()
            if kept.get(key, 0) != counted.get(key, 0)}


def recount() -> None:
    """Write the cell's tallies again from its rows (after :func:`drift` found a difference)."""
    db.session.execute(sa.delete(CaseTally))
    db.session.add_all(CaseTally(subject=subject, state=state, flag=flag, day=day, n=n)
                       for (subject, state, flag, day), n in _counted().items())
    db.session.flush()
