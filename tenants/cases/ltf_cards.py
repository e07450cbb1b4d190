"""The Local Task Force's information cards on a case (*informatiekaarten*, seeds 000 and 004).

The LTF draws up, from the intelligence files of OCAD, information cards holding only
non-classified information about a person and the individual threat level OCAD set (seed 000);
the local police shares them with the cell through the information officer (seed 004), the
only member who needs a security clearance. The cell keeps a card with the case it concerns:
its date, the LTF's reference, a summary (encrypted) and the threat level as the card states it.

Police information: the coordinator and the information officer with a valid clearance read
the cards (``Action.LTF_CARD_READ``); only that information officer records one
(``Action.LTF_CARD_RECORD``). Other members, the case team included, are never told a card
exists. Every read is audited (``case.read`` with part ``ltf_cards`` and the cards' ids).

Own retention: the LTF gives the cell information "met slechts één doel: het realiseren van een
opvolging door de LIVC-R" (seed 004), so a card is kept no longer than it serves the follow-up:
:data:`CARD_RETENTION_MONTHS` after the card's date (a newer card of the LTF replaces it), or
until the case is erased, whichever comes first. Each card is encrypted under a key of its own
(``ltf_card:<id>``), destroyed when the card is erased, so that backups cannot read it either.

The feedback form to the LTF may refer to cards (:class:`LtfFeedbackCard`), chosen by the
coordinator or the information officer, and shows them by reference and date only.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform import audit
from livc.platform.db import Id, TenantScoped, db, locked, value_enum
from livc.platform.forms import REQUIRED
from livc.platform.inputs import date_field
from livc.platform.keys import EncryptedField, destroy_key, record_scope
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import Case, LtfFeedback
from livc.tenants.cases.operations import add_months, subject_of
from livc.tenants.members.models import Membership
from livc.tenants.members.schemas import FieldSchema
from livc.tenants.signals.models import TEXT_MAX, membership_column
from livc.tenants.signals.schemas import choice, text

CARD_REFERENCE_MAX = 40
CARD_RETENTION_MONTHS = 12


class ThreatLevel(enum.StrEnum):
    """The individual threat level OCAD sets (seed 000, "individueel dreigingsniveau opgesteld
    door het OCAD"), on OCAD's scale of four, as the card states it."""

    LEVEL_1 = "1"
    LEVEL_2 = "2"
    LEVEL_3 = "3"
    LEVEL_4 = "4"
    NOT_STATED = "not_stated"


THREAT_LEVEL_LABELS = {
    ThreatLevel.LEVEL_1: _l("Level 1: low"),
    ThreatLevel.LEVEL_2: _l("Level 2: average"),
    ThreatLevel.LEVEL_3: _l("Level 3: serious"),
    ThreatLevel.LEVEL_4: _l("Level 4: very serious"),
    ThreatLevel.NOT_STATED: _l("Not stated on the card"),
}


class LtfCard(TenantScoped, db.Model):
    """An information card of the LTF, kept with the case it concerns (police information)."""

    __tablename__ = "ltf_cards"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    card_date: Mapped[date]
    reference: Mapped[str] = mapped_column(sa.String(CARD_REFERENCE_MAX))
    threat_level: Mapped[ThreatLevel] = mapped_column(value_enum(ThreatLevel))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = membership_column()
    # Erased from this day on (the card's date + CARD_RETENTION_MONTHS), or with its case.
    erase_after: Mapped[date] = mapped_column(index=True)
    summary_ciphertext: Mapped[str] = mapped_column(sa.Text)

    summary = EncryptedField("summary_ciphertext")

    recorded_by: Mapped[Membership | None] = relationship()

    @property
    def key_scope(self) -> str:
        return record_scope("ltf_card", self.id)

    @property
    def audit_subject(self) -> str:
        return f"ltf_card:{self.id}"


class LtfFeedbackCard(TenantScoped, db.Model):
    """A card the feedback form to the LTF refers to (by reference and date, never its summary)."""

    __tablename__ = "ltf_feedback_cards"
    __table_args__ = (sa.UniqueConstraint("feedback_id", "card_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("ltf_feedback.id", ondelete="CASCADE"), index=True)
    card_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("ltf_cards.id", ondelete="CASCADE"), index=True)
    chosen_at: Mapped[datetime] = mapped_column(default=utcnow)
    chosen_by_id: Mapped[int | None] = membership_column()


# --- input -----------------------------------------------------------------------------------

CARD_DATE_ERRORS = {**REQUIRED, "invalid": _l("Enter a date as YYYY-MM-DD.")}
CARD_DATE_FUTURE = _l("The card's date cannot be in the future.")
CARD_DATE_EXPIRED = _l("A card dated more than %(months)s months ago is past its retention period: it is not recorded.")
CARD_CASE_CLOSED = _l("The case is closed: no LTF information card is recorded on it any more.")
CARDS_DELIVERED = _l("The form was delivered to the Local Task Force: the cards it refers to no longer change.")
CARDS_NOT_OF_CASE = _l("Choose cards of this case.")


def card_date_faults(card_date: date) -> list[str]:
    """Why a card of ``card_date`` is not recorded: dated in the future, or already past its retention."""
    today = utcnow().date()
    if card_date > today:
        return [str(CARD_DATE_FUTURE)]
    if add_months(card_date, CARD_RETENTION_MONTHS) <= today:
        return [str(CARD_DATE_EXPIRED % {"months": CARD_RETENTION_MONTHS})]
    return []


def _card_date_valid(card_date: date) -> None:
    faults = card_date_faults(card_date)
    if faults:
        raise ValidationError(faults)


class CardSchema(FieldSchema):
    # The date's rules are the schema's too, so that a form's faults come all at once.
    card_date = date_field(required=True, errors=CARD_DATE_ERRORS, validate=_card_date_valid)
    reference = fields.String(required=True, error_messages=REQUIRED,
                              validate=[validate.Length(min=1, max=CARD_REFERENCE_MAX,
                                                        error=_l("Between 1 and %(max)s characters.", max=CARD_REFERENCE_MAX))])
    summary = text(TEXT_MAX, required=True)
    threat_level = choice(ThreatLevel, required=True)


class FeedbackCardsSchema(FieldSchema):
    card_ids = fields.List(fields.Integer(strict=False, error_messages={"invalid": CARDS_NOT_OF_CASE}),
                           load_default=list, error_messages={"invalid": CARDS_NOT_OF_CASE})


# --- operations ------------------------------------------------------------------------------


def _today() -> date:
    return utcnow().date()


def record_card(case: Case, actor: Membership, values: dict) -> LtfCard:
    """Record a card of the LTF on ``case``: every fault at once, by field; nothing half-saved."""
    faults: dict[str, list[str]] = {}
    card_date = values["card_date"]
    if case.closed:
        faults["_schema"] = [str(CARD_CASE_CLOSED)]
    if card_date_faults(card_date):
        faults["card_date"] = card_date_faults(card_date)
    reference = values["reference"].strip()
    if not reference:
        faults["reference"] = [str(REQUIRED["required"])]
    if not values["summary"].strip():
        faults["summary"] = [str(REQUIRED["required"])]
    if faults:
        raise ValidationError(faults)
    card = LtfCard(case_id=case.id, card_date=card_date, reference=reference, threat_level=values["threat_level"],
                   recorded_by_id=actor.id, erase_after=add_months(card_date, CARD_RETENTION_MONTHS),
                   summary_ciphertext="")
    db.session.add(card)
    db.session.flush()  # the card's id names its key
    card.summary = values["summary"].strip()
    db.session.flush()
    audit.record("ltf_card.recorded", subject=subject_of(case), details={"card_id": card.id, "membership_id": actor.id})
    return card


def cards_of(case: Case) -> list[LtfCard]:
    """The cards of ``case``, newest first (no content read: nothing to audit yet)."""
    return list(db.session.scalars(
        sa.select(LtfCard).where(LtfCard.case_id == case.id).order_by(LtfCard.card_date.desc(), LtfCard.id.desc())
    ))


def record_cards_read(case: Case, cards: list[LtfCard], part: str = "ltf_cards") -> None:
    """Account for a read of the cards (their ids, never their content)."""
    audit.record("case.read", subject=subject_of(case), details={"part": part, "card_ids": [card.id for card in cards]})


def cases_with_cards() -> list[tuple[Case, int, date]]:
    """(case, how many cards, the newest card's date) of every case with a card, newest first."""
    rows = db.session.execute(
        sa.select(Case, sa.func.count(LtfCard.id), sa.func.max(LtfCard.card_date))
        .join(LtfCard, LtfCard.case_id == Case.id).group_by(Case.id).order_by(sa.func.max(LtfCard.card_date).desc(), Case.id)
    ).all()
    return [tuple(row) for row in rows]


def find_card(case: Case, card_id: int) -> LtfCard | None:
    card = db.session.get(LtfCard, card_id)
    return card if card is not None and card.case_id == case.id else None


def erase_card(card: LtfCard, reason: str) -> None:
    """Erase one card: its row, its links, then its key (backups cannot read it any more)."""
    card_id = card.id
    db.session.execute(sa.delete(LtfFeedbackCard).where(LtfFeedbackCard.card_id == card_id))
    db.session.delete(card)
    db.session.flush()
    destroy_key(record_scope("ltf_card", card_id))
    audit.record("ltf_card.erased", subject=f"ltf_card:{card_id}", details={"reason": reason})


def erase_case_cards(case_id: int) -> int:
    """Erase every card of a case being erased (the case's erasure calls this first)."""
    cards = db.session.scalars(sa.select(LtfCard).where(LtfCard.case_id == case_id)).all()
    for card in cards:
        erase_card(card, "case_erased")
    return len(cards)


def cards_due(today: date | None = None) -> list[LtfCard]:
    today = today or _today()
    return list(db.session.scalars(sa.select(LtfCard).where(LtfCard.erase_after <= today).order_by(LtfCard.erase_after)))


def erase_due_cards(today: date | None = None) -> int:
    """The nightly retention: erase every card past its retention period."""
    cards = cards_due(today)
    for card in cards:
        erase_card(card, "retention")
    return len(cards)


# --- the feedback form's references ---------------------------------------------------------


def feedback_cards(feedback: LtfFeedback) -> list[LtfCard]:
    """The cards ``feedback`` refers to, oldest first."""
    return list(db.session.scalars(
        sa.select(LtfCard).join(LtfFeedbackCard, LtfFeedbackCard.card_id == LtfCard.id)
        .where(LtfFeedbackCard.feedback_id == feedback.id).order_by(LtfCard.card_date, LtfCard.id)
    ))


def choose_feedback_cards(feedback: LtfFeedback, actor: Membership, card_ids: list[int]) -> bool:
    """Set the cards the form refers to (cards of its case); True when that changed. The form is
    locked first: two choices at once take turns, the second compares with the first's."""
    locked(feedback)
    if feedback.delivered:
        raise ValidationError({"card_ids": [str(CARDS_DELIVERED)]})
    wanted = set(card_ids)
    own = set(db.session.scalars(sa.select(LtfCard.id).where(LtfCard.case_id == feedback.case_id)))
    if wanted - own:
        raise ValidationError({"card_ids": [str(CARDS_NOT_OF_CASE)]})
    links = db.session.scalars(sa.select(LtfFeedbackCard).where(LtfFeedbackCard.feedback_id == feedback.id)).all()
    current = {link.card_id for link in links}
    if current == wanted:
        return False
    for link in links:
        if link.card_id not in wanted:
            db.session.delete(link)
    for card_id in sorted(wanted - current):
        db.session.add(LtfFeedbackCard(feedback_id=feedback.id, card_id=card_id, chosen_by_id=actor.id))
    db.session.flush()
    audit.record("ltf_feedback.cards_chosen", subject=f"ltf_feedback:{feedback.id}",
                 details={"card_ids": sorted(wanted), "membership_id": actor.id})
    return True
