"""Single sign-on against a real OpenID Connect provider (panva/oidc-provider on Node).

The provider runs in a subprocess on 127.0.0.1 for the whole session; tests drive its real
login and consent pages over HTTP with ``requests``, as a browser would, and the app with its
test client. For back-channel logout the provider must reach the app server to server, so
the app is also served on a loopback port (whichever app the current test uses). Every test
runs on SQLite and PostgreSQL.

Tampering is done the way an attacker in the middle would: the real token the provider
issued is changed on its way to the app (or the app's stored nonce is not the one the token
carries); nothing of the provider is mocked.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import selectors
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import sqlalchemy as sa
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

from auth_helpers import add_member, csrf_token, post_form, sign_in
from conftest import CI, REPO, seed_demo_tenants, service_unavailable
from livc.platform.accounts import AccountIdentity
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.sessions import AuthSession
from livc.tenants.members import sso
from livc.tenants.members.models import Invitation, Membership, MembershipStatus
from livc.tenants.members.operations import create_invitation

LEUVEN, HERKO = "demo-leuven", "demo-herko"
EN = {"Accept-Language": "en"}
APP_ORIGIN = "http://localhost"  # what the test client's external URLs start with
PROVIDER_DIR = REPO / "tests" / "oidc_provider"
CLIENT_ID = "livc-test"
CLIENT_SECRET = secrets.token_urlsafe(32)
# Logins at the provider; the app knows some of these people (see the ``cell`` fixture).
ACCOUNTS = {
    "alice": {"email": "alice@example.test", "email_verified": True},  # an active member
    "bruno": {"email": "bruno@example.test", "email_verified": False},  # a member, e-mail unverified
    "chris": {"email": "chris@example.test", "email_verified": True},  # a member of another cell only
    "dana": {"email": "dana@example.test", "email_verified": True},  # invited, not yet joined
}
GENERIC_FAILURE = "The e-mail address or password is wrong, or this account has no access to this cell."
NOT_SAFE = "The sign-in could not be completed safely. Please start again."


# --- the real provider, and the app reachable for it --------------------------------------


class CurrentApp:
    """A WSGI server's application: whichever app the running test uses."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def app_server():
    """The app on a loopback port, for the provider's back-channel logout calls."""
    current = CurrentApp()
    server = make_server("127.0.0.1", 0, current, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield current, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@dataclass(frozen=True)
class Provider:
    issuer: str
    end_session_endpoint: str


def _install_provider() -> None:
    if not (shutil.which("node") and shutil.which("npm")):
        service_unavailable("node and npm", FileNotFoundError("node"), "install them (apt-get install nodejs npm)")
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "install-oidc-provider.sh")],
        check=False, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        service_unavailable(
            "the npm package oidc-provider", RuntimeError(result.stderr.strip()[-300:]),
            "run bash scripts/install-oidc-provider.sh (needs the npm registry)",
        )


def _wait_until_ready(process: subprocess.Popen, timeout: float = 30) -> str:
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.5):
            line = process.stdout.readline()
            if line.startswith("oidc-provider ready "):
                return line.split()[-1]
            if not line:
                break
        if process.poll() is not None:
            break
    raise RuntimeError(f"the provider did not start (exit status {process.poll()})")


