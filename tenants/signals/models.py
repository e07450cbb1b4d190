"""What reaches a cell before any case: signals, their weighing, the identity of the person
concerned, the cell's case settings, and the anonymous tally of what was erased.

The scales a weighing sets (flag, observed facts, target group, kind of follow-up) live here too,
as a case takes them over; the map of the tables and how their content is encrypted is in
:mod:`livc.tenants.cases.models`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.keys import EncryptedField, record_scope
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.signals.registration import Registration, registration_column

CODE_PREFIX_MAX = 6
REFERENCE_MAX = 20
SHORT_TEXT_MAX = 200
TEXT_MAX = 5000


def membership_column(nullable: bool = True, ondelete: str = "SET NULL"):
    return mapped_column(Id, sa.ForeignKey("memberships.id", ondelete=ondelete), index=True, nullable=nullable)


# --- scales and choices ------------------------------------------------------------------------


class FlagLevel(enum.StrEnum):
    """The flag scale of the weighing (seed 001, "vlaggensysteem"), lowest to highest."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    BLACK = "black"


FLAG_LABELS = {
    FlagLevel.GREEN: _l("Green"),
    FlagLevel.YELLOW: _l("Yellow"),
    FlagLevel.RED: _l("Red"),
    FlagLevel.BLACK: _l("Black"),
}

# What each level means unless the cell writes its own criteria (settings page).
DEFAULT_FLAG_CRITERIA = {
    FlagLevel.GREEN: _l(
        "No sign of radicalisation towards violence: the concern lies elsewhere and regular "
        "services can take it up."
    ),
    FlagLevel.YELLOW: _l(
        "Worrying signs without support for violence: the partner follows up within their own "
        "service; the cell weighs again if a new signal arrives."
    ),
    FlagLevel.RED: _l(
        "Concrete, observed signs of radicalisation towards violence: the cell follows the person "
        "with a personal follow-up plan."
    ),
    FlagLevel.BLACK: _l(
        "Signs that violent or terrorist acts are being prepared: the information officer informs "
        "the police and the Local Task Force at once; the cell keeps the social follow-up."
    ),
}


class ObservedFact(enum.StrEnum):
    """The checklist of the weighing: concrete, observable facts, each described when ticked."""

    SUPPORT_FOR_VIOLENCE = "support_for_violence"
    EXTREMIST_CONTACTS = "extremist_contacts"
    PROPAGANDA = "propaganda"
    TRAVEL = "travel"
    THREATS = "threats"
    WEAPONS = "weapons"
    SOCIAL_BREAK = "social_break"
    BEHAVIOUR_CHANGE = "behaviour_change"
    OTHER = "other"


OBSERVED_FACT_LABELS = {
    ObservedFact.SUPPORT_FOR_VIOLENCE: _l("Expresses support for violence in the name of an ideology, or glorifies it"),
    ObservedFact.EXTREMIST_CONTACTS: _l("Is in contact with people or groups known to spread violent extremism"),
    ObservedFact.PROPAGANDA: _l("Consumes or spreads extremist propaganda"),
    ObservedFact.TRAVEL: _l("Plans or attempts to travel to a conflict zone"),
    ObservedFact.THREATS: _l("Threatens people or groups"),
    ObservedFact.WEAPONS: _l("Shows interest in weapons or explosives without a legitimate reason"),
    ObservedFact.SOCIAL_BREAK: _l("Breaks off contact with family, friends, school or work"),
    ObservedFact.BEHAVIOUR_CHANGE: _l("Changes behaviour, appearance or language suddenly, in line with an ideology"),
    ObservedFact.OTHER: _l("Another concrete observation"),
}


class SignalChannel(enum.StrEnum):
    FORM = "form"  # a partner member reports through livc
    PHONE = "phone"  # the coordinator logs a call
    EMAIL = "email"  # the coordinator logs a mail to the cell's central address
    IN_PERSON = "in_person"  # the coordinator logs an informal contact
    LTF_REFERRAL = "ltf_referral"  # the information officer brings a case of the Local Task Force
    HANDOVER = "handover"  # another cell handed its case over when the person moved here (federation)


CHANNEL_LABELS = {
    SignalChannel.FORM: _l("Reported by a partner"),
    SignalChannel.PHONE: _l("By phone"),
    SignalChannel.EMAIL: _l("By e-mail"),
    SignalChannel.IN_PERSON: _l("In person"),
    SignalChannel.LTF_REFERRAL: _l("Referral by the Local Task Force"),
    SignalChannel.HANDOVER: _l("Hand-over from another cell"),
}


