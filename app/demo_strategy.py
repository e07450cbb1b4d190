"""The demo cell's policy follow-up: what the mayor finds on the strategic table's page.

Inside demo-leuven, once its members, cases and meetings are seeded (an integrated cell: its one
table, where every demo member but the guest expert has a seat, is its strategic table too):

- a working agreement with the Local Task Force on the feedback forms, in progress;
- two priorities: one in progress (carried by the CLB), one planned, decided in the meeting held
  five weeks ago;
- last year's yearly evaluation of the approach, done;
- an agreement with the schools whose due date has passed: overdue.

Every entry goes through the policy follow-up's operations: proposed by the coordinator and
confirmed by the mayor (a joint decision), its status reported by its owner. Only the dates are
moved back afterwards, as the cases' and meetings' seeding does. All of it is invented.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from livc.app.demo_cases import _as_demo_seeder, _demo_members
from livc.platform.db import db
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.decisions.models import DecisionParticipant
from livc.tenants.decisions.operations import confirm
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.strategy.models import EntryKind, EntryStatus, PolicyEntry
from livc.tenants.strategy.operations import (
    policy_table,
    propose_entry,
    report_status,
    strategic_meetings,
)


def seed_demo_strategy(tenant: Tenant) -> bool:
    """Seed demo-leuven's policy follow-up (inside its tenant context); False if there was nothing
    to add: another cell, members missing, or entries there already."""
    if tenant.slug != "demo-leuven" or db.session.scalar(sa.select(PolicyEntry.id).limit(1)) is not None:
        return False
    members = _demo_members(tenant)
    if not {Role.COORDINATOR, Role.MAYOR, Role.INFORMATION_OFFICER} <= set(members) or policy_table() is None:
        return False
    with _as_demo_seeder(tenant):
        _Seeder(members).run()
        db.session.flush()
    return True


class _Seeder:
    def __init__(self, members: dict[Role, Membership]) -> None:
        self.members = members
        self.coordinator, self.mayor = members[Role.COORDINATOR], members[Role.MAYOR]
        self.today = utcnow().date()

    def organisation(self, name: str) -> int | None:
        return db.session.scalar(sa.select(Organisation.id).where(Organisation.name == name))

    def record(self, decided_on: date, **values) -> PolicyEntry:
        """Proposed by the coordinator, confirmed by the mayor; dated as if done on ``decided_on``."""
        proposal = propose_entry(self.coordinator, {"decided_on": decided_on, **values})
        confirm(proposal, self.mayor)
        entry = db.session.get(PolicyEntry, proposal.subject_id)
        proposed = datetime.combine(decided_on, time(16, 30))
        confirmed = proposed + timedelta(hours=18)
        entry.proposed_at, entry.recorded_at = proposed, confirmed
        proposal.proposed_at, proposal.decided_at = proposed, confirmed
        for participant in db.session.scalars(sa.select(DecisionParticipant).where(DecisionParticipant.proposal_id == proposal.id)):
            participant.at = proposed if participant.membership_id == self.coordinator.id else confirmed
        return entry

    def report(self, entry: PolicyEntry, by: Membership, status: EntryStatus, note: str, on: date) -> None:
        report = report_status(entry, by, {"status": status, "note": note})
        report.reported_at = datetime.combine(on, time(10, 0))
        entry.status_changed_at = report.reported_at

    def run(self) -> None:
        today, officer = self.today, self.members[Role.INFORMATION_OFFICER]
        agreement = self.record(
            today - timedelta(days=100), kind=EntryKind.LTF_AGREEMENT,
            title="Werkafspraak met de LTF over de terugkoppelingsfiches (DEMO)",
            text="De information officer bezorgt elke vrijgegeven terugkoppelingsfiche binnen vijf werkdagen aan de LTF "
                 "en brengt het antwoord naar de volgende operationele tafel.\n\nDe afspraak wordt na een jaar herbekeken.",
            owner_membership_id=officer.id, due_on=today + timedelta(days=30), year=today.year,
        )
        self.report(agreement, officer, EntryStatus.IN_PROGRESS,
                    "Eerste twee fiches volgens de afspraak bezorgd; de LTF bevestigde de werkwijze.", today - timedelta(days=40))

        clb = self.organisation("CLB (DEMO)")
        online = self.record(
            today - timedelta(days=100), kind=EntryKind.PRIORITY, title="Prioriteit: weerbaarheid van jongeren online (DEMO)",
            text="Mediawijsheid en weerbaarheid in de tweede graad van het secundair, samen met de jeugddienst.",
            owner_organisation_id=clb, owner_membership_id=None if clb else self.coordinator.id,
            due_on=date(today.year, 12, 31), year=today.year,
        )
        self.report(online, self.members.get(Role.PARTNER) if clb and Role.PARTNER in self.members else self.coordinator,
                    EntryStatus.IN_PROGRESS, "Lespakket gekozen; eerste scholen ingepland.", today - timedelta(days=20))

        held = [meeting for meeting in strategic_meetings() if meeting.starts_at.date() < today]
        meeting = held[-1] if held else None  # the oldest held meeting of the table
        self.record(
            meeting.starts_at.date() if meeting else today - timedelta(days=35), kind=EntryKind.PRIORITY,
            title="Prioriteit: signaalherkenning bij de eerstelijnsdiensten (DEMO)",
            text="Een vorming signaalherkenning voor de loketten van OCMW, jeugddienst en bibliotheek.",
            owner_membership_id=self.coordinator.id, due_on=today + timedelta(days=120), year=today.year,
            meeting_id=meeting.id if meeting else None,
        )

        last_year = today.year - 1
        evaluation = self.record(
            min(today, date(today.year, 1, 31)), kind=EntryKind.YEARLY_EVALUATION,
            title=f"Jaarlijkse evaluatie van de aanpak {last_year} (DEMO)",
            text="Evaluatie van de werking van de cel: samenstelling van de tafel, doorlooptijden, samenwerking met de LTF, "
                 "uitsluitend met anonieme cijfers.",
            owner_membership_id=self.mayor.id, due_on=min(today, date(today.year, 3, 31)), year=last_year,
        )
        self.report(evaluation, self.mayor, EntryStatus.DONE,
                    "Evaluatie besproken en goedgekeurd; het verslag ging naar de gemeenteraad.", min(today, date(today.year, 3, 20)))

        prevention = self.organisation("Preventiedienst (DEMO)")
        self.record(
            today - timedelta(days=120), kind=EntryKind.OTHER_AGREEMENT,
            title="Afspraak met de scholen over het doorverwijspad (DEMO)",
            text="Een gedeeld stappenplan voor scholen: wanneer het CLB inschakelen, wanneer de preventiedienst.",
            owner_organisation_id=prevention, owner_membership_id=None if prevention else self.coordinator.id,
            due_on=today - timedelta(days=14), year=today.year,
        )

