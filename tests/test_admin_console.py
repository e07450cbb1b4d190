"""The operator console: operators sign in with a mandatory second factor, onboard cells (and are
refused clearly on bad input), see onboarding progress and platform health as numbers, and
every action they take is visible in the operator trail and to the cell's coordinator."""

from __future__ import annotations

import re
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa

from admin_helpers import add_operator, give_operator_session, operator_csrf, sign_in_operator
from auth_helpers import PASSWORD, csrf_token, post_form, sign_in
from livc.admin.onboarding.models import TenantSetup
from livc.admin.operators.models import Operator, OperatorAuditEntry, OperatorRole, OperatorSession
from livc.admin.operators.operations import create_operator, verify_operator_trail
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.tenants.members.models import Invitation, Membership, MembershipStatus

EN = {"Accept-Language": "en"}
LEUVEN, HERENT, KORTENBERG = "24062", "24038", "24055"


def onboarding_form(**overrides) -> dict:
    form = {"kind": "municipality", "name": "LIVC-R Leuven", "slug": "leuven", "nis_codes": [LEUVEN],
            "languages": ["nl", "en"], "coordinator_email": "coordinator@leuven.example.test"}
    form.update(overrides)
    return form


def mails(app) -> list:
    folder = Path(app.extensions["livc.settings"].data_dir) / "mail"
    return [message_from_bytes(path.read_bytes(), policy=email_policy.default) for path in sorted(folder.glob("*.eml"))]


def tenant_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Tenant))


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


# --- the operator realm -----------------------------------------------------------------------


