"""The strategic table's policy follow-up, as stored: its entries (working agreements with the
Local Task Force, priorities, the yearly evaluation, its other decisions and agreements), each
dated, with an owner and a status, and the dated history of reports on that status.

Seed 004: the strategic table (*strategische tafel*) steers the operational table and refines
"lokale beleidslijnen en beleidsprioriteiten ... in permanente afstemming met de LTF", with
"werkafspraken ... tussen de LIVC-R en de LTF"; seed 003 asks for a systematic evaluation of
the local approach. This is policy, not cases: an entry names no case and no person, only an
organisation or a member of the cell as its owner. The rules that change these rows are
:mod:`livc.tenants.strategy.operations`'.

An entry is recorded jointly (a proposal confirmed by a second member of the strategic table,
or taken in its meeting in session): until then it waits, and a withdrawn proposal leaves an
entry that was never recorded, which no list shows.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership, Organisation

TITLE_MAX = 200
TEXT_MAX = 5000
NOTE_MAX = 500
FIRST_YEAR = 2015  # the circular of 21 August 2015 gave the mayor the lead of the local approach


class EntryKind(enum.StrEnum):
    LTF_AGREEMENT = "ltf_agreement"  # *werkafspraak met de LTF*
    PRIORITY = "priority"  # *beleidsprioriteit*
    YEARLY_EVALUATION = "yearly_evaluation"  # *jaarlijkse evaluatie van de aanpak*
    DECISION = "decision"  # another decision of the strategic table
    OTHER_AGREEMENT = "other_agreement"  # an agreement with the services or partners


ENTRY_KIND_LABELS = {
    EntryKind.LTF_AGREEMENT: _l("Working agreement with the Local Task Force"),
    EntryKind.PRIORITY: _l("Policy priority"),
    EntryKind.YEARLY_EVALUATION: _l("Yearly evaluation of the approach"),
    EntryKind.DECISION: _l("Decision of the strategic table"),
    EntryKind.OTHER_AGREEMENT: _l("Other agreement"),
}


class EntryStatus(enum.StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


ENTRY_STATUS_LABELS = {
    EntryStatus.PLANNED: _l("Planned"),
    EntryStatus.IN_PROGRESS: _l("In progress"),
    EntryStatus.DONE: _l("Done"),
    EntryStatus.DROPPED: _l("Dropped"),
}
OPEN_ENTRY_STATUSES = (EntryStatus.PLANNED, EntryStatus.IN_PROGRESS)


class EntryState(enum.StrEnum):
    """Where the joint decision that records an entry stands (derived, not stored)."""

    WAITING = "waiting"  # proposed, waiting for a second member or a meeting
    RECORDED = "recorded"
    WITHDRAWN = "withdrawn"  # its proposal was withdrawn: never recorded


ENTRY_STATE_LABELS = {
    EntryState.WAITING: _l("Waiting for confirmation"),
    EntryState.RECORDED: _l("Recorded"),
    EntryState.WITHDRAWN: _l("Proposal withdrawn: never recorded"),
}


def _membership_column(**kwargs) -> Mapped[int | None]:
    return mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True, **kwargs)


class PolicyEntry(TenantScoped, db.Model):
    """An entry of the policy follow-up: what the strategic table decided or agreed, who carries
    it (a member or an organisation of the cell), by when, and where it stands."""

    __tablename__ = "policy_entries"
    __table_args__ = (
        sa.CheckConstraint(
            "owner_membership_id IS NULL OR owner_organisation_id IS NULL", name="one_owner"
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[EntryKind] = mapped_column(value_enum(EntryKind))
    title: Mapped[str] = mapped_column(sa.String(TITLE_MAX))
    # Plain text, policy only: never a name or a description of a person (the form says so).
    text: Mapped[str | None] = mapped_column(sa.Text)
    owner_membership_id: Mapped[int | None] = _membership_column()
    owner_organisation_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    decided_on: Mapped[date]
    due_on: Mapped[date | None]
    year: Mapped[int] = mapped_column(index=True)  # the year it belongs to (the yearly evaluation's)
    status: Mapped[EntryStatus] = mapped_column(value_enum(EntryStatus), default=EntryStatus.PLANNED, index=True)
    # The strategic table's meeting it was decided in, if any.
    meeting_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("meetings.id", ondelete="SET NULL"), index=True
    )
    # The joint decision that records it (proposed with the entry, confirmed later).
    proposal_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("decision_proposals.id", ondelete="SET NULL"), index=True
    )
    proposed_by_id: Mapped[int | None] = _membership_column()
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]

    owner_membership: Mapped[Membership | None] = relationship(foreign_keys=[owner_membership_id])
    owner_organisation: Mapped[Organisation | None] = relationship()
    proposed_by: Mapped[Membership | None] = relationship(foreign_keys=[proposed_by_id])
    reports: Mapped[list[StatusReport]] = relationship(
        order_by="StatusReport.reported_at, StatusReport.id", viewonly=True
    )

    @property
    def reference(self) -> str:
        """How the decisions' lists name it (never its title: they are shown to the whole table)."""
        return f"P-{self.id}"

    @property
    def recorded(self) -> bool:
        return self.recorded_at is not None

    @property
    def open(self) -> bool:
        return self.status in OPEN_ENTRY_STATUSES

    def overdue_on(self, today: date) -> bool:
        """Recorded, not done nor dropped, and its due date has passed."""
        return self.recorded and self.open and self.due_on is not None and self.due_on < today


class StatusReport(TenantScoped, db.Model):
    """A dated report on an entry's status by its owner (or the coordinator): who, when, what."""

    __tablename__ = "policy_status_reports"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entry_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("policy_entries.id", ondelete="CASCADE"), index=True)
    status: Mapped[EntryStatus] = mapped_column(value_enum(EntryStatus))
    previous_status: Mapped[EntryStatus] = mapped_column(value_enum(EntryStatus))
    note: Mapped[str | None] = mapped_column(sa.String(NOTE_MAX))
    reported_by_id: Mapped[int | None] = _membership_column()
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)

    reported_by: Mapped[Membership | None] = relationship()
