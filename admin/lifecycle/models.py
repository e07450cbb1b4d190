"""The lifecycle's platform-level records (offboarding runs and their steps, exports, reports),
its messages, and the audit helper every step uses. They outlive the tenant's own rows."""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import has_request_context
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.admin.operators.operations import record_action
from livc.platform.db import Id, db, value_enum
from livc.platform.jobs import JOB_TIMEOUT
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.timeutil import utcnow

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
    # The RQ job running it (None inline): the sweep resumes a step whose job RQ no longer holds.
    job_id: Mapped[str | None] = mapped_column(sa.String(64))

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
# A step "running" this long, whose job RQ no longer holds, lost its job (RQ ends a job at its
# time-out; the margin covers a loaded worker's heartbeat): the sweep resumes it.
STALE_RUNNING = timedelta(seconds=JOB_TIMEOUT + 120)
REASON_MAX = 500
# Tables never handed over: keys (destroyed, not the municipality's), sign-in sessions and
# single-use links (credentials).
NOT_EXPORTED = frozenset({"data_keys", "auth_sessions", "password_resets"})

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


def plain_counts(counts: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in counts.items() if isinstance(value, int | bool)}
