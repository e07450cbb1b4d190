"""Issue 5, "Bad input": a key custodian that is down or refuses. The case is saved and usable,
its enrolment waits (pending) and is retried, the coordinator's page says it waits, nothing
personal reaches the logs, and once the custodian answers again the next sweep enrols and
matches it.

The custodian is the real service (``create_custodian_app``) over real HTTP from a thread, and
the platform reaches it with the real client (``LIVC_CUSTODIAN_URL``); jobs run inline, as in
the embedded mode, where a failing job must never turn the request into an error. The same
with Redis, a real worker and ``livc custodian serve`` stopped and started again is in
``test_federation_jobs.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session, post_form
from browser_support import free_port
from case_helpers import (
    HERKO,
    LEUVEN,
    confirmed,
    confirmer_for,
    membership,
    ready_cell,
    signal_values,
    weighing_values,
)
from custodian_helpers import threaded_custodian
from livc.federation import alerts, enrolment, linking
from livc.federation.custodian.settings import MAX_ELEMENTS
from livc.federation.custodian.storage import ClientRegistry
from livc.federation.custodian_client import CustodianClient
from livc.federation.models import EnrolmentStatus, FederationEnrolment, FederationToken
from livc.federation.oprf import blind
from livc.platform.db import db, tenant_context
from livc.platform.timeutil import utcnow

EN = {"Accept-Language": "en"}
AMRANI_L = {"given_names": "Mohammed", "family_name": "El Amrani", "date_of_birth": "1990-03-07",
            "national_number": "", "address": "Proefstraat 9, 3000 Leuven"}
AMRANI_H = {"given_names": "Muhammad", "family_name": "Elamrani", "date_of_birth": "1990-03-07",
            "national_number": "", "address": ""}
PERSONAL = ("Mohammed", "Mohamed", "Muhammad", "Amrani", "amrani", "1990", "Proefstraat")
WAITING = "Waiting for the key custodian"


def use_custodian(app, url: str, secret: str) -> None:
    """Point the platform's settings at a custodian service (as LIVC_CUSTODIAN_* would)."""
    settings = app.extensions["livc.settings"]
    app.extensions["livc.settings"] = settings.model_copy(update={
        "custodian_url": url, "custodian_client_id": "platform", "custodian_client_secret": secret,
    })


@pytest.fixture
def two(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN), ready_cell(app, cells[HERKO], HERKO)


@pytest.fixture
def custodian(app, tmp_path):
    """A working custodian service the platform uses: (its data folder, the client secret)."""
    data_dir = tmp_path / "custodian-service"
    secret = ClientRegistry(data_dir / "clients.json").add("platform")
    with threaded_custodian(data_dir, elements_per_minute=MAX_ELEMENTS) as url:
        use_custodian(app, url, secret)
        yield data_dir, secret, url


def as_cell(app, cell, func, *args):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        result = func(*args)
        db.session.commit()
        db.session.remove()
    return result


def open_person(app, cell, identity) -> tuple[int, str]:
    """A signal weighed into a case as the pages do it: the coordinator's proposal in one request,
    the partner's confirmation, which opens the case, in its own request's transaction."""
    from livc.tenants.cases.weighing import weigh_signal
    from livc.tenants.decisions.models import Proposal
    from livc.tenants.signals.operations import submit_signal

    def proposed():
        signal = submit_signal(membership(cell.partner), signal_values(**identity))
        return signal.id, weigh_signal(signal, membership(cell.coordinator), weighing_values(cell)).id

    def opened(signal_id, proposal_id):
        confirmed(db.session.get(Proposal, proposal_id), confirmer_for(cell, weighing_values(cell)))
        case_id = db.session.scalar(sa.text("select case_id from signals where id = :id"), {"id": signal_id})
        return case_id, db.session.scalar(sa.text("select code from cases where id = :id"), {"id": case_id})

    return as_cell(app, cell, opened, *as_cell(app, cell, proposed))


