"""The privacy promises of the case issue, checked the way an outsider would check them.

"Done when": identities are not readable in a database dump; after erasure nothing of the
person can be decrypted; the audit trail holds every read. Plus the reminder mails, which
leave the platform, carry codes and dates only. Runs on SQLite (the database file's bytes)
and PostgreSQL (a real ``pg_dump``).
"""

from __future__ import annotations

import email
import email.policy
import shutil
import subprocess
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from babel.dates import format_date
from sqlalchemy.engine import make_url

from auth_helpers import give_session
from case_helpers import (
    IDENTITY,
    LEUVEN,
    OBSERVATION,
    Cell,
    case_confirmer,
    confirmed,
    membership,
    ready_cell,
    signal_values,
    weighing_values,
)
from conftest import POSTGRES_ADMIN_URL, service_unavailable
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.keys import DataKey, KeyDestroyed, decrypt
from livc.tenants.cases import operations as cases
from livc.tenants.cases import weighing as weighing_ops
from livc.tenants.cases.models import (
    Case,
    ClosureReason,
    FurtherFollowUp,
    LtfFeedback,
    Measure,
    NoteVisibility,
    ProgressNote,
    Review,
    TerroristPhase,
)
from livc.tenants.decisions.models import Proposal
from livc.tenants.retention import operations as retention
from livc.tenants.signals import operations as signals
from livc.tenants.signals.models import (
    ErasureTally,
    Identity,
    Signal,
    Weighing,
    WeighingDecision,
    WeighingFact,
)

# Everything written about the person, each with words found nowhere else.
ASSESSMENT_NOTE = "Discussed in the pupil care team on a Tuesday."
RATIONALE = "Concrete signs, confirmed by the headmistress."
REPORTER = "Mr Kwartelkoning, form teacher, 016 99 88 77"
GOAL = "Back at school, with a network outside the chat group."
MEASURE = "Weekly talk with the counsellor about her online friends."
TEAM_NOTE = "Met her at the kiosk of the park; she wants to finish school."
RESTRICTED_NOTE = "Police know of a quarrel near the railway station."
REVIEW_SUMMARY = "Attends the drama workshop every Wednesday."
FEEDBACK = {
    "effectiveness": "The drama workshop keeps her busy and proud.",
    "cooperation": "Turns up to every single appointment.",
    "distance": "Calls the videos stupid now, in her own words.",
    "further_follow_up": FurtherFollowUp.NOT_USEFUL,
    "other_elements": "Recommend a mentor from the theatre company.",
    "terrorist_phase": TerroristPhase.NO,
    "phase_explanation": "Nothing points at preparations of any kind.",
}
CLOSURE_NOTE = "Moved in with an aunt in Namur; the cell there was told."
TEXTS = [ASSESSMENT_NOTE, RATIONALE, REPORTER, GOAL, MEASURE, TEAM_NOTE, RESTRICTED_NOTE, REVIEW_SUMMARY, CLOSURE_NOTE,
         *(value for value in FEEDBACK.values() if type(value) is str)]
FACT = "Shared an attack video in the class group chat."  # the fact of case_helpers.weighing_values

# The identity in every form a dump might show it.
NAMES = ["Élodie", "lodie", "ELODIE", "Van den Berghe", "Berghe", "BERGHE", "berghe", "Vandenberghe"]
NATIONAL_NUMBER = ["07.03.14-123.42", "07031412342", "070314-123", "123.42", "14-123"]
ADDRESS = ["Bondgenotenlaan", "bondgenotenlaan"]
BIRTH = ["2007-03-14", "2007/03/14", "14/03/2007", "14.03.2007", "14-03-2007", "20070314", "14032007",
         "14 March 2007", "14 maart 2007", "14 mars 2007", "March 14, 2007"]
# Words of the observation, of the weighing's fact, and of every text above.
CONTENT = ["glorifying", "class group chat", "justified", "attack video", "pupil care team", "headmistress", "Kwartelkoning",
           "99 88 77", "outside the chat group", "online friends", "kiosk", "finish school", "quarrel",
           "railway station", "drama workshop", "Turns up to every", "videos stupid", "theatre company",
           "preparations of any kind", "aunt in Namur"]