class InternalAssessment(enum.StrEnum):
    """Was the signal first assessed in the reporter's own organisation (the seeds' filter)?"""

    DONE = "done"
    NOT_DONE = "not_done"
    NOT_APPLICABLE = "not_applicable"  # a citizen or an outside service called the cell


ASSESSMENT_LABELS = {
    InternalAssessment.DONE: _l("Yes, it was discussed within the reporter's organisation first"),
    InternalAssessment.NOT_DONE: _l("No, not yet"),
    InternalAssessment.NOT_APPLICABLE: _l("Not applicable: the reporter is not a partner organisation"),
}


class Urgency(enum.StrEnum):
    NORMAL = "normal"  # at the next meeting
    SOON = "soon"  # within the week
    URGENT = "urgent"  # now: the coordinator calls the table together


URGENCY_LABELS = {
    Urgency.NORMAL: _l("Normal: at the next meeting"),
    Urgency.SOON: _l("Soon: within the week"),
    Urgency.URGENT: _l("Urgent: the coordinator acts today"),
}


class SignalStatus(enum.StrEnum):
    NEW = "new"  # waiting to be weighed
    CASE_OPENED = "case_opened"
    ADDED_TO_CASE = "added_to_case"
    REFERRED = "referred"
    INSUFFICIENT = "insufficient"  # closed: final unless a new signal arrives


SIGNAL_STATUS_LABELS = {
    SignalStatus.NEW: _l("To be weighed"),
    SignalStatus.CASE_OPENED: _l("Case opened"),
    SignalStatus.ADDED_TO_CASE: _l("Added to a case"),
    SignalStatus.REFERRED: _l("Referred elsewhere"),
    SignalStatus.INSUFFICIENT: _l("Insufficient elements: closed"),
}


class WeighingDecision(enum.StrEnum):
    OPEN_CASE = "open_case"
    ADD_TO_CASE = "add_to_case"  # a new signal about a person the cell already follows
    REFER = "refer"
    INSUFFICIENT = "insufficient"


DECISION_LABELS = {
    WeighingDecision.OPEN_CASE: _l("Open a case in the cell"),
    WeighingDecision.ADD_TO_CASE: _l("Add to a case the cell already follows"),
    WeighingDecision.REFER: _l("Refer elsewhere"),
    WeighingDecision.INSUFFICIENT: _l("Insufficient elements: close the signal"),
}

SIGNAL_STATUS_BY_DECISION = {
    WeighingDecision.OPEN_CASE: SignalStatus.CASE_OPENED,
    WeighingDecision.ADD_TO_CASE: SignalStatus.ADDED_TO_CASE,
    WeighingDecision.REFER: SignalStatus.REFERRED,
    WeighingDecision.INSUFFICIENT: SignalStatus.INSUFFICIENT,
}


class TargetGroup(enum.StrEnum):
    """The target groups of the circular (seed 004)."""

    FTF = "ftf"  # foreign terrorist fighter
    HTF = "htf"  # homegrown terrorist fighter
    HATE_PROPAGANDIST = "hate_propagandist"
    CHILD_OF_FTF_HTF = "child_of_ftf_htf"
    OTHER_EXTREMISM = "other_extremism"


TARGET_GROUP_LABELS = {
    TargetGroup.FTF: _l("Foreign terrorist fighter (FTF)"),
    TargetGroup.HTF: _l("Homegrown terrorist fighter (HTF)"),
    TargetGroup.HATE_PROPAGANDIST: _l("Hate propagandist"),
    TargetGroup.CHILD_OF_FTF_HTF: _l("Child of an FTF or HTF"),
    TargetGroup.OTHER_EXTREMISM: _l("Other violent extremism"),
}


class FollowUpKind(enum.StrEnum):
    SOCIAL = "social"
    POLICE = "police"
    MIXED = "mixed"


FOLLOW_UP_LABELS = {
    FollowUpKind.SOCIAL: _l("Social follow-up"),
    FollowUpKind.POLICE: _l("Police follow-up"),
    FollowUpKind.MIXED: _l("Mixed follow-up"),
}


# --- settings --------------------------------------------------------------------------------


