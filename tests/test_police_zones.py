"""The police-zone directory the platform's administrators maintain: the console page, its JSON
API and ``livc police-zone``; onboarding a zonal cell and the federation's "same police zone"
suggestion read it wherever the registry's zone would be (the registry has no zones yet)."""

from __future__ import annotations

import dataclasses

import pytest
import sqlalchemy as sa

from admin_helpers import add_operator, give_operator_session, operator_csrf
from auth_helpers import give_session, post_form
from case_helpers import HERKO, LEUVEN, ready_cell
from livc.admin.operators.models import OperatorAuditEntry, OperatorRole
from livc.admin.operators.operations import verify_operator_trail
from livc.admin.police_zones.operations import set_zone
from livc.platform import registry
from livc.platform.db import db
from livc.platform.police_zones import PoliceZone, PoliceZoneMunicipality
from livc.platform.tenancy import Tenant

EN = {"Accept-Language": "en"}
HERENT, KORTENBERG, BERTEM, LEUVEN_NIS = "24038", "24055", "24009", "24062"


@pytest.fixture
def administrator(app):
    return add_operator(app, OperatorRole.ADMINISTRATOR)


@pytest.fixture
def admin_client(app, administrator):
    client = app.test_client()
    give_operator_session(app, client, administrator)
    return client


@pytest.fixture
def support_client(app):
    client = app.test_client()
    give_operator_session(app, client, add_operator(app, OperatorRole.SUPPORT))
    return client


def api(client, method: str, path: str, body: dict | None = None):
    return client.open(path, method=method, json=body, headers={"X-CSRFToken": operator_csrf(client), **EN})


def directory(app) -> dict[str, tuple[str, tuple[str, ...]]]:
    """code -> (name, NIS codes), as stored."""
    with app.app_context():
        found = {zone.code: (zone.name, zone.nis_codes) for zone in db.session.scalars(sa.select(PoliceZone))}
        db.session.remove()
    return found


def trail(app) -> list[OperatorAuditEntry]:
    with app.app_context():
        entries = db.session.scalars(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.action.like("police_zone.%"))
                                     .order_by(OperatorAuditEntry.seq)).all()
        db.session.expunge_all()
    return entries


def put_zone(app, code: str, name: str, *nis_codes: str) -> None:
    with app.app_context():
        set_zone({"code": code, "name": name, "nis_codes": list(nis_codes)}, actor="cli")
        db.session.commit()
        db.session.remove()


# --- the console page -------------------------------------------------------------------------


def test_an_administrator_adds_changes_and_removes_a_zone_on_the_console(app, admin_client, administrator):
    added = post_form(admin_client, "/admin/police-zones",
                      {"code": "5389", "name": "Herent/Kortenberg", "nis_codes": f"{HERENT}, {KORTENBERG}"}, headers=EN)
    assert added.status_code == 302
    page = admin_client.get("/admin/police-zones", headers=EN).get_data(as_text=True)
    assert "The police zone 5389 Herent/Kortenberg is in the directory with 2 municipalities." in page
    assert "<td>5389</a></td>" in page.replace('<a href="/admin/police-zones/5389">', "")
    assert "<td>Herent/Kortenberg</td>" in page and "<td>2</td>" in page

    edit = admin_client.get("/admin/police-zones/5389", headers=EN).get_data(as_text=True)
    assert "Herent (24038)" in edit and "Kortenberg (24055)" in edit
    assert f'>{HERENT} {KORTENBERG}</textarea>' in edit  # the form holds the zone as it is
    replaced = post_form(admin_client, "/admin/police-zones/5389",
                         {"name": "HerKo", "nis_codes": f"{HERENT} {KORTENBERG} {BERTEM}"}, headers=EN)
    assert replaced.status_code == 302
    assert directory(app) == {"5389": ("HerKo", (BERTEM, HERENT, KORTENBERG))}

    removed = post_form(admin_client, "/admin/police-zones/5389/remove", {}, form_path="/admin/police-zones", headers=EN)
    assert removed.status_code == 302 and directory(app) == {}
    assert "No police zone in the directory yet." in admin_client.get("/admin/police-zones", headers=EN).get_data(as_text=True)

    entries = trail(app)
    assert [e.action for e in entries] == ["police_zone.created", "police_zone.replaced", "police_zone.removed"]
    assert {e.actor for e in entries} == {f"operator:{administrator.id}"} and {e.subject for e in entries} == {"5389"}
    assert entries[1].details["municipalities"] == [BERTEM, HERENT, KORTENBERG]
    with app.app_context():
        assert verify_operator_trail() == []
    actions = admin_client.get("/admin/actions", headers=EN).get_data(as_text=True)
    assert "police_zone.created" in actions and "police_zone.removed" in actions


