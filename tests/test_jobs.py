"""Background jobs: inline in embedded mode, on Redis with a real worker process otherwise.

What an operator or a cell would notice: a job does its work as the tenant it was enqueued
for and nowhere else (ORM filter and, on PostgreSQL, row-level security), a job of a tenant
that is gone does nothing, failures are retried with back-off and then kept for ``livc jobs
failed`` / ``livc jobs retry``, neither logs nor listings repeat an exception's message, and the
periodic audit-chain check reaches every active cell.

Workers are real ``livc worker --burst`` processes, started from the repository root; the test
tasks live in ``tests/job_tasks.py``, which the worker imports from its ``PYTHONPATH``.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import sysconfig
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import job_tasks
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from conftest import make_app
from livc.admin.onboarding.cells import create_tenant
from livc.app.cli import cli
from livc.app.periodic import PERIODIC
from livc.platform import audit
from livc.platform.audit import AuditEntry
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.jobs import RETRY_INTERVALS, Enqueued, PausedJob, enqueue, task_for
from livc.platform.schedule import build_scheduler, fan_out
from livc.platform.tenancy import Tenant, TenantStatus

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
LIVC = str(Path(sys.executable).with_name("livc"))
WORKER_TIMEOUT = 600  # seconds; a burst worker ends in seconds, but a loaded CI machine took over 60 s

sqlite_only = pytest.mark.parametrize("app", ["sqlite"], indirect=True)


# --- helpers ------------------------------------------------------------------------------------


def trail(app: Flask, tenant_id: int, action: str) -> list[AuditEntry]:
    """The entries of one tenant's audit trail with ``action``, oldest first."""
    with app.app_context():
        with tenant_context(tenant_id):
            entries = db.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            ).all()
            db.session.expunge_all()
        db.session.remove()
    return list(entries)


def set_status(app: Flask, tenant_id: int, status: TenantStatus) -> None:
    with app.app_context():
        db.session.get(Tenant, tenant_id).status = status
        db.session.commit()
        db.session.remove()


@dataclass
class Deployment:
    """The app of the ``app`` fixture, now with Redis: its app, and the environment its
    processes (worker, ``livc jobs``) run with."""

    app: Flask
    env: dict[str, str]
    prefix: str
    redis: Redis
    backend: str
    runs: list[subprocess.CompletedProcess] = field(default_factory=list)

    def queue(self, name: str) -> Queue:
        return Queue(self.prefix + name, connection=self.redis)

    def work(self, *command: str, queues: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
        """Run a real burst worker to the end, from the repository root."""
        run = subprocess.run(
            [*(command or (LIVC,)), "worker", "--burst", *queues],
            check=False,
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=WORKER_TIMEOUT,
        )
        self.runs.append(run)
        assert run.returncode == 0, run.stderr
        return run

    def cli(self, *args: str):
        """``livc ARGS`` in this process, against the real Redis."""
        return CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)

    def job(self, job_id: str) -> Job:
        return Job.fetch(job_id, connection=self.redis)


@pytest.fixture
def deployment(app, redis_url, tmp_path) -> Deployment:
    settings = app.extensions["livc.settings"]
    prefix = f"livc-test-{uuid.uuid4().hex[:8]}:"
    values = {
        "env": "test",
        "data_dir": str(settings.data_dir.resolve()),
        "secret_key": settings.secret_key,
        "redis_url": redis_url,
        "queue_prefix": prefix,
        "log_level": "INFO",
    }
    if settings.database_url:
        values.update(
            database_url=settings.database_url,
            migrate_database_url=settings.migrate_database_url,
            database_pool_size="2",
        )
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVC_")}
    env.update({f"LIVC_{name.upper()}": str(value) for name, value in values.items()})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    queued_app = make_app(tmp_path, **values)
    connection = Redis.from_url(redis_url)
    yield Deployment(queued_app, env, prefix, connection, db_backend(app))
    with queued_app.app_context():
        db.session.remove()
        db.engine.dispose()
    connection.close()


def db_backend(app: Flask) -> str:
    with app.app_context():
        return db.engine.dialect.name


# --- 1. embedded mode: inline, at once -----------------------------------------------------


