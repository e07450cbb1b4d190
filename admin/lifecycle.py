"""A tenant's lifecycle: suspend, reactivate, and offboarding (export, crypto-shredding, report).

The rules live here; the console pages, the JSON API and ``livc tenant ...`` call these.

Offboarding is a sequence of steps, each its own job (``run_step``), resumable and idempotent::

    suspend  ->  export  ->  shred  ->  verify

Every step's state (pending, running, done, failed), counts and error type is written to the
database (:class:`OffboardingStep`) so the console shows progress and a failed step can be
resumed. The tables here are platform-level on purpose: they outlive the tenant's own rows,
keep its id and slug as plain values (no cascading foreign key), and hold no case content.
See ``admin/LIFECYCLE.md`` for the export format and who can read what.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import io
import json
import logging
import os
import re
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyzipper
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from marshmallow.validate import Email
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.admin.operators import record_action
from livc.platform.accounts import EMAIL_MAX, normalise_email
from livc.platform.crypto import keyed_digest, new_token
from livc.platform.db import Id, TenantScoped, db, tenant_context, value_enum
from livc.platform.jobs import JOB_TIMEOUT, enqueue, error_type, resume_paused_jobs, task
from livc.platform.keys import TENANT_SCOPE, DataKey, DecryptionFailed, KeyDestroyed, destroy_key, encrypted_fields
from livc.platform.mail import send_mail
from livc.platform.timeutil import utcnow
from livc.tenants.models import Tenant, TenantStatus

STEPS = ("suspend", "export", "shred", "verify")


class RunState(enum.StrEnum):
    RUNNING = "running"
    FAILED = "failed"
    DONE = "done"


class StepState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Offboarding(db.Model):
    """One tenant's offboarding run (at most one per tenant: offboarding twice is refused)."""

    __tablename__ = "offboardings"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Id, unique=True)
    tenant_slug: Mapped[str] = mapped_column(sa.String(63))
    tenant_name: Mapped[str] = mapped_column(sa.String(200))
    recipient_email: Mapped[str] = mapped_column(sa.String(254))
    requested_by: Mapped[str] = mapped_column(sa.String(120))
    state: Mapped[RunState] = mapped_column(value_enum(RunState, 20), default=RunState.RUNNING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]

    steps: Mapped[list[OffboardingStep]] = relationship(
        back_populates="offboarding", cascade="all, delete-orphan", order_by="OffboardingStep.position"
    )

    def step(self, name: str) -> OffboardingStep:
        return next(step for step in self.steps if step.name == name)


class OffboardingStep(db.Model):
    """One step of an offboarding: its state, what it counted, and the error type if it failed."""

    __tablename__ = "offboarding_steps"
    __table_args__ = (sa.UniqueConstraint("offboarding_id", "name", name="uq_offboarding_steps_offboarding_name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    offboarding_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("offboardings.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(20))
    position: Mapped[int]
    state: Mapped[StepState] = mapped_column(value_enum(StepState, 20), default=StepState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.String(200))  # the exception's type, never its message
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    offboarding: Mapped[Offboarding] = relationship(back_populates="steps")


class TenantExport(db.Model):
    """The export handed to the municipality's designated person: who, the link's digest, when.

    The file itself (:class:`TenantExportFile`) is encrypted under a key of its own, stored
    only wrapped by a key derived from the single-use link's token, which the platform never
    keeps: without the mailed link nobody (the operator included) can open it.
    """

    __tablename__ = "tenant_exports"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    offboarding_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("offboardings.id", ondelete="CASCADE"), unique=True)
    tenant_id: Mapped[int] = mapped_column(Id, index=True)
    tenant_slug: Mapped[str] = mapped_column(sa.String(63))
    recipient_email: Mapped[str] = mapped_column(sa.String(254))
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)  # keyed digest of the link's token
    format_version: Mapped[str] = mapped_column(sa.String(10))
    manifest: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # file names and row counts only
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    storage: Mapped[str] = mapped_column(sa.String(100))  # where the encrypted file is kept
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    key_wrapping: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    downloaded_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    deleted_because: Mapped[str | None] = mapped_column(sa.String(20))  # "downloaded" or "expired"


