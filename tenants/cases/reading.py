"""What another domain may read of a cell's cases: the cases' narrow reading interface.

The federation (and any domain that must not know how a case is kept) reads a case through
these functions and frozen values only, never through the models or the operations: a case's
id, code, tenant and whether the cell follows it (:class:`FederatedCase`), and, for the one
case whose match keys are being made, the identity of the person concerned
(:class:`CaseIdentity`). Everything runs in the caller's tenant context, so another cell's ids
are simply not found. Nothing here writes the audit trail: codes and statuses are not case
content, and no member reads the identity (a refused page is audited by the guard).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from livc.platform.db import db
from livc.tenants.cases.models import Case, CaseStatus
from livc.tenants.signals.models import FOLLOW_UP_LABELS

# The identity's ciphertext columns, in the order the version digest has always used.
_IDENTITY_CIPHERTEXTS = (
    "given_names_ciphertext",
    "family_name_ciphertext",
    "date_of_birth_ciphertext",
    "national_number_ciphertext",
)


@dataclass(frozen=True)
class FederatedCase:
    """A case as another domain sees it: no content, no identity."""

    id: int
    tenant_id: int  # the policy checks that a guarded resource is of the member's cell
    code: str  # "GNT-2026-007": how the cell names the case (audit subjects, pages)
    followed: bool  # the case is open: the cell still follows the person
    has_identity: bool  # the person concerned is identified (the identity itself is not here)

    @property
    def audit_subject(self) -> str:
        """A refused page guarded with it is audited as the case itself (``case:<id>``)."""
        return f"case:{self.id}"


@dataclass(frozen=True)
class CaseIdentity:
    """The identity of a case's person concerned, decrypted, for making match keys in memory.

    ``version`` is a digest of the identity's ciphertexts: it changes whenever the identity is
    rewritten, and reveals nothing of it.
    """

    given_names: str | None
    family_name: str | None
    date_of_birth: str | None
    national_number: str | None
    version: str
    identity_id: int | None = None
    # False in a cell that does not keep identities: no value above, its tokens were made when
    # it was entered (the federation's prepared tokens, by ``identity_id``).
    kept: bool = True


def federated(case: Case) -> FederatedCase:
    """The case an event of :mod:`livc.tenants.cases.events` was sent for (its sender), or a
    page was given, as another domain sees it."""
    return FederatedCase(
        id=case.id,
        tenant_id=case.tenant_id,
        code=case.code,
        followed=case.status == CaseStatus.OPEN,
        has_identity=case.identity_id is not None,
    )


def case_for_federation(case_id: int) -> FederatedCase | None:
    """The cell's case ``case_id``, or None (it does not exist, or belongs to another cell).

    A page guards it like the case itself (same lookup as the case pages' loader); the policy
    decides on the action.
    """
    case = db.session.get(Case, case_id)
    return federated(case) if case is not None else None


def followed_cases_with_identity() -> list[FederatedCase]:
    """The cell's open cases with an identity, by id (one query)."""
    query = sa.select(Case).where(Case.status == CaseStatus.OPEN, Case.identity_id.is_not(None)).order_by(Case.id)
    return [federated(case) for case in db.session.scalars(query)]


def case_codes(case_ids: Iterable[int]) -> dict[int, str]:
    """Case id -> code for those of ``case_ids`` that are cases of the cell (one query)."""
    ids = set(case_ids)
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Case.id, Case.code).where(Case.id.in_(ids))).all())


def identity_for_matching(case_id: int) -> CaseIdentity | None:
    """The identity of case ``case_id``'s person concerned, decrypted (None: no such case, or
    no identity). Only for making match keys, which never leave the process; not audited, as
    no member reads it."""
    case = db.session.scalar(sa.select(Case).options(joinedload(Case.identity)).where(Case.id == case_id))
    identity = case.identity if case is not None else None
    if identity is None:
        return None
    digest = hashlib.sha256()
    for column in _IDENTITY_CIPHERTEXTS:
        digest.update((getattr(identity, column) or "").encode() + b"\x00")
    return CaseIdentity(
        given_names=identity.given_names,
        family_name=identity.family_name,
        date_of_birth=identity.date_of_birth,
        national_number=identity.national_number,
        version=digest.hexdigest(),
        identity_id=identity.id,
        kept=not identity.empty,
    )


@dataclass(frozen=True)
class HandoverFacts:
    """What a hand-over may carry of a case, when its coordinator chooses to: the kind of
    follow-up (its value and label) and the identity of the person concerned (or None)."""

    follow_up_kind: str
    follow_up_label: str
    given_names: str | None
    family_name: str | None
    date_of_birth: str | None


def facts_for_handover(case_id: int) -> HandoverFacts | None:
    """The hand-over's facts of case ``case_id`` (None: no such case in the cell). The caller
    audits the read."""
    case = db.session.scalar(sa.select(Case).options(joinedload(Case.identity)).where(Case.id == case_id))
    if case is None:
        return None
    identity = case.identity
    return HandoverFacts(
        follow_up_kind=case.follow_up_kind.value,
        follow_up_label=str(FOLLOW_UP_LABELS[case.follow_up_kind]),
        given_names=identity.given_names if identity is not None else None,
        family_name=identity.family_name if identity is not None else None,
        date_of_birth=identity.date_of_birth if identity is not None else None,
    )
