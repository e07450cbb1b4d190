"""What a visitor or an API client sees: cell pages, refusals, errors, health, headers, languages."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from marshmallow import Schema, fields, validate

from conftest import make_app
from livc.platform import audit
from livc.platform.api import load_body
from livc.platform.db import db, tenant_context
from livc.platform.tenancy import Tenant, TenantStatus
from livc.platform.web import csrf


def _set_status(app, slug: str, status: TenantStatus) -> None:
    with app.app_context():
        db.session.execute(sa.update(Tenant).where(Tenant.slug == slug).values(status=status))
        db.session.commit()


def test_a_cell_page_shows_the_cell_and_what_it_covers(client, demo_tenants):
    page = client.get("/demo-herko/", headers={"Accept-Language": "nl"}).get_data(as_text=True)
    assert "DEMO zonale LIVC-R politiezone Herent-Kortenberg" in page
    assert "Zonale cel van een politiezone" in page
    assert "Herent" in page and "24038" in page and "Kortenberg" in page and "24055" in page


def test_an_unknown_cell_gets_a_clear_not_found_page(client, demo_tenants):
    response = client.get("/no-such-cell/", headers={"Accept-Language": "nl"})
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "Pagina niet gevonden" in page and "Op dit adres is er geen cel." in page
    assert "Traceback" not in page


@pytest.mark.parametrize("path", ["/Not_A_Slug!/", "/" + "a" * 300 + "/", "/%ff%fe/", "/demo-leuven/../../etc/passwd"])
def test_malformed_addresses_are_not_found(client, demo_tenants, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_a_suspended_cell_is_refused_and_an_offboarded_one_is_gone(app, client, demo_tenants):
    _set_status(app, "demo-leuven", TenantStatus.SUSPENDED)
    _set_status(app, "demo-herko", TenantStatus.OFFBOARDED)
    suspended = client.get("/demo-leuven/", headers={"Accept-Language": "en"})
    gone = client.get("/demo-herko/", headers={"Accept-Language": "en"})
    assert suspended.status_code == 403
    assert "Access to this cell is suspended" in suspended.get_data(as_text=True)
    assert gone.status_code == 404
    assert "no longer on the platform" in gone.get_data(as_text=True)


def test_api_clients_get_errors_as_json(client, demo_tenants):
    response = client.get("/no-such-cell/", headers={"Accept": "application/json", "Accept-Language": "fr"})
    assert response.status_code == 404
    assert response.get_json() == {
        "error": {"status": 404, "title": "Page introuvable", "message": "Il n'y a pas de cellule à cette adresse."}
    }


def test_every_response_carries_the_security_headers_and_a_request_id(client, demo_tenants):
    response = client.get("/demo-leuven/", headers={"X-Request-ID": "abcdef12-3456"})
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"] == "abcdef12-3456"
    assert client.get("/", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"] != "<script>"


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"] == "ok"


# --- request bodies and transactions ----------------------------------------------------------


class NoteSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=3))
    count = fields.Integer(required=True)


@pytest.fixture
def api_app(sqlite_app):
    """The app with two small endpoints that use the shared body parser and write audit entries."""
    seeded = {}

    def write_then_answer():
        data = load_body(NoteSchema())
        with tenant_context(seeded["tenant"]):
            audit.record("test.written", details={"count": data["count"]})
            if data["title"] == "explode":
                raise RuntimeError("secret detail 1985-03-02 Jan Janssens")
        return {"saved": True}

    # This endpoint tests body parsing: CSRF tokens have their own tests (test_auth).
    sqlite_app.add_url_rule("/api/test-notes", "test_notes", csrf.exempt(write_then_answer), methods=["POST"])
    from conftest import seed_demo_tenants

    seeded["tenant"] = seed_demo_tenants(sqlite_app)["demo-leuven"]
    return sqlite_app, seeded["tenant"]


def _entries(app, tenant_id) -> list[str]:
    with app.app_context(), tenant_context(tenant_id):
        return db.session.scalars(sa.select(audit.AuditEntry.action)).all()


def test_a_valid_body_is_saved(api_app):
    app, tenant = api_app
    response = app.test_client().post("/api/test-notes", json={"title": "fine", "count": 2})
    assert response.status_code == 200
    assert _entries(app, tenant).count("test.written") == 1


def test_invalid_fields_are_named_one_by_one_in_the_users_language(api_app):
    app, tenant = api_app
    response = app.test_client().post(
        "/api/test-notes", json={"title": "x", "count": "many"}, headers={"Accept-Language": "nl"}
    )
    assert response.status_code == 422
    body = response.get_json()["error"]
    assert body["title"] == "Sommige velden vragen aandacht"
    assert set(body["fields"]) == {"title", "count"}
    assert "test.written" not in _entries(app, tenant)


@pytest.mark.parametrize(
    ("send", "status"),
    [
        ({"data": "{not json", "content_type": "application/json"}, 400),
        ({"data": "title=x", "content_type": "application/x-www-form-urlencoded"}, 415),
        ({"data": "{}" + " " * (3 * 1024 * 1024), "content_type": "application/json"}, 413),
    ],
    ids=["malformed", "not-json", "oversized"],
)
def test_bad_bodies_get_the_right_status_as_json(api_app, send, status):
    app, _ = api_app
    response = app.test_client().post("/api/test-notes", **send)
    assert response.status_code == status
    assert response.get_json()["error"]["status"] == status


def test_a_failing_request_saves_nothing_and_reveals_nothing(api_app, caplog):
    app, tenant = api_app
    with caplog.at_level(logging.ERROR):
        response = app.test_client().post("/api/test-notes", json={"title": "explode", "count": 1})
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Traceback" not in body and "Janssens" not in body
    assert "test.written" not in _entries(app, tenant)
    assert "RuntimeError" in caplog.text
    assert "Janssens" not in caplog.text and "1985" not in caplog.text


def test_a_database_that_is_down_gets_a_clear_503(tmp_path, caplog):
    app = make_app(tmp_path, database_url="postgresql://livc:s3cret-pw@127.0.0.1:9/livc")
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        page = client.get("/demo-leuven/", headers={"Accept-Language": "en"})
        ready = client.get("/readyz")
    assert page.status_code == 503
    assert "Temporarily unavailable" in page.get_data(as_text=True)
    assert ready.status_code == 503
    assert ready.get_json()["reason"] == "database: unreachable"
    for text in (page.get_data(as_text=True), ready.get_data(as_text=True), caplog.text):
        assert "s3cret-pw" not in text and "Traceback" not in text


# --- languages --------------------------------------------------------------------------------


def test_the_language_switch_remembers_the_choice(client, demo_tenants):
    switched = client.get("/language/fr?next=/demo-herko/")
    assert switched.status_code == 302 and switched.headers["Location"] == "/demo-herko/"
    page = client.get("/demo-herko/").get_data(as_text=True)
    assert "Cellule zonale d&#39;une zone de police" in page or "Cellule zonale d'une zone de police" in page
    assert '<html lang="fr">' in page


def test_a_cell_is_shown_only_in_its_working_languages(client, demo_tenants):
    client.get("/language/fr?next=/")  # demo-leuven works in Dutch and English only
    page = client.get("/demo-leuven/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="nl">' in page
    assert "Français" not in page and "English" in page


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "javascript:alert(1)"])
def test_the_language_switch_never_redirects_off_site(client, target):
    response = client.get("/language/en", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_an_unknown_language_is_not_found(client):
    assert client.get("/language/es").status_code == 404


def test_search_engines_are_told_to_stay_away(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert "Disallow: /" in response.get_data(as_text=True)


def test_a_refused_cell_still_gets_a_reference_to_quote(client, demo_tenants):
    response = client.get("/no-such-cell/", headers={"Accept-Language": "nl"})
    reference = response.headers["X-Request-ID"]
    assert reference in response.get_data(as_text=True)


def test_readiness_names_an_unreachable_redis(tmp_path, sqlite_template):
    import shutil

    (tmp_path / "data").mkdir()
    shutil.copy(sqlite_template, tmp_path / "data" / "livc.sqlite")
    response = make_app(tmp_path, redis_url="redis://127.0.0.1:9/0").test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["reason"] == "redis: unreachable"
    assert response.get_json()["checks"]["database"] == "ok"


def test_a_wrong_method_on_a_cell_page_is_a_clear_405_with_allow(client, demo_tenants):
    response = client.get("/demo-leuven/sign-out", headers={"Accept-Language": "en"})
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "Method not allowed" in response.get_data(as_text=True)