class TenantExportFile(db.Model):
    """The encrypted export's bytes, in the database so web and worker share it; deleted after
    download or expiry."""

    __tablename__ = "tenant_export_files"

    export_id: Mapped[int] = mapped_column(
        Id, sa.ForeignKey("tenant_exports.id", ondelete="CASCADE"), primary_key=True
    )
    ciphertext: Mapped[bytes] = mapped_column(sa.LargeBinary)


class OffboardingReport(db.Model):
    """The verification report: what was checked after crypto-shredding, and what was found."""

    __tablename__ = "offboarding_reports"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    offboarding_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("offboardings.id", ondelete="CASCADE"), unique=True)
    tenant_id: Mapped[int] = mapped_column(Id, index=True)
    tenant_slug: Mapped[str] = mapped_column(sa.String(63))
    passed: Mapped[bool]
    checks: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    counts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # rows removed per table
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- operations ---------------------------------------------------------------------------------

EXPORT_FORMAT = "livc-tenant-export"
EXPORT_VERSION = "1"
EXPORT_VALID_DAYS = 14
EXPORT_WRAPPING = "A256GCM/HKDF-SHA256(link token)"
EXPORT_STORAGE = "database:tenant_export_files"
STALE_RUNNING = timedelta(seconds=JOB_TIMEOUT * 2)  # a step "running" this long lost its job
REASON_MAX = 500
# Tables never handed over: keys (destroyed, not the municipality's), sign-in sessions and
# single-use links (credentials).
NOT_EXPORTED = frozenset({"data_keys", "auth_sessions", "password_resets"})
# Columns never handed over: credentials and blind indexes (keyed digests, useless outside).
_SECRET_COLUMN = re.compile(r"(?:^|_)(?:secret|token_digest|code_digest)$|_index$")

REASON_REQUIRED = _l("Say why the cell is suspended.")
REASON_TOO_LONG = _l("Keep the reason under 500 characters.")
NOT_ACTIVE = _l("Only an active cell can be suspended.")
NOT_SUSPENDED = _l("Only a suspended cell can be reactivated.")
BEING_OFFBOARDED = _l("This cell is being offboarded: it cannot be reactivated.")
ALREADY_OFFBOARDED = _l("This cell is already being offboarded or was offboarded.")
RECIPIENT_INVALID = _l("Give the e-mail address of the municipality's designated person.")
NOT_OFFBOARDING = _l("This cell is not being offboarded.")
STILL_RUNNING = _l("A step of this offboarding is still running: wait for it to finish or fail.")
OFFBOARDING_FINISHED = _l("This offboarding has finished.")
UNKNOWN_TENANT = _l("There is no cell at this address.")

log = logging.getLogger(__name__)


class LifecycleError(ValidationError):
    """A lifecycle action that is not allowed or has bad input (field -> messages, no values)."""

    def __init__(self, message, field: str = "_schema") -> None:
        super().__init__({field: [text(message)]})


def text(message) -> str:
    """A translatable message as text: in the request's language, in English for a command."""
    if has_request_context():
        return str(message)
    with force_locale("en"):
        return str(message)


class VerificationFailed(Exception):
    """The verification report found something of the tenant left after crypto-shredding."""


# --- audit --------------------------------------------------------------------------------------


def record_event(tenant: Tenant, action: str, actor: str, details: dict[str, Any] | None = None) -> None:
    """Audit a lifecycle step in the operator trail, which outlives the tenant, and in the
    tenant's own trail while it still has one (ids and counts only)."""
    live = tenant.status != TenantStatus.OFFBOARDED
    record_action(action, actor=actor, tenant=tenant if live else None, subject=f"tenant:{tenant.slug}",
                  details=details or {})