def test_without_redis_a_job_runs_at_once_as_its_own_tenant(app, demo_tenants):
    leuven, herko = demo_tenants["demo-leuven"], demo_tenants["demo-herko"]
    with app.app_context():
        with tenant_context(herko):  # the caller works for another cell
            outcome = enqueue(job_tasks.visit, "inline-1", tenant_id=leuven)
            assert current_tenant_id() == herko  # and still does afterwards
        # Done before enqueue returned: nothing is queued, nothing waits for a worker.
        assert outcome == Enqueued(job_id=None, inline=True, succeeded=True)

    assert [e.subject for e in trail(app, leuven, "test.visited")] == ["note:inline-1"]
    assert trail(app, herko, "test.visited") == []


def test_a_job_enqueued_inside_a_transaction_runs_only_once_that_transaction_commits(app, demo_tenants):
    """The caller's own uncommitted write (and the lock on its audit head) comes first."""
    leuven = demo_tenants["demo-leuven"]
    with app.app_context(), tenant_context(leuven):
        audit.record("test.caller_wrote", actor="system:test")  # holds the chain's head
        outcome = enqueue(job_tasks.visit, "after-commit", tenant_id=leuven)
        assert outcome.succeeded is None  # held back, not run, not deadlocked
        assert trail(app, leuven, "test.visited") == []
        db.session.commit()
        db.session.remove()
    assert [e.subject for e in trail(app, leuven, "test.visited")] == ["note:after-commit"]
    with app.app_context(), tenant_context(leuven):
        assert audit.verify_chain().intact


def test_a_job_enqueued_in_a_transaction_that_rolls_back_never_runs(app, demo_tenants):
    leuven = demo_tenants["demo-leuven"]
    with app.app_context(), tenant_context(leuven):
        audit.record("test.caller_wrote", actor="system:test")
        enqueue(job_tasks.visit, "rolled-back", tenant_id=leuven)
        db.session.rollback()
        db.session.commit()  # a later, empty commit does not revive it
        db.session.remove()
    assert trail(app, leuven, "test.visited") == []


def test_without_redis_a_failing_job_leaves_the_caller_alone_and_logs_no_message(app, demo_tenants, caplog):
    leuven = demo_tenants["demo-leuven"]
    with app.app_context(), caplog.at_level("INFO"):
        outcome = enqueue(job_tasks.record_then_fail, tenant_id=leuven)  # does not raise
        # The caller's own session still works.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 2

    assert outcome == Enqueued(job_id=None, inline=True, succeeded=False)
    assert "job_tasks.record_then_fail" in caplog.text
    assert "ValueError" in caplog.text
    assert job_tasks.SECRET not in caplog.text
    assert "Traceback" not in caplog.text
    # The job's own transaction was rolled back: its half-done write is gone.
    assert trail(app, leuven, "test.half_done") == []


@sqlite_only
def test_without_redis_a_job_of_a_suspended_tenant_waits_and_one_of_a_missing_tenant_is_dropped(app, demo_tenants, caplog):
    herko = demo_tenants["demo-herko"]
    set_status(app, herko, TenantStatus.SUSPENDED)
    with app.app_context(), caplog.at_level("INFO"):
        suspended = enqueue(job_tasks.visit, "to-suspended", tenant_id=herko)
        missing = enqueue(job_tasks.visit, "to-missing", tenant_id=987654)

    assert suspended == missing == Enqueued(job_id=None, inline=True, succeeded=False)
    assert trail(app, herko, "test.visited") == []
    assert f"tenant {herko} is suspended: job kept" in caplog.text
    assert "tenant 987654 is missing or not active" in caplog.text
    with app.app_context():
        assert [(job.tenant_id, job.args) for job in db.session.scalars(sa.select(PausedJob))] == [(herko, ["to-suspended"])]


def test_without_redis_the_worker_and_job_commands_refuse_and_say_why(tmp_path):
    env = {"LIVC_ENV": "test", "LIVC_DATA_DIR": str(tmp_path), "LIVC_SECRET_KEY": "t" * 40}
    for command in (["worker", "--burst"], ["cron"], ["jobs", "failed"], ["jobs", "ping"]):
        result = CliRunner().invoke(cli, command, env=env)
        assert result.exit_code == 1, command
        assert "LIVC_REDIS_URL is not set" in result.output, command


