"""Links between cells, and the enrolment of cases' tokens in the federation index.

Links: a cell's coordinator asks (:func:`request_link`), the other cell's coordinator agrees
(:func:`agree_link`); either side can end it (:func:`end_link`), which withdraws the link's
open alerts and takes the tokens of a cell left without any link out of the index.

Enrolment: a case's tokens are in the index while the case is open, has an identity, is not
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
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.federation.custodian_client import CUSTODIAN_WAITS
from livc.federation.match_keys import (
    KEY_SCHEME,
    DateError,
    Identity,
    NationalNumberError,
    identity_keys,
    key_class,
)
from livc.federation.models import (
    AlertState,
    CaseFederation,
    EnrolmentStatus,
    FederationEnrolment,
    FederationLink,
    FederationToken,
    MatchAlert,
)
from livc.platform import audit
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.jobs import enqueue, error_type, task
from livc.platform.timeutil import utcnow

log = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=5)  # a pending enrolment this old lost its job
REASON_REQUIRED = _l("Say why this case is kept out of the federation.")
NOT_COORDINATOR = _l("Only a coordinator of the cell can do this.")
SAME_CELL = _l("A cell cannot be linked to itself.")
LINK_EXISTS = _l("These cells are already linked or a link is waiting for agreement.")
NO_LINK = _l("There is no such link.")


class FederationError(ValidationError):
    """A federation step that is not allowed (the message says why, never a value)."""

    def __init__(self, message) -> None:
        super().__init__({"_schema": [str(message)]})


def _check_coordinator(actor, tenant_id: int) -> None:
    from livc.tenants.members import Role

    if actor is None or actor.tenant_id != tenant_id or actor.role != Role.COORDINATOR or not actor.usable:
        raise FederationError(NOT_COORDINATOR)
    if current_tenant_id() != tenant_id:
        raise FederationError(NOT_COORDINATOR)


def audit_in(tenant_id: int, action: str, *, subject: str | None = None, details: dict | None = None) -> None:
    """An entry in ``tenant_id``'s trail (ids and refs only)."""
    with tenant_context(tenant_id):
        audit.record(action, subject=subject, details=details)


# --- links ------------------------------------------------------------------------------------


def _pair(first: int, second: int) -> tuple[int, int]:
    return (first, second) if first < second else (second, first)


def _live_link(tenant_id: int, other_tenant_id: int) -> FederationLink | None:
    low, high = _pair(tenant_id, other_tenant_id)
    return db.session.scalar(
        sa.select(FederationLink).where(
            FederationLink.cell_a_id == low, FederationLink.cell_b_id == high, FederationLink.ended_at.is_(None)
        )
    )


def active_links_query(tenant_id: int) -> sa.Select:
    return sa.select(FederationLink).where(
        FederationLink.ended_at.is_(None),
        FederationLink.a_agreed_at.is_not(None),
        FederationLink.b_agreed_at.is_not(None),
        sa.or_(FederationLink.cell_a_id == tenant_id, FederationLink.cell_b_id == tenant_id),
    )


def linked_cells(tenant_id: int) -> dict[int, int]:
    """The cells actively linked to ``tenant_id``: other cell id -> link id."""
    return {link.other(tenant_id): link.id for link in db.session.scalars(active_links_query(tenant_id))}


def links_of(tenant_id: int) -> list[FederationLink]:
    """Every live link of the cell, agreed or waiting (for pages)."""
    return list(db.session.scalars(
        sa.select(FederationLink).where(
            FederationLink.ended_at.is_(None),
            sa.or_(FederationLink.cell_a_id == tenant_id, FederationLink.cell_b_id == tenant_id),
        ).order_by(FederationLink.id)
    ))


