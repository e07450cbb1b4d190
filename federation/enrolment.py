"""The enrolment of cases' tokens in the federation index (the links themselves are in
:mod:`livc.federation.links` and :mod:`livc.federation.linking`).

A case's tokens are in the index while the case is open, has an identity, is not
excluded by a coordinator (:func:`exclude_case`, with a reason) and its cell has an active
link. :func:`request_enrolment` writes the pending enrolment first and enqueues
:func:`enrol_case`, which computes the tokens through the key custodian, replaces the stored
ones (delete and insert, one transaction) and enqueues the matching. Removal
(:func:`remove_enrolment`) is immediate and in the caller's transaction. The periodic
:func:`sweep_enrolments` re-enqueues enrolments whose job was lost or failed (never one whose
job RQ still holds: each enrolment records the job sent for it), and re-enrols cases whose
tokens were made under an older key epoch or an older key scheme.

Many cases at once (a cell's enrolment when a link becomes active, its re-enrolment after a key
rotation, an operator's release, the sweep) go in batches of :data:`ENROL_BATCH` cases per job
(:func:`enrol_cases`), each case in a savepoint of its own, all with the process's one custodian
token: not one job and one token per case.

A key custodian that is down or refuses (:data:`CUSTODIAN_WAITS`) never costs a case: the case
and its pending enrolment are committed before any job asks the custodian, a failed
:func:`enrol_case` is retried by the jobs (with back-off, then by the sweeper), and the
coordinator's page says the enrolment waits.

No probing (``THREAT_MODEL.md``): a case is enrolled only with an identity that names a
person (:func:`identity_refusal`: given and family names with at least a year of birth, or a
national number with both names; never a national number alone), and a cell makes at most
``LIVC_FEDERATION_ENROLMENTS_PER_WEEK`` new enrolments a rolling week (a first enrolment or
one after an identity change: new tokens, so possibly a guess; never a re-enrolment after a key
rotation or key scheme change). Over it an enrolment is *held* (:data:`EnrolmentStatus.HELD`)
until an operator releases the cell's held enrolments (:func:`release_held`, counts only); the
first hold of a week tells the linked cells' coordinators that a neighbour reached its budget.
When a case leaves the index within ``LIVC_FEDERATION_PROBING_WINDOW_DAYS`` of an open alert in
which it is the newer case, the alert is withdrawn but records it, and the earlier cell still
sees it (``newer_left``).

A case is read only through :mod:`livc.tenants.cases.reading` (a
:class:`~livc.tenants.cases.reading.FederatedCase`; its identity, decrypted, in
:func:`enrol_case` alone); the cases' events reach it through :mod:`livc.federation.subscribers`.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.federation.alerts import notify_alert
from livc.federation.custodian_client import CUSTODIAN_WAITS, custodian_for
from livc.federation.links import audit_in, check_coordinator, linked_cells
from livc.federation.match_keys import (
    KEY_SCHEME,
    DateError,
    Identity,
    NationalNumberError,
    identity_keys,
    key_class,
)
from livc.federation.matching import match_enrolment
from livc.federation.models import (
    AlertState,
    BudgetRelease,
    BudgetUse,
    CaseFederation,
    EnrolmentStatus,
    FederationEnrolment,
    FederationToken,
    MatchAlert,
    PreparedTokens,
)
from livc.platform import audit
from livc.platform.audit import AuditEntry
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.job_status import live_jobs
from livc.platform.jobs import enqueue, error_type, task
from livc.platform.mail import render_mail, send_mail
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases.reading import (
    CaseIdentity,
    FederatedCase,
    case_for_federation,
    followed_cases_with_identity,
    identity_for_matching,
)
from livc.tenants.members.reading import coordinator_contacts

log = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=5)  # a pending enrolment this old whose job RQ no longer holds lost it
ENROL_BATCH = 100  # cases per enrolment job when many go at once
REASON_REQUIRED = _l("Say why this case is kept out of the federation.")
BUDGET_WEEK = timedelta(days=7)

NATIONAL_NUMBER_ALONE = _l(
    "A national number alone is never compared with linked cells: add the given and family names."
)
NAMES_NEEDED = _l(
    "Comparing with linked cells needs the given and family names, with a date of birth (the year "
    "at least) or a national number."
)
DATE_NEEDED = _l(
    "Names alone are not compared with linked cells: add a date of birth (the year at least) or a "
    "national number."
)
NOT_LINKED = _l("Your cell is not linked with another cell: nothing is compared.")
CASE_CLOSED = _l("A closed case is not compared with linked cells.")
NO_IDENTITY = _l("The case has no identity of the person concerned: nothing to compare.")
CASE_EXCLUDED = _l("A coordinator kept this case out of the federation.")
NO_TOKENS = _l(
    "Your cell does not keep identities, and the key custodian could not be asked when this "
    "identity was entered: it is not compared with linked cells. Enter the identity again to compare it."
)
HELD = _l(
    "Matching with linked cells is held: your cell reached its weekly number of new enrolments. "
    "The platform's operators release held enrolments."
)


# --- enrolment (inside the cell) -----------------------------------------------------------------


def federation_of(case: FederatedCase, *, create: bool = False) -> CaseFederation | None:
    row = db.session.scalar(sa.select(CaseFederation).where(CaseFederation.case_id == case.id))
    if row is None and create:
        row = CaseFederation(case_id=case.id)
        db.session.add(row)
        db.session.flush()
    return row


def _enrolment(ref: str) -> FederationEnrolment | None:
    return db.session.scalar(sa.select(FederationEnrolment).where(FederationEnrolment.ref == ref))


def eligible(case: FederatedCase, row: CaseFederation | None) -> bool:
    """Whether the case may be in the index as far as the case itself says (open, identified,
    not kept out); its identity is judged by :func:`identity_refusal` in the job, decrypted."""
    return case.followed and case.has_identity and (row is None or row.excluded_at is None)


def identity_refusal(known: frozenset[str]):
    """Why an identity with these fields (``Identity.known``: no value) is not enrolled, or None.

    Enrolled: given and family names with at least a year of birth, or a national number with
    both names. Never a national number alone, nor a name without a date or a number: a guess
    would then cost next to nothing (a birth date's 998 national numbers)."""
    names = {"given", "family"} <= known
    if names and ("year" in known or "nn" in known):
        return None
    if "nn" in known and not names:
        return NATIONAL_NUMBER_ALONE
    if not names:
        return NAMES_NEEDED
    return DATE_NEEDED


def not_enrolled_reason(case: FederatedCase) -> str | None:
    """Why the case is not compared with linked cells (a translated sentence for its page), or
    None when it is (or is being) enrolled. Call inside the case's cell."""
    row = federation_of(case)
    if row is not None and row.excluded_at is not None:
        return str(CASE_EXCLUDED)
    if not case.followed:
        return str(CASE_CLOSED)
    if not case.has_identity:
        return str(NO_IDENTITY)
    if not linked_cells(case.tenant_id):
        return str(NOT_LINKED)
    enrolment = _enrolment(row.ref) if row is not None else None
    if enrolment is not None and enrolment.status == EnrolmentStatus.HELD:
        return str(HELD)
    if enrolment is not None and enrolment.status in (EnrolmentStatus.PENDING, EnrolmentStatus.ENROLLED):
        return None
    identity = identity_for_matching(case.id)
    if identity is not None and not identity.kept:
        prepared = prepared_tokens(identity.identity_id)
        refusal = identity_refusal(prepared.known_fields) if prepared is not None else NO_TOKENS
        if refusal is None and prepared.tokens is None:
            refusal = NO_TOKENS
        return str(refusal) if refusal is not None else None
    refusal = identity_refusal(_parsed(identity).known) if identity is not None else NO_IDENTITY
    return str(refusal) if refusal is not None else None


def request_enrolment(case: FederatedCase, *, job: bool = True) -> FederationEnrolment | None:
    """Bring a case's tokens up to date: written as pending now, computed by a job after commit.

    Called when a case opens, reopens or its identity changes; a case that should not be in
    the index (closed, excluded, no identity, its cell not linked) is taken out instead.
    ``job=False``: only written as pending, the caller computes it (a job enrolling a whole
    cell); the sweeper takes up what the caller does not finish.
    """
    tenant_id = current_tenant_id()
    row = federation_of(case)
    if not eligible(case, row) or not linked_cells(tenant_id):
        if row is not None:
            _take_out(row, "closed" if not eligible(case, row) else None)
        return None
    row = row or federation_of(case, create=True)
    enrolment = _enrolment(row.ref)
    if enrolment is None:
        enrolment = FederationEnrolment(tenant_id=tenant_id, ref=row.ref)
        db.session.add(enrolment)
    enrolment.status, enrolment.updated_at = EnrolmentStatus.PENDING, utcnow()
    db.session.flush()
    if job:
        enrolment.job_id = enqueue(enrol_case, case.id, tenant_id=tenant_id).job_id
    return enrolment


def _enqueue_batches(tenant_id: int, waiting: list[tuple[int, FederationEnrolment]]) -> int:
    """Send ``(case id, enrolment)`` pairs to :func:`enrol_cases`, :data:`ENROL_BATCH` per job,
    each enrolment noting its job; how many jobs."""
    jobs = 0
    for start in range(0, len(waiting), ENROL_BATCH):
        batch = waiting[start : start + ENROL_BATCH]
        job_id = enqueue(enrol_cases, [case_id for case_id, _ in batch], tenant_id=tenant_id).job_id
        now = utcnow()
        for _, enrolment in batch:
            enrolment.job_id, enrolment.updated_at = job_id, now
        jobs += 1
    db.session.flush()
    return jobs


def _record_newer_left(enrolment: FederationEnrolment, left: str, now) -> None:
    """The open alerts in which ``enrolment`` is the newer case and that are younger than the
    probing window record that it left: the earlier cell keeps seeing them, saying so."""
    window = timedelta(days=current_app.extensions["livc.settings"].federation_probing_window_days)
    newer = sa.or_(
        sa.and_(MatchAlert.enrolment_a_id == enrolment.id, MatchAlert.earlier_side == "b"),
        sa.and_(MatchAlert.enrolment_b_id == enrolment.id, MatchAlert.earlier_side == "a"),
    )
    db.session.execute(
        sa.update(MatchAlert)
        .where(newer, MatchAlert.state == AlertState.OPEN, MatchAlert.created_at >= now - window)
        .values(newer_left=left, newer_left_at=now)
    )


def _take_out(row: CaseFederation, left: str | None = None) -> bool:
    """Delete the case's tokens and withdraw its open alerts; True if it was in the index.
    ``left``: "closed" or "erased" when the case itself left (recorded on young alerts in which
    it is the newer case)."""
    enrolment = _enrolment(row.ref)
    if enrolment is None or enrolment.status == EnrolmentStatus.REMOVED:
        return False
    now = utcnow()
    if left is not None:
        _record_newer_left(enrolment, left, now)
    db.session.execute(sa.delete(FederationToken).where(FederationToken.enrolment_id == enrolment.id))
    db.session.execute(
        sa.update(MatchAlert)
        .where(
            sa.or_(MatchAlert.enrolment_a_id == enrolment.id, MatchAlert.enrolment_b_id == enrolment.id),
            MatchAlert.state == AlertState.OPEN,
        )
        .values(state=AlertState.WITHDRAWN, withdrawn_at=now, updated_at=now)
    )
    enrolment.status, enrolment.updated_at = EnrolmentStatus.REMOVED, now
    db.session.flush()
    return True


def _erased_after_closure(row: CaseFederation) -> None:
    """A case closed soon after an alert, then erased: the earlier cell reads "erased"."""
    enrolment = _enrolment(row.ref)
    if enrolment is None:
        return
    mine = sa.or_(MatchAlert.enrolment_a_id == enrolment.id, MatchAlert.enrolment_b_id == enrolment.id)
    db.session.execute(
        sa.update(MatchAlert).where(mine, MatchAlert.newer_left == "closed").values(newer_left="erased")
    )


def remove_enrolment(case: FederatedCase, reason: str) -> None:
    """Take a case out of the index now (closure, erasure, opt-out), in the caller's
    transaction. On erasure the case's ref mapping goes too."""
    row = federation_of(case)
    if row is None:
        return
    if _take_out(row, "erased" if reason == "erased" else "closed"):
        audit.record("federation.enrolment_removed", subject=f"case:{case.code}", details={"reason": reason})
    if reason == "erased":
        _erased_after_closure(row)
        db.session.delete(row)
        db.session.flush()


def exclude_case(case: FederatedCase, actor, reason: str) -> CaseFederation:
    """A coordinator keeps a case out of the federation, saying why (audited)."""
    check_coordinator(actor, current_tenant_id())
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [str(REASON_REQUIRED)]})
    row = federation_of(case, create=True)
    row.excluded_at, row.excluded_by_id, row.excluded_reason = utcnow(), actor.id, reason
    audit.record("federation.case_excluded", subject=f"case:{case.code}", details={"membership_id": actor.id})
    remove_enrolment(case, "excluded")
    return row


