"""The audit trail: append-only, chained per cell, and ``livc audit verify`` catches tampering."""

from __future__ import annotations

import threading
from itertools import pairwise

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from livc.app.cli import cli
from livc.platform import audit
from livc.platform.db import db, tenant_context


def _record_some(app, tenant_id: int, count: int) -> None:
    with app.app_context(), tenant_context(tenant_id):
        for number in range(count):
            audit.record("case.read", subject=f"case:DEMO-2026-{number:03d}", actor="user:7")
        db.session.commit()
        db.session.remove()


def _report(app, tenant_id: int) -> audit.ChainReport:
    with app.app_context(), tenant_context(tenant_id):
        report = audit.verify_chain()
        db.session.remove()
        return report


def tamper(app, tenant_id: int, statement: str) -> None:
    """Change the trail the way an attacker with database access would: as the table owner."""
    engine = sa.create_engine(app.extensions["livc.settings"].migration_url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})
        assert connection.execute(sa.text(statement), {"t": tenant_id}).rowcount == 1
    engine.dispose()


def livc_cli(app, *args: str):
    """``livc ARGS`` against the app's database, as an operator runs it."""
    settings = app.extensions["livc.settings"]
    env = {"LIVC_DATA_DIR": str(settings.data_dir), "LIVC_ENV": "test", "LIVC_SECRET_KEY": "t" * 40}
    if settings.database_url:
        env |= {"LIVC_DATABASE_URL": settings.database_url, "LIVC_MIGRATE_DATABASE_URL": settings.migration_url}
    return CliRunner().invoke(cli, list(args), env=env)


def test_entries_form_an_unbroken_chain_per_cell(app, demo_tenants):
    leuven, herko = demo_tenants["demo-leuven"], demo_tenants["demo-herko"]
    _record_some(app, leuven, 3)
    with app.app_context(), tenant_context(leuven):
        entries = db.session.scalars(sa.select(audit.AuditEntry).order_by(audit.AuditEntry.seq)).all()
        assert [e.seq for e in entries] == [1, 2, 3, 4]  # tenant.created, then three reads
        assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(entries))
        assert entries[1].subject == "case:DEMO-2026-000" and entries[1].actor == "user:7"
    assert _report(app, leuven).intact and _report(app, leuven).entries == 4
    assert _report(app, herko).entries == 1  # the other cell's trail is its own


def test_verify_reports_a_changed_entry(app, demo_tenants):
    leuven = demo_tenants["demo-leuven"]
    _record_some(app, leuven, 3)
    tamper(app, leuven, "UPDATE audit_entries SET subject = 'case:OTHER' WHERE seq = 3 AND tenant_id = :t")
    assert _report(app, leuven).problems == ["entry 3 was changed"]

    result = livc_cli(app, "audit", "verify")
    assert result.exit_code == 1
    assert "TAMPERED  demo-leuven: entry 3 was changed" in result.output
    assert "ok        demo-herko" in result.output


def test_verify_reports_a_removed_entry(app, demo_tenants):
    leuven = demo_tenants["demo-leuven"]
    _record_some(app, leuven, 3)
    tamper(app, leuven, "DELETE FROM audit_entries WHERE seq = 2 AND tenant_id = :t")
    assert _report(app, leuven).problems == ["entries 2 to 2 are missing"]


def test_verify_reports_entries_cut_off_at_the_end(app, demo_tenants):
    leuven = demo_tenants["demo-leuven"]
    _record_some(app, leuven, 3)
    tamper(app, leuven, "DELETE FROM audit_entries WHERE seq = 4 AND tenant_id = :t")
    assert _report(app, leuven).problems == ["entries 4 to 4 are missing at the end"]


def test_verify_passes_on_an_untouched_trail(app, demo_tenants):
    _record_some(app, demo_tenants["demo-herko"], 2)
    result = livc_cli(app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "ok        demo-herko: 3 entries, chain intact" in result.output


def test_entries_cannot_be_changed_through_the_app(app, demo_tenants):
    with app.app_context(), tenant_context(demo_tenants["demo-leuven"]):
        entry = db.session.scalars(sa.select(audit.AuditEntry)).first()
        entry.action = "nothing.happened"
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()


@pytest.mark.postgres
def test_concurrent_writers_never_fork_the_chain(postgres_app):
    from conftest import seed_demo_tenants

    leuven = seed_demo_tenants(postgres_app)["demo-leuven"]
    errors: list[BaseException] = []

    def writer():
        try:
            for _ in range(10):
                _record_some(postgres_app, leuven, 1)
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = _report(postgres_app, leuven)
    assert report.intact and report.entries == 31
