"""The house rules, as stored: the chapters every version has, its status and legal basis, and
the versions themselves. Drafting, publishing and the gate they set are
:mod:`livc.tenants.house_rules.operations`'."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership

Faults = dict[str, list[LazyString]]

CHAPTER_MAX = 20000
CONSENT_REFERENCE_MAX = 120



class HouseRulesStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"  # the version in force: one per cell
    SUPERSEDED = "superseded"


STATUS_LABELS = {
    HouseRulesStatus.DRAFT: _l("Draft"),
    HouseRulesStatus.PUBLISHED: _l("In force"),
    HouseRulesStatus.SUPERSEDED: _l("Superseded"),
}


class LegalBasis(enum.StrEnum):
    """What lets the partners share under article 458ter of the Criminal Code (seed 002)."""

    # *Wet van 30 juli 2018 tot oprichting van lokale integrale veiligheidscellen inzake
    # radicalisme, extremisme en terrorisme*.
    LAW_2018 = "law_2018"
    # *Toestemming van de procureur des Konings*: recorded with its reference and date.
    PROSECUTOR_CONSENT = "prosecutor_consent"


LEGAL_BASIS_LABELS = {
    LegalBasis.LAW_2018: _l("The law of 30 July 2018 on the local integrated security cells"),
    LegalBasis.PROSECUTOR_CONSENT: _l("The consent of the public prosecutor"),
}


@dataclass(frozen=True)
class Chapter:
    """A chapter of seed 001's example house rules, with a short text to start from."""

    key: str
    title: LazyString
    template: LazyString


CHAPTERS = (
    Chapter(
        "general",
        _l("General"),
        _l(
            "These house rules set out how the local integrated security cell on radicalism, extremism and "
            "terrorism works. They rest on the law of 30 July 2018, the circulars on the local approach to "
            "violent radicalisation, and the municipality's own safety and policy plans."
        ),
    ),
    Chapter(
        "composition_operation",
        _l("Composition and operation"),
        _l(
            "The cell brings together the official appointed by the mayor, who chairs it, the information "
            "officer of the local police, the alderman for social affairs and the social partners, each for "
            "their own organisation. Partners take part voluntarily.\n\n"
            "The chair may invite an expert who is not a member when a case needs it. The expert takes part "
            "in that case only, after accepting these house rules."
        ),
    ),
    Chapter(
        "place_date",
        _l("Place and date of the meetings"),
        _l(
            "The cell meets at the place given in the invitation: weekly or more often while a case needs "
            "it, monthly otherwise, and on a partner's request when no case is open."
        ),
    ),
    Chapter(
        "minutes",
        _l("Minutes"),
        _l(
            "The secretary takes the minutes. They hold the agenda; the names of the members present and of "
            "those absent with or without notice; the name and capacity of occasional attendees; the items "
            "discussed, each with a short summary.\n\n"
            "During the meeting the chair makes clear what goes into the minutes and what does not."
        ),
    ),
    Chapter(
        "information_management",
        _l("Information management"),
        _l(
            "What is shared in the cell stays in the cell and serves only its purpose: protecting people's "
            "physical and psychological integrity and preventing offences. Information is recorded only with "
            "the consent of the partner who brought it.\n\n"
            "The cell decides together, case by case, when the police or the judicial authorities are "
            "involved. No lists or separate files of the people discussed are made."
        ),
    ),
)
CHAPTER_KEYS = tuple(chapter.key for chapter in CHAPTERS)
CONSENT_FIELDS = ("consent_reference", "consent_date")


class HouseRules(TenantScoped, db.Model):
    """One version of the cell's house rules: a draft, the version in force, or an earlier one."""

    __tablename__ = "house_rules"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "version"),
        # One draft at a time, even when two coordinators start one at the same moment.
        sa.Index(
            "uq_house_rules_one_draft",
            "tenant_id",
            unique=True,
            sqlite_where=sa.text("status = 'draft'"),
            postgresql_where=sa.text("status = 'draft'"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    version: Mapped[int]
    # Raised on every change of the row (migration 0029): a draft saved on an older one answers 409.
    edit_version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": edit_version}
    status: Mapped[HouseRulesStatus] = mapped_column(value_enum(HouseRulesStatus, 20))
    legal_basis: Mapped[LegalBasis | None] = mapped_column(value_enum(LegalBasis))
    consent_reference: Mapped[str | None] = mapped_column(sa.String(CONSENT_REFERENCE_MAX))
    consent_date: Mapped[date | None]
    # The chapters (CHAPTER_KEYS); empty ones are allowed in a draft only.
    general: Mapped[str | None] = mapped_column(sa.Text)
    composition_operation: Mapped[str | None] = mapped_column(sa.Text)
    place_date: Mapped[str | None] = mapped_column(sa.Text)
    minutes: Mapped[str | None] = mapped_column(sa.Text)
    information_management: Mapped[str | None] = mapped_column(sa.Text)
    drafted_by_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    published_at: Mapped[datetime | None]
    # The undertaking version members accept to accept this version of the rules.
    undertaking_version: Mapped[int | None]
    # Data minimisation (issue 18): False, identities are not kept; the identity entered becomes
    # the cell's blind indexes and the federation's tokens only (tenants/signals/operations.py).
    identities_kept: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    drafted_by: Mapped[Membership | None] = relationship(foreign_keys=[drafted_by_id])
    published_by: Mapped[Membership | None] = relationship(foreign_keys=[published_by_id])

    @property
    def chapters(self) -> list[tuple[Chapter, str | None]]:
        """The chapters in their fixed order, with this version's text of each."""
        return [(chapter, getattr(self, chapter.key)) for chapter in CHAPTERS]


@dataclass(frozen=True)
class Acceptance:
    """Who among the active members accepted the undertaking now in force (the gate)."""

    undertaking_version: int
    accepted: list[Membership]
    pending: list[Membership]