SECRETS = NAMES + NATIONAL_NUMBER + ADDRESS + BIRTH + CONTENT


def test_the_secrets_cover_every_text():
    """A guard on the lists above: each text written is checked by at least one of its words."""
    for text in [OBSERVATION, FACT, *TEXTS, *IDENTITY.values()]:
        assert any(secret in text for secret in SECRETS), text


@pytest.fixture
def cell(app, cells) -> Cell:
    return ready_cell(app, cells[LEUVEN], LEUVEN)


def full_case(app, cell: Cell, *, close: bool = False) -> tuple[int, str]:
    """A case with everything a cell writes about a person: two signals (one added later), the
    weighing, the goal, a measure, a team and a restricted note, a review and the LTF feedback;
    closed when asked. Each weighing and the closure are proposed by the coordinator and
    confirmed by the partner (their proposals, with what they decide, stay stored). Returns (id, code)."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        coordinator, partner = membership(cell.coordinator), membership(cell.partner)
        signal = signals.submit_signal(partner, signal_values(assessment_note=ASSESSMENT_NOTE))
        confirmed(weighing_ops.weigh_signal(signal, coordinator, weighing_values(cell, rationale=RATIONALE)), cell.partner)
        case = db.session.get(Case, signal.case_id)
        again = signals.submit_signal(coordinator, signal_values(channel="phone", reporter_contact=REPORTER))
        confirmed(weighing_ops.weigh_signal(again, coordinator, weighing_values(cell, decision=WeighingDecision.ADD_TO_CASE,
                                                                           case_id=case.id)), cell.partner)
        cases.change_case(case, coordinator, {"goal": GOAL})
        cases.add_measure(case, coordinator, {"description": MEASURE, "organisation_id": partner.organisation_id,
                                              "due_on": date.today() + timedelta(days=20), "category": "education"})
        cases.add_note(case, partner, {"body": TEAM_NOTE, "visibility": NoteVisibility.TEAM})
        cases.add_note(case, membership(cell.information_officer),
                       {"body": RESTRICTED_NOTE, "visibility": NoteVisibility.RESTRICTED})
        cases.hold_review(case, cases.next_open_review(case), coordinator,
                          {"outcome": "continue", "summary": REVIEW_SUMMARY})
        cases.start_feedback(case, coordinator, FEEDBACK)
        if close:
            confirmed(cases.close_case(case, coordinator, {"reason": ClosureReason.MOVED_AWAY, "municipality": "44021", "note": CLOSURE_NOTE}),
                      case_confirmer(cell, case))
        case_id, code = case.id, case.code
        db.session.commit()
        db.session.remove()
    return case_id, code


def leaks(dump: str) -> list[str]:
    return [secret for secret in SECRETS if secret in dump]


# --- a database dump ----------------------------------------------------------------------------


def database_dump(app) -> str:
    """What someone holding a copy of the database sees: pg_dump's output, or the SQLite
    database file (with its write-ahead log) byte for byte."""
    settings = app.extensions["livc.settings"]
    with app.app_context():
        db.session.remove()
        dialect = db.engine.dialect.name
        db.engine.dispose()  # every connection closed: what is committed is in the files
    if dialect == "sqlite":
        database = settings.data_dir / "livc.sqlite"
        parts = [path.read_bytes() for path in (database, database.with_name("livc.sqlite-wal")) if path.exists()]
        return b"".join(parts).decode("utf-8", errors="replace")
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        service_unavailable("pg_dump", FileNotFoundError("pg_dump"), "install postgresql-client: the dump test needs it")
    # As the superuser the suite connects with: row-level security hides nothing from it.
    name = make_url(settings.database_url).database
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql", database=name)
    done = subprocess.run([pg_dump, "--no-owner", "--dbname", url.render_as_string(hide_password=False)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "version mismatch" in done.stderr:
        service_unavailable("a pg_dump matching the server", RuntimeError(done.stderr.strip()), "install the server's client version")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_database_dump_holds_no_identity_and_no_case_content(app, cell):
    _, code = full_case(app, cell, close=True)
    dump = database_dump(app)
    # The dump is the real thing: what is kept in clear is in it (the case code, the members'
    # addresses), and the encrypted fields.
    assert code in dump and cell.coordinator.email in dump and "v1." in dump
    assert leaks(dump) == []


# --- erasure ---------------------------------------------------------------------------------


def ciphertexts_of(case_id: int) -> list[tuple[str, str, str]]:
    """Every encrypted value stored about the case and its person: (table, token, key scope)."""
    case = db.session.get(Case, case_id)
    signal_rows = db.session.scalars(sa.select(Signal).where(Signal.case_id == case_id)).all()
    signal_ids = [signal.id for signal in signal_rows]
    identity_ids = {case.identity_id} | {signal.identity_id for signal in signal_rows}
    rows = [case, *signal_rows]
    rows += db.session.scalars(sa.select(Identity).where(Identity.id.in_(identity_ids))).all()
    rows += db.session.scalars(sa.select(Weighing).where(Weighing.signal_id.in_(signal_ids))).all()
    rows += db.session.scalars(sa.select(WeighingFact).where(WeighingFact.signal_id.in_(signal_ids))).all()
    for model in (Measure, ProgressNote, Review, LtfFeedback):
        rows += db.session.scalars(sa.select(model).where(model.case_id == case_id)).all()
    # The joint decisions: what the weighings and the closure proposed (rationale, facts, note).
    rows += db.session.scalars(sa.select(Proposal).where(sa.or_(
        sa.and_(Proposal.subject_type == "signal", Proposal.subject_id.in_(signal_ids)),
        sa.and_(Proposal.subject_type == "case", Proposal.subject_id == case_id),
    ))).all()
    found = []
    for row in rows:
        for column in row.__table__.columns:
            token = getattr(row, column.key)
            if column.key.endswith("_ciphertext") and token:
                found.append((row.__tablename__, token, row.key_scope))
    return found


def test_after_erasure_nothing_of_the_person_can_be_decrypted(app, cell):
    case_id, code = full_case(app, cell, close=True)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        # Another person's signal, in the same cell: erasure leaves it alone.
        other = signals.submit_signal(membership(cell.partner), signal_values(
            given_names="Jan", family_name="Anders", national_number="01.02.03-456.78", date_of_birth="2001-02-03",
            address="Elders 1, 3000 Leuven", observation="Other."))
        other_id = other.id
        db.session.commit()

        stored = ciphertexts_of(case_id)
        tables = {table for table, _, _ in stored}
        assert tables == {"cases", "signals", "identities", "weighings", "weighing_facts", "measures",
                          "progress_notes", "case_reviews", "ltf_feedback", "decision_proposals"}
        scopes = {scope for _, _, scope in stored}
        assert len([s for s in scopes if s.startswith("signal:")]) == 2
        assert len([s for s in scopes if s.startswith("identity:")]) == 2
        assert f"case:{case_id}" in scopes
        # Readable until erasure.
        assert all(decrypt(token, scope) for _, token, scope in stored)

        erase_after = db.session.get(Case, case_id).erase_after
        due = retention.apply_retention(erase_after + timedelta(days=1))
        assert [(item.kind, item.reference) for item in due] == [("case", code)]
        db.session.commit()

    with app.test_request_context(), tenant_context(cell.tenant_id):
        for table, token, scope in stored:
            with pytest.raises(KeyDestroyed):
                decrypt(token, scope)
        keys = {key.scope: key for key in db.session.scalars(sa.select(DataKey).where(DataKey.scope.in_(scopes)))}
        assert set(keys) == scopes
        assert all(key.wrapped_key is None and key.destroyed_at is not None for key in keys.values())
        # No row points at the case any more, and its people are gone.
        for table in db.Model.metadata.sorted_tables:
            if "case_id" in table.c:
                referring = db.session.scalar(sa.select(sa.func.count()).select_from(table).where(table.c.case_id == case_id))
                assert referring == 0, table.name
        identity_ids = [int(scope.split(":")[1]) for scope in scopes if scope.startswith("identity:")]
        assert db.session.scalar(sa.select(sa.func.count(Identity.id)).where(Identity.id.in_(identity_ids))) == 0
        assert db.session.get(Case, case_id) is None
        assert db.session.scalar(sa.select(sa.func.count(Proposal.id))) == 0  # the decisions went with them
        # The blind index finds nothing, by name or number; the other person is still there.
        assert cases.search_people(name="Élodie Van den Berghe") == []
        assert cases.search_people(name=IDENTITY["family_name"]) == []
        assert cases.search_people(national_number=IDENTITY["national_number"]) == []
        assert [hit.record_id for hit in cases.search_people(name="Jan Anders")] == [other_id]
        assert db.session.get(Signal, other_id).observation == "Other."
        # What stays: one anonymous count.
        tallies = db.session.scalars(sa.select(ErasureTally)).all()
        assert [(t.record, t.count, t.outcome, t.year) for t in tallies] == [
            ("case", 1, "moved_away", date.today().year)]
        erased = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "case.erased"))
        assert erased.subject == f"case:{code}"


# --- the audit trail holds every read -------------------------------------------------------------


def entries(action: str) -> list[AuditEntry]:
    return db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()


IDENTITY_FORMS = NAMES + NATIONAL_NUMBER + ADDRESS + BIRTH


class Reader:
    """A member's browser and API client, with a live session and the CSRF token for changes."""

    def __init__(self, app, member):
        self.client = app.test_client()
        give_session(app, self.client, member)
        token = self.client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
        self.headers = {"X-CSRFToken": token, "Accept-Language": "en"}
        self.actor = f"account:{member.account_id}"

    def get(self, path: str) -> str:
        response = self.client.get(f"/{LEUVEN}{path}", headers=self.headers)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response.get_data(as_text=True)

    def post(self, path: str, **kwargs):
        response = self.client.post(f"/{LEUVEN}{path}", headers=self.headers, **kwargs)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:500])
        return response


