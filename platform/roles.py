"""The vocabulary the policy decides on: a member's role in a cell and the kind of organisation
they represent at its table (seeds 001 and 004). The kernel owns it because ``policy.decide``
reads it; the members domain stores it."""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l


class Role(enum.StrEnum):
    """A member's role in the cell (seeds 001 and 004)."""

    MAYOR = "mayor"
    COORDINATOR = "coordinator"
    INFORMATION_OFFICER = "information_officer"
    POLICE_CHIEF = "police_chief"
    SOCIAL_ALDERMAN = "social_alderman"
    PARTNER = "partner"
    SECRETARY = "secretary"
    GUEST_EXPERT = "guest_expert"


ROLE_LABELS = {
    Role.MAYOR: _l("Mayor"),
    Role.COORDINATOR: _l("Cell coordinator"),
    Role.INFORMATION_OFFICER: _l("Information officer"),
    Role.POLICE_CHIEF: _l("Police chief"),
    Role.SOCIAL_ALDERMAN: _l("Alderman for social affairs"),
    Role.PARTNER: _l("Partner member"),
    Role.SECRETARY: _l("Secretary"),
    Role.GUEST_EXPERT: _l("Guest expert"),
}


class OrganisationKind(enum.StrEnum):
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
    OTHER = "other"


ORGANISATION_KIND_LABELS = {
    OrganisationKind.MUNICIPAL_SERVICE: _l("Municipal service"),
    OrganisationKind.CLB: _l("Pupil guidance centre (CLB)"),
    OrganisationKind.OCMW: _l("Public social welfare centre (OCMW)"),
    OrganisationKind.CAW: _l("General welfare centre (CAW)"),
    OrganisationKind.SCHOOL: _l("School"),
    OrganisationKind.POLICE: _l("Police"),
    OrganisationKind.JUSTICE_HOUSE: _l("Justice house"),
    OrganisationKind.VDAB: _l("Employment service (VDAB)"),
    OrganisationKind.HOSPITAL: _l("Hospital"),
    OrganisationKind.YOUTH_SERVICE: _l("Youth service"),
    OrganisationKind.OTHER: _l("Other"),
}
