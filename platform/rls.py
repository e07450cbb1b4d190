"""PostgreSQL row-level security for tenant-owned tables: the database-side isolation layer.

Migrations call :func:`isolate_tenant_table` for every table that has a ``tenant_id``. The
policy reads the transaction-local ``app.tenant_id`` that :mod:`livc.platform.db` sets at the
start of each transaction; with no tenant set, the policy matches nothing. ``FORCE`` makes the
table owner obey it too; only superusers and BYPASSRLS roles escape, which is why the app
must connect as an ordinary role (checked by ``/readyz``).
"""

from __future__ import annotations

import sqlalchemy as sa

POLICY_NAME = "tenant_isolation"
# A setting once set in a session reads back as '' rather than NULL: nullif covers both.
CURRENT_TENANT = "nullif(current_setting('app.tenant_id', true), '')::bigint"


def isolation_statements(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {POLICY_NAME} ON {table} "
        f"USING (tenant_id = {CURRENT_TENANT}) WITH CHECK (tenant_id = {CURRENT_TENANT})",
    ]


def removal_statements(table: str) -> list[str]:
    return [
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}",
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]


def isolate_tenant_table(op, table: str) -> None:
    """Alembic helper: enable and force the tenant policy on ``table`` (PostgreSQL only)."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in isolation_statements(table):
            op.execute(statement)


def release_tenant_table(op, table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in removal_statements(table):
            op.execute(statement)


ROLE_CHECK = """
SELECT r.rolsuper OR r.rolbypassrls AS bypasses,
       EXISTS (SELECT 1 FROM pg_tables t WHERE t.schemaname = current_schema()
               AND t.tableowner = current_user) AS owns_tables
FROM pg_roles r WHERE r.rolname = current_user
"""


def role_problem(connection) -> str | None:
    """Why the connected role would defeat row-level security, or None when it cannot."""

    if connection.dialect.name != "postgresql":
        return None
    bypasses, owns_tables = connection.execute(sa.text(ROLE_CHECK)).one()
    if bypasses:
        return "the database role is a superuser or has BYPASSRLS"
    if owns_tables:
        return "the database role owns the tables; connect as the app role"
    return None
