"""The database layer of isolation: PostgreSQL row-level security, proven without the ORM filter.

The app connects as an ordinary role that owns no table (see conftest), so nothing here
passes merely because a superuser was let through.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from scoped_models import Folder, Note, create_scoped_tables
from sqlalchemy import event
from sqlalchemy.orm import Session

from conftest import seed_demo_tenants
from livc.admin.onboarding.cells import create_tenant
from livc.app import factory  # noqa: F401  (importing the app imports every model)
from livc.platform import db as db_module
from livc.platform.db import TenantScoped, db, tenant_context

pytestmark = pytest.mark.postgres


@contextmanager
def orm_filter_switched_off():
    """Remove the ORM layer's filter and guard, leaving only row-level security."""
    hooks = [
        ("do_orm_execute", db_module._scope_statement_to_tenant),
        ("before_flush", db_module._stamp_and_guard_tenant),
    ]
    for name, hook in hooks:
        event.remove(Session, name, hook)
    try:
        yield
    finally:
        for name, hook in hooks:
            event.listen(Session, name, hook)


@pytest.fixture
def cells(postgres_app):
    create_scoped_tables(postgres_app.extensions["livc.settings"].migration_url)
    ids = {}
    with postgres_app.app_context():
        for slug, nis in (("cell-a", "11002"), ("cell-b", "12025")):
            tenant = create_tenant({"slug": slug, "name": slug, "kind": "municipality", "languages": ["nl"],
                                    "municipalities": [{"nis_code": nis, "name": slug}]})
            db.session.commit()
            with tenant_context(tenant.id):
                folder = Folder(title=f"folder {slug}", notes=[Note(body=f"note {slug}")])
                db.session.add(folder)
                db.session.commit()
                ids[slug] = (tenant.id, folder.id)
        db.session.remove()
    return ids


@pytest.fixture
def ctx(postgres_app):
    with postgres_app.app_context():
        yield
        db.session.remove()


def test_orm_select_without_the_orm_filter_still_sees_only_its_cell(cells, ctx):
    a, _ = cells["cell-a"]
    with orm_filter_switched_off(), tenant_context(a):
        assert db.session.scalars(sa.select(Folder.title)).all() == ["folder cell-a"]


def test_core_update_cannot_reach_another_cells_rows(cells, ctx):
    a, _ = cells["cell-a"]
    b, folder_b = cells["cell-b"]
    with tenant_context(a):
        result = db.session.execute(sa.update(Folder.__table__).values(title="hijacked"))
        aimed = db.session.execute(
            sa.update(Folder.__table__).where(Folder.__table__.c.id == folder_b).values(title="hijacked")
        )
        db.session.commit()
    assert (result.rowcount, aimed.rowcount) == (1, 0)
    with tenant_context(b):
        assert db.session.scalar(sa.select(Folder.title)) == "folder cell-b"


def test_raw_sql_reads_and_writes_only_its_own_cell(cells, ctx):
    a, _ = cells["cell-a"]
    _, folder_b = cells["cell-b"]
    with tenant_context(a):
        titles = db.session.execute(sa.text("SELECT title FROM test_folders")).scalars().all()
        deleted = db.session.execute(sa.text("DELETE FROM test_notes WHERE folder_id = :f"), {"f": folder_b})
        db.session.commit()
    assert titles == ["folder cell-a"]
    assert deleted.rowcount == 0


def test_inserting_into_another_cell_is_refused_by_the_database(cells, ctx):
    a, _ = cells["cell-a"]
    b, _ = cells["cell-b"]
    with orm_filter_switched_off(), tenant_context(a):
        db.session.add(Folder(title="smuggled", tenant_id=b))
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
            db.session.execute(sa.text("INSERT INTO test_folders (tenant_id, title) VALUES (:b, 'raw')"), {"b": b})
        db.session.rollback()