def tenant_by_slug(slug: str) -> Tenant:
    tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise LifecycleError(UNKNOWN_TENANT, "slug")
    return tenant


# --- suspend and reactivate -----------------------------------------------------------------------


def _end_sessions(tenant_id: int) -> int:
    from livc.platform.sessions import AuthSession

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
    _reset(step)
    if step.name == "verify":  # a failed verification: shred again (idempotent), then verify
        _reset(run.step("shred"))
    run.state, run.updated_at = RunState.RUNNING, utcnow()
    record_event(tenant, "tenant.offboarding_resumed", actor, {"offboarding_id": run.id, "step": _current_step(run).name})
    enqueue(run_step, run.id, tenant_id=None)
    return run


def _stalled(run: Offboarding) -> bool:
    """Running, but nothing moved for longer than a job may take: its job was lost."""
    return run.state == RunState.RUNNING and utcnow() - run.updated_at >= STALE_RUNNING


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
    record_event(tenant, "tenant.offboarding_step_done", run.requested_by, {"step": name, **_plain_counts(counts)})
    outcome = "next"
    if _current_step(run) is None:
        run.state, run.finished_at = RunState.DONE, now
        record_event(tenant, "tenant.offboarded", run.requested_by, {"offboarding_id": run.id})
        outcome = "done"
    elif enqueue_next:
        enqueue(run_step, run.id, tenant_id=None)  # handed over when this step commits
    db.session.commit()
    return outcome


def _plain_counts(counts: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in counts.items() if isinstance(value, int | bool)}


def _fail(offboarding_id: int, name: str, error: str) -> None:
    run = db.session.scalar(sa.select(Offboarding).where(Offboarding.id == offboarding_id).with_for_update())
    step = run.step(name)
    now = utcnow()
    step.state, step.error, step.updated_at = StepState.FAILED, error, now
    run.state, run.updated_at = RunState.FAILED, now
    record_event(db.session.get(Tenant, run.tenant_id), "tenant.offboarding_step_failed", run.requested_by,
                 {"step": name, "error": error})
    db.session.commit()


# --- step (a): suspend ----------------------------------------------------------------------------


def _step_suspend(run: Offboarding, tenant: Tenant) -> dict[str, Any]:
    if tenant.status == TenantStatus.ACTIVE:
        return {"sessions_ended": _suspend(tenant, run.requested_by, {"reason": "offboarding"}), "was_active": True}
    return {"sessions_ended": _end_sessions(tenant.id), "was_active": False}


# --- step (b): the export -----------------------------------------------------------------------

LINK_PURPOSE = "tenant-export-link"