class CaseSettings(TenantScoped, db.Model):
    """How a cell runs its cases: code prefix, flag criteria, review rhythm and retention."""

    __tablename__ = "case_settings"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code_prefix: Mapped[str] = mapped_column(sa.String(CODE_PREFIX_MAX))
    flag_green_criteria: Mapped[str | None] = mapped_column(sa.Text)
    flag_yellow_criteria: Mapped[str | None] = mapped_column(sa.Text)
    flag_red_criteria: Mapped[str | None] = mapped_column(sa.Text)
    flag_black_criteria: Mapped[str | None] = mapped_column(sa.Text)
    review_interval_days: Mapped[int] = mapped_column(default=90)
    reviews_after_closure: Mapped[bool] = mapped_column(default=True)
    # Months after closure at which the case is reviewed again, e.g. "6,12".
    review_months_after_closure: Mapped[str] = mapped_column(sa.String(40), default="6,12")
    # Erasure: closed cases this many months after closure (after the last review after
    # closure at the earliest); signals not followed up this many months after the decision.
    retention_months_closed: Mapped[int] = mapped_column(default=24)
    retention_months_signals: Mapped[int] = mapped_column(default=6)
    # Per year: the next case number (CODE-YEAR-NNN); the row is locked while a code is given.
    code_year: Mapped[int] = mapped_column(default=0)
    next_case_number: Mapped[int] = mapped_column(default=1)
    next_signal_number: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Raised on every change (migration 0029): an edit made on an older version answers 409.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    def criteria(self, level: FlagLevel) -> str:
        return getattr(self, f"flag_{level.value}_criteria") or str(DEFAULT_FLAG_CRITERIA[level])

    @property
    def months_after_closure(self) -> list[int]:
        return [int(part) for part in self.review_months_after_closure.split(",") if part.strip()]


# --- the person concerned ---------------------------------------------------------------------


class Identity(TenantScoped, db.Model):
    """Who a signal or case is about: every field encrypted under this record's own key.

    The name is blind-indexed three ways (family name; given names then family name; and the
    reverse), the national number once, so "is this person known here?" is answered without a
    name in clear anywhere. All fields may stay empty: a signal may be anonymous at intake.
    """

    __tablename__ = "identities"
    __table_args__ = {"sqlite_autoincrement": True}  # ids name key scopes: never reused

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    given_names_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    family_name_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    date_of_birth_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    national_number_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    address_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    family_name_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    full_name_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    reversed_name_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    national_number_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    given_names = EncryptedField("given_names_ciphertext")
    family_name = EncryptedField("family_name_ciphertext", index_column="family_name_index")
    date_of_birth = EncryptedField("date_of_birth_ciphertext")
    national_number = EncryptedField("national_number_ciphertext", index_column="national_number_index")
    address = EncryptedField("address_ciphertext")

    @property
    def key_scope(self) -> str:
        return record_scope("identity", self.id)

    @property
    def empty(self) -> bool:
        return all(
            getattr(self, column) is None
            for column in ("given_names_ciphertext", "family_name_ciphertext", "date_of_birth_ciphertext",
                           "national_number_ciphertext", "address_ciphertext")
        )


IDENTITY_FIELDS = ("given_names", "family_name", "date_of_birth", "national_number", "address")


# --- intake and weighing ---------------------------------------------------------------------