@pytest.fixture(scope="session")
def provider(app_server, tmp_path_factory) -> Provider:
    """A real oidc-provider on a free loopback port, with one client registered for livc."""
    _install_provider()
    _, app_url = app_server
    config = {
        "port": 0,
        "clients": [{
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{APP_ORIGIN}/{slug}/sign-in/sso/callback" for slug in (LEUVEN, HERKO)],
            "post_logout_redirect_uris": [f"{APP_ORIGIN}/{slug}/sign-in" for slug in (LEUVEN, HERKO)],
            "backchannel_logout_uri": f"{app_url}/{LEUVEN}/sso/backchannel-logout",
        }],
        "accounts": ACCOUNTS,
    }
    log = (tmp_path_factory.mktemp("oidc-provider") / "provider.log").open("w")
    process = subprocess.Popen(
        ["node", "server.mjs", json.dumps(config)], cwd=PROVIDER_DIR, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        issuer = _wait_until_ready(process)
    except RuntimeError as error:
        process.kill()
        log.close()
        if CI:
            pytest.fail(f"CI=true requires it: {error}", pytrace=False)
        pytest.skip(str(error))
    metadata = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    yield Provider(issuer, metadata["end_session_endpoint"])
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


# --- a cell with members and its provider configured ---------------------------------------


@dataclass
class Cell:
    app: object
    tenant_id: int
    herko_id: int
    provider: Provider
    members: dict


@pytest.fixture
def cell(app, provider, app_server) -> Cell:
    """demo-leuven with alice, bruno (active), dana (invited) and its provider; chris sits in herko."""
    app_server[0].app = app
    sso.clear_cache()
    cells = seed_demo_tenants(app)
    members = {
        "coordinator": add_member(app, cells[LEUVEN], LEUVEN, Role.COORDINATOR),
        "alice": add_member(app, cells[LEUVEN], LEUVEN, Role.PARTNER, ACCOUNTS["alice"]["email"]),
        "bruno": add_member(app, cells[LEUVEN], LEUVEN, Role.PARTNER, ACCOUNTS["bruno"]["email"]),
        "dana": add_member(app, cells[LEUVEN], LEUVEN, Role.PARTNER, ACCOUNTS["dana"]["email"], status=MembershipStatus.INVITED),
        "chris": add_member(app, cells[HERKO], HERKO, Role.PARTNER, ACCOUNTS["chris"]["email"]),
    }
    with app.app_context():
        with tenant_context(cells[LEUVEN]):
            create_invitation(db.session.get(Membership, members["dana"].membership_id), "test")
        db.session.commit()
        db.session.remove()
    configure(app, cells[LEUVEN], issuer=provider.issuer)
    return Cell(app, cells[LEUVEN], cells[HERKO], provider, members)


def configure(app, tenant_id: int, **changes) -> None:
    """Create or change the cell's provider row directly (the settings page has its own tests)."""
    with app.app_context(), tenant_context(tenant_id):
        row = db.session.scalar(sa.select(sso.OidcProvider))
        if row is None:
            row = sso.OidcProvider(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, label="Test login",
                                   enabled=True, link_by_email=True)
            db.session.add(row)
        for name, value in changes.items():
            setattr(row, name, value)
        db.session.commit()
        db.session.remove()


def in_cell(cell: Cell, query, tenant_id: int | None = None):
    with cell.app.app_context(), tenant_context(tenant_id or cell.tenant_id):
        result = query()
        db.session.remove()
    return result


def audit_entries(cell: Cell) -> list[tuple[str, dict]]:
    return in_cell(cell, lambda: [
        (entry.action, entry.details) for entry in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq))
    ])


def sso_sessions(cell: Cell) -> list[AuthSession]:
    return in_cell(cell, lambda: db.session.scalars(sa.select(AuthSession).where(AuthSession.method == "sso")).all())


def text(response) -> str:
    return response.get_data(as_text=True)


# --- driving the provider as a browser ------------------------------------------------------

_FORM = re.compile(r'<form[^>]*\saction="([^"]+)"', re.IGNORECASE)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.IGNORECASE)


def _follow(browser: requests.Session, response: requests.Response) -> requests.Response | str:
    """Follow redirects at the provider; a redirect to the app is returned as its URL."""
    while response.is_redirect:
        target = urljoin(response.url, response.headers["Location"])
        if target.startswith(APP_ORIGIN):
            return target
        response = browser.get(target, allow_redirects=False, timeout=10)
    return response