def test_bad_input_on_the_page_is_refused_field_by_field_and_what_was_typed_is_kept(app, admin_client):
    typed = {"code": "53x9", "name": "Typed zone name", "nis_codes": f"{HERENT} 99999"}
    bad_code = post_form(admin_client, "/admin/police-zones", typed, headers=EN)
    assert bad_code.status_code == 422
    body = bad_code.get_data(as_text=True)
    assert "A police zone&#39;s code has four digits (e.g. 5388)." in body
    assert 'value="53x9"' in body and 'value="Typed zone name"' in body and f">{HERENT} 99999</textarea>" in body

    unknown = post_form(admin_client, "/admin/police-zones", {**typed, "code": "5389"}, headers=EN)
    assert unknown.status_code == 422
    body = unknown.get_data(as_text=True)
    assert "99999 is not the NIS code of a Belgian municipality (2025 registry)." in body
    assert 'value="5389"' in body and f">{HERENT} 99999</textarea>" in body

    empty = post_form(admin_client, "/admin/police-zones", {"code": "5389", "name": "", "nis_codes": ""}, headers=EN)
    assert empty.status_code == 422
    body = empty.get_data(as_text=True)
    assert "Between 1 and 200 characters." in body and "Choose the municipalities of the zone." in body
    assert directory(app) == {}
    assert trail(app) == []


def test_a_municipality_in_another_zone_is_refused_with_that_zone_named_unless_moved(app, admin_client):
    put_zone(app, "5389", "Herent/Kortenberg", HERENT, KORTENBERG)
    typed = {"code": "5390", "name": "Bertem and Herent", "nis_codes": f"{BERTEM} {HERENT}"}
    refused = post_form(admin_client, "/admin/police-zones", typed, headers=EN)
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert ("Herent (24038) is already in the police zone 5389 Herent/Kortenberg: move it explicitly to take it "
            "out of that zone.") in body
    assert 'value="Bertem and Herent"' in body
    assert directory(app) == {"5389": ("Herent/Kortenberg", (HERENT, KORTENBERG))}

    moved = post_form(admin_client, "/admin/police-zones", {**typed, "move": "yes"}, headers=EN)
    assert moved.status_code == 302
    assert directory(app) == {"5389": ("Herent/Kortenberg", (KORTENBERG,)), "5390": ("Bertem and Herent", (BERTEM, HERENT))}
    assert trail(app)[-1].details["moved_from"] == {HERENT: "5389"}


# --- the JSON API -----------------------------------------------------------------------------


def test_the_api_puts_reads_and_deletes_a_zone(app, admin_client):
    created = api(admin_client, "PUT", "/admin/api/police-zones/5389",
                  {"name": "Herent/Kortenberg", "nis_codes": [HERENT, KORTENBERG]})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["police_zone"]["nis_codes"] == [HERENT, KORTENBERG]
    read = admin_client.get("/admin/api/police-zones/5389").get_json()["police_zone"]
    assert read["name"] == "Herent/Kortenberg" and read["updated_by"].startswith("operator:")
    assert [z["code"] for z in admin_client.get("/admin/api/police-zones").get_json()["police_zones"]] == ["5389"]

    unknown = api(admin_client, "PUT", "/admin/api/police-zones/5389", {"name": "X", "nis_codes": ["99999"]})
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"]["nis_codes"] == [
        "99999 is not the NIS code of a Belgian municipality (2025 registry)."]
    twice = api(admin_client, "PUT", "/admin/api/police-zones/5390", {"name": "Other", "nis_codes": [KORTENBERG]})
    assert twice.status_code == 422
    assert "already in the police zone 5389 Herent/Kortenberg" in twice.get_json()["error"]["fields"]["move"][0]
    assert api(admin_client, "PUT", "/admin/api/police-zones/538", {"name": "X", "nis_codes": [HERENT]}).status_code == 422
    assert directory(app) == {"5389": ("Herent/Kortenberg", (HERENT, KORTENBERG))}
    replaced = api(admin_client, "PUT", "/admin/api/police-zones/5389", {"name": "HerKo", "nis_codes": [HERENT]})
    assert replaced.status_code == 200 and replaced.get_json()["police_zone"]["nis_codes"] == [HERENT]

    assert api(admin_client, "DELETE", "/admin/api/police-zones/5389").status_code == 204
    assert admin_client.get("/admin/api/police-zones/5389").status_code == 404
    assert api(admin_client, "DELETE", "/admin/api/police-zones/5389").status_code == 404