def test_a_new_operator_sets_a_password_then_must_enrol_an_authenticator_before_the_console(app):
    with app.test_request_context():
        _operator, link = create_operator("new.operator@example.test", OperatorRole.SUPPORT, actor="cli")
        db.session.commit()
    path = link.split("localhost", 1)[-1]
    client = app.test_client()
    assert client.get("/admin/", headers=EN).headers["Location"].startswith("/admin/sign-in")
    done = post_form(client, path, {"display_name": "New Operator", "password": "a long new passphrase",
                                    "password_repeat": "a long new passphrase"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/sign-in/authenticator")
    assert client.get("/admin/", headers=EN).status_code == 302, "no console before the second factor"
    page = client.get("/admin/sign-in/authenticator", headers=EN).get_data(as_text=True)
    secret = re.search(r"data-totp-secret>([A-Z2-7]+)<", page).group(1)
    wrong = post_form(client, "/admin/sign-in/authenticator", {"code": "000000"}, headers=EN)
    assert wrong.status_code == 422 and "This code does not match" in wrong.get_data(as_text=True)
    enrolled = post_form(client, "/admin/sign-in/authenticator", {"code": pyotp.TOTP(secret).now()}, headers=EN)
    assert enrolled.status_code == 200 and "Your recovery codes" in enrolled.get_data(as_text=True)
    home = client.get("/admin/", headers=EN)
    assert home.status_code == 200 and "Operator console" in home.get_data(as_text=True)
    # The link was single-use.
    assert client.get(path, headers=EN).status_code == 410


def test_an_operator_with_a_password_but_no_authenticator_is_made_to_enrol_at_sign_in(app):
    with app.app_context():
        operator = Operator(email="half@example.test", role=OperatorRole.SUPPORT)
        from livc.platform.accounts import set_password

        set_password(operator, PASSWORD)
        db.session.add(operator)
        db.session.commit()
    client = app.test_client()
    first = post_form(client, "/admin/sign-in", {"email": "half@example.test", "password": PASSWORD})
    assert first.status_code == 302 and first.headers["Location"].endswith("/admin/sign-in/authenticator")
    assert client.get("/admin/sign-in/verify").status_code == 302  # no way around the enrolment


def test_sign_in_takes_password_and_a_current_code_once(app, administrator):
    client = app.test_client()
    wrong = post_form(client, "/admin/sign-in", {"email": administrator.email, "password": "not the password"}, headers=EN)
    unknown = post_form(client, "/admin/sign-in", {"email": "nobody@example.test", "password": "not the password"}, headers=EN)
    assert wrong.status_code == unknown.status_code == 401
    message = "The e-mail address or password is wrong, or this account has no access to the console."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)

    first = post_form(client, "/admin/sign-in", {"email": administrator.email, "password": PASSWORD})
    assert first.headers["Location"].endswith("/admin/sign-in/verify")
    code = administrator.fresh_code()
    assert post_form(client, "/admin/sign-in/verify", {"code": code}).status_code == 302
    assert client.get("/admin/", headers=EN).status_code == 200

    other = app.test_client()
    post_form(other, "/admin/sign-in", {"email": administrator.email, "password": PASSWORD})
    replayed = post_form(other, "/admin/sign-in/verify", {"code": code}, headers=EN)
    assert replayed.status_code == 401 and "This code is not valid" in replayed.get_data(as_text=True)
    with app.app_context():
        actions = db.session.scalars(sa.select(OperatorAuditEntry.action).order_by(OperatorAuditEntry.seq)).all()
    assert actions.count("auth.sign_in_failed") == 2
    assert "auth.signed_in" in actions and "auth.second_factor_failed" in actions


def test_a_cell_members_password_does_not_open_the_console(app, coordinator):
    client = app.test_client()
    refused = post_form(client, "/admin/sign-in", {"email": coordinator.email, "password": coordinator.password})
    assert refused.status_code == 401


def test_sessions_end_when_idle_on_sign_out_and_when_the_operator_is_disabled(app, administrator):
    from datetime import timedelta

    client = app.test_client()
    sign_in_operator(client, administrator)
    assert client.get("/admin/").status_code == 200
    with app.app_context():
        row = db.session.scalar(sa.select(OperatorSession))
        row.last_seen_at -= timedelta(minutes=app.extensions["livc.settings"].session_idle_minutes + 1)
        db.session.commit()
    assert client.get("/admin/").status_code == 302, "idle time-out"

    sign_in_operator(client, administrator)
    token = csrf_token(client, "/admin/")
    assert client.post("/admin/sign-out", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin/").status_code == 302

    support = add_operator(app, OperatorRole.SUPPORT)
    support_client = app.test_client()
    give_operator_session(app, support_client, support)
    admin = app.test_client()
    give_operator_session(app, admin, administrator)
    assert post_form(admin, f"/admin/operators/{support.id}/disable", {}, form_path="/admin/operators").status_code == 302
    assert support_client.get("/admin/").status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(OperatorSession)
                                 .where(OperatorSession.operator_id == support.id)) == 0


def test_support_reads_but_may_not_onboard(app, cells):
    support = app.test_client()
    give_operator_session(app, support, add_operator(app, OperatorRole.SUPPORT))
    assert support.get("/admin/tenants").status_code == 200
    assert support.get("/admin/health").status_code == 200
    token = operator_csrf(support)
    refused = support.post("/admin/onboard", data={**onboarding_form(), "csrf_token": token})
    assert refused.status_code == 403
    assert tenant_count(app) == 2
    with app.app_context():
        entry = db.session.scalars(sa.select(OperatorAuditEntry).order_by(OperatorAuditEntry.seq.desc())).first()
    assert entry.action == "access.denied" and entry.details["action"] == "operator.onboarding.manage"


# --- onboarding -------------------------------------------------------------------------------


def test_onboarding_creates_the_cell_and_mails_a_single_use_invitation_naming_the_cell_only(app, admin_client, administrator):
    done = onboard(admin_client, coordinator_name="Coralie Coordinator")
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/tenants/leuven")
    page = admin_client.get("/admin/tenants/leuven", headers=EN).get_data(as_text=True)
    assert "Leuven (24062)" in page and 'data-step="invited" data-done="yes"' in page
    assert 'data-step="accepted" data-done="no"' in page

    (mail,) = mails(app)
    assert mail["To"] == "coordinator@leuven.example.test"
    body = mail.get_content()
    assert "LIVC-R Leuven" in body and "Coralie" not in body
    link = re.search(r"http://\S+/leuven/invitation/\S+", body).group(0)
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "leuven"))
        assert tenant.nis_codes == [LEUVEN] and tenant.languages == ["nl", "en"]
        with tenant_context(tenant.id):
            membership = db.session.scalar(sa.select(Membership))
            assert membership.role == Role.COORDINATOR and membership.status == MembershipStatus.INVITED
            assert db.session.scalar(sa.select(Invitation)).created_by == f"operator:{administrator.id}"

    # The coordinator takes the link up once.
    invitation_path = link.split("localhost", 1)[-1]
    coordinator = app.test_client()
    accepted = post_form(coordinator, invitation_path, {"display_name": "Coralie", "password": "a long new passphrase",
                                                        "password_repeat": "a long new passphrase"})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/sign-in/authenticator")
    assert app.test_client().get(invitation_path).status_code == 410