def provider_sign_in(browser: requests.Session, authorize_url: str, login: str, *, abort: bool = False) -> str:
    """Sign in at the provider's own pages (login, then consent); the URL it sends the browser back to."""
    result = _follow(browser, browser.get(authorize_url, allow_redirects=False, timeout=10))
    for _ in range(4):
        if isinstance(result, str):
            return result
        page = result.text
        assert result.status_code == 200, page[:500]
        if abort:
            abort_url = re.search(r'href="([^"]*/abort)"', page).group(1)
            result = _follow(browser, browser.get(urljoin(result.url, abort_url), allow_redirects=False, timeout=10))
            continue
        action = urljoin(result.url, _FORM.search(page).group(1))
        data = dict(_HIDDEN.findall(page))
        if data.get("prompt") == "login":
            data.update(login=login, password="any password")
        result = _follow(browser, browser.post(action, data=data, allow_redirects=False, timeout=10))
    raise AssertionError("the provider never sent the browser back")


def provider_sign_out(browser: requests.Session, url: str) -> requests.Response | str:
    """End the provider's session through its logout page (confirming it, as the person would)."""
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text[:500]
    action = urljoin(page.url, _FORM.search(page.text).group(1))
    xsrf = dict(_HIDDEN.findall(page.text))["xsrf"]
    return _follow(browser, browser.post(action, data={"xsrf": xsrf, "logout": "yes"}, allow_redirects=False, timeout=15))


