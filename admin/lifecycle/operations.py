"""A tenant's lifecycle: suspend, reactivate, and offboarding (export, crypto-shredding, report).

The rules live here; the console pages, the JSON API and ``livc tenant ...`` call these.

Offboarding is a sequence of steps, each its own job (``run_step``), resumable and idempotent::

    suspend  ->  export  ->  shred  ->  verify

Every step's state (pending, running, done, failed), counts and error type is written to the
database (:class:`OffboardingStep`) so the console shows progress and a failed step can be
resumed. A step whose worker died (killed mid-step, its job lost with Redis) is resumed by the
periodic :func:`resume_stalled_offboardings` once it ran longer than a job may and RQ no longer
holds its job: the cell does not stay suspended until an operator notices. The tables here are platform-level on purpose: they outlive the tenant's own rows,
keep its id and slug as plain values (no cascading foreign key), and hold no case content.
See ``admin/LIFECYCLE.md`` for the export format and who can read what.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError
from marshmallow.validate import Email
from rq import get_current_job

from livc.admin.lifecycle.export import export_of, step_export
from livc.admin.lifecycle.models import (
    ALREADY_OFFBOARDED,
    BEING_OFFBOARDED,
    NOT_ACTIVE,
    NOT_OFFBOARDING,
    NOT_SUSPENDED,
    OFFBOARDING_FINISHED,
    REASON_MAX,
    REASON_REQUIRED,
    REASON_TOO_LONG,
    RECIPIENT_INVALID,
    STALE_RUNNING,
    STEPS,
    STILL_RUNNING,
    LifecycleError,
    Offboarding,
    OffboardingStep,
    RunState,
    StepState,
    VerificationFailed,
    log,
    plain_counts,
    record_event,
)
from livc.admin.lifecycle.shredding import step_shred
from livc.admin.lifecycle.verification import export_state, report_of, step_verify
from livc.platform.accounts import EMAIL_MAX, normalise_email
from livc.platform.db import db, tenant_context
from livc.platform.job_status import live_jobs
from livc.platform.jobs import enqueue, error_type, resume_paused_jobs, task
from livc.platform.sessions import AuthSession
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow

# --- suspend and reactivate -----------------------------------------------------------------------


def _end_sessions(tenant_id: int) -> int:
    with tenant_context(tenant_id):
        return db.session.execute(sa.delete(AuthSession)).rowcount or 0


def suspend(tenant: Tenant, actor: str, reason: str) -> int:
    """Suspend an active cell: members cannot sign in, every session ends, the data stays, and
    its jobs wait (:class:`~livc.platform.jobs.PausedJob`) until it is reactivated.
    Returns the number of sessions ended."""
    reason = (reason or "").strip()
    if not reason:
        raise LifecycleError(REASON_REQUIRED, "reason")
    if len(reason) > REASON_MAX:
        raise LifecycleError(REASON_TOO_LONG, "reason")
    if tenant.status != TenantStatus.ACTIVE:
        raise LifecycleError(NOT_ACTIVE)
    return _suspend(tenant, actor, {"reason": reason})


def _suspend(tenant: Tenant, actor: str, details: dict[str, Any]) -> int:
    tenant.status = TenantStatus.SUSPENDED
    db.session.flush()
    ended = _end_sessions(tenant.id)
    record_event(tenant, "tenant.suspended", actor, {**details, "sessions_ended": ended})
    return ended


def reactivate(tenant: Tenant, actor: str) -> int:
    """Reactivate a suspended cell; its paused jobs go back to the queues when this commits.
    Returns how many jobs were resumed."""
    if db.session.scalar(sa.select(Offboarding.id).where(Offboarding.tenant_id == tenant.id)) is not None:
        raise LifecycleError(BEING_OFFBOARDED)
    if tenant.status != TenantStatus.SUSPENDED:
        raise LifecycleError(NOT_SUSPENDED)
    tenant.status = TenantStatus.ACTIVE
    db.session.flush()
    resumed = resume_paused_jobs(tenant.id)
    record_event(tenant, "tenant.reactivated", actor, {"jobs_resumed": resumed})
    return resumed


# --- offboarding: the run and its steps ----------------------------------------------------------


def _valid_recipient(recipient: str) -> str:
    recipient = normalise_email(recipient or "")
    try:
        Email()(recipient)
    except ValidationError:
        raise LifecycleError(RECIPIENT_INVALID, "recipient") from None
    if len(recipient) > EMAIL_MAX:
        raise LifecycleError(RECIPIENT_INVALID, "recipient")
    return recipient


def offboarding_of(tenant_id: int, *, lock: bool = False) -> Offboarding | None:
    query = sa.select(Offboarding).where(Offboarding.tenant_id == tenant_id)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def start_offboarding(tenant: Tenant, actor: str, recipient: str) -> Offboarding:
    """Begin offboarding ``tenant``: the run and its steps are written first, then the first
    step's job is enqueued (it runs once this transaction commits).

    ``recipient`` is the municipality's designated person, who alone gets the export's link.
    Offboarding a cell twice is refused.
    """
    recipient = _valid_recipient(recipient)
    if tenant.status == TenantStatus.OFFBOARDED or offboarding_of(tenant.id) is not None:
        raise LifecycleError(ALREADY_OFFBOARDED)
    now = utcnow()
    run = Offboarding(
        tenant_id=tenant.id, tenant_slug=tenant.slug, tenant_name=tenant.name, recipient_email=recipient,
        requested_by=actor, state=RunState.RUNNING, created_at=now, updated_at=now,
        steps=[OffboardingStep(name=name, position=position, state=StepState.PENDING, attempts=0, counts={},
                               updated_at=now) for position, name in enumerate(STEPS)],
    )
    try:
        with db.session.begin_nested():
            db.session.add(run)
            db.session.flush()
    except sa.exc.IntegrityError:  # another operator started it a moment ago
        raise LifecycleError(ALREADY_OFFBOARDED) from None
    record_event(tenant, "tenant.offboarding_started", actor, {"offboarding_id": run.id})
    enqueue(run_step, run.id, tenant_id=None)
    return run


def resume_offboarding(tenant: Tenant, actor: str) -> Offboarding:
    """Resume a failed offboarding (or one whose running step lost its job) from that step."""
    run = offboarding_of(tenant.id, lock=True)
    if run is None:
        raise LifecycleError(NOT_OFFBOARDING)
    if run.state == RunState.DONE:
        raise LifecycleError(OFFBOARDING_FINISHED)
    step = _current_step(run)
    if step is None:
        raise LifecycleError(OFFBOARDING_FINISHED)
    if step.state != StepState.FAILED and not _stalled(run):
        raise LifecycleError(STILL_RUNNING)
    _resume(run, tenant, step, actor)
    return run


def _resume(run: Offboarding, tenant: Tenant, step: OffboardingStep, actor: str) -> None:
    _reset(step)
    if step.name == "verify":  # a failed verification: shred again (idempotent), then verify
        _reset(run.step("shred"))
    run.state, run.updated_at = RunState.RUNNING, utcnow()
    record_event(tenant, "tenant.offboarding_resumed", actor, {"offboarding_id": run.id, "step": _current_step(run).name})
    enqueue(run_step, run.id, tenant_id=None)


def _stalled(run: Offboarding) -> bool:
    """Running, but nothing moved for longer than a job may take, and RQ no longer holds the
    step's job (queued, waiting or started by a live worker): its job was lost. When Redis
    cannot be asked, the time alone says so (RQ would have ended a job by then)."""
    if run.state != RunState.RUNNING or utcnow() - run.updated_at < STALE_RUNNING:
        return False
    step = _current_step(run)
    return not (live_jobs([step.job_id]) if step is not None else None)


SWEEP_ACTOR = "system:offboarding-sweep"


@task(queue="maintenance", retries=0)
def resume_stalled_offboardings() -> int:
    """Resume every offboarding whose step lost its job (:func:`_stalled`): the step is reset
    and run again (steps are idempotent), audited as resumed by the sweep. Periodic,
    platform-wide. How many were resumed."""
    resumed = 0
    for run_id in db.session.scalars(sa.select(Offboarding.id).where(Offboarding.state == RunState.RUNNING)).all():
        run = db.session.scalar(sa.select(Offboarding).where(Offboarding.id == run_id).with_for_update())
        step = _current_step(run) if run is not None else None
        if step is None or step.state == StepState.FAILED or not _stalled(run):
            continue
        _resume(run, db.session.get(Tenant, run.tenant_id), step, SWEEP_ACTOR)
        log.warning("offboarding %s: step %s lost its job and was resumed", run.id, step.name)
        resumed += 1
    return resumed


def _reset(step: OffboardingStep) -> None:
    step.state, step.error, step.updated_at = StepState.PENDING, None, utcnow()


def _current_step(run: Offboarding) -> OffboardingStep | None:
    return next((step for step in run.steps if step.state != StepState.DONE), None)


@task(queue="maintenance", retries=0)
def run_step(offboarding_id: int) -> str | None:
    """Run the offboarding's next step (a platform-level job) and enqueue the one after.

    The step is marked running in a transaction of its own (the console shows it), does its
    work and is marked done in one transaction, so a failure leaves nothing half-done: the
    step is marked failed with its error type, and :func:`resume_offboarding` runs it again.
    Duplicate jobs do nothing: the run is locked and a step that is running is left alone.
    With inline jobs (no Redis) the steps follow one another in this call instead.
    """
    inline = current_app.extensions["livc.settings"].jobs_inline
    outcome = _run_one(offboarding_id, enqueue_next=not inline)
    while inline and outcome == "next":
        outcome = _run_one(offboarding_id, enqueue_next=False)
    return outcome


def _run_one(offboarding_id: int, *, enqueue_next: bool) -> str | None:
    """One step: ``next`` when another follows, else ``done``, ``failed`` or None (nothing to do)."""
    run = db.session.scalar(sa.select(Offboarding).where(Offboarding.id == offboarding_id).with_for_update())
    if run is None or run.state != RunState.RUNNING:
        return None
    step = _current_step(run)
    if step is None:
        run.state, run.finished_at = RunState.DONE, run.finished_at or utcnow()
        db.session.commit()
        return None
    if step.state != StepState.PENDING:  # running in another job, or failed and not resumed
        return None
    now = utcnow()
    step.state, step.attempts, step.started_at, step.updated_at, step.error = (
        StepState.RUNNING, step.attempts + 1, now, now, None)
    job = get_current_job()
    step.job_id = job.id if job is not None else None
    run.updated_at = now
    tenant = db.session.get(Tenant, run.tenant_id)
    record_event(tenant, "tenant.offboarding_step_started", run.requested_by, {"step": step.name, "attempt": step.attempts})
    db.session.commit()
    name = step.name
    try:
        run = db.session.scalar(sa.select(Offboarding).where(Offboarding.id == offboarding_id).with_for_update())
        step = run.step(name)
        counts = STEP_WORK[name](run, db.session.get(Tenant, run.tenant_id))
    except Exception as error:
        db.session.rollback()
        _fail(offboarding_id, name, error_type(error))
        log.error("offboarding %s: step %s failed: %s", offboarding_id, name, error_type(error))
        return "failed"
    now = utcnow()
    step.counts, step.updated_at, step.finished_at, run.updated_at = counts, now, now, now
    tenant = db.session.get(Tenant, run.tenant_id)
    if name == "verify" and not counts.get("passed"):
        step.state, step.error, run.state = StepState.FAILED, error_type(VerificationFailed()), RunState.FAILED
        record_event(tenant, "tenant.offboarding_step_failed", run.requested_by, {"step": name, "error": step.error})
        db.session.commit()
        return "failed"
    step.state = StepState.DONE
    record_event(tenant, "tenant.offboarding_step_done", run.requested_by, {"step": name, **plain_counts(counts)})
    outcome = "next"
    if _current_step(run) is None:
        run.state, run.finished_at = RunState.DONE, now
        record_event(tenant, "tenant.offboarded", run.requested_by, {"offboarding_id": run.id})
        outcome = "done"
    elif enqueue_next:
        enqueue(run_step, run.id, tenant_id=None)  # handed over when this step commits
    db.session.commit()
    return outcome


# --- step (a): suspend ----------------------------------------------------------------------------


def _step_suspend(run: Offboarding, tenant: Tenant) -> dict[str, Any]:
    if tenant.status == TenantStatus.ACTIVE:
        return {"sessions_ended": _suspend(tenant, run.requested_by, {"reason": "offboarding"}), "was_active": True}
    return {"sessions_ended": _end_sessions(tenant.id), "was_active": False}


STEP_WORK = {"suspend": _step_suspend, "export": step_export, "shred": step_shred, "verify": step_verify}


# --- progress, for the console and the command ---------------------------------------------------------


def progress(tenant_id: int) -> dict[str, Any] | None:
    """The offboarding's state, steps, export and report as plain data (no content, no token)."""
    run = offboarding_of(tenant_id)
    if run is None:
        return None
    export = export_of(run)
    report = report_of(run)
    return {
        "tenant": run.tenant_slug,
        "state": run.state.value,
        "started_at": run.created_at,
        "finished_at": run.finished_at,
        "resumable": run.state == RunState.FAILED or _stalled(run),
        "steps": [{"name": step.name, "state": step.state.value, "attempts": step.attempts, "counts": step.counts,
                   "error": step.error, "started_at": step.started_at, "finished_at": step.finished_at}
                  for step in run.steps],
        "export": None if export is None else {
            "state": export_state(export), "recipient": export.recipient_email, "expires_at": export.expires_at,
            "downloaded_at": export.downloaded_at, "size": export.size, "files": len(export.manifest["files"])},
        "report": None if report is None else {
            "passed": report.passed, "checks": report.checks, "counts": report.counts, "created_at": report.created_at},
    }


def _fail(offboarding_id: int, name: str, error: str) -> None:
    run = db.session.scalar(sa.select(Offboarding).where(Offboarding.id == offboarding_id).with_for_update())
    step = run.step(name)
    now = utcnow()
    step.state, step.error, step.updated_at = StepState.FAILED, error, now
    run.state, run.updated_at = RunState.FAILED, now
    record_event(db.session.get(Tenant, run.tenant_id), "tenant.offboarding_step_failed", run.requested_by,
                 {"step": name, "error": error})
    db.session.commit()