@pytest.mark.parametrize("overrides, field, message", [
    ({"slug": "admin"}, "slug", "This address is reserved or too short."),
    ({"nis_codes": ["99999"]}, "nis_codes", "99999 is not the NIS code of a Belgian municipality (2025 registry)."),
    ({"nis_codes": [LEUVEN, HERENT]}, "nis_codes", "A municipal cell covers exactly one municipality."),
    ({"kind": "intermunicipal"}, "nis_codes", "An intermunicipal cell covers at least two municipalities."),
    ({"nis_codes": []}, "nis_codes", "Choose the municipalities the cell covers."),
    ({"coordinator_email": "not an address"}, "coordinator_email", "Enter a valid e-mail address."),
    ({"invitation_language": "fr"}, "invitation_language", "Choose one of the cell's working languages."),
    ({"sso_issuer": "https://login.example.test/v2.0"}, "sso_issuer",
     "Give the provider's issuer, client id, client secret and button label, or none of them."),
])
def test_bad_onboarding_input_is_refused_field_by_field_keeping_what_was_typed(app, admin_client, overrides, field, message):
    refused = onboard(admin_client, name="Typed name of the cell", **overrides)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert message.replace("'", "&#39;") in page
    assert 'value="Typed name of the cell"' in page
    assert f'id="e-{field}"' in page
    assert tenant_count(app) == 0 and mails(app) == []


def test_a_duplicate_slug_is_refused_and_nothing_is_half_done(app, admin_client, cells):
    refused = onboard(admin_client, slug="demo-leuven", nis_codes=["24059"])
    assert refused.status_code == 422 and "This address is already taken." in refused.get_data(as_text=True)
    assert tenant_count(app) == 2 and mails(app) == []


def test_an_unreachable_sso_provider_refuses_the_whole_onboarding(app, admin_client):
    refused = onboard(admin_client, sso_issuer="https://127.0.0.1:9/", sso_client_id="livc", sso_client_secret="s3cret",
                      sso_label="Entra ID")
    assert refused.status_code == 422 and 'id="e-sso_issuer"' in refused.get_data(as_text=True)
    assert "s3cret" not in refused.get_data(as_text=True)
    assert tenant_count(app) == 0 and mails(app) == []


def test_a_municipality_of_another_active_cell_is_refused_for_a_municipal_cell(app, admin_client, cells):
    refused = onboard(admin_client, slug="leuven-bis", nis_codes=[LEUVEN])
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Leuven is already covered by the cell DEMO LIVC-R Leuven (demo-leuven)." in page
    assert tenant_count(app) == 2


def test_an_intermunicipal_overlap_needs_an_explicit_confirmation_and_is_recorded(app, admin_client, cells):
    form = {"kind": "intermunicipal", "slug": "herent-kortenberg-leuven", "name": "Intergemeentelijke LIVC-R",
            "nis_codes": [LEUVEN, HERENT, KORTENBERG]}
    warned = onboard(admin_client, **form)
    page = warned.get_data(as_text=True)
    assert warned.status_code == 422 and 'id="e-confirm_overlap"' in page
    assert "Leuven is already covered by the cell DEMO LIVC-R Leuven (demo-leuven)." in page
    assert "Herent is already covered by the cell DEMO zonale LIVC-R politiezone Herent-Kortenberg (demo-herko)." in page
    assert tenant_count(app) == 2

    confirmed = onboard(admin_client, confirm_overlap="yes", **form)
    assert confirmed.status_code == 302
    with app.app_context():
        entry = db.session.scalar(sa.select(OperatorAuditEntry).where(OperatorAuditEntry.action == "tenant.onboarded"))
    assert entry.details["overlaps_confirmed"] == ["demo-herko", "demo-leuven"]