def test_without_a_cell_the_database_shows_and_accepts_nothing(cells, ctx):
    a, _ = cells["cell-a"]
    assert db.session.execute(sa.text("SELECT count(*) FROM test_folders")).scalar() == 0
    with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
        db.session.execute(sa.text("INSERT INTO test_folders (tenant_id, title) VALUES (:a, 'x')"), {"a": a})
    db.session.rollback()
    with db.engine.connect() as connection:  # straight from the pool, no session at all
        assert connection.execute(sa.text("SELECT count(*) FROM test_notes")).scalar() == 0


def test_a_pooled_connection_never_carries_a_cell_into_the_next_request(tmp_path, postgres_database, cells):
    from conftest import make_app

    app = make_app(tmp_path, database_url=postgres_database["app"],
                   migrate_database_url=postgres_database["owner"], database_pool_size=1)
    a, _ = cells["cell-a"]
    b, _ = cells["cell-b"]
    with app.app_context():
        backend_pids = set()
        for tenant_id, expected in ((a, "folder cell-a"), (b, "folder cell-b"), (a, "folder cell-a")):
            with tenant_context(tenant_id):
                assert db.session.execute(sa.text("SELECT title FROM test_folders")).scalars().all() == [expected]
                backend_pids.add(db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar())
            db.session.commit()
            db.session.remove()
            # Next checkout of the same pooled connection, outside any cell:
            with db.engine.connect() as connection:
                backend_pids.add(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar())
                setting = connection.execute(sa.text("SELECT current_setting('app.tenant_id', true)")).scalar()
                visible = connection.execute(sa.text("SELECT count(*) FROM test_folders")).scalar()
            assert setting in (None, "")
            assert visible == 0
        assert len(backend_pids) == 1, "the test must reuse one pooled connection to prove anything"
        db.engine.dispose()


def test_requests_for_two_cells_in_a_row_each_see_their_own_setting(postgres_app):
    seed_demo_tenants(postgres_app)
    client = postgres_app.test_client()
    with postgres_app.app_context():
        for slug in ("demo-leuven", "demo-herko", "demo-leuven"):
            assert client.get(f"/{slug}/").status_code == 200
            with db.engine.connect() as connection:
                assert connection.execute(sa.text("SELECT current_setting('app.tenant_id', true)")).scalar() in (None, "")


def test_every_tenant_owned_table_has_forced_row_level_security(postgres_app):
    tables = [mapper.local_table.name for mapper in db.Model.registry.mappers
              if issubclass(mapper.class_, TenantScoped)]
    assert tables, "there must be tenant-owned tables to check"
    engine = sa.create_engine(postgres_app.extensions["livc.settings"].migration_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = ANY(:t)"),
            {"t": tables},
        ).all()
        not_null = connection.execute(
            sa.text("SELECT table_name FROM information_schema.columns WHERE column_name = 'tenant_id' "
                    "AND is_nullable = 'NO' AND table_name = ANY(:t)"),
            {"t": tables},
        ).scalars().all()
    engine.dispose()
    assert {name for name, enabled, forced in rows if enabled and forced} == set(tables)
    assert set(not_null) == set(tables)


def test_the_app_role_cannot_rewrite_the_audit_trail(postgres_app):
    demo_tenants = seed_demo_tenants(postgres_app)
    with postgres_app.app_context(), tenant_context(demo_tenants["demo-leuven"]):
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            db.session.execute(sa.text("UPDATE audit_entries SET action = 'nothing happened'"))
        db.session.rollback()
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            db.session.execute(sa.text("DELETE FROM audit_entries"))
        db.session.rollback()


@pytest.mark.parametrize("role", ["owner", "superuser"])
def test_readiness_fails_when_the_app_could_bypass_row_level_security(tmp_path, postgres_database, role):
    from conftest import POSTGRES_ADMIN_URL, make_app

    url = postgres_database["owner"] if role == "owner" else (
        sa.engine.make_url(postgres_database["app"])
        .set(username=sa.engine.make_url(POSTGRES_ADMIN_URL).username)
        .render_as_string(hide_password=False)
    )
    app = make_app(tmp_path, database_url=url, migrate_database_url=postgres_database["owner"])
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "database" in response.get_json()["reason"]


def test_readiness_is_green_for_the_ordinary_app_role(postgres_app):
    response = postgres_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"
