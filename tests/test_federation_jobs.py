"""The federation as production runs it: PostgreSQL, Redis, a real ``livc worker --burst``
process and the key custodian as its own service (``livc custodian serve``) over HTTP.

Issue 5's "within one job cycle": two linked cells, the same person enrolled in one, and a case
about them becoming active in the other: after one worker burst (the enrolment job and what it
enqueues: the mails), both coordinators have the alert, and their mails name cells only.
"""

from __future__ import annotations

import email
import email.policy
import os
import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from browser_support import Server, clean_env, console_script, free_port, start_server
from case_helpers import HERKO, LEUVEN, membership, ready_cell, signal_values, weighed_and_confirmed
from conftest import make_app, seed_demo_tenants
from livc.federation import alerts, enrolment, linking
from livc.federation.models import AlertState, EnrolmentStatus, FederationEnrolment, SideStatus
from livc.platform.db import db, tenant_context
from livc.platform.jobs import QUEUES

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
LIVC = str(Path(sys.executable).with_name("livc"))
# The same person as two offices write them: transliteration and particles differ, one knows
# the national number.
IN_HERKO = {"given_names": "Yusuf", "family_name": "Vandenvoorbeeld", "date_of_birth": "1999-06-21",
            "national_number": "", "address": "Testweg 3, 3020 Herent"}
IN_LEUVEN = {"given_names": "Youssef", "family_name": "Van den Voorbeeld", "date_of_birth": "1999-06-21",
             "national_number": "99.06.21-123.45", "address": "Proefstraat 9, 3000 Leuven"}
PERSONAL = ("Yusuf", "Youssef", "Voorbeeld", "voorbeeld", "1999", "21/06", "99.06.21", "Testweg", "Proefstraat")


@dataclass
class CustodianProcess:
    """``livc custodian serve`` in a subprocess: stopped and started again on the same port and
    data folder (its key file kept), as a restarted or failed deployment would be."""

    folder: Path
    env: dict[str, str]
    port: int
    server: Server | None = None

    def start(self) -> None:
        args = [str(console_script("livc")), "custodian", "serve", "--port", str(self.port)]
        self.server = start_server(args, self.folder, self.port, self.env)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def custodian_process(tmp_path):
    """The custodian service with its own data folder (key file made by ``livc custodian init``),
    this platform registered as a client: (the process, the client's secret)."""
    folder = tmp_path / "custodian"
    folder.mkdir()
    env = clean_env(custodian_data_dir=str(folder / "data"))
    secret = secrets.token_urlsafe(32)
    subprocess.run([str(console_script("livc")), "custodian", "clients", "add", "platform", "--secret-stdin"],
                   env=env, input=secret + "\n", capture_output=True, text=True, check=True, timeout=300)
    subprocess.run([str(console_script("livc")), "custodian", "init"], env=env, capture_output=True, text=True,
                   check=True, timeout=300)
    process = CustodianProcess(folder, env, free_port())
    process.start()
    yield process, secret
    process.stop()


@pytest.fixture
def custodian_service(custodian_process):
    """The platform's settings for the custodian service."""
    process, secret = custodian_process
    return {"custodian_url": process.server.base_url, "custodian_client_id": "platform", "custodian_client_secret": secret}


def evaluated_cells(tmp_path) -> list[str]:
    """The cells the custodian service evaluated elements for (its audit log)."""
    import json

    lines = (tmp_path / "custodian" / "data" / "audit.jsonl").read_text().splitlines()
    return [entry["cell"] for entry in map(json.loads, lines) if entry["event"] == "evaluate" and entry["outcome"] == "ok"]


@pytest.fixture
def production_like(postgres_app, redis_url, custodian_service, tmp_path):
    """The app with Redis and the custodian service, and the environment of its worker process."""
    settings = postgres_app.extensions["livc.settings"]
    values = {
        "env": "test",
        "data_dir": str(settings.data_dir.resolve()),
        "secret_key": settings.secret_key,
        "redis_url": redis_url,
        "queue_prefix": f"livc-test-{uuid.uuid4().hex[:8]}:",
        "database_url": settings.database_url,
        "migrate_database_url": settings.migrate_database_url,
        "database_pool_size": "2",
        **custodian_service,
    }
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVC_")}
    env.update({f"LIVC_{name.upper()}": str(value) for name, value in values.items()})
    app = make_app(tmp_path, **values)
    redis = Redis.from_url(redis_url)
    yield app, env, values["queue_prefix"], redis
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    redis.close()