def local(url: str) -> str:
    """The path and query of an app URL, for the test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def start(client, slug: str = LEUVEN, next_path: str | None = None) -> str:
    response = client.get(f"/{slug}/sign-in/sso", query_string={"next": next_path} if next_path else None)
    assert response.status_code == 302, text(response)
    return response.headers["Location"]


def sso_sign_in(client, login: str, *, browser: requests.Session | None = None, next_path: str | None = None):
    """The whole round trip: the app, the provider's pages, back to the app's callback."""
    browser = browser or requests.Session()
    callback = provider_sign_in(browser, start(client, next_path=next_path), login)
    return client.get(local(callback), headers=EN)


def accept_undertaking(client) -> None:
    page = client.get(f"/{LEUVEN}/undertaking")
    if b'name="accept"' in page.data:
        assert post_form(client, f"/{LEUVEN}/undertaking", {"accept": "yes"}).status_code == 302


# --- signing in -----------------------------------------------------------------------------


def test_a_member_signs_in_with_code_pkce_and_nonce_and_reaches_the_cell(cell):
    client = cell.app.test_client()
    page = client.get(f"/{LEUVEN}/sign-in", headers=EN)
    assert "Sign in with Test login" in text(page)

    authorize = start(client)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{cell.provider.issuer}/auth?")
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [f"{APP_ORIGIN}/{LEUVEN}/sign-in/sso/callback"]
    assert "code_verifier" not in authorize

    callback = provider_sign_in(requests.Session(), authorize, "alice")
    assert parse_qs(urlsplit(callback).query)["iss"] == [cell.provider.issuer]
    done = client.get(local(callback))
    assert done.status_code == 302 and done.headers["Location"] == f"/{LEUVEN}/home"  # no local TOTP asked

    assert client.get(f"/{LEUVEN}/home").headers["Location"].startswith(f"/{LEUVEN}/undertaking")
    accept_undertaking(client)
    home = client.get(f"/{LEUVEN}/home", headers=EN)
    assert home.status_code == 200 and "Welcome, Test partner" in text(home)
    assert client.get(f"/{LEUVEN}/profile").status_code == 200

    [row] = sso_sessions(cell)
    assert (row.sso_issuer, row.sso_subject) == (cell.provider.issuer, "alice") and row.sso_sid
    actions = dict(audit_entries(cell))
    assert actions["auth.signed_in"] == {"method": "sso"}


def test_the_flow_returns_to_the_page_asked_for_inside_the_cell_only(cell):
    client = cell.app.test_client()
    assert sso_sign_in(client, "alice", next_path=f"/{LEUVEN}/profile").headers["Location"] == f"/{LEUVEN}/profile"
    other = cell.app.test_client()
    assert sso_sign_in(other, "alice", next_path="https://evil.example/").headers["Location"] == f"/{LEUVEN}/home"


def test_a_first_sign_in_links_the_identity_by_verified_email_and_later_ones_use_the_link(cell):
    assert sso_sign_in(cell.app.test_client(), "alice").status_code == 302
    identities = in_cell(cell, lambda: [(i.account_id, i.issuer, i.subject) for i in db.session.scalars(sa.select(AccountIdentity))])
    assert identities == [(cell.members["alice"].account_id, cell.provider.issuer, "alice")]
    linked = [details for action, details in audit_entries(cell) if action == "auth.sso_linked"]
    assert linked == [{"issuer": cell.provider.issuer, "via": "verified e-mail"}]

    configure(cell.app, cell.tenant_id, link_by_email=False)  # the link made stays valid
    assert sso_sign_in(cell.app.test_client(), "alice").status_code == 302
    assert len([a for a, _ in audit_entries(cell) if a == "auth.sso_linked"]) == 1


@pytest.mark.parametrize("login, reason", [
    ("bruno", "identity not linked"),  # e-mail not verified by the provider
    ("chris", "no account with a seat for this e-mail"),  # an account, but no seat in this cell
])
def test_an_unverified_email_or_an_account_without_a_seat_is_refused_with_the_generic_message(cell, login, reason):
    client = cell.app.test_client()
    response = sso_sign_in(client, login)
    assert response.status_code == 401
    assert GENERIC_FAILURE in text(response)
    assert client.get(f"/{LEUVEN}/profile").status_code == 302
    assert in_cell(cell, lambda: db.session.scalars(sa.select(AccountIdentity)).all()) == []
    assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": reason})


def test_linking_by_email_switched_off_refuses_unlinked_identities(cell):
    configure(cell.app, cell.tenant_id, link_by_email=False)
    response = sso_sign_in(cell.app.test_client(), "alice")
    assert response.status_code == 401 and GENERIC_FAILURE in text(response)


def test_an_invited_member_takes_up_the_seat_through_single_sign_on(cell):
    client = cell.app.test_client()
    assert sso_sign_in(client, "dana").status_code == 302
    status, used = in_cell(cell, lambda: (
        db.session.get(Membership, cell.members["dana"].membership_id).status,
        db.session.scalar(sa.select(Invitation.used_at)),
    ))
    assert status == MembershipStatus.ACTIVE and used is not None
    assert "member.joined" in [action for action, _ in audit_entries(cell)]
    assert client.get(f"/{LEUVEN}/profile").status_code == 200


def test_an_ended_membership_cannot_sign_in_through_single_sign_on(cell):
    assert sso_sign_in(cell.app.test_client(), "alice").status_code == 302

    def end():
        db.session.get(Membership, cell.members["alice"].membership_id).status = MembershipStatus.ENDED
        db.session.commit()

    in_cell(cell, end)
    response = sso_sign_in(cell.app.test_client(), "alice")
    assert response.status_code == 401 and GENERIC_FAILURE in text(response)
    assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": "membership not usable"})


# --- what is refused ------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def flip_signature_byte(token: str) -> str:
    header, payload, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    raw[len(raw) // 2] ^= 0x01
    return f"{header}.{payload}.{_b64(bytes(raw))}"


def change_subject(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    claims["sub"] = "someone-else"
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def strip_signature(token: str) -> str:
    payload = token.split(".")[1]
    return f"{_b64(json.dumps({'alg': 'none'}).encode())}.{payload}."


@pytest.mark.parametrize("tamper", [flip_signature_byte, change_subject, strip_signature])
def test_a_tampered_id_token_is_refused_and_audited(cell, monkeypatch, tamper):
    real_exchange = sso.exchange_code

    def in_the_middle(*args, **kwargs):
        token = real_exchange(*args, **kwargs)  # the real provider's real answer
        return {**token, "id_token": tamper(token["id_token"])}

    monkeypatch.setattr(sso, "exchange_code", in_the_middle)
    client = cell.app.test_client()
    response = sso_sign_in(client, "alice")
    assert response.status_code == 401 and NOT_SAFE in text(response)
    assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": "id_token signature"})
    assert sso_sessions(cell) == [] and client.get(f"/{LEUVEN}/profile").status_code == 302
    assert in_cell(cell, lambda: db.session.scalars(sa.select(AccountIdentity)).all()) == []


def test_an_id_token_with_another_nonce_is_refused_and_audited(cell):
    client = cell.app.test_client()
    authorize = start(client)
    with client.session_transaction() as stored:  # the token will carry the nonce sent, not this one
        flow = stored["sso_flow"]
        flow["nonce"] = secrets.token_urlsafe(32)
        stored["sso_flow"] = flow
    response = client.get(local(provider_sign_in(requests.Session(), authorize, "alice")), headers=EN)
    assert response.status_code == 401 and NOT_SAFE in text(response)
    assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": "id_token invalid_claim nonce"})
    assert sso_sessions(cell) == []


def test_a_provider_configured_with_another_issuer_string_is_refused_and_audited(cell):
    configure(cell.app, cell.tenant_id, issuer=cell.provider.issuer + "/")
    response = cell.app.test_client().get(f"/{LEUVEN}/sign-in/sso", headers=EN)
    assert response.status_code == 401 and NOT_SAFE in text(response)
    assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": "discovery issuer mismatch"})


def test_the_real_id_token_is_refused_for_another_issuer_audience_or_nonce(cell, monkeypatch):
    """Unit level, with the provider's real token: each check bites on its own."""
    captured = {}
    real_exchange = sso.exchange_code

    def keep(*args, **kwargs):
        captured.update(real_exchange(*args, **kwargs))
        return captured

    monkeypatch.setattr(sso, "exchange_code", keep)
    client = cell.app.test_client()
    authorize = start(client)
    nonce = parse_qs(urlsplit(authorize).query)["nonce"][0]
    assert client.get(local(provider_sign_in(requests.Session(), authorize, "alice"))).status_code == 302

    issuer = cell.provider.issuer
    with cell.app.app_context():
        metadata = sso.discover(issuer)
        checks = {"issuer": issuer, "client_id": CLIENT_ID, "nonce": nonce}
        assert sso.validate_id_token(captured["id_token"], metadata, **checks)["sub"] == "alice"
        for name, wrong, reason in [
            ("issuer", issuer + "/oidc", "id_token invalid_claim iss"),
            ("issuer", issuer + "/", "id_token invalid_claim iss"),
            ("client_id", "another-client", "id_token invalid_claim aud"),
            ("nonce", "another-nonce", "id_token invalid_claim nonce"),
        ]:
            with pytest.raises(sso.SsoRefused) as refused:
                sso.validate_id_token(captured["id_token"], metadata, **{**checks, name: wrong})
            assert refused.value.reason == reason


