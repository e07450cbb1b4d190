"""Two tenant-owned test models with a relationship, on their own metadata.

They exercise the isolation machinery exactly as real tenant tables do (same mixin, same
row-level security statements), without becoming part of the app's schema or migrations.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from livc.platform.db import Id, TenantScoped
from livc.platform.rls import isolation_statements
from livc.platform.tenancy import Tenant


class ScopedTestBase(DeclarativeBase):
    metadata = sa.MetaData()


Tenant.__table__.to_metadata(ScopedTestBase.metadata)  # so tenant_id's foreign key resolves


class Folder(TenantScoped, ScopedTestBase):
    __tablename__ = "test_folders"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(100))
    notes: Mapped[list[Note]] = relationship(back_populates="folder", lazy="select")


class Note(TenantScoped, ScopedTestBase):
    __tablename__ = "test_notes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    folder_id: Mapped[int] = mapped_column(sa.ForeignKey("test_folders.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(sa.String(200))
    folder: Mapped[Folder] = relationship(back_populates="notes", lazy="select")


TABLES = [Folder.__table__, Note.__table__]


def create_scoped_tables(owner_url: str, tables: list[sa.Table] | None = None) -> None:
    """Create test-only tenant tables (these, or ``tables``) as the owner, with row-level
    security on PostgreSQL."""
    tables = tables or TABLES
    engine = sa.create_engine(owner_url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        tables[0].metadata.create_all(connection, tables=tables)
        if connection.dialect.name == "postgresql":
            for table in tables:
                is_isolated = connection.scalar(
                    sa.text("SELECT relrowsecurity FROM pg_class WHERE relname = :t"), {"t": table.name}
                )
                if not is_isolated:
                    for statement in isolation_statements(table.name):
                        connection.execute(sa.text(statement))
    engine.dispose()
