"""Issue 20, throughput of the federation: a cell's bulk enrolment goes in batches (one job per
100 cases) that share the process's one custodian token, against the real custodian service
over HTTP and a real RQ worker; the sweep leaves alone an enrolment whose job is still queued
and sends again only one whose job is lost."""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from redis import Redis
from rq import Queue

from case_helpers import HERKO, LEUVEN, membership, ready_cell, signal_values, weighed_and_confirmed
from conftest import make_app, seed_demo_tenants
from custodian_helpers import threaded_custodian
from livc.federation import enrolment, linking
from livc.federation.custodian.storage import ClientRegistry
from livc.federation.models import EnrolmentStatus, FederationEnrolment
from livc.platform.db import db, tenant_context
from livc.platform.jobs import run_worker
from livc.platform.timeutil import utcnow

pytestmark = pytest.mark.redis

CASES = 30


def person(number: int) -> dict:
    return {"given_names": f"Testpersoon{chr(65 + number % 26)}{chr(65 + number // 26)}", "family_name": "Voorbeeld",
            "date_of_birth": f"19{60 + number}-03-07", "national_number": "", "address": ""}


@pytest.fixture
def deployment(tmp_path, sqlite_template, redis_url):
    """The app with Redis (jobs queued, not inline) and the custodian service: (app, cells, its data folder)."""
    (tmp_path / "data").mkdir()
    shutil.copy(sqlite_template, tmp_path / "data" / "livc.sqlite")
    custodian_dir = tmp_path / "custodian"
    secret = ClientRegistry(custodian_dir / "clients.json").add("platform")
    with threaded_custodian(custodian_dir, enrolments_per_week=100) as url:
        app = make_app(tmp_path, redis_url=redis_url, queue_prefix=f"livc-test-{uuid.uuid4().hex[:8]}:",
                       custodian_url=url, custodian_client_id="platform", custodian_client_secret=secret,
                       federation_enrolments_per_week=100)
        tenants = seed_demo_tenants(app)
        yield app, (ready_cell(app, tenants[LEUVEN], LEUVEN), ready_cell(app, tenants[HERKO], HERKO)), custodian_dir


def as_cell(app, cell, func):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        result = func()
        db.session.commit()
        db.session.remove()
    return result


def open_followed(app, cell, identity) -> None:
    from livc.tenants.signals.operations import submit_signal

    as_cell(app, cell, lambda: weighed_and_confirmed(cell, submit_signal(membership(cell.partner), signal_values(**identity))))


def enrolments(app, tenant_id: int) -> list[FederationEnrolment]:
    with app.app_context():
        rows = db.session.scalars(sa.select(FederationEnrolment).where(FederationEnrolment.tenant_id == tenant_id)).all()
        db.session.expunge_all()
        db.session.remove()
    return rows


def federation_queue(app) -> Queue:
    settings = app.extensions["livc.settings"]
    return Queue(settings.queue_prefix + "federation", connection=Redis.from_url(settings.redis_url))


def custodian_events(custodian_dir, event: str) -> list[dict]:
    lines = (custodian_dir / "audit.jsonl").read_text().splitlines()
    return [entry for entry in map(json.loads, lines) if entry["event"] == event]


def test_a_cells_bulk_enrolment_goes_in_one_batch_with_one_custodian_token(deployment):
    app, (leuven, herko), custodian_dir = deployment
    for number in range(CASES):
        open_followed(app, leuven, person(number))
    assert enrolments(app, leuven.tenant_id) == []  # not linked yet: nothing enrolled

    with app.test_request_context(), tenant_context(leuven.tenant_id):
        linking.request_link(leuven.tenant_id, herko.tenant_id, membership(leuven.coordinator))
        db.session.commit()
    with app.test_request_context(), tenant_context(herko.tenant_id):
        linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator))
        db.session.commit()
    run_worker(app, ["federation"], burst=True)  # the cells' enrolment, then its batch, each job forked

    enrolled = enrolments(app, leuven.tenant_id)
    assert [row.status for row in enrolled] == [EnrolmentStatus.ENROLLED] * CASES
    assert len({row.job_id for row in enrolled}) == 1  # 30 cases, one job (at most one per 100)
    evaluations = [e for e in custodian_events(custodian_dir, "evaluate") if e["outcome"] == "ok"]
    assert len(evaluations) >= CASES
    # Two more cases, each its own job in its own forked work horse: the same token still.
    open_followed(app, leuven, person(CASES))
    open_followed(app, leuven, person(CASES + 1))
    run_worker(app, ["federation"], burst=True)
    assert [row.status for row in enrolments(app, leuven.tenant_id)] == [EnrolmentStatus.ENROLLED] * (CASES + 2)
    tokens = custodian_events(custodian_dir, "token")
    assert [entry["outcome"] for entry in tokens] == ["issued"]  # one token for every job of the worker


def test_the_sweep_leaves_a_queued_enrolment_alone_and_sends_a_lost_one_again(deployment):
    app, (leuven, herko), _ = deployment
    with app.test_request_context(), tenant_context(leuven.tenant_id):
        linking.request_link(leuven.tenant_id, herko.tenant_id, membership(leuven.coordinator))
        db.session.commit()
    with app.test_request_context(), tenant_context(herko.tenant_id):
        linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator))
        db.session.commit()
    queue = federation_queue(app)
    queue.empty()  # the cells' (empty) enrolments are not the point here
    open_followed(app, leuven, person(1))  # its enrolment job waits in the queue (no worker runs)
    [pending] = enrolments(app, leuven.tenant_id)
    assert pending.status == EnrolmentStatus.PENDING and queue.job_ids == [pending.job_id]

    def age():
        with app.app_context():
            db.session.execute(sa.update(FederationEnrolment).values(updated_at=utcnow() - timedelta(minutes=30)))
            db.session.commit()
            db.session.remove()

    age()  # waiting behind a backlog for half an hour: still queued, so not lost
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 0
    assert queue.job_ids == [pending.job_id]

    queue.empty()  # Redis lost it
    age()
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 1
    [again] = enrolments(app, leuven.tenant_id)
    assert again.job_id != pending.job_id and queue.job_ids == [again.job_id]
    run_worker(app, ["federation"], burst=True)
    assert [row.status for row in enrolments(app, leuven.tenant_id)] == [EnrolmentStatus.ENROLLED]
