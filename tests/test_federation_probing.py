"""No probing (issue 15, part 1): a cell linked with another tries to learn whom that cell
follows by entering guesses, through the JSON API, as a whole cell (its coordinator proposes,
a second account of its own confirms). It learns nothing: a national number alone is never
compared, its guesses reach no page of its own until the probed cell judged an alert worth
checking, the weekly budget stops the volume, and the probed cell sees the pattern.

Also: the budget held and released by an operator (counts only, the neighbours told), the
custodian's own budget, the newer cell acting before its turn, the earlier cell's dismissal.
On SQLite and PostgreSQL (the ``app`` fixture)."""

from __future__ import annotations

import email
import email.policy
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session
from case_helpers import HERKO, LEUVEN, membership, ready_cell, signal_values, weighed_and_confirmed
from livc.federation import alerts, enrolment, linking
from livc.federation.links import FederationError
from livc.federation.models import (
    AlertState,
    BudgetUse,
    EnrolmentStatus,
    FederationEnrolment,
    MatchAlert,
)
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context

EN = {"Accept-Language": "en"}
BORN = "1990-03-07"


def national_number(sequence: int) -> str:
    """A valid Belgian national number of someone born on 7 March 1990."""
    base = f"900307{sequence:03d}"
    return f"{base}{97 - int(base) % 97:02d}"


FOLLOWED = {"given_names": "Mohammed", "family_name": "El Amrani", "date_of_birth": BORN,
            "national_number": national_number(123), "address": ""}
NAMES = ("Mohammed", "Mohamed", "Amrani", "Elamrani")


@pytest.fixture
def two(app, cells):
    leuven, herko = ready_cell(app, cells[LEUVEN], LEUVEN), ready_cell(app, cells[HERKO], HERKO)
    with app.test_request_context(), tenant_context(leuven.tenant_id):
        linking.request_link(leuven.tenant_id, herko.tenant_id, membership(leuven.coordinator))
        db.session.commit()
    with app.test_request_context(), tenant_context(herko.tenant_id):
        linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator))
        db.session.commit()
    return leuven, herko


@pytest.fixture
def budget(app):
    """A weekly budget of 3 new enrolments per cell (the default is 10)."""
    settings = app.extensions["livc.settings"]
    app.extensions["livc.settings"] = settings.model_copy(update={"federation_enrolments_per_week": 3})
    yield 3
    app.extensions["livc.settings"] = settings


def as_cell(app, cell, func):
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        result = func()
        db.session.commit()
        db.session.remove()
    return result


def open_followed(app, cell, identity) -> int:
    """A case the cell really follows (signal, weighing proposed and confirmed): its id."""
    from livc.tenants.signals.operations import submit_signal

    def run():
        signal = submit_signal(membership(cell.partner), signal_values(**identity))
        return weighed_and_confirmed(cell, signal)

    return as_cell(app, cell, run)


class Prober:
    """The probing cell through the JSON API: its coordinator and a partner it controls."""

    def __init__(self, app, cell):
        self.app, self.cell = app, cell
        self.coordinator, self.coordinator_headers = self._client(cell.coordinator)
        self.partner, self.partner_headers = self._client(cell.partner)

    def _client(self, member):
        client = self.app.test_client()
        give_session(self.app, client, member)
        token = client.get(f"/{member.tenant_slug}/api/session").get_json()["csrf_token"]
        return client, {"X-CSRFToken": token, **EN}

    def _confirm(self, answer) -> None:
        assert answer.status_code == 202, answer.get_data(as_text=True)
        decision_id = answer.get_json()["decision"]["id"]
        confirmed = self.partner.post(f"/{self.cell.slug}/api/decisions/{decision_id}/confirm",
                                      headers=self.partner_headers)
        assert confirmed.status_code == 200, confirmed.get_data(as_text=True)

    def open_case(self, given: str = "", family: str = "", born: str = "", number: str = "") -> int:
        body = {"observation": "Guess.", "internal_assessment": "done", "urgency": "soon",
                "observed_from": (date.today() - timedelta(days=2)).isoformat(),
                "given_names": given, "family_name": family, "date_of_birth": born,
                "national_number": number, "address": "", "residence": self.cell.residence_nis or ""}
        body = {key: value for key, value in body.items() if value != ""}
        sent = self.partner.post(f"/{self.cell.slug}/api/signals", json=body, headers=self.partner_headers)
        assert sent.status_code == 201, sent.get_data(as_text=True)
        signal_id = sent.get_json()["signal"]["id"]
        weighing = {"flag": "red", "decision": "open_case", "target_group": "other_extremism",
                    "follow_up_kind": "social", "team_ids": [self.cell.partner.membership_id],
                    "facts": [{"fact": "propaganda", "description": "Guess."}]}
        self._confirm(self.coordinator.post(f"/{self.cell.slug}/api/signals/{signal_id}/weighing", json=weighing,
                                            headers=self.coordinator_headers))
        return self.app_case_of(signal_id)

    def app_case_of(self, signal_id: int) -> int:
        with self.app.app_context(), tenant_context(self.cell.tenant_id):
            case_id = db.session.scalar(sa.text("select case_id from signals where id = :id"), {"id": signal_id})
            db.session.remove()
        assert case_id is not None
        return case_id

    def erase(self, case_id: int) -> None:
        self._confirm(self.coordinator.post(f"/{self.cell.slug}/api/cases/{case_id}/closure",
                                            json={"reason": "goals_reached"}, headers=self.coordinator_headers))
        erased = self.coordinator.post(f"/{self.cell.slug}/api/cases/{case_id}/erasure", json={"confirm": True},
                                       headers=self.coordinator_headers)
        assert erased.status_code == 204, erased.get_data(as_text=True)

    def alerts_page(self) -> str:
        page = self.coordinator.get(f"/{self.cell.slug}/federation/alerts", headers=EN)
        assert page.status_code == 200
        return page.get_data(as_text=True)