def work(env: dict[str, str]) -> subprocess.CompletedProcess:
    """One burst of a real worker on every queue: it stops once they are all empty."""
    run = subprocess.run([LIVC, "worker", "--burst"], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr
    return run


def as_cell(app, cell, func):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        result = func()
        db.session.commit()
        db.session.remove()
    return result


def open_case_about(app, cell, identity: dict) -> str:
    """A signal about ``identity`` weighed into a case (proposed and confirmed): its code."""
    from livc.tenants.signals.operations import submit_signal

    def opened():
        signal = submit_signal(membership(cell.partner), signal_values(**identity))
        case_id = weighed_and_confirmed(cell, signal)
        return db.session.scalar(sa.text("select code from cases where id = :id"), {"id": case_id})

    return as_cell(app, cell, opened)


def enrolments(app) -> dict[int, EnrolmentStatus]:
    with app.app_context():
        found = {e.tenant_id: e.status for e in db.session.scalars(sa.select(FederationEnrolment))}
        db.session.remove()
    return found


def outbox(app) -> list[email.message.EmailMessage]:
    folder = app.extensions["livc.settings"].data_dir / "mail"
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(folder.glob("*.eml"))]


def test_one_worker_burst_brings_the_alert_to_both_coordinators_with_mails_naming_cells_only(
    postgres_app, production_like, tmp_path
):
    app, env, prefix, redis = production_like
    demo_tenants = seed_demo_tenants(postgres_app)
    leuven = ready_cell(postgres_app, demo_tenants[LEUVEN], LEUVEN)
    herko = ready_cell(postgres_app, demo_tenants[HERKO], HERKO)
    as_cell(app, leuven, lambda: linking.request_link(leuven.tenant_id, herko.tenant_id, membership(leuven.coordinator)))
    as_cell(app, herko, lambda: linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator)))
    herko_code = open_case_about(app, herko, IN_HERKO)
    work(env)  # the link's and Herent-Kortenberg's enrolment: the person is in the index there
    assert enrolments(app) == {herko.tenant_id: EnrolmentStatus.ENROLLED}
    evaluated = evaluated_cells(tmp_path)
    assert set(evaluated) == {HERKO}  # through the custodian service
    mails_before = len(outbox(app))

    # The case becomes active in Leuven: written as pending, its job waiting in Redis.
    leuven_code = open_case_about(app, leuven, IN_LEUVEN)
    assert enrolments(app)[leuven.tenant_id] == EnrolmentStatus.PENDING
    assert Queue(prefix + "federation", connection=redis).count == 1
    assert as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id)) == []

    run = work(env)

    assert enrolments(app) == {leuven.tenant_id: EnrolmentStatus.ENROLLED, herko.tenant_id: EnrolmentStatus.ENROLLED}
    assert evaluated_cells(tmp_path)[len(evaluated):] == [LEUVEN]  # the new case's tokens, once
    # Herent-Kortenberg's case was enrolled earlier: it hears first; Leuven once told.
    assert as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id)) == []
    [seen_in_herko] = as_cell(app, herko, lambda: alerts.alerts_for(herko.tenant_id))
    assert seen_in_herko.state == AlertState.OPEN and seen_in_herko.status == SideStatus.NEW
    assert seen_in_herko.heard_first and seen_in_herko.agreeing == ()  # never shown to a cell
    # Everything was done in that one burst: no job left waiting or failed.
    for queue in QUEUES:
        assert Queue(prefix + queue, connection=redis).count == 0, queue
        assert FailedJobRegistry(prefix + queue, connection=redis).count == 0, queue
    assert [str(mail["To"]) for mail in outbox(app)[mails_before:]] == [herko.coordinator.email]

    # Herent-Kortenberg judges it worth checking: Leuven sees it and is mailed (a job).
    as_cell(app, herko, lambda: alerts.acknowledge(herko.tenant_id, seen_in_herko.id, membership(herko.coordinator)))
    run_told = work(env)
    [seen_in_leuven] = as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))
    assert seen_in_leuven.id == seen_in_herko.id and seen_in_leuven.status == SideStatus.NEW
    assert (seen_in_leuven.case_code, seen_in_herko.case_code) == (leuven_code, herko_code)

    # One mail to each cell's coordinator, naming the two cells and nothing else.
    mails = outbox(app)[mails_before:]
    assert sorted(str(mail["To"]) for mail in mails) == sorted([leuven.coordinator.email, herko.coordinator.email])
    with app.app_context():
        from livc.platform.tenancy import Tenant

        names = {cell.slug: db.session.get(Tenant, cell.tenant_id).name for cell in (leuven, herko)}
        db.session.remove()
    for mail in mails:
        text = f"{mail['Subject']}\n{mail.get_content()}"
        assert names[LEUVEN] in text and names[HERKO] in text
        assert "/federation/alerts" in text
        for secret in (*PERSONAL, leuven_code, herko_code, "score", "name_dob"):
            assert secret not in text, secret
    # ... and the worker's log carries no personal data either.
    for secret in (*PERSONAL, leuven_code, herko_code):
        assert secret not in run.stdout + run.stderr + run_told.stdout + run_told.stderr, secret