def test_the_api_onboards_and_answers_422_with_the_fields(app, admin_client, cells):
    token = operator_csrf(admin_client)
    headers = {"X-CSRFToken": token, **EN}
    bad = admin_client.post("/admin/api/tenants", json={**onboarding_form(), "slug": "Bad Slug!", "nis_codes": ["12"]},
                            headers=headers)
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert set(fields) >= {"nis_codes"}
    overlap = admin_client.post("/admin/api/tenants", json=onboarding_form(slug="leuven2"), headers=headers)
    assert overlap.status_code == 422 and "nis_codes" in overlap.get_json()["error"]["fields"]
    created = admin_client.post("/admin/api/tenants", json=onboarding_form(slug="bertem", name="LIVC-R Bertem",
                                                                           nis_codes=["24009"]), headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["tenant"]["municipalities"] == [{"nis_code": "24009", "name": "Bertem"}]
    assert [step["key"] for step in body["tenant"]["progress"] if step["done"]] == ["onboarded", "invited"]
    listed = admin_client.get("/admin/api/tenants").get_json()["tenants"]
    assert {tenant["slug"] for tenant in listed} == {"demo-leuven", "demo-herko", "bertem"}
    resent = admin_client.post("/admin/api/tenants/bertem/invitation", json={}, headers=headers)
    assert resent.status_code == 200 and len(mails(app)) == 2
    missing = admin_client.post("/admin/api/tenants/nowhere/invitation", json={}, headers=headers)
    assert missing.status_code == 404


def test_a_cell_member_cannot_use_the_console_api(app, coordinator):
    from auth_helpers import give_session

    client = app.test_client()
    give_session(app, client, coordinator)
    assert client.get("/admin/api/tenants").status_code == 401


# --- the coordinator's set-up wizard and the operator's view of it --------------------------


def test_the_wizard_steps_follow_the_cells_data_and_the_operator_sees_only_dates(app, admin_client):
    from auth_helpers import Member

    onboard(admin_client)
    body = mails(app)[0].get_content()
    path = re.search(r"http://\S+(/leuven/invitation/\S+)", body).group(1)
    client = app.test_client()
    post_form(client, path, {"display_name": "Coralie", "password": PASSWORD, "password_repeat": PASSWORD})
    page = client.get("/leuven/sign-in/authenticator").get_data(as_text=True)
    secret = re.search(r"data-totp-secret>([A-Z2-7]+)<", page).group(1)
    assert post_form(client, "/leuven/sign-in/authenticator", {"code": pyotp.TOTP(secret).now()}).status_code == 200
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "leuven"))
        with tenant_context(tenant.id):
            coordinator = db.session.scalar(sa.select(Membership))
            member = Member("coordinator@leuven.example.test", PASSWORD, secret, "leuven", tenant.id,
                            coordinator.account_id, coordinator.id, Role.COORDINATOR, codes_used=1)

    wizard = client.get("/leuven/setup", headers=EN)
    assert wizard.status_code == 200
    text = wizard.get_data(as_text=True)
    assert text.count('data-done="no"') == 4 and "/leuven/organisation/profile" in text
    early = post_form(client, "/leuven/setup/finish", {}, form_path="/leuven/setup", headers=EN)
    assert early.status_code == 422 and "Some steps are not done yet" in early.get_data(as_text=True)

    _set_up_the_cell(app, tenant.id, member)
    text = client.get("/leuven/setup", headers=EN).get_data(as_text=True)
    assert text.count('data-done="yes"') == 4
    assert post_form(client, "/leuven/setup/finish", {}, form_path="/leuven/setup").status_code == 302
    assert 'data-setup="finished"' in client.get("/leuven/setup").get_data(as_text=True)

    progress = admin_client.get("/admin/api/tenants/leuven").get_json()["tenant"]["progress"]
    assert all(step["done"] for step in progress)
    assert all(set(step) == {"key", "done", "at"} for step in progress)
    operator_page = admin_client.get("/admin/tenants/leuven", headers=EN).get_data(as_text=True)
    assert "Operational table of Leuven" not in operator_page and "Published rules text" not in operator_page


