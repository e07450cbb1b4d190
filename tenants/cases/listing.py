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

The stage apart from the day is kept on the case (``Case.base_stage``, migration 0032, written
after every flush that touches a case, a measure or a review); only "evaluation" (an open case
whose next review is due) is read against the day. So a stage is a plain expression over two
columns of the case, which the index ``(tenant_id, base_stage, code, id, next_review_on)``
holds: the counts are a ``GROUP BY`` over that index and the first cases of a stage a short scan
of it. The list is sorted open cases first, then by code (``status`` descending: "open" >
"closed"), then by id, the order of the index ``(tenant_id, status DESC, code, id)``: a page is
read from the index, whatever the cell's size. Open measures and overdue ones are counted from
the page's measures, loaded with it.
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
from livc.tenants.cases import tallies
from livc.tenants.cases.models import (
    Case,
    CaseStage,
    CaseStatus,
    CaseTeamMember,
    Review,
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
    query = sa.select(Case).where(*readable_where(person, today, Case.id, in_team=in_team))
    if not include_closed:
        query = query.where(Case.status == CaseStatus.OPEN)
    if municipality is not None:
        query = query.where(Case.residence_nis == municipality)
    return query


def readable_where(person: Person, today: date, case_id, *, in_team: bool = False) -> list:
    """The conditions on ``case_id`` (a column: ``Case.id``, ``Measure.case_id``, ...) that keep
    the cases ``person`` may read: none for the coordinator, who reads every case of the cell (the
    policy's rule, :func:`livc.platform.policy.decide` with ``CASE_READ``), so a query of theirs
    reads its own index and never a list of all the cell's cases; for every other member (and with
    ``in_team``), the cases whose team they are in until their time runs out (read from the index
    ``ix_case_team_members_member_cases``, migration 0034)."""
    if not in_team and person.role == Role.COORDINATOR:
        return []
    team = sa.select(CaseTeamMember.case_id).where(
        CaseTeamMember.membership_id == person.membership_id, CaseTeamMember.removed_at.is_(None),
        sa.or_(CaseTeamMember.until.is_(None), CaseTeamMember.until >= today),
    )
    return [case_id.in_(team)]


def stage_column(today: date):
    """:func:`~livc.tenants.cases.operations.stage_of` as SQL over the case's own columns: its
    kept stage, or "evaluation" for an open case whose next review is due by ``today``."""
    followed = Case.base_stage.in_((CaseStage.BUILDING, CaseStage.FOLLOW_UP))
    return sa.case(
        (sa.and_(followed, Case.next_review_on <= today), CaseStage.EVALUATION.value),
        else_=Case.base_stage,
    )


def _next_review_column():
    return (sa.select(sa.func.min(Review.due_on)).where(Review.case_id == Case.id, Review.held_on.is_(None))
            .scalar_subquery())


def _open_and_overdue(case: Case, today: date) -> tuple[int, bool]:
    """How many of ``case``'s measures are open, and whether one of them is past its day."""
    measures = case.open_measures
    return len(measures), any(m.due_on is not None and m.due_on < today for m in measures)


def case_rows_page(person: Person, args: PageArgs, today: date, *, municipality: str | None = None) -> Page[CaseRow]:
    """One page of the cases ``person`` may read, open ones first, by code, each with its facts."""
    query = readable(person, today, municipality=municipality).add_columns(
        stage_column(today), _next_review_column(),
    ).options(selectinload(Case.team), selectinload(Case.measures))
    page = keyset_page(query, LIST_KEYS, args, scope="cases")
    page.items = [
        CaseRow(case, CaseStage(stage), next_review, *_open_and_overdue(case, today))
        for case, stage, next_review in page.items
        if decide(person, Action.CASE_READ, case)
    ]
    return page


def stage_counts(person: Person, today: date, *, in_team: bool = False) -> dict[CaseStage, int]:
    """How many of the cases ``person`` may read stand at each stage: for the coordinator, who
    reads the whole cell, from the tallies the database keeps (:mod:`livc.tenants.cases.tallies`);
    for a member, one ``GROUP BY`` over their team's cases."""
    if not readable_where(person, today, Case.id, in_team=in_team):
        return tallies.stage_counts(today)
    stage = stage_column(today)
    counted = db.session.execute(
        readable(person, today, in_team=in_team).with_only_columns(stage.label("stage"), sa.func.count())
        .group_by(stage)
    )
    counts = {stage: 0 for stage in CaseStage}
    for value, count in counted:
        counts[CaseStage(value)] += count
    return counts


def _of_stage(stage: CaseStage, today: date) -> list[tuple[CaseStage, list]]:
    """Where the cases of ``stage`` are on the stage index: the kept stage with, for the open
    ones, whether their next review is due; one entry per kept stage, so each reads one range
    of the index in code order."""
    due = Case.next_review_on <= today
    if stage == CaseStage.EVALUATION:
        return [(CaseStage.BUILDING, [due]), (CaseStage.FOLLOW_UP, [due])]
    if stage in (CaseStage.BUILDING, CaseStage.FOLLOW_UP):
        return [(stage, [sa.or_(Case.next_review_on.is_(None), Case.next_review_on > today)])]
    return [(stage, [])]


def first_cases_by_stage(person: Person, today: date, limit: int, *, in_team: bool = False) -> dict[CaseStage, list[Case]]:
    """The first ``limit`` cases (by code) of each stage, of those ``person`` may read: one
    statement (each stage's first cases read in code order from its range of the stage index,
    ``UNION ALL``), and one for their teams."""
    parts = []
    for each in CaseStage:
        for kept, conditions in _of_stage(each, today):
            first = (readable(person, today, in_team=in_team)
                     .with_only_columns(Case.id, sa.literal(each.value).label("stage"))
                     .where(Case.base_stage == kept, *conditions).order_by(Case.code, Case.id).limit(limit).subquery())
            parts.append(sa.select(first.c.id, first.c.stage))
    chosen = sa.union_all(*parts).subquery()
    query = (sa.select(Case, chosen.c.stage).join(chosen, chosen.c.id == Case.id)
             .order_by(Case.code, Case.id).options(selectinload(Case.team)))
    found: dict[CaseStage, list[Case]] = {stage: [] for stage in CaseStage}
    for case, value in db.session.execute(query):
        shown = found[CaseStage(value)]
        if len(shown) < limit and decide(person, Action.CASE_READ, case):
            shown.append(case)
    return found


def readable_ids(person: Person, today: date, *, include_closed: bool = True):
    """The ids of the cases ``person`` may read, as a subquery for an ``IN``."""
    return readable(person, today, include_closed=include_closed).with_only_columns(Case.id)