def include_case(case: FederatedCase, actor) -> None:
    """Undo an exclusion: the case is enrolled again if it qualifies."""
    check_coordinator(actor, current_tenant_id())
    row = federation_of(case)
    if row is None or row.excluded_at is None:
        return
    row.excluded_at, row.excluded_by_id, row.excluded_reason = None, None, None
    audit.record("federation.case_included", subject=f"case:{case.code}", details={"membership_id": actor.id})
    request_enrolment(case)


# --- jobs ----------------------------------------------------------------------------------------


def _parsed(identity: CaseIdentity) -> Identity:
    """The identity as match keys see it; a malformed date or number is left out, not fatal."""
    given, family = identity.given_names, identity.family_name
    born, number = identity.date_of_birth, identity.national_number
    for _attempt in range(3):
        try:
            return Identity.parse(given, family, born, number)
        except DateError:
            born = None
        except NationalNumberError:
            number = None
    return Identity.parse(given, family, None, None)


def store_tokens(
    enrolment: FederationEnrolment, parsed: Identity, tokens: dict[str, bytes], epoch: int, version: str
) -> None:
    """Replace an enrolment's tokens (``key type -> token``, as :func:`identity_keys` names the
    keys) and mark it enrolled under ``epoch`` and the current :data:`KEY_SCHEME`, with which
    fields its identity knows (never a value). Shared by :func:`enrol_case` and the evaluation
    command's ``--as-enrolled`` (:mod:`livc.federation.as_enrolled`): both store what production
    stores."""
    db.session.execute(sa.delete(FederationToken).where(FederationToken.enrolment_id == enrolment.id))
    rows = [
        {"enrolment_id": enrolment.id, "tenant_id": enrolment.tenant_id, "epoch": epoch, "key_type": key_type, "token": token}
        for key_type, token in dict.fromkeys((key_class(key_type), token) for key_type, token in tokens.items())
    ]
    if rows:
        db.session.execute(sa.insert(FederationToken), rows)
    enrolment.epoch, enrolment.key_scheme = epoch, KEY_SCHEME
    enrolment.identity_version = version
    enrolment.known = ",".join(sorted(parsed.known))
    enrolment.status, enrolment.updated_at = EnrolmentStatus.ENROLLED, utcnow()
    db.session.flush()