def link(app, left, right):
    as_cell(app, left, lambda: linking.request_link(left.tenant_id, right.tenant_id, membership(left.coordinator)))
    as_cell(app, right, lambda: linking.agree_link(right.tenant_id, left.tenant_id, membership(right.coordinator)))


def statuses(app) -> dict[int, EnrolmentStatus]:
    with app.app_context():
        found = {e.tenant_id: e.status for e in db.session.scalars(sa.select(FederationEnrolment))}
        db.session.remove()
    return found


def tokens_of(app, tenant_id: int) -> int:
    with app.app_context():
        count = db.session.scalar(
            sa.select(sa.func.count()).select_from(FederationToken).where(FederationToken.tenant_id == tenant_id)
        )
        db.session.remove()
    return count


def age_pending(app, minutes: int = 10) -> None:
    """As if the pending enrolments had waited ``minutes`` (the sweeper takes up those of 5+)."""
    with app.app_context():
        db.session.execute(
            sa.update(FederationEnrolment)
            .where(FederationEnrolment.status == EnrolmentStatus.PENDING)
            .values(updated_at=utcnow() - timedelta(minutes=minutes))
        )
        db.session.commit()
        db.session.remove()


def client_of(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


@contextmanager
def broken(app, how: str, data_dir, secret: str, url: str) -> Iterator[None]:
    """The custodian unreachable (nothing listens at its address), refusing this platform's
    credentials (401), or refusing Leuven's evaluations for the minute (429)."""
    if how == "unreachable":
        use_custodian(app, f"http://127.0.0.1:{free_port()}", secret)
    elif how == "refusing credentials":
        use_custodian(app, url, "not-the-secret-" + "x" * 32)
    else:  # Leuven used up its allowance of the minute
        CustodianClient(url, "platform", secret).evaluate(LEUVEN, [blind(b"filler").element] * MAX_ELEMENTS)
    yield


@pytest.mark.parametrize("how", ["unreachable", "refusing credentials", "rate limited"])
def test_a_case_opened_while_the_custodian_fails_is_saved_waits_and_is_matched_once_it_answers(
    app, two, custodian, how, caplog
):
    leuven, herko = two
    data_dir, secret, url = custodian
    link(app, leuven, herko)
    open_person(app, herko, AMRANI_H)
    assert statuses(app) == {herko.tenant_id: EnrolmentStatus.ENROLLED}
    coordinator = client_of(app, leuven.coordinator)

    caplog.set_level(logging.INFO)
    with broken(app, how, data_dir, secret, url):
        case_id, code = open_person(app, leuven, AMRANI_L)  # commits; its inline job fails after
        # The case is saved and usable: its page, a change of its identity, its page again.
        page = coordinator.get(f"/{LEUVEN}/cases/{case_id}", headers=EN)
        assert page.status_code == 200 and code in text(page)
        changed = post_form(coordinator, f"/{LEUVEN}/cases/{case_id}/identity", {"given_names": "Mohamed"},
                            form_path=f"/{LEUVEN}/cases/{case_id}/identity", headers=EN)
        assert changed.status_code == 302
        page = coordinator.get(f"/{LEUVEN}/cases/{case_id}", headers=EN)
        assert page.status_code == 200 and "Matching with linked cells waits for the key custodian" in text(page)

        # Its enrolment waits, with no token, and the coordinator reads why.
        assert statuses(app)[leuven.tenant_id] == EnrolmentStatus.PENDING
        assert tokens_of(app, leuven.tenant_id) == 0
        assert as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id)) == []
        federation = coordinator.get(f"/{LEUVEN}/cases/{case_id}/federation", headers=EN)
        assert federation.status_code == 200
        assert "being enrolled" in text(federation) and WAITING in text(federation)
        assert "retried automatically" in text(federation)

        # The periodic sweep, still without an answering custodian, fails neither (nor in the
        # cell whose enrolled cases it would check for an old key epoch or scheme).
        age_pending(app)
        assert as_cell(app, herko, enrolment.sweep_enrolments) == 0
        assert as_cell(app, leuven, enrolment.sweep_enrolments) == 1  # retried: waits again
        assert statuses(app)[leuven.tenant_id] == EnrolmentStatus.PENDING

    # The failure was logged by its type only: no name, date or address of the person.
    assert "inline job livc.federation.enrolment.enrol_case failed: livc.federation.custodian" in caplog.text
    for secret_text in (*PERSONAL, code):
        assert secret_text not in caplog.text, secret_text

    # The custodian answers again (the same key file; for the rate limit, a new minute): the
    # next sweep enrols the case and matches it.
    with threaded_custodian(data_dir, create_key=False) as again:  # its key file kept
        use_custodian(app, again, secret)
        assert as_cell(app, leuven, enrolment.sweep_enrolments) == 0  # not waiting long enough yet
        age_pending(app)
        assert as_cell(app, leuven, enrolment.sweep_enrolments) == 1
    assert statuses(app) == {leuven.tenant_id: EnrolmentStatus.ENROLLED, herko.tenant_id: EnrolmentStatus.ENROLLED}
    # Herent-Kortenberg's case was enrolled earlier: it hears first, Leuven once told.
    assert as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id)) == []
    [seen_in_herko] = as_cell(app, herko, lambda: alerts.alerts_for(herko.tenant_id))
    as_cell(app, herko, lambda: alerts.acknowledge(herko.tenant_id, seen_in_herko.id, membership(herko.coordinator)))
    [seen_in_leuven] = as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))
    assert seen_in_leuven.id == seen_in_herko.id and seen_in_leuven.case_code == code
    federation = text(coordinator.get(f"/{LEUVEN}/cases/{case_id}/federation", headers=EN))
    assert "in the federation index" in federation and WAITING not in federation
    assert "waits for the key custodian" not in text(coordinator.get(f"/{LEUVEN}/cases/{case_id}", headers=EN))


