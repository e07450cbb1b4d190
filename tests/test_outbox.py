"""The job outbox: jobs written in the request's transaction are never lost.

While Redis is down a request still commits and answers as usual, its job waits in the outbox;
the relay hands it over later and a worker delivers it once, however often it is handed over.
A mail that cannot be sent is tried again in rounds, then failed, listed and retried. A worker
outlives a Redis restart. On PostgreSQL a cell sees only its own outbox rows.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from redis import Redis
from rq.job import Job, JobStatus

from auth_helpers import add_member, post_form
from conftest import make_app, seed_demo_tenants
from livc.app.cli import cli
from livc.platform.db import db, tenant_context
from livc.platform.failed_jobs import failed_jobs, outbox_backlog
from livc.platform.jobs import (
    MAIL_ROUNDS,
    JobFailed,
    OutboxJob,
    OutboxState,
    OutgoingJob,
    enqueue,
    execute,
    hand_over,
    ping,
    run_relay,
)
from livc.platform.mail import deliver_mail
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
LIVC = str(Path(sys.executable).with_name("livc"))
LIMIT = 120  # seconds: generous, the machine may be loaded


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def app_on(tmp_path: Path, template: Path, **settings):
    data = tmp_path / "data"
    if not data.exists():
        data.mkdir()
        shutil.copy(template, data / "livc.sqlite")
    return make_app(tmp_path, **settings)


def env_for(app) -> dict[str, str]:
    settings = app.extensions["livc.settings"]
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVC_")}
    env.update({
        "LIVC_ENV": "test", "LIVC_DATA_DIR": str(settings.data_dir.resolve()), "LIVC_SECRET_KEY": settings.secret_key,
        "LIVC_REDIS_URL": settings.redis_url, "LIVC_QUEUE_PREFIX": settings.queue_prefix, "LIVC_LOG_LEVEL": "INFO",
    })
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    return env


def burst_worker(app) -> subprocess.CompletedProcess:
    run = subprocess.run([LIVC, "worker", "--burst"], cwd=REPO, env=env_for(app), capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    return run


def outbox_rows(app) -> list[OutboxJob]:
    with app.app_context():
        rows = db.session.scalars(sa.select(OutboxJob).order_by(OutboxJob.created_at)).all()
        db.session.expunge_all()
        db.session.remove()
    return list(rows)


def mails(app) -> list[Path]:
    return sorted((app.extensions["livc.settings"].data_dir / "mail").glob("*.eml"))


@pytest.mark.redis
def test_a_reset_asked_while_redis_is_down_is_mailed_once_after_the_relay_hands_it_over(
        tmp_path, sqlite_template, redis_url, caplog):
    prefix = f"livc-test-{uuid.uuid4().hex[:8]}:"
    down = app_on(tmp_path, sqlite_template, redis_url=f"redis://127.0.0.1:{free_port()}/0", queue_prefix=prefix)
    leuven = seed_demo_tenants(down)["demo-leuven"]
    member = add_member(down, leuven, "demo-leuven", Role.COORDINATOR)

    answer = post_form(down.test_client(), "/demo-leuven/password-reset", {"email": member.email})
    answer.close()  # the reset is handed over once the answer is out

    assert answer.status_code == 200
    (waiting,) = outbox_rows(down)
    assert waiting.state == OutboxState.PENDING and waiting.relayed_at is None and waiting.tenant_id == leuven
    kept = [record for record in caplog.records if "kept in the outbox" in record.getMessage()]
    assert len(kept) == 1 and kept[0].exc_info is None and member.email not in caplog.text

    up = make_app(tmp_path, redis_url=redis_url, queue_prefix=prefix)
    assert run_relay(up, once=True) == 1
    burst_worker(up)  # the reset job, then the mail it enqueues

    assert len(mails(up)) == 1 and member.email in mails(up)[0].read_text()
    assert [row.state for row in outbox_rows(up)] == [OutboxState.DONE, OutboxState.DONE]
    assert run_relay(up, once=True) == 0, "nothing is due any more"

    with up.app_context():  # a duplicate delivery of both jobs (as after a lost acknowledgement)
        hand_over([OutgoingJob.of(row) for row in outbox_rows(up)])
    run = burst_worker(up)
    assert len(mails(up)) == 1, "a duplicate does nothing"
    assert run.stderr.count("was done already") == 2 and "Traceback" not in run.stderr


@pytest.mark.redis
def test_a_mail_the_server_refuses_is_retried_in_rounds_then_failed_listed_and_retried(
        tmp_path, sqlite_template, redis_url):
    app = app_on(tmp_path, sqlite_template, redis_url=redis_url, queue_prefix=f"livc-test-{uuid.uuid4().hex[:8]}:",
                 smtp_url=f"smtp://127.0.0.1:{free_port()}")
    with app.app_context():
        job_id = enqueue(deliver_mail, "someone@example.test", "Subject", "Body", tenant_id=None).job_id
        path = deliver_mail.task.path
        started = utcnow()
        assert execute(None, path, ["someone@example.test", "Subject", "Body"], {}, job_id) is None  # round 1 failed

    (row,) = outbox_rows(app)
    assert row.state == OutboxState.PENDING and row.attempts == 1 and row.error == "ConnectionRefusedError"
    assert row.available_at - started >= timedelta(seconds=MAIL_ROUNDS[0]) and row.relayed_at is None
    assert sum(MAIL_ROUNDS) >= 23 * 3600, "about a day of tries before a mail fails"

    with app.app_context():
        db.session.execute(sa.update(OutboxJob).values(attempts=len(MAIL_ROUNDS)))  # the day has passed
        db.session.commit()
        with pytest.raises(JobFailed):
            execute(None, path, ["someone@example.test", "Subject", "Body"], {}, job_id)
        (failed,) = [job for job in failed_jobs() if job.id == job_id]
        assert (failed.queue, failed.error, failed.attempts) == ("mail", "ConnectionRefusedError", len(MAIL_ROUNDS) + 1)
        assert outbox_backlog()["waiting"] == 0
        db.session.remove()

    env = env_for(app)
    listed = CliRunner().invoke(cli, ["jobs", "failed"], env=env, catch_exceptions=False)
    assert job_id in listed.output and "ConnectionRefusedError" in listed.output
    assert "someone@example.test" not in listed.output
    retried = CliRunner().invoke(cli, ["jobs", "retry", job_id], env=env, catch_exceptions=False)
    assert "1 job(s) put back" in retried.output
    (row,) = outbox_rows(app)
    assert row.state == OutboxState.PENDING and row.attempts == 0 and row.relayed_at is not None
    with app.app_context():
        assert Job.fetch(job_id, connection=Redis.from_url(redis_url)).get_status() == JobStatus.QUEUED


class Lines:
    """A process's stderr, read as it comes, to wait on a line."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process):
        for line in process.stderr:
            self.lines.append(line)

    def wait_for(self, text: str, after: int = 0) -> int:
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline:
            for number, line in enumerate(self.lines[after:], start=after):
                if text in line:
                    return number
            time.sleep(0.2)
        raise AssertionError(f"no line with {text!r} within {LIMIT} s:\n{''.join(self.lines)}")


