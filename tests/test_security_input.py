"""Every bad input answers 4xx with a clear message (issue 19): never a 500.

A probe of the demo found inputs that ended in an unhandled error: ids above 2^63-1 in URLs and
JSON, lone surrogates and NUL characters in text, JSON nested thousands deep, CR/LF in a
sign-in's ``next=``, retrying jobs without Redis, and dates in year 1 or 9999. Each is refused
once in the kernel (:mod:`livc.platform.inputs`); these tests send them as a client would.
Where the database matters (PostgreSQL refuses NUL, SQLite overflows on big integers) they run
on both.
"""

from __future__ import annotations

import shutil
import socket
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from admin_helpers import add_operator, give_operator_session, operator_csrf
from auth_helpers import PASSWORD, MemberApi, add_member, csrf_token, give_session, post_form
from case_helpers import LEUVEN, open_case, ready_cell
from conftest import make_app, seed_demo_tenants
from livc.platform.db import db, tenant_context
from livc.platform.outbound import public_address
from livc.platform.roles import Role
from livc.platform.settings import ConfigurationError, load_settings
from livc.tenants.cell.models import Table

EN = {"Accept-Language": "en"}
API = f"/{LEUVEN}/api"
HUGE = 10**20  # above 2^63-1: no column holds it
REFUSED_CHARACTER = "Contains a character that is not allowed"


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


Api = MemberApi


def signal_body(**overrides) -> dict:
    return {"observation": "Shared a video glorifying an attack in the class group chat.",
            "internal_assessment": "done", "urgency": "soon", **overrides}


def fields_of(response) -> dict:
    assert response.status_code == 422, (response.status_code, response.get_data(as_text=True))
    return response.get_json()["error"]["fields"]


# --- integers -----------------------------------------------------------------------------------


def test_an_id_above_64_bits_in_a_url_is_a_page_not_found(app, cell):
    """Every ``<int:...>`` route: the API's and the pages' alike."""
    client = app.test_client()
    give_session(app, client, cell.coordinator)
    assert client.get(f"{API}/cases/{HUGE}", headers=EN).status_code == 404
    assert client.get(f"{API}/signals/{HUGE}", headers=EN).status_code == 404
    assert client.get(f"/{LEUVEN}/signals/{HUGE}", headers=EN).status_code == 404
    # The largest id a column holds is still an ordinary id that does not exist; a case's id is found.
    assert client.get(f"{API}/cases/{2**63 - 1}", headers=EN).status_code == 404
    case_id, _code = open_case(app, cell)
    assert client.get(f"{API}/cases/{case_id}", headers=EN).status_code == 200


@pytest.mark.parametrize("value", [HUGE, str(HUGE), 1e30])
def test_an_id_above_64_bits_in_a_json_field_answers_422_on_that_field(app, cell, value):
    api = Api(app, cell.partner)
    answer = api.send("POST", f"{API}/signals", signal_body(reporter_organisation_id=value))
    assert fields_of(answer)["reporter_organisation_id"] == ["This number is out of range."]


def test_an_id_above_64_bits_in_a_form_field_is_refused_on_that_field(app, cell):
    client = app.test_client()
    give_session(app, client, cell.partner)
    answer = post_form(client, f"/{LEUVEN}/signals/new", {**signal_body(), "reporter_organisation_id": str(HUGE)},
                       headers=EN)
    assert answer.status_code == 422
    assert "This number is out of range." in answer.get_data(as_text=True)


def test_an_id_above_64_bits_in_a_query_string_is_no_choice(app, cell):
    """The plan page's ``?scenario=``: read as no scenario chosen, not an overflow."""
    case_id, _code = open_case(app, cell)
    client = app.test_client()
    give_session(app, client, cell.coordinator)
    assert client.get(f"/{LEUVEN}/cases/{case_id}/plan/scenario?scenario={HUGE}", headers=EN).status_code == 200


# --- text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["\ud800", "before\x00after"], ids=["lone-surrogate", "nul"])
def test_a_lone_surrogate_or_a_nul_in_json_text_answers_422_on_that_field(app, cell, text):
    api = Api(app, cell.partner)
    answer = api.send("POST", f"{API}/signals", signal_body(reporter_contact=text, observation="Seen " + text))
    faults = fields_of(answer)
    assert set(faults) == {"reporter_contact", "observation"}
    assert faults["reporter_contact"][0].startswith(REFUSED_CHARACTER)


def test_a_nul_in_an_unencrypted_text_field_answers_422(app, cell):
    """An organisation's name is stored as plain text (PostgreSQL refuses NUL in text)."""
    api = Api(app, cell.coordinator)
    answer = api.send("POST", f"{API}/organisations", {"name": "CLB\x00Leuven", "kind": "clb"})
    assert fields_of(answer)["name"][0].startswith(REFUSED_CHARACTER)


