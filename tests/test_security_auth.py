"""Issue 19, authentication: codes accepted once under concurrency, a new password ends the
account's sessions in every cell, lock-outs per cell that slow a guesser without locking the
person out elsewhere, sign-in refusals that do not tell a right password, password resets that
do the same work for anyone, and invitations that reveal nothing about accounts elsewhere."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from email import policy as email_policy
from urllib.parse import urlsplit

import sqlalchemy as sa

from admin_helpers import add_operator
from auth_helpers import PASSWORD, add_member, csrf_token, post_form, sign_in
from livc.platform.accounts import Account, new_recovery_codes
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.sessions import AuthSession
from livc.tenants.members.models import Organisation

LEUVEN, HERKO = "demo-leuven", "demo-herko"
EN = {"Accept-Language": "en"}
TOGETHER = 4


def api_csrf(client, slug: str = LEUVEN) -> str:
    return client.get(f"/{slug}/api/session").get_json()["csrf_token"]


def api_sign_in(client, email: str, password: str, code: str, slug: str = LEUVEN, token: str | None = None):
    headers = {**EN, "X-CSRFToken": token or api_csrf(client, slug)}
    return client.post(f"/{slug}/api/session", json={"email": email, "password": password, "code": code}, headers=headers)


def sessions_of(app, tenant_id: int, account_id: int) -> int:
    """How many live sign-in sessions the account has in the cell."""
    with app.app_context(), tenant_context(tenant_id):
        count = db.session.scalar(sa.select(sa.func.count()).select_from(AuthSession)
                                  .where(AuthSession.account_id == account_id))
        db.session.remove()
    return count


def signed_in(client, slug: str) -> bool:
    return client.get(f"/{slug}/api/session").get_json()["signed_in"]


def together(requests) -> list:
    """Run the prepared ``requests`` (callables) at the same moment, one thread each."""
    barrier = threading.Barrier(len(requests))

    def run(request):
        barrier.wait()
        return request()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(run, requests))


# --- 1. a code is accepted once, even when requests arrive together ----------------------------


def test_one_totp_code_opens_one_session_when_requests_arrive_together(app, cells, partner):
    clients = [app.test_client() for _ in range(TOGETHER)]
    tokens = [api_csrf(client) for client in clients]
    code = partner.code()
    answers = together([
        (lambda client=client, token=token: api_sign_in(client, partner.email, PASSWORD, code, token=token).status_code)
        for client, token in zip(clients, tokens)
    ])
    assert sorted(answers) == [201] + [401] * (TOGETHER - 1)
    assert sum(signed_in(client, LEUVEN) for client in clients) == 1


def test_a_recovery_code_opens_one_session_when_requests_arrive_together(app, cells, partner):
    with app.app_context():
        account = db.session.get(Account, partner.account_id)
        recovery = new_recovery_codes(account)[0]
        db.session.commit()
        db.session.remove()
    clients = [app.test_client() for _ in range(TOGETHER)]
    tokens = [api_csrf(client) for client in clients]
    answers = together([
        (lambda client=client, token=token: api_sign_in(client, partner.email, PASSWORD, recovery, token=token).status_code)
        for client, token in zip(clients, tokens)
    ])
    assert sorted(answers) == [201] + [401] * (TOGETHER - 1)


def test_an_operators_code_opens_one_console_session_when_requests_arrive_together(app):
    operator = add_operator(app)
    clients = [app.test_client() for _ in range(TOGETHER)]
    tokens = []
    for client in clients:
        first = post_form(client, "/admin/sign-in", {"email": operator.email, "password": operator.password})
        assert first.headers["Location"].endswith("/admin/sign-in/verify")
        tokens.append(csrf_token(client, "/admin/sign-in/verify"))
    code = operator.fresh_code()
    answers = together([
        (lambda client=client, token=token: client.post("/admin/sign-in/verify",
                                                        data={"csrf_token": token, "code": code}).status_code)
        for client, token in zip(clients, tokens)
    ])
    assert sorted(answers) == [302] + [401] * (TOGETHER - 1)


# --- 2. a new password ends the account's sessions in every cell -------------------------------


def test_a_password_change_ends_the_accounts_sessions_in_every_cell(app, cells):
    herko_seat = add_member(app, cells[HERKO], HERKO, Role.PARTNER, "both.cells@example.test")
    leuven_seat = add_member(app, cells[LEUVEN], LEUVEN, Role.PARTNER, "both.cells@example.test")
    herko_seat.totp_secret = leuven_seat.totp_secret  # one account, one authenticator (the last one written)
    in_herko, in_leuven = app.test_client(), app.test_client()
    sign_in(in_herko, herko_seat)
    leuven_seat.codes_used = herko_seat.codes_used  # each code works once, whichever cell took it
    sign_in(in_leuven, leuven_seat)
    assert signed_in(in_herko, HERKO) and signed_in(in_leuven, LEUVEN)
    assert sessions_of(app, cells[HERKO], herko_seat.account_id) == 1

    new = "a brand new passphrase"
    changed = in_leuven.put(f"/{LEUVEN}/api/profile/password",
                            json={"current_password": PASSWORD, "password": new, "password_repeat": new},
                            headers={**EN, "X-CSRFToken": api_csrf(in_leuven)})
    assert changed.status_code == 200
    assert sessions_of(app, cells[HERKO], herko_seat.account_id) == 0  # ended with the old password
    assert sessions_of(app, cells[LEUVEN], leuven_seat.account_id) == 1  # the changing request keeps one
    assert signed_in(in_leuven, LEUVEN)


def _outbox(app) -> list:
    folder = app.extensions["livc.settings"].data_dir / "mail"
    return [message_from_bytes(path.read_bytes(), policy=email_policy.default)
            for path in sorted(folder.glob("*.eml"))] if folder.exists() else []


def test_a_password_reset_ends_the_accounts_sessions_in_every_cell(app, cells):
    herko_seat = add_member(app, cells[HERKO], HERKO, Role.PARTNER, "both.cells@example.test")
    leuven_seat = add_member(app, cells[LEUVEN], LEUVEN, Role.PARTNER, "both.cells@example.test")
    herko_seat.totp_secret = leuven_seat.totp_secret
    in_herko = app.test_client()
    sign_in(in_herko, herko_seat)
    assert sessions_of(app, cells[HERKO], herko_seat.account_id) == 1

    asker = app.test_client()
    asked = asker.post(f"/{LEUVEN}/api/password-reset", json={"email": leuven_seat.email},
                       headers={**EN, "X-CSRFToken": api_csrf(asker)})
    assert asked.status_code == 202
    asked.close()  # the request's slow part runs once its answer is out
    mails = _outbox(app)
    assert len(mails) == 1
    link = re.search(r"http://\S+/password-reset/\S+", mails[0].get_content()).group(0)
    new = "a brand new passphrase"
    client = app.test_client()
    token = urlsplit(link).path.rsplit("/", 1)[1]
    done = client.post(f"/{LEUVEN}/api/password-reset/{token}", json={"password": new, "password_repeat": new},
                       headers={**EN, "X-CSRFToken": api_csrf(client)})
    assert done.status_code == 204, done.get_data(as_text=True)
    assert sessions_of(app, cells[HERKO], herko_seat.account_id) == 0


# --- 3. lock-outs per cell, progressive, still slowing a guesser ---------------------------------


def test_failures_in_one_cell_do_not_lock_the_person_out_of_another(app, cells, partner):
    attacker = app.test_client()
    token = api_csrf(attacker, HERKO)  # a cell where the partner has no seat
    for _ in range(5):
        assert api_sign_in(attacker, partner.email, "not the password", "123456", HERKO, token).status_code == 401
    person = app.test_client()  # in their own cell, the person signs in as ever
    assert api_sign_in(person, partner.email, PASSWORD, partner.fresh_code()).status_code == 201
    page = post_form(app.test_client(), f"/{LEUVEN}/sign-in", {"email": partner.email, "password": PASSWORD})
    assert page.status_code == 302

    locked = api_sign_in(attacker, partner.email, PASSWORD, partner.code(), HERKO, token)
    assert locked.status_code == 429  # the guesser is slowed where they guess
    assert 0 < int(locked.headers["Retry-After"]) <= 60  # a first lock is short
    assert "Wait 1 minute and try again" in locked.get_json()["error"]["message"]


def test_a_lock_grows_with_every_failure_after_it_ended(app, cells, partner):
    client = app.test_client()
    token = api_csrf(client)
    for _ in range(5):
        api_sign_in(client, partner.email, "not the password", "123456", token=token)
    first = api_sign_in(client, partner.email, PASSWORD, partner.code(), token=token)
    assert first.status_code == 429 and int(first.headers["Retry-After"]) <= 60
    with app.app_context():  # the first lock's minute has passed
        db.session.execute(sa.text("UPDATE sign_in_throttles SET locked_until = last_failure_at"))
        db.session.commit()
        db.session.remove()
    assert api_sign_in(client, partner.email, "still not it", "123456", token=token).status_code == 401
    second = api_sign_in(client, partner.email, PASSWORD, partner.code(), token=token)
    assert second.status_code == 429 and 60 < int(second.headers["Retry-After"]) <= 120
    page = post_form(app.test_client(), f"/{LEUVEN}/sign-in", {"email": partner.email, "password": PASSWORD}, headers=EN)
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "Wait 2 minutes and try again" in page.get_data(as_text=True)


# --- 4. one refusal, whatever was wrong ----------------------------------------------------------


def test_the_apis_sign_in_refusal_does_not_tell_a_right_password(app, cells, partner):
    not_enrolled = add_member(app, cells[LEUVEN], LEUVEN, Role.SECRETARY)
    with app.app_context():
        account = db.session.get(Account, not_enrolled.account_id)
        account.totp_secret = account.totp_enabled_at = None
        db.session.commit()
        db.session.remove()
    client = app.test_client()
    token = api_csrf(client)
    attempts = [
        (partner.email, "wrong password!", "123456"),
        (partner.email, PASSWORD, "000000"),  # right password, wrong code
        (partner.email, PASSWORD, "abcd-efgh-jkmn"),  # right password, no such recovery code
        (not_enrolled.email, PASSWORD, "123456"),  # right password, no authenticator yet
        ("nobody@example.test", PASSWORD, "123456"),
    ]
    answers = [api_sign_in(client, *attempt, token=token) for attempt in attempts]
    assert {answer.status_code for answer in answers} == {401}
    bodies = [answer.get_json() for answer in answers]
    assert all(body == bodies[0] for body in bodies), bodies
    assert "fields" not in bodies[0]["error"] and "code" not in bodies[0]["error"]


# --- 5. a reset request does the same work for anyone --------------------------------------------


def test_a_reset_request_does_its_work_after_the_answer_for_anyone(app, cells, partner):
    answers = []
    for email in (partner.email, "nobody@example.test"):
        client = app.test_client()
        answers.append(client.post(f"/{LEUVEN}/api/password-reset", json={"email": email},
                                   headers={**EN, "X-CSRFToken": api_csrf(client)}))
    assert _outbox(app) == []  # nothing made nor mailed before the answer is out, for anyone
    for answer in answers:
        answer.close()  # the server closes the response once it is sent
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].get_json() == answers[1].get_json()
    mails = _outbox(app)
    assert len(mails) == 1 and mails[0]["To"] == partner.email


# --- 6. an invitation reveals nothing about accounts elsewhere -----------------------------------


def _invite(client, organisation_id: int, email: str, display_name: str):
    return client.post(f"/{LEUVEN}/api/members",
                       json={"email": email, "display_name": display_name, "role": "partner",
                             "organisation_id": organisation_id},
                       headers={**EN, "X-CSRFToken": api_csrf(client)})


def test_inviting_someone_known_elsewhere_answers_as_for_a_new_person(app, cells, coordinator_client):
    elsewhere = add_member(app, cells[HERKO], HERKO, Role.PARTNER, "known.elsewhere@example.test")
    with app.app_context(), tenant_context(cells[LEUVEN]):
        organisation = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == "Test municipal_service"))
        db.session.remove()
    known = _invite(coordinator_client, organisation, elsewhere.email, "Typed Name")
    new = _invite(coordinator_client, organisation, "brand.new@example.test", "Typed Name")
    assert known.status_code == new.status_code == 201
    known_member, new_member = known.get_json()["member"], new.get_json()["member"]
    assert known_member["display_name"] == new_member["display_name"] == "Typed Name"  # not "Test partner"
    assert known_member["account_id"] is None and new_member["account_id"] is None
    assert set(known_member) == set(new_member)
    listing = coordinator_client.get(f"/{LEUVEN}/api/members", headers=EN).get_json()["members"]
    invited = [member for member in listing if member["email"] == elsewhere.email][0]
    assert invited["display_name"] == "Typed Name" and invited["account_id"] is None
    page = coordinator_client.get(f"/{LEUVEN}/members", headers=EN).get_data(as_text=True)
    assert "Test partner" not in page and "Typed Name" in page
