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

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.db import Id, db, value_enum
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


class LifecycleEvent(db.Model):
    """A platform-level record of a lifecycle action: outlives the tenant's own audit trail."""

    __tablename__ = "lifecycle_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    tenant_id: Mapped[int] = mapped_column(Id, index=True)  # a plain value: the tenant may be gone
    tenant_slug: Mapped[str] = mapped_column(sa.String(63))
    actor: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(80))
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


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
    manifest: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # files, counts, SHA-256: no content
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
