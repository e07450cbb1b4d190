"""Issue 19, the web layer: the session cookie, caching, the server banner, private data files,
the development outbox, and the client address behind proxies."""

from __future__ import annotations

import base64
import binascii
import os
import stat
import subprocess
import urllib.request
import zlib
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from itsdangerous import URLSafeTimedSerializer

from admin_helpers import add_operator, give_operator_session, sign_in_operator
from auth_helpers import add_member, post_form, sign_in
from browser_support import REPO, clean_env, console_script, free_port, start_demo, start_server
from livc.admin.operators.models import OperatorRole
from livc.platform.browsers import BrowserSession
from livc.platform.db import db
from livc.platform.mail import deliver_mail
from livc.platform.roles import Role
from livc.platform.sessions import purge_idle_browsers
from livc.platform.settings import ConfigurationError, load_settings
from livc.platform.timeutil import utcnow

LEUVEN, HERKO = "demo-leuven", "demo-herko"
EN = {"Accept-Language": "en"}
COOKIE = "livc_session"


@contextmanager
def settings_changed(app, **changes):
    settings = app.extensions["livc.settings"]
    app.extensions["livc.settings"] = settings.model_copy(update=changes)
    try:
        yield
    finally:
        app.extensions["livc.settings"] = settings


@contextmanager
def umask(mask: int):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def readable_parts(value: str) -> str:
    """Whatever can be read out of a cookie value without the key: itsdangerous's payload, and
    every dot-separated part decoded as (possibly compressed) base64."""
    found = [value]
    _, payload = URLSafeTimedSerializer("not the key", salt="cookie-session").loads_unsafe(value)
    found.append(repr(payload))
    for part in value.split("."):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            continue
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            pass
        found.append(raw.decode("latin-1"))
    return "\n".join(found)


# --- the session cookie ---------------------------------------------------------------------


@pytest.fixture
def herko_partner(app, cells):
    return add_member(app, cells[HERKO], HERKO, Role.PARTNER)


def test_the_session_cookie_carries_one_opaque_token_that_names_no_cell(app, cells, coordinator):
    client = app.test_client()
    sign_in(client, coordinator)
    assert client.get(f"/{LEUVEN}/home").status_code == 200
    value = client.get_cookie(COOKIE).value
    readable = readable_parts(value)
    assert LEUVEN not in readable and "auth" not in readable and "csrf" not in readable, readable
    assert len(value) < 120, "one token and its signature, no content"


def test_a_sign_in_gives_a_new_cookie_keeps_the_other_cells_and_ends_the_old_value(app, cells, coordinator):
    herko_seat = add_member(app, cells[HERKO], HERKO, Role.PARTNER, email=coordinator.email)  # one person, two cells
    client = app.test_client()
    sign_in(client, replace(coordinator, totp_secret=herko_seat.totp_secret))  # add_member set a new secret
    assert client.get(f"/{LEUVEN}/home").status_code == 200
    first = client.get_cookie(COOKIE).value

    herko_seat.codes_used = 1  # the code just used is spent
    sign_in(client, herko_seat)
    second = client.get_cookie(COOKIE).value
    assert second != first
    assert client.get(f"/{LEUVEN}/home").status_code == 200, "the other cell's session moved along"
    assert client.get(f"/{HERKO}/home").status_code == 200

    stolen = app.test_client()
    stolen.set_cookie(COOKIE, first)
    answer = stolen.get(f"/{LEUVEN}/home")
    assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"], "the old value opens nothing"


def test_another_persons_sign_in_on_the_same_browser_does_not_inherit_the_first_persons_cells(
        app, cells, coordinator, herko_partner):
    client = app.test_client()
    sign_in(client, coordinator)  # someone signs in to Leuven and walks away from a shared computer
    assert client.get(f"/{LEUVEN}/home").status_code == 200
    sign_in(client, herko_partner)  # the next person signs in to their own cell
    assert client.get(f"/{HERKO}/home").status_code == 200
    answer = client.get(f"/{LEUVEN}/home")
    assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]


