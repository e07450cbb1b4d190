"""The application shell a member and a visitor see on every page: the start page that finds a
cell, the menu by role, the header, breadcrumbs, skip link, footer pages, error pages leading
back into the cell, the cell's colour, German, and error summaries that link to their fields."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from auth_helpers import add_member, post_form, sign_in
from livc.platform.db import db
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant, TenantMunicipality

EN = {"Accept-Language": "en"}


def _menu(page: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main menu".*?</nav>', page, re.S)
    assert nav, "the page has no main menu"
    return [re.sub(r"<[^>]+>", "", text).strip() for text in re.findall(r'class="govuk-service-navigation__link"[^>]*>(.*?)</a>', nav.group(0), re.S)]


def test_the_start_page_finds_a_cell_by_a_municipality_in_any_language(client, demo_tenants):
    empty = client.get("/", headers=EN).get_data(as_text=True)
    assert "Find your cell" in empty and "demo-leuven" not in empty  # nothing is listed unasked
    for query in ("Louvain", "leuven", "KORTENBERG"):
        page = client.get(f"/?q={query}", headers=EN).get_data(as_text=True)
        slug = "demo-herko" if query == "KORTENBERG" else "demo-leuven"
        assert f'href="/{slug}/sign-in"' in page, query
    page = client.get("/?q=Nowhere-on-the-map", headers=EN).get_data(as_text=True)
    assert "No cell on this platform covers a municipality by that name" in page
    assert 'value="Nowhere-on-the-map"' in page  # what was typed stays


def test_the_footer_pages_exist_in_every_language(client, demo_tenants):
    for language, statement in (("en", "EN 301 549"), ("nl", "Toegankelijkheidsverklaring"),
                                ("fr", "Déclaration d'accessibilité"), ("de", "Erklärung zur Barrierefreiheit")):
        page = client.get("/accessibility", headers={"Accept-Language": language}).get_data(as_text=True)
        assert statement in page.replace("&#39;", "'"), language
        assert client.get("/privacy", headers={"Accept-Language": language}).status_code == 200
    page = client.get("/demo-leuven/", headers=EN).get_data(as_text=True)
    assert 'href="/accessibility"' in page and 'href="/privacy"' in page


def test_every_page_has_a_skip_link_to_the_main_content(client, demo_tenants):
    page = client.get("/demo-leuven/", headers=EN).get_data(as_text=True)
    assert re.search(r'<a href="#main-content" class="govuk-skip-link"[^>]*>\s*Skip to main content', page)
    assert '<main class="govuk-main-wrapper livc-content" id="main-content">' in page


def test_the_menu_follows_the_role_and_marks_where_you_are(app, client, cells):
    coordinator = add_member(app, cells["demo-leuven"], "demo-leuven", Role.COORDINATOR)
    sign_in(client, coordinator)
    home = client.get("/demo-leuven/home", headers=EN).get_data(as_text=True)
    assert _menu(home) == ["Home", "Signals", "Cases", "Meetings", "Decisions", "Policy", "Figures", "The cell", "Members"]
    assert 'aria-current="page"' in home
    cases = client.get("/demo-leuven/cases", headers=EN).get_data(as_text=True)
    current = re.search(r'<a class="govuk-service-navigation__link" href="([^"]+)" aria-current="page"', cases)
    assert current and current.group(1) == "/demo-leuven/cases"
    # the header names the platform and the cell, and leads home within the cell
    assert 'class="govuk-generic-header__homepage-link">livc' in cases and "DEMO LIVC-R Leuven" in cases
    assert 'href="/demo-leuven/home" class="govuk-generic-header__homepage-link"' in cases
    # breadcrumbs lead back home
    assert re.search(r'govuk-breadcrumbs.*?href="/demo-leuven/home"', cases, re.S)


def test_a_guest_expert_gets_a_short_menu(app, client, cells):
    guest = add_member(app, cells["demo-leuven"], "demo-leuven", Role.GUEST_EXPERT)
    sign_in(client, guest)
    menu = _menu(client.get("/demo-leuven/home", headers=EN).get_data(as_text=True))
    assert menu[0] == "Home" and "Members" not in menu and "The cell" not in menu and "Decisions" not in menu


def test_a_missing_page_in_a_cell_leads_back_into_the_cell(app, client, cells):
    visitor = client.get("/demo-leuven/no-such-page", headers=EN)
    assert visitor.status_code == 404
    assert 'href="/demo-leuven/"' in visitor.get_data(as_text=True)  # the cell's own page, not "/"
    coordinator = add_member(app, cells["demo-leuven"], "demo-leuven", Role.COORDINATOR)
    sign_in(client, coordinator)
    page = client.get("/demo-leuven/no-such-page", headers=EN).get_data(as_text=True)
    assert "Back to the home page of DEMO LIVC-R Leuven" in page and 'href="/demo-leuven/home"' in page
    assert "Main menu" in page  # the menu stays, so the member is never stranded


def test_the_cell_shows_its_own_colour(app, client, cells):
    page = client.get("/demo-leuven/", headers=EN).get_data(as_text=True)
    assert "/demo-leuven/theme.css" not in page  # the platform's colours until the cell picks one
    with app.app_context():
        db.session.execute(sa.update(Tenant).where(Tenant.slug == "demo-leuven").values(colour="#00703c"))
        db.session.commit()
    page = client.get("/demo-leuven/", headers=EN).get_data(as_text=True)
    assert '<link rel="stylesheet" href="/demo-leuven/theme.css">' in page
    theme = client.get("/demo-leuven/theme.css")
    assert theme.mimetype == "text/css" and "--livc-cell-colour: #00703c;" in theme.get_data(as_text=True)
    assert "#00703c" not in client.get("/demo-herko/theme.css").get_data(as_text=True)


def test_german_for_a_cell_of_the_german_speaking_community(app, client, cells):
    with app.app_context():
        tenant = db.session.get(Tenant, cells["demo-herko"])
        tenant.languages = ["de", "fr"]
        tenant.municipalities.append(TenantMunicipality(nis_code="63067", name="Saint-Vith"))
        db.session.commit()
    page = client.get("/demo-herko/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="de">' in page
    assert "Zum Inhalt springen" in page and "Erklärung zur Barrierefreiheit" in page
    finder = client.get("/?q=Sankt%20Vith", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Sankt Vith" in finder and 'href="/demo-herko/sign-in"' in finder  # the registry's German name
    french = client.get("/?q=Sankt%20Vith", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Saint-Vith" in french


def test_an_error_summary_links_to_each_field_and_keeps_what_was_typed(app, client, cells):
    coordinator = add_member(app, cells["demo-leuven"], "demo-leuven", Role.COORDINATOR)
    sign_in(client, coordinator)
    response = post_form(client, "/demo-leuven/members/invite", {"email": "not-an-address", "role": "partner"}, headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is a problem" in page and 'href="#f-email"' in page and 'id="f-email"' in page
    assert 'value="not-an-address"' in page


@pytest.mark.parametrize("language", ["nl", "fr", "de", "en"])
def test_the_language_menu_offers_german(client, demo_tenants, language):
    page = client.get("/", headers={"Accept-Language": language}).get_data(as_text=True)
    assert 'hreflang="de"' in page or 'lang="de" aria-current="true"' in page


def test_the_coordinator_chooses_the_cells_colour_and_a_too_light_one_is_refused(app, client, cells):
    coordinator = add_member(app, cells["demo-leuven"], "demo-leuven", Role.COORDINATOR)
    sign_in(client, coordinator)
    refused = post_form(client, "/demo-leuven/organisation/colour", {"colour": "#ffee00"}, headers=EN)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Choose a darker colour" in page and 'value="#ffee00"' in page
    saved = post_form(client, "/demo-leuven/organisation/colour", {"colour": "#8A1C7C"}, headers=EN)
    assert saved.status_code == 302
    assert "--livc-cell-colour: #8a1c7c;" in client.get("/demo-leuven/theme.css").get_data(as_text=True)
    assert "/demo-leuven/theme.css" in client.get("/demo-leuven/home", headers=EN).get_data(as_text=True)
    post_form(client, "/demo-leuven/organisation/colour", {"colour": "#8a1c7c", "reset": "1"}, headers=EN)
    assert "/demo-leuven/theme.css" not in client.get("/demo-leuven/home", headers=EN).get_data(as_text=True)


def test_a_partner_cannot_change_the_cells_colour(app, client, cells):
    partner = add_member(app, cells["demo-leuven"], "demo-leuven", Role.PARTNER)
    sign_in(client, partner)
    assert client.get("/demo-leuven/organisation/colour").status_code == 403
