"""The console in words and its onboarding friction points (issue 16): trails say who did what in
the reader's language, times are formatted for the reader, an audit chain can be checked from
the console, municipalities are found by a search that keeps the form, a new cell's coordinator
lands on the set-up wizard, and reloading the recovery codes' page is no "sign-in took too long"."""

from __future__ import annotations

import html
import re
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pyotp
import pytest
import sqlalchemy as sa
from babel.dates import format_date, format_time

from admin_helpers import add_operator, give_operator_session, operator_csrf
from auth_helpers import PASSWORD, post_form
from livc.admin.operators import trail
from livc.admin.operators.models import OperatorAuditEntry, OperatorRole
from livc.admin.operators.operations import create_operator
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import OrganisationKind, Role
from livc.platform.tenancy import Tenant

EN = {"Accept-Language": "en"}
LEUVEN, HERENT = "24062", "24038"
SANKT_VITH, BUTGENBACH, EUPEN = "63067", "63013", "63023"
SOURCES = Path(__file__).resolve().parent.parent


def onboarding_form(**overrides) -> dict:
    form = {"kind": "municipality", "name": "LIVC-R Leuven", "slug": "leuven", "nis_codes": [LEUVEN],
            "languages": ["nl", "en"], "coordinator_email": "coordinator@leuven.example.test"}
    form.update(overrides)
    return form


@pytest.fixture
def administrator(app):
    return add_operator(app, OperatorRole.ADMINISTRATOR)


@pytest.fixture
def admin_client(app, administrator):
    client = app.test_client()
    give_operator_session(app, client, administrator)
    return client


def onboard(client, **overrides):
    return post_form(client, "/admin/onboard", onboarding_form(**overrides), headers=EN)


def visible(page: str) -> str:
    """The text a reader sees: tags and attributes left out."""
    body = page[page.index("<main"):page.index("</main>")]
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def mails(app) -> list:
    folder = Path(app.extensions["livc.settings"].data_dir) / "mail"
    return [message_from_bytes(path.read_bytes(), policy=email_policy.default) for path in sorted(folder.glob("*.eml"))]


def invitation_path(app, email: str) -> str:
    for mail in reversed(mails(app)):
        if mail["To"] == email:
            return re.search(r"http://[^/\s]+(/\S+/invitation/\S+)", mail.get_content()).group(1)
    raise AssertionError(f"no invitation to {email}")


def take_up(app, path: str, client=None):
    """Accept an invitation as a new account and enrol the authenticator: the recovery codes' page."""
    client = client or app.test_client()
    accepted = post_form(client, path, {"display_name": "New Member", "password": PASSWORD, "password_repeat": PASSWORD})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/sign-in/authenticator")
    enrol = accepted.headers["Location"]
    secret = re.search(r"data-totp-secret>([A-Z2-7]+)<", client.get(enrol).get_data(as_text=True)).group(1)
    codes = post_form(client, enrol, {"code": pyotp.TOTP(secret).now()}, headers=EN)
    assert codes.status_code == 200 and "Your recovery codes" in codes.get_data(as_text=True)
    return client, codes.get_data(as_text=True)


def ticked(page: str, name: str, value: str) -> bool | None:
    """Whether the page's checkbox ``name=value`` is ticked; None when the page has none."""
    for tag in re.findall(r"<input [^>]*>", page):
        if f'name="{name}"' in tag and f'value="{value}"' in tag and 'type="checkbox"' in tag:
            return " checked" in tag
    return None


def continue_link(page: str) -> str:
    return re.search(r'<a class="govuk-button" href="([^"]+)">', page).group(1)


# --- readable trails --------------------------------------------------------------------------


