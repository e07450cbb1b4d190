"""The demo cells as a federation: ``livc demo --no-serve`` links them, as their coordinators
would, and both coordinators find one alert, for the one person both cells follow.

Run through the real command (embedded jobs, in-process custodian) against the test app's
database, on SQLite and PostgreSQL; the alerts are read on the coordinators' own pages.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from auth_helpers import Member, sign_in
from livc.app.cli import cli
from livc.app.demo import DEMO_PASSWORD
from livc.app.demo_cases import STORIES, demo_email
from livc.federation import alerts, linkage
from livc.federation.models import (
    AlertState,
    EnrolmentStatus,
    FederationEnrolment,
    FederationLink,
    MatchAlert,
    SideStatus,
)
from livc.platform.accounts import find_account
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.tenants.cases.models import Case, CaseStatus
from livc.tenants.members.models import Membership

CELLS = ("demo-leuven", "demo-herko")
ENGLISH = {"Accept-Language": "en"}
CODE = re.compile(r"\b[A-Z]{2,5}-\d{4}-\d{3}\b")  # a case code


def livc(app, *args: str):
    """``livc ARGS`` as an operator runs it, against the test app's database and data folder."""
    settings = app.extensions["livc.settings"]
    # `livc demo` seeds only where development is said explicitly (its accounts' password is published).
    env = {"LIVC_DATA_DIR": str(settings.data_dir), "LIVC_ENV": "development" if args[0] == "demo" else "test",
           "LIVC_SECRET_KEY": "t" * 40, "LIVC_REDIS_URL": ""}
    if settings.database_url:
        env |= {"LIVC_DATABASE_URL": settings.database_url, "LIVC_MIGRATE_DATABASE_URL": settings.migration_url}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def demo(app) -> dict[str, int]:
    """``livc demo --no-serve`` once: slug -> cell id."""
    livc(app, "demo", "--no-serve")
    with app.app_context():
        cells = {tenant.slug: tenant.id for tenant in db.session.scalars(sa.select(Tenant))}
        db.session.remove()
    return cells


def coordinator(app, cells: dict[str, int], slug: str) -> Member:
    """The cell's demo coordinator, as a member a test client can sign in as."""
    email = demo_email(slug, Role.COORDINATOR)
    with app.app_context():
        account = find_account(email)
        with tenant_context(cells[slug]):
            membership = db.session.scalar(sa.select(Membership).where(Membership.account_id == account.id))
            member = Member(email, DEMO_PASSWORD, account.totp_secret, slug, cells[slug], account.id, membership.id,
                            Role.COORDINATOR)
        db.session.remove()
    return member


def shared_case_code(app, cells: dict[str, int], slug: str) -> str:
    """The code of the cell's case about the shared demo person (read as the test, not a user)."""
    person = STORIES[slug]["shared"].person
    with app.app_context(), tenant_context(cells[slug]):
        codes = [case.code for case in db.session.scalars(sa.select(Case).where(Case.status == CaseStatus.OPEN))
                 if case.identity and case.identity.family_name == person.family_name]
        db.session.remove()
    assert len(codes) == 1, codes
    return codes[0]


def federation_state(app) -> dict:
    with app.app_context():
        state = {
            "links": [(link.cell_a_id, link.cell_b_id, link.active) for link in db.session.scalars(sa.select(FederationLink))],
            "alerts": [(a.id, a.state, a.status_a, a.status_b) for a in db.session.scalars(sa.select(MatchAlert))],
            "enrolments": sorted((e.tenant_id, e.status) for e in db.session.scalars(sa.select(FederationEnrolment))),
        }
        db.session.remove()
    return state


def cell_name(app, tenant_id: int) -> str:
    with app.app_context():
        name = db.session.get(Tenant, tenant_id).name
        db.session.remove()
    return name


def case_count(tenant_id: int) -> int:
    with tenant_context(tenant_id):
        return db.session.scalar(sa.select(sa.func.count(Case.id)))


def mails(app) -> list[str]:
    folder = app.extensions["livc.settings"].data_dir / "mail"
    return [path.read_text() for path in sorted(folder.glob("*.eml"))]


def identity_words(slug: str) -> set[str]:
    person = STORIES[slug]["shared"].person
    words = {*person.given_names.split(), *person.family_name.split(), person.born.isoformat(),
             person.address.split(",")[0]}
    if person.national_number:
        words.add(person.national_number)
    return words - {"Van", "den"}  # particles alone are ordinary words


