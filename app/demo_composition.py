"""The demo cells' legal basis before case work (issue 18, seeds 002 and 004).

Before a demo cell weighs its first signal it has what the law asks of it: the operational
table (the main table of an integrated cell, see :mod:`livc.app.demo_meetings`) and house
rules in force resting on the law of 30 July 2018, written from seed 001's chapters. Seeding
twice changes nothing: a cell with house rules in force keeps them.
"""

from __future__ import annotations

from livc.app.demo_meetings import operational_table
from livc.platform.roles import Role
from livc.tenants.cell.operations import cell_profile
from livc.tenants.house_rules.models import LegalBasis
from livc.tenants.house_rules.operations import publish_draft, rules_in_force, update_draft
from livc.tenants.members.models import Membership


def seed_demo_legal_basis(members: dict[Role, Membership]) -> None:
    """The operational table and the house rules in force (inside the cell's tenant context)."""
    coordinator, profile = members.get(Role.COORDINATOR), cell_profile()
    if coordinator is None or profile is None:
        return
    operational_table(members, profile.form)
    if rules_in_force() is None:
        update_draft({"legal_basis": LegalBasis.LAW_2018}, coordinator)
        publish_draft(coordinator)
