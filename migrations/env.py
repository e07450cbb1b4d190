"""Alembic environment: the URL and the app role come from livc's settings (see migrating.py)."""

from alembic import context
from sqlalchemy import create_engine, pool

from livc.app import factory  # noqa: F401  (importing the app imports every model)
from livc.platform.db import db

config = context.config
url = config.attributes["url"]


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=db.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