def test_the_operator_trail_says_who_did_what_in_words(app, admin_client, administrator):
    assert onboard(admin_client).status_code == 302
    assert onboard(admin_client, slug="admin", name="Typed").status_code == 422  # refused: fields named
    page = admin_client.get("/admin/actions", headers=EN).get_data(as_text=True)
    text = visible(page)
    assert "Test administrator (Administrator)" in text
    assert "Onboarded the cell and invited its first coordinator" in text
    assert re.search(r"A request was refused \(fields: [a-z_, ]*slug", text)
    assert "LIVC-R Leuven" in text  # the cell by its name
    assert f"operator:{administrator.id}" not in text and "tenant.onboarded" not in text and "request.refused" not in text

    tenant_page = visible(admin_client.get("/admin/tenants/leuven", headers=EN).get_data(as_text=True))
    assert "Test administrator (Administrator)" in tenant_page and "Onboarded the cell" in tenant_page


def test_the_cell_sees_the_operators_actions_by_name_and_role(app, admin_client):
    from auth_helpers import add_member, sign_in

    onboard(admin_client)
    with app.app_context():
        tenant_id = db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == "leuven"))
    coordinator = add_member(app, tenant_id, "leuven", Role.COORDINATOR, "second.coordinator@leuven.example.test")
    client = app.test_client()
    sign_in(client, coordinator)
    text = visible(client.get("/leuven/operator-actions", headers=EN).get_data(as_text=True))
    assert "Test administrator (Administrator)" in text
    assert "Created the cell" in text and "Onboarded the cell and invited its first coordinator" in text
    assert "operator:" not in text and "operator.tenant" not in text


def _recorded_action_names() -> set[str]:
    """Every action name passed to the console's recorders anywhere in the code (``record_action``
    and the console's wrappers of it)."""
    names = set()
    recorders = {folder: r"record_action" for folder in ("platform", "tenants", "federation")}
    recorders["admin"] = r"record_action|record_event|_refuse_failure"
    for folder, recorder in recorders.items():
        call = re.compile(rf"(?:{recorder})\((.{{0,300}})", re.DOTALL)
        for path in (SOURCES / folder).rglob("*.py"):
            for found in call.finditer(path.read_text(encoding="utf-8")):
                arguments = found.group(1).split("actor=")[0].split("def ")[0]
                names.update(re.findall(r'"([a-z_]+(?:\.[a-z_]+)+)"', arguments))
    return names


def test_every_action_the_console_records_has_words_and_others_read_as_words():
    recorded = _recorded_action_names()
    assert {"tenant.onboarded", "request.refused", "auth.sign_in_failed", "tenant.offboarding_step_done",
            "police_zone.replaced", "audit.chain_checked", "operator_trail.checked"} <= recorded
    assert sorted(recorded - set(trail.ACTION_LABELS)) == []
    assert trail.readable_name("tenant.some_new_thing") == "Tenant: some new thing"


def test_an_unknown_action_and_a_cli_actor_still_read_as_words(app):
    with app.test_request_context(headers=EN):
        names = trail.Names({}, {})
        assert trail.describe("federation.link_revoked", {}, None, names) == "Federation: link revoked"
        assert trail.describe("operator.tenant.suspended", {}, None, names) == "Suspended the cell"
        assert names.actor("cli") == "Command line on the server"
        assert names.actor("operator:99") == "Operator no. 99"


# --- timestamps -------------------------------------------------------------------------------


def shown(at, language: str) -> str:
    """A stored moment (naive UTC) as pages show it: the reader's date format, Belgian time."""
    local = at.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Europe/Brussels"))
    return f"{format_date(local.date(), 'medium', locale=language)} {format_time(local.time(), 'short', locale=language)}".replace("\u202f", " ")


@pytest.mark.parametrize("language", ["nl", "fr", "de"])
def test_times_are_written_in_the_readers_language(app, admin_client, language):
    onboard(admin_client)
    with app.app_context():
        at = db.session.scalar(sa.select(OperatorAuditEntry.at).where(OperatorAuditEntry.action == "tenant.onboarded"))
    page = visible(admin_client.get("/admin/actions", headers={"Accept-Language": language}).get_data(as_text=True))
    assert shown(at, language) in page
    assert not re.search(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}|\d{8}T\d{6}", page), "no machine timestamps"


