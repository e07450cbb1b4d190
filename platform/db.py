"""The database, and tenant isolation in the ORM layer.

Every tenant-owned model mixes in :class:`TenantScoped`. Inside a :func:`tenant_context`
every ORM select, ``session.get``, lazy load, ORM ``update()`` and ``delete()`` is filtered on
that tenant, and new rows are stamped with it. Outside any tenant context, touching a
tenant-owned model raises :class:`TenantContextRequired`: forgetting the context cannot leak.

On PostgreSQL the same tenant is also set, transaction-local, as ``app.tenant_id`` for the
row-level security policies (see :mod:`livc.platform.rls`): the second, independent layer
that also covers Core statements and raw SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    with_loader_criteria,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# 64-bit keys on PostgreSQL; SQLite only auto-increments a plain INTEGER primary key.
Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def value_enum(cls: type, length: int = 30) -> sa.Enum:
    """A Python enum stored by its values as a plain string column (no native database enum:
    adding a value then needs no ALTER TYPE, and SQLite and PostgreSQL store the same)."""
    return sa.Enum(cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e])


Row = TypeVar("Row")


def locked(instance: Row) -> Row:
    """``instance`` read again under a row lock (``SELECT ... FOR UPDATE``), its attributes
    replaced by what is committed now.

    An operation that checks a row's state before changing it (is the signal still new, the
    proposal still open, the form not released yet?) locks that row first and checks after:
    two requests on the same row then take turns, and the second sees what the first did.
    SQLite serialises writers by itself (and has no ``FOR UPDATE``). Changes to ``instance`` not
    flushed yet are written first, so nothing is lost by the re-read.
    """
    db.session.flush()
    db.session.refresh(instance, with_for_update=True)
    return instance


def cell_lock(name: str) -> None:
    """Take turns on ``name`` with the other transactions of the same cell until this one ends
    (a PostgreSQL transaction-level advisory lock keyed on the name and the cell).

    For a check that no single row can hold, such as "no other meeting of the cell is in
    session": the second request waits for the first to commit, then sees what it did. SQLite
    serialises writers by itself.
    """
    tenant_id = current_tenant_id()
    if tenant_id is None or db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"{name}:{tenant_id}", 0))))


class EditConflict(Exception):
    """Someone else changed a row since the person read it (an optimistic version check).

    ``current`` holds the fields of the edit that now differ from what the person sent, with
    their current values (what the person may see anyway: they are editing it); ``version`` is
    the row's version now, to send again once they decided.
    """

    def __init__(self, version: int, current: dict[str, Any]):
        super().__init__("edit conflict")
        self.version = version
        self.current = current


def edit_version(instance: Any) -> int:
    """The row's edit version (its mapper's ``version_id_col``): what a form or answer carries."""
    mapper = sa.inspect(instance).mapper
    return getattr(instance, mapper.get_property_by_column(mapper.version_id_col).key)


def check_version(instance: Any, expected: int | None, sent: dict[str, Any] | None = None) -> None:
    """Refuse an edit made on an older version of ``instance`` (:class:`EditConflict`).

    ``instance`` must be :func:`locked` first (so no one changes it between the check and the
    write); ``expected`` is the version the person's form or request carried (``None``: the
    client did not say, and the edit applies to the current row, as before versions existed);
    ``sent`` the values they sent, compared with the current ones to say what changed.
    """
    now = edit_version(instance)
    if expected is None or expected == now:
        return
    sent = {name: value.strip() or None if isinstance(value, str) else value for name, value in (sent or {}).items()}
    current = {name: getattr(instance, name, None) for name in sent}
    differing = {name: value for name, value in current.items() if value != sent[name]}
    if sent and not differing:
        return  # what they sent is what the row holds now: nothing of anyone's is lost
    raise EditConflict(now, differing)


class TenantContextRequired(RuntimeError):
    """Tenant-owned data was touched outside a tenant context."""


class CrossTenantWrite(RuntimeError):
    """A row was about to be written into, or moved to, another tenant."""


class TenantScoped:
    """Mixin for every tenant-owned model: a non-null ``tenant_id`` and global filtering."""

    tenant_id: Mapped[int] = mapped_column(
        Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True
    )


_current_tenant: ContextVar[int | None] = ContextVar("livc_current_tenant", default=None)


def current_tenant_id() -> int | None:
    return _current_tenant.get()


def enter_tenant(tenant_id: int) -> Token:
    """Work as ``tenant_id`` from now on; returns the token for :func:`leave_tenant`."""
    return _current_tenant.set(int(tenant_id))


def leave_tenant(token: Token) -> None:
    _current_tenant.reset(token)


@contextmanager
def tenant_context(tenant_id: int) -> Iterator[int]:
    """Work as ``tenant_id`` until the block ends."""
    token = enter_tenant(tenant_id)
    try:
        yield int(tenant_id)
    finally:
        leave_tenant(token)


_DB_TENANT = "livc_database_tenant"  # session.info key: the tenant the open transaction carries


def _apply_database_setting(session: Session, connection: sa.Connection, *, beginning: bool = False) -> None:
    tenant_id = _current_tenant.get()
    session.info[_DB_TENANT] = tenant_id
    if beginning and tenant_id is None:
        # A transaction begins with no tenant set: the setting is transaction-local (never set
        # for a whole connection), so a new transaction starts without one and the policies
        # see no tenant. One round trip fewer for every request that begins outside a cell.
        return
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT set_config('app.tenant_id', :tenant_id, true)"),
            {"tenant_id": "" if tenant_id is None else str(tenant_id)},
        )


def _sync_database_setting(session: Session) -> None:
    """Keep the transaction's setting equal to the current tenant.

    A transaction can outlive the context it began in (a refresh after commit, a lookup
    before the tenant is known): before every statement and flush, re-align the database
    side with the ORM side, so the two layers never disagree.
    """
    if not session.in_transaction() or session.info.get(_DB_TENANT, None) == _current_tenant.get():
        return
    connection = session.connection()  # one bind per session: the transaction's connection
    _apply_database_setting(session, connection)


@event.listens_for(Session, "after_begin")
def _set_tenant_for_transaction(session, transaction, connection) -> None:
    # Transaction-local: it cannot outlive the transaction into another pooled checkout.
    _apply_database_setting(session, connection, beginning=True)


def _touches_tenant_data(execute_state) -> bool:
    return any(
        isinstance(mapper.class_, type) and issubclass(mapper.class_, TenantScoped)
        for mapper in execute_state.all_mappers
    )


@event.listens_for(Session, "do_orm_execute")
def _scope_statement_to_tenant(execute_state) -> None:
    _sync_database_setting(execute_state.session)
    if execute_state.is_column_load:
        return  # refreshing attributes of an object that was already loaded in scope
    if not (execute_state.is_select or execute_state.is_update or execute_state.is_delete):
        return
    tenant_id = _current_tenant.get()
    if tenant_id is None:
        if _touches_tenant_data(execute_state):
            raise TenantContextRequired("tenant-owned data queried outside a tenant context")
        # Entities hidden from all_mappers (select_from, subqueries) still get a criterion,
        # one that matches no row: tenant_id is never null.
        criterion = lambda cls: cls.tenant_id.is_(None)  # noqa: E731
    else:
        criterion = lambda cls: cls.tenant_id == tenant_id  # noqa: E731
    # Added to every ORM statement: it only bites where a tenant-owned entity appears.
    execute_state.statement = execute_state.statement.options(
        with_loader_criteria(TenantScoped, criterion, include_aliases=True)
    )


@event.listens_for(Session, "before_flush")
def _stamp_and_guard_tenant(session, flush_context, instances) -> None:
    _sync_database_setting(session)
    tenant_id = _current_tenant.get()
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if tenant_id is None:
            raise TenantContextRequired("tenant-owned row created outside a tenant context")
        if obj.tenant_id is None:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise CrossTenantWrite("a row cannot be created in another tenant")
    for obj in list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantScoped):
            continue
        history = sa.inspect(obj).attrs.tenant_id.history
        if history.has_changes() or obj.tenant_id != tenant_id:
            raise CrossTenantWrite("a row cannot be changed outside its own tenant")