def statuses(app, cell) -> list[EnrolmentStatus]:
    with app.app_context():
        found = db.session.scalars(sa.select(FederationEnrolment.status).where(
            FederationEnrolment.tenant_id == cell.tenant_id).order_by(FederationEnrolment.id)).all()
        db.session.remove()
    return list(found)


def trail(app, cell) -> list[AuditEntry]:
    """The cell's federation entries, and those of operators' federation actions."""
    with app.app_context(), tenant_context(cell.tenant_id):
        entries = db.session.scalars(sa.select(AuditEntry).where(sa.or_(
            AuditEntry.action.like("federation.%"), AuditEntry.action.like("operator.federation.%")))).all()
        db.session.expunge_all()
        db.session.remove()
    return list(entries)


def reason_of(app, cell, case_id) -> str | None:
    from livc.tenants.cases.reading import case_for_federation

    return as_cell(app, cell, lambda: enrolment.not_enrolled_reason(case_for_federation(case_id)))


def mails(app) -> list[str]:
    """Each mail of the development outbox as its recipient reads it: To, subject and body."""
    found = []
    for path in sorted((app.extensions["livc.settings"].data_dir / "mail").glob("*.eml")):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found.append(f"{mail['To']}\n{mail['Subject']}\n{mail.get_content()}")
    return found