def request_link(tenant_id: int, other_tenant_id: int, actor) -> FederationLink:
    """The coordinator of ``tenant_id`` asks to be linked to ``other_tenant_id`` (agreed on
    this side already)."""
    from livc.tenants.models import Tenant, TenantStatus

    _check_coordinator(actor, tenant_id)
    other = db.session.get(Tenant, other_tenant_id)
    if other_tenant_id == tenant_id:
        raise FederationError(SAME_CELL)
    if other is None or other.status != TenantStatus.ACTIVE:
        raise FederationError(NO_LINK)
    if _live_link(tenant_id, other_tenant_id) is not None:
        raise FederationError(LINK_EXISTS)
    low, high = _pair(tenant_id, other_tenant_id)
    now = utcnow()
    link = FederationLink(cell_a_id=low, cell_b_id=high, requested_by_id=tenant_id, requested_at=now)
    if tenant_id == low:
        link.a_agreed_at = now
    else:
        link.b_agreed_at = now
    db.session.add(link)
    db.session.flush()
    details = {"link_id": link.id, "requested_by": tenant_id, "membership_id": actor.id}
    audit_in(tenant_id, "federation.link_requested", subject=f"cell:{other_tenant_id}", details=details)
    audit_in(other_tenant_id, "federation.link_requested", subject=f"cell:{tenant_id}", details=details)
    return link


def agree_link(tenant_id: int, other_tenant_id: int, actor) -> FederationLink:
    """The coordinator of ``tenant_id`` agrees to the link the other cell asked for; once both
    agreed, both cells' open cases are enrolled."""
    _check_coordinator(actor, tenant_id)
    link = _live_link(tenant_id, other_tenant_id)
    if link is None:
        raise FederationError(NO_LINK)
    if link.active:
        return link
    now = utcnow()
    if tenant_id == link.cell_a_id:
        link.a_agreed_at = link.a_agreed_at or now
    else:
        link.b_agreed_at = link.b_agreed_at or now
    db.session.flush()
    details = {"link_id": link.id, "membership_id": actor.id, "active": link.active}
    audit_in(tenant_id, "federation.link_agreed", subject=f"cell:{other_tenant_id}", details=details)
    audit_in(other_tenant_id, "federation.link_agreed", subject=f"cell:{tenant_id}", details=details)
    if link.active:
        for cell in (link.cell_a_id, link.cell_b_id):
            enqueue(enrol_cell, tenant_id=cell)
    return link


def end_link(tenant_id: int, other_tenant_id: int, actor) -> FederationLink:
    """Either side ends the link (or withdraws its request): its open alerts are withdrawn,
    and a cell left without any active link has its tokens taken out of the index."""
    _check_coordinator(actor, tenant_id)
    link = _live_link(tenant_id, other_tenant_id)
    if link is None:
        raise FederationError(NO_LINK)
    now = utcnow()
    link.ended_at, link.ended_by_id = now, tenant_id
    withdrawn = db.session.execute(
        sa.update(MatchAlert)
        .where(MatchAlert.link_id == link.id, MatchAlert.state == AlertState.OPEN)
        .values(state=AlertState.WITHDRAWN, withdrawn_at=now, updated_at=now)
    ).rowcount
    db.session.flush()
    for cell in (link.cell_a_id, link.cell_b_id):
        if not linked_cells(cell):
            _unenrol_cell(cell)
    details = {"link_id": link.id, "membership_id": actor.id, "alerts_withdrawn": withdrawn}
    audit_in(tenant_id, "federation.link_ended", subject=f"cell:{other_tenant_id}", details=details)
    audit_in(other_tenant_id, "federation.link_ended", subject=f"cell:{tenant_id}", details=details)
    return link


def _unenrol_cell(tenant_id: int) -> None:
    """Every enrolment of a cell out of the index (platform-level: no tenant data needed)."""
    ids = sa.select(FederationEnrolment.id).where(FederationEnrolment.tenant_id == tenant_id)
    db.session.execute(sa.delete(FederationToken).where(FederationToken.enrolment_id.in_(ids)))
    db.session.execute(
        sa.update(FederationEnrolment)
        .where(FederationEnrolment.tenant_id == tenant_id, FederationEnrolment.status != EnrolmentStatus.REMOVED)
        .values(status=EnrolmentStatus.REMOVED, updated_at=utcnow())
    )


# --- enrolment (inside the cell) -----------------------------------------------------------------


def federation_of(case, *, create: bool = False) -> CaseFederation | None:
    row = db.session.scalar(sa.select(CaseFederation).where(CaseFederation.case_id == case.id))
    if row is None and create:
        row = CaseFederation(case_id=case.id)
        db.session.add(row)
        db.session.flush()
    return row


def _enrolment(ref: str) -> FederationEnrolment | None:
    return db.session.scalar(sa.select(FederationEnrolment).where(FederationEnrolment.ref == ref))


