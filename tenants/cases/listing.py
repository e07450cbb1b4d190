"""The cases a member reads, a page at a time, and how many stand at each stage: in SQL.

The case list, its API and the dashboards used to load every case, then ask, case by case, for
its measures, its next review and (for a closed case) whether a review after closure is still
due: some 2,000 statements for 2,000 cases. Here the rule of
:func:`livc.tenants.cases.operations.stage_of` is written once more as an SQL expression
(:func:`stage_column`), so that one statement lists a page of cases with where each stands.
Who may read which case is the policy's rule (the coordinator
all, a member the cases whose team they are in, until their time runs out), put in the
``WHERE`` so a page is full; :func:`~livc.platform.policy.decide` still checks each row.

The stage apart from the day is kept on the case (``Case.base_stage``, migration 0032, written
after every flush that touches a case, a measure or a review); only "evaluation" (an open case
whose next review is due) is read against the day. So a stage is a plain expression over two
columns of the case, which the index ``(tenant_id, base_stage, code, id, next_review_on)``
holds: the first cases of a stage are a short scan of the stage's range of it. The coordinator's
counts per stage come from the tallies the database keeps (:mod:`livc.tenants.cases.tallies`,
migration 0035), a member's from a ``GROUP BY`` over their team's cases. The list is sorted open cases first, then by code (``status`` descending: "open" >
"closed"), then by id, the order of the index ``(tenant_id, status DESC, code, id)``: a page is
read from the index, whatever the cell's size. A page reads only the columns it shows (never a
ciphertext), with its open measures counted and their earliest day found in SQL, per case, from
the measures' ``case_id`` index.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from functools import cache

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from livc.platform.db import db
from livc.platform.paging import Key, Page, PageArgs, keyset_page
from livc.platform.policy import Action, Person, decide
from livc.platform.roles import Role
from livc.tenants.cases import tallies
from livc.tenants.cases.models import (
    OPEN_MEASURE_STATUSES,
    Case,
    CaseStage,
    CaseStatus,
    CaseTeamMember,
    ClosureReason,
    FlagLevel,
    FollowUpKind,
    Measure,
    Review,
    TargetGroup,
)

#: The list's order: open cases first, then by code (unique in a cell), then by id.
LIST_KEYS = (Key(Case.status, descending=True), Key(Case.code), Key(Case.id))


@dataclass(frozen=True)
class ListedCase:
    """A case as the list reads it: the columns the page and the API show, and its cell for the
    policy. Its ``team`` (who in the case team may read it) is read only for a reader whose right
    the policy checks against the team: asked for when not read, it raises rather than answer
    with an empty team."""

    id: int
    tenant_id: int
    code: str
    status: CaseStatus
    flag: FlagLevel
    follow_up_kind: FollowUpKind
    target_group: TargetGroup
    approached_for_other_problem: bool
    residence_nis: str | None
    opened_at: datetime
    next_review_on: date | None
    closed_at: datetime | None
    closure_reason: ClosureReason | None
    team: frozenset[int] | None = None

    @property
    def closed(self) -> bool:
        return self.status == CaseStatus.CLOSED

    @property
    def team_membership_ids(self) -> frozenset[int]:
        if self.team is None:
            raise LookupError(f"the team of case {self.id} was not read for this list")
        return self.team

    @property
    def agenda_attendee_ids(self) -> frozenset[int]:
        raise LookupError("a listed case has no agenda: the list checks reading it only")


#: The columns a :class:`ListedCase` is made of, in its fields' order.
LISTED_COLUMNS = tuple(getattr(Case, field.name) for field in fields(ListedCase) if field.name != "team")


@dataclass(frozen=True)
class CaseRow:
    """A case as a list shows it: where it stands, its next review, its open measures."""

    case: ListedCase
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


@cache
def _next_review_column():
    return (sa.select(sa.func.min(Review.due_on)).where(Review.case_id == Case.id, Review.held_on.is_(None))
            .scalar_subquery())


@cache
def _open_measures_columns() -> tuple:
    """How many of a case's measures are open, and the earliest day one of them is due (past
    ``today``: one is overdue), as two scalar subqueries on the measures' ``case_id`` index, so
    a page loads no measure (built once, as they never change)."""
    still_open = (Measure.case_id == Case.id, Measure.status.in_(OPEN_MEASURE_STATUSES))
    return (sa.select(sa.func.count(Measure.id)).where(*still_open).scalar_subquery(),
            sa.select(sa.func.min(Measure.due_on)).where(*still_open).scalar_subquery())


def _team_readers(case_ids: list[int], today: date) -> dict[int, frozenset[int]]:
    """Who in each case's team may read it on ``today`` (:attr:`Case.team_membership_ids`), for
    a page of cases in one statement."""
    readers: dict[int, set[int]] = {case_id: set() for case_id in case_ids}
    if case_ids:
        members = db.session.execute(sa.select(CaseTeamMember.case_id, CaseTeamMember.membership_id).where(
            CaseTeamMember.case_id.in_(case_ids), CaseTeamMember.removed_at.is_(None),
            CaseTeamMember.membership_id.is_not(None),
            sa.or_(CaseTeamMember.until.is_(None), CaseTeamMember.until >= today),
        ))
        for case_id, membership_id in members:
            readers[case_id].add(membership_id)
    return {case_id: frozenset(ids) for case_id, ids in readers.items()}


def case_rows_page(person: Person, args: PageArgs, today: date, *, municipality: str | None = None) -> Page[CaseRow]:
    """One page of the cases ``person`` may read, open ones first, by code, each with its facts:
    one statement of the columns the list shows; for a reader other than the coordinator (whose
    right the policy checks against the case team), one more for the teams."""
    open_measures, earliest_due = _open_measures_columns()
    query = readable(person, today, municipality=municipality).with_only_columns(
        *LISTED_COLUMNS, stage_column(today), _next_review_column(), open_measures, earliest_due,
    )
    page = keyset_page(query, LIST_KEYS, args, scope="cases")
    width = len(LISTED_COLUMNS)
    # The team is read only for a reader whose right depends on it (readable_where's own rule).
    in_teams = bool(readable_where(person, today, Case.id))
    teams = _team_readers([row[0] for row in page.items], today) if in_teams else None
    rows = []
    for row in page.items:
        case = ListedCase(*row[:width], team=None if teams is None else teams[row[0]])
        stage, next_review, open_count, earliest = row[width:]
        if decide(person, Action.CASE_READ, case):
            rows.append(CaseRow(case, CaseStage(stage), next_review, open_count,
                                earliest is not None and earliest < today))
    page.items = rows
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

