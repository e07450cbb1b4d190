"""A cell ready to open cases, and the shortest ways through intake, weighing and a case.

The legal minimum (seed 004) is present: the mayor, an information officer with a valid
clearance, the alderman for social affairs and a coordinator appointed as the official; two
partners sit for a CLB and an OCMW. The legal basis before case work (seed 002, article 458ter)
is in place too: house rules in force resting on the law of 30 July 2018, and the integrated
cell's main table (chaired by the coordinator, nobody seated) doing the operational work;
``ready_cell(..., table=False)`` leaves the table to the test, ``house_rules=False`` the rules. In a cell of several municipalities (demo-herko) each has its mayor, and the people of
the tests live in the first one (``Cell.residence_nis``, given at the weighing). Every member
accepted the secrecy undertaking, so pages and API answer straight away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from auth_helpers import Member, add_member
from livc.platform.db import db, tenant_context
from livc.platform.roles import OrganisationKind, Role
from livc.platform.tenancy import Tenant
from livc.tenants.cell.models import CellForm, CellProfile, Table, TableKind
from livc.tenants.house_rules.models import LegalBasis
from livc.tenants.house_rules.operations import publish_draft, update_draft
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.members.operations import accept_undertaking
from livc.tenants.signals.models import (
    FlagLevel,
    FollowUpKind,
    ObservedFact,
    TargetGroup,
    WeighingDecision,
)

LEUVEN, HERKO = "demo-leuven", "demo-herko"


@dataclass
class Cell:
    tenant_id: int
    slug: str
    coordinator: Member
    mayor: Member
    information_officer: Member
    partner: Member  # CLB, in the case team of cases opened with open_case()
    social: Member  # OCMW, never in the team unless a test adds them
    # In a cell of several municipalities: where the people of the tests live (None: the one).
    residence_nis: str | None = None
    alderman: Member | None = None  # the alderman for social affairs (the legal minimum)

    def members(self) -> list[Member]:
        return [self.coordinator, self.mayor, self.information_officer, self.partner, self.social]


def publish_house_rules(actor: Membership, basis: LegalBasis = LegalBasis.LAW_2018, **consent) -> None:
    """House rules in force (inside a tenant context): seed 001's chapters, ``basis`` as the
    legal basis (``consent_reference``/``consent_date`` for the prosecutor's consent)."""
    update_draft({"legal_basis": basis, **consent}, actor)
    publish_draft(actor)


def ready_cell(app, tenant_id: int, slug: str, *, table: bool = True, house_rules: bool = True) -> Cell:
    coordinator = add_member(app, tenant_id, slug, Role.COORDINATOR)
    mayor = add_member(app, tenant_id, slug, Role.MAYOR)
    officer = add_member(app, tenant_id, slug, Role.INFORMATION_OFFICER)
    partner = add_member(app, tenant_id, slug, Role.PARTNER)
    social = add_member(app, tenant_id, slug, Role.PARTNER, f"ocmw.{slug}@example.test")
    alderman = add_member(app, tenant_id, slug, Role.SOCIAL_ALDERMAN, f"alderman.{slug}@example.test")
    with app.app_context():
        nis_codes = db.session.get(Tenant, tenant_id).nis_codes
    # A mayor for each municipality of the cell (the legal minimum of a cell of several).
    mayors = [mayor] + [add_member(app, tenant_id, slug, Role.MAYOR, f"mayor.{code}.{slug}@example.test")
                        for code in nis_codes[1:]]
    with app.app_context(), tenant_context(tenant_id):
        if len(nis_codes) > 1:
            for member, code in zip(mayors, nis_codes, strict=True):
                db.session.get(Membership, member.membership_id).municipality_nis = code
        ocmw = Organisation(name="OCMW test", kind=OrganisationKind.OCMW)
        db.session.add(ocmw)
        db.session.flush()
        db.session.get(Membership, social.membership_id).organisation_id = ocmw.id
        db.session.add(CellProfile(form=CellForm.INTEGRATED, appointed_official_id=coordinator.membership_id))
        if table:
            db.session.add(Table(kind=TableKind.MAIN, name="LIVC-R", chair_membership_id=coordinator.membership_id))
        db.session.commit()
        db.session.remove()
    with app.test_request_context(), tenant_context(tenant_id):
        if house_rules:
            publish_house_rules(db.session.get(Membership, coordinator.membership_id))
        for member in (coordinator, *mayors, officer, partner, social, alderman):
            accept_undertaking(db.session.get(Membership, member.membership_id))
        db.session.commit()
        db.session.remove()
    return Cell(tenant_id, slug, coordinator, mayor, officer, partner, social,
                residence_nis=nis_codes[0] if len(nis_codes) > 1 else None, alderman=alderman)


def membership(member: Member) -> Membership:
    return db.session.get(Membership, member.membership_id)


IDENTITY = {
    "given_names": "Élodie",
    "family_name": "Van den Berghe",
    "date_of_birth": "2007-03-14",
    "national_number": "07.03.14-123.42",
    "address": "Bondgenotenlaan 1, 3000 Leuven",
}
OBSERVATION = "Shared a video glorifying an attack in the class group chat on 3 November; told classmates it was justified."


def signal_values(**overrides) -> dict:
    return {
        "observation": OBSERVATION,
        "internal_assessment": "done",
        "urgency": "soon",
        "observed_from": date.today() - timedelta(days=20),
        **IDENTITY,
        **overrides,
    }


def weighing_values(cell: Cell, **overrides) -> dict:
    from livc.tenants.cases.weighing import FactObserved

    return {
        "flag": FlagLevel.RED,
        "decision": WeighingDecision.OPEN_CASE,
        "facts": [FactObserved(ObservedFact.PROPAGANDA, "Shared an attack video in the class group chat.",
                               date.today() - timedelta(days=20))],
        "target_group": TargetGroup.OTHER_EXTREMISM,
        "follow_up_kind": FollowUpKind.SOCIAL,
        "team_ids": [cell.partner.membership_id],
        **({"residence": cell.residence_nis} if getattr(cell, "residence_nis", None) else {}),
        **overrides,
    }


def confirmer_for(cell: Cell, values: dict) -> Member:
    """Who confirms the coordinator's proposal: the information officer when the follow-up gives
    the police a part (police information), the partner otherwise."""
    police = values.get("follow_up_kind") in (FollowUpKind.POLICE, FollowUpKind.MIXED, "police", "mixed")
    return cell.information_officer if police else cell.partner


def case_confirmer(cell: Cell, case) -> Member:
    """Who confirms a decision on ``case`` proposed by the coordinator: someone who may read the
    case (the partner is in the team of cases opened with :func:`open_case`), the information
    officer when the follow-up gives the police a part (police information)."""
    police = case.follow_up_kind in (FollowUpKind.POLICE, FollowUpKind.MIXED)
    return cell.information_officer if police else cell.partner


def latest_proposal():
    """The newest decision still waiting for a second member (inside a tenant context), or None."""
    from livc.tenants.decisions.models import DecisionStatus, Proposal

    return db.session.scalars(
        sa.select(Proposal).where(Proposal.status == DecisionStatus.PROPOSED).order_by(Proposal.id.desc())
    ).first()


def confirmed(proposal, member: Member):
    """``member`` confirms ``proposal`` (inside a tenant context): the decision takes effect."""
    from livc.tenants.decisions.operations import confirm

    return confirm(proposal, membership(member))


def confirm_latest(app, cell: Cell, member: Member):
    """``member`` confirms the newest proposal waiting in ``cell``, as they would through the
    decisions page (committed): returns the proposal's id."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        proposal = latest_proposal()
        assert proposal is not None, "no proposal waits for confirmation"
        confirmed(proposal, member)
        proposal_id = proposal.id
        db.session.commit()
        db.session.remove()
    return proposal_id


def weighed_and_confirmed(cell: Cell, signal, **overrides) -> int | None:
    """Inside a tenant context: the coordinator proposes the weighing of ``signal``
    (:func:`weighing_values` with ``overrides``), :func:`confirmer_for` confirms it. Returns the
    id of the case the signal is now in (None if the decision opened none)."""
    from livc.tenants.cases.weighing import weigh_signal

    values = weighing_values(cell, **overrides)
    proposal = weigh_signal(signal, membership(cell.coordinator), values)
    assert signal.case_id is None, "a proposal has no effect before it is confirmed"
    confirmed(proposal, confirmer_for(cell, values))
    return signal.case_id


def open_case(app, cell: Cell, **overrides) -> tuple[int, str]:
    """A signal from the partner, weighed into a case with the partner in its team: (id, code).

    The weighing is a joint decision: the coordinator proposes it, a second member confirms it."""
    from livc.tenants.signals.operations import submit_signal

    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(cell.partner), signal_values())
        weighed_and_confirmed(cell, signal, **overrides)
        case_id = db.session.scalar(sa.text("select case_id from signals where id = :id"), {"id": signal.id})
        code = case_id and db.session.scalar(sa.text("select code from cases where id = :id"), {"id": case_id})
        db.session.commit()
        db.session.remove()
    return case_id, code
