"""The enrolment of cases' tokens in the federation index (the links themselves are in
:mod:`livc.federation.links` and :mod:`livc.federation.linking`).

A case's tokens are in the index while the case is open, has an identity, is not
excluded by a coordinator (:func:`exclude_case`, with a reason) and its cell has an active
link. :func:`request_enrolment` writes the pending enrolment first and enqueues
:func:`enrol_case`, which computes the tokens through the key custodian, replaces the stored
ones (delete and insert, one transaction) and enqueues the matching. Removal
(:func:`remove_enrolment`) is immediate and in the caller's transaction. The periodic
:func:`sweep_enrolments` re-enqueues enrolments whose job was lost or failed, and re-enrols
cases whose tokens were made under an older key epoch or an older key scheme.

A key custodian that is down or refuses (:data:`CUSTODIAN_WAITS`) never costs a case: the case
and its pending enrolment are committed before any job asks the custodian, a failed
:func:`enrol_case` is retried by the jobs (with back-off, then by the sweeper), and the
coordinator's page says the enrolment waits.

A case is read only through :mod:`livc.tenants.cases.reading` (a
:class:`~livc.tenants.cases.reading.FederatedCase`; its identity, decrypted, in
:func:`enrol_case` alone); the cases' events reach it through :mod:`livc.federation.subscribers`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.federation.alerts import notify_alert
from livc.federation.custodian_client import CUSTODIAN_WAITS, custodian_for
from livc.federation.links import check_coordinator, linked_cells
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
    CaseFederation,
    EnrolmentStatus,
    FederationEnrolment,
    FederationToken,
    MatchAlert,
)
from livc.platform import audit
from livc.platform.db import current_tenant_id, db
from livc.platform.jobs import enqueue, error_type, task
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases.reading import (
    CaseIdentity,
    FederatedCase,
    case_for_federation,
    followed_cases_with_identity,
    identity_for_matching,
)

log = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=5)  # a pending enrolment this old lost its job
REASON_REQUIRED = _l("Say why this case is kept out of the federation.")


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
    return case.followed and case.has_identity and (row is None or row.excluded_at is None)


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
            _take_out(row)
        return None
    row = row or federation_of(case, create=True)
    enrolment = _enrolment(row.ref)
    if enrolment is None:
        enrolment = FederationEnrolment(tenant_id=tenant_id, ref=row.ref)
        db.session.add(enrolment)
    enrolment.status, enrolment.updated_at = EnrolmentStatus.PENDING, utcnow()
    db.session.flush()
    if job:
        enqueue(enrol_case, case.id, tenant_id=tenant_id)
    return enrolment


def _take_out(row: CaseFederation) -> bool:
    """Delete the case's tokens and withdraw its open alerts; True if it was in the index."""
    enrolment = _enrolment(row.ref)
    if enrolment is None or enrolment.status == EnrolmentStatus.REMOVED:
        return False
    now = utcnow()
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


def remove_enrolment(case: FederatedCase, reason: str) -> None:
    """Take a case out of the index now (closure, erasure, opt-out), in the caller's
    transaction. On erasure the case's ref mapping goes too."""
    row = federation_of(case)
    if row is None:
        return
    if _take_out(row):
        audit.record("federation.enrolment_removed", subject=f"case:{case.code}", details={"reason": reason})
    if reason == "erased":
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
    parsed = _parsed(identity)
    keys = identity_keys(parsed)
    slug = db.session.get(Tenant, tenant_id).slug
    epoch, tokens = custodian_for(current_app.extensions["livc.settings"]).tokens(slug, list(keys.values()))
    store_tokens(enrolment, parsed, dict(zip(keys, tokens, strict=True)), epoch, identity.version)
    # Matched in this job's transaction (a retry redoes both, idempotently): one job fewer
    # between a case and its alert.

    match_enrolment(enrolment.id)
    return "enrolled"


@task(queue="federation")
def enrol_cell() -> int:
    """Enrol every open case of the cell (a link became active): all written as pending first,
    then computed one by one in this job. If the key custodian is down or refuses, the job
    stops asking it and commits: the cases not done stay pending for the sweeper."""

    cases = followed_cases_with_identity()
    waiting = [case.id for case in cases if request_enrolment(case, job=False) is not None]
    count = 0
    for case_id in waiting:
        try:
            enrol_case(case_id)  # asks the custodian before it writes anything
        except CUSTODIAN_WAITS as error:
            log.warning("federation: %d enrolments wait for the key custodian (%s)", len(waiting) - count,
                        error_type(error))
            break
        count += 1
    return count


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
    count = 0
    for enrolment in outdated:
        case_id = db.session.scalar(sa.select(CaseFederation.case_id).where(CaseFederation.ref == enrolment.ref))
        if case_id is None:
            continue
        enrolment.status, enrolment.updated_at = EnrolmentStatus.PENDING, utcnow()
        enqueue(enrol_case, case_id, tenant_id=tenant_id)
        count += 1
    return count


@task(queue="maintenance")
def sweep_enrolments(older_than: timedelta = STUCK_AFTER) -> int:
    """Re-enqueue this cell's enrolments whose job was lost or failed (pending for too long:
    the key custodian was down or refused), re-enrol cases under an older key epoch or key
    scheme, and the notification of alerts not yet mailed to this cell. Periodic, per tenant;
    a custodian that is still unavailable stops none of it."""

    tenant_id = current_tenant_id()
    cutoff = utcnow() - older_than
    stuck = db.session.scalars(
        sa.select(FederationEnrolment).where(
            FederationEnrolment.tenant_id == tenant_id,
            FederationEnrolment.status == EnrolmentStatus.PENDING,
            FederationEnrolment.updated_at < cutoff,
        )
    ).all()
    count = 0
    for enrolment in stuck:
        case_id = db.session.scalar(sa.select(CaseFederation.case_id).where(CaseFederation.ref == enrolment.ref))
        if case_id is None:  # the case is gone
            enrolment.status, enrolment.updated_at = EnrolmentStatus.REMOVED, utcnow()
            continue
        enrolment.updated_at = utcnow()
        enqueue(enrol_case, case_id, tenant_id=tenant_id)
        count += 1
    count += _reenrol_outdated(tenant_id)
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