def eligible(case, row: CaseFederation | None) -> bool:
    from livc.tenants.case_models import CaseStatus

    return case.status == CaseStatus.OPEN and case.identity_id is not None and (row is None or row.excluded_at is None)


def request_enrolment(case, *, job: bool = True) -> FederationEnrolment | None:
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


def remove_enrolment(case, reason: str) -> None:
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


def exclude_case(case, actor, reason: str) -> CaseFederation:
    """A coordinator keeps a case out of the federation, saying why (audited)."""
    _check_coordinator(actor, current_tenant_id())
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [str(REASON_REQUIRED)]})
    row = federation_of(case, create=True)
    row.excluded_at, row.excluded_by_id, row.excluded_reason = utcnow(), actor.id, reason
    audit.record("federation.case_excluded", subject=f"case:{case.code}", details={"membership_id": actor.id})
    remove_enrolment(case, "excluded")
    return row


def include_case(case, actor) -> None:
    """Undo an exclusion: the case is enrolled again if it qualifies."""
    _check_coordinator(actor, current_tenant_id())
    row = federation_of(case)
    if row is None or row.excluded_at is None:
        return
    row.excluded_at, row.excluded_by_id, row.excluded_reason = None, None, None
    audit.record("federation.case_included", subject=f"case:{case.code}", details={"membership_id": actor.id})
    request_enrolment(case)


# --- jobs ----------------------------------------------------------------------------------------


def identity_version(identity) -> str:
    """A digest of the identity's ciphertexts: changes whenever the identity is rewritten."""
    digest = hashlib.sha256()
    for column in ("given_names_ciphertext", "family_name_ciphertext", "date_of_birth_ciphertext",
                   "national_number_ciphertext"):
        digest.update((getattr(identity, column) or "").encode() + b"\x00")
    return digest.hexdigest()


def _parsed(identity) -> Identity:
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


@task(queue="federation")
def enrol_case(case_id: int) -> str:
    """Compute and store a case's tokens (runs in the case's cell); idempotent."""
    from livc.federation.custodian_client import custodian_for
    from livc.tenants.case_models import Case
    from livc.tenants.models import Tenant

    tenant_id = current_tenant_id()
    case = db.session.get(Case, case_id)
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
    parsed = _parsed(case.identity)
    keys = identity_keys(parsed)
    slug = db.session.get(Tenant, tenant_id).slug
    epoch, tokens = custodian_for(current_app.extensions["livc.settings"]).tokens(slug, list(keys.values()))
    db.session.execute(sa.delete(FederationToken).where(FederationToken.enrolment_id == enrolment.id))
    for key_type, token in dict.fromkeys(
        (key_class(key_type), token) for key_type, token in zip(keys, tokens, strict=True)
    ):
        db.session.add(FederationToken(
            enrolment_id=enrolment.id, tenant_id=tenant_id, epoch=epoch, key_type=key_type, token=token
        ))
    enrolment.epoch, enrolment.key_scheme = epoch, KEY_SCHEME
    enrolment.identity_version = identity_version(case.identity)
    enrolment.known = ",".join(sorted(parsed.known))
    enrolment.status, enrolment.updated_at = EnrolmentStatus.ENROLLED, utcnow()
    db.session.flush()
    # Matched in this job's transaction (a retry redoes both, idempotently): one job fewer
    # between a case and its alert.
    from livc.federation.matching import match_enrolment

    match_enrolment(enrolment.id)
    return "enrolled"


@task(queue="federation")
def enrol_cell() -> int:
    """Enrol every open case of the cell (a link became active): all written as pending first,
    then computed one by one in this job. If the key custodian is down or refuses, the job
    stops asking it and commits: the cases not done stay pending for the sweeper."""
    from livc.tenants.case_models import Case, CaseStatus

    cases = db.session.scalars(
        sa.select(Case).where(Case.status == CaseStatus.OPEN, Case.identity_id.is_not(None)).order_by(Case.id)
    ).all()
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
    from livc.federation.custodian_client import custodian_for

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
    from livc.federation.alerts import notify_alert

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
        )
    ).all()
    for alert_id in unnotified:
        enqueue(notify_alert, alert_id, tenant_id=None)
    return count
