"""The demo's information card of the Local Task Force (issue 18, part 4).

Inside each demo cell, once its members and cases are seeded: the information officer records
one card of the LTF on the first open case whose follow-up gives the police a part (the officer
is in its team), so that signing in as the information officer shows it on the case page; when
the case has a feedback form to the LTF not yet delivered, the form refers to the card. Once: a
cell with a card gets none added. The card goes through the cards' operations, audited as the
demo. All of it is invented.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from livc.app.demo_cases import _as_demo_seeder, _demo_members
from livc.platform.db import db
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases.ltf_cards import LtfCard, ThreatLevel, choose_feedback_cards, record_card
from livc.tenants.cases.models import Case, CaseStatus, CaseTeamMember, LtfFeedback

SUMMARIES = {
    "demo-leuven": ("LTF-LEU-2026-014", ThreatLevel.LEVEL_2,
                    "Informatiekaart van de LTF: betrokkene volgt online een extremistisch kanaal, geen aanwijzingen "
                    "van reisplannen of contacten in het milieu. Opvolging door de LIVC-R aangewezen (school en jeugddienst)."),
    "demo-herko": ("LTF-HK-2026-006", ThreatLevel.NOT_STATED,
                   "Informatiekaart van de LTF: gekend voor haatpropaganda op sociale media; het dreigingsniveau staat "
                   "niet op de kaart. Sociale opvolging via de LIVC-R gevraagd."),
}


def seed_demo_ltf(tenant: Tenant) -> bool:
    """Seed the cell's LTF card (inside its tenant context); False if there was nothing to add."""
    story = SUMMARIES.get(tenant.slug)
    if story is None or db.session.scalar(sa.select(LtfCard.id).limit(1)) is not None:
        return False
    officer = _demo_members(tenant).get(Role.INFORMATION_OFFICER)
    if officer is None or not officer.clearance_valid:
        return False
    case = db.session.scalar(
        sa.select(Case).join(CaseTeamMember, CaseTeamMember.case_id == Case.id)
        .where(Case.status == CaseStatus.OPEN, CaseTeamMember.membership_id == officer.id,
               CaseTeamMember.removed_at.is_(None))
        .order_by(Case.id).limit(1)
    )
    if case is None:
        return False
    reference, level, summary = story
    with _as_demo_seeder(tenant):
        card = record_card(case, officer, {"card_date": utcnow().date() - timedelta(days=20), "reference": reference,
                                           "threat_level": level, "summary": summary})
        feedback = db.session.scalar(sa.select(LtfFeedback).where(LtfFeedback.case_id == case.id,
                                                                  LtfFeedback.delivered_at.is_(None)).limit(1))
        if feedback is not None:
            choose_feedback_cards(feedback, officer, [card.id])
        db.session.flush()
    return True