@task(queue="federation")
def enrol_case(case_id: int) -> str:
    """Compute and store a case's tokens (runs in the case's cell); idempotent."""

    tenant_id = current_tenant_id()
    case = case_for_federation(case_id)
    if case is None:
        return "gone"
    row = federation_of(case)
    if row is None:
        return "not requested"
    if not eligible(case, row) or not linked_cells(tenant_id):
        _take_out(row)
        return "removed"
    enrolment = _enrolment(row.ref)
    if enrolment is None:
        enrolment = FederationEnrolment(tenant_id=tenant_id, ref=row.ref)
        db.session.add(enrolment)
        db.session.flush()
    identity = identity_for_matching(case.id)  # decrypted here, for the keys only
    if not identity.kept:  # the cell does not keep identities: the tokens made at entry
        return _enrol_prepared(tenant_id, row, enrolment, identity.identity_id)
    parsed = _parsed(identity)
    if identity_refusal(parsed.known) is not None:
        _take_out(row, "closed")  # an identity emptied of what names a person: as a closure
        enrolment.status = EnrolmentStatus.REMOVED  # also when it never was in the index
        return "refused"
    # New tokens (a first enrolment, or the identity changed) are charged to the cell's weekly
    # budget; the same identity again (a key rotation or scheme change, a reopened case, a
    # duplicate delivery) is not.
    charged = enrolment.identity_version != identity.version
    if charged and enrolment.released_at is None and not _within_budget(tenant_id):
        _hold(enrolment)
        return "held"
    keys = identity_keys(parsed)
    slug = db.session.get(Tenant, tenant_id).slug
    custodian = custodian_for(current_app.extensions["livc.settings"])
    epoch, tokens = custodian.tokens(
        slug, list(keys.values()), purpose="reenrol" if _outdated(enrolment, charged, custodian) else "enrol",
        scheme=KEY_SCHEME,
    )
    if charged:
        db.session.add(BudgetUse(tenant_id=tenant_id, used_at=utcnow(), released=enrolment.released_at is not None))
    enrolment.released_at = None
    enrolment.enrolled_at = enrolment.enrolled_at or utcnow()
    store_tokens(enrolment, parsed, dict(zip(keys, tokens, strict=True)), epoch, identity.version)
    # Matched in this job's transaction (a retry redoes both, idempotently): one job fewer
    # between a case and its alert.

    match_enrolment(enrolment.id)
    return "enrolled"


