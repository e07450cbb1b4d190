"""Two requests released together, on PostgreSQL (where the app runs under load): one wins, the
other is told why (409 or 422), nothing answers 500 and no update is lost.

Each request runs in its own thread with its own test client; a barrier lets them go at once.
The row locks (``SELECT ... FOR UPDATE``), the counter raised in the database, the edit versions
and the unique constraints behind them are what these tests rely on.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from test_runtime import superuser

from auth_helpers import MemberApi, csrf_token, give_session
from case_helpers import LEUVEN, membership, open_case, ready_cell, signal_values, weighing_values
from conftest import APP_ROLE
from livc.platform.db import db, tenant_context
from livc.tenants.cases.models import Case, LtfFeedback, Measure, MeasureCategory, MeasureStatus
from livc.tenants.cases.operations import add_measure, start_feedback
from livc.tenants.cases.weighing import weigh_signal
from livc.tenants.cell.models import Table
from livc.tenants.decisions.models import Proposal
from livc.tenants.house_rules.models import HouseRules, HouseRulesStatus
from livc.tenants.meetings.models import Meeting, MeetingStatus
from livc.tenants.meetings.operations import plan_meeting
from livc.tenants.signals.models import Signal, Weighing
from livc.tenants.signals.operations import submit_signal

pytestmark = pytest.mark.postgres
BASE = f"/{LEUVEN}"
EN = {"Accept-Language": "en"}


@pytest.fixture
def app(postgres_app):
    """These races need a database that runs requests side by side: PostgreSQL only."""
    return postgres_app


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


class Api(MemberApi):
    """A member's own JSON client; ``call`` makes a request to release together with another."""

    def call(self, method: str, path: str, body=None):
        return lambda: self.send(method, f"{BASE}/api{path}", body)