class Signal(TenantScoped, db.Model):
    """A signal (*signaal*, *aanmelding*): what a partner or a caller observed.

    The reporter is a professional (or, by phone, a citizen): their contact details and the
    observation are encrypted under the signal's key and erased with it.
    """

    __tablename__ = "signals"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "reference"),
        sa.Index("ix_signals_tenant_received", "tenant_id", "received_at", "id"),  # the list's order
        # The signals to weigh, the oldest of each urgency first (the dashboard).
        sa.Index("ix_signals_tenant_waiting", "tenant_id", "status", "urgency", "received_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(REFERENCE_MAX))  # "S-2026-014"
    channel: Mapped[SignalChannel] = mapped_column(value_enum(SignalChannel))
    recorded_by_id: Mapped[int | None] = membership_column()
    reporter_organisation_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    internal_assessment: Mapped[InternalAssessment] = mapped_column(value_enum(InternalAssessment))
    urgency: Mapped[Urgency] = mapped_column(value_enum(Urgency))
    observed_from: Mapped[date | None]
    observed_until: Mapped[date | None]
    status: Mapped[SignalStatus] = mapped_column(value_enum(SignalStatus), default=SignalStatus.NEW, index=True)
    identity_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("identities.id", ondelete="SET NULL"), index=True)
    case_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    # Where the person lives (NIS code): one of the cell's municipalities, or one outside its
    # territory (then referred to the competent cell); None while unknown.
    residence_nis: Mapped[str | None] = mapped_column(sa.String(5), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    reporter_contact_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    # The reporter's choice (seed 001): oral only keeps no observation, only that it was reported.
    registration: Mapped[Registration] = registration_column()
    observation_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    assessment_note_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    reporter_contact = EncryptedField("reporter_contact_ciphertext")  # name, service, phone or e-mail
    observation = EncryptedField("observation_ciphertext")  # concrete behaviour, where, when
    assessment_note = EncryptedField("assessment_note_ciphertext")  # how it was assessed in-house

    recorded_by: Mapped[Membership | None] = relationship(foreign_keys=[recorded_by_id])
    reporter_organisation: Mapped[Organisation | None] = relationship()
    identity: Mapped[Identity | None] = relationship()
    weighing: Mapped[Weighing | None] = relationship(back_populates="signal", uselist=False)
    # Named, not imported: the cases domain sits above this one (the signal page shows the case's code).
    case = relationship("Case", viewonly=True)

    @property
    def key_scope(self) -> str:
        return record_scope("signal", self.id)


class Weighing(TenantScoped, db.Model):
    """The cell's joint decision on a signal: one per signal, never changed afterwards."""

    __tablename__ = "weighings"
    __table_args__ = (sa.UniqueConstraint("signal_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    signal_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("signals.id", ondelete="CASCADE"))
    flag: Mapped[FlagLevel] = mapped_column(value_enum(FlagLevel))
    decision: Mapped[WeighingDecision] = mapped_column(value_enum(WeighingDecision))
    case_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="SET NULL"), index=True)
    recorded_by_id: Mapped[int | None] = membership_column()
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    rationale_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    referred_to_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    rationale = EncryptedField("rationale_ciphertext")
    referred_to = EncryptedField("referred_to_ciphertext")

    signal: Mapped[Signal] = relationship(back_populates="weighing")
    case = relationship("Case", viewonly=True)  # named, as on Signal
    facts: Mapped[list[WeighingFact]] = relationship(order_by="WeighingFact.id", cascade="all, delete-orphan")
    participants: Mapped[list[WeighingParticipant]] = relationship(
        order_by="WeighingParticipant.id", cascade="all, delete-orphan"
    )

    @property
    def key_scope(self) -> str:
        return record_scope("signal", self.signal_id)


class WeighingFact(TenantScoped, db.Model):
    """A ticked item of the checklist, with what was concretely observed."""

    __tablename__ = "weighing_facts"
    __table_args__ = (sa.UniqueConstraint("weighing_id", "fact"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    weighing_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("weighings.id", ondelete="CASCADE"), index=True)
    signal_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("signals.id", ondelete="CASCADE"), index=True)
    fact: Mapped[ObservedFact] = mapped_column(value_enum(ObservedFact))
    observed_on: Mapped[date | None]
    description_ciphertext: Mapped[str] = mapped_column(sa.Text)

    description = EncryptedField("description_ciphertext")

    @property
    def key_scope(self) -> str:
        return record_scope("signal", self.signal_id)


class WeighingParticipant(TenantScoped, db.Model):
    """Who took part in the joint decision."""

    __tablename__ = "weighing_participants"
    __table_args__ = (sa.UniqueConstraint("weighing_id", "membership_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    weighing_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("weighings.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int | None] = membership_column()

    membership: Mapped[Membership | None] = relationship()


# --- what stays after erasure ----------------------------------------------------------------


class ErasureTally(TenantScoped, db.Model):
    """Anonymous counts of what the cell handled and erased (seed 003: monitoring in figures).

    One row per year of opening (or of receipt, for signals) and kind of outcome; no code,
    no date finer than the year, no link to anyone.
    """

    __tablename__ = "erasure_tallies"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "year", "record", "outcome", "target_group"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    year: Mapped[int]
    record: Mapped[str] = mapped_column(sa.String(20))  # "case" or "signal"
    outcome: Mapped[str] = mapped_column(sa.String(30))  # closure reason or signal status
    target_group: Mapped[str] = mapped_column(sa.String(30), default="")
    count: Mapped[int] = mapped_column(default=0)