# --- 2. with Redis: queued, and run by a real worker as its tenant -------------------------


@pytest.mark.redis
@sqlite_only
def test_a_queued_job_waits_on_its_prefixed_queue_with_no_arguments_in_its_description(
    deployment, demo_tenants
):
    leuven = demo_tenants["demo-leuven"]
    with deployment.app.app_context():
        outcome = enqueue(job_tasks.visit, "case-GNT-2026-007", tenant_id=leuven)

    assert outcome.inline is False and outcome.succeeded is None
    default = deployment.queue("default")
    assert default.get_job_ids() == [outcome.job_id]
    assert Queue("default", connection=deployment.redis).count == 0  # never the bare name
    job = deployment.job(outcome.job_id)
    assert job.description == "job_tasks.visit"
    assert "case-GNT-2026-007" not in job.description
    assert job.meta == {"task": "job_tasks.visit", "tenant_id": leuven}
    assert job.timeout == 600
    assert job.retries_left == len(RETRY_INTERVALS)
    # Nothing ran yet: with Redis nothing runs inline.
    assert trail(deployment.app, leuven, "test.visited") == []


@pytest.mark.redis
@sqlite_only
def test_a_job_reaches_redis_only_when_the_callers_transaction_commits(deployment, demo_tenants):
    leuven = demo_tenants["demo-leuven"]
    with deployment.app.app_context(), tenant_context(leuven):
        audit.record("test.caller_wrote", actor="system:test")
        outcome = enqueue(job_tasks.visit, "queued-after-commit", tenant_id=leuven)
        assert deployment.queue("default").count == 0  # a worker could not see the write yet
        db.session.commit()
        db.session.remove()
    assert deployment.queue("default").get_job_ids() == [outcome.job_id]


@pytest.mark.redis
def test_a_worker_runs_each_job_as_its_tenant_and_writes_only_there(deployment, demo_tenants):
    leuven, herko = demo_tenants["demo-leuven"], demo_tenants["demo-herko"]
    with deployment.app.app_context():
        for_leuven = enqueue(job_tasks.visit, "first", tenant_id=leuven)
        for_herko = enqueue(job_tasks.visit, "second", tenant_id=herko)
        platform_job = enqueue(job_tasks.platform_level, tenant_id=None)

    deployment.work()

    seen = {}
    for tenant_id, outcome in ((leuven, for_leuven), (herko, for_herko)):
        job = deployment.job(outcome.job_id)
        assert job.get_status() == JobStatus.FINISHED
        seen[tenant_id] = job.return_value()
        assert seen[tenant_id]["tenant"] == tenant_id
        assert seen[tenant_id]["orm_tenants"] == [tenant_id]
    if deployment.backend == "postgresql":
        # Raw SQL is not filtered by the ORM: row-level security was set up in the worker too.
        assert seen[leuven]["raw_tenants"] == [leuven]
        assert seen[herko]["raw_tenants"] == [herko]
    else:
        # SQLite has no second layer: the same raw SQL sees both cells (which is what makes
        # the PostgreSQL assertion above mean something).
        assert seen[leuven]["raw_tenants"] == sorted([leuven, herko])
    assert [e.subject for e in trail(deployment.app, leuven, "test.visited")] == ["note:first"]
    assert [e.subject for e in trail(deployment.app, herko, "test.visited")] == ["note:second"]
    platform = deployment.job(platform_job.job_id)
    assert platform.get_status() == JobStatus.FINISHED
    assert platform.return_value() is None  # a platform-level job works as no tenant


# --- 3. a job of a tenant that is gone is dropped ------------------------------------------


