"""A decision of the cell, as stored: who proposed it, who confirmed it or attended the meeting
that took it, and what it decides (encrypted under the key of the record it concerns).

Seeds 001 and 004: the cell decides together. Weighing a signal (and so opening a case),
changing a case team and closing a case are never one person's act (the feedback form to the
Local Task Force has its own joint rule: every participating member approves its revision). A :class:`Proposal` stays without effect until a second member
confirms it, or it is taken in a meeting whose attendance register is the proof. The one
exception is the urgent fast path: the coordinator acts at once on an urgent signal, and a
second member confirms within a set time (``confirm_by``); the next meeting's minutes record it.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.keys import EncryptedField, record_scope
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership

CODE_MAX = 20


class DecisionKind(enum.StrEnum):
    WEIGHING = "weighing"  # weigh a signal: open a case, add to one, refer, or close the signal
    TEAM_CHANGE = "team_change"  # add a member to a case team, or take one off
    CLOSURE = "closure"  # close a case
    POLICY_ENTRY = "policy_entry"  # record an agreement, priority or evaluation of the strategic table
    PLATFORM_FIGURES = "platform_figures"  # count in the platform-wide anonymous figures, or no longer


DECISION_KIND_LABELS = {
    DecisionKind.WEIGHING: _l("Weighing of a signal"),
    DecisionKind.TEAM_CHANGE: _l("Change of a case team"),
    DecisionKind.CLOSURE: _l("Closure of a case"),
    DecisionKind.POLICY_ENTRY: _l("Entry in the policy follow-up"),
    DecisionKind.PLATFORM_FIGURES: _l("Counting in the platform-wide figures"),
}


class DecisionWay(enum.StrEnum):
    """How a member puts a decision to the cell."""

    PROPOSE = "propose"  # a proposal a second member confirms
    MEETING = "meeting"  # decided now, in the meeting in session
    URGENT = "urgent"  # the coordinator acts on an urgent signal; a second member confirms later


DECISION_WAY_LABELS = {
    DecisionWay.PROPOSE: _l("Propose it: another member confirms it in the app"),
    DecisionWay.MEETING: _l("Decided in the meeting now in session (its attendance register is the proof)"),
    DecisionWay.URGENT: _l("Urgent: act now, another member confirms within 48 hours"),
}


class DecisionStatus(enum.StrEnum):
    PROPOSED = "proposed"  # no effect until confirmed
    ACTED_URGENTLY = "acted_urgently"  # urgent fast path: in effect, confirmation still due
    TAKEN = "taken"
    WITHDRAWN = "withdrawn"


DECISION_STATUS_LABELS = {
    DecisionStatus.PROPOSED: _l("Waiting for confirmation"),
    DecisionStatus.ACTED_URGENTLY: _l("Urgent: in effect, waiting for confirmation"),
    DecisionStatus.TAKEN: _l("Taken"),
    DecisionStatus.WITHDRAWN: _l("Withdrawn"),
}
OPEN_STATUSES = (DecisionStatus.PROPOSED, DecisionStatus.ACTED_URGENTLY)


class TakenIn(enum.StrEnum):
    CONFIRMATION = "confirmation"  # between meetings: proposed, then confirmed by another member
    MEETING = "meeting"  # in a meeting: the attendance register is the proof


TAKEN_IN_LABELS = {
    TakenIn.CONFIRMATION: _l("Proposed and confirmed between meetings"),
    TakenIn.MEETING: _l("Taken in a meeting"),
}


class ParticipantRole(enum.StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    ATTENDED = "attended"  # present at the meeting that took the decision


PARTICIPANT_ROLE_LABELS = {
    ParticipantRole.PROPOSED: _l("Proposed"),
    ParticipantRole.CONFIRMED: _l("Confirmed"),
    ParticipantRole.ATTENDED: _l("Present at the meeting"),
}


class Proposal(TenantScoped, db.Model):
    """A decision of the cell, from its proposal to its confirmation (or its withdrawal)."""

    __tablename__ = "decision_proposals"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[DecisionKind] = mapped_column(value_enum(DecisionKind))
    subject_type: Mapped[str] = mapped_column(sa.String(20))  # "signal" or "case"
    subject_id: Mapped[int] = mapped_column(Id, index=True)
    subject_code: Mapped[str | None] = mapped_column(sa.String(CODE_MAX))  # what lists show
    status: Mapped[DecisionStatus] = mapped_column(value_enum(DecisionStatus), default=DecisionStatus.PROPOSED, index=True)
    taken_in: Mapped[TakenIn | None] = mapped_column(value_enum(TakenIn))
    urgent: Mapped[bool] = mapped_column(default=False)
    confirm_by: Mapped[datetime | None]
    # Police information is involved: only the information officer (cleared) may confirm.
    police_information: Mapped[bool] = mapped_column(default=False)
    proposed_by_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # The meeting that took it (meetings sit above this domain: an id, not a foreign key).
    meeting_id: Mapped[int | None] = mapped_column(Id, index=True)
    payload_ciphertext: Mapped[str] = mapped_column(sa.Text)

    payload_text = EncryptedField("payload_ciphertext")

    proposed_by: Mapped[Membership | None] = relationship()
    participants: Mapped[list[DecisionParticipant]] = relationship(order_by="DecisionParticipant.id", viewonly=True)

    @property
    def key_scope(self) -> str:
        """The subject's key: erasing the signal or the case makes what was proposed unreadable."""
        return record_scope(self.subject_type, self.subject_id)

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.payload_text or "{}")

    @payload.setter
    def payload(self, value: dict[str, Any]) -> None:
        self.payload_text = json.dumps(value, sort_keys=True)

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def in_effect(self) -> bool:
        return self.status in (DecisionStatus.TAKEN, DecisionStatus.ACTED_URGENTLY)

    @property
    def participant_ids(self) -> set[int]:
        return {p.membership_id for p in self.participants if p.membership_id is not None}


class DecisionParticipant(TenantScoped, db.Model):
    """Who took part in a decision: its proposer, who confirmed it, or who attended the meeting."""

    __tablename__ = "decision_participants"
    __table_args__ = (sa.UniqueConstraint("proposal_id", "membership_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("decision_proposals.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[ParticipantRole] = mapped_column(value_enum(ParticipantRole))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    membership: Mapped[Membership | None] = relationship()
