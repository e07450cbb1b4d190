"""The demo's note shared orally only (issue 18, part 3; seed 001: information is registered
"only with the consent of the partner who brought it").

Inside each demo cell, once its members and cases are seeded: on the first open case with a
partner (not the coordinator) in its team, the coordinator records that this partner shared
something orally only: a progress note without any text, "shared orally, not registered" on the
case page, which the partner may register themselves later. Once: a cell with an oral-only note
gets none added. Recorded through the notes' operation, audited as the demo.
"""

from __future__ import annotations

import sqlalchemy as sa

from livc.app.demo_cases import _as_demo_seeder, _demo_members
from livc.platform.db import db
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.tenants.cases.models import Case, CaseStatus, CaseTeamMember, NoteVisibility, ProgressNote
from livc.tenants.cases.operations import add_note
from livc.tenants.members.models import Membership
from livc.tenants.signals.registration import Registration


def seed_demo_consent(tenant: Tenant) -> bool:
    """Seed the cell's oral-only note (inside its tenant context); False if nothing was added."""
    oral = sa.select(ProgressNote.id).where(ProgressNote.registration == Registration.ORAL_ONLY).limit(1)
    coordinator = _demo_members(tenant).get(Role.COORDINATOR)
    if coordinator is None or db.session.scalar(oral) is not None:
        return False
    found = db.session.execute(
        sa.select(Case, Membership)
        .join(CaseTeamMember, CaseTeamMember.case_id == Case.id)
        .join(Membership, Membership.id == CaseTeamMember.membership_id)
        .where(Case.status == CaseStatus.OPEN, CaseTeamMember.removed_at.is_(None),
               Membership.role == Role.PARTNER)
        .order_by(Case.id, Membership.id).limit(1)
    ).first()
    if found is None:
        return False
    case, partner = found
    with _as_demo_seeder(tenant):
        add_note(case, coordinator, {"visibility": NoteVisibility.TEAM, "registration": Registration.ORAL_ONLY,
                                     "brought_by_id": partner.id})
        db.session.flush()
    return True