def test_a_cell_probing_a_linked_cell_through_the_api_learns_nothing(app, two, budget):
    leuven, herko = two
    open_followed(app, leuven, FOLLOWED)  # Leuven really follows this person
    assert statuses(app, leuven) == [EnrolmentStatus.ENROLLED]
    prober = Prober(app, herko)

    # Guessed national numbers alone (the right one among them): the cases open, but none is
    # compared with Leuven, none costs budget, and the case page says why.
    guesses = [prober.open_case(number=national_number(sequence)) for sequence in (121, 122, 123)]
    assert statuses(app, herko) == [EnrolmentStatus.REMOVED] * 3
    assert "national number alone" in reason_of(app, herko, guesses[2])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(BudgetUse.id))) == 1  # Leuven's own case
        db.session.remove()
    assert as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id)) == []

    # Names and dates of birth, the right guess among them: within the budget (3) three are
    # compared, the rest held.
    right = prober.open_case("Mohammed", "El Amrani", BORN)
    prober.open_case("Mohamed", "Amrani", "1990-03-08")
    prober.open_case("Mohamed", "Elamrani", "1990-03-06")
    held = [prober.open_case("Mohamed", "El Amrani", f"1990-03-{day:02d}") for day in (9, 10)]
    assert statuses(app, herko) == [EnrolmentStatus.REMOVED] * 3 + [EnrolmentStatus.ENROLLED] * 3 + [EnrolmentStatus.HELD] * 2
    assert "held" in reason_of(app, herko, held[0])
    # The case's federation page says why, in words.
    for case_id, said in ((guesses[0], "A national number alone is never compared"), (held[0], "is held")):
        page = prober.coordinator.get(f"/{HERKO}/cases/{case_id}/federation", headers=EN)
        assert page.status_code == 200 and said in page.get_data(as_text=True)

    # The prober's alerts (page and list) show nothing of the victim: no alert, no score, no
    # kind of data; its own trail has no alert either.
    [alert_id] = [alert.id for alert in as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))]
    assert as_cell(app, herko, lambda: alerts.alerts_for(herko.tenant_id, include_withdrawn=True)) == []
    assert as_cell(app, herko, lambda: alerts.alert_for(herko.tenant_id, alert_id)) is None
    page = prober.alerts_page()
    assert 'class="federation-alert"' not in page and "score" not in page.lower()
    assert not any(entry.action.startswith("federation.alert") for entry in trail(app, herko))
    # Acting on the alert it cannot see answers as for an alert that does not exist.
    with pytest.raises(FederationError) as refused:
        as_cell(app, herko, lambda: alerts.acknowledge(herko.tenant_id, alert_id, membership(herko.coordinator)))
    assert str(alerts.NO_ALERT) in str(refused.value)  # the same answer as for no alert at all

    # Leuven heard first: the alert, in words only.
    [seen] = as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))
    assert seen.heard_first and seen.strength in alerts.STRENGTHS and seen.agreeing == () and seen.unknown == ()
    # ... and was told that its neighbour hit its budget (mail and trail, no case data).
    assert [entry.details["cell"] for entry in trail(app, leuven)
            if entry.action == "federation.neighbour_budget_reached"] == [HERKO]
    budget_mails = [mail for mail in mails(app)  # in the cell's first language, Dutch
                    if "wekelijks aantal nieuwe opnames" in mail or "weekly number of new enrolments" in mail]
    assert len(budget_mails) == 1 and leuven.coordinator.email in budget_mails[0]
    for mail in budget_mails:
        assert not any(name in mail for name in NAMES)

    # The prober erases its guess: the alert leaves the prober's reach, and Leuven still sees
    # it, saying that the newer case was erased the same day.
    prober.erase(right)
    [seen] = as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))
    assert seen.id == alert_id and seen.state == AlertState.WITHDRAWN
    assert (seen.newer_left, seen.newer_left_days) == ("erased", 0)
    page = app.test_client()
    give_session(app, page, leuven.coordinator)
    body = page.get(f"/{LEUVEN}/federation/alerts", headers=EN).get_data(as_text=True)
    assert "erased" in body
    assert as_cell(app, herko, lambda: alerts.alerts_for(herko.tenant_id, include_withdrawn=True)) == []