def test_a_console_sign_in_gives_a_new_cookie_and_the_planted_value_opens_nothing(app):
    operator = add_operator(app)
    client = app.test_client()
    client.get("/admin/sign-in")
    planted = client.get_cookie(COOKIE).value  # what an attacker could have set in the browser
    sign_in_operator(client, operator)
    assert client.get_cookie(COOKIE).value != planted
    assert client.get("/admin/").status_code == 200
    attacker = app.test_client()
    attacker.set_cookie(COOKIE, planted)
    assert attacker.get("/admin/").status_code == 302


def test_browsers_left_idle_for_a_sign_in_lifetime_are_purged_and_live_ones_kept(app, cells, coordinator):
    idle, live = app.test_client(), app.test_client()
    idle.get(f"/{LEUVEN}/sign-in")  # a form shown to someone who never signed in leaves a row
    sign_in(live, coordinator)
    with app.app_context():
        rows = db.session.scalars(sa.select(BrowserSession).order_by(BrowserSession.id)).all()
        assert len(rows) == 2
        hours = app.extensions["livc.settings"].session_absolute_hours
        rows[0].last_seen_at = utcnow() - timedelta(hours=hours, minutes=1)
        db.session.commit()
        assert purge_idle_browsers() == 1
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(BrowserSession)) == 1
        db.session.remove()
    assert live.get(f"/{LEUVEN}/home").status_code == 200


# --- caching ----------------------------------------------------------------------------------


def test_pages_and_answers_for_signed_in_people_are_never_stored(app, cells, coordinator):
    client = app.test_client()
    sign_in(client, coordinator)
    for path in (f"/{LEUVEN}/home", f"/{LEUVEN}/members", f"/{LEUVEN}/api/members", f"/{LEUVEN}/api/me",
                 f"/{LEUVEN}/profile"):
        answer = client.get(path, headers=EN)
        assert answer.status_code == 200, path
        assert "no-store" in answer.headers.get("Cache-Control", ""), path
    assert coordinator.email in client.get(f"/{LEUVEN}/api/members", headers=EN).get_data(as_text=True)

    operator = add_operator(app)
    console = app.test_client()
    give_operator_session(app, console, operator)
    for path in ("/admin/", "/admin/api/session", "/admin/tenants"):
        answer = console.get(path, headers=EN)
        assert answer.status_code == 200, path
        assert "no-store" in answer.headers.get("Cache-Control", ""), path

    static = client.get("/static/favicon.svg")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


# --- the server banner and private data files (real processes) ---------------------------------


@pytest.fixture(scope="module")
def demo_under_umask_022(tmp_path_factory):
    """``livc demo`` started from a shell whose umask is 022 (a common login default)."""
    folder = tmp_path_factory.mktemp("demo-umask")
    with umask(0o022):
        server = start_demo(folder)
    yield server, folder / "data"
    server.stop()


def test_the_demo_server_sends_no_server_banner(demo_under_umask_022):
    server, _ = demo_under_umask_022
    for path in ("/healthz", "/", f"/{LEUVEN}/sign-in", "/static/favicon.svg", "/no-such-page"):
        try:
            with urllib.request.urlopen(server.url(path), timeout=10) as answer:
                headers = answer.headers
        except urllib.error.HTTPError as error:
            headers = error.headers
        assert "Server" not in headers, (path, headers.get("Server"))


def test_gunicorn_sends_no_server_banner(tmp_path):
    data = tmp_path / "data"
    env = clean_env(data_dir=str(data), env="test", secret_key="s" * 40)
    subprocess.run([str(console_script("livc")), "migrate"], cwd=REPO, env=env, check=True, capture_output=True)
    port = free_port()
    server = start_server([str(console_script("livc")), "serve", "--host", "127.0.0.1", "--port", str(port),
                           "--workers", "1"], tmp_path, port, env)
    try:
        with urllib.request.urlopen(server.url("/healthz"), timeout=10) as answer:
            assert "Server" not in answer.headers, answer.headers.get("Server")
    finally:
        server.stop()


