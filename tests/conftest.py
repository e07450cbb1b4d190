"""Shared fixtures: apps on SQLite and on a real PostgreSQL, a real Redis, demo tenants.

PostgreSQL and Redis tests run against the servers on 127.0.0.1 (``LIVC_TEST_POSTGRES_URL``,
``LIVC_TEST_REDIS_URL``). Under ``CI=true`` an unreachable server fails those tests; on a
developer's machine they are skipped with a reason that says how to enable them.

The PostgreSQL suite never runs the app as a superuser (superusers bypass row-level
security, and the isolation tests would prove nothing): it creates an owner role that runs
the migrations and an ordinary app role the app connects as.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from livc.app.factory import create_app
from livc.platform import migrating
from livc.platform.db import db
from livc.platform.settings import load_settings

CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_ADMIN_URL = os.environ.get(
    "LIVC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# The suite empties this Redis database: keep it for tests. Under pytest-xdist each worker takes
# a database of its own (gw0: 14, gw1: 13, ...), so that one worker never empties another's.
_XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_REDIS_BASE = urlsplit(os.environ.get("LIVC_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
REDIS_URL = _REDIS_BASE._replace(path=f"/{int(_REDIS_BASE.path.strip('/') or 0) - _XDIST_WORKER}").geturl()
OWNER_ROLE, APP_ROLE = "livc_test_owner", "livc_test_app"
REPO = Path(__file__).resolve().parent.parent

# Tests are hermetic: the developer's own LIVC_* settings must not leak in.
for _name in [name for name in os.environ if name.startswith("LIVC_") and not name.startswith("LIVC_TEST_")]:
    del os.environ[_name]


def service_unavailable(what: str, error: BaseException, how: str):
    message = f"{what} is not reachable ({type(error).__name__}); {how}"
    if CI:
        pytest.fail(f"CI=true requires it: {message}", pytrace=False)
    pytest.skip(message)


# --- PostgreSQL -------------------------------------------------------------------------------


def _normalised(url: str) -> sa.URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@contextmanager
def new_postgres_database() -> Iterator[dict[str, str]]:
    """A fresh, migrated database: owner URL (migrations) and app URL (ordinary role)."""
    admin_url = _normalised(POSTGRES_ADMIN_URL)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        service_unavailable(
            f"PostgreSQL at {admin_url.render_as_string(hide_password=True)}",
            error,
            "start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or set LIVC_TEST_POSTGRES_URL to a superuser URL",
        )
    name = f"livc_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        for role in (OWNER_ROLE, APP_ROLE):
            exists = connection.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
            if not exists:
                try:
                    connection.execute(sa.text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"))
                except (sa.exc.IntegrityError, sa.exc.ProgrammingError):  # another xdist worker made it
                    pass
        connection.execute(sa.text(f"CREATE DATABASE {name} OWNER {OWNER_ROLE}"))
        connection.execute(sa.text(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC"))
        connection.execute(sa.text(f"GRANT CONNECT ON DATABASE {name} TO {APP_ROLE}"))
    # On PostgreSQL 15+ the public schema belongs to the database owner: the owner role.
    urls = {
        "owner": admin_url.set(database=name, username=OWNER_ROLE, password=None).render_as_string(hide_password=False),
        "app": admin_url.set(database=name, username=APP_ROLE, password=None).render_as_string(hide_password=False),
    }
    try:
        migrating.upgrade(load_settings({"database_url": urls["app"], "migrate_database_url": urls["owner"]}))
        yield urls
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[dict[str, str]]:
    """The PostgreSQL database shared by this test session (emptied before each test)."""
    with new_postgres_database() as urls:
        yield urls


def _empty_postgres(owner_url: str) -> None:
    engine = sa.create_engine(owner_url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        tables = connection.scalars(
            sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).all()
        if tables:
            connection.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


# --- SQLite ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite database, copied for each test (migrating each time is slower)."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    migrating.upgrade(load_settings({"data_dir": str(folder)}))
    return folder / "livc.sqlite"


# --- Apps -------------------------------------------------------------------------------------


def make_app(tmp_path: Path, **settings):
    # The suite's OpenID provider runs on 127.0.0.1 (tests/test_security_input.py turns this off).
    config = {"env": "test", "data_dir": str(tmp_path / "data"), "secret_key": "t" * 40, "sso_allow_private": True}
    config.update(settings)
    return create_app(config)


@pytest.fixture
def sqlite_app(tmp_path, sqlite_template):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(sqlite_template, data / "livc.sqlite")
    app = make_app(tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def postgres_app(tmp_path, postgres_database):
    _empty_postgres(postgres_database["owner"])
    app = make_app(
        tmp_path,
        database_url=postgres_database["app"],
        migrate_database_url=postgres_database["owner"],
        database_pool_size=2,
    )
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request):
    """The app on each backend in turn: a test using it runs on SQLite and PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_app")


@pytest.fixture
def client(app):
    return app.test_client()


def seed_demo_tenants(app) -> dict[str, int]:
    """Create the two demo cells in ``app`` (without their demo members); returns slug -> id."""
    from livc.app.demo import seed_demo

    with app.app_context():
        tenants = {tenant.slug: tenant.id for tenant in seed_demo(with_members=False)}
        db.session.remove()
        return tenants


@pytest.fixture
def demo_tenants(app) -> dict[str, int]:
    """The two demo cells in ``app`` (on each backend), slug -> id."""
    return seed_demo_tenants(app)


# --- Redis ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> str:
    from redis import Redis

    connection = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except Exception as error:  # redis-py raises several unrelated types
        service_unavailable(
            f"Redis at {REDIS_URL}",
            error,
            "start it (redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' "
            "--appendonly no) or set LIVC_TEST_REDIS_URL",
        )
    return REDIS_URL


@pytest.fixture
def redis_url(redis_server) -> Iterator[str]:
    """The test Redis database, emptied before and after the test."""
    from redis import Redis

    connection = Redis.from_url(redis_server)
    connection.flushdb()
    yield redis_server
    connection.flushdb()
    connection.close()


# --- Members ------------------------------------------------------------------------------------


@pytest.fixture
def cells(demo_tenants) -> dict[str, int]:
    """The demo cells, slug -> id (a module may define its own ``cells``)."""
    return demo_tenants


@pytest.fixture
def coordinator(app, cells):
    """The coordinator of demo-leuven, with password and authenticator (``auth_helpers``)."""
    from auth_helpers import add_member
    from livc.platform.roles import Role

    return add_member(app, cells["demo-leuven"], "demo-leuven", Role.COORDINATOR)


@pytest.fixture
def partner(app, cells):
    from auth_helpers import add_member
    from livc.platform.roles import Role

    return add_member(app, cells["demo-leuven"], "demo-leuven", Role.PARTNER)


@pytest.fixture
def coordinator_client(app, coordinator):
    """A test client signed in as the coordinator (through the real sign-in pages)."""
    from auth_helpers import sign_in

    client = app.test_client()
    sign_in(client, coordinator)
    return client