# --- cells that do not keep identities -------------------------------------------------------------


@dataclass(frozen=True)
class _Known:
    """What :func:`store_tokens` reads of a parsed identity: the fields it knows."""

    known: frozenset[str]


def prepared_tokens(identity_id: int | None) -> PreparedTokens | None:
    if identity_id is None:
        return None
    return db.session.scalar(sa.select(PreparedTokens).where(PreparedTokens.identity_id == identity_id))


def prepare_tokens(identity, values, **_details) -> None:
    """An identity entered in a cell that does not keep identities (the signals' event
    ``identity_entered``, in the entering request): its tokens are made now, through the key
    custodian, as its values are gone once the request ends. Only for an identity that names
    a person (:func:`identity_refusal`): nothing else would ever be enrolled. A custodian that
    is down or refuses does not stop the entry: the case is then not compared (its page says
    why) until the identity is entered again."""
    row = prepared_tokens(identity.id)
    if row is None:
        row = PreparedTokens(identity_id=identity.id)
        db.session.add(row)
    parsed = _parsed(CaseIdentity(values.get("given_names"), values.get("family_name"),
                                  values.get("date_of_birth"), values.get("national_number"), version=""))
    row.known, row.version = ",".join(sorted(parsed.known)), secrets.token_hex(16)
    row.tokens = row.epoch = row.key_scheme = None
    if identity_refusal(parsed.known) is None:
        keys = identity_keys(parsed)
        slug = db.session.get(Tenant, current_tenant_id()).slug
        try:
            custodian = custodian_for(current_app.extensions["livc.settings"])
            epoch, tokens = custodian.tokens(slug, list(keys.values()), purpose="enrol", scheme=KEY_SCHEME)
        except CUSTODIAN_WAITS as error:
            log.warning("federation: tokens of an identity not kept could not be made (%s)", error_type(error))
        else:
            row.epoch, row.key_scheme = epoch, KEY_SCHEME
            row.tokens = json.dumps({name: base64.b64encode(token).decode() for name, token in zip(keys, tokens, strict=True)})
    db.session.flush()


