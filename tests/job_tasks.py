"""Test-only jobs, imported as ``job_tasks`` by the tests and by the real worker processes they
start (the tests folder is on the worker's ``PYTHONPATH``).

Each job reports what it could see from inside its tenant, and leaves a trace in that tenant's
audit trail, so a test can tell where it ran and where it wrote.
"""

from __future__ import annotations

import sqlalchemy as sa

from livc.platform import audit
from livc.platform.db import current_tenant_id, db
from livc.platform.jobs import task

SECRET = "Jan Janssens, Bondgenotenlaan 12"  # stands for personal data in an exception message


@task()
def visit(note: str) -> dict:
    """Look at the audit trail as the job's tenant, then add an entry to it."""
    orm_tenants = sorted(set(db.session.scalars(sa.select(audit.AuditEntry.tenant_id)).all()))
    # Raw SQL passes the ORM filter by: on PostgreSQL only row-level security narrows it.
    raw_tenants = sorted(
        set(db.session.scalars(sa.text("SELECT tenant_id FROM audit_entries")).all())
    )
    audit.record("test.visited", subject=f"note:{note}", actor="system:test")
    return {
        "tenant": current_tenant_id(),
        "orm_tenants": orm_tenants,
        "raw_tenants": raw_tenants,
        "database": db.engine.dialect.name,
    }


@task()
def record_then_fail() -> None:
    """Writes, then fails: the write must not survive, and the message must not be logged."""
    audit.record("test.half_done", actor="system:test")
    db.session.flush()
    raise ValueError(f"could not reach {SECRET}")


@task()  # the default retries, with back-off
def always_fails() -> None:
    raise ValueError(f"always failing for {SECRET}")


@task(retries=0)
def fails_once() -> None:
    raise LookupError(f"no record for\n{SECRET}")


@task()
def platform_level() -> int | None:
    """A job without a tenant: it runs outside any tenant context."""
    return current_tenant_id()
