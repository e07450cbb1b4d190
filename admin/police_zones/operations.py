"""Changing the police-zone directory: set (create or replace) and remove a zone, each in the
operator trail. The directory itself is read from ``livc.platform.police_zones``."""

from __future__ import annotations

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from livc.admin.onboarding.operations import UNKNOWN_NIS, CodesField
from livc.admin.operators.operations import record_action
from livc.platform import registry
from livc.platform.db import db
from livc.platform.forms import REQUIRED, text_field
from livc.platform.police_zones import (
    CODE_FORMAT,
    CODE_PATTERN,
    IN_OTHER_ZONE,
    NO_MUNICIPALITIES,
    UNKNOWN_CODE,
    PoliceZone,
    PoliceZoneMunicipality,
    find_zone,
)
from livc.platform.timeutil import utcnow


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