def test_every_read_is_in_the_audit_trail_with_who_read_it_and_without_content(app, cell):
    case_id, code = full_case(app, cell)
    with app.app_context(), tenant_context(cell.tenant_id):
        signal_ids = db.session.scalars(sa.select(Signal.id).where(Signal.case_id == case_id).order_by(Signal.id)).all()
        references = [db.session.get(Signal, signal_id).reference for signal_id in signal_ids]
        db.session.remove()
    coordinator, partner = Reader(app, cell.coordinator), Reader(app, cell.partner)

    # The case page and its API answer: content for its readers, never the identity.
    for page in (coordinator.get(f"/cases/{case_id}"), coordinator.get(f"/api/cases/{case_id}"),
                 partner.get(f"/cases/{case_id}")):
        assert [text for text in IDENTITY_FORMS if text in page] == []
    # The identity, revealed on purpose (the page's form, and the API).
    shown = coordinator.post(f"/cases/{case_id}/identity/reveal", data={"reveal": "yes"}).get_data(as_text=True)
    assert IDENTITY["family_name"] in shown
    answer = coordinator.post(f"/api/cases/{case_id}/identity/reveal", json={}).get_json()
    assert answer["identity"]["family_name"] == IDENTITY["family_name"]
    # Signals: the partner reads the one they reported, the coordinator the one they logged.
    partner.get(f"/api/signals/{signal_ids[0]}")
    coordinator.get(f"/signals/{signal_ids[1]}")
    # Is the person known here? Asked by name; answered with codes and references only.
    hits = coordinator.post("/api/search", json={"name": "Élodie Van den Berghe"}).get_json()["hits"]
    assert code in str(hits) and [text for text in IDENTITY_FORMS if text in str(hits)] == []

    with app.app_context(), tenant_context(cell.tenant_id):
        reads = [(e.actor, e.subject, e.details.get("part")) for e in entries("case.read")]
        # The coordinator's page and API answer, then the partner's page (other parts may follow).
        assert [(actor, subject) for actor, subject, part in reads if part == "case"] == [
            (coordinator.actor, f"case:{code}"), (coordinator.actor, f"case:{code}"), (partner.actor, f"case:{code}")]
        reveals = [(e.actor, e.subject) for e in entries("case.identity_revealed")]
        assert reveals == [(coordinator.actor, f"case:{code}")] * 2
        signal_reads = [(e.actor, e.subject) for e in entries("signal.read")]
        assert signal_reads == [(partner.actor, f"signal:{references[0]}"),
                                (coordinator.actor, f"signal:{references[1]}")]
        [searched] = entries("identity.searched")
        assert searched.actor == coordinator.actor and searched.details == {"hits": 3}  # the case, its two signals
        # Nothing of the person in the whole trail: not in subjects, not in details.
        trail = " ".join(f"{e.actor} {e.action} {e.subject} {e.details}" for e in db.session.scalars(sa.select(AuditEntry)))
        assert leaks(trail) == []
        db.session.remove()