def _enrol_prepared(tenant_id: int, row: CaseFederation, enrolment: FederationEnrolment, identity_id: int | None) -> str:
    """:func:`enrol_case` for an identity the cell did not keep: its prepared tokens go into the
    index as they are (under the epoch and key scheme they were made with: they cannot be made
    again, see federation/README.md), charged to the budget as any new tokens."""
    prepared = prepared_tokens(identity_id)
    if prepared is None or prepared.tokens is None or identity_refusal(prepared.known_fields) is not None:
        _take_out(row, "closed")
        enrolment.status = EnrolmentStatus.REMOVED
        return "refused"
    charged = enrolment.identity_version != prepared.version
    if charged and enrolment.released_at is None and not _within_budget(tenant_id):
        _hold(enrolment)
        return "held"
    if charged:
        db.session.add(BudgetUse(tenant_id=tenant_id, used_at=utcnow(), released=enrolment.released_at is not None))
    enrolment.released_at = None
    enrolment.enrolled_at = enrolment.enrolled_at or utcnow()
    tokens = {name: base64.b64decode(token) for name, token in json.loads(prepared.tokens).items()}
    store_tokens(enrolment, _Known(prepared.known_fields), tokens, prepared.epoch, prepared.version)
    enrolment.key_scheme = prepared.key_scheme
    match_enrolment(enrolment.id)
    return "enrolled"


