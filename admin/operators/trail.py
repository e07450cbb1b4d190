"""The trails in words: who did what, for the people who read them.

Entries store machine names (``operator:3``, ``tenant.onboarded``, ``{"fields": [...]}``); the
operator trail (``/admin/actions``), a tenant's page and the cell's list of operator actions
(``/<cell>/operator-actions``) show them as sentences in the reader's language: the operator's
name and role, "Onboarded the cell", "A request was refused (fields: slug)". Every action the
console records has its words here (``tests/test_admin_console_shell.py`` checks it against the
source); an action without them still reads as its name in words, never as a raw identifier.

Only what the entry holds is shown: names of operators and cells, counts, codes and field names,
never anything a cell wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from livc.admin.operators.models import ROLE_LABELS, Operator
from livc.platform.db import db
from livc.platform.tenancy import Tenant

#: What each recorded action means, as a sentence; ``%(...)s`` are filled from the entry (see
#: :func:`_values`). A key ``action:variant`` words a variant (:func:`_variant`).
ACTION_LABELS = {
    # the cells
    "tenant.created": _l("Created the cell"),
    "tenant.onboarded": _l("Onboarded the cell and invited its first coordinator"),
    "tenant.invitation_resent": _l("Sent the first coordinator's invitation again"),
    "tenant.suspended": _l("Suspended the cell"),
    "tenant.reactivated": _l("Reactivated the cell"),
    "tenant.offboarding_started": _l("Started offboarding the cell"),
    "tenant.offboarding_resumed": _l("Resumed offboarding the cell"),
    "tenant.offboarding_step_started": _l("Offboarding step started: %(step)s"),
    "tenant.offboarding_step_done": _l("Offboarding step done: %(step)s"),
    "tenant.offboarding_step_failed": _l("Offboarding step failed: %(step)s"),
    "tenant.exported": _l("Exported the cell's data for the municipality"),
    "tenant.shredded": _l("Crypto-shredded the cell"),
    "tenant.verified": _l("Verified that nothing decryptable of the cell remains"),
    "tenant.verified:failed": _l("The verification found something of the cell left"),
    "tenant.offboarded": _l("Offboarded the cell"),
    "federation.enrolments_released": _l("Released %(count)s held federation enrolment(s)"),
    # the audit trails
    "audit.chain_checked": _l("Checked the cell's audit trail: intact, %(entries)s entries"),
    "audit.chain_checked:broken": _l("Checked the cell's audit trail: broken (%(problems)s)"),
    "audit.chain_verified": _l("Nightly check of the cell's audit trail: intact, %(entries)s entries"),
    "audit.chain_verified:broken": _l("Nightly check of the cell's audit trail: broken"),
    "operator_trail.checked": _l("Checked the operator trail: intact, %(entries)s entries"),
    "operator_trail.checked:broken": _l("Checked the operator trail: broken (%(problems)s)"),
    # operator accounts and signing in
    "operator.created": _l("Created the operator account of %(operator)s (%(role)s)"),
    "operator.disabled": _l("Disabled the operator account of %(operator)s"),
    "operator.set_up": _l("Set up their operator account"),
    "operator.set_up_refused": _l("A set-up link was refused"),
    "auth.signed_in": _l("Signed in"),
    "auth.signed_in:recovery_code": _l("Signed in with a recovery code"),
    "auth.signed_out": _l("Signed out"),
    "auth.mfa_enrolled": _l("Set up their authenticator app"),
    "auth.sign_in_failed": _l("A sign-in failed: wrong e-mail address or password"),
    "auth.sign_in_failed:operator": _l("A sign-in as %(operator)s failed: wrong password"),
    "auth.second_factor_failed": _l("A sign-in failed: wrong authenticator code"),
    "auth.second_factor_failed:operator": _l("A sign-in as %(operator)s failed: wrong authenticator code"),
    "auth.sign_in_locked": _l("A sign-in was refused: too many failures, the address is locked for a while"),
    "auth.rate_limited": _l("Too many attempts from one address: a request was held back"),
    # refusals
    "access.denied": _l("A page was refused: the operator's role does not allow it"),
    "access.csrf_refused": _l("A form was refused: it came without a valid security token"),
    "request.refused": _l("A request was refused"),
    "request.refused:fields": _l("A request was refused (fields: %(fields)s)"),
    # the platform
    "jobs.retried": _l("Put %(count)s failed job(s) back on their queue"),
    "police_zone.created": _l("Added the police zone %(code)s"),
    "police_zone.replaced": _l("Changed the police zone %(code)s"),
    "police_zone.removed": _l("Removed the police zone %(code)s"),
    "figures.platform_read": _l("Read the platform-wide figures"),
}

#: Names of the offboarding's steps, filled in by the lifecycle (which owns them).
STEP_LABELS: dict[str, Any] = {}

ACTORS = {
    "cli": _l("Command line on the server"),
    "system": _l("The platform (scheduled job)"),
    "anonymous": _l("Someone not signed in"),
}
UNKNOWN_OPERATOR = _l("Operator no. %(id)s")


def readable_name(action: str) -> str:
    """An action without words of its own, readable all the same: ``tenant.some_thing`` ->
    "Tenant: some thing"."""
    head, _, rest = action.replace("_", " ").partition(".")
    return f"{head.capitalize()}: {rest.replace('.', ' ')}" if rest else head.capitalize()


def _known(action: str) -> str | None:
    """The key of ``action`` in :data:`ACTION_LABELS`; a cell's trail has the operator's actions
    as ``operator.<action>``."""
    if action in ACTION_LABELS:
        return action
    rest = action.removeprefix("operator.")
    return rest if rest in ACTION_LABELS else None


def _variant(action: str, details: dict, subject: str | None) -> str | None:
    if action in ("audit.chain_checked", "audit.chain_verified", "operator_trail.checked"):
        return None if details.get("intact", True) else "broken"
    if action == "request.refused":
        return "fields" if details.get("fields") else None
    if action == "auth.signed_in":
        return details.get("factor") if details.get("factor") == "recovery_code" else None
    if action in ("auth.sign_in_failed", "auth.second_factor_failed"):
        return "operator" if (subject or "").startswith("operator:") else None
    if action == "tenant.verified":
        return None if details.get("passed", True) else "failed"
    return None


def _operator_id(reference: str | None) -> int | None:
    kind, _, value = (reference or "").partition(":")
    return int(value) if kind == "operator" and value.isdigit() else None


@dataclass
class Names:
    """Operators and cells the entries refer to, loaded once for a page of entries."""

    operators: dict[int, Operator]
    cells: dict[str, str]  # slug -> name

    def operator(self, reference: str | None) -> str:
        found = self.operators.get(_operator_id(reference))
        return found.label if found is not None else str(UNKNOWN_OPERATOR % {"id": _operator_id(reference)})

    def actor(self, actor: str) -> str:
        """``operator:3`` -> "Ann Peeters (Administrator)"; ``cli`` -> "Command line on the server"."""
        if _operator_id(actor) is not None:
            found = self.operators.get(_operator_id(actor))
            if found is None:
                return self.operator(actor)
            return f"{found.label} ({ROLE_LABELS.get(found.role, found.role)})"
        return str(ACTORS[actor]) if actor in ACTORS else actor

    def cell(self, slug: str | None) -> str:
        return self.cells.get(slug, slug) if slug else ""


def names_for(entries: Iterable[Any]) -> Names:
    """The operators (as actors or subjects) and cells the entries name."""
    entries = list(entries)
    ids = {found for entry in entries for found in (_operator_id(entry.actor), _operator_id(entry.subject)) if found}
    slugs = {slug for entry in entries if (slug := getattr(entry, "tenant_slug", None))}
    operators = {op.id: op for op in db.session.scalars(sa.select(Operator).where(Operator.id.in_(ids)))} if ids else {}
    cells = dict(db.session.execute(sa.select(Tenant.slug, Tenant.name).where(Tenant.slug.in_(slugs))).all()) if slugs else {}
    return Names(operators, cells)


def _values(details: dict, subject: str | None, names: Names) -> dict[str, Any]:
    problems = details.get("problems") or []
    role = details.get("role")
    return {
        "count": details.get("count", len(details.get("jobs") or [])),
        "entries": details.get("entries", "?"),
        "problems": "; ".join(map(str, problems)) if problems else "?",
        "fields": ", ".join(map(str, details.get("fields") or [])),
        "step": str(STEP_LABELS.get(details.get("step"), details.get("step") or "?")),
        "code": details.get("code") or subject or "?",
        "operator": names.operator(subject),
        "role": str(ROLE_LABELS.get(role, role or "?")),
    }


def describe(action: str, details: dict | None, subject: str | None, names: Names) -> str:
    """What the entry records, as a sentence in the reader's language."""
    key = _known(action)
    if key is None:
        return readable_name(action)
    details = details or {}
    variant = _variant(key, details, subject)
    label = ACTION_LABELS.get(f"{key}:{variant}", ACTION_LABELS[key]) if variant else ACTION_LABELS[key]
    return str(label) % _values(details, subject, names)


@dataclass(frozen=True)
class Line:
    """One entry of a trail as a page shows it."""

    seq: int
    at: datetime
    who: str
    what: str
    cell: str
    action: str  # the machine name, for a data attribute


def readable(entries: Iterable[Any]) -> list[Line]:
    """Entries of the operator trail or of a cell's trail, in words."""
    entries = list(entries)
    names = names_for(entries)
    return [
        Line(entry.seq, entry.at, names.actor(entry.actor), describe(entry.action, entry.details, entry.subject, names),
             names.cell(getattr(entry, "tenant_slug", None)), entry.action)
        for entry in entries
    ]