def test_a_link_agreed_while_the_custodian_is_down_keeps_both_cells_cases_pending(app, two, custodian):
    """The link's enrolment of every open case (one job per cell) writes them all as pending
    before it asks the custodian: when it cannot, they wait for the sweeper, none is lost."""
    leuven, herko = two
    _, secret, url = custodian
    case_l, _ = open_person(app, leuven, AMRANI_L)
    case_h, _ = open_person(app, herko, AMRANI_H)
    use_custodian(app, f"http://127.0.0.1:{free_port()}", secret)  # down

    ask, agree = client_of(app, leuven.coordinator), client_of(app, herko.coordinator)
    assert post_form(ask, f"/{LEUVEN}/federation/request", {"cell": str(herko.tenant_id)},
                     form_path=f"/{LEUVEN}/federation").status_code == 302
    agreed = post_form(agree, f"/{HERKO}/federation/agree", {"cell": str(leuven.tenant_id)},
                       form_path=f"/{HERKO}/federation", headers=EN)
    assert agreed.status_code == 302
    assert "The link is active" in text(agree.get(f"/{HERKO}/federation", headers=EN))
    assert statuses(app) == {leuven.tenant_id: EnrolmentStatus.PENDING, herko.tenant_id: EnrolmentStatus.PENDING}
    assert WAITING in text(ask.get(f"/{LEUVEN}/cases/{case_l}/federation", headers=EN))
    assert WAITING in text(agree.get(f"/{HERKO}/cases/{case_h}/federation", headers=EN))

    use_custodian(app, url, secret)  # back
    age_pending(app)
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 1
    assert as_cell(app, herko, enrolment.sweep_enrolments) == 1
    assert set(statuses(app).values()) == {EnrolmentStatus.ENROLLED}
    assert len(as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))) == 1  # Leuven's enrolled first