def test_support_reads_the_directory_but_cannot_change_it(app, support_client):
    put_zone(app, "5389", "Herent/Kortenberg", HERENT, KORTENBERG)
    page = support_client.get("/admin/police-zones", headers=EN).get_data(as_text=True)
    assert "Herent/Kortenberg" in page and "Add a police zone" not in page and "Remove 5389" not in page
    assert support_client.get("/admin/api/police-zones/5389").status_code == 200

    changes = [
        post_form(support_client, "/admin/police-zones", {"code": "5390", "name": "X", "nis_codes": BERTEM}),
        post_form(support_client, "/admin/police-zones/5389", {"name": "X", "nis_codes": BERTEM},
                  form_path="/admin/police-zones"),
        post_form(support_client, "/admin/police-zones/5389/remove", {}, form_path="/admin/police-zones"),
        api(support_client, "PUT", "/admin/api/police-zones/5389", {"name": "X", "nis_codes": [BERTEM]}),
        api(support_client, "DELETE", "/admin/api/police-zones/5389"),
    ]
    assert [response.status_code for response in changes] == [403] * 5
    assert directory(app) == {"5389": ("Herent/Kortenberg", (HERENT, KORTENBERG))}
    with app.app_context():
        denied = db.session.scalars(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.action == "access.denied")).all()
        assert {entry.details["action"] for entry in denied} == {"operator.police_zones.manage"}
        assert len(denied) == 5


# --- the command ------------------------------------------------------------------------------


def test_the_command_sets_lists_and_removes_zones_and_refuses_in_one_line(app, monkeypatch):
    from click.testing import CliRunner

    from livc.app import cli as cli_module

    monkeypatch.setattr("livc.app.cli.create_app", lambda config=None: app)
    runner = CliRunner()
    done = runner.invoke(cli_module.cli, ["police-zone", "set", "5389", "--name", "Herent/Kortenberg",
                                          "--nis", HERENT, "--nis", KORTENBERG])
    assert done.exit_code == 0 and "police zone 5389 Herent/Kortenberg: 2 municipalities" in done.output
    unknown = runner.invoke(cli_module.cli, ["police-zone", "set", "5390", "--name", "X", "--nis", "99999"])
    assert unknown.exit_code == 1
    assert "nis_codes: 99999 is not the NIS code of a Belgian municipality (2025 registry)." in unknown.output
    taken = runner.invoke(cli_module.cli, ["police-zone", "set", "5390", "--name", "X", "--nis", HERENT])
    assert taken.exit_code == 1 and "already in the police zone 5389 Herent/Kortenberg" in taken.output
    moved = runner.invoke(cli_module.cli, ["police-zone", "set", "5390", "--name", "X", "--nis", HERENT, "--move"])
    assert moved.exit_code == 0
    listed = runner.invoke(cli_module.cli, ["police-zone", "list"]).output.splitlines()
    assert listed == [f"5389    1  Herent/Kortenberg  ({KORTENBERG})", f"5390    1  X  ({HERENT})"]
    assert runner.invoke(cli_module.cli, ["police-zone", "remove", "5390"]).exit_code == 0
    again = runner.invoke(cli_module.cli, ["police-zone", "remove", "5390"])
    assert again.exit_code == 1 and "There is no police zone 5390 in the directory." in again.output
    assert list(directory(app)) == ["5389"]
    assert [e.actor for e in trail(app)] == ["cli"] * 3


# --- where the registry's zone would be -------------------------------------------------------