def test_a_held_enrolment_is_released_by_an_operator_who_sees_counts_only(app, two, budget):
    from admin_helpers import add_operator, give_operator_session, operator_csrf

    leuven, herko = two
    prober = Prober(app, herko)
    for day in (1, 2, 3, 4):
        prober.open_case("Jan", "Peeters", f"1985-01-{day:02d}")
    assert statuses(app, herko).count(EnrolmentStatus.HELD) == 1

    console = app.test_client()
    give_operator_session(app, console, add_operator(app))
    page = console.get("/admin/federation/budgets", headers=EN)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    row = body[body.index(f'data-tenant="{HERKO}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-count="held">1<' in row and 'data-count="used">3<' in row and 'data-count="budget">3<' in row
    assert "Peeters" not in body and "HER-" not in body

    released = console.post(f"/admin/federation/budgets/{HERKO}/release", data={"csrf_token": operator_csrf(console)},
                            headers=EN)
    assert released.status_code == 302
    assert statuses(app, herko) == [EnrolmentStatus.ENROLLED] * 4
    assert [entry.details for entry in trail(app, herko) if entry.action == "operator.federation.enrolments_released"] \
        == [{"count": 1}]


def test_the_custodian_refuses_an_over_budget_client_on_its_own(tmp_path):
    """The custodian's ledger, whatever the platform says: enrolments per client and cell per
    week; re-enrolments only after a recent rotation or scheme change, no more than enrolled."""
    from datetime import UTC, datetime

    from livc.federation.custodian.settings import EnrolmentRefused
    from livc.federation.custodian.storage import EnrolmentLedger

    ledger = EnrolmentLedger(tmp_path / "enrolments.json", per_week=2, reenrol_days=30)
    epoch_made = "2026-01-01T00:00:00+00:00"
    day = datetime(2026, 3, 1, tzinfo=UTC)
    for _ in range(2):
        ledger.admit("platform", "herko", "enrol", 1, epoch_made, 3, now=day)
    with pytest.raises(EnrolmentRefused):
        ledger.admit("platform", "herko", "enrol", 1, epoch_made, 3, now=day)
    ledger.admit("platform", "leuven", "enrol", 1, epoch_made, 3, now=day)  # per cell
    ledger.admit("other-client", "herko", "enrol", 1, epoch_made, 3, now=day)  # and per client
    ledger.admit("platform", "herko", "enrol", 1, epoch_made, 3, now=day + timedelta(days=8))  # a new week
    later = day + timedelta(days=60)
    # Long after the rotation, under a scheme seen long ago: refused.
    with pytest.raises(EnrolmentRefused):
        ledger.admit("platform", "herko", "reenrol", 1, epoch_made, 3, now=later)
    # A new key scheme: the cell's cases (3 enrolled) re-enrolled once each, no more.
    for _ in range(3):
        ledger.admit("platform", "herko", "reenrol", 1, epoch_made, 4, now=later)
    with pytest.raises(EnrolmentRefused):
        ledger.admit("platform", "herko", "reenrol", 1, epoch_made, 4, now=later)
    # A rotation (a new epoch made now): again, once each.
    ledger.admit("platform", "herko", "reenrol", 2, later.isoformat(), 4, now=later)
    # An older scheme than one seen is never "new".
    with pytest.raises(EnrolmentRefused):
        ledger.admit("platform", "leuven", "reenrol", 1, epoch_made, 2, now=later)


def test_the_custodian_service_answers_429_over_the_cells_budget(tmp_path):
    from livc.federation import oprf
    from livc.federation.custodian.service import create_custodian_app
    from livc.federation.custodian.settings import encode_element
    from livc.federation.custodian.storage import ClientRegistry, KeyStore

    KeyStore(tmp_path / "keys.json", create=True)
    secret = ClientRegistry(tmp_path / "clients.json").add("platform")
    client = create_custodian_app({"data_dir": str(tmp_path), "enrolments_per_week": 1}).test_client()
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        auth=("platform", secret)).get_json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    body = {"cell": "demo-herko", "purpose": "enrol", "scheme": 3,
            "elements": [encode_element(oprf.blind(b"name_dob:x").element)]}
    assert client.post("/evaluate", json=body, headers=headers).status_code == 200
    refused = client.post("/evaluate", json=body, headers=headers)
    assert refused.status_code == 429 and refused.get_json()["error"] == "enrolment_budget"
    assert "Retry-After" in refused.headers
    assert client.post("/evaluate", json={**body, "cell": "demo-leuven"}, headers=headers).status_code == 200
    # Without a purpose (an operator's batch tool) only the rate limit applies.
    del body["purpose"]
    assert client.post("/evaluate", json=body, headers=headers).status_code == 200
    # One case's keys per enrolment call.
    many = {**body, "purpose": "enrol", "cell": "demo-x",
            "elements": [encode_element(oprf.blind(b"k%d" % n).element) for n in range(129)]}
    assert client.post("/evaluate", json=many, headers=headers).status_code == 429


def test_the_earlier_cells_dismissal_leaves_the_newer_cell_with_nothing(app, two):
    leuven, herko = two
    open_followed(app, leuven, FOLLOWED)
    open_followed(app, herko, {**FOLLOWED, "national_number": ""})
    [alert] = as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))
    mails_before = len(mails(app))
    as_cell(app, leuven, lambda: alerts.dismiss(leuven.tenant_id, alert.id, membership(leuven.coordinator)))
    assert as_cell(app, herko, lambda: alerts.alerts_for(herko.tenant_id, include_withdrawn=True)) == []
    assert len(mails(app)) == mails_before
    assert not any(entry.action.startswith("federation.alert") for entry in trail(app, herko))
    with app.app_context():
        [stored] = db.session.scalars(sa.select(MatchAlert)).all()
        assert stored.state == AlertState.DISMISSED and stored.disclosed_at is None
        db.session.remove()


def test_the_newer_cell_acting_before_its_turn_is_refused_with_the_reason(app, two):
    leuven, herko = two
    open_followed(app, leuven, FOLLOWED)
    open_followed(app, herko, {**FOLLOWED, "national_number": ""})
    [alert] = as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))
    for step in (alerts.acknowledge, alerts.confirm, alerts.dismiss):
        with pytest.raises(FederationError) as refused:
            as_cell(app, herko, lambda step=step: step(herko.tenant_id, alert.id, membership(herko.coordinator)))
        assert "worth checking" in str(refused.value)
    with app.app_context():
        assert db.session.get(MatchAlert, alert.id).status_b.value == "new"
        db.session.remove()
    # Once Leuven judged it worth checking, Herent-Kortenberg sees it and may act.
    as_cell(app, leuven, lambda: alerts.acknowledge(leuven.tenant_id, alert.id, membership(leuven.coordinator)))
    view = as_cell(app, herko, lambda: alerts.confirm(herko.tenant_id, alert.id, membership(herko.coordinator)))
    assert not view.heard_first and view.state == AlertState.OPEN
    assert "federation.alert_created" in {entry.action for entry in trail(app, herko)}