def _set_up_the_cell(app, tenant_id, coordinator):
    from livc.platform.roles import OrganisationKind
    from livc.tenants.cell.models import CellForm, TableKind
    from livc.tenants.cell.operations import change_profile, create_table
    from livc.tenants.house_rules.models import LegalBasis
    from livc.tenants.house_rules.operations import publish_draft, update_draft
    from livc.tenants.members.models import Organisation

    with app.test_request_context(headers=EN), tenant_context(tenant_id):
        from flask import g

        g.tenant = db.session.get(Tenant, tenant_id)
        membership = db.session.get(Membership, coordinator.membership_id)
        change_profile({"form": CellForm.INTEGRATED})
        create_table(kind=TableKind.MAIN, name="Operational table of Leuven", chair_membership_id=membership.id)
        organisation = Organisation(name="CLB", kind=OrganisationKind.CLB)
        db.session.add(organisation)
        db.session.flush()
        from livc.tenants.members.operations import invite_member

        invite_member(email="partner@leuven.example.test", role=Role.PARTNER, organisation_id=organisation.id,
                      inviter=membership)
        update_draft({"legal_basis": LegalBasis.LAW_2018, "general": "Published rules text"}, membership)
        publish_draft(membership)
        db.session.commit()


# --- health -----------------------------------------------------------------------------------


def test_health_counts_members_and_cases_per_tenant_as_numbers(app, admin_client, cells, coordinator, partner):

    _add_cases(app, cells["demo-leuven"], 3)
    from livc.platform.audit import verify_tenant_chain

    with app.app_context(), tenant_context(cells["demo-herko"]):
        verify_tenant_chain()
        db.session.commit()
    health = admin_client.get("/admin/api/health").get_json()
    assert health["database"] == "ok"
    assert health["tenants_by_status"] == {"active": 2, "suspended": 0, "offboarded": 0}
    by_slug = {tenant["slug"]: tenant for tenant in health["tenants"]}
    assert by_slug["demo-leuven"]["members"] == 2 and by_slug["demo-leuven"]["cases"] == 3
    assert by_slug["demo-herko"]["members"] == 0 and by_slug["demo-herko"]["cases"] == 0
    assert by_slug["demo-leuven"]["chain"]["intact"] is None
    assert by_slug["demo-herko"]["chain"]["intact"] is True and by_slug["demo-herko"]["chain"]["verified_at"]
    assert health["jobs"]["inline"] is True
    assert health["custodian"]["reachable"] is True and health["custodian"]["current_epoch"] >= 1
    page = admin_client.get("/admin/health", headers=EN).get_data(as_text=True)
    assert re.search(r'data-tenant="demo-leuven">.*?data-count="cases">3<', page, re.DOTALL)


def _add_cases(app, tenant_id: int, count: int) -> None:
    from datetime import date, timedelta

    from livc.tenants.cases.models import Case
    from livc.tenants.signals.models import FlagLevel, FollowUpKind, TargetGroup

    with app.app_context(), tenant_context(tenant_id):
        for number in range(count):
            db.session.add(Case(code=f"LEU-2026-{number + 500}", target_group=TargetGroup.OTHER_EXTREMISM,
                                follow_up_kind=FollowUpKind.SOCIAL, flag=FlagLevel.YELLOW,
                                next_review_on=date.today() + timedelta(days=30)))
        db.session.commit()


@pytest.mark.redis
def test_failed_jobs_are_listed_and_retried_from_the_console(tmp_path, redis_url, sqlite_template):
    import shutil

    from job_tasks import always_fails

    from conftest import make_app
    from livc.platform.jobs import enqueue, queue

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(sqlite_template, data / "livc.sqlite")
    app = make_app(tmp_path, redis_url=redis_url)
    support = add_operator(app, OperatorRole.SUPPORT)
    client = app.test_client()
    give_operator_session(app, client, support)
    with app.app_context():
        job_id = enqueue(always_fails, tenant_id=None).job_id
        job = queue("default").fetch_job(job_id)
        job.meta["error"] = "RuntimeError"  # as livc.platform.jobs.execute notes it
        job.save_meta()
        queue("default").failed_job_registry.add(job, exc_string="RuntimeError: with a secret message")
    health = client.get("/admin/api/health").get_json()
    (failed,) = health["jobs"]["failed"]
    assert failed["id"] == job_id and failed["error"] == "RuntimeError"
    assert "secret message" not in client.get("/admin/health").get_data(as_text=True)
    retried = client.post("/admin/api/jobs/retry", json={"job_ids": [job_id]}, headers={"X-CSRFToken": operator_csrf(client)})
    assert retried.get_json() == {"retried": [job_id]}
    assert client.get("/admin/api/health").get_json()["jobs"]["failed"] == []


