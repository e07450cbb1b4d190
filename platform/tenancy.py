"""The tenant: one municipality, intermunicipal cell or police zone on the platform."""

from __future__ import annotations

import enum
import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from livc.platform.db import Id, db, value_enum
from livc.platform.registry import folded, municipality
from livc.platform.settings import LANGUAGES
from livc.platform.timeutil import utcnow

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
NIS_PATTERN = re.compile(r"^\d{5}$")
#: A cell's colour, as a colour picker gives it.
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class TenantKind(enum.StrEnum):
    """What kind of cell the tenant is (see seed 001, the forms a cell may take)."""

    MUNICIPALITY = "municipality"
    INTERMUNICIPAL = "intermunicipal"
    POLICE_ZONE = "police_zone"


class TenantStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    OFFBOARDED = "offboarded"


class Tenant(db.Model):
    """A cell on the platform (*LIVC-R*). Directory data only: no case content lives here."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[TenantKind] = mapped_column(
        value_enum(TenantKind, 20)
    )
    status: Mapped[TenantStatus] = mapped_column(
        value_enum(TenantStatus, 20),
        default=TenantStatus.ACTIVE,
    )
    # Comma-separated, first one is the tenant's main language: e.g. "nl" or "fr,nl".
    languages_csv: Mapped[str] = mapped_column("languages", sa.String(20), default="nl")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The cell's colour ("#1d70b8", :data:`COLOUR`), a design token of its pages; None: the platform's own.
    colour: Mapped[str | None] = mapped_column(sa.String(7), default=None)

    municipalities: Mapped[list[TenantMunicipality]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", order_by="TenantMunicipality.nis_code"
    )

    @property
    def languages(self) -> list[str]:
        return [code for code in self.languages_csv.split(",") if code]

    @languages.setter
    def languages(self, codes: list[str]) -> None:
        unknown = [code for code in codes if code not in LANGUAGES]
        if unknown or not codes:
            raise ValueError(f"working languages must be among {', '.join(LANGUAGES)}")
        self.languages_csv = ",".join(dict.fromkeys(codes))

    @property
    def nis_codes(self) -> list[str]:
        return [m.nis_code for m in self.municipalities]


class TenantMunicipality(db.Model):
    """A municipality (by NIS code) that the tenant's cell covers."""

    __tablename__ = "tenant_municipalities"

    tenant_id: Mapped[int] = mapped_column(
        Id,
        sa.ForeignKey("tenants.id", ondelete="CASCADE"),
        primary_key=True,
    )
    nis_code: Mapped[str] = mapped_column(sa.String(5), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))

    tenant: Mapped[Tenant] = relationship(back_populates="municipalities")

    @property
    def local_name(self) -> str:
        """The municipality's name in the reader's language (the registry's Dutch, French or German
        name), else the name the cell was onboarded with."""
        known = municipality(self.nis_code)
        return known.name() if known is not None else self.name

def cells_matching(query: str, limit: int = 20) -> list[Tenant]:
    """Active cells whose name, or the name of a municipality they cover in any of the country's
    languages, contains ``query``: how a visitor of the start page finds their cell's sign-in."""
    wanted = folded(query)
    if len(wanted) < 2:
        return []
    found = []
    for tenant in db.session.scalars(sa.select(Tenant).where(Tenant.status == TenantStatus.ACTIVE).order_by(Tenant.name)):
        names = [tenant.name]
        for covered in tenant.municipalities:
            known = municipality(covered.nis_code)
            names += [covered.name, *(known.names.values() if known is not None else ())]
        if any(wanted in folded(name) for name in names if name):
            found.append(tenant)
        if len(found) >= limit:
            break
    return found


def cell_covering(nis_code: str, except_tenant_id: int | None = None) -> Tenant | None:
    """The active cell on the platform covering the municipality ``nis_code`` (other than
    ``except_tenant_id``), lowest id first: where a person living there is followed (seed 004),
    and where a case is handed over when the person moves there."""
    query = (
        sa.select(Tenant)
        .join(TenantMunicipality, TenantMunicipality.tenant_id == Tenant.id)
        .where(TenantMunicipality.nis_code == nis_code, Tenant.status == TenantStatus.ACTIVE)
        .order_by(Tenant.id)
        .limit(1)
    )
    if except_tenant_id is not None:
        query = query.where(Tenant.id != except_tenant_id)
    return db.session.scalar(query)


def find_tenant(slug: str) -> Tenant | None:
    """The tenant at ``slug``, its municipalities in the same statement (a cell's pages ask for
    them often, and a handful of rows joined costs less than a second round trip)."""
    query = sa.select(Tenant).where(Tenant.slug == slug).options(joinedload(Tenant.municipalities))
    return db.session.scalars(query).unique().one_or_none()
