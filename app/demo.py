"""Two neighbouring demo cells with synthetic, clearly fake content, and a login per role.

The municipalities are real (so federation suggestions make sense later); everything said
about them in the demo is invented. Every demo member signs in with the same password and
their own authenticator secret, generated once and printed by ``livc demo`` (and the current
code by ``livc demo-code``): for the demo only, never in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask import current_app

from livc.admin.onboarding.cells import create_tenant
from livc.admin.operators.models import Operator, OperatorRole
from livc.admin.operators.operations import find_operator
from livc.app.demo_cases import DEMO_DOMAIN, demo_email, link_demo_cells, seed_demo_cases
from livc.app.demo_consent import seed_demo_consent
from livc.app.demo_figures import seed_demo_figures
from livc.app.demo_ltf import seed_demo_ltf
from livc.app.demo_scenarios import seed_demo_scenarios
from livc.app.demo_strategy import seed_demo_strategy
from livc.platform import audit
from livc.platform.accounts import (
    Account,
    find_account,
    get_or_create_account,
    is_demo_address,
    new_totp_secret,
    set_password,
)
from livc.platform.db import db, tenant_context
from livc.platform.roles import OrganisationKind, Role
from livc.platform.tenancy import Tenant, find_tenant
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership, MembershipStatus, Organisation

if TYPE_CHECKING:
    from livc.admin.operators.models import Operator

DEMO_PASSWORD = "demo-livc-2026"
DEMO_REFUSED = (
    "the demo's accounts share a published password: they are seeded only with LIVC_ENV=development "
    "set explicitly (as `make demo` does), never into a deployment's database"
)


class DemoRefused(RuntimeError):
    """Seeding the demo was asked for outside explicit development (or the test suite)."""

DEMO_TENANTS = (
    {
        "slug": "demo-leuven",
        "name": "DEMO LIVC-R Leuven",
        "kind": "municipality",
        "languages": ["nl", "en"],
        "municipalities": [{"nis_code": "24062", "name": "Leuven"}],
    },
    {
        "slug": "demo-herko",
        "name": "DEMO zonale LIVC-R politiezone Herent-Kortenberg",
        "kind": "police_zone",
        "languages": ["nl", "fr", "en"],
        "municipalities": [
            {"nis_code": "24038", "name": "Herent"},
            {"nis_code": "24055", "name": "Kortenberg"},
        ],
    },
)

# (role, organisation name, kind, display name): invented people of invented organisations.
DEMO_MEMBERS = (
    (Role.COORDINATOR, "Preventiedienst (DEMO)", OrganisationKind.MUNICIPAL_SERVICE, "Ann Coördinator (DEMO)"),
    (Role.MAYOR, "Kabinet burgemeester (DEMO)", OrganisationKind.MUNICIPAL_SERVICE, "Bart Burgemeester (DEMO)"),
    (Role.INFORMATION_OFFICER, "Lokale politie (DEMO)", OrganisationKind.POLICE, "Ines Informatie (DEMO)"),
    (Role.POLICE_CHIEF, "Lokale politie (DEMO)", OrganisationKind.POLICE, "Karel Korpschef (DEMO)"),
    (Role.SOCIAL_ALDERMAN, "Kabinet schepen sociale zaken (DEMO)", OrganisationKind.MUNICIPAL_SERVICE, "Sara Schepen (DEMO)"),
    (Role.PARTNER, "CLB (DEMO)", OrganisationKind.CLB, "Pieter Partner (DEMO)"),
    (Role.SECRETARY, "Preventiedienst (DEMO)", OrganisationKind.MUNICIPAL_SERVICE, "Sofie Secretaris (DEMO)"),
    (Role.GUEST_EXPERT, "Deskundige (DEMO)", OrganisationKind.OTHER, "Geert Gastexpert (DEMO)"),
)
# A zonal cell has a mayor for each of its municipalities (seed 004): the demo mayor stands for
# Herent, and Kortenberg has a mayor of its own, with a login of her own.
DEMO_MAYOR_OF = {"demo-herko": "24038"}
# (role, organisation name, kind, display name, municipality, what tells their e-mail address apart)
DEMO_EXTRA_MEMBERS = {
    "demo-herko": (
        (Role.MAYOR, "Kabinet burgemeester Kortenberg (DEMO)", OrganisationKind.MUNICIPAL_SERVICE,
         "Mia Burgemeester (DEMO)", "24055", "kortenberg"),
    ),
}
# A cell's own names where the two cells meet: once an alert is confirmed, each coordinator sees
# the other's name, which must not read as their own.
DEMO_NAMES_IN_CELL = {"demo-herko": {Role.COORDINATOR: "Bram Coördinator (DEMO)"}}


def demo_display_name(tenant_slug: str, role: Role, default: str) -> str:
    return DEMO_NAMES_IN_CELL.get(tenant_slug, {}).get(role, default)


@dataclass(frozen=True)
class DemoLogin:
    tenant_slug: str
    role: Role
    email: str
    totp_secret: str


def demo_members(tenant_slug: str) -> list[tuple[Role, str, OrganisationKind, str, str | None, str | None]]:
    """The cell's demo members: (role, organisation, kind, display name, municipality a mayor
    stands for, what tells their e-mail address apart from the role's)."""
    members = [(role, organisation, kind, demo_display_name(tenant_slug, role, name),
                DEMO_MAYOR_OF.get(tenant_slug) if role == Role.MAYOR else None, None)
               for role, organisation, kind, name in DEMO_MEMBERS]
    return members + list(DEMO_EXTRA_MEMBERS.get(tenant_slug, ()))


