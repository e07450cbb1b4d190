"""Running Alembic migrations (always as the table owner) on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from livc.platform.settings import Settings

# Beside this folder both in the repository and in an installed wheel (livc/migrations).
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = settings.migration_url
    config.attributes["app_role"] = app_role(settings)
    return config


def app_role(settings: Settings) -> str | None:
    """The role the app connects as, when it differs from the owner running migrations."""
    app_user = make_url(settings.sqlalchemy_url).username
    owner = make_url(settings.migration_url).username
    return app_user if app_user and app_user != owner else None


def upgrade(settings: Settings, revision: str = "head") -> None:
    settings.prepare_data_dir()
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    command.downgrade(alembic_config(settings), revision)


def is_current(settings: Settings) -> bool:
    """True when the database is at the newest migration."""
    script = ScriptDirectory.from_config(alembic_config(settings))
    engine = sa.create_engine(settings.migration_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            heads = set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()
    return heads == set(script.get_heads())


def grant_app_role(op, role: str | None) -> None:
    """Give the app role data access (not ownership) to tables made now and later."""
    if role is None or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {quoted}",
    ):
        op.execute(statement)


def restrict_to_append(op, role: str | None, table: str) -> None:
    """The app role may read and add rows of ``table``, never change or remove them."""
    if role is None or op.get_bind().dialect.name != "postgresql":
        return
    quoted = op.get_bind().dialect.identifier_preparer.quote(role)
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {quoted}")
