"""The cases a member reads, a page at a time, and how many stand at each stage: in SQL.

The case list, its API and the dashboards used to load every case, then ask, case by case, for
its measures, its next review and (for a closed case) whether a review after closure is still
due: some 2,000 statements for 2,000 cases. Here the rule of
:func:`livc.tenants.cases.operations.stage_of` is written once more as an SQL expression
(:func:`stage_column`), so that one statement lists a page of cases with where each stands, and
one ``GROUP BY`` counts the cases of each stage; the team and the measures a page shows come
with one ``selectinload`` each. Who may read which case is the policy's rule (the coordinator
all, a member the cases whose team they are in, until their time runs out), put in the
``WHERE`` so a page is full; :func:`~livc.platform.policy.decide` still checks each row.

The list is sorted open cases first, then by code (``status`` descending: "open" > "closed"),
then by id. No index serves that mixed order yet: PostgreSQL keeps the top of the cell's cases
in a bounded sort for each page (the facts of the page's rows are read for those rows only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from livc.platform.db import db
from livc.platform.paging import Key, Page, PageArgs, keyset_page
from livc.platform.policy import Action, Person, decide
from livc.platform.roles import Role
from livc.tenants.cases.models import (
    OPEN_MEASURE_STATUSES,
    Case,
    CaseStage,
    CaseStatus,
    CaseTeamMember,
    Measure,
    Review,
    ReviewKind,
)

#: The list's order: open cases first, then by code (unique in a cell), then by id.
LIST_KEYS = (Key(Case.status, descending=True), Key(Case.code), Key(Case.id))


@dataclass(frozen=True)
class CaseRow:
    """A case as a list shows it: where it stands, its next review, its open measures."""

    case: Case
    stage: CaseStage
    next_review_on: date | None
    open_measures: int
    overdue: bool  # an open measure is past its day

    @property
    def after_closure(self) -> bool:
        return self.case.closed and self.next_review_on is not None


def readable(person: Person, today: date, *, include_closed: bool = True, municipality: str | None = None,
             in_team: bool = False) -> sa.Select:
    """The select of the cases ``person`` may read (``in_team``: only those whose team they are in,
    even for the coordinator), with the list's filters."""
    query = sa.select(Case)
    if not include_closed:
        query = query.where(Case.status == CaseStatus.OPEN)
    if municipality is not None:
        query = query.where(Case.residence_nis == municipality)
    if in_team or person.role != Role.COORDINATOR:
        team = sa.select(CaseTeamMember.case_id).where(
            CaseTeamMember.membership_id == person.membership_id, CaseTeamMember.removed_at.is_(None),
            sa.or_(CaseTeamMember.until.is_(None), CaseTeamMember.until >= today),
        )
        query = query.where(Case.id.in_(team))
    return query


def stage_column(today: date):
    """:func:`~livc.tenants.cases.operations.stage_of` as SQL: the stage's value of each case."""
    aftercare_due = sa.exists().where(
        Review.case_id == Case.id, Review.kind == ReviewKind.AFTER_CLOSURE, Review.held_on.is_(None)
    )
    has_measures = sa.exists().where(Measure.case_id == Case.id)
    return sa.case(
        (Case.status == CaseStatus.CLOSED,
         sa.case((aftercare_due, CaseStage.AFTERCARE.value), else_=CaseStage.CLOSED.value)),
        (sa.and_(Case.next_review_on.is_not(None), Case.next_review_on <= today), CaseStage.EVALUATION.value),
        (~has_measures, CaseStage.BUILDING.value),
        else_=CaseStage.FOLLOW_UP.value,
    )


def _next_review_column():
    return (sa.select(sa.func.min(Review.due_on)).where(Review.case_id == Case.id, Review.held_on.is_(None))
            .scalar_subquery())


def _open_measures_column():
    return (sa.select(sa.func.count(Measure.id))
            .where(Measure.case_id == Case.id, Measure.status.in_(OPEN_MEASURE_STATUSES)).scalar_subquery())


def _overdue_column(today: date):
    return sa.exists().where(
        Measure.case_id == Case.id, Measure.status.in_(OPEN_MEASURE_STATUSES),
        Measure.due_on.is_not(None), Measure.due_on < today,
    )


def case_rows_page(person: Person, args: PageArgs, today: date, *, municipality: str | None = None) -> Page[CaseRow]:
    """One page of the cases ``person`` may read, open ones first, by code, each with its facts."""
    query = readable(person, today, municipality=municipality).add_columns(
        stage_column(today), _next_review_column(), _open_measures_column(), _overdue_column(today),
    ).options(selectinload(Case.team), selectinload(Case.measures))
    page = keyset_page(query, LIST_KEYS, args, scope="cases")
    page.items = [
        CaseRow(case, CaseStage(stage), next_review, open_measures or 0, bool(overdue))
        for case, stage, next_review, open_measures, overdue in page.items
        if decide(person, Action.CASE_READ, case)
    ]
    return page


def stage_counts(person: Person, today: date, *, in_team: bool = False) -> dict[CaseStage, int]:
    """How many of the cases ``person`` may read stand at each stage (one ``GROUP BY``)."""
    cases = readable(person, today, in_team=in_team).subquery()
    stage = stage_column(today)
    counted = db.session.execute(
        sa.select(stage.label("stage"), sa.func.count()).select_from(Case)
        .where(Case.id.in_(sa.select(cases.c.id))).group_by(stage)
    )
    counts = {stage: 0 for stage in CaseStage}
    for value, count in counted:
        counts[CaseStage(value)] = count
    return counts


def first_cases_by_stage(person: Person, today: date, limit: int, *, in_team: bool = False) -> dict[CaseStage, list[Case]]:
    """The first ``limit`` cases (by code) of each stage, of those ``person`` may read: one
    statement (a window function numbers each stage's cases), and one for their teams."""
    stage = stage_column(today).label("stage")
    numbered = readable(person, today, in_team=in_team).with_only_columns(
        Case.id, stage, sa.func.row_number().over(partition_by=stage, order_by=(Case.code, Case.id)).label("number"),
    ).subquery()
    query = (sa.select(Case, numbered.c.stage).join(numbered, numbered.c.id == Case.id)
             .where(numbered.c.number <= limit).order_by(Case.code, Case.id).options(selectinload(Case.team)))
    found: dict[CaseStage, list[Case]] = {stage: [] for stage in CaseStage}
    for case, value in db.session.execute(query):
        if decide(person, Action.CASE_READ, case):
            found[CaseStage(value)].append(case)
    return found


def readable_ids(person: Person, today: date, *, include_closed: bool = True):
    """The ids of the cases ``person`` may read, as a subquery for an ``IN``."""
    return readable(person, today, include_closed=include_closed).with_only_columns(Case.id)