# --- the weekly budget ----------------------------------------------------------------------------


def budget_per_week() -> int:
    return current_app.extensions["livc.settings"].federation_enrolments_per_week


def used_this_week(tenant_id: int) -> int:
    """The cell's enrolments charged in the last seven days (released ones included)."""
    return db.session.scalar(
        sa.select(sa.func.count(BudgetUse.id)).where(
            BudgetUse.tenant_id == tenant_id, BudgetUse.used_at > utcnow() - BUDGET_WEEK
        )
    )


def held_count(tenant_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(FederationEnrolment.id)).where(
            FederationEnrolment.tenant_id == tenant_id, FederationEnrolment.status == EnrolmentStatus.HELD
        )
    )


def _outdated(enrolment: FederationEnrolment, charged: bool, custodian) -> bool:
    """The same identity's tokens made again because they are under an older key scheme or key
    epoch (the sweeper's re-enrolment): what the custodian admits as a re-enrolment. Anything
    else (new tokens, a reopened case, a retried job) is an enrolment to it."""
    if charged or enrolment.epoch is None:
        return False
    if enrolment.key_scheme is None or enrolment.key_scheme < KEY_SCHEME:
        return True
    return enrolment.epoch < custodian.epochs().current


def _within_budget(tenant_id: int) -> bool:
    return used_this_week(tenant_id) < budget_per_week()


def _hold(enrolment: FederationEnrolment) -> None:
    """Over budget: the enrolment waits for an operator's release. The first hold tells the
    cell (its trail) and the coordinators of the linked cells (mail and trail, no case data)."""
    # Once a week at most: a cell that changes a held case's identity tells nobody twice.
    first = held_count(enrolment.tenant_id) == 0 and db.session.scalar(
        sa.select(sa.func.count(AuditEntry.id)).where(
            AuditEntry.action == "federation.enrolment_held", AuditEntry.at > utcnow() - BUDGET_WEEK
        )
    ) == 0
    enrolment.status, enrolment.updated_at = EnrolmentStatus.HELD, utcnow()
    db.session.flush()
    audit.record("federation.enrolment_held", subject="federation:budget",
                 details={"budget": budget_per_week(), "held": held_count(enrolment.tenant_id)})
    if first:
        _tell_neighbours(enrolment.tenant_id)