def test_a_callback_with_another_state_or_replayed_is_refused(cell):
    client = cell.app.test_client()
    callback = provider_sign_in(requests.Session(), start(client), "alice")
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    response = client.get(local(forged), headers=EN)
    assert response.status_code == 401 and NOT_SAFE in text(response)
    assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": "state mismatch"})
    # The pending sign-in was used up by the refusal: the genuine answer no longer works either.
    assert client.get(local(callback)).status_code == 401
    assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": "no pending sign-in"})

    done = cell.app.test_client()
    callback = provider_sign_in(requests.Session(), start(done), "alice")
    assert done.get(local(callback)).status_code == 302
    for replaying in (done, cell.app.test_client()):  # the same browser, or someone who copied the URL
        assert replaying.get(local(callback)).status_code == 401
        assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": "no pending sign-in"})
    assert len(sso_sessions(cell)) == 1


def test_cancelling_at_the_provider_is_refused_with_a_clear_message(cell):
    client = cell.app.test_client()
    callback = provider_sign_in(requests.Session(), start(client), "alice", abort=True)
    response = client.get(local(callback), headers=EN)
    assert response.status_code == 401
    assert "cancelled or refused by your organisation's sign-in service" in text(response).replace("&#39;", "'")
    assert audit_entries(cell)[-1] == ("auth.sso_refused", {"reason": "provider error access_denied"})