@pytest.mark.redis
@sqlite_only
def test_a_worker_keeps_the_job_of_a_suspended_tenant_and_drops_that_of_a_missing_one(deployment, demo_tenants):
    herko = demo_tenants["demo-herko"]
    with deployment.app.app_context():
        to_suspended = enqueue(job_tasks.visit, "late", tenant_id=herko)
        to_missing = enqueue(job_tasks.visit, "nobody", tenant_id=987654)
    set_status(deployment.app, herko, TenantStatus.SUSPENDED)  # after it was queued

    run = deployment.work()

    for outcome in (to_suspended, to_missing):
        job = deployment.job(outcome.job_id)
        assert job.get_status() == JobStatus.FINISHED  # not failed, so not retried
        assert job.return_value() is None
    assert trail(deployment.app, herko, "test.visited") == []
    assert f"tenant {herko} is suspended: job kept" in run.stderr
    assert "tenant 987654 is missing or not active" in run.stderr
    with deployment.app.app_context():
        assert [(job.tenant_id, job.args) for job in db.session.scalars(sa.select(PausedJob))] == [(herko, ["late"])]
    default = deployment.queue("default")
    assert default.scheduled_job_registry.get_job_ids() == []
    assert default.failed_job_registry.get_job_ids() == []


# --- 4. retries with back-off, then the failed-job registry --------------------------------


@pytest.mark.redis
@sqlite_only
def test_failures_are_retried_with_back_off_then_kept_listed_and_retried_on_request(
    deployment, demo_tenants
):
    leuven, herko = demo_tenants["demo-leuven"], demo_tenants["demo-herko"]
    with deployment.app.app_context():
        flaky = enqueue(job_tasks.always_fails, tenant_id=leuven)
        final = enqueue(job_tasks.fails_once, tenant_id=herko)
    default = deployment.queue("default")

    before = datetime.now(UTC)
    run = deployment.work()
    after = datetime.now(UTC)

    # First attempt failed: the retry waits in the scheduled registry for the first interval.
    scheduled = ScheduledJobRegistry(queue=default)
    assert scheduled.get_job_ids() == [flaky.job_id]
    assert deployment.job(flaky.job_id).retries_left == len(RETRY_INTERVALS) - 1
    due = scheduled.get_scheduled_time(flaky.job_id)
    first = timedelta(seconds=RETRY_INTERVALS[0])
    assert before + first - timedelta(seconds=1) <= due <= after + first + timedelta(seconds=1)
    # No retries: failed at once.
    failed = FailedJobRegistry(queue=default)
    assert failed.get_job_ids() == [final.job_id]
    assert deployment.job(final.job_id).get_status() == JobStatus.FAILED
    # The worker's log names each failure in one line, never its message.
    log = run.stdout + run.stderr
    [value_error] = [line for line in log.splitlines() if flaky.job_id in line and "failed" in line]
    assert "job_tasks.always_fails" in value_error and "ValueError" in value_error
    [lookup_error] = [line for line in log.splitlines() if final.job_id in line and "failed" in line]
    assert "job_tasks.fails_once" in lookup_error and "LookupError" in lookup_error
    assert job_tasks.SECRET not in log
    assert "Traceback" not in log

    listing = deployment.cli("jobs", "failed")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[-1] == "1 failed job(s)"
    [line] = [line for line in lines if final.job_id in line]
    assert "job_tasks.fails_once" in line
    assert f"tenant={herko}" in line
    assert "LookupError" in line
    assert job_tasks.SECRET not in listing.output
    assert "no record" not in listing.output
    # Nor is the message kept in Redis, where dashboards show a failed job's record.
    kept = deployment.job(final.job_id).latest_result().exc_string
    assert "LookupError" in kept
    assert job_tasks.SECRET not in kept and "no record" not in kept

    retried = deployment.cli("jobs", "retry", "--all")
    assert retried.exit_code == 0, retried.output
    assert "1 job(s) put back on their queue" in retried.output
    assert default.get_job_ids() == [final.job_id]
    assert deployment.job(final.job_id).get_status() == JobStatus.QUEUED
    assert failed.get_job_ids() == []
    assert deployment.cli("jobs", "failed").output.splitlines()[-1] == "0 failed job(s)"


@pytest.mark.redis
@sqlite_only
def test_retrying_unknown_job_ids_says_so(deployment):
    result = deployment.cli("jobs", "retry", "no-such-job")
    assert result.exit_code != 0
    assert "no-such-job" in result.output