def test_the_registry_answers_from_the_directory_until_its_data_has_zones(app, monkeypatch):
    put_zone(app, "5389", "Herent/Kortenberg", HERENT, KORTENBERG)
    with app.app_context():
        assert registry.police_zone("5389") == registry.PoliceZone("5389", "Herent/Kortenberg", (HERENT, KORTENBERG))
        assert [zone.code for zone in registry.police_zones()] == ["5389"]
        assert registry.zone_of(HERENT) == "5389" and registry.zone_of(BERTEM) is None
        # The shipped data wins once it has zones.
        towns = dict(registry._municipalities())
        towns[HERENT] = dataclasses.replace(towns[HERENT], police_zone="5400")
        monkeypatch.setattr(registry, "_municipalities", lambda: towns)
        monkeypatch.setattr(registry, "_police_zones",
                            lambda: {"5400": registry.PoliceZone("5400", "From the data", (HERENT,))})
        assert registry.police_zone("5389") is None and registry.police_zone("5400").name == "From the data"
        assert registry.zone_of(HERENT) == "5400" and registry.zone_of(KORTENBERG) is None
        db.session.remove()


def test_onboarding_a_zonal_cell_with_the_zone_code_brings_its_municipalities(app, admin_client):
    put_zone(app, "5389", "Herent/Kortenberg", HERENT, KORTENBERG)
    form = {"kind": "police_zone", "name": "Zonale LIVC-R HerKo", "slug": "zone-herko", "nis_codes": [],
            "languages": ["nl"], "coordinator_email": "coordinator@herko.example.test"}
    page = admin_client.get("/admin/onboard", headers=EN).get_data(as_text=True)
    assert '<option value="5389">5389 Herent/Kortenberg</option>' in page
    done = post_form(admin_client, "/admin/onboard", {**form, "police_zone": "5389"}, headers=EN)
    assert done.status_code == 302, done.get_data(as_text=True)
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "zone-herko"))
        assert sorted(tenant.nis_codes) == [HERENT, KORTENBERG]
        db.session.remove()
    unknown = api(admin_client, "POST", "/admin/api/tenants", {**form, "slug": "zone-x", "police_zone": "5390"})
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"]["police_zone"] == [
        "This police zone is not in the registry: list its municipalities instead."]


def test_cells_whose_municipalities_share_a_zone_are_suggested_for_the_same_police_zone(app, demo_tenants):
    leuven_cell, herko_cell = ready_cell(app, demo_tenants[LEUVEN], LEUVEN), ready_cell(app, demo_tenants[HERKO], HERKO)
    coordinator = app.test_client()
    give_session(app, coordinator, herko_cell.coordinator)

    def suggestions() -> str:
        body = coordinator.get(f"/{HERKO}/federation", headers=EN).get_data(as_text=True)
        return body.split('class="federation-links suggestions"', 1)[1].split("<h2>", 1)[0]

    assert "same police zone" not in suggestions()
    put_zone(app, "5388", "Leuven", LEUVEN_NIS, HERENT)  # a zone of the test, not the real one
    shown = suggestions()
    assert "same police zone: 5388 Leuven" in shown and "DEMO LIVC-R Leuven" in shown
    assert shown.index("same police zone") < shown.index("same judicial canton")
    with app.app_context():
        from livc.federation.suggestions import WEIGHTS, ReasonKind, suggestions_for

        [found] = suggestions_for(herko_cell.tenant_id)
        assert found.reasons[0].kind == ReasonKind.POLICE_ZONE and found.reasons[0].pairs == ((HERENT, LEUVEN_NIS),)
        assert found.score == WEIGHTS[ReasonKind.POLICE_ZONE] + 3 + 1  # zone, same canton, same district
        db.session.remove()
    assert leuven_cell.tenant_id == found.tenant_id


def test_a_municipality_is_in_one_zone_at_most_in_the_database_too(app):
    put_zone(app, "5389", "Herent/Kortenberg", HERENT)
    with app.app_context():
        db.session.add(PoliceZone(code="5390", name="Other", updated_by="test"))
        db.session.flush()
        db.session.add(PoliceZoneMunicipality(nis_code=HERENT, zone_code="5390"))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
        db.session.rollback()
        db.session.remove()