def test_an_identity_without_names_or_date_is_not_enrolled():
    from livc.federation.match_keys import Identity

    def refusal(*fields):
        return enrolment.identity_refusal(Identity.parse(*fields).known)

    assert refusal(None, None, None, national_number(123)) is enrolment.NATIONAL_NUMBER_ALONE
    assert refusal("Mohammed", None, BORN, national_number(123)) is enrolment.NATIONAL_NUMBER_ALONE
    assert refusal("Mohammed", "El Amrani", None, None) is enrolment.DATE_NEEDED
    assert refusal(None, "El Amrani", BORN, None) is enrolment.NAMES_NEEDED
    assert refusal("Mohammed", "El Amrani", "1990", None) is None
    assert refusal("Mohammed", "El Amrani", None, national_number(123)) is None


@pytest.mark.parametrize("age_days, shown", [(3, True), (15, False)])
def test_a_newer_case_closed_within_the_window_stays_visible_to_the_earlier_cell(app, two, age_days, shown):
    from livc.platform.timeutil import utcnow
    from livc.tenants.cases.reading import case_for_federation

    leuven, herko = two
    open_followed(app, leuven, FOLLOWED)
    newer = open_followed(app, herko, {**FOLLOWED, "national_number": ""})
    with app.app_context():
        [stored] = db.session.scalars(sa.select(MatchAlert)).all()
        stored.created_at = utcnow() - timedelta(days=age_days)  # the window is 14 days
        db.session.commit()
        db.session.remove()
    as_cell(app, herko, lambda: enrolment.remove_enrolment(case_for_federation(newer), "closed"))

    listed = as_cell(app, leuven, lambda: alerts.alerts_for(leuven.tenant_id))
    if shown:
        [seen] = listed
        assert seen.state == AlertState.WITHDRAWN and (seen.newer_left, seen.newer_left_days) == ("closed", age_days)
    else:
        assert listed == []  # withdrawn, as any alert whose case left
    assert as_cell(app, herko, lambda: alerts.alerts_for(herko.tenant_id, include_withdrawn=True)) == []


def test_through_the_custodian_service_a_rotation_re_enrols_and_an_over_budget_cell_waits(app, two, tmp_path):
    """The platform marks its calls; the custodian service admits the re-enrolment after its
    rotation, and over its own budget (here 2 a week per cell) refuses: the enrolment waits,
    the case is saved."""
    from custodian_helpers import threaded_custodian
    from livc.federation.custodian.storage import ClientRegistry, KeyStore

    leuven, herko = two
    data_dir = tmp_path / "custodian-service"
    secret = ClientRegistry(data_dir / "clients.json").add("platform")
    settings = app.extensions["livc.settings"]
    with threaded_custodian(data_dir, enrolments_per_week=2) as url:
        app.extensions["livc.settings"] = settings.model_copy(update={
            "custodian_url": url, "custodian_client_id": "platform", "custodian_client_secret": secret})
        try:
            open_followed(app, leuven, FOLLOWED)
            open_followed(app, leuven, {**FOLLOWED, "given_names": "Karim", "national_number": ""})
            assert statuses(app, leuven) == [EnrolmentStatus.ENROLLED] * 2
            third = open_followed(app, leuven, {**FOLLOWED, "given_names": "Samir", "national_number": ""})
            assert third is not None  # the case is saved ...
            assert statuses(app, leuven)[-1] == EnrolmentStatus.PENDING  # ... its enrolment waits
            # The custodian rotates: both enrolled cases are re-enrolled under the new epoch.
            new_epoch = KeyStore(data_dir / "keys.json").rotate()
            as_cell(app, leuven, enrolment.sweep_enrolments)
            with app.app_context():
                epochs = db.session.scalars(sa.select(FederationEnrolment.epoch).where(
                    FederationEnrolment.status == EnrolmentStatus.ENROLLED)).all()
                db.session.remove()
            assert epochs == [new_epoch, new_epoch]
        finally:
            app.extensions["livc.settings"] = settings
    audit = [line for line in (data_dir / "audit.jsonl").read_text().splitlines() if '"evaluate"' in line]
    assert sum('"purpose":"enrol"' in line and '"outcome":"ok"' in line for line in audit) == 2
    assert sum('"outcome":"enrolment_budget"' in line for line in audit) == 1
    assert sum('"purpose":"reenrol"' in line and '"outcome":"ok"' in line for line in audit) == 2
