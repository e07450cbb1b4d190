"""Signing in to a cell, as a member experiences it, and what an attacker gets for trying.

Runs on SQLite and PostgreSQL. Members are made by ``auth_helpers.add_member`` and sign in
through the real pages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from auth_helpers import PASSWORD, add_member, post_form, sign_in
from conftest import seed_demo_tenants
from livc.platform.accounts import Account, PasswordReset
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.sessions import AuthSession
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Invitation, Membership, MembershipStatus
from livc.tenants.members.operations import create_invitation, publish_undertaking

LEUVEN = "demo-leuven"
NL = {"Accept-Language": "nl"}
EN = {"Accept-Language": "en"}


def audit_actions(app, tenant_id: int) -> list[str]:
    with app.app_context(), tenant_context(tenant_id):
        actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        db.session.remove()
    return actions


def text(response) -> str:
    return response.get_data(as_text=True)


# --- signing in -----------------------------------------------------------------------------


def test_a_member_signs_in_with_password_and_authenticator_and_reaches_the_cell(app, cells, coordinator):
    client = app.test_client()
    assert client.get(f"/{LEUVEN}/home").headers["Location"].startswith(f"/{LEUVEN}/sign-in")

    sign_in(client, coordinator)
    home = client.get(f"/{LEUVEN}/home", headers=EN)

    assert home.status_code == 200
    assert "Welcome, Test coordinator (Cell coordinator)." in text(home)
    actions = audit_actions(app, cells[LEUVEN])
    assert "auth.signed_in" in actions and "undertaking.accepted" in actions


def test_the_session_cookie_is_http_only_same_site_and_renewed_at_sign_in(app, cells, coordinator):
    client = app.test_client()
    post_form(client, f"/{LEUVEN}/sign-in", {"email": coordinator.email, "password": PASSWORD})
    before = client.get_cookie("livc_session").value
    response = post_form(client, f"/{LEUVEN}/sign-in/verify", {"code": coordinator.code()})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get_cookie("livc_session").value != before


@pytest.mark.parametrize("email, password", [
    ("coordinator.demo-leuven@example.test", "wrong password 123"),
    ("nobody@example.test", "wrong password 123"),
])
def test_a_failed_sign_in_never_tells_whether_the_address_exists(app, cells, coordinator, email, password):
    client = app.test_client()
    response = post_form(client, f"/{LEUVEN}/sign-in", {"email": email, "password": password}, headers=EN)
    assert response.status_code == 401
    assert "The e-mail address or password is wrong, or this account has no access to this cell." in text(response)
    assert f'value="{email}"' in text(response)  # what was typed stays
    assert password not in text(response)  # never a password
    assert audit_actions(app, cells[LEUVEN])[-1] == "auth.sign_in_failed"


def test_a_member_of_another_cell_cannot_sign_in_here(app, cells):
    herko = add_member(app, cells["demo-herko"], "demo-herko", Role.COORDINATOR)
    client = app.test_client()
    response = post_form(client, f"/{LEUVEN}/sign-in", {"email": herko.email, "password": PASSWORD}, headers=EN)
    assert response.status_code == 401
    assert "no access to this cell" in text(response)


def test_repeated_failures_lock_the_address_for_a_while_known_or_not(app, cells, coordinator):
    client = app.test_client()
    for email in (coordinator.email, "nobody@example.test"):
        for _ in range(5):
            post_form(client, f"/{LEUVEN}/sign-in", {"email": email, "password": "not the password"})
        locked = post_form(client, f"/{LEUVEN}/sign-in", {"email": email, "password": PASSWORD}, headers=EN)
        assert locked.status_code == 429
        assert "Too many failed attempts. Wait 1 minute" in text(locked)  # growing with more failures
    assert "auth.sign_in_locked" in audit_actions(app, cells[LEUVEN])


def test_an_authenticator_code_is_accepted_only_once(app, cells, coordinator):
    first, second = app.test_client(), app.test_client()
    code = coordinator.code()
    for client in (first, second):
        post_form(client, f"/{LEUVEN}/sign-in", {"email": coordinator.email, "password": PASSWORD})
    assert post_form(first, f"/{LEUVEN}/sign-in/verify", {"code": code}).status_code == 302
    replay = post_form(second, f"/{LEUVEN}/sign-in/verify", {"code": code}, headers=EN)
    assert replay.status_code == 401
    assert "This code is not valid." in text(replay)
    assert audit_actions(app, cells[LEUVEN])[-1] == "auth.second_factor_failed"


def test_a_recovery_code_replaces_the_authenticator_once(app, cells, coordinator):
    client = app.test_client()
    with app.app_context():
        from livc.platform.accounts import new_recovery_codes

        codes = new_recovery_codes(db.session.get(Account, coordinator.account_id))
        db.session.commit()
    for attempt, expected in ((1, 302), (2, 401)):
        client = app.test_client()
        post_form(client, f"/{LEUVEN}/sign-in", {"email": coordinator.email, "password": PASSWORD})
        response = post_form(client, f"/{LEUVEN}/sign-in/verify", {"code": codes[0].upper()})
        assert response.status_code == expected, attempt


def test_first_sign_in_sets_up_the_authenticator_with_a_qr_code_and_recovery_codes(app, cells, coordinator):
    with app.app_context():
        account = db.session.get(Account, coordinator.account_id)
        account.totp_secret = account.totp_enabled_at = None
        db.session.commit()
    client = app.test_client()
    response = post_form(client, f"/{LEUVEN}/sign-in", {"email": coordinator.email, "password": PASSWORD})
    assert response.headers["Location"].endswith("/sign-in/authenticator")
    page = text(client.get(f"/{LEUVEN}/sign-in/authenticator", headers=EN))
    assert "<svg" in page and "Scan this QR code" in page
    secret = re.search(r"data-totp-secret>([A-Z2-7]+)<", page).group(1)

    wrong = post_form(client, f"/{LEUVEN}/sign-in/authenticator", {"code": "000000"}, headers=EN)
    assert wrong.status_code == 422 and "This code does not match." in text(wrong)
    done = post_form(client, f"/{LEUVEN}/sign-in/authenticator", {"code": pyotp.TOTP(secret).now()}, headers=EN)

    assert done.status_code == 200
    assert len(re.findall(r"<li><code>[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}</code></li>", text(done))) == 10
    assert client.get(f"/{LEUVEN}/profile").status_code == 200
    assert "auth.mfa_enrolled" in audit_actions(app, cells[LEUVEN])


def test_the_second_step_cannot_be_reached_without_the_first(app, cells, coordinator):
    client = app.test_client()
    response = post_form(client, f"/{LEUVEN}/sign-in/verify", {"code": coordinator.code()}, form_path=f"/{LEUVEN}/sign-in")
    assert response.status_code == 302 and response.headers["Location"] == f"/{LEUVEN}/sign-in"
    assert client.get(f"/{LEUVEN}/profile").status_code == 302


# --- bad input ------------------------------------------------------------------------------


def test_over_long_and_malformed_fields_get_field_messages_and_keep_what_was_typed(app, cells, coordinator):
    client = app.test_client()
    long_email = "a" * 300 + "@example.test"
    response = post_form(client, f"/{LEUVEN}/sign-in", {"email": long_email, "password": "x" * 500}, headers=EN)
    assert response.status_code == 422
    page = text(response)
    assert "At most 254 characters." in page and "At most 200 characters." in page
    assert long_email in page
    missing = post_form(client, f"/{LEUVEN}/sign-in", {"email": "not-an-address"}, headers=EN)
    assert missing.status_code == 422
    assert "Enter a valid e-mail address." in text(missing) and "This field is required." in text(missing)


def test_a_post_without_csrf_token_is_refused_changes_nothing_and_is_audited(app, cells, coordinator):
    client = app.test_client()
    sign_in(client, coordinator)
    response = client.post(f"/{LEUVEN}/profile/password", data={
        "current_password": PASSWORD, "password": "a brand new password", "password_repeat": "a brand new password",
    }, headers=EN)
    assert response.status_code == 400
    assert "did not come from this site" in text(response)
    assert "access.csrf_refused" in audit_actions(app, cells[LEUVEN])
    # the old password still works
    assert post_form(app.test_client(), f"/{LEUVEN}/sign-in",
                     {"email": coordinator.email, "password": PASSWORD}).status_code == 302


def test_a_forged_session_cookie_gets_no_access(app, cells, coordinator):
    client = app.test_client()
    sign_in(client, coordinator)
    value = client.get_cookie("livc_session").value
    client.set_cookie("livc_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"), domain="localhost")
    response = client.get(f"/{LEUVEN}/profile")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# --- sessions -------------------------------------------------------------------------------


def test_a_session_ends_after_inactivity_and_after_its_absolute_lifetime(app, cells, coordinator):
    client = app.test_client()
    sign_in(client, coordinator)
    with app.app_context(), tenant_context(cells[LEUVEN]):
        db.session.execute(sa.update(AuthSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
        db.session.commit()
    ended = client.get(f"/{LEUVEN}/profile", headers=EN)
    assert ended.status_code == 302
    assert "Your session has ended" in text(client.get(ended.headers["Location"], headers=EN))

    sign_in(client, coordinator)
    with app.app_context(), tenant_context(cells[LEUVEN]):
        db.session.execute(sa.update(AuthSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.get(f"/{LEUVEN}/profile").status_code == 302


def test_signing_out_ends_the_session_on_the_server(app, cells, coordinator):
    client = app.test_client()
    sign_in(client, coordinator)
    stolen = client.get_cookie("livc_session").value
    post_form(client, f"/{LEUVEN}/sign-out", {}, form_path=f"/{LEUVEN}/profile")
    thief = app.test_client()
    thief.set_cookie("livc_session", stolen, domain="localhost")
    assert thief.get(f"/{LEUVEN}/profile").status_code == 302


def test_a_session_in_one_cell_opens_nothing_in_another(app, cells, coordinator):
    client = app.test_client()
    sign_in(client, coordinator)
    response = client.get("/demo-herko/home")
    assert response.status_code == 302 and response.headers["Location"].startswith("/demo-herko/sign-in")


def test_changing_the_password_ends_other_sessions(app, cells, coordinator):
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop, coordinator)
    sign_in(phone, coordinator)
    new = "another long passphrase"
    response = post_form(laptop, f"/{LEUVEN}/profile/password",
                         {"current_password": PASSWORD, "password": new, "password_repeat": new},
                         form_path=f"/{LEUVEN}/profile")
    assert response.status_code == 302
    assert laptop.get(f"/{LEUVEN}/profile").status_code == 200
    assert phone.get(f"/{LEUVEN}/profile").status_code == 302
    assert "auth.password_changed" in audit_actions(app, cells[LEUVEN])


# --- the secrecy undertaking ----------------------------------------------------------------


def test_case_content_waits_for_the_current_undertaking_and_a_new_version_asks_again(app, cells, coordinator):
    client = app.test_client()
    sign_in(client, coordinator, accept_undertaking=False)
    gate = client.get(f"/{LEUVEN}/home")
    assert gate.status_code == 302 and gate.headers["Location"].startswith(f"/{LEUVEN}/undertaking")
    refused = post_form(client, f"/{LEUVEN}/undertaking", {}, headers=EN)
    assert refused.status_code == 422 and "Tick the box" in text(refused)
    assert post_form(client, f"/{LEUVEN}/undertaking", {"accept": "yes"}).status_code == 302
    assert client.get(f"/{LEUVEN}/home").status_code == 200

    with app.app_context(), tenant_context(cells[LEUVEN]):
        publish_undertaking("Version two of our house rules.")
        db.session.commit()
    assert client.get(f"/{LEUVEN}/home").headers["Location"].startswith(f"/{LEUVEN}/undertaking")
    assert "Version two of our house rules." in text(client.get(f"/{LEUVEN}/undertaking"))


# --- invitations and resets -----------------------------------------------------------------


def _invite(app, tenant_id: int, email: str, *, expired: bool = False) -> str:
    from livc.platform.accounts import get_or_create_account
    from livc.platform.roles import OrganisationKind
    from livc.tenants.members.models import Organisation

    with app.app_context(), tenant_context(tenant_id):
        account = get_or_create_account(email)
        organisation = Organisation(name="CAW (test)", kind=OrganisationKind.CAW)
        db.session.add(organisation)
        db.session.flush()
        membership = Membership(account_id=account.id, organisation_id=organisation.id, role=Role.PARTNER)
        db.session.add(membership)
        db.session.flush()
        token = create_invitation(membership, "test")
        if expired:
            db.session.execute(sa.update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    return token


def test_an_invitation_link_works_once(app, cells):
    token = _invite(app, cells[LEUVEN], "new.partner@example.test")
    client = app.test_client()
    path = f"/{LEUVEN}/invitation/{token}"
    short = post_form(client, path, {"display_name": "Nina Nieuw", "password": "short", "password_repeat": "short"}, headers=EN)
    assert short.status_code == 422 and "Use at least 12 characters." in text(short) and 'value="Nina Nieuw"' in text(short)
    accepted = post_form(client, path, {"display_name": "Nina Nieuw", "password": PASSWORD, "password_repeat": PASSWORD})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/sign-in/authenticator")

    again = app.test_client().get(path, headers=EN)
    assert again.status_code == 410 and "no longer valid" in text(again)
    actions = audit_actions(app, cells[LEUVEN])
    assert "member.joined" in actions and actions[-1] == "invitation.refused"


def test_an_expired_or_unknown_invitation_link_is_refused(app, cells):
    token = _invite(app, cells[LEUVEN], "late.partner@example.test", expired=True)
    client = app.test_client()
    assert client.get(f"/{LEUVEN}/invitation/{token}").status_code == 410
    assert client.get(f"/{LEUVEN}/invitation/{'x' * 43}").status_code == 410
    # another cell's invitation is not found here either
    assert client.get(f"/demo-herko/invitation/{token}").status_code == 410


def _outbox(app) -> list[str]:
    """The mails written to the development outbox: headers and decoded body, as text."""
    folder = app.extensions["livc.settings"].data_dir / "mail"
    mails = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = message_from_bytes(path.read_bytes(), policy=email_policy.default)
        headers = "".join(f"{name}: {value}\n" for name, value in message.items())
        mails.append(headers + "\n" + message.get_content())
    return mails


def test_a_password_reset_answers_the_same_for_any_address_and_its_link_works_once(app, cells, coordinator):
    client = app.test_client()
    answers = [
        post_form(client, f"/{LEUVEN}/password-reset", {"email": email}, headers=EN)
        for email in (coordinator.email, "nobody@example.test")
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert all("If the address belongs to a member of this cell" in text(answer) for answer in answers)
    for answer in answers:
        answer.close()  # the request's work is handed over once its answer is out (issue 19)
    mails = _outbox(app)
    assert len(mails) == 1 and f"To: {coordinator.email}" in mails[0]
    link = re.search(r"http://\S+/password-reset/\S+", mails[0]).group(0)
    path = urlsplit(link).path

    new = "my renewed passphrase"
    assert post_form(client, path, {"password": new, "password_repeat": new}).status_code == 302
    assert client.get(path).status_code == 410
    assert post_form(app.test_client(), f"/{LEUVEN}/sign-in", {"email": coordinator.email, "password": new}).status_code == 302
    with app.app_context(), tenant_context(cells[LEUVEN]):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PasswordReset).where(PasswordReset.used_at.is_(None))) == 0


def test_an_invited_member_cannot_sign_in_before_accepting(app, cells):
    member = add_member(app, cells[LEUVEN], LEUVEN, Role.PARTNER, status=MembershipStatus.INVITED)
    response = post_form(app.test_client(), f"/{LEUVEN}/sign-in", {"email": member.email, "password": PASSWORD})
    assert response.status_code == 401


# --- headers --------------------------------------------------------------------------------


def test_https_pages_carry_hsts_and_a_strict_content_security_policy(app, cells):
    response = app.test_client().get(f"/{LEUVEN}/sign-in", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_the_periodic_purge_removes_sessions_that_are_over_and_keeps_live_ones(app, cells, coordinator):
    from livc.platform.sessions import purge_expired_sessions

    stale, live = app.test_client(), app.test_client()
    sign_in(stale, coordinator)
    sign_in(live, coordinator)
    with app.app_context(), tenant_context(cells[LEUVEN]):
        first = db.session.scalars(sa.select(AuthSession.id).order_by(AuthSession.id)).first()
        db.session.execute(sa.update(AuthSession).where(AuthSession.id == first)
                           .values(last_seen_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        assert purge_expired_sessions() == 1
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuthSession)) == 1
    assert live.get(f"/{LEUVEN}/profile").status_code == 200


def test_refused_input_and_forged_cookies_are_audited_without_what_was_typed(app, cells, coordinator):
    client = app.test_client()
    post_form(client, f"/{LEUVEN}/sign-in", {"email": "x" * 300, "password": "hunter2 secret"})
    client.set_cookie("livc_session", "eyJmb3JnZWQiOnRydWV9.forged.signature", domain="localhost")
    assert client.get(f"/{LEUVEN}/sign-in").status_code == 200
    with app.app_context(), tenant_context(cells[LEUVEN]):
        entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
        refused = [e for e in entries if e.action == "request.refused"]
        assert refused[-1].details["endpoint"] == "tenant.sign_in" and refused[-1].details["status"] == 422
        assert set(refused[-1].details["fields"]) >= {"email", "password"}
        assert "auth.session_cookie_refused" in [e.action for e in entries]
        assert not any("hunter2" in str(e.details) or "xxxx" in str(e.details) for e in entries)


def test_credential_attempts_are_rate_limited_per_client_behind_the_trusted_proxy(app, cells):
    """30 attempts a minute per client address; behind the (loopback) proxy, per forwarded client."""
    settings = app.extensions["livc.settings"]  # the proxy is configured: no proxy is trusted by default
    app.extensions["livc.settings"] = settings.model_copy(update={"forwarded_allow_ips": "127.0.0.1"})
    client = app.test_client()

    def attempt(forwarded_for: str):
        return post_form(client, f"/{LEUVEN}/password-reset", {"email": "someone@example.test"},
                         headers={"X-Forwarded-For": forwarded_for, **EN})

    answers = [attempt("198.51.100.7").status_code for _ in range(31)]
    assert answers[:30] == [200] * 30 and answers[30] == 429
    assert attempt("198.51.100.8").status_code == 200  # another person behind the same proxy
    assert "auth.rate_limited" in audit_actions(app, cells[LEUVEN])


@pytest.mark.redis
def test_with_redis_the_rate_limit_holds_across_processes(tmp_path, sqlite_template, redis_url):
    """Two web processes (two apps) share one count in Redis."""
    import shutil

    from conftest import make_app

    apps = []
    for name in ("one", "two"):
        (tmp_path / name / "data").mkdir(parents=True)
        shutil.copy(sqlite_template, tmp_path / name / "data" / "livc.sqlite")
        apps.append(make_app(tmp_path / name, redis_url=redis_url))
    for app in apps:
        seed_demo_tenants(app)
    statuses = []
    for attempt in range(31):
        client = apps[attempt % 2].test_client()
        statuses.append(post_form(client, f"/{LEUVEN}/password-reset", {"email": "someone@example.test"}).status_code)
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