def is_demo_account(email: str) -> bool:
    return is_demo_address(email)


def seed_demo(with_members: bool = True) -> list[Tenant]:
    """Create the demo cells (and their members) that do not exist yet; return the cells.

    With the members come the cells' signals and cases at every stage (see
    :mod:`livc.app.demo_cases`), once: a cell that has signals or cases gets none added;
    and a federation link between the two cells (once), whose jobs, when this commits, enrol
    their open cases and alert both coordinators on the one person they share.
    Without members (what most tests use) the cells stay empty and seeding stays fast.
    """

    if not current_app.extensions["livc.settings"].demo_allowed:
        raise DemoRefused(DEMO_REFUSED)
    tenants = []
    for data in DEMO_TENANTS:
        tenant = find_tenant(data["slug"]) or create_tenant(data, actor="system:demo")
        if with_members:
            with tenant_context(tenant.id):
                _seed_members(tenant)
                seed_demo_cases(tenant)
                seed_demo_strategy(tenant)
                seed_demo_figures(tenant)
                seed_demo_ltf(tenant)
                seed_demo_consent(tenant)
                seed_demo_scenarios(tenant)
        tenants.append(tenant)
    if with_members:
        link_demo_cells(tenants)
        _seed_operator()
    db.session.commit()
    return tenants


DEMO_OPERATOR_EMAIL = f"operator@{DEMO_DOMAIN}"


def _seed_operator() -> None:
    """An administrator of the operator console, with the demo password and its own key."""

    if find_operator(DEMO_OPERATOR_EMAIL) is None:
        operator = Operator(email=DEMO_OPERATOR_EMAIL, role=OperatorRole.ADMINISTRATOR, display_name="Olga Operator (DEMO)")
        set_password(operator, DEMO_PASSWORD)
        operator.totp_secret, operator.totp_enabled_at = new_totp_secret(), utcnow()
        db.session.add(operator)


def demo_operator() -> Operator | None:
    """The demo's console operator (for ``livc demo`` to print), or None."""

    operator = find_operator(DEMO_OPERATOR_EMAIL)
    return operator if operator is not None and operator.has_totp else None


def _seed_members(tenant: Tenant) -> None:
    organisations: dict[str, Organisation] = {
        o.name: o for o in db.session.scalars(sa.select(Organisation))
    }
    shared_names = {role: name for role, *_rest, name in DEMO_MEMBERS}
    for role, organisation_name, kind, display_name, municipality, variant in demo_members(tenant.slug):
        shared_name = shared_names[role] if variant is None else display_name
        account = get_or_create_account(demo_email(tenant.slug, role, variant), display_name)
        if account.display_name == shared_name != display_name:
            account.display_name = display_name  # a demo seeded before the names were distinct
        if not account.has_password:
            set_password(account, DEMO_PASSWORD)
        if not account.has_totp:
            account.totp_secret = new_totp_secret()
            account.totp_enabled_at = utcnow()
        existing = db.session.scalar(sa.select(Membership).where(Membership.account_id == account.id))
        if existing is not None:
            if municipality and existing.municipality_nis is None:
                existing.municipality_nis = municipality  # a demo seeded before mayors stood for one
            continue
        organisation = organisations.get(organisation_name)
        if organisation is None:
            organisation = organisations[organisation_name] = Organisation(name=organisation_name, kind=kind)
            db.session.add(organisation)
            db.session.flush()
        membership = Membership(
            account_id=account.id,
            organisation_id=organisation.id,
            role=role,
            status=MembershipStatus.ACTIVE,
            clearance_expires_on=date.today() + timedelta(days=3 * 365) if role == Role.INFORMATION_OFFICER else None,
            expires_at=utcnow() + timedelta(days=365) if role == Role.GUEST_EXPERT else None,
            municipality_nis=municipality,
        )
        db.session.add(membership)
        db.session.flush()
        audit.record("member.added", actor="system:demo", subject=f"membership:{membership.id}", details={"role": role.value})


def demo_logins() -> list[DemoLogin]:
    """Every demo member's sign-in, for printing by ``livc demo``."""
    logins = []
    for data in DEMO_TENANTS:
        for role, *_rest, variant in demo_members(data["slug"]):
            account = find_account(demo_email(data["slug"], role, variant))
            if account is not None and account.has_totp:
                logins.append(DemoLogin(data["slug"], role, account.email, account.totp_secret))
    return logins


def demo_account(email: str) -> Account | Operator | None:
    """A demo member's account, or the demo operator; None for anyone else."""
    if not is_demo_account(email):
        return None
    if email.strip().lower() == DEMO_OPERATOR_EMAIL:
        return demo_operator()
    return find_account(email)
