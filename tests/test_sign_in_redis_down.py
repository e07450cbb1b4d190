"""Issue 20: sign-in and password reset while Redis is down. The per-address rate limit counts in
the database instead (one log line, no traceback), the pages and the API answer as they always
do, never 500, and an address still gets no more than its 30 attempts a minute."""

from __future__ import annotations

import logging
import shutil

import pytest

from auth_helpers import add_member, csrf_token, post_form, sign_in
from browser_support import free_port
from case_helpers import LEUVEN
from conftest import make_app, seed_demo_tenants
from livc.platform.roles import Role

EN = {"Accept-Language": "en"}


@pytest.fixture
def redis_down_app(tmp_path, sqlite_template):
    """The app configured with a Redis that nothing listens for (as during an outage)."""
    (tmp_path / "data").mkdir()
    shutil.copy(sqlite_template, tmp_path / "data" / "livc.sqlite")
    app = make_app(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    return app, seed_demo_tenants(app)


def test_sign_in_and_password_reset_answer_normally_while_redis_is_down(redis_down_app, caplog):
    app, cells = redis_down_app
    member = add_member(app, cells[LEUVEN], LEUVEN, Role.COORDINATOR)
    caplog.set_level(logging.WARNING)

    browser = app.test_client()
    assert browser.get(f"/{LEUVEN}/sign-in", headers=EN).status_code == 200
    sign_in(browser, member)  # password, then the authenticator code: redirected, signed in
    assert browser.get(f"/{LEUVEN}/profile", headers=EN).status_code == 200

    wrong = post_form(app.test_client(), f"/{LEUVEN}/sign-in", {"email": member.email, "password": "not it at all"},
                      headers=EN)
    assert wrong.status_code == 401  # the refusal page, as always
    reset = post_form(app.test_client(), f"/{LEUVEN}/password-reset", {"email": member.email}, headers=EN)
    assert reset.status_code == 200

    api = app.test_client()
    token = api.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    headers = {"X-CSRFToken": token, **EN}
    refused = api.post(f"/{LEUVEN}/api/session", json={"email": member.email, "password": "not it at all",
                                                         "code": "000000"}, headers=headers)
    assert refused.status_code == 401, refused.get_data(as_text=True)
    accepted = api.post(f"/{LEUVEN}/api/session", json={"email": member.email, "password": member.password,
                                                          "code": member.fresh_code()}, headers=headers)
    assert accepted.status_code == 201, accepted.get_data(as_text=True)
    other = app.test_client()
    other_token = other.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    asked = other.post(f"/{LEUVEN}/api/password-reset", json={"email": member.email},
                       headers={"X-CSRFToken": other_token, **EN})
    assert asked.status_code in (200, 202), asked.get_data(as_text=True)

    degraded = [r for r in caplog.records if r.name == "livc.platform.address_limits"]
    assert len(degraded) == 1 and "counting attempts in the database" in degraded[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_the_address_cap_holds_while_redis_is_down(redis_down_app):
    app, _ = redis_down_app
    client = app.test_client()
    token = csrf_token(client, f"/{LEUVEN}/password-reset")
    answers = [
        client.post(f"/{LEUVEN}/password-reset", data={"csrf_token": token, "email": "someone@example.test"},
                    headers=EN).status_code
        for _ in range(31)
    ]
    assert answers[:30] == [200] * 30 and answers[30] == 429
    # The same address at the API and the operator console's sign-in: the one count, still full.
    api = app.test_client()
    session_token = api.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    over = api.post(f"/{LEUVEN}/api/session", json={"email": "someone@example.test", "password": "x" * 12, "code": "000000"},
                    headers={"X-CSRFToken": session_token, **EN})
    assert over.status_code == 429