def test_single_sign_on_is_not_offered_when_disabled(cell):
    configure(cell.app, cell.tenant_id, enabled=False)
    client = cell.app.test_client()
    assert "Sign in with" not in text(client.get(f"/{LEUVEN}/sign-in", headers=EN))
    assert client.get(f"/{LEUVEN}/sign-in/sso").status_code == 404


# --- logout ---------------------------------------------------------------------------------


def test_back_channel_logout_from_the_provider_ends_the_app_session(cell):
    client, browser = cell.app.test_client(), requests.Session()
    assert sso_sign_in(client, "alice", browser=browser).status_code == 302
    assert client.get(f"/{LEUVEN}/profile").status_code == 200

    # The person signs out at the provider (not in the app): it tells the app server to server.
    provider_sign_out(browser, cell.provider.end_session_endpoint)

    assert client.get(f"/{LEUVEN}/profile").headers["Location"].startswith(f"/{LEUVEN}/sign-in")
    assert sso_sessions(cell) == []
    assert ("auth.sso_logged_out", {"sessions_ended": 1}) in audit_entries(cell)


def test_a_forged_back_channel_logout_token_is_refused(cell):
    client = cell.app.test_client()
    assert sso_sign_in(client, "alice").status_code == 302
    [row] = sso_sessions(cell)
    claims = {
        "iss": cell.provider.issuer, "aud": CLIENT_ID, "iat": int(time.time()), "jti": "x", "sid": row.sso_sid,
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
    }
    own_key = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    for token in (jwt.encode({"alg": "RS256", "kid": "attacker"}, claims, own_key), "not-a-token", ""):
        response = client.post(f"/{LEUVEN}/sso/backchannel-logout", data={"logout_token": token})
        assert response.status_code == 400 and response.json["error"] == "invalid_request"
    assert client.get(f"/{LEUVEN}/profile").status_code == 200
    assert audit_entries(cell)[-1][0] == "auth.sso_logout_refused"


def test_signing_out_sends_the_browser_to_the_providers_end_session_endpoint(cell):
    client, browser = cell.app.test_client(), requests.Session()
    assert sso_sign_in(client, "alice", browser=browser).status_code == 302
    response = post_form(client, f"/{LEUVEN}/sign-out", {}, form_path=f"/{LEUVEN}/profile")
    target = response.headers["Location"]
    assert target.startswith(cell.provider.end_session_endpoint + "?")
    query = parse_qs(urlsplit(target).query)
    assert query == {"client_id": [CLIENT_ID], "post_logout_redirect_uri": [f"{APP_ORIGIN}/{LEUVEN}/sign-in"]}
    assert client.get(f"/{LEUVEN}/profile").status_code == 302  # the app session ended at once

    # The provider, confirming, ends its own session and sends the browser back to the cell.
    assert provider_sign_out(browser, target) == f"{APP_ORIGIN}/{LEUVEN}/sign-in"
    again = provider_sign_in(browser, start(client), "alice")  # the provider asks to sign in anew
    assert again.startswith(f"{APP_ORIGIN}/{LEUVEN}/sign-in/sso/callback")


def test_a_password_session_signs_out_locally_only(cell):
    client = cell.app.test_client()
    sign_in(client, cell.members["coordinator"])
    response = post_form(client, f"/{LEUVEN}/sign-out", {}, form_path=f"/{LEUVEN}/profile")
    assert response.headers["Location"] == f"/{LEUVEN}/sign-in"