def test_the_outbox_shows_when_a_mail_was_written_not_its_file_name(app, admin_client):
    app.config["LIVC_OUTBOX_PAGE"] = True
    folder = Path(app.extensions["livc.settings"].data_dir) / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "20261205T173700000000.eml").write_bytes(
        b"To: someone@example.test\r\nSubject: A test mail\r\nContent-Type: text/plain\r\n\r\nHello\r\n")
    listing = visible(admin_client.get("/admin/outbox", headers={"Accept-Language": "nl"}).get_data(as_text=True))
    assert "5 dec 2026 18:37" in listing and "20261205T173700" not in listing  # written 17:37 UTC
    mail = visible(admin_client.get("/admin/outbox/20261205T173700000000.eml", headers={"Accept-Language": "fr"})
                   .get_data(as_text=True))
    assert "5 déc. 2026 18:37" in mail


# --- checking an audit chain ------------------------------------------------------------------


def test_a_cells_audit_chain_is_checked_from_its_page_and_the_outcome_recorded(app, admin_client, administrator):
    onboard(admin_client)
    before = admin_client.get("/admin/tenants/leuven", headers=EN).get_data(as_text=True)
    assert 'data-chain="none"' in before and "Not checked yet" in before
    assert 'action="/admin/tenants/leuven/audit-check"' in before

    checked = post_form(admin_client, "/admin/tenants/leuven/audit-check", {}, form_path="/admin/tenants/leuven", headers=EN)
    assert checked.status_code == 302 and checked.headers["Location"].endswith("/admin/tenants/leuven#audit-trail")
    page = admin_client.get("/admin/tenants/leuven", headers=EN).get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.action == "audit.chain_checked"))
        tenant_id = db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == "leuven"))
        with tenant_context(tenant_id):
            entries = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
            in_cell = db.session.scalar(sa.select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(1))
    assert entry.actor == f"operator:{administrator.id}" and entry.tenant_slug == "leuven"
    assert entry.details == {"entries": entries - 1, "intact": True, "problems": []}
    assert in_cell == "operator.audit.chain_checked", "the cell's own trail says it was checked"
    assert 'data-chain="intact"' in page
    when = shown(entry.at, "en")
    assert f"{entries - 1} entries, checked on {when}" in visible(page)
    assert f"Checked the cell's audit trail: intact, {entries - 1} entries" in visible(page)
    health = admin_client.get("/admin/api/health").get_json()
    (leuven,) = [tenant for tenant in health["tenants"] if tenant["slug"] == "leuven"]
    assert leuven["chain"]["intact"] is True and leuven["chain"]["entries"] == entries - 1


def test_a_broken_chain_says_where_and_support_may_check_from_the_health_page(app, admin_client):
    onboard(admin_client)
    settings = app.extensions["livc.settings"]
    with app.app_context():
        tenant_id = db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == "leuven"))
    owner = sa.create_engine(settings.migration_url, poolclass=sa.pool.NullPool)  # tampering needs the owner's rights
    with owner.begin() as connection:
        if connection.dialect.name == "postgresql":  # row-level security binds the owner too
            connection.execute(sa.text("SELECT set_config('app.tenant_id', :tenant, true)"), {"tenant": str(tenant_id)})
        changed = connection.execute(sa.text("UPDATE audit_entries SET actor = 'someone' WHERE tenant_id = :tenant AND seq = 1"),
                                     {"tenant": tenant_id})
        assert changed.rowcount == 1
    owner.dispose()
    support = app.test_client()
    give_operator_session(app, support, add_operator(app, OperatorRole.SUPPORT))
    checked = post_form(support, "/admin/tenants/leuven/audit-check", {"back": "health"}, form_path="/admin/health", headers=EN)
    assert checked.status_code == 302 and checked.headers["Location"].endswith("/admin/health#chain-leuven")
    page = support.get("/admin/health", headers=EN).get_data(as_text=True)
    assert "The audit trail of LIVC-R Leuven is broken: entry 1 was changed." in page
    row = page[page.index('data-tenant="leuven"'):]
    row = row[:row.index("</tr>")]
    assert 'data-chain="broken"' in row and "entry 1 was changed" in row


