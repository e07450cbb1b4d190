"""The demo cells' follow-up scenarios, and a plan started from one.

Every demo cell gets the default scenario of each target group (as any cell does the first time
its scenarios are read). In each cell, the first case followed up (stage "follow-up") gets the
measures of its target group's scenario added to its plan, as the coordinator would on the case
page: the proposed rows with an organisation of the cell of the scenario's kind, or else the
prevention service; due today plus the scenario's period. The case in building keeps no plan (the
demo shows every stage). All of it goes through the scenarios' operations, audited as the demo.
"""

from __future__ import annotations

import sqlalchemy as sa

from livc.app.demo_cases import _as_demo_seeder, _demo_members
from livc.platform.db import db
from livc.platform.roles import OrganisationKind, Role
from livc.platform.tenancy import Tenant
from livc.tenants.cases.models import Case, CaseStage, CaseStatus
from livc.tenants.cases.operations import stage_of
from livc.tenants.scenarios.operations import (
    ensure_default_scenarios,
    organisation_of_kind,
    proposed_measures,
    scenarios,
    start_plan,
)

ROWS = 2  # a short plan: the first measures of the scenario


def seed_demo_scenarios(tenant: Tenant) -> bool:
    """Seed the cell's scenarios and one plan from a scenario (inside its tenant context); False if
    there was nothing to add."""
    members = _demo_members(tenant)
    if Role.COORDINATOR not in members:
        return False
    with _as_demo_seeder(tenant):
        written = ensure_default_scenarios()
        if not written:
            return False  # seeded before
        case = next((case for case in db.session.scalars(
            sa.select(Case).where(Case.status != CaseStatus.CLOSED).order_by(Case.id))
            if stage_of(case) == CaseStage.FOLLOW_UP), None)
        if case is None:
            return True
        (scenario, *_others) = scenarios(case.target_group)
        fallback = organisation_of_kind(OrganisationKind.MUNICIPAL_SERVICE)
        rows = [{**row, "organisation_id": row["organisation_id"] or (fallback.id if fallback else None)}
                for row in proposed_measures(scenario)[:ROWS]]
        rows = [row for row in rows if row["organisation_id"] is not None]
        if rows:
            start_plan(case, members[Role.COORDINATOR], rows, scenario=scenario)
        db.session.flush()
    return True