def _tell_neighbours(tenant_id: int) -> None:
    """The coordinators of every cell linked to ``tenant_id`` learn that it reached its budget
    of new enrolments (a probing cell is visible to those it could probe): the cell's name only."""
    cell = db.session.get(Tenant, tenant_id)
    for other_id in linked_cells(tenant_id):
        other = db.session.get(Tenant, other_id)
        audit_in(other_id, "federation.neighbour_budget_reached", subject=f"tenant:{tenant_id}",
                 details={"cell": cell.slug, "budget": budget_per_week()})
        subject, body = render_mail("federation_budget_reached", other.languages[0], tenant=other, other=cell.name,
                                    budget=budget_per_week())
        with tenant_context(other_id):
            for contact in coordinator_contacts():
                send_mail(contact.email, subject, body, tenant_id=other_id)


def release_held(tenant_id: int, operator_id: int | None = None) -> int:
    """An operator lets the cell's held enrolments proceed (a platform-level call; the caller
    audits it in the operator trail, mirrored to the cell's): computed in batches of
    :data:`ENROL_BATCH` per job, charged to the budget as released. How many were released."""
    held = db.session.scalars(
        sa.select(FederationEnrolment).where(
            FederationEnrolment.tenant_id == tenant_id, FederationEnrolment.status == EnrolmentStatus.HELD
        ).order_by(FederationEnrolment.id)
    ).all()
    if not held:
        return 0
    now = utcnow()
    with tenant_context(tenant_id):
        case_ids = _case_ids(enrolment.ref for enrolment in held)
        for enrolment in held:
            enrolment.status, enrolment.released_at, enrolment.updated_at = EnrolmentStatus.PENDING, now, now
        db.session.add(BudgetRelease(tenant_id=tenant_id, operator_id=operator_id, count=len(held), released_at=now))
        db.session.flush()
        _enqueue_batches(tenant_id, [(case_ids[e.ref], e) for e in held if e.ref in case_ids])
    return len(held)


@task(queue="federation")
def enrol_cases(case_ids: list[int]) -> int:
    """Enrol a batch of the cell's cases (:func:`enrol_case` each, in a savepoint of its own, so
    one case's failure costs no other); idempotent. If the key custodian is down or refuses,
    the batch stops asking it and commits what it did: the rest stay pending for the sweeper.
    How many were done."""

    done = 0
    for position, case_id in enumerate(case_ids):
        try:
            with db.session.begin_nested():
                enrol_case(case_id)  # asks the custodian before it writes anything
        except CUSTODIAN_WAITS as error:
            log.warning("federation: %d enrolments wait for the key custodian (%s)", len(case_ids) - position,
                        error_type(error))
            break
        except Exception as error:  # this case waits for the sweeper; the batch goes on
            log.error("federation: an enrolment of a batch failed (%s)", error_type(error))
            continue
        done += 1
    return done


@task(queue="federation")
def enrol_cell() -> int:
    """Enrol every open case of the cell (a link became active): all written as pending first,
    then computed in batches (:func:`enrol_cases`) once this commits. How many wait."""

    cases = followed_cases_with_identity()
    waiting = [(case.id, enrolment) for case in cases if (enrolment := request_enrolment(case, job=False)) is not None]
    _enqueue_batches(current_tenant_id(), waiting)
    return len(waiting)


REENROL_PER_SWEEP = 500  # cases per cell per sweep after a key rotation or scheme change


def _reenrol_outdated(tenant_id: int) -> int:
    """Re-enrol this cell's cases whose tokens are outdated, a batch per sweep: made under an
    older key epoch (the custodian rotated its key) or an older key scheme
    (:data:`~livc.federation.match_keys.KEY_SCHEME`: the match keys changed). Tokens of
    different epochs never match, and an old scheme's keys are not those a new case makes, so
    both sides of a link move to the new ones; an old epoch can then be retired."""

    enrolled = sa.and_(
        FederationEnrolment.tenant_id == tenant_id, FederationEnrolment.status == EnrolmentStatus.ENROLLED
    )
    if db.session.scalars(sa.select(FederationEnrolment.id).where(enrolled).limit(1)).first() is None:
        return 0
    try:
        current = custodian_for(current_app.extensions["livc.settings"]).epochs().current
    except CUSTODIAN_WAITS as error:  # re-enrolling would wait for it too: next sweep
        log.warning("federation: re-enrolment waits for the key custodian (%s)", error_type(error))
        return 0
    outdated = db.session.scalars(
        sa.select(FederationEnrolment).where(
            enrolled,
            sa.or_(
                FederationEnrolment.epoch < current,
                FederationEnrolment.key_scheme.is_(None),
                FederationEnrolment.key_scheme < KEY_SCHEME,
            ),
        ).order_by(FederationEnrolment.id).limit(REENROL_PER_SWEEP)
    ).all()
    case_ids = _case_ids(enrolment.ref for enrolment in outdated)
    waiting = [(case_ids[e.ref], e) for e in outdated if e.ref in case_ids]
    for _, enrolment in waiting:
        enrolment.status = EnrolmentStatus.PENDING
    _enqueue_batches(tenant_id, waiting)
    return len(waiting)