def test_the_operator_trail_is_checked_with_a_button_and_the_check_recorded(app, admin_client):
    onboard(admin_client)
    assert "Not checked yet" in admin_client.get("/admin/actions", headers=EN).get_data(as_text=True)
    token = operator_csrf(admin_client)
    assert admin_client.post("/admin/actions/check", data={"csrf_token": token}, headers=EN).status_code == 302
    page = admin_client.get("/admin/actions", headers=EN).get_data(as_text=True)
    with app.app_context():
        entry = db.session.scalar(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.action == "operator_trail.checked"))
    assert entry.details["intact"] is True and entry.details["entries"] == entry.seq - 1
    assert "The operator trail is intact" in page and 'data-chain="intact"' in page
    assert f"Checked the operator trail: intact, {entry.seq - 1} entries" in visible(page)


# --- finding municipalities -------------------------------------------------------------------


def test_the_municipality_search_keeps_what_was_typed_and_finds_by_german_name(app, admin_client):
    typed = onboarding_form(name="LIVC-R Sankt Vith", slug="sankt-vith", nis_codes=[], languages=["fr"],
                            coordinator_email="coordinator@st-vith.example.test", coordinator_name="Typed Coordinator")
    found = post_form(admin_client, "/admin/onboard", {**typed, "municipality_search": "sankt vith", "find": "yes"},
                      headers=EN)
    page = found.get_data(as_text=True)
    assert found.status_code == 200
    assert 'value="LIVC-R Sankt Vith"' in page and 'value="sankt-vith"' in page
    assert 'value="coordinator@st-vith.example.test"' in page and 'value="Typed Coordinator"' in page
    assert 'value="sankt vith"' in page
    assert ticked(page, "nis_codes", SANKT_VITH) is False, "offered, not ticked"
    assert "Saint-Vith" in page and "German-speaking Community" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Tenant)) == 0, "a search creates nothing"

    # Ticked, then searched again: it stays chosen, and German is ticked among the languages.
    chosen = post_form(admin_client, "/admin/onboard", {**typed, "nis_codes": [SANKT_VITH], "known_codes": "",
                                                        "municipality_search": "butgenbach", "find": "yes"}, headers=EN)
    page = chosen.get_data(as_text=True)
    assert ticked(page, "nis_codes", SANKT_VITH) is True and ticked(page, "nis_codes", BUTGENBACH) is False
    assert ticked(page, "languages", "de") is True and ticked(page, "languages", "fr") is True
    assert "data-german-offered" in page

    # Unticked by the operator: not ticked again for a municipality already chosen.
    again = post_form(admin_client, "/admin/onboard", {**typed, "nis_codes": [SANKT_VITH], "known_codes": SANKT_VITH,
                                                       "find": "yes"}, headers=EN).get_data(as_text=True)
    assert ticked(again, "languages", "de") is False

    done = post_form(admin_client, "/admin/onboard", {**typed, "nis_codes": [SANKT_VITH], "languages": ["de", "fr"]})
    assert done.status_code == 302
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "sankt-vith"))
        assert tenant.nis_codes == [SANKT_VITH] and tenant.languages == ["de", "fr"]


def test_several_municipalities_are_found_at_once_by_dutch_french_name_or_code(app, admin_client):
    page = admin_client.get("/admin/onboard?municipality_search=Louvain, herent, 6302", headers=EN).get_data(as_text=True)
    for code in (LEUVEN, HERENT, EUPEN):
        assert ticked(page, "nis_codes", code) is False, code
    nothing = admin_client.get("/admin/onboard?municipality_search=Atlantis", headers=EN).get_data(as_text=True)
    assert "No municipality matches “Atlantis”." in nothing


def test_a_refused_onboarding_keeps_the_search_and_the_municipalities_chosen(app, admin_client):
    refused = onboard(admin_client, kind="intermunicipal", nis_codes=[LEUVEN], name="Typed intermunicipal cell",
                      municipality_search="herent", known_codes=LEUVEN)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="e-nis_codes"' in page
    assert "An intermunicipal cell covers at least two municipalities." in page
    assert 'value="Typed intermunicipal cell"' in page and 'value="herent"' in page
    assert ticked(page, "nis_codes", LEUVEN) is True and ticked(page, "nis_codes", HERENT) is False