# --- the development outbox -------------------------------------------------------------------


def test_the_outbox_exists_in_development_only(app, admin_client):
    onboard(admin_client)
    assert admin_client.get("/admin/outbox").status_code == 404, "not in test, unless a test enables it"
    app.config["LIVC_OUTBOX_PAGE"] = True
    listing = admin_client.get("/admin/outbox", headers=EN)
    assert listing.status_code == 200 and "coordinator@leuven.example.test" in listing.get_data(as_text=True)
    name = re.search(r"/admin/outbox/(\d{8}T\d{12}\.eml)", listing.get_data(as_text=True)).group(1)
    mail = admin_client.get(f"/admin/outbox/{name}", headers=EN).get_data(as_text=True)
    assert "/leuven/invitation/" in mail
    assert admin_client.get("/admin/outbox/..%2Fsecret_key").status_code == 404
    settings = app.extensions["livc.settings"]
    app.extensions["livc.settings"] = settings.model_copy(update={"env": "production"})
    try:
        assert admin_client.get("/admin/outbox").status_code == 404, "never in production"
    finally:
        app.extensions["livc.settings"] = settings
    app.config["LIVC_OUTBOX_PAGE"] = False
    app.extensions["livc.settings"] = settings.model_copy(update={"env": "development"})
    try:
        assert admin_client.get("/admin/outbox").status_code == 200, "the embedded default shows it"
        anonymous = app.test_client().get("/admin/outbox")
        assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/admin/sign-in")
    finally:
        app.extensions["livc.settings"] = settings


# --- transparency -----------------------------------------------------------------------------


def test_operator_actions_are_in_both_trails_and_the_coordinator_sees_them(app, admin_client, administrator):
    onboard(admin_client)
    token = operator_csrf(admin_client)
    assert admin_client.post("/admin/tenants/leuven/invitation", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        tenant = db.session.scalar(sa.select(Tenant).where(Tenant.slug == "leuven"))
        with tenant_context(tenant.id):
            cell_trail = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.actor == f"operator:{administrator.id}")
                                            .order_by(AuditEntry.seq)).all()
        assert [entry.action for entry in cell_trail] == [
            "tenant.created", "operator.tenant.onboarded", "operator.tenant.invitation_resent"]
        assert verify_operator_trail() == []

    from auth_helpers import add_member

    coordinator = add_member(app, tenant.id, "leuven", Role.COORDINATOR, "second.coordinator@leuven.example.test")
    client = app.test_client()
    sign_in(client, coordinator)
    page = client.get("/leuven/operator-actions", headers=EN).get_data(as_text=True)
    assert "Test administrator" in page
    assert "Onboarded the cell and invited its first coordinator" in page
    assert "invitation again" in page, page[page.find("<table"):]


def test_tampering_with_the_operator_trail_is_found(app, admin_client, monkeypatch):
    onboard(admin_client)
    settings = app.extensions["livc.settings"]
    if settings.sqlalchemy_url.startswith("postgresql"):
        with app.app_context(), pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
            db.session.execute(sa.text("UPDATE operator_audit_entries SET actor = 'operator:999' WHERE seq = 1"))
    owner = sa.create_engine(settings.migration_url, poolclass=sa.pool.NullPool)  # tampering needs the owner's rights
    with owner.begin() as connection:
        connection.execute(sa.text("UPDATE operator_audit_entries SET actor = 'operator:999' WHERE seq = 1"))
    owner.dispose()
    with app.app_context():
        assert verify_operator_trail() == ["entry 1 was changed"]
    assert "The trail was tampered with" in admin_client.get("/admin/actions", headers=EN).get_data(as_text=True)
    from click.testing import CliRunner

    from livc.app import cli as cli_module

    monkeypatch.setattr("livc.app.cli.create_app", lambda config=None: app)
    checked = CliRunner().invoke(cli_module.cli, ["operator", "verify-trail"])
    assert checked.exit_code == 1 and "TAMPERED  operator trail: entry 1 was changed" in checked.output


# --- the commands -----------------------------------------------------------------------------