def test_livc_demo_links_the_cells_and_the_earlier_cells_coordinator_sees_one_new_alert(app, demo):
    codes = {slug: shared_case_code(app, demo, slug) for slug in CELLS}
    names = {slug: cell_name(app, demo[slug]) for slug in CELLS}
    state = federation_state(app)
    assert state["links"] == [(min(demo.values()), max(demo.values()), True)]
    [(alert_id, alert_state, side_a, side_b)] = state["alerts"]  # one alert, and only for the shared person
    assert alert_state == AlertState.OPEN and side_a == side_b == SideStatus.NEW
    # Both cells' open cases with an identity are in the index (so the other demo cases were
    # compared and matched nothing): five each, the shared person's among them.
    assert state["enrolments"] == sorted([(demo[slug], EnrolmentStatus.ENROLLED) for slug in CELLS for _ in range(5)])

    # Leuven asked for the link, so its cases were enrolled first: it hears first, in words
    # only; Herent-Kortenberg sees nothing until Leuven judged the alert worth checking.
    seen = {}
    for slug in CELLS:
        with app.test_request_context(), tenant_context(demo[slug]):
            seen[slug] = alerts.alerts_for(demo[slug])
            db.session.remove()
    [alert] = seen["demo-leuven"]
    assert seen["demo-herko"] == []
    assert alert.heard_first and alert.strength == "very_strong" and alert.agreeing == ()
    assert alert.case_code == codes["demo-leuven"] and alert.other_cell == names["demo-herko"]
    for slug, other in (("demo-leuven", "demo-herko"), ("demo-herko", "demo-leuven")):
        client = app.test_client()
        sign_in(client, coordinator(app, demo, slug))
        page = client.get(f"/{slug}/federation/alerts", headers=ENGLISH)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert (f">{codes[slug]}</a>" in text) == (slug == "demo-leuven")  # its own case, linked
        assert codes[other] not in text and "score" not in text
        for word in identity_words(slug) | identity_words(other):
            assert word not in text, word

    # Leuven's coordinator got one mail about it, naming the cells only.
    federation_mails = [mail for mail in mails(app) if "/federation/alerts" in mail]
    assert len(federation_mails) == 1
    for mail in federation_mails:
        assert not CODE.search(mail.split("\n\n", 1)[1])
        for slug in CELLS:
            assert not any(word in mail for word in identity_words(slug))

    # The link was made through the coordinators' operations, audited in both cells as the demo.
    for slug in CELLS:
        with app.app_context(), tenant_context(demo[slug]):
            entries = {entry.action: entry for entry in db.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.action.like("federation.%")))}
            db.session.remove()
        assert {"federation.link_requested", "federation.link_agreed"} <= set(entries)
        told = {"federation.alert_created", "federation.alert_notified"} <= set(entries)
        assert told == (slug == "demo-leuven")  # nothing of it in Herent-Kortenberg's trail yet
        assert entries["federation.link_requested"].actor == "system:demo"
        assert entries["federation.link_requested"].details["membership_id"] == coordinator(app, demo, "demo-leuven").membership_id
        assert entries["federation.link_agreed"].details["membership_id"] == coordinator(app, demo, "demo-herko").membership_id
    assert alert.id == alert_id


def test_running_the_demo_again_adds_no_link_case_alert_or_mail(app, demo):
    before = federation_state(app), len(mails(app))
    with app.app_context():
        counts = {slug: case_count(demo[slug]) for slug in CELLS}
        db.session.remove()

    livc(app, "demo", "--no-serve")

    assert (federation_state(app), len(mails(app))) == before
    with app.app_context():
        assert {slug: case_count(demo[slug]) for slug in CELLS} == counts
        db.session.remove()


def test_a_link_ended_in_the_demo_stays_ended_when_the_demo_runs_again(app, demo):
    from livc.federation.linking import end_link

    leuven = coordinator(app, demo, "demo-leuven")
    with app.test_request_context(), tenant_context(demo["demo-leuven"]):
        end_link(demo["demo-leuven"], demo["demo-herko"], db.session.get(Membership, leuven.membership_id))
        db.session.commit()
        db.session.remove()

    livc(app, "demo", "--no-serve")

    state = federation_state(app)
    assert [active for *_, active in state["links"]] == [False]
    assert [alert_state for _, alert_state, *_ in state["alerts"]] == [AlertState.WITHDRAWN]


def test_of_all_demo_people_only_the_shared_person_would_alert():
    """Every person of the demo stories (cases and signals, open or closed), through the
    evaluation path with its looser one-to-one rule: the shared person is the only pair."""
    def records(slug: str) -> list[linkage.Record]:
        return [
            linkage.Record.from_fields(key, story.person.given_names, story.person.family_name,
                                       story.person.born.isoformat(), story.person.national_number)
            for key, story in STORIES[slug].items() if story.person is not None
        ]

    found = linkage.matches(records("demo-leuven"), records("demo-herko"), linkage.ephemeral_custodian())
    assert [(match.left_id, match.right_id) for match in found] == [("shared", "shared")]
    assert "name_dob" in found[0].agreeing and "nn" not in found[0].agreeing


def test_a_demo_database_seeded_before_the_shared_person_gets_them_and_the_alert(app, monkeypatch):
    """A demo seeded before the federation demo existed (no shared person, no link): running
    the demo again adds the shared person to each cell, links the cells, and alerts."""
    from livc.app import demo as demo_module
    from livc.app import demo_cases
    from livc.app.demo import seed_demo

    with monkeypatch.context() as older:
        older.setattr(demo_cases, "_has_case_of", lambda person: True)
        older.setattr(demo_module, "link_demo_cells", lambda tenants: False)
        with app.app_context():
            cells = {tenant.slug: tenant.id for tenant in seed_demo(with_members=True)}
            assert {slug: case_count(cells[slug]) for slug in CELLS} == {slug: 6 for slug in CELLS}
            db.session.remove()
    assert federation_state(app)["links"] == []

    livc(app, "demo", "--no-serve")

    with app.app_context():
        assert {slug: case_count(cells[slug]) for slug in CELLS} == {slug: 7 for slug in CELLS}
        db.session.remove()
    [(_, alert_state, side_a, side_b)] = federation_state(app)["alerts"]
    assert alert_state == AlertState.OPEN and side_a == side_b == SideStatus.NEW
    assert {slug: shared_case_code(app, cells, slug) for slug in CELLS}  # one shared case in each


def test_the_two_demo_coordinators_have_names_of_their_own(app, demo):
    with app.app_context():
        names = {slug: find_account(demo_email(slug, Role.COORDINATOR)).display_name for slug in CELLS}
        db.session.remove()
    # Once an alert is confirmed each sees the other's name: it must not read as their own.
    assert names == {"demo-leuven": "Ann Coördinator (DEMO)", "demo-herko": "Bram Coördinator (DEMO)"}
