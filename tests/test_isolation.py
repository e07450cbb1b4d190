"""Tenant isolation in the ORM layer, on SQLite and PostgreSQL alike.

Each test arranges two cells, A and B, each with a folder of notes, and shows that working as
A never reaches B's rows, whatever form the query takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from scoped_models import Folder, Note, create_scoped_tables
from sqlalchemy.orm import aliased, joinedload, selectinload

from livc.admin.onboarding.cells import create_tenant
from livc.platform.db import (
    CrossTenantWrite,
    TenantContextRequired,
    current_tenant_id,
    db,
    tenant_context,
)


@dataclass
class Cells:
    a: int
    b: int
    folder_a: int
    folder_b: int


def _cell(slug: str) -> dict:
    return {"slug": slug, "name": f"Cell {slug}", "kind": "municipality", "languages": ["nl"],
            "municipalities": [{"nis_code": "11002" if slug == "cell-a" else "12025", "name": slug}]}


@pytest.fixture
def cells(app) -> Cells:
    create_scoped_tables(app.extensions["livc.settings"].migration_url)
    with app.app_context():
        a, b = create_tenant(_cell("cell-a")).id, create_tenant(_cell("cell-b")).id
        db.session.commit()
        folders = {}
        for tenant_id, label in ((a, "A"), (b, "B")):
            with tenant_context(tenant_id):
                folder = Folder(title=f"folder {label}")
                folder.notes = [Note(body=f"{label} note 1"), Note(body=f"{label} note 2")]
                db.session.add(folder)
                db.session.commit()
                folders[label] = folder.id
        db.session.remove()
    return Cells(a=a, b=b, folder_a=folders["A"], folder_b=folders["B"])


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


def _plant_intruder(cells: Cells) -> None:
    """A corrupt row of B's that points at A's folder (written with Core, around the ORM)."""
    with tenant_context(cells.b):
        db.session.execute(
            sa.insert(Note.__table__).values(tenant_id=cells.b, folder_id=cells.folder_a, body="B intruder")
        )
        db.session.commit()


def test_select_returns_only_the_current_cells_rows(cells, ctx):
    with tenant_context(cells.a):
        titles = db.session.scalars(sa.select(Folder.title)).all()
        bodies = db.session.scalars(sa.select(Note.body).join(Note.folder).order_by(Note.body)).all()
    assert titles == ["folder A"]
    assert bodies == ["A note 1", "A note 2"]


def test_get_by_primary_key_of_another_cell_finds_nothing(cells, ctx):
    with tenant_context(cells.a):
        assert db.session.get(Folder, cells.folder_b) is None
        assert db.session.get(Folder, cells.folder_a).title == "folder A"


def test_lazy_load_does_not_follow_a_reference_into_another_cell(cells, ctx):
    _plant_intruder(cells)
    with tenant_context(cells.a):
        folder = db.session.get(Folder, cells.folder_a)
        assert sorted(note.body for note in folder.notes) == ["A note 1", "A note 2"]


def test_eager_loads_and_aliases_are_scoped_too(cells, ctx):
    _plant_intruder(cells)
    with tenant_context(cells.a):
        for option in (selectinload(Folder.notes), joinedload(Folder.notes)):
            db.session.expunge_all()
            folder = db.session.scalars(sa.select(Folder).options(option)).unique().one()
            assert "B intruder" not in [note.body for note in folder.notes]
        other = aliased(Note)
        bodies = db.session.scalars(sa.select(other.body)).all()
    assert sorted(bodies) == ["A note 1", "A note 2"]


def test_orm_update_and_delete_touch_only_the_current_cell(cells, ctx):
    with tenant_context(cells.a):
        updated = db.session.execute(sa.update(Folder).values(title="renamed"))
        deleted = db.session.execute(sa.delete(Note).where(Note.body.like("%note 1")))
        db.session.commit()
    assert (updated.rowcount, deleted.rowcount) == (1, 1)
    with tenant_context(cells.b):
        assert db.session.scalars(sa.select(Folder.title)).all() == ["folder B"]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Note)) == 2


def test_new_rows_are_stamped_with_the_current_cell(cells, ctx):
    with tenant_context(cells.b):
        folder = Folder(title="new")
        db.session.add(folder)
        db.session.commit()
        assert folder.tenant_id == cells.b


def test_creating_a_row_in_another_cell_is_refused(cells, ctx):
    with tenant_context(cells.a):
        db.session.add(Folder(title="smuggled", tenant_id=cells.b))
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()


def test_moving_a_row_to_another_cell_is_refused(cells, ctx):
    with tenant_context(cells.a):
        folder = db.session.get(Folder, cells.folder_a)
        folder.tenant_id = cells.b
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
        db.session.rollback()


def test_tenant_data_outside_any_cell_context_is_refused(cells, ctx):
    with pytest.raises(TenantContextRequired):
        db.session.scalars(sa.select(Folder)).all()
    with pytest.raises(TenantContextRequired):
        db.session.get(Folder, cells.folder_a)
    db.session.add(Folder(title="orphan"))
    with pytest.raises(TenantContextRequired):
        db.session.flush()


def test_a_request_leaves_no_cell_context_behind(app, demo_tenants, client):
    assert client.get("/demo-leuven/").status_code == 200
    assert current_tenant_id() is None


def test_counts_and_subqueries_see_only_the_current_cell(cells, ctx):
    with tenant_context(cells.a):
        counted = db.session.scalar(sa.select(sa.func.count()).select_from(Note))
        in_subquery = db.session.scalars(sa.select(Note.body).where(Note.folder_id.in_(
            sa.select(Folder.id).where(Folder.title.like("folder%"))))).all()
    assert counted == 2
    assert sorted(in_subquery) == ["A note 1", "A note 2"]
    # Outside any cell, a count that names no entity directly still sees nothing.
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Note)) == 0