def page_client(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def together(*calls):
    """Run the calls in threads released at the same moment; their responses, in order."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(index, call):
        barrier.wait(timeout=60)
        try:
            answers[index] = call()
        except BaseException as error:  # shown by the assertion below, not lost in the thread
            answers[index] = error

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for answer in answers:
        assert answer is not None and not isinstance(answer, BaseException), answer
        assert answer.status_code < 500, answer.get_data(as_text=True)[:500]
    return answers


def statuses(answers) -> list[int]:
    return sorted(answer.status_code for answer in answers)


def new_signal(app, cell) -> int:
    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal_id = submit_signal(membership(cell.partner), signal_values()).id
        db.session.commit()
        db.session.remove()
    return signal_id


def proposed_weighing(app, cell) -> tuple[int, int]:
    """A new signal whose weighing the coordinator proposed: (signal id, proposal id)."""
    signal_id = new_signal(app, cell)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        proposal = weigh_signal(db.session.get(Signal, signal_id), membership(cell.coordinator), weighing_values(cell))
        proposal_id = proposal.id
        db.session.commit()
        db.session.remove()
    return signal_id, proposal_id


def count(app, cell, model, *where) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        found = db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))
        db.session.remove()
    return found


WEIGHING = {
    "flag": "red", "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social",
    "facts": [{"fact": "propaganda", "description": "Shared an attack video in the class group chat."}],
}
WEIGHING_FORM = {
    "flag": "red", "fact_propaganda": "yes", "fact_propaganda_description": "Shared an attack video in the class group chat.",
    "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social", "rationale": "",
}


def test_decisions_and_reports_sent_together_are_taken_once_each_with_codes_of_their_own(app, cell):
    # Two cases opened at once (two decisions confirmed together), two signals reported at once.
    first, second = proposed_weighing(app, cell), proposed_weighing(app, cell)
    confirmations = together(*(Api(app, cell.partner).call("POST", f"/decisions/{proposal_id}/confirm")
                               for _signal_id, proposal_id in (first, second)))
    assert statuses(confirmations) == [200, 200]
    with app.app_context(), tenant_context(cell.tenant_id):
        codes = sorted(db.session.scalars(sa.select(Case.code)))
        db.session.remove()
    year = date.today().year
    assert codes == [f"LEU-{year}-001", f"LEU-{year}-002"]

    body = {"observation": "Said an attack was justified.", "internal_assessment": "done", "urgency": "soon",
            "observed_from": (date.today() - timedelta(days=3)).isoformat(), "family_name": "Peeters"}
    reported = together(*(Api(app, cell.partner).call("POST", "/signals", body) for _ in range(2)))
    assert statuses(reported) == [201, 201]
    references = {answer.get_json()["signal"]["reference"] for answer in reported}
    assert references == {f"S-{year}-003", f"S-{year}-004"}

    # The same signal weighed twice through the API: one proposal, the other refused with the rule.
    signal_id = new_signal(app, cell)
    weighed = together(*(Api(app, cell.coordinator).call("POST", f"/signals/{signal_id}/weighing", WEIGHING)
                         for _ in range(2)))
    assert statuses(weighed) == [202, 422]
    refused = next(answer for answer in weighed if answer.status_code == 422).get_json()["error"]
    assert "already waiting for confirmation" in " ".join(refused["fields"]["_schema"])
    assert count(app, cell, Proposal, Proposal.subject_id == signal_id) == 1

    # A double-clicked weighing form: the second click shows the form again with why.
    signal_id = new_signal(app, cell)
    path = f"{BASE}/signals/{signal_id}/weigh"
    clients = [page_client(app, cell.coordinator) for _ in range(2)]
    tokens = [csrf_token(client, path) for client in clients]
    clicked = together(*(lambda client=client, token=token: client.post(
        path, data={"csrf_token": token, **WEIGHING_FORM, "team_ids": [str(cell.partner.membership_id)]}, headers=EN)
        for client, token in zip(clients, tokens, strict=True)))
    assert statuses(clicked) == [302, 422]
    second = next(a for a in clicked if a.status_code == 422).get_data(as_text=True)
    assert "waits for another member to confirm it" in second
    assert count(app, cell, Proposal, Proposal.subject_id == signal_id) == 1

    # The same approval sent twice: the decision takes effect once (one weighing, one case).
    signal_id, proposal_id = proposed_weighing(app, cell)
    confirmed = together(*(Api(app, cell.partner).call("POST", f"/decisions/{proposal_id}/confirm") for _ in range(2)))
    assert statuses(confirmed) == [200, 422]
    assert "no longer waiting" in " ".join(
        next(a for a in confirmed if a.status_code == 422).get_json()["error"]["fields"]["_schema"])
    assert count(app, cell, Weighing, Weighing.signal_id == signal_id) == 1
    assert count(app, cell, Case) == 3  # the two opened at the start, and this one

    # Two coordinators start a new draft of the house rules at the same moment: the unique index
    # (one draft per cell) is the last line, answered 409 with a message, or the second edits
    # the first's draft; never 500, and one draft.
    drafted = together(*(Api(app, cell.coordinator).call("PUT", "/house-rules/draft", {"general": text})
                         for text in ("Our rules, take one.", "Our rules, take two.")))
    assert statuses(drafted) in ([200, 200], [200, 409])
    for answer in drafted:
        if answer.status_code == 409:
            assert answer.get_json()["error"]["title"] == "Changed in the meantime"
    assert count(app, cell, HouseRules, HouseRules.status == HouseRulesStatus.DRAFT) == 1


def test_two_people_saving_the_same_measure_or_feedback_form_lose_nothing(app, cell):
    case_id, _code = open_case(app, cell)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        coordinator = membership(cell.coordinator)
        measure = add_measure(case, coordinator, {"description": "Talk with the parents", "category": MeasureCategory.GUIDANCE,
                                                  "organisation_id": coordinator.organisation_id})
        feedback = start_feedback(case, coordinator, {"effectiveness": "The talks help."})
        measure_id, feedback_id, measure_version, feedback_revision = measure.id, feedback.id, measure.version, feedback.revision
        db.session.commit()
        db.session.remove()

    # Two coordinators' sessions save the measure read at the same version: one is told (409),
    # with the description now saved; the database holds the winner's, not a mix.
    measure_path = f"/cases/{case_id}/measures/{measure_id}"
    saved = together(*(Api(app, cell.coordinator).call("PATCH", measure_path, {"description": text, "version": measure_version})
                       for text in ("Talk with the mother", "Talk with the father")))
    assert statuses(saved) == [200, 409]
    winner = next(answer for answer in saved if answer.status_code == 200).get_json()["measure"]
    loser = next(answer for answer in saved if answer.status_code == 409).get_json()["error"]
    assert loser["current"] == {"description": winner["description"]} and loser["version"] == winner["version"]
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.get(Measure, measure_id).description == winner["description"]
        db.session.remove()

    # The same on the page: the form comes back (409) with what the person typed and the current value.
    page_path = f"{BASE}{measure_path}"
    clients = [page_client(app, cell.coordinator) for _ in range(2)]
    tokens = [csrf_token(client, page_path) for client in clients]
    form = {"category": "guidance", "organisation_id": str(membership_org(app, cell)), "due_on": "", "status": "planned",
            "version": str(winner["version"])}
    posted = together(*(lambda client=client, token=token, text=text: client.post(
        page_path, data={"csrf_token": token, **form, "description": text}, headers=EN)
        for client, token, text in zip(clients, tokens, ("Visit at home", "Meet at school"), strict=True)))
    assert statuses(posted) == [302, 409]
    page = next(answer for answer in posted if answer.status_code == 409).get_data(as_text=True)
    with app.app_context(), tenant_context(cell.tenant_id):
        now = db.session.get(Measure, measure_id).description
        db.session.remove()
    typed = ({"Visit at home", "Meet at school"} - {now}).pop()
    assert "Someone else changed this since you opened it" in page and typed in page and f"it now reads: {now}" in page

    # Two edits of the feedback form without a version: both apply, each is a revision of its own.
    feedback_path = f"/cases/{case_id}/feedback/{feedback_id}"
    edited = together(*(Api(app, cell.coordinator).call("PATCH", feedback_path, {"cooperation": text})
                        for text in ("Willing.", "Hesitant.")))
    assert statuses(edited) == [200, 200]
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.get(LtfFeedback, feedback_id).revision == feedback_revision + 2
        db.session.remove()
    # An approval of the revision in between does not count for what was changed after it.
    partner = Api(app, cell.partner)
    stale = partner.call("POST", f"{feedback_path}/approvals", {"revision": feedback_revision + 1})()
    assert stale.status_code == 422 and "revision" in stale.get_json()["error"]["fields"]
    assert partner.call("POST", f"{feedback_path}/approvals", {"revision": feedback_revision + 2})().status_code == 201

    # Two edits made on the same version: one is refused, and its answer says what is there now.
    version = partner.call("GET", feedback_path)().get_json()["feedback"]["version"]
    raced = together(*(Api(app, cell.coordinator).call("PATCH", feedback_path, {"distance": text, "version": version})
                       for text in ("Takes distance.", "No distance yet.")))
    assert statuses(raced) == [200, 409]
    kept = next(answer for answer in raced if answer.status_code == 200).get_json()["feedback"]["distance"]
    assert next(answer for answer in raced if answer.status_code == 409).get_json()["error"]["current"] == {"distance": kept}


def membership_org(app, cell) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        organisation_id = membership(cell.coordinator).organisation_id
        db.session.remove()
    return organisation_id


def test_two_meetings_opened_at_the_same_moment_are_not_both_in_session(app, cell):
    """Decisions are taken in the one meeting in session: two meetings of the cell opened
    together, the second waits for the first and is refused with the rule, never both open."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        coordinator = membership(cell.coordinator)
        table_id = db.session.scalar(sa.select(Table.id))
        today = datetime.combine(date.today(), datetime.min.time())
        ids = [plan_meeting(coordinator, {
            "table_id": table_id, "starts_at": today.replace(hour=hour), "ends_at": today.replace(hour=hour + 1),
            "place": "Town hall, room 2"}).id for hour in (9, 11)]
        db.session.commit()
        db.session.remove()
    opened = together(*(Api(app, cell.coordinator).call("POST", f"/meetings/{meeting_id}/session", {"action": "open"})
                        for meeting_id in ids))
    assert statuses(opened) == [200, 422]
    refused = next(answer for answer in opened if answer.status_code == 422).get_json()["error"]
    assert "Another meeting of the cell is in session" in " ".join(refused["fields"]["_schema"])
    assert count(app, cell, Meeting, Meeting.status == MeetingStatus.IN_SESSION) == 1


def test_a_request_the_database_rolls_back_in_a_deadlock_answers_409_and_saves_nothing(app, cell):
    """Another transaction holds the measure's tally (migration 0035) and then wants the measure
    the request is changing: PostgreSQL ends the request's transaction (the request's backend
    checks for deadlocks first). The person is told it clashed (409), not that the database is
    gone (503) nor that the app failed (500); nothing was saved and trying again works."""
    case_id, _code = open_case(app, cell)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        coordinator = membership(cell.coordinator)
        measure_id = add_measure(db.session.get(Case, case_id), coordinator, {
            "description": "Talk with the parents", "category": MeasureCategory.GUIDANCE,
            "organisation_id": coordinator.organisation_id}).id
        db.session.commit()
        db.session.remove()
    api = Api(app, cell.coordinator)
    change = api.call("PATCH", f"/cases/{case_id}/measures/{measure_id}", {"status": "in_progress"})
    admin = superuser(app)
    other = admin.connect().execution_options(isolation_level="READ COMMITTED")
    other.execute(sa.text("SET deadlock_timeout = '60s'"))  # so the request's backend finds the cycle
    answers = []
    try:
        other.execute(sa.text("UPDATE case_tallies SET n = n WHERE tenant_id = :t AND subject = 'measure'"),
                      {"t": cell.tenant_id})
        request = threading.Thread(target=lambda: answers.append(change()))
        request.start()
        deadline = time.monotonic() + 120
        with admin.connect() as watcher:
            while not watcher.scalar(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = :role AND datname = current_database() "
                    "AND wait_event_type = 'Lock'"), {"role": APP_ROLE}):
                assert time.monotonic() < deadline, "the request never waited on the tally"
                time.sleep(0.02)
        other.execute(sa.text("UPDATE measures SET updated_at = updated_at WHERE id = :m"), {"m": measure_id})
        request.join(120)
    finally:
        other.rollback()
        other.close()
        admin.dispose()
    [answer] = answers
    assert answer.status_code == 409, answer.get_data(as_text=True)[:300]
    assert answer.get_json()["error"]["title"] == "Changed in the meantime"
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.get(Measure, measure_id).status == MeasureStatus.PLANNED
        db.session.remove()
    assert change().status_code == 200