# --- the coordinator's settings -------------------------------------------------------------


def stored_secret(cell: Cell) -> str:
    return in_cell(cell, lambda: db.session.scalar(sa.select(sso.OidcProvider)).client_secret)


def test_the_settings_page_shows_the_addresses_to_register_and_never_the_secret(cell):
    client = cell.app.test_client()
    sign_in(client, cell.members["coordinator"])
    page = text(client.get(f"/{LEUVEN}/sso", headers=EN))
    for uri in (f"{APP_ORIGIN}/{LEUVEN}/sign-in/sso/callback", f"{APP_ORIGIN}/{LEUVEN}/sso/backchannel-logout",
                f"{APP_ORIGIN}/{LEUVEN}/sign-in"):
        assert uri in page
    assert cell.provider.issuer in page and CLIENT_ID in page
    assert CLIENT_SECRET not in page and "A secret is set. Leave empty to keep it." in page


def test_the_settings_form_answers_field_by_field_and_keeps_what_was_typed(cell):
    client = cell.app.test_client()
    sign_in(client, cell.members["coordinator"])
    typed_secret = "a-new-secret-that-must-not-come-back"
    response = post_form(client, f"/{LEUVEN}/sso", {
        "issuer": "ftp://login.example", "client_id": "", "client_secret": typed_secret, "label": "Stad Leuven",
        "enabled": "yes",
    }, headers=EN)
    page = text(response)
    assert response.status_code == 422
    assert "The address must start with https://." in page
    assert "This field is required." in page  # client_id
    assert 'value="ftp://login.example"' in page and 'value="Stad Leuven"' in page
    assert typed_secret not in page
    assert stored_secret(cell) == CLIENT_SECRET

    unreachable = post_form(client, f"/{LEUVEN}/sso", {
        "issuer": "http://127.0.0.1:9", "client_id": CLIENT_ID, "label": "Stad Leuven",
    }, headers=EN)
    assert unreachable.status_code == 422 and "No OpenID Connect provider answered at this address." in text(unreachable)

    mismatch = post_form(client, f"/{LEUVEN}/sso", {
        "issuer": cell.provider.issuer + "/", "client_id": CLIENT_ID, "label": "Stad Leuven",
    }, headers=EN)
    assert mismatch.status_code == 422
    assert f"The provider names itself {cell.provider.issuer}: enter exactly that address." in text(mismatch)


def test_saving_the_settings_keeps_the_secret_when_left_blank_and_is_audited_without_it(cell):
    client = cell.app.test_client()
    sign_in(client, cell.members["coordinator"])
    values = {"issuer": cell.provider.issuer, "client_id": CLIENT_ID, "label": "Stad Leuven", "enabled": "yes"}
    assert post_form(client, f"/{LEUVEN}/sso", values).status_code == 302
    assert stored_secret(cell) == CLIENT_SECRET
    row = in_cell(cell, lambda: db.session.scalar(sa.select(sso.OidcProvider)))
    assert (row.label, row.enabled, row.link_by_email) == ("Stad Leuven", True, False)

    assert post_form(client, f"/{LEUVEN}/sso", {**values, "client_secret": "rotated-secret"}).status_code == 302
    assert stored_secret(cell) == "rotated-secret"
    configured = [details for action, details in audit_entries(cell) if action == "sso.configured"]
    assert [d["secret_changed"] for d in configured] == [False, True]
    assert not any("rotated-secret" in json.dumps(details) or CLIENT_SECRET in json.dumps(details) for _, details in audit_entries(cell))
    # Stored encrypted: the column holds no plain secret.
    raw = in_cell(cell, lambda: db.session.execute(sa.text("SELECT client_secret FROM oidc_providers")).scalar())
    assert "rotated-secret" not in raw