def _tenant_models() -> list[type]:
    """Every tenant-scoped model (found from the mappers: a new table is exported too)."""
    models = [mapper.class_ for mapper in db.Model.registry.mappers if issubclass(mapper.class_, TenantScoped)]
    return sorted(models, key=lambda model: model.__tablename__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(record: object) -> dict[str, Any]:
    """One row as the export writes it: encrypted fields decrypted, credentials and blind
    indexes left out; a field erased earlier (its key destroyed) is null and named in ``_erased``."""
    fields = {field.column: field for field in encrypted_fields(type(record))}
    skipped = {field.index_column for field in fields.values() if field.index_column}
    row: dict[str, Any] = {}
    erased = []
    for attribute in sa.inspect(type(record)).column_attrs:
        key = attribute.key
        if key in skipped or _SECRET_COLUMN.search(key):
            continue
        if key in fields:
            field = fields[key]
            try:
                row[field.name] = getattr(record, field.name)
            except (KeyDestroyed, DecryptionFailed):
                row[field.name] = None
                erased.append(field.name)
            continue
        row[key] = _jsonable(getattr(record, key))
    if erased:
        row["_erased"] = erased
    return row


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode()


def export_documents(tenant: Tenant) -> list[tuple[str, bytes, int]]:
    """The export's files: (name, JSON bytes, row count), manifest excluded."""
    from livc.tenants.members import Membership

    documents = []
    organisation = {
        "slug": tenant.slug, "name": tenant.name, "kind": tenant.kind.value, "languages": tenant.languages,
        "created_at": tenant.created_at.isoformat(),
        "municipalities": [{"nis_code": m.nis_code, "name": m.name} for m in tenant.municipalities],
    }
    documents.append(("organisation.json", _json(organisation), 1))
    with tenant_context(tenant.id):
        members = db.session.scalars(sa.select(Membership).order_by(Membership.id)).all()
        directory = [{"membership_id": m.id, "account_id": m.account_id, "email": m.account.email,
                      "display_name": m.account.display_name} for m in members]
        documents.append(("members.json", _json({"members": directory}), len(directory)))
        for model in _tenant_models():
            table = model.__tablename__
            if table in NOT_EXPORTED:
                continue
            keys = sa.inspect(model).primary_key
            rows = [_row(record) for record in db.session.scalars(sa.select(model).order_by(*keys))]
            documents.append((f"tables/{table}.json", _json({"table": table, "rows": rows}), len(rows)))
    return documents


def _manifest(tenant: Tenant, documents: list[tuple[str, bytes, int]], created_at: datetime) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "created_at": created_at.isoformat(),
        "cell": {"slug": tenant.slug, "name": tenant.name},
        "encoding": "UTF-8 JSON; times in UTC (ISO 8601); one object per row, keyed by column",
        "files": [
            {"name": name, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data, rows in documents
        ],
        "not_included": sorted(NOT_EXPORTED),
    }


def _zip(documents: list[tuple[str, bytes]], passphrase: str | None = None) -> bytes:
    """A ZIP of ``documents``; with ``passphrase``, AES-256 encrypted (7-Zip, WinZip, macOS
    Archive Utility... open it)."""
    buffer = io.BytesIO()
    if passphrase is None:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in documents:
                archive.writestr(name, data)
    else:
        with pyzipper.AESZipFile(buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
            archive.setpassword(passphrase.encode())
            archive.setencryption(pyzipper.WZ_AES, nbits=256)
            for name, data in documents:
                archive.writestr(name, data)
    return buffer.getvalue()


def _seal(key: bytes, data: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, aad)


def _unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)


def _link_key(token: str, export_id: int) -> bytes:
    """The key that wraps the export's own key: derived from the mailed link's token only."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"livc/export-link/{export_id}".encode()).derive(token.encode())


def _aad(export_id: int, what: str) -> bytes:
    return f"livc/export/{export_id}/{what}".encode()


def export_link(token: str) -> str:
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/admin/export/{token}"


def _mail_export(export: TenantExport, tenant: Tenant, token: str) -> None:
    with force_locale(tenant.languages[0]):
        text = render_template("admin/export_mail.txt", cell=tenant.name, link=export_link(token),
                               expires_on=export.expires_at.date().isoformat())
    subject, _, body = text.strip().partition("\n")
    send_mail(export.recipient_email, subject.strip(), body.strip() + "\n", tenant_id=None)


def _step_export(run: Offboarding, tenant: Tenant) -> dict[str, Any]:
    existing = db.session.scalar(sa.select(TenantExport).where(TenantExport.offboarding_id == run.id))
    if existing is not None:  # made and mailed by an earlier attempt that committed
        return {"files": len(existing.manifest["files"]), "rows": _rows(existing.manifest), "bytes": existing.size}
    now = utcnow()
    documents = export_documents(tenant)
    manifest = _manifest(tenant, documents, now)
    archive = _zip([("manifest.json", _json(manifest)), *((name, data) for name, data, _ in documents)])
    token = new_token()
    export = TenantExport(
        offboarding_id=run.id, tenant_id=tenant.id, tenant_slug=tenant.slug, recipient_email=run.recipient_email,
        token_digest=keyed_digest(LINK_PURPOSE, token), format_version=EXPORT_VERSION,
        # What the platform keeps of the manifest: names and counts (no hash of any content).
        manifest={"files": [{key: entry[key] for key in ("name", "rows", "bytes")} for entry in manifest["files"]]},
        size=len(archive), storage=EXPORT_STORAGE, key_wrapping=EXPORT_WRAPPING, created_at=now,
        expires_at=now + timedelta(days=EXPORT_VALID_DAYS),
    )
    db.session.add(export)
    db.session.flush()
    key = os.urandom(32)
    export.wrapped_key = _seal(_link_key(token, export.id), key, _aad(export.id, "key"))
    db.session.add(TenantExportFile(export_id=export.id, ciphertext=_seal(key, archive, _aad(export.id, "file"))))
    db.session.flush()
    _mail_export(export, tenant, token)  # handed over when this step commits
    counts = {"files": len(documents) + 1, "rows": _rows(manifest), "bytes": len(archive)}
    record_event(tenant, "tenant.exported", run.requested_by, {"export_id": export.id, **counts})
    return counts


def _rows(manifest: dict[str, Any]) -> int:
    return sum(entry["rows"] for entry in manifest["files"])


# --- step (c): crypto-shredding -------------------------------------------------------------------

KEPT_AS_EVIDENCE = "data_keys"  # destroyed keys stay: when, and that the scope can never be keyed again


def tenant_tables() -> list[tuple[sa.Table, list[sa.Column]]]:
    """Every table that refers to a tenant, with the columns that do, children before parents
    (found from the metadata: a table added later is shredded and verified too)."""
    found = []
    for table in reversed(db.metadata.sorted_tables):
        if table.name == Tenant.__tablename__:
            continue
        columns = [column for column in table.columns
                   if any(key.column.table.name == Tenant.__tablename__ for key in column.foreign_keys)]
        if columns:
            found.append((table, columns))
    return found


def _refers_to(columns: list[sa.Column], tenant_id: int) -> sa.ColumnElement[bool]:
    return sa.or_(*(column == tenant_id for column in columns))


def _withdraw_federation(tenant: Tenant) -> dict[str, int]:
    """End the cell's links and withdraw its alerts, telling the other cells' trails (ids only);
    its enrolments, tokens, alerts and links are then deleted with the other tenant rows."""
    from livc.federation.enrolment import audit_in
    from livc.federation.models import (
        AlertState,
        DismissedPair,
        FederationEnrolment,
        FederationLink,
        MatchAlert,
    )

    now = utcnow()
    alerts = db.session.scalars(sa.select(MatchAlert).where(
        sa.or_(MatchAlert.tenant_a_id == tenant.id, MatchAlert.tenant_b_id == tenant.id))).all()
    withdrawn = 0
    for alert in alerts:
        other = alert.tenant_b_id if alert.tenant_a_id == tenant.id else alert.tenant_a_id
        if alert.state == AlertState.OPEN:
            alert.state, alert.withdrawn_at, alert.updated_at = AlertState.WITHDRAWN, now, now
            withdrawn += 1
        if other != tenant.id:
            audit_in(other, "federation.alert_withdrawn", subject=f"alert:{alert.id}",
                     details={"reason": "cell_offboarded", "cell": tenant.id})
    links = db.session.scalars(sa.select(FederationLink).where(
        sa.or_(FederationLink.cell_a_id == tenant.id, FederationLink.cell_b_id == tenant.id))).all()
    ended = 0
    for link in links:
        if link.ended_at is None:
            link.ended_at, link.ended_by_id = now, tenant.id
            ended += 1
            audit_in(link.other(tenant.id), "federation.link_ended", subject=f"cell:{tenant.id}",
                     details={"link_id": link.id, "reason": "cell_offboarded"})
    refs = sa.select(FederationEnrolment.ref).where(FederationEnrolment.tenant_id == tenant.id)
    dismissed = db.session.execute(sa.delete(DismissedPair).where(
        sa.or_(DismissedPair.ref_low.in_(refs), DismissedPair.ref_high.in_(refs)))).rowcount or 0
    db.session.flush()
    return {"alerts_withdrawn": withdrawn, "links_ended": ended, "dismissed_pairs": dismissed}


def _destroy_keys(tenant_id: int) -> int:
    with tenant_context(tenant_id):
        scopes = set(db.session.scalars(sa.select(DataKey.scope)))
        for scope in sorted(scopes | {TENANT_SCOPE}):
            destroy_key(scope)
        return len(scopes | {TENANT_SCOPE})


def _delete_rows(tenant_id: int) -> dict[str, int]:
    """Delete every row that refers to the tenant (but the destroyed keys, kept as evidence)."""
    from livc.platform.audit import AuditEntry

    removed: dict[str, int] = {}
    with tenant_context(tenant_id):  # row-level security lets the tenant's own rows be seen
        for table, columns in tenant_tables():
            if table.name == KEPT_AS_EVIDENCE:
                continue
            if table.name == AuditEntry.__tablename__ and db.session.get_bind().dialect.name == "postgresql":
                # The app role may not delete audit entries; this function may, for an offboarded tenant only.
                count = db.session.scalar(sa.text("SELECT livc_purge_offboarded_audit(:tenant)"), {"tenant": tenant_id})
            else:
                count = db.session.execute(sa.delete(table).where(_refers_to(columns, tenant_id))).rowcount
            removed[table.name] = count or 0
    return removed


def _former_accounts(tenant_id: int) -> set[int]:
    from livc.tenants.members import Membership

    with tenant_context(tenant_id):
        return set(db.session.scalars(sa.select(Membership.account_id)))


def _remove_lone_accounts(account_ids: set[int]) -> int:
    """Delete the accounts that were members of the offboarded cell only (an account with a seat
    in another cell, or used anywhere else on the platform, stays)."""
    from livc.platform.accounts import Account

    if not account_ids:
        return 0
    own = {"recovery_codes", "account_identities"}  # the account's own rows, deleted with it
    referring = [
        (table, column) for table in db.metadata.sorted_tables for column in table.columns
        if table.name not in own and any(key.column.table.name == Account.__tablename__ for key in column.foreign_keys)
    ]
    live_cells = db.session.scalars(sa.select(Tenant.id).where(Tenant.status != TenantStatus.OFFBOARDED)).all()
    used: set[int] = set()
    for table, column in referring:
        query = sa.select(column).where(column.in_(account_ids))
        if "tenant_id" not in table.c:
            used.update(db.session.scalars(query))
            continue
        for cell in live_cells:  # seats and sessions in other cells: row-level security shows one cell at a time
            with tenant_context(cell):
                used.update(db.session.scalars(query.where(table.c.tenant_id == cell)))
    lone = sorted(account_ids - used)
    for account_id in lone:
        db.session.delete(db.session.get(Account, account_id))
    db.session.flush()
    return len(lone)


def _step_shred(run: Offboarding, tenant: Tenant) -> dict[str, Any]:
    export = db.session.scalar(sa.select(TenantExport).where(TenantExport.offboarding_id == run.id))
    if export is None:  # never shred what was not handed over
        raise LookupError("the export step has not produced an export")
    federation = _withdraw_federation(tenant)
    keys = _destroy_keys(tenant.id)
    accounts = _former_accounts(tenant.id)
    # Marked first: it ends every job and sign-in, and lets the audit trail be removed.
    tenant.status = TenantStatus.OFFBOARDED
    db.session.flush()
    removed = _delete_rows(tenant.id)
    lone = _remove_lone_accounts(accounts)
    counts = {"keys_destroyed": keys, "rows_removed": sum(removed.values()), "accounts_removed": lone,
              **federation, "tables": removed}
    record_event(tenant, "tenant.shredded", run.requested_by, _plain_counts(counts))
    return counts


# --- step (d): the verification report --------------------------------------------------------------

FEDERATION_TABLES = ("federation_enrolments", "federation_tokens", "federation_links", "match_alerts")


def export_state(export: TenantExport | None, now: datetime | None = None) -> str:
    """``missing``, ``pending`` (encrypted, waiting for its one download), ``downloaded`` or
    ``expired`` (the file is gone in both)."""
    if export is None:
        return "missing"
    if export.downloaded_at is not None:
        return "downloaded"
    if export.deleted_at is not None or export.expires_at <= (now or utcnow()):
        return "expired"
    return "pending"


def verify(run: Offboarding, tenant: Tenant) -> OffboardingReport:
    """Check that nothing decryptable of the tenant remains, and record the report."""
    from livc.platform.sessions import AuthSession
    from livc.tenants.members import Membership

    counts: dict[str, int] = {}
    checks: list[dict[str, Any]] = []
    with tenant_context(tenant.id):
        for table, columns in tenant_tables():
            counts[table.name] = db.session.scalar(
                sa.select(sa.func.count()).select_from(table).where(_refers_to(columns, tenant.id)))
        live_keys = db.session.scalar(sa.select(sa.func.count()).select_from(DataKey).where(
            DataKey.tenant_id == tenant.id, DataKey.wrapped_key.is_not(None)))
    destroyed = counts.pop(KEPT_AS_EVIDENCE, 0) - live_keys
    left = {table: count for table, count in counts.items() if count}
    checks.append({"check": "keys_destroyed", "passed": live_keys == 0 and destroyed > 0, "found": live_keys,
                   "destroyed": destroyed})
    checks.append({"check": "no_tenant_rows", "passed": not left, "found": sum(left.values()), "tables": sorted(left)})
    for name, tables in (("no_federation", FEDERATION_TABLES),
                         ("no_sessions", (AuthSession.__tablename__,)),
                         ("no_memberships", (Membership.__tablename__,))):
        found = sum(counts.get(table, 0) for table in tables)
        checks.append({"check": name, "passed": found == 0, "found": found})
    export = db.session.scalar(sa.select(TenantExport).where(TenantExport.offboarding_id == run.id))
    state = export_state(export)
    file_kept = export is not None and db.session.get(TenantExportFile, export.id) is not None
    export_ok = (state == "pending" and file_kept) or (state in ("downloaded", "expired") and not file_kept)
    checks.append({"check": "export_pending_or_gone", "passed": export_ok, "state": state})
    checks.append({"check": "tenant_offboarded", "passed": tenant.status == TenantStatus.OFFBOARDED})
    db.session.execute(sa.delete(OffboardingReport).where(OffboardingReport.offboarding_id == run.id))
    report = OffboardingReport(offboarding_id=run.id, tenant_id=tenant.id, tenant_slug=tenant.slug,
                               passed=all(check["passed"] for check in checks), checks=checks, counts=counts,
                               created_at=utcnow())
    db.session.add(report)
    db.session.flush()
    return report


def _step_verify(run: Offboarding, tenant: Tenant) -> dict[str, Any]:
    report = verify(run, tenant)
    record_event(tenant, "tenant.verified", run.requested_by, {"report_id": report.id, "passed": report.passed})
    return {"passed": report.passed, "checks": len(report.checks),
            "checks_passed": sum(1 for check in report.checks if check["passed"])}


STEP_WORK = {"suspend": _step_suspend, "export": _step_export, "shred": _step_shred, "verify": _step_verify}


def report_of(run: Offboarding) -> OffboardingReport | None:
    return db.session.scalar(sa.select(OffboardingReport).where(OffboardingReport.offboarding_id == run.id))


def export_of(run: Offboarding) -> TenantExport | None:
    return db.session.scalar(sa.select(TenantExport).where(TenantExport.offboarding_id == run.id))


# --- the download, once ----------------------------------------------------------------------------

PASSPHRASE_MIN = 12
PASSPHRASE_TOO_SHORT = _l("Choose a passphrase of at least 12 characters.")
PASSPHRASE_MISMATCH = _l("The two passphrases differ: type the same one twice.")


class ExportRefused(Exception):
    """The link was used already or has expired (``state`` says which, ``at`` since when)."""

    def __init__(self, state: str, at: datetime | None) -> None:
        super().__init__(state)
        self.state, self.at = state, at


def export_for_link(token: str, *, lock: bool = False) -> TenantExport | None:
    """The export the link's token opens, or None for a token that never was one."""
    if not token or len(token) > 100:
        return None
    query = sa.select(TenantExport).where(TenantExport.token_digest == keyed_digest(LINK_PURPOSE, token))
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def check_link(export: TenantExport) -> None:
    """Raise :class:`ExportRefused` unless the export is still waiting for its download."""
    state = export_state(export)
    if state == "downloaded":
        raise ExportRefused(state, export.downloaded_at)
    if state != "pending":
        raise ExportRefused("expired", export.expires_at)


def check_passphrase(passphrase: str, repeated: str) -> None:
    errors: dict[str, list[str]] = {}
    if len(passphrase or "") < PASSPHRASE_MIN:
        errors["passphrase"] = [str(PASSPHRASE_TOO_SHORT)]
    elif passphrase != repeated:
        errors["passphrase_repeated"] = [str(PASSPHRASE_MISMATCH)]
    if errors:
        raise ValidationError(errors)


def download_export(token: str, passphrase: str, repeated: str) -> tuple[str, bytes]:
    """The export as an AES-256 ZIP under the designated person's own passphrase, once.

    Opens the stored file with the key the link's token unwraps, re-packs it under
    ``passphrase`` (which is never stored), and deletes the stored file and the wrapped key
    in the same transaction: a second use of the link is refused.
    """
    export = export_for_link(token, lock=True)
    if export is None:
        raise LookupError("no such export link")
    check_link(export)
    check_passphrase(passphrase, repeated)
    stored = db.session.get(TenantExportFile, export.id)
    key = _unseal(_link_key(token, export.id), export.wrapped_key, _aad(export.id, "key"))
    archive = _unseal(key, stored.ciphertext, _aad(export.id, "file"))
    with zipfile.ZipFile(io.BytesIO(archive)) as inner:
        documents = [(name, inner.read(name)) for name in inner.namelist()]
    protected = _zip(documents, passphrase)
    export.downloaded_at = utcnow()
    _delete_file(export, "downloaded")
    return f"livc-export-{export.tenant_slug}.zip", protected


def _delete_file(export: TenantExport, because: str) -> None:
    db.session.execute(sa.delete(TenantExportFile).where(TenantExportFile.export_id == export.id))
    export.wrapped_key, export.deleted_at, export.deleted_because = None, utcnow(), because
    actor = "designated-person" if because == "downloaded" else "system"
    record_event(db.session.get(Tenant, export.tenant_id), f"tenant.export_{because}", actor, {"export_id": export.id})
    db.session.flush()


@task(queue="maintenance")
def expire_exports() -> int:
    """Delete the exports whose link expired without being used (periodic, platform-level)."""
    now = utcnow()
    expired = db.session.scalars(sa.select(TenantExport).where(
        TenantExport.deleted_at.is_(None), TenantExport.downloaded_at.is_(None), TenantExport.expires_at <= now,
    ).with_for_update()).all()
    for export in expired:
        _delete_file(export, "expired")
    return len(expired)


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
