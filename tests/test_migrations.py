"""Migrations are the only way the schema is made, and they match the models on both backends."""

from __future__ import annotations

import re
import subprocess

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from conftest import REPO, new_postgres_database
from livc.app import factory  # noqa: F401  (importing the app imports every model)
from livc.platform import migrating
from livc.platform.db import db
from livc.platform.settings import load_settings


def _differences(url: str) -> list:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    engine.dispose()
    return diff


def _round_trip(settings) -> None:
    assert migrating.is_current(settings)
    migrating.downgrade(settings, "base")
    assert not migrating.is_current(settings)
    migrating.upgrade(settings)
    assert migrating.is_current(settings)
    assert _differences(settings.migration_url) == []


def test_sqlite_migrations_match_the_models_and_run_both_ways(tmp_path):
    settings = load_settings({"data_dir": str(tmp_path)})
    migrating.upgrade(settings)
    assert _differences(settings.migration_url) == []
    _round_trip(settings)


@pytest.mark.postgres
def test_postgres_migrations_match_the_models_and_run_both_ways():
    with new_postgres_database() as urls:
        settings = load_settings({"database_url": urls["app"], "migrate_database_url": urls["owner"]})
        assert _differences(settings.migration_url) == []
        _round_trip(settings)


def test_the_app_never_creates_tables_itself():
    """Schema changes go through Alembic only: no create_all in the application's code."""
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO, capture_output=True, text=True, check=True)
    offenders = [
        path for path in tracked.stdout.split()
        if not path.startswith("tests/") and re.search(r"\.create_all\(", (REPO / path).read_text())
    ]
    assert offenders == []
