"""The sign-in JSON API: same rules as the pages, JSON answers, CSRF tokens in a header."""

from __future__ import annotations

from auth_helpers import PASSWORD

LEUVEN = "demo-leuven"
EN = {"Accept-Language": "en"}


def csrf(client) -> str:
    return client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]


def call(client, method: str, path: str, body: dict | None = None, *, token: str | None = None):
    headers = {**EN, "X-CSRFToken": token if token is not None else csrf(client)}
    return client.open(f"/{LEUVEN}{path}", method=method, json=body, headers=headers)


def test_an_api_client_signs_in_with_password_and_code_and_out_again(app, cells, partner):
    client = app.test_client()
    assert client.get(f"/{LEUVEN}/api/session").get_json()["signed_in"] is False

    response = call(client, "POST", "/api/session", {"email": partner.email, "password": PASSWORD, "code": partner.fresh_code()})

    assert response.status_code == 201
    member = response.get_json()["member"]
    assert member["role"] == "partner" and member["email"] == partner.email
    assert member["undertaking_accepted"] is False
    assert not {"password_hash", "totp_secret"} & set(member)
    assert client.get(f"/{LEUVEN}/api/session").get_json()["signed_in"] is True

    assert call(client, "DELETE", "/api/session").status_code == 204
    assert client.get(f"/{LEUVEN}/api/session").get_json()["signed_in"] is False


def test_wrong_credentials_get_the_same_json_refusal_for_any_address(app, cells, partner):
    client = app.test_client()
    answers = [
        call(client, "POST", "/api/session", {"email": email, "password": "wrong password!", "code": "123456"})
        for email in (partner.email, "nobody@example.test")
    ]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].get_json() == answers[1].get_json()
    assert "no access to this cell" in answers[0].get_json()["error"]["message"]


def test_a_wrong_code_is_refused_like_a_wrong_password(app, cells, partner):
    response = call(app.test_client(), "POST", "/api/session", {"email": partner.email, "password": PASSWORD, "code": "000000"})
    assert response.status_code == 401
    assert "fields" not in response.get_json()["error"]  # nothing tells that the password was right
    assert response.get_json()["error"]["message"].startswith("The e-mail address, password or code is wrong")


def test_bad_bodies_get_field_messages(app, cells):
    client = app.test_client()
    response = call(client, "POST", "/api/session", {"email": "x" * 300, "code": "1"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"email", "password", "code"}
    assert call(client, "POST", "/api/session", None).status_code == 415


def test_a_change_without_the_csrf_header_is_refused(app, cells, partner):
    client = app.test_client()
    response = client.post(f"/{LEUVEN}/api/session", json={"email": partner.email, "password": PASSWORD, "code": partner.code()})
    assert response.status_code == 400
    assert client.get(f"/{LEUVEN}/api/session").get_json()["signed_in"] is False


def test_content_waits_for_the_undertaking_through_the_api_too(app, cells, partner):
    client = app.test_client()
    call(client, "POST", "/api/session", {"email": partner.email, "password": PASSWORD, "code": partner.fresh_code()})
    assert client.get(f"/{LEUVEN}/api/undertaking").get_json()["accepted"] is False
    assert call(client, "POST", "/api/undertaking", {"accept": False}).status_code == 422
    accepted = call(client, "POST", "/api/undertaking", {"accept": True})
    assert accepted.status_code == 200 and accepted.get_json()["accepted"] is True


def test_anonymous_api_calls_get_401_json(app, cells):
    response = app.test_client().get(f"/{LEUVEN}/api/undertaking")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "sign_in_required"


def test_password_reset_requests_answer_202_whoever_asks(app, cells, partner):
    client = app.test_client()
    for email in (partner.email, "nobody@example.test"):
        response = call(client, "POST", "/api/password-reset", {"email": email})
        assert response.status_code == 202
    assert call(client, "POST", "/api/password-reset/not-a-token", {"password": "x", "password_repeat": "x"}).status_code == 410


def test_changing_the_password_through_the_api_checks_the_current_one(app, cells, partner):
    client = app.test_client()
    call(client, "POST", "/api/session", {"email": partner.email, "password": PASSWORD, "code": partner.fresh_code()})
    wrong = call(client, "PUT", "/api/profile/password",
                 {"current_password": "not it at all", "password": "a new long password", "password_repeat": "a new long password"})
    assert wrong.status_code == 401 and "current_password" in wrong.get_json()["error"]["fields"]
    weak = call(client, "PUT", "/api/profile/password", {"current_password": PASSWORD, "password": "short", "password_repeat": "short"})
    assert weak.status_code == 422 and weak.get_json()["error"]["fields"]["password"] == ["Use at least 12 characters."]
    done = call(client, "PUT", "/api/profile/password",
                {"current_password": PASSWORD, "password": "a new long password", "password_repeat": "a new long password"})
    assert done.status_code == 200