# --- landing after the invitation -------------------------------------------------------------


def test_a_new_cells_coordinator_lands_on_the_set_up_wizard_and_a_partner_on_home(app, admin_client):
    from livc.tenants.members.models import Membership, Organisation
    from livc.tenants.members.operations import invite_member

    onboard(admin_client)
    client, codes = take_up(app, invitation_path(app, "coordinator@leuven.example.test"))
    assert continue_link(codes) == "/leuven/setup"
    wizard = client.get("/leuven/setup", headers=EN)
    assert wizard.status_code == 200 and "Set up LIVC-R Leuven" in wizard.get_data(as_text=True)

    with app.test_request_context(headers=EN):
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "leuven"))
        with tenant_context(tenant.id):
            from flask import g

            g.tenant = tenant
            coordinator = db.session.scalar(sa.select(Membership).where(Membership.role == Role.COORDINATOR))
            clb = Organisation(name="CLB", kind=OrganisationKind.CLB)
            db.session.add(clb)
            db.session.flush()
            invite_member(email="partner@leuven.example.test", role=Role.PARTNER, organisation_id=clb.id,
                          inviter=coordinator)
            db.session.commit()
    _partner, codes = take_up(app, invitation_path(app, "partner@leuven.example.test"))
    assert continue_link(codes) == "/leuven/home"


def test_a_coordinator_of_a_cell_already_set_up_lands_on_home(app, cells):
    from livc.platform.accounts import get_or_create_account
    from livc.tenants.members.models import Membership, Organisation
    from livc.tenants.members.operations import create_invitation

    with app.app_context(), tenant_context(cells["demo-leuven"]):  # the demo cell has no set-up to finish
        account = get_or_create_account("new.coordinator@example.test")
        organisation = Organisation(name="Prevention service", kind=OrganisationKind.MUNICIPAL_SERVICE)
        db.session.add(organisation)
        db.session.flush()
        membership = Membership(account_id=account.id, organisation_id=organisation.id, role=Role.COORDINATOR)
        db.session.add(membership)
        db.session.flush()
        token = create_invitation(membership, "test")
        db.session.commit()
    _client, codes = take_up(app, f"/demo-leuven/invitation/{token}")
    assert continue_link(codes) == "/demo-leuven/home"


def test_reloading_the_recovery_codes_page_signed_in_says_they_were_shown_once(app, admin_client):
    onboard(admin_client)
    client, _codes = take_up(app, invitation_path(app, "coordinator@leuven.example.test"))
    for reload in (client.get("/leuven/sign-in/authenticator", headers=EN),
                   post_form(client, "/leuven/sign-in/authenticator", {"code": "123456"},
                             form_path="/leuven/profile", headers=EN)):
        page = reload.get_data(as_text=True)
        assert reload.status_code == 200, reload.status_code
        assert "Your recovery codes were shown once" in page and 'href="/leuven/profile"' in page
        assert "took too long" not in page and "<code>" not in page
        assert continue_link(page) == "/leuven/setup"


def test_reloading_an_operators_recovery_codes_page_says_they_were_shown_once(app):
    with app.test_request_context():
        _operator, link = create_operator("new.operator@example.test", OperatorRole.SUPPORT, actor="cli")
        db.session.commit()
    client = app.test_client()
    post_form(client, link.split("localhost", 1)[-1], {"display_name": "New Operator", "password": PASSWORD,
                                                       "password_repeat": PASSWORD})
    secret = re.search(r"data-totp-secret>([A-Z2-7]+)<",
                       client.get("/admin/sign-in/authenticator").get_data(as_text=True)).group(1)
    assert post_form(client, "/admin/sign-in/authenticator", {"code": pyotp.TOTP(secret).now()}).status_code == 200
    reloaded = client.get("/admin/sign-in/authenticator", headers=EN)
    page = reloaded.get_data(as_text=True)
    assert reloaded.status_code == 200 and "Your recovery codes were shown once" in page
    assert "took too long" not in page and continue_link(page) == "/admin/"