def test_a_nul_in_a_query_string_answers_400_naming_the_field(app, cells):
    answer = app.test_client().get("/?q=Leuven%00", headers=EN)
    assert answer.status_code == 400
    assert "The field q contains a character that is not allowed" in answer.get_data(as_text=True)


def test_a_nul_in_a_posted_form_answers_400_naming_the_field(app, cells):
    client = app.test_client()
    answer = post_form(client, f"/{LEUVEN}/sign-in", {"email": "someone\x00@example.test", "password": PASSWORD},
                       headers=EN)
    assert answer.status_code == 400
    assert "The field email contains a character that is not allowed" in answer.get_data(as_text=True)


# --- JSON depth ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/session", "/api/password-reset"])
def test_json_nested_5000_deep_answers_400_before_it_is_parsed(sqlite_app, path):
    """Anonymous endpoints: the recursive parser would end in a RecursionError (a 500)."""
    seed_demo_tenants(sqlite_app)
    client = sqlite_app.test_client()
    token = client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    body = '{"email": ' + "[" * 5000 + "]" * 5000 + "}"
    answer = client.post(f"/{LEUVEN}{path}", data=body, content_type="application/json",
                         headers={"X-CSRFToken": token, **EN})
    assert answer.status_code == 400
    assert answer.get_json()["error"]["message"] == "The JSON body is nested too deeply (at most 32 levels)."
    # Brackets inside text do not count, and an ordinary body still works.
    answer = client.post(f"/{LEUVEN}/api/password-reset", json={"email": "[[[[" * 100 + "@example.test"},
                         headers={"X-CSRFToken": token, **EN})
    assert answer.status_code == 422


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    f"/{LEUVEN}/cases%0D%0ASet-Cookie:%20x=1",
    f"/{LEUVEN}/cases%0A",
])
def test_a_crafted_next_ends_the_sign_in_on_the_home_page(sqlite_app, target):
    cells = seed_demo_tenants(sqlite_app)
    member = add_member(sqlite_app, cells[LEUVEN], LEUVEN, Role.COORDINATOR)
    client = sqlite_app.test_client()
    sign_in_page = f"/{LEUVEN}/sign-in?next={target}"
    page = client.get(sign_in_page, headers=EN)
    assert page.status_code == 200
    first = client.post(f"/{LEUVEN}/sign-in", data={
        "csrf_token": csrf_token(client, sign_in_page), "email": member.email, "password": member.password,
        "next": client.get(sign_in_page).request.args["next"],
    })
    assert first.status_code == 302
    second = post_form(client, f"/{LEUVEN}/sign-in/verify", {"code": member.fresh_code()})
    assert second.status_code == 302
    assert second.headers["Location"] == f"/{LEUVEN}/home"


# --- jobs ---------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the socket is


@pytest.mark.parametrize("redis", ["unreachable", "not configured"])
def test_retrying_every_failed_job_without_redis_answers_clearly_never_500(tmp_path, sqlite_template, redis):
    (tmp_path / "data").mkdir()
    shutil.copy(sqlite_template, tmp_path / "data" / "livc.sqlite")
    settings = {"redis_url": f"redis://127.0.0.1:{_closed_port()}/0"} if redis == "unreachable" else {}
    app = make_app(tmp_path, **settings)
    operator = add_operator(app)
    client = app.test_client()
    give_operator_session(app, client, operator)
    answer = client.post("/admin/api/jobs/retry", json={"all": True},
                         headers={"X-CSRFToken": operator_csrf(client), **EN})
    assert answer.status_code == (503 if redis == "unreachable" else 409)  # the demo runs jobs inline: 409
    message = answer.get_json()["error"]["message"]
    assert "Redis" in message and "try again" in message if redis == "unreachable" else "no queue" in message


def test_the_consoles_retry_button_without_a_queue_says_why_on_the_health_page(tmp_path, sqlite_template):
    (tmp_path / "data").mkdir()
    shutil.copy(sqlite_template, tmp_path / "data" / "livc.sqlite")
    app = make_app(tmp_path)
    operator = add_operator(app)
    client = app.test_client()
    give_operator_session(app, client, operator)
    answer = client.post("/admin/jobs/retry", data={"all": "yes", "csrf_token": operator_csrf(client)},
                         headers=EN, follow_redirects=True)
    assert answer.status_code == 200
    assert "there is no queue to retry jobs on" in answer.get_data(as_text=True)