def test_a_case_opened_while_the_custodian_service_is_down_waits_and_is_matched_once_it_is_back(
    postgres_app, production_like, custodian_process, tmp_path
):
    """Issue 5's "a custodian that is down": the case is saved, its job fails on the worker and
    is retried with back-off (its arguments and metadata ids and type names only), the
    enrolment stays pending; once the service is back, the sweep's job enrols and matches it."""
    app, env, prefix, redis = production_like
    process, _ = custodian_process
    demo_tenants = seed_demo_tenants(postgres_app)
    leuven = ready_cell(postgres_app, demo_tenants[LEUVEN], LEUVEN)
    herko = ready_cell(postgres_app, demo_tenants[HERKO], HERKO)
    as_cell(app, leuven, lambda: linking.request_link(leuven.tenant_id, herko.tenant_id, membership(leuven.coordinator)))
    as_cell(app, herko, lambda: linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator)))
    open_case_about(app, herko, IN_HERKO)
    work(env)
    assert enrolments(app) == {herko.tenant_id: EnrolmentStatus.ENROLLED}

    process.stop()
    leuven_code = open_case_about(app, leuven, IN_LEUVEN)  # committed: the case is saved
    assert enrolments(app)[leuven.tenant_id] == EnrolmentStatus.PENDING
    run = work(env)
    # The job failed and waits for its retry; nothing was enrolled, nothing alerted.
    assert enrolments(app)[leuven.tenant_id] == EnrolmentStatus.PENDING
    assert as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id)) == []
    retries = ScheduledJobRegistry(prefix + "federation", connection=redis)
    [job_id] = retries.get_job_ids()
    job = Job.fetch(job_id, connection=redis)
    assert job.retries_left in (1, 2)  # retried with back-off, not given up
    assert job.meta["task"] == "livc.federation.enrolment.enrol_case"
    assert job.meta["error"] == "livc.federation.custodian_client.CustodianUnavailable"
    tenant_id, task_path, args, kwargs, outbox_id = job.args
    assert task_path == "livc.federation.enrolment.enrol_case" and outbox_id == job.id
    assert tenant_id == leuven.tenant_id and all(isinstance(arg, int) for arg in args) and kwargs == {}
    stored = repr(job.args) + repr(job.meta) + (job.latest_result().exc_string if job.latest_result() else "")
    assert "CustodianUnavailable" in stored
    for secret in (*PERSONAL, leuven_code):
        assert secret not in stored, secret
        assert secret not in run.stdout + run.stderr, secret

    # The service is back (its key file kept). The periodic sweep leaves an enrolment whose job
    # waits for its retry alone (no second job); the retry, when its time comes, enrols it.
    process.start()
    assert as_cell(app, leuven, lambda: enrolment.sweep_enrolments(older_than=timedelta(0))) == 0
    retries.remove(job)  # its back-off, shortened: the retry is due now
    Queue(prefix + "federation", connection=redis).enqueue_job(job)
    work(env)
    assert enrolments(app) == {leuven.tenant_id: EnrolmentStatus.ENROLLED, herko.tenant_id: EnrolmentStatus.ENROLLED}
    [seen_in_herko] = as_cell(app, herko, lambda: alerts.alerts_for(herko.tenant_id))  # the earlier case's cell
    as_cell(app, herko, lambda: alerts.acknowledge(herko.tenant_id, seen_in_herko.id, membership(herko.coordinator)))
    [seen_in_leuven] = as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))
    assert seen_in_leuven.id == seen_in_herko.id and seen_in_leuven.case_code == leuven_code
