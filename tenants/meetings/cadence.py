"""How often the operational table meets, derived from the cases, never typed (seed 004).

Seed 004: "Deze samenkomst is wekelijks of frequenter indien er minstens één problematisch
dossier was, maandelijks indien geen enkel dossier problematisch was, en ad hoc (op vraag van
een van de partners) indien er geen lopende dossiers meer waren." So:

- **weekly** while at least one case is *problematic*: an open case flagged red or black
  (the weighing's flag system, seed 001: the flags that mean "further attention now"), or
  while a decision taken on the urgent fast path still waits for its confirmation by a second
  member (something happened that the table has not yet seen together);
- **monthly** while cases are open but none is problematic;
- **ad hoc** when no case is open: the cell may sleep; any member may ask for a meeting, and
  a waiting request makes the next meeting due at once.

The next meeting is due one interval after the last meeting of the operational table that was
held (or, before any, after the oldest open case was opened). The cell is *overdue* when that
day has passed and no meeting is planned. The table is the cell's operational table, or its
main table (:func:`livc.tenants.cell.models.serves_as_operational`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from livc.platform.db import db
from livc.platform.timeutil import utcnow
from livc.tenants.cases import tallies
from livc.tenants.cases.models import Case, CaseStatus
from livc.tenants.cases.operations import add_months
from livc.tenants.cell.models import Table, serves_as_operational
from livc.tenants.decisions.models import DecisionStatus, Proposal
from livc.tenants.meetings.models import Meeting, MeetingRequest, MeetingStatus
from livc.tenants.signals.models import FlagLevel

PROBLEMATIC_FLAGS = (FlagLevel.RED, FlagLevel.BLACK)
WEEK = timedelta(days=7)


class Cadence(enum.StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    AD_HOC = "ad_hoc"


CADENCE_LABELS = {
    Cadence.WEEKLY: _l("Weekly: at least one case is problematic"),
    Cadence.MONTHLY: _l("Monthly: cases are open, none is problematic"),
    Cadence.AD_HOC: _l("Ad hoc: no case is open, the cell meets when a member asks"),
}


@dataclass(frozen=True)
class CadenceState:
    """Where the operational table stands with its cadence (no case codes: counts only)."""

    table_id: int | None
    cadence: Cadence
    open_cases: int
    problematic_cases: int
    urgent_decisions_waiting: int
    requests_waiting: int
    last_held: datetime | None
    next_due: date | None  # None: ad hoc and nobody asked
    next_planned: Meeting | None

    @property
    def overdue(self) -> bool:
        return self.next_due is not None and self.next_due < utcnow().date() and self.next_planned is None


def operational_table() -> Table | None:
    """The table that follows cases: the operational table, or the main table."""
    tables = db.session.scalars(sa.select(Table).where(Table.removed_at.is_(None)).order_by(Table.id)).all()
    return next((table for table in tables if serves_as_operational(table.kind)), None)


def _open_cases() -> tuple[int, int, datetime | None]:
    """How many cases are open, how many of them are problematic (the tallies the database
    keeps), and when the oldest was opened (the first entry of an index): whatever the number of
    cases, never the cases themselves."""
    count, flagged = tallies.open_cases(PROBLEMATIC_FLAGS)
    oldest = db.session.scalar(
        sa.select(Case.opened_at).where(Case.status == CaseStatus.OPEN).order_by(Case.opened_at).limit(1)
    )
    return count, flagged, oldest


def _urgent_decisions_waiting() -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Proposal.id)).where(Proposal.status == DecisionStatus.ACTED_URGENTLY)
    ) or 0


def cadence_for(problematic: int, urgent_waiting: int, open_cases: int) -> Cadence:
    """The rule of seed 004 on counts."""
    if problematic or urgent_waiting:
        return Cadence.WEEKLY
    if open_cases:
        return Cadence.MONTHLY
    return Cadence.AD_HOC


def cadence_state(now: datetime | None = None) -> CadenceState:
    """The operational table's cadence now, its last held meeting and when the next is due."""
    now = now or utcnow()
    table = operational_table()
    open_cases, problematic, oldest_opened = _open_cases()
    urgent = _urgent_decisions_waiting()
    requests = db.session.scalar(
        sa.select(sa.func.count(MeetingRequest.id)).where(MeetingRequest.meeting_id.is_(None))
    ) or 0
    cadence = cadence_for(problematic, urgent, open_cases)
    last_held = next_planned = None
    if table is not None:
        of_table = sa.select(Meeting).where(Meeting.table_id == table.id)
        last_held = db.session.scalar(
            of_table.where(Meeting.status == MeetingStatus.HELD).order_by(Meeting.starts_at.desc()).limit(1)
        )
        next_planned = db.session.scalar(
            of_table.where(Meeting.status.in_((MeetingStatus.PLANNED, MeetingStatus.IN_SESSION)), Meeting.ends_at >= now)
            .order_by(Meeting.starts_at).limit(1)
        )
    base = last_held.starts_at if last_held is not None else oldest_opened
    if cadence == Cadence.AD_HOC:
        next_due = now.date() if requests else None
    elif base is None:
        next_due = now.date()
    elif cadence == Cadence.WEEKLY:
        next_due = (base + WEEK).date()
    else:
        next_due = add_months(base.date(), 1)
    if requests and next_due is not None:
        next_due = min(next_due, now.date())
    return CadenceState(
        table_id=table.id if table is not None else None,
        cadence=cadence,
        open_cases=open_cases,
        problematic_cases=problematic,
        urgent_decisions_waiting=urgent,
        requests_waiting=requests,
        last_held=last_held.starts_at if last_held is not None else None,
        next_due=next_due,
        next_planned=next_planned,
    )