def start_redis(port: int) -> subprocess.Popen:
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    connection = Redis(port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + LIMIT
    while time.monotonic() < deadline:
        try:
            connection.ping()
            return server
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    server.kill()
    raise AssertionError("redis-server did not start")


@pytest.mark.redis
def test_a_worker_waits_for_redis_to_come_back_and_resumes(tmp_path, sqlite_template):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = start_redis(port)
    app = app_on(tmp_path, sqlite_template, redis_url=f"redis://127.0.0.1:{port}/0", queue_prefix="livc-resume:")
    worker = subprocess.Popen([LIVC, "worker"], cwd=REPO, env=env_for(app), stderr=subprocess.PIPE, text=True)
    try:
        lines = Lines(worker)
        lines.wait_for("Listening on")
        server.kill()
        server.wait(timeout=LIMIT)
        gone = lines.wait_for("Redis")  # one line saying so (RQ's or ours)
        server = start_redis(port)
        with app.app_context():
            job_id = enqueue(ping, tenant_id=None).job_id
        connection = Redis(port=port)
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline and Job.fetch(job_id, connection=connection).get_status() != JobStatus.FINISHED:
            time.sleep(0.2)
        assert Job.fetch(job_id, connection=connection).get_status() == JobStatus.FINISHED, "".join(lines.lines)
        assert worker.poll() is None, "the worker is still there"
        (row,) = outbox_rows(app)
        assert row.state == OutboxState.DONE
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=LIMIT)
        server.kill()
        server.wait(timeout=LIMIT)
    assert code == 0
    assert gone >= 0 and not any("Traceback" in line for line in lines.lines), "".join(lines.lines)


@pytest.mark.postgres
def test_a_cell_sees_and_changes_only_its_own_outbox_rows(postgres_app):
    with postgres_app.app_context():
        db.session.add_all([OutboxJob(id=uuid.uuid4().hex, tenant_id=tenant, task="t", queue="default", args=[],
                                      kwargs={}, state=OutboxState.PENDING, attempts=0) for tenant in (1, 2, None)])
        db.session.commit()
        with tenant_context(1):
            seen = db.session.scalars(sa.text("SELECT tenant_id FROM job_outbox")).all()
            assert seen == [1], "row-level security: not another cell's, not the platform's"
            changed = db.session.execute(sa.text("UPDATE job_outbox SET attempts = 9 WHERE tenant_id = 2"))
            assert changed.rowcount == 0, "another cell's jobs cannot be changed"
            # Work wanted in another cell (two cells that link enrol each other's cases) is written...
            db.session.add(OutboxJob(id=uuid.uuid4().hex, tenant_id=2, task="t", queue="default", args=[], kwargs={},
                                     state=OutboxState.PENDING, attempts=0))
            db.session.flush()
            # ... and still not readable from here.
            assert db.session.scalars(sa.text("SELECT tenant_id FROM job_outbox")).all() == [1]
            db.session.commit()
        rows = db.session.execute(sa.text("SELECT tenant_id, attempts FROM job_outbox")).all()
        assert sorted(rows, key=str) == sorted([(1, 0), (2, 0), (2, 0), (None, 0)], key=str)
        db.session.remove()