def test_the_data_directory_and_the_embedded_database_are_private(demo_under_umask_022):
    _, data = demo_under_umask_022
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path.name} readable by others"
    assert stat.S_IMODE((data / "livc.sqlite").stat().st_mode) == 0o600


def test_outbox_mails_are_private_whatever_the_umask(app):
    with umask(0o022), app.test_request_context():
        name = deliver_mail("someone@example.test", "Reset", "https://example.test/reset/secret")
        folder = Path(app.extensions["livc.settings"].data_dir) / "mail"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600


# --- the development outbox ---------------------------------------------------------------------


@contextmanager
def environment(app, env: str | None):
    """The app's settings as if LIVC_ENV were ``env`` (None: unset), everything else alike."""
    settings = app.extensions["livc.settings"]
    kept = {name: getattr(settings, name) for name in settings.model_fields_set if name != "env"}
    app.extensions["livc.settings"] = load_settings(kept if env is None else {**kept, "env": env})
    try:
        yield
    finally:
        app.extensions["livc.settings"] = settings


def test_the_outbox_is_for_administrators_under_an_explicit_development_setting_only(app):
    administrator = add_operator(app, OperatorRole.ADMINISTRATOR)
    support = add_operator(app, OperatorRole.SUPPORT)
    admin_client, support_client = app.test_client(), app.test_client()
    give_operator_session(app, admin_client, administrator)
    give_operator_session(app, support_client, support)
    with environment(app, "development"):
        assert admin_client.get("/admin/outbox", headers=EN).status_code == 200
        assert support_client.get("/admin/outbox", headers=EN).status_code in (403, 404)
        health = support_client.get("/admin/health", headers=EN).get_data(as_text=True)
        assert "/admin/outbox" not in health, "no link to a page the support operator may not open"
    with environment(app, None):
        assert app.extensions["livc.settings"].env == "development", "unset still means development here"
        assert admin_client.get("/admin/outbox", headers=EN).status_code == 404


# --- the client address behind proxies ------------------------------------------------------------


def _reset_attempts(app, client, forwarded_for: str):
    return post_form(client, f"/{LEUVEN}/password-reset", {"email": "someone@example.test"},
                     headers={"X-Forwarded-For": forwarded_for, **EN})


def test_a_forwarded_address_from_a_peer_that_is_not_a_configured_proxy_is_ignored(app, cells):
    """The test client connects from loopback, which is not a proxy unless configured."""
    client = app.test_client()
    answers = [_reset_attempts(app, client, f"203.0.113.{n}").status_code for n in range(31)]
    assert answers[:30] == [200] * 30 and answers[30] == 429, "a new X-Forwarded-For each time does not help"


def test_behind_two_trusted_proxies_the_client_address_is_the_first_untrusted_hop(app, cells):
    """client -> ingress (10.1.2.3) -> sidecar (loopback) -> app: the ingress wrote the client's
    address; anything to its left came from the client and is not believed."""
    client = app.test_client()
    with settings_changed(app, forwarded_allow_ips="127.0.0.1,10.0.0.0/8"):
        answers = [_reset_attempts(app, client, f"192.0.2.{n}, 203.0.113.77, 10.1.2.3").status_code
                   for n in range(31)]
        assert answers[:30] == [200] * 30 and answers[30] == 429, "the spoofed left-most entries do not count"
        assert _reset_attempts(app, client, "203.0.113.78, 10.1.2.3").status_code == 200, "another client"


def test_every_peer_is_never_trusted_and_the_chart_names_a_network():
    with pytest.raises(ConfigurationError, match="LIVC_FORWARDED_ALLOW_IPS"):
        load_settings({"forwarded_allow_ips": "*"})
    values = yaml.safe_load((REPO / "helm" / "livc" / "values.yaml").read_text())
    allowed = values["config"]["forwardedAllowIps"]
    assert "*" not in allowed
    load_settings({"forwarded_allow_ips": allowed})  # addresses or networks the app accepts
