"""The police-zone directory (*politiezones*) the platform's administrators maintain.

No complete public list of the 2025 police zones with NIS codes could be shipped in the
registry (``admin/data/municipalities.csv`` has no zones), so administrators keep the zones here
from the official list (the royal decree of 24 October 2001 on the naming of the police zones,
its annex as updated): a zone's four-digit code, its name and its municipalities (NIS codes of
the registry; a municipality belongs to at most one zone). ``livc.admin.registry`` consults this
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
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from livc.admin import registry
from livc.admin.onboarding import UNKNOWN_NIS, CodesField
from livc.admin.operators import record_action
from livc.platform.db import db
from livc.platform.timeutil import utcnow
from livc.tenants.forms import REQUIRED, text_field

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


class PoliceZoneSchema(Schema):
    """A zone as the administrator gives it (the page, the API and the command alike)."""

    code = fields.String(required=True, error_messages=REQUIRED, validate=validate.Regexp(CODE_PATTERN, error=CODE_FORMAT))
    name = text_field(200)
    nis_codes = CodesField(load_default=list)
    move = fields.Boolean(load_default=False)

    @validates_schema(skip_on_field_errors=False)
    def _municipalities_given(self, data: dict, **_kwargs) -> None:
        if "nis_codes" in data and not data["nis_codes"]:
            raise ValidationError({"nis_codes": [NO_MUNICIPALITIES]})


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


# --- changing --------------------------------------------------------------------------------


def set_zone(data: dict, *, actor: str) -> PoliceZone:
    """Create a zone or replace its name and municipalities.

    Every NIS code must be in the registry; a municipality already in another zone is refused
    with that zone named, unless ``move`` is given: then it leaves that zone for this one.
    """
    values = PoliceZoneSchema().load(data)
    codes = list(dict.fromkeys(values["nis_codes"]))
    unknown = [code for code in codes if registry.municipality(code) is None]
    if unknown:
        raise ValidationError({"nis_codes": [str(UNKNOWN_NIS % {"code": code}) for code in unknown]})
    elsewhere = db.session.execute(
        sa.select(PoliceZoneMunicipality.nis_code, PoliceZone)
        .join(PoliceZone, PoliceZone.code == PoliceZoneMunicipality.zone_code)
        .where(PoliceZoneMunicipality.nis_code.in_(codes), PoliceZone.code != values["code"])
        .order_by(PoliceZoneMunicipality.nis_code)
    ).all()
    if elsewhere and not values["move"]:
        raise ValidationError({"move": [
            str(IN_OTHER_ZONE % {"municipality": registry.municipality(nis).name(), "nis": nis,
                                 "zone": other.code, "name": other.name})
            for nis, other in elsewhere
        ]})
    moved = {nis: other.code for nis, other in elsewhere}
    if moved:
        db.session.execute(sa.delete(PoliceZoneMunicipality).where(PoliceZoneMunicipality.nis_code.in_(list(moved))))
    zone = db.session.get(PoliceZone, values["code"])
    created = zone is None
    if created:
        zone = PoliceZone(code=values["code"])
        db.session.add(zone)
    zone.name, zone.updated_at, zone.updated_by = values["name"], utcnow(), actor
    kept = {member.nis_code: member for member in zone.municipalities}
    zone.municipalities = [kept.get(code) or PoliceZoneMunicipality(nis_code=code) for code in sorted(codes)]
    db.session.flush()
    record_action("police_zone.created" if created else "police_zone.replaced", actor=actor, subject=zone.code,
                  details={"code": zone.code, "municipalities": sorted(codes), "moved_from": moved})
    return zone


def remove_zone(code: str, *, actor: str) -> None:
    """Take a zone and its municipalities out of the directory."""
    zone = find_zone(code)
    if zone is None:
        raise ValidationError({"code": [str(UNKNOWN_CODE % {"code": code})]})
    codes = list(zone.nis_codes)
    db.session.delete(zone)
    db.session.flush()
    record_action("police_zone.removed", actor=actor, subject=code, details={"code": code, "municipalities": codes})
