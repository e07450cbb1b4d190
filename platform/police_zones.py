"""The police-zone directory (*politiezones*) the platform's administrators maintain.

No complete public list of the 2025 police zones with NIS codes could be shipped in the
registry (``platform/data/municipalities.csv`` has no zones), so administrators keep the zones here
from the official list (the royal decree of 24 October 2001 on the naming of the police zones,
its annex as updated): a zone's four-digit code, its name and its municipalities (NIS codes of
the registry; a municipality belongs to at most one zone). ``livc.platform.registry`` consults this
directory wherever the registry's zone would be, the CSV winning once it has zones.

These are platform-level tables, directory data with no tenant content. :func:`set_zone` and
:func:`remove_zone` are the one way to change them (console page, JSON API, ``livc police-zone``),
each recorded in the operator trail; both raise marshmallow's ``ValidationError`` with every
field at fault before anything is written.
"""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from livc.platform.db import db
from livc.platform.timeutil import utcnow

CODE_PATTERN = re.compile(r"^[0-9]{4}$")

CODE_FORMAT = _l("A police zone's code has four digits (e.g. 5388).")
IN_OTHER_ZONE = _l("%(municipality)s (%(nis)s) is already in the police zone %(zone)s %(name)s: "
                   "move it explicitly to take it out of that zone.")
NO_MUNICIPALITIES = _l("Choose the municipalities of the zone.")
UNKNOWN_CODE = _l("There is no police zone %(code)s in the directory.")


class PoliceZone(db.Model):
    """A police zone of the directory: its code, name, and who last changed it."""

    __tablename__ = "police_zones"

    code: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(sa.String(120))
    municipalities: Mapped[list[PoliceZoneMunicipality]] = relationship(
        back_populates="zone", cascade="all, delete-orphan", order_by="PoliceZoneMunicipality.nis_code")

    @property
    def nis_codes(self) -> tuple[str, ...]:
        return tuple(member.nis_code for member in self.municipalities)


class PoliceZoneMunicipality(db.Model):
    """A municipality of a zone; the primary key on the NIS code keeps it in one zone at most."""

    __tablename__ = "police_zone_municipalities"

    nis_code: Mapped[str] = mapped_column(sa.String(5), primary_key=True)
    zone_code: Mapped[str] = mapped_column(sa.String(4), sa.ForeignKey("police_zones.code", ondelete="CASCADE"),
                                           index=True)
    zone: Mapped[PoliceZone] = relationship(back_populates="municipalities")


# --- reading (the registry's side) -----------------------------------------------------------


def zones() -> list[PoliceZone]:
    return list(db.session.scalars(
        sa.select(PoliceZone).options(selectinload(PoliceZone.municipalities)).order_by(PoliceZone.code)))


def find_zone(code: str) -> PoliceZone | None:
    return db.session.get(PoliceZone, code) if CODE_PATTERN.match(code or "") else None


def zones_of(nis_codes: list[str]) -> dict[str, str]:
    """NIS code -> zone code, for those of ``nis_codes`` the directory places in a zone."""
    if not nis_codes:
        return {}
    return dict(db.session.execute(
        sa.select(PoliceZoneMunicipality.nis_code, PoliceZoneMunicipality.zone_code)
        .where(PoliceZoneMunicipality.nis_code.in_(sorted(set(nis_codes))))
    ).all())