def _case_ids(refs) -> dict[str, int]:
    """The cases behind these enrolment refs (ref -> case id; a case that is gone is missing)."""
    refs = set(refs)
    if not refs:
        return {}
    return dict(db.session.execute(
        sa.select(CaseFederation.ref, CaseFederation.case_id).where(CaseFederation.ref.in_(refs))
    ).all())


@task(queue="maintenance")
def sweep_enrolments(older_than: timedelta = STUCK_AFTER) -> int:
    """Re-enqueue this cell's enrolments whose job was lost or failed (pending for too long, and
    RQ no longer holds their job: the key custodian was down or refused, or Redis lost it), in
    batches; re-enrol cases under an older key epoch or key scheme, and the notification of
    alerts not yet mailed to this cell. Periodic, per tenant; a custodian that is still
    unavailable stops none of it. An enrolment whose job is still queued, waiting for a retry
    or running is left to it; when Redis cannot be asked, pending ones wait for the next sweep.
    How many enrolments were sent again."""

    tenant_id = current_tenant_id()
    cutoff = utcnow() - older_than
    stuck = db.session.scalars(
        sa.select(FederationEnrolment).where(
            FederationEnrolment.tenant_id == tenant_id,
            FederationEnrolment.status == EnrolmentStatus.PENDING,
            FederationEnrolment.updated_at < cutoff,
        )
    ).all()
    in_hand = live_jobs(enrolment.job_id for enrolment in stuck) if stuck else set()
    if in_hand is None:
        log.warning("federation: the sweep cannot ask the queues; pending enrolments wait for the next one")
        stuck, in_hand = [], set()
    case_ids = _case_ids(enrolment.ref for enrolment in stuck)
    waiting = []
    for enrolment in stuck:
        if enrolment.job_id in in_hand:
            continue  # queued behind others, waiting for a retry or running: not lost
        if enrolment.ref not in case_ids:  # the case is gone
            enrolment.status, enrolment.updated_at = EnrolmentStatus.REMOVED, utcnow()
            continue
        waiting.append((case_ids[enrolment.ref], enrolment))
    _enqueue_batches(tenant_id, waiting)
    count = len(waiting) + _reenrol_outdated(tenant_id)
    unnotified = db.session.scalars(
        sa.select(MatchAlert.id).where(
            MatchAlert.state == AlertState.OPEN,
            MatchAlert.created_at < cutoff,
            sa.or_(
                sa.and_(MatchAlert.tenant_a_id == tenant_id, MatchAlert.notified_a_at.is_(None)),
                sa.and_(MatchAlert.tenant_b_id == tenant_id, MatchAlert.notified_b_at.is_(None)),
            ),
            # the newer side is mailed only once the earlier one judged it worth checking
            sa.or_(
                MatchAlert.disclosed_at.is_not(None),
                sa.and_(MatchAlert.tenant_a_id == tenant_id, MatchAlert.earlier_side == "a"),
                sa.and_(MatchAlert.tenant_b_id == tenant_id, MatchAlert.earlier_side == "b"),
            ),
        )
    ).all()
    for alert_id in unnotified:
        enqueue(notify_alert, alert_id, tenant_id=None)
    return count