# --- 5. diagnostics: a worker answers, on the standard library's platform module ----------


@pytest.mark.redis
@sqlite_only
def test_ping_is_answered_by_a_worker_that_uses_the_standard_librarys_platform_module(deployment):
    pinging = subprocess.Popen(
        [LIVC, "jobs", "ping", "--timeout", "30"],
        cwd=REPO, env=deployment.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        maintenance = deployment.queue("maintenance")
        deadline = time.monotonic() + 300
        while maintenance.count == 0 and pinging.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert maintenance.count == 1, "livc jobs ping enqueued nothing"
        # ``python -m`` from the repository root: the root is first on sys.path, where its
        # ``platform/`` folder could shadow the standard library's ``platform``.
        deployment.work(sys.executable, "-m", "livc.app.cli", queues=("maintenance",))
        out, err = pinging.communicate(timeout=300)
    finally:
        if pinging.poll() is None:
            pinging.kill()
            pinging.communicate()

    assert pinging.returncode == 0, err
    prefix = "worker answered: "
    [answer] = [line for line in out.splitlines() if line.startswith(prefix)]
    report = ast.literal_eval(answer.removeprefix(prefix))
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    module = Path(report["platform_module"]).resolve()
    assert module.parent == stdlib
    assert not module.is_relative_to(REPO)
    assert report["python"] == sys.version.split()[0]
    assert int(report["pid"]) != pinging.pid


# --- 6. periodic jobs ----------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.parametrize("app", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_the_periodic_chain_check_reaches_every_active_tenant_and_no_other(deployment, demo_tenants):
    leuven, herko = demo_tenants["demo-leuven"], demo_tenants["demo-herko"]
    with deployment.app.app_context():
        dormant = create_tenant(
            {"slug": "dormant-cell", "name": "Dormant cell", "kind": "municipality",
             "languages": ["nl"], "municipalities": [{"nis_code": "11002", "name": "Antwerpen"}]}
        ).id
        db.session.commit()
        db.session.remove()
    set_status(deployment.app, dormant, TenantStatus.SUSPENDED)

    scheduler = build_scheduler(deployment.app, PERIODIC)
    cron_jobs = {job.name: job for job in scheduler.get_jobs()}
    assert sorted(cron_jobs) == sorted(periodic.name for periodic in PERIODIC)
    for periodic in PERIODIC:
        cron_job = cron_jobs[periodic.name]
        assert cron_job.cron == periodic.cron
        runs = fan_out.task if periodic.per_tenant else task_for(periodic.task)
        assert cron_job.queue_name == deployment.prefix + runs.queue
        assert cron_job.args[1:3] == (runs.path, [periodic.task] if periodic.per_tenant else [])
    maintenance = deployment.queue("maintenance")
    assert scheduler.enqueue_jobs() == []  # not due yet
    assert maintenance.count == 0

    for cron_job in cron_jobs.values():
        cron_job.next_enqueue_time = datetime.now(UTC) - timedelta(seconds=1)
    assert len(scheduler.enqueue_jobs()) == len(PERIODIC)
    job_ids = maintenance.get_job_ids()
    assert len(job_ids) == len(PERIODIC)
    fan_out_ids = [job_id for job_id in job_ids if deployment.job(job_id).meta["task"] == fan_out.task.path]
    assert len(fan_out_ids) == sum(1 for periodic in PERIODIC if periodic.per_tenant)
    for fan_out_id in fan_out_ids:
        assert deployment.job(fan_out_id).meta == {"task": fan_out.task.path, "tenant_id": None}

    deployment.work()

    for fan_out_id in fan_out_ids:
        fan_out_job = deployment.job(fan_out_id)
        assert fan_out_job.get_status() == JobStatus.FINISHED
        assert fan_out_job.return_value() == 2  # active tenants
    for tenant_id in (leuven, herko):
        [entry] = trail(deployment.app, tenant_id, "audit.chain_verified")
        assert entry.details["intact"] is True
        assert entry.actor == "system"
    assert trail(deployment.app, dormant, "audit.chain_verified") == []
    assert maintenance.failed_job_registry.get_job_ids() == []
