"""What another domain may read of a cell's members: the members' narrow reading interface.

The federation shows a linked cell's coordinators once both cells confirmed an alert, and mails
the coordinators about a new one; it reads them here, as names and addresses only, never
through the models or the operations. Runs in the tenant context of the cell concerned.
"""

from __future__ import annotations

from dataclasses import dataclass

from livc.platform.roles import Role
from livc.tenants.members.operations import active_members


@dataclass(frozen=True)
class Contact:
    """How to reach a member: the account's name and e-mail address."""

    name: str
    email: str


def coordinator_contacts() -> tuple[Contact, ...]:
    """The cell's coordinators who can act now (active, not expired, account enabled), by id."""
    return tuple(Contact(m.account.label, m.account.email) for m in active_members(Role.COORDINATOR))


def cleared_officer_contacts() -> tuple[Contact, ...]:
    """The cell's information officers who can act now and hold a valid security clearance."""
    return tuple(
        Contact(m.account.label, m.account.email)
        for m in active_members(Role.INFORMATION_OFFICER) if m.clearance_valid
    )
