"""The runtime an operator runs: what happens when the database goes away, what the logs carry,
what ``livc serve`` leaves on the machine, and where the demo may never go.

- A database lost before or during a request answers 503 with ``Retry-After`` (a page, or the
  API's error envelope), logs one line without a traceback, and the next request works once the
  database is back (PostgreSQL for real: connections terminated by the superuser).
- No log line carries a traceback: not the worker's (RQ's handlers and a library's own
  included), not a command that dies of an unexpected error.
- ``livc serve`` opens no gunicorn control socket (by default one path per user, shared by
  every instance).
- The demo is seeded only with ``LIVC_ENV=development`` said explicitly, and its accounts (whose
  password is published) are refused at sign-in in production, in a cell and on the console.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import runtime_tasks
import sqlalchemy as sa
from click.testing import CliRunner
from redis import Redis
from rq.registry import FailedJobRegistry

from admin_helpers import add_operator
from auth_helpers import add_member, post_form
from browser_support import clean_env, console_script, free_port, start_server
from conftest import APP_ROLE, POSTGRES_ADMIN_URL, _normalised, make_app
from livc.admin.operators.models import OperatorRole
from livc.app.cli import cli
from livc.app.demo import DemoRefused, seed_demo
from livc.app.factory import create_app
from livc.platform.accounts import DEMO_DOMAIN
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.jobs import enqueue
from livc.platform.roles import Role

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
PROCESS_TIMEOUT = 600  # seconds; these commands end in seconds, but a loaded CI machine is slow


def scrape(url: str) -> dict[str, float]:
    """``/metrics`` as sample line (name with labels) -> value."""
    with urllib.request.urlopen(url, timeout=30) as answer:
        text = answer.read().decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line and not line.startswith("#")}


# --- 1. The database goes away ------------------------------------------------------------------


def superuser(app) -> sa.Engine:
    """The PostgreSQL superuser, on the app's database (it ends the app's connections)."""
    name = sa.make_url(app.extensions["livc.settings"].database_url).database
    return sa.create_engine(_normalised(POSTGRES_ADMIN_URL).set(database=name), isolation_level="AUTOCOMMIT",
                            poolclass=sa.pool.NullPool)


def end_app_connections(connection: sa.Connection) -> None:
    connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE usename = :role AND datname = current_database()"), {"role": APP_ROLE})


@pytest.mark.parametrize("app", ["postgres"], indirect=True)
def test_a_database_lost_before_or_during_a_request_answers_503_and_the_next_request_works(
    app, coordinator_client, caplog
):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as served (tests otherwise re-raise what no handler took)
    client = coordinator_client
    assert client.get("/demo-leuven/home").status_code == 200
    admin = superuser(app)
    database = sa.make_url(app.extensions["livc.settings"].database_url).database
    english = {"Accept-Language": "en"}

    with admin.connect() as connection, caplog.at_level(logging.INFO):
        # Down: the app's connections are ended and new ones refused (a restart in progress).
        connection.execute(sa.text(f"REVOKE CONNECT ON DATABASE {database} FROM {APP_ROLE}"))
        end_app_connections(connection)
        try:
            page = client.get("/demo-leuven/home", headers=english)
            api = client.get("/demo-leuven/api/cases", headers=english)
        finally:
            connection.execute(sa.text(f"GRANT CONNECT ON DATABASE {database} TO {APP_ROLE}"))

        assert page.status_code == 503 and api.status_code == 503
        assert page.headers["Retry-After"].isdigit() and api.headers["Retry-After"].isdigit()
        text = page.get_data(as_text=True)
        assert "Temporarily unavailable" in text and "cannot reach its database" in text
        assert page.headers["X-Request-ID"] in text  # a reference to quote
        assert api.get_json()["error"]["status"] == 503
        assert api.get_json()["error"]["title"] == "Temporarily unavailable"
        # Nor is the person signed out by it: the browser's cookie is left as it was.
        assert "Set-Cookie" not in page.headers and "Set-Cookie" not in api.headers

        # Back: the very next request works, still signed in.
        assert client.get("/demo-leuven/home").status_code == 200

        # Lost during a request: its statement waits on a lock, and the superuser ends it then.
        locker = admin.connect().execution_options(isolation_level="READ COMMITTED")
        transaction = locker.begin()
        locker.execute(sa.text("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE"))
        answers = []
        during = threading.Thread(target=lambda: answers.append(client.get("/demo-leuven/home", headers=english)))
        during.start()
        try:
            deadline = time.monotonic() + 120
            while not connection.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = :role AND datname = current_database() "
                "AND wait_event_type = 'Lock'"), {"role": APP_ROLE}):
                assert time.monotonic() < deadline, "the request never waited on the lock"
                time.sleep(0.02)
            end_app_connections(connection)
            during.join(120)
        finally:
            transaction.rollback()
            locker.close()
        [cut_off] = answers
        assert cut_off.status_code == 503 and "Retry-After" in cut_off.headers
        assert client.get("/demo-leuven/home").status_code == 200

    lines = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.getMessage().split(":")[0] for record in lines] == ["database unavailable"] * 3
    assert all(record.exc_info is None and "OperationalError" in record.getMessage() for record in lines)
    assert database not in caplog.text
    admin.dispose()


# --- 2. No traceback in any log line ------------------------------------------------------------


def test_a_handler_of_its_own_prints_no_traceback_only_the_errors_type_and_place(sqlite_app, capsys):
    library = logging.getLogger(f"a.library.{uuid.uuid4().hex}")
    library.addHandler(logging.StreamHandler(sys.stderr))  # logging's default format prints tracebacks
    library.propagate = False
    try:
        int(f"not a number: {runtime_tasks.SECRET}")
    except ValueError:
        library.exception("could not parse")
    logged = capsys.readouterr().err
    assert logged.startswith("could not parse (builtins.ValueError at test_runtime.py:")
    assert "Traceback" not in logged and runtime_tasks.SECRET not in logged


@pytest.mark.redis
def test_a_worker_logs_a_failing_job_without_a_traceback_and_measures_it_per_queue(sqlite_app, redis_url, tmp_path):
    settings = sqlite_app.extensions["livc.settings"]
    prefix = f"livc-test-{uuid.uuid4().hex[:8]}:"
    values = {"env": "test", "data_dir": str(settings.data_dir.resolve()), "secret_key": settings.secret_key,
              "redis_url": redis_url, "queue_prefix": prefix, "log_level": "INFO"}
    queued = make_app(tmp_path, **values)
    with queued.app_context():
        enqueue(runtime_tasks.library_logs_a_traceback_then_fails, tenant_id=None)
    metrics_port = free_port()
    env = clean_env(**values, metrics_port=str(metrics_port))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "metrics")  # as the chart sets it
    failed = FailedJobRegistry(prefix + "default", connection=Redis.from_url(redis_url))
    log = tmp_path / "worker.log"

    with log.open("wb") as output:
        worker = subprocess.Popen([str(console_script("livc")), "worker", "default"], cwd=REPO, env=env,
                                  stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    job = 'queue="default",task="runtime_tasks.library_logs_a_traceback_then_fails"'
    timed = f'livc_job_duration_seconds_count{{outcome="failed",{job}}}'
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT
        samples: dict[str, float] = {}
        while not failed.get_job_ids() or timed not in samples:  # failed in the horse, then timed
            assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
            if failed.get_job_ids():
                samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        # Its (slow) warm shutdown is not what this test is about: the worker and whatever it
        # forked (its work horse, its scheduler) end at once, none left behind.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=PROCESS_TIMEOUT)

    assert samples[timed] == 1
    assert samples[f"livc_job_failures_total{{{job}}}"] == 1
    assert samples['livc_queue_depth{queue="default"}'] == 0
    output = log.read_text()
    assert "could not parse (builtins.ValueError at runtime_tasks.py:" in output
    [line] = [line for line in output.splitlines() if "library_logs_a_traceback_then_fails" in line and "failed" in line]
    assert "LookupError" in line
    assert "Traceback" not in output and runtime_tasks.SECRET not in output


def test_a_command_that_dies_of_an_unexpected_error_says_so_in_one_line(tmp_path):
    env = clean_env(data_dir=str(tmp_path), env="test",
                    database_url="postgresql://livc:s3cret-pw@127.0.0.1:9/livc")  # nothing listens there

    run = subprocess.run([str(console_script("livc")), "migrate"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=PROCESS_TIMEOUT, check=False)

    assert run.returncode == 1
    output = run.stdout + run.stderr
    assert "Traceback" not in output and "s3cret-pw" not in output
    [line] = [line for line in output.splitlines() if line.strip()]
    assert "stopped by an unexpected error: sqlalchemy.exc.OperationalError at " in line


# --- 3. livc serve: no shared control socket; metrics on their own port ------------------------


def test_livc_serve_opens_no_control_socket_and_serves_metrics_per_endpoint_on_their_own_port(
    tmp_path, sqlite_template
):
    home, runtime, data = tmp_path / "home", tmp_path / "run", tmp_path / "data"
    for folder in (home, runtime, data):
        folder.mkdir(mode=0o700)
    shutil.copy(sqlite_template, data / "livc.sqlite")
    port, metrics_port = free_port(), free_port()
    env = clean_env(data_dir=str(data), env="test", secret_key="t" * 40, port=str(port), metrics_port=str(metrics_port))
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    server = start_server([str(console_script("livc")), "serve", "--workers", "2"], tmp_path, port, env)
    try:
        for path in ("/healthz", "/robots.txt", "/demo-leuven/cases/48151623", "/no/such/page/42"):
            try:
                urllib.request.urlopen(server.url(path), timeout=30).close()
            except urllib.error.HTTPError:
                pass  # refused or not found: measured all the same
        samples = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    finally:
        server.stop()

    # No control socket in the user's home or runtime folder (gunicorn's default places).
    left = [path for folder in (home, runtime) for path in folder.rglob("*")]
    assert left == [], left

    requests = {name: value for name, value in samples.items()
                if name.startswith("livc_http_request_duration_seconds_count")}
    healthz = 'livc_http_request_duration_seconds_count{endpoint="platform.healthz",method="GET",status="200"}'
    assert requests.get(healthz, 0) >= 1  # the health checks that waited for the start, and ours
    assert any('endpoint="platform.robots"' in name for name in requests)
    # An address with an id is measured under its endpoint's name, the id nowhere.
    assert 'livc_http_request_duration_seconds_count{endpoint="tenant.case",method="GET",status="404"}' in requests
    assert not any("48151623" in name or "/demo-leuven" in name or "42" in name for name in samples)
    assert samples["livc_outbox_waiting"] == 0


# --- 4. The demo stays a demo -------------------------------------------------------------------


def test_the_demo_is_not_seeded_unless_development_is_said_explicitly(tmp_path, monkeypatch):
    monkeypatch.delenv("LIVC_ENV", raising=False)
    unset = {"LIVC_DATA_DIR": str(tmp_path / "data"), "LIVC_ENV": None, "LIVC_DATABASE_URL": None,
             "LIVC_REDIS_URL": None}

    refused = CliRunner().invoke(cli, ["demo", "--no-serve"], env=unset)

    assert refused.exit_code != 0
    assert "LIVC_ENV=development" in refused.output and "published password" in refused.output
    assert not (tmp_path / "data" / "livc.sqlite").exists()  # not even migrated
    # Nor through the seeding function, in an app built as a deployment without LIVC_ENV builds it.
    app = create_app({"data_dir": str(tmp_path / "plain"), "secret_key": "t" * 40})
    with app.app_context(), pytest.raises(DemoRefused):
        seed_demo()


def production(app):
    """The test app, now judging as production does (its cookies stay those of the test client)."""
    settings = app.extensions["livc.settings"]
    app.extensions["livc.settings"] = settings.model_copy(update={"env": "production"})


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_demo_accounts_are_refused_at_sign_in_in_production_in_a_cell_and_on_the_console(app, cells, caplog):
    member = add_member(app, cells["demo-leuven"], "demo-leuven", Role.COORDINATOR,
                        email=f"coordinator.leuven@{DEMO_DOMAIN}")
    operator = add_operator(app, OperatorRole.ADMINISTRATOR, email=f"operator@{DEMO_DOMAIN}")
    client = app.test_client()
    production(app)

    with caplog.at_level(logging.INFO):
        cell = post_form(client, "/demo-leuven/sign-in", {"email": member.email, "password": member.password})
        console = post_form(client, "/admin/sign-in", {"email": operator.email, "password": operator.password})

    assert cell.status_code == 401 and console.status_code == 401
    assert "/sign-in/verify" not in cell.headers.get("Location", "")
    assert client.get("/demo-leuven/home").status_code in (302, 401)  # not signed in
    with app.app_context(), tenant_context(cells["demo-leuven"]):
        [refusal] = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "auth.sign_in_failed")).all()
        assert refusal.details == {"reason": "demo account in production"}
    assert caplog.text.count("sign-in of a demo account refused in production") == 2


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_outside_production_demo_accounts_sign_in_as_before(app, cells):
    member = add_member(app, cells["demo-leuven"], "demo-leuven", Role.COORDINATOR,
                        email=f"coordinator.leuven@{DEMO_DOMAIN}")
    answer = post_form(app.test_client(), "/demo-leuven/sign-in", {"email": member.email, "password": member.password})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/sign-in/verify")