def test_the_commands_onboard_and_refuse_in_one_line(app, cells, monkeypatch):
    from click.testing import CliRunner

    from livc.app import cli as cli_module

    monkeypatch.setattr("livc.app.cli.create_app", lambda config=None: app)
    runner = CliRunner()
    created = runner.invoke(cli_module.cli, ["operator", "create", "ops@example.test", "--role", "administrator"])
    assert created.exit_code == 0 and "/admin/set-up/" in created.output
    again = runner.invoke(cli_module.cli, ["operator", "create", "ops@example.test", "--role", "support"])
    assert again.exit_code == 1 and "exists already" in again.output

    refused = runner.invoke(cli_module.cli, ["tenant", "create", "--slug", "leuven2", "--name", "LIVC-R Leuven",
                                             "--kind", "municipality", "--nis", LEUVEN, "--coordinator", "c@example.test"])
    assert refused.exit_code == 1
    assert refused.output.strip().count("\n") == 0 and "already covered by the cell DEMO LIVC-R Leuven" in refused.output
    done = runner.invoke(cli_module.cli, ["tenant", "create", "--slug", "bertem", "--name", "LIVC-R Bertem",
                                          "--kind", "municipality", "--nis", "24009", "--coordinator", "c@example.test"])
    assert done.exit_code == 0, done.output
    assert "onboarded bertem: invitation mailed to c@example.test" in done.output
    assert len(mails(app)) == 1
    listed = runner.invoke(cli_module.cli, ["tenant", "list"])
    assert "bertem" in listed.output and "set-up 2/8" in listed.output
    resent = runner.invoke(cli_module.cli, ["tenant", "invite", "bertem"])
    assert resent.exit_code == 0 and len(mails(app)) == 2
    disabled = runner.invoke(cli_module.cli, ["operator", "disable", "ops@example.test"])
    assert disabled.exit_code == 1 and "at least one administrator" in disabled.output
    with app.app_context():
        bertem = db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == "bertem"))
        with tenant_context(bertem):
            assert db.session.get(TenantSetup, bertem).onboarded_by == "cli"


def test_a_change_without_a_csrf_token_is_refused_and_recorded(app, admin_client):
    refused = admin_client.post("/admin/onboard", data=onboarding_form(), headers=EN)
    assert refused.status_code == 400
    api = admin_client.post("/admin/api/tenants", json=onboarding_form())
    assert api.status_code == 400
    assert tenant_count(app) == 0
    with app.app_context():
        actions = db.session.scalars(sa.select(OperatorAuditEntry.action)).all()
    assert actions.count("access.csrf_refused") == 2


def test_refused_onboarding_input_is_recorded_by_field_names_only(app, admin_client, administrator):
    assert onboard(admin_client, slug="admin", coordinator_name="Secret Typed Name").status_code == 422
    with app.app_context():
        entry = db.session.scalars(sa.select(OperatorAuditEntry).order_by(OperatorAuditEntry.seq.desc())).first()
    assert entry.action == "request.refused" and entry.actor == f"operator:{administrator.id}"
    assert entry.details["status"] == 422 and "slug" in entry.details["fields"]
    assert "Secret Typed Name" not in str(entry.details)


def test_a_zonal_cell_takes_its_municipalities_from_the_registry_or_lists_them(app, admin_client, monkeypatch):
    from livc.platform import registry

    zone = registry.PoliceZone("5389", "Test zone", ("24011", "24094"))
    monkeypatch.setattr(registry, "police_zone", lambda code: zone if code == "5389" else None)
    token = operator_csrf(admin_client)
    headers = {"X-CSRFToken": token, **EN}
    form = onboarding_form(kind="police_zone", slug="zone-5389", name="Zonale LIVC-R", nis_codes=[])
    known = admin_client.post("/admin/api/tenants", json={**form, "police_zone": "5389"}, headers=headers)
    assert known.status_code == 201, known.get_json()
    assert [m["nis_code"] for m in known.get_json()["tenant"]["municipalities"]] == ["24011", "24094"]
    unknown = admin_client.post("/admin/api/tenants", json={**form, "slug": "zone-x", "police_zone": "9999"},
                                headers=headers)
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["fields"]["police_zone"] == [
        "This police zone is not in the registry: list its municipalities instead."]
    listed = admin_client.post("/admin/api/tenants", json={**form, "slug": "zone-y", "police_zone": "9999",
                                                           "nis_codes": ["24033", "24043"]}, headers=headers)
    assert listed.status_code == 201
