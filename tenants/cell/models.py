"""The cell's organisation, as stored: its form, tables, seats and partner inventory, with the
choices and labels they use. The rules of the circular that govern them are
:mod:`livc.tenants.cell.operations`'."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.roles import ORGANISATION_KIND_LABELS, OrganisationKind, Role
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership

Faults = dict[str, list[LazyString]]

NAME_MAX = 120
CADENCE_MAX = 200
NOTES_MAX = 2000



class CellForm(enum.StrEnum):
    """The form the cell takes (seed 001, "Mogelijkheid 1-4")."""

    INTEGRATED = "integrated"  # one table for everything: small municipalities
    STRATEGIC_OPERATIONAL = "strategic_operational"  # *strategische* and *operationele tafel*
    MAIN_WITH_CASE_TEAMS = "main_with_case_teams"  # a main body (*hoofdorgaan*) and case teams
    ZONAL_WITH_CASE_TEAMS = "zonal_with_case_teams"  # one cell for a police zone's municipalities


CELL_FORM_LABELS = {
    CellForm.INTEGRATED: _l("Integrated cell: one table"),
    CellForm.STRATEGIC_OPERATIONAL: _l("A strategic and an operational table"),
    CellForm.MAIN_WITH_CASE_TEAMS: _l("A main table with case teams"),
    CellForm.ZONAL_WITH_CASE_TEAMS: _l("Zonal cell with case teams"),
}


class TableKind(enum.StrEnum):
    """A table of the cell (seed 004, "twee tafels")."""

    OPERATIONAL = "operational"  # *operationele tafel*: case management, mandatory
    STRATEGIC = "strategic"  # *strategische tafel*: steers the cell and local policy, optional
    MAIN = "main"  # the one table of an integrated cell, or the main body that sets up case teams


TABLE_KIND_LABELS = {
    TableKind.OPERATIONAL: _l("Operational table"),
    TableKind.STRATEGIC: _l("Strategic table"),
    TableKind.MAIN: _l("Main table"),
}

# Which tables each form has. The strategic table is optional in every form but the integrated
# one (seed 004: "De strategische tafel is een optioneel gegeven").
TABLE_KINDS_BY_FORM = {
    CellForm.INTEGRATED: (TableKind.MAIN,),
    CellForm.STRATEGIC_OPERATIONAL: (TableKind.STRATEGIC, TableKind.OPERATIONAL),
    CellForm.MAIN_WITH_CASE_TEAMS: (TableKind.MAIN, TableKind.STRATEGIC),
    CellForm.ZONAL_WITH_CASE_TEAMS: (TableKind.MAIN, TableKind.STRATEGIC),
}


def serves_as_operational(kind: TableKind) -> bool:
    """Does a table of ``kind`` do the operational table's work (discuss and follow cases)?

    A main table always does: it is the integrated cell's only table, or the main body that
    decides which cases to follow before a case team takes them on.
    """
    return kind in (TableKind.OPERATIONAL, TableKind.MAIN)


class PartnerKind(enum.StrEnum):
    """The kind of an organisation at a table or in the inventory.

    The kinds of the members' organisations, plus the two services of the Local Task Force that
    are never members: they are recorded only to be placed, or refused, by the rules.
    """

    MUNICIPAL_SERVICE = "municipal_service"
    CLB = "clb"
    OCMW = "ocmw"
    CAW = "caw"
    SCHOOL = "school"
    POLICE = "police"
    JUSTICE_HOUSE = "justice_house"
    VDAB = "vdab"
    HOSPITAL = "hospital"
    YOUTH_SERVICE = "youth_service"
    PUBLIC_PROSECUTOR = "public_prosecutor"  # *parket*, *Openbaar Ministerie*
    INTELLIGENCE_SERVICE = "intelligence_service"  # State Security (*Staatsveiligheid*), ADIV
    OTHER = "other"


_LTF_LABELS = {
    PartnerKind.PUBLIC_PROSECUTOR: _l("Public prosecutor's office"),
    PartnerKind.INTELLIGENCE_SERVICE: _l("Intelligence or security service"),
}
PARTNER_KIND_LABELS = {
    kind: _LTF_LABELS.get(kind) or ORGANISATION_KIND_LABELS[OrganisationKind(kind.value)] for kind in PartnerKind
}


class Participation(enum.StrEnum):
    """How far a partner takes part (seed 001, *participatiestrategie*)."""

    WORKS_ALONG = "works_along"  # *meewerken*: works on cases and policy
    THINKS_ALONG = "thinks_along"  # *meedenken*: contributes content
    KEPT_INFORMED = "kept_informed"  # *meeweten*: kept informed, no active role (yet)


PARTICIPATION_LABELS = {
    Participation.WORKS_ALONG: _l("Works along"),
    Participation.THINKS_ALONG: _l("Thinks along"),
    Participation.KEPT_INFORMED: _l("Kept informed"),
}

POLICE_ROLES = frozenset({Role.INFORMATION_OFFICER, Role.POLICE_CHIEF})


# --- models ----------------------------------------------------------------------------------


class CellProfile(TenantScoped, db.Model):
    """The cell's form and the official the mayor appointed to run it (one per cell)."""

    __tablename__ = "cell_profiles"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    form: Mapped[CellForm] = mapped_column(value_enum(CellForm))
    # The *aangestelde medewerker belast met het dossier radicalisering*: a cell coordinator.
    appointed_official_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    appointed_official: Mapped[Membership | None] = relationship()