def test_a_new_provider_needs_a_secret(cell):
    in_cell(cell, lambda: (db.session.execute(sa.delete(sso.OidcProvider)), db.session.commit()))
    client = cell.app.test_client()
    sign_in(client, cell.members["coordinator"])
    values = {"issuer": cell.provider.issuer, "client_id": CLIENT_ID, "label": "Stad Leuven"}
    response = post_form(client, f"/{LEUVEN}/sso", values, headers=EN)
    assert response.status_code == 422 and "Enter the client secret the provider gave you." in text(response)
    assert post_form(client, f"/{LEUVEN}/sso", {**values, "client_secret": "s"}).status_code == 302


def test_only_the_cells_coordinator_reaches_the_settings(cell):
    assert cell.app.test_client().get(f"/{LEUVEN}/sso").headers["Location"].startswith(f"/{LEUVEN}/sign-in")
    partner = cell.app.test_client()
    sign_in(partner, cell.members["alice"])
    assert partner.get(f"/{LEUVEN}/sso").status_code == 403
    assert partner.get(f"/{LEUVEN}/api/sso").status_code == 403
    herko_coordinator = add_member(cell.app, cell.herko_id, HERKO, Role.COORDINATOR)
    other = cell.app.test_client()
    sign_in(other, herko_coordinator)
    assert other.get(f"/{HERKO}/sso").status_code == 200
    assert other.get(f"/{LEUVEN}/sso").status_code == 302  # no session in this cell
    assert other.get(f"/{LEUVEN}/api/sso").status_code == 401


def test_the_settings_api_never_returns_the_secret_and_answers_422_per_field(cell):
    client = cell.app.test_client()
    sign_in(client, cell.members["coordinator"])
    headers = {"X-CSRFToken": csrf_token(client, f"/{LEUVEN}/sso"), **EN}
    shown = client.get(f"/{LEUVEN}/api/sso").json["sso"]
    assert shown["issuer"] == cell.provider.issuer and shown["client_secret_set"] is True
    assert "client_secret" not in shown and CLIENT_SECRET not in json.dumps(shown)
    assert shown["redirect_uri"] == f"{APP_ORIGIN}/{LEUVEN}/sign-in/sso/callback"

    bad = client.put(f"/{LEUVEN}/api/sso", json={"issuer": "not a url", "enabled": "perhaps"}, headers=headers)
    assert bad.status_code == 422
    fields = bad.json["error"]["fields"]
    assert set(fields) == {"issuer", "client_id", "label", "enabled"}
    assert fields["enabled"] == ["Choose yes or no."]

    good = client.put(f"/{LEUVEN}/api/sso", headers=headers, json={
        "issuer": cell.provider.issuer, "client_id": CLIENT_ID, "label": "Vlaamse overheid",
        "enabled": True, "link_by_email": True, "client_secret": None,
    })
    assert good.status_code == 200 and good.json["sso"]["label"] == "Vlaamse overheid"
    assert "client_secret" not in good.json["sso"]
    assert stored_secret(cell) == CLIENT_SECRET
    assert client.put(f"/{LEUVEN}/api/sso", json={}, headers=EN).status_code == 400  # no CSRF token


def test_the_account_table_is_untouched_by_single_sign_on(cell):
    """SSO never creates accounts: an unknown person at the provider stays unknown here."""
    before = in_cell(cell, lambda: db.session.execute(sa.text("SELECT count(*) FROM accounts")).scalar())
    sso_sign_in(cell.app.test_client(), "chris")
    assert in_cell(cell, lambda: db.session.execute(sa.text("SELECT count(*) FROM accounts")).scalar()) == before


def test_the_provider_process_is_a_real_oidc_provider(provider):
    """Sanity: discovery and keys come from the running provider, not from the test."""
    metadata = requests.get(f"{provider.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == provider.issuer and metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["backchannel_logout_supported"] is True
    assert requests.get(metadata["jwks_uri"], timeout=10).json()["keys"]