# --- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value, message", [
    ("date_of_birth", "9999-12-31", "Enter a date between 1900-01-01 and 2100-12-31."),
    ("date_of_birth", "0001-01-01", "Enter a date between 1900-01-01 and 2100-12-31."),
    ("date_of_birth", (date.today() + timedelta(days=1)).isoformat(), "This date cannot be in the future."),
    ("observed_from", "9999-12-31", "Enter a date between 1900-01-01 and 2100-12-31."),
    ("observed_until", "0001-01-01", "Enter a date between 1900-01-01 and 2100-12-31."),
])
def test_dates_outside_a_sensible_range_answer_422(app, cell, field, value, message):
    api = Api(app, cell.partner)
    assert fields_of(api.send("POST", f"{API}/signals", signal_body(**{field: value})))[field] == [message]


def test_a_meeting_in_year_9999_answers_422(app, cell):
    api = Api(app, cell.coordinator)
    table_id = _main_table(app, cell)
    answer = api.send("POST", f"{API}/meetings", {"table_id": table_id, "kind": "regular",
                                                   "starts_at": "9999-12-31T10:00", "ends_at": "9999-12-31T12:00"})
    faults = fields_of(answer)
    assert faults["starts_at"] == ["Enter a date between 1900-01-01 and 2100-12-31."]


def _main_table(app, cell) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        return db.session.scalar(sa.select(Table.id))


# --- the demo answers no 5xx --------------------------------------------------------------------

DEMO_INPUTS = {
    "id in url": ("GET", f"{API}/cases/{HUGE}", None),
    "id in page url": ("GET", f"/{LEUVEN}/cases/{HUGE}", None),
    "id in json": ("POST", f"{API}/signals", signal_body(reporter_organisation_id=HUGE)),
    "id in json, as text": ("POST", f"{API}/signals", signal_body(reporter_organisation_id=str(HUGE))),
    "lone surrogate": ("POST", f"{API}/signals", signal_body(observation="\ud800")),
    "nul in json": ("POST", f"{API}/organisations", {"name": "a\x00b", "kind": "clb"}),
    "nul in query": ("GET", "/?q=Leuven%00", None),
    "nested json": ("POST", f"{API}/signals", "[" * 5000 + "]" * 5000),
    "next with crlf": ("GET", f"/{LEUVEN}/sign-in?next=%2F{LEUVEN}%2F%0D%0Ax", None),
    "year 9999": ("POST", f"{API}/signals", signal_body(date_of_birth="9999-12-31")),
    "year 1": ("POST", f"{API}/signals", signal_body(observed_from="0001-01-01")),
}


@pytest.mark.parametrize("name", list(DEMO_INPUTS))
def test_none_of_the_probes_inputs_answers_5xx_on_a_seeded_cell(app, cell, name):
    method, path, body = DEMO_INPUTS[name]
    api = Api(app, cell.coordinator)
    if isinstance(body, str):
        answer = api.client.open(path, method=method, data=body, content_type="application/json", headers=api.headers)
    else:
        answer = api.send(method, path, body)
    assert 400 <= answer.status_code < 500 or answer.status_code in (200, 302), (answer.status_code, name)



# --- SSO discovery ------------------------------------------------------------------------------


def test_sso_discovery_never_connects_to_a_host_name_that_resolves_to_an_internal_address(tmp_path, sqlite_template):
    """The machine's own name resolves to a loopback or private address: checked when connecting,
    so nothing reaches the listener, and the coordinator reads why."""
    host = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)}
    assert addresses and not any(public_address(address) for address in addresses), addresses
    (tmp_path / "data").mkdir()
    shutil.copy(sqlite_template, tmp_path / "data" / "livc.sqlite")
    app = make_app(tmp_path, sso_allow_private=False)  # as in production
    cell = ready_cell(app, seed_demo_tenants(app)[LEUVEN], LEUVEN)
    with socket.create_server(("", 0), family=socket.AF_INET6, dualstack_ipv6=True) as listener:
        listener.setblocking(False)
        port = listener.getsockname()[1]
        api = Api(app, cell.coordinator)
        answer = api.send("PUT", f"{API}/sso", {"issuer": f"https://{host}:{port}", "client_id": "livc",
                                                 "client_secret": "s" * 20, "label": "Login", "enabled": True})
        assert fields_of(answer)["issuer"] == [
            "This address leads to a private or internal network. Enter the provider's public https:// address."]
        with pytest.raises(BlockingIOError):
            listener.accept()  # no connection was ever made


def test_production_refuses_to_allow_sso_to_private_addresses():
    with pytest.raises(ConfigurationError, match="LIVC_SSO_ALLOW_PRIVATE"):
        load_settings({"env": "production", "secret_key": "s" * 40, "master_key": "A" * 43,
                       "database_url": "postgresql://livc@db/livc", "redis_url": "redis://redis:6379/0",
                       "public_url": "https://livc.example", "smtp_url": "smtp://mail.example",
                       "sso_allow_private": True})
