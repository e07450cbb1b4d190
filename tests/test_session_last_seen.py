"""A session's last activity (issue 20): still written, at most once a minute, and never a
reason for a session's requests to wait on each other."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session
from case_helpers import LEUVEN, ready_cell
from conftest import seed_demo_tenants
from livc.platform.db import db, tenant_context
from livc.platform.sessions import AuthSession
from livc.platform.timeutil import utcnow

EN = {"Accept-Language": "en"}


def _seen(app, cell) -> object:
    with app.app_context(), tenant_context(cell.tenant_id):
        seen = db.session.scalar(sa.select(AuthSession.last_seen_at).where(
            AuthSession.membership_id == cell.coordinator.membership_id))
        db.session.remove()
        return seen


def _age(app, cell, minutes: int) -> None:
    with app.app_context(), tenant_context(cell.tenant_id):
        db.session.execute(sa.update(AuthSession).where(AuthSession.membership_id == cell.coordinator.membership_id)
                           .values(last_seen_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()
        db.session.remove()


def test_last_seen_advances_at_most_once_a_minute(app, cells):
    cell = ready_cell(app, cells[LEUVEN], LEUVEN)
    client = app.test_client()
    give_session(app, client, cell.coordinator)
    _age(app, cell, 5)
    before = _seen(app, cell)
    assert client.get(f"/{cell.slug}/home", headers=EN).status_code == 200
    touched = _seen(app, cell)
    assert touched > before + timedelta(minutes=4)
    assert client.get(f"/{cell.slug}/home", headers=EN).status_code == 200
    assert _seen(app, cell) == touched  # not again within the minute


@pytest.mark.postgres
def test_a_request_does_not_wait_for_another_request_of_the_same_session_holding_its_row(
        postgres_app, postgres_database):
    app = postgres_app
    cell = ready_cell(app, seed_demo_tenants(app)[LEUVEN], LEUVEN)
    client = app.test_client()
    give_session(app, client, cell.coordinator)
    _age(app, cell, 5)
    # Another, slow request of the same session holds the session's row until it ends.
    owner = sa.create_engine(postgres_database["owner"], poolclass=sa.pool.NullPool)
    slow = owner.connect()
    slow.execute(sa.text("SELECT set_config('app.tenant_id', :tenant, true)"), {"tenant": str(cell.tenant_id)})
    held = slow.execute(sa.text("UPDATE auth_sessions SET last_seen_at = last_seen_at WHERE membership_id = :id"),
                        {"id": cell.coordinator.membership_id})
    assert held.rowcount == 1
    answers = []
    request = threading.Thread(target=lambda: answers.append(client.get(f"/{cell.slug}/home", headers=EN).status_code))
    try:
        request.start()
        request.join(timeout=30)
        assert answers == [200], "the request waited for the other one's transaction"
    finally:
        slow.rollback()
        slow.close()
        request.join(timeout=60)
        owner.dispose()
    assert client.get(f"/{cell.slug}/home", headers=EN).status_code == 200
    assert _seen(app, cell) > utcnow() - timedelta(minutes=1)  # written once the row was free