# --- reminders ---------------------------------------------------------------------------------


def outbox(app) -> list[str]:
    folder = app.extensions["livc.settings"].data_dir / "mail"
    mails = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        mails.append(f"To: {message['To']}\nSubject: {message['Subject']}\n\n{message.get_content()}")
    return mails


def test_reminders_name_codes_and_dates_only_and_come_once(app, cell):
    case_id, code = full_case(app, cell)
    review_due, measure_due = date.today() + timedelta(days=3), date.today() + timedelta(days=1)
    with app.app_context(), tenant_context(cell.tenant_id):
        case = db.session.get(Case, case_id)
        review = cases.next_open_review(case)
        review.due_on = case.next_review_on = review_due
        db.session.scalar(sa.select(Measure).where(Measure.case_id == case_id)).due_on = measure_due
        db.session.commit()
        # So far only the partner was asked to approve the feedback form: no code, no content.
        [asked] = outbox(app)
        assert f"To: {cell.partner.email}" in asked and code not in asked and leaks(asked) == []
        for sent in (app.extensions["livc.settings"].data_dir / "mail").glob("*.eml"):
            sent.unlink()

        assert retention.send_case_reminders() == 2  # the review and the measure
        db.session.commit()  # mail leaves once the transaction commits
        mails = outbox(app)
        assert len(mails) == 1 and f"To: {cell.coordinator.email}" in mails[0]
        # dates as the cell's first language writes them (Babel), not ISO
        shown = [format_date(day, "medium", locale="nl").replace("\u202f", " ") for day in (review_due, measure_due)]
        assert code in mails[0] and all(day in mails[0] for day in shown), mails[0]
        assert leaks(mails[0]) == []
        assert MEASURE not in mails[0] and TEAM_NOTE not in mails[0] and RESTRICTED_NOTE not in mails[0]

        # The next day's run: nothing new to remind of, so no mail.
        assert retention.send_case_reminders() == 0
        db.session.commit()
        assert len(outbox(app)) == 1
        db.session.remove()


def test_an_urgent_signal_is_mailed_to_the_coordinator_by_reference_only(app, cells):
    cell = ready_cell(app, cells[LEUVEN], LEUVEN)
    with app.test_request_context(), tenant_context(cell.tenant_id):
        calm = signals.submit_signal(membership(cell.partner), signal_values(urgency="normal"))
        urgent = signals.submit_signal(membership(cell.partner), signal_values(urgency="urgent"))
        references = calm.reference, urgent.reference
        db.session.commit()
    mails = outbox(app)
    assert len(mails) == 1
    assert f"To: {cell.coordinator.email}" in mails[0] and references[1] in mails[0] and references[0] not in mails[0]
    for secret in (IDENTITY["family_name"], IDENTITY["given_names"], OBSERVATION[:30]):
        assert secret not in mails[0]