class Table(TenantScoped, db.Model):
    """A table of the cell (*tafel*): who chairs it, who keeps the minutes, how often it meets."""

    __tablename__ = "cell_tables"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[TableKind] = mapped_column(value_enum(TableKind))
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    chair_membership_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    secretary_membership_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    # Free text: "weekly while a case is problematic, monthly otherwise" (seed 004).
    cadence: Mapped[str | None] = mapped_column(sa.String(CADENCE_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]

    chair: Mapped[Membership | None] = relationship(foreign_keys=[chair_membership_id])
    secretary: Mapped[Membership | None] = relationship(foreign_keys=[secretary_membership_id])
    seats: Mapped[list[TableSeat]] = relationship(
        primaryjoin="and_(Table.id == TableSeat.table_id, TableSeat.removed_at.is_(None))",
        order_by="TableSeat.id",
        viewonly=True,
    )

    @property
    def removed(self) -> bool:
        return self.removed_at is not None

    @property
    def organiser_ids(self) -> set[int]:
        """Who organises the table's meetings beside the coordinator: its chair and secretary."""
        return {m for m in (self.chair_membership_id, self.secretary_membership_id) if m is not None}


class TableSeat(TenantScoped, db.Model):
    """A seat at a table: a member of the cell, or an outside participant by organisation."""

    __tablename__ = "table_seats"
    __table_args__ = (
        sa.UniqueConstraint("table_id", "membership_id"),
        sa.CheckConstraint("(membership_id IS NULL) <> (participant_kind IS NULL)", name="member_or_participant"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    table_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("cell_tables.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    participant_kind: Mapped[PartnerKind | None] = mapped_column(value_enum(PartnerKind))
    participant_organisation: Mapped[str | None] = mapped_column(sa.String(NAME_MAX))
    # What the person sits as (*hoedanigheid*): "substitute of the public prosecutor", ...
    capacity: Mapped[str | None] = mapped_column(sa.String(NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]

    table: Mapped[Table] = relationship()
    membership: Mapped[Membership | None] = relationship()

    @property
    def removed(self) -> bool:
        """A seat goes with its table."""
        return self.removed_at is not None or self.table.removed


class PartnerInventoryEntry(TenantScoped, db.Model):
    """An organisation in the cell's partner inventory, with its participation level."""

    __tablename__ = "partner_inventory_entries"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    organisation_name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    kind: Mapped[PartnerKind] = mapped_column(value_enum(PartnerKind))
    participation: Mapped[Participation] = mapped_column(value_enum(Participation))
    # A function ("director", "team coordinator"), never a person's name.
    contact_role: Mapped[str | None] = mapped_column(sa.String(NAME_MAX))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]

    @property
    def removed(self) -> bool:
        return self.removed_at is not None
