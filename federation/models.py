"""The federation's tables: links between cells, the shared token index, match alerts.

Platform-level tables (not tenant-scoped, no row-level security: the federation index is shared
by design) hold only ids, opaque references, OPRF tokens, key *types*, scores and dates, never
a name, a case code or any identity value:

    federation_links        two cells that agreed to be compared (cell_a_id < cell_b_id)
    federation_enrolments   one per enrolled case: tenant, opaque ref, epoch, key scheme, status
    federation_tokens       the enrolment's tokens by key type; INDEX (epoch, key_type, token)
    match_alerts            a pair of enrolments of two linked cells, its score and agreeing types,
                            which side was enrolled earlier (it hears first) and when the newer
                            side was told; whether the newer case left soon after
    federation_budget_uses  one row per enrolment charged to a cell's weekly budget (no case, no ref)
    federation_budget_releases  an operator's release of a cell's held enrolments (counts only)
    dismissed_pairs         a pair judged to be two people, with the identity versions then

One tenant-scoped table, ``case_federation``, is the only place mapping a case to its ref (and
records an opt-out with its reason, encrypted under the case's key).
"""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.keys import EncryptedField, record_scope
from livc.platform.timeutil import utcnow

REF_LENGTH = 32
TOKEN_BYTES = 64


def new_ref() -> str:
    """A random opaque reference (no relation to a case id or code)."""
    return secrets.token_hex(REF_LENGTH // 2)


def _tenant_column(nullable: bool = False, index: bool = True):
    return mapped_column(Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=nullable, index=index)


class FederationLink(db.Model):
    """Two cells whose coordinators both agreed to be compared. Live while ``ended_at`` is
    null; active once both sides agreed. At most one live link per pair."""

    __tablename__ = "federation_links"
    __table_args__ = (
        sa.CheckConstraint("cell_a_id < cell_b_id", name="ordered"),
        sa.Index(
            "uq_federation_links_live_pair", "cell_a_id", "cell_b_id", unique=True,
            postgresql_where=sa.text("ended_at IS NULL"), sqlite_where=sa.text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    cell_a_id: Mapped[int] = _tenant_column()
    cell_b_id: Mapped[int] = _tenant_column()
    requested_by_id: Mapped[int] = _tenant_column(index=False)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    a_agreed_at: Mapped[datetime | None]
    b_agreed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_by_id: Mapped[int | None] = _tenant_column(nullable=True, index=False)

    @property
    def active(self) -> bool:
        return self.ended_at is None and self.a_agreed_at is not None and self.b_agreed_at is not None

    def other(self, tenant_id: int) -> int:
        return self.cell_b_id if tenant_id == self.cell_a_id else self.cell_a_id


class EnrolmentStatus(enum.StrEnum):
    PENDING = "pending"  # written, its job not done yet (the sweeper re-enqueues it)
    ENROLLED = "enrolled"
    REMOVED = "removed"  # closed, erased, excluded, or the cell no longer linked: no tokens
    HELD = "held"  # over the cell's weekly enrolment budget: waits for an operator's release


class FederationEnrolment(db.Model):
    """A case in the federation index, known here only by its cell and an opaque ref."""

    __tablename__ = "federation_enrolments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = _tenant_column()
    ref: Mapped[str] = mapped_column(sa.String(REF_LENGTH), unique=True)
    epoch: Mapped[int | None]
    # The match keys' version the tokens were made under (match_keys.KEY_SCHEME); null: before
    # versions were recorded. The sweeper re-enrols an older scheme.
    key_scheme: Mapped[int | None]
    # A digest of the identity's ciphertexts: tells that the identity changed, nothing more.
    identity_version: Mapped[str | None] = mapped_column(sa.String(64))
    # Which identity fields are known (given, family, year, month, day, nn, nn_checked): the
    # decision needs them (a field one side lacks, two different national numbers); no value.
    known: Mapped[str] = mapped_column(sa.String(80), default="")
    status: Mapped[EnrolmentStatus] = mapped_column(value_enum(EnrolmentStatus), default=EnrolmentStatus.PENDING, index=True)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the enrolment was first enrolled: the earlier of two enrolments hears of their alert first.
    enrolled_at: Mapped[datetime | None]
    # An operator released it from its cell's budget: its next computation is not charged again.
    released_at: Mapped[datetime | None]
    # The RQ job last sent to compute it (a batch's jobs share one): the sweeper sends it again
    # only when RQ no longer holds that job (livc.platform.job_status).
    job_id: Mapped[str | None] = mapped_column(sa.String(64))

    @property
    def known_fields(self) -> frozenset[str]:
        return frozenset(field for field in self.known.split(",") if field)


class FederationToken(db.Model):
    __tablename__ = "federation_tokens"
    __table_args__ = (sa.Index("ix_federation_tokens_lookup", "epoch", "key_type", "token"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        Id, sa.ForeignKey("federation_enrolments.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = _tenant_column()
    epoch: Mapped[int]
    key_type: Mapped[str] = mapped_column(sa.String(20))
    token: Mapped[bytes] = mapped_column(sa.LargeBinary(TOKEN_BYTES))


class SideStatus(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"


class AlertState(enum.StrEnum):
    OPEN = "open"  # neither dismissed, not both confirmed yet
    CONFIRMED = "confirmed"  # both confirmed: contact opened
    DISMISSED = "dismissed"  # a side judged them two different people
    WITHDRAWN = "withdrawn"  # the link ended, or a case left the federation, before a decision


class MatchAlert(db.Model):
    """A pair of enrolments of two linked cells that the decision rule alerts on.

    Side ``a`` is the enrolment with the lower id. Unique per link, pair and identity versions:
    re-running the matching never duplicates an alert.
    """

    __tablename__ = "match_alerts"
    __table_args__ = (
        sa.UniqueConstraint(
            "link_id", "enrolment_a_id", "enrolment_b_id", "version_a", "version_b", name="uq_match_alerts_pair"
        ),
        sa.Index("ix_match_alerts_created", "created_at", "id"),  # the alert list's order
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    link_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("federation_links.id", ondelete="CASCADE"), index=True)
    enrolment_a_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("federation_enrolments.id", ondelete="CASCADE"), index=True)
    enrolment_b_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("federation_enrolments.id", ondelete="CASCADE"), index=True)
    tenant_a_id: Mapped[int] = _tenant_column()
    tenant_b_id: Mapped[int] = _tenant_column()
    version_a: Mapped[str] = mapped_column(sa.String(64))
    version_b: Mapped[str] = mapped_column(sa.String(64))
    score: Mapped[float] = mapped_column(sa.Float)
    agreeing: Mapped[str] = mapped_column(sa.String(200))  # key types, comma-separated
    unknown: Mapped[str] = mapped_column(sa.String(80), default="")  # fields one side lacked
    status_a: Mapped[SideStatus] = mapped_column(value_enum(SideStatus), default=SideStatus.NEW)
    status_b: Mapped[SideStatus] = mapped_column(value_enum(SideStatus), default=SideStatus.NEW)
    state: Mapped[AlertState] = mapped_column(value_enum(AlertState), default=AlertState.OPEN, index=True)
    shared_reference: Mapped[str | None] = mapped_column(sa.String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_a_at: Mapped[datetime | None]
    notified_b_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    dismissed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    # The side whose case was enrolled earlier ("a" or "b"): it hears first; the newer side sees
    # nothing until ``disclosed_at`` (the earlier side judged it worth checking, or confirmed).
    earlier_side: Mapped[str] = mapped_column(sa.String(1), default="a", server_default="a")
    disclosed_at: Mapped[datetime | None]
    # The newer case left ("closed" or "erased") soon after the alert: shown to the earlier side.
    newer_left: Mapped[str | None] = mapped_column(sa.String(10))
    newer_left_at: Mapped[datetime | None]

    @property
    def newer_side(self) -> str:
        return "b" if self.earlier_side == "a" else "a"

    def side(self, tenant_id: int) -> str:
        if tenant_id == self.tenant_a_id:
            return "a"
        if tenant_id == self.tenant_b_id:
            return "b"
        raise LookupError("not a side of this alert")

    @property
    def agreeing_types(self) -> tuple[str, ...]:
        return tuple(kind for kind in self.agreeing.split(",") if kind)


class DismissedPair(db.Model):
    """Two enrolments judged to be different people, at these identity versions."""

    __tablename__ = "dismissed_pairs"
    __table_args__ = (
        sa.UniqueConstraint("ref_low", "ref_high", "version_low", "version_high", name="uq_dismissed_pairs_pair"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ref_low: Mapped[str] = mapped_column(sa.String(REF_LENGTH))
    ref_high: Mapped[str] = mapped_column(sa.String(REF_LENGTH))
    version_low: Mapped[str] = mapped_column(sa.String(64))
    version_high: Mapped[str] = mapped_column(sa.String(64))
    dismissed_at: Mapped[datetime] = mapped_column(default=utcnow)


class BudgetUse(db.Model):
    """One enrolment charged to a cell's weekly budget: a first enrolment or a re-enrolment
    after an identity change (new tokens, so possibly a probe); never a re-enrolment after a key
    rotation or key scheme change. No case, no ref: the budget needs counts only."""

    __tablename__ = "federation_budget_uses"
    __table_args__ = (sa.Index("ix_federation_budget_uses_cell_time", "tenant_id", "used_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = _tenant_column(index=False)
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
    released: Mapped[bool] = mapped_column(default=False)  # over budget, let through by an operator


class BudgetRelease(db.Model):
    """An operator let a cell's held enrolments proceed (how many; audited in both trails)."""

    __tablename__ = "federation_budget_releases"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = _tenant_column()
    operator_id: Mapped[int | None] = mapped_column(Id)
    count: Mapped[int]
    released_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseFederation(TenantScoped, db.Model):
    """Inside the cell: which opaque ref stands for a case, and its opt-out, if any."""

    __tablename__ = "case_federation"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="CASCADE"), unique=True)
    ref: Mapped[str] = mapped_column(sa.String(REF_LENGTH), unique=True, default=new_ref)
    excluded_at: Mapped[datetime | None]
    excluded_by_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"))
    excluded_reason_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    excluded_reason = EncryptedField("excluded_reason_ciphertext")

    @property
    def key_scope(self) -> str:
        return record_scope("case", self.case_id)


class PreparedTokens(TenantScoped, db.Model):
    """Inside a cell that does not keep identities: an identity's tokens, made through the key
    custodian when it was entered (its values are gone afterwards), waiting for a case of it to
    be enrolled. Tokens, key scheme and epoch, the fields the identity knew, never a value; see
    federation/README.md, "Cells that do not keep identities"."""

    __tablename__ = "prepared_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    identity_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("identities.id", ondelete="CASCADE"), unique=True)
    epoch: Mapped[int | None]
    key_scheme: Mapped[int | None]
    known: Mapped[str] = mapped_column(sa.String(80), default="")
    # Changes with every entry: an enrolment charged to the budget when it differs.
    version: Mapped[str] = mapped_column(sa.String(64))
    # {"key name": "base64 token", ...}; None when the custodian could not be asked at entry,
    # or the identity does not name a person (nothing to compare).
    tokens: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def known_fields(self) -> frozenset[str]:
        return frozenset(field for field in self.known.split(",") if field)


# --- cooperation ------------------------------------------------------------------------------
# After both cells confirmed an alert, their coordinators (and, when both cells agree, their
# cleared information officers) talk in a shared thread; when a person moves, a closed case is
# handed over to the cell of the new municipality. The platform-level tables hold ids, statuses
# and dates only; every message, summary and reason is kept in each cell's own tenant-scoped
# table, encrypted under that cell's keys (see federation/README.md, "Cooperation after a match").


class ThreadSide(enum.StrEnum):
    A = "a"
    B = "b"


class CooperationThread(db.Model):
    """The thread of two cells on one confirmed alert (side ``a`` is the alert's side a).

    Open while ``closed_at`` is null. ``officers_*_at``: that cell agreed to let its information
    officers take part (they join once both agreed). ``left_*_at``: that cell's case was erased,
    its copy of the thread went with it.
    """

    __tablename__ = "federation_threads"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("match_alerts.id", ondelete="SET NULL"), unique=True
    )
    cell_a_id: Mapped[int] = _tenant_column()
    cell_b_id: Mapped[int] = _tenant_column()
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None]
    officers_a_at: Mapped[datetime | None]
    officers_b_at: Mapped[datetime | None]
    left_a_at: Mapped[datetime | None]
    left_b_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = _tenant_column(nullable=True, index=False)

    def side(self, tenant_id: int) -> str:
        if tenant_id == self.cell_a_id:
            return "a"
        if tenant_id == self.cell_b_id:
            return "b"
        raise LookupError("not a side of this thread")

    def other(self, tenant_id: int) -> int:
        return self.cell_b_id if self.side(tenant_id) == "a" else self.cell_a_id

    @property
    def officers_join(self) -> bool:
        return self.officers_a_at is not None and self.officers_b_at is not None


class EntryKind(enum.StrEnum):
    MESSAGE = "message"
    CLOSED = "closed"  # the thread was closed; the body is the reason
    LEFT = "left"  # the other cell's case was erased: it left the thread (no body)


class ThreadEntry(TenantScoped, db.Model):
    """One cell's copy of a message (or of the thread's closing) in a cooperation thread,
    encrypted under the cell's key for the thread: the same message has a copy in each cell.

    ``thread_id`` has no foreign key on purpose: a cell's copy is its own record and outlives
    the shared row (the other cell may leave the platform).
    """

    __tablename__ = "federation_thread_entries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    thread_id: Mapped[int] = mapped_column(Id, index=True)
    kind: Mapped[EntryKind] = mapped_column(value_enum(EntryKind), default=EntryKind.MESSAGE)
    from_cell_id: Mapped[int | None] = mapped_column(Id)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    author_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    body_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    author = EncryptedField("author_ciphertext")  # a member's name, as the thread shows it
    body = EncryptedField("body_ciphertext")

    @property
    def key_scope(self) -> str:
        return record_scope("fedthread", self.thread_id)


class HandoverStatus(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # the sending case was erased, or a cell left the platform


class Handover(db.Model):
    """A closed case proposed to the cell of the municipality the person moved to. Ids, the
    municipality's NIS code (directory data), a status and dates: nothing of the person."""

    __tablename__ = "federation_handovers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    from_cell_id: Mapped[int] = _tenant_column()
    to_cell_id: Mapped[int] = _tenant_column()
    nis_code: Mapped[str] = mapped_column(sa.String(5))
    status: Mapped[HandoverStatus] = mapped_column(
        value_enum(HandoverStatus), default=HandoverStatus.PROPOSED, index=True
    )
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary_chosen_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]


class HandoverSide(enum.StrEnum):
    SENDING = "sending"
    RECEIVING = "receiving"


class HandoverFile(TenantScoped, db.Model):
    """One cell's own record of a hand-over: in the sending cell, the case, the municipality
    and the summary its coordinator chose (under the case's key, so that erasing the case
    erases it); in the receiving cell, the summary copied on acceptance (under a key of the
    hand-over's own). ``handover_id`` is null when no cell on the platform covers the new
    municipality; like a thread's entries, it has no foreign key (the copy is the cell's own).
    """

    __tablename__ = "federation_handover_files"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    handover_id: Mapped[int | None] = mapped_column(Id, index=True)
    side: Mapped[HandoverSide] = mapped_column(value_enum(HandoverSide))
    case_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    nis_code: Mapped[str] = mapped_column(sa.String(5))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary_ciphertext: Mapped[str | None] = mapped_column(sa.Text)  # JSON: text, identity, follow-up
    decline_reason_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    summary = EncryptedField("summary_ciphertext")
    decline_reason = EncryptedField("decline_reason_ciphertext")

    @property
    def key_scope(self) -> str:
        if self.side == HandoverSide.SENDING:
            return record_scope("case", self.case_id)
        return record_scope("handover", self.handover_id)
