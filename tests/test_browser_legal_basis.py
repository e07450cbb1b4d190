"""The legal basis before case work, in a real browser (issue 18; seed 002, article 458ter).

A new cell (Bertem) has its fixed participants, its form and its main table, and a partner
reported an urgent signal, but it has no house rules yet. Its coordinator is stopped at the
weighing: the page says why and links to the house rules. They publish house rules resting on
the law of 30 July 2018, accept them, and open a case on the urgent signal.

The app runs as ``livc demo`` in a subprocess of its own (this test writes data); the new cell
is put into its database beforehand by a script in the same settings.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pyotp
import pytest

from browser_support import REPO, browser, clean_env, open_page, start_demo  # noqa: F401

pytestmark = pytest.mark.browser

SLUG = "bertem"
CELL = f"/{SLUG}"
SEED_002 = "article 458ter of the Criminal Code, seed 002"

# Run with the server's settings: the new cell, its members (password and authenticator), its
# form, its main table and an urgent signal; no house rules. Prints what the test signs in with.
PREPARE = r'''
import json
from datetime import date, timedelta

from livc.admin.onboarding.cells import create_tenant
from livc.app.factory import create_app
from livc.platform import migrating
from livc.platform.accounts import get_or_create_account, new_totp_secret, set_password
from livc.platform.db import db, tenant_context
from livc.platform.roles import OrganisationKind, Role
from livc.platform.settings import load_settings
from livc.platform.timeutil import utcnow
from livc.tenants.cell.models import CellForm, CellProfile, Table, TableKind
from livc.tenants.members.models import Membership, MembershipStatus, Organisation
from livc.tenants.signals.operations import submit_signal

migrating.upgrade(load_settings())
app = create_app()
PASSWORD = "correct horse battery staple 42"
with app.test_request_context():
    tenant = create_tenant({"slug": "bertem", "name": "LIVC-R Bertem", "kind": "municipality", "languages": ["nl", "en"],
                            "municipalities": [{"nis_code": "24009", "name": "Bertem"}]}, actor="system:test")
    db.session.commit()
    found = {"password": PASSWORD}
    with tenant_context(tenant.id):
        organisations = {kind: Organisation(name=f"{kind.value} Bertem", kind=kind) for kind in
                         (OrganisationKind.MUNICIPAL_SERVICE, OrganisationKind.POLICE, OrganisationKind.CLB)}
        db.session.add_all(organisations.values())
        db.session.flush()
        members = {}
        for role, kind, name in (
            (Role.COORDINATOR, OrganisationKind.MUNICIPAL_SERVICE, "Cora Coördinator"),
            (Role.MAYOR, OrganisationKind.MUNICIPAL_SERVICE, "Bram Burgemeester"),
            (Role.INFORMATION_OFFICER, OrganisationKind.POLICE, "Iris Informatie"),
            (Role.SOCIAL_ALDERMAN, OrganisationKind.MUNICIPAL_SERVICE, "Sam Schepen"),
            (Role.PARTNER, OrganisationKind.CLB, "Pia Partner"),
        ):
            account = get_or_create_account(f"{role.value}@bertem.example.test", name)
            set_password(account, PASSWORD)
            account.totp_secret, account.totp_enabled_at = new_totp_secret(), utcnow()
            membership = Membership(account=account, organisation=organisations[kind], role=role,
                                    status=MembershipStatus.ACTIVE,
                                    clearance_expires_on=date.today() + timedelta(days=365)
                                    if role == Role.INFORMATION_OFFICER else None)
            db.session.add(membership)
            db.session.flush()
            members[role] = membership
            found[role.value] = {"email": account.email, "key": account.totp_secret}
        db.session.add(CellProfile(form=CellForm.INTEGRATED, appointed_official_id=members[Role.COORDINATOR].id))
        db.session.add(Table(kind=TableKind.MAIN, name="LIVC-R Bertem", chair_membership_id=members[Role.COORDINATOR].id))
        db.session.flush()
        signal = submit_signal(members[Role.PARTNER], {
            "observation": "Says in class that an attack was justified and shares its video (fictional test).",
            "internal_assessment": "done", "urgency": "urgent",
            "observed_from": date.today() - timedelta(days=5),
            "given_names": "Jonas", "family_name": "Proefbertem", "date_of_birth": "2008-05-02",
        })
        found["signal"] = signal.id
        db.session.commit()
print("PREPARED " + json.dumps(found))
'''


@pytest.fixture(scope="module")
def bertem(tmp_path_factory):
    """A demo server of its own, with the new cell prepared in its database first."""
    folder = tmp_path_factory.mktemp("legal-basis")
    env = clean_env(data_dir=str(folder / "data"))
    prepared = subprocess.run([sys.executable, "-c", PREPARE], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=300)
    assert prepared.returncode == 0, prepared.stderr[-4000:]
    found = json.loads(re.search(r"^PREPARED (.*)$", prepared.stdout, re.MULTILINE).group(1))
    server = start_demo(folder)
    yield server, found
    server.stop()


def sign_in(page, server, login: dict, password: str) -> None:  # noqa: F811 - a page, not the fixture
    page.goto(server.url(f"{CELL}/home"))
    page.get_by_label("E-mail address").fill(login["email"])
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/sign-in/verify$"))
    totp = pyotp.TOTP(login["key"])
    page.get_by_label("Code").fill(totp.at(time.time() + totp.interval))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
    accept_undertaking_if_asked(page)


def accept_undertaking_if_asked(page) -> None:  # noqa: F811 - a page, not the fixture
    if "/undertaking" in page.url:
        page.get_by_label("I have read the house rules and accept the secrecy undertaking.").check()
        page.get_by_role("button", name="Accept").click()
        page.wait_for_url(lambda url: "/undertaking" not in url)


def test_a_new_cells_coordinator_opens_a_case_only_once_house_rules_with_a_legal_basis_are_published(
        bertem, browser):  # noqa: F811
    server, found = bertem
    weigh = server.url(f"{CELL}/signals/{found['signal']}/weigh")
    with open_page(browser, locale="en-GB", screenshot_name="legal-basis-coordinator") as page:
        sign_in(page, server, found["coordinator"], found["password"])

        # 1. Stopped: the weighing page says why and where to put it right; no form to fill in.
        page.goto(weigh)
        gate = page.locator(".case-work-gate")
        assert "The cell cannot weigh signals or open cases yet" in gate.inner_text()
        assert SEED_002 in gate.inner_text()
        assert page.locator("form.weighing-form").count() == 0
        page.assert_clean()

        # 2. The house rules: a first draft from the guidance, on the law of 30 July 2018, published.
        gate.get_by_role("link", name="Write and publish the house rules").click()
        page.wait_for_url(server.url(f"{CELL}/house-rules"))
        page.get_by_role("button", name="Start a new draft").click()
        page.wait_for_url(re.compile(r"/house-rules/draft$"))
        page.get_by_role("radio", name="The law of 30 July 2018 on the local integrated security cells").check()
        page.get_by_role("button", name="Save and publish…").click()
        page.wait_for_url(re.compile(r"/house-rules/draft/publish$"))
        page.get_by_label("Yes, put this version in force.").check()
        page.get_by_role("button", name="Publish").click()
        page.wait_for_url(lambda url: "/draft/publish" not in url)
        page.assert_clean()

        # 3. The coordinator accepts the rules now in force, and weighs: an urgent signal, a case at once.
        page.goto(weigh)
        accept_undertaking_if_asked(page)
        if page.url != weigh:
            page.goto(weigh)
        assert page.locator(".case-work-gate").count() == 0
        page.get_by_role("group", name="Flag").get_by_role("radio", name=re.compile(r"^Red\b")).check()
        fact = page.get_by_role(
            "group", name="Expresses support for violence in the name of an ideology, or glorifies it"
        )
        fact.get_by_role("checkbox").check()
        fact.get_by_label("What was observed").fill("Said in class that the attack was justified.")
        page.get_by_role("radio", name="Open a case in the cell").check()
        page.get_by_label("Target group").select_option(label="Other violent extremism")
        page.get_by_label("Kind of follow-up").select_option(label="Social follow-up")
        page.get_by_role("group", name="Case team").get_by_role("checkbox", name=re.compile(r"^Pia Partner")).check()
        page.get_by_role("group", name="How the cell decides").get_by_role("radio", name=re.compile(r"^Urgent")).check()
        page.get_by_role("button", name="Put the decision to the cell").click()
        page.wait_for_url(re.compile(r"/cases/\d+$"))
        assert re.fullmatch(r"[A-Z]{3}-\d{4}-\d{3}", page.locator("h1").inner_text()), page.locator("h1").inner_text()
        page.assert_clean()
