"""The feedback form to the Local Task Force, from its first answers to the LTF's answer.

Seeds 001 and 004: the cell decides jointly, so nobody releases the form alone: release is
offered only once every member taking part approved its current revision, and those awaited
are asked (a mail without content, once per revision; their dashboard). The information
officer, the police member, then delivers it to the LTF, prints it (page or PDF holding the
form and nothing else) and records the LTF's answer as police information. Only they do.
"""

from __future__ import annotations

import email
import email.policy
import re
import zlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from auth_helpers import give_session, post_form
from case_helpers import HERKO, LEUVEN, membership, open_case, ready_cell
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases import operations as cases
from livc.tenants.cases.models import Case, LtfFeedback, NoteVisibility, ProgressNote

EN = {"Accept-Language": "en"}
NAME = "Van den Berghe"  # the person's family name (case_helpers.IDENTITY)
ANSWERS = {
    "effectiveness": "The talks with the pupil guidance centre work well.",
    "cooperation": "Comes to every appointment.",
    "distance": "Says the video was a mistake; no new posts.",
    "further_follow_up": "useful",
    "further_note": "Until the end of the school year.",
    "other_elements": "Mentoring by a youth worker; school informed.",
    "terrorist_phase": "no",
    "phase_explanation": "No sign of preparation of any act.",
}
LTF_ANSWER = "The LTF keeps the file open; the local police follows up on the chat group."
RELEASE_LINK = "Release to the information officer"
RELEASE_BOX = "Yes, release this revision to the information officer."
BRUSSELS = ZoneInfo("Europe/Brussels")


@pytest.fixture
def cell(app, cells):
    """A cell speaking English first (its mails go out in its first language)."""
    with app.app_context():
        db.session.get(Tenant, cells[LEUVEN]).languages = ["en", "nl"]
        db.session.commit()
        db.session.remove()
    return ready_cell(app, cells[LEUVEN], LEUVEN)


@pytest.fixture
def case(app, cell):
    """(id, code) of a case with the partner (CLB) in its team: the coordinator and the partner take part."""
    return open_case(app, cell)


def client_for(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def case_path(case_id: int) -> str:
    return f"/{LEUVEN}/cases/{case_id}"


def text(response) -> str:
    return response.get_data(as_text=True)


def the_form(app, cell, case_id: int) -> LtfFeedback:
    with app.app_context(), tenant_context(cell.tenant_id):
        feedback = db.session.scalars(sa.select(LtfFeedback).where(LtfFeedback.case_id == case_id)).one()
        db.session.expunge(feedback)
        return feedback


def trail(app, cell, action: str) -> list[AuditEntry]:
    with app.app_context(), tenant_context(cell.tenant_id):
        entries = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)).all()
        db.session.expunge_all()
        return entries


def outbox(app) -> list[email.message.EmailMessage]:
    folder = app.extensions["livc.settings"].data_dir / "mail"
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(folder.glob("*.eml"))] if folder.exists() else []


def approval_mails(app) -> list[email.message.EmailMessage]:
    return [mail for mail in outbox(app) if "waits for your approval" in mail["Subject"]]


def started(app, cell, case_id: int, answers: dict | None = ANSWERS) -> str:
    """The coordinator starts the form (with ``answers``, or empty): the form's address."""
    coordinator = client_for(app, cell.coordinator)
    data = answers if answers else {"confirm": "yes"}
    assert post_form(coordinator, f"{case_path(case_id)}/feedback", data, form_path=case_path(case_id)).status_code == 302
    return f"{case_path(case_id)}/feedback/{the_form(app, cell, case_id).id}"


def approve(app, member, form: str) -> None:
    client = client_for(app, member)
    revision = re.search(r'name="revision" value="(\d+)"', text(client.get(form))).group(1)
    assert post_form(client, f"{form}/approve", {"revision": revision}, form_path=form).status_code == 302


def released(app, cell, case_id: int) -> int:
    """A form answered, approved by both participants and released: its id."""
    form = started(app, cell, case_id)
    approve(app, cell.coordinator, form)
    approve(app, cell.partner, form)
    assert post_form(client_for(app, cell.coordinator), f"{form}/release", {"confirm": "yes"}).status_code == 302
    return the_form(app, cell, case_id).id


def ltf(feedback_id: int, part: str = "") -> str:
    return f"/{LEUVEN}/ltf-feedback/{feedback_id}{part}"


def belgian(moment: datetime) -> str:
    """A stored time (naive UTC) as the date-and-time field sends it, in Belgian time."""
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(BRUSSELS).strftime("%Y-%m-%dT%H:%M")


# --- 1. release only once every approval is in --------------------------------------------------


def test_release_is_offered_only_once_every_member_taking_part_approved(app, cell, case):
    case_id, _code = case
    form = started(app, cell, case_id)
    coordinator = client_for(app, cell.coordinator)

    # Nobody approved yet: the form says who is awaited and offers no release.
    page = text(coordinator.get(form, headers=EN))
    assert "has not approved yet" in page and "Test partner has not approved yet" in page
    assert "once every member taking part approved revision 1" in page
    assert RELEASE_LINK not in page
    # The release page says what holds the form, without any release button.
    refusal = coordinator.get(f"{form}/release", headers=EN)
    assert refusal.status_code == 200 and "The form cannot be released yet:" in text(refusal)
    assert RELEASE_BOX not in text(refusal) and ">Release</button>" not in text(refusal)

    # One approval in: still no release, neither offered nor taken; the refusal offers none either.
    approve(app, cell.coordinator, form)
    page = text(coordinator.get(form, headers=EN))
    assert "Test coordinator approved" in page and "Test partner has not approved yet" in page
    assert RELEASE_LINK not in page
    refused = post_form(coordinator, f"{form}/release", {"confirm": "yes"}, headers=EN)
    assert refused.status_code == 422 and "waiting for: Test partner" in text(refused)
    assert RELEASE_BOX not in text(refused) and ">Release</button>" not in text(refused)
    assert not the_form(app, cell, case_id).released

    # Every approval in: release is offered, and taken.
    approve(app, cell.partner, form)
    page = text(coordinator.get(form, headers=EN))
    assert RELEASE_LINK in page and "has not approved yet" not in page
    confirm = text(coordinator.get(f"{form}/release", headers=EN))
    assert RELEASE_BOX in confirm and "cannot be released yet" not in confirm
    assert post_form(coordinator, f"{form}/release", {"confirm": "yes"}).status_code == 302
    assert the_form(app, cell, case_id).released
    assert RELEASE_LINK not in text(coordinator.get(form, headers=EN))


def test_the_partner_who_may_approve_is_never_offered_the_release(app, cell, case):
    case_id, _code = case
    form = started(app, cell, case_id)
    approve(app, cell.coordinator, form)
    approve(app, cell.partner, form)
    partner = client_for(app, cell.partner)
    assert RELEASE_LINK not in text(partner.get(form, headers=EN))
    assert post_form(partner, f"{form}/release", {"confirm": "yes"}, form_path=form).status_code == 403


def test_once_approved_a_form_still_missing_an_answer_says_so_instead_of_offering_release(app, cell, case):
    case_id, _code = case
    form = started(app, cell, case_id, {"effectiveness": "Too early to say."})
    approve(app, cell.coordinator, form)
    approve(app, cell.partner, form)
    page = text(client_for(app, cell.coordinator).get(form, headers=EN))
    assert RELEASE_LINK not in page
    assert "The form cannot be released yet:" in page and "Answer this question before the form is released." in page


# --- 2. revision numbers -------------------------------------------------------------------------


def test_the_first_answers_of_an_empty_form_are_revision_1_and_each_change_the_next(app, cell, case):
    case_id, _code = case
    form = started(app, cell, case_id, answers=None)
    coordinator = client_for(app, cell.coordinator)
    saved = post_form(coordinator, f"{form}/edit", ANSWERS, headers=EN)
    assert saved.status_code == 302
    assert "Saved as revision 1" in text(coordinator.get(form, headers=EN))
    assert the_form(app, cell, case_id).revision == 1

    post_form(coordinator, f"{form}/edit", ANSWERS)  # nothing changed: no new revision
    assert the_form(app, cell, case_id).revision == 1
    post_form(coordinator, f"{form}/edit", dict(ANSWERS, distance="Distanced, with some doubts."))
    assert the_form(app, cell, case_id).revision == 2


def test_a_form_started_with_answers_is_revision_1(app, cell, case):
    case_id, _code = case
    with app.test_request_context(), tenant_context(cell.tenant_id):
        feedback = cases.start_feedback(db.session.get(Case, case_id), membership(cell.coordinator), ANSWERS)
        assert feedback.revision == 1
        db.session.rollback()


# --- 3. the members awaited are asked -------------------------------------------------------------


def test_the_members_awaited_are_asked_once_per_revision_by_a_mail_without_content(app, cell, case):
    case_id, code = case
    form = started(app, cell, case_id, answers=None)
    assert approval_mails(app) == []  # an empty form asks nobody

    coordinator = client_for(app, cell.coordinator)
    post_form(coordinator, f"{form}/edit", ANSWERS)
    [mail] = approval_mails(app)
    # The partner only: the coordinator made the revision; the others take no part.
    assert mail["To"] == cell.partner.email
    body = mail.get_content()
    assert mail["Subject"] == f"A feedback form waits for your approval ({the_cell_name(app, cell)})"
    assert "A feedback form to the Local Task Force of a case of your cell waits for your approval." in body
    assert f"/{LEUVEN}/cases/{case_id}" in body
    for secret in (code, NAME, *[answer for answer in ANSWERS.values() if len(answer) > 5]):
        assert secret not in body and secret not in mail["Subject"]

    # Saving without a change, approving: no new mail. A change: a new revision, asked once more.
    post_form(coordinator, f"{form}/edit", ANSWERS)
    approve(app, cell.partner, form)
    assert len(approval_mails(app)) == 1
    post_form(coordinator, f"{form}/edit", dict(ANSWERS, distance="Distanced, with some doubts."))
    assert [mail["To"] for mail in approval_mails(app)] == [cell.partner.email] * 2
    asked = trail(app, cell, "case.feedback_approval_asked")
    assert [(entry.details["revision"], entry.details["recipients"]) for entry in asked] == [
        (1, [cell.partner.membership_id]), (2, [cell.partner.membership_id])]


def test_the_form_waits_on_the_dashboard_of_each_member_awaited(app, cell, case):
    case_id, _code = case
    form = started(app, cell, case_id)

    def waiting_for(member) -> list[int]:
        board = client_for(app, member).get(f"/{LEUVEN}/api/dashboard", headers=EN).get_json()["dashboard"]
        return [entry["feedback_id"] for entry in board["feedback_to_approve"]]

    feedback_id = the_form(app, cell, case_id).id
    assert waiting_for(cell.partner) == [feedback_id] and waiting_for(cell.coordinator) == [feedback_id]
    assert waiting_for(cell.social) == [] and waiting_for(cell.information_officer) == []
    approve(app, cell.partner, form)
    assert waiting_for(cell.partner) == []


# --- 4. the information officer -------------------------------------------------------------------


def test_the_information_officer_marks_the_released_form_delivered_with_its_time(app, cell, case):
    case_id, _code = case
    feedback_id = released(app, cell, case_id)
    officer = client_for(app, cell.information_officer)
    page = text(officer.get(ltf(feedback_id), headers=EN))
    assert "Mark delivered" in page

    later = post_form(officer, ltf(feedback_id, "/delivered"), {"delivered_at": belgian(utcnow() + timedelta(days=1))},
                      form_path=ltf(feedback_id), headers=EN)
    assert later.status_code == 422 and "cannot have been delivered later than now" in text(later)
    assert not the_form(app, cell, case_id).delivered

    handed = utcnow().replace(second=0, microsecond=0)
    assert post_form(officer, ltf(feedback_id, "/delivered"), {"delivered_at": belgian(handed)},
                     form_path=ltf(feedback_id)).status_code == 302
    feedback = the_form(app, cell, case_id)
    assert feedback.delivered_at == handed and feedback.delivered_by_id == cell.information_officer.membership_id
    [entry] = trail(app, cell, "case.feedback_delivered")
    assert entry.details["delivered_at"] == handed.isoformat() and entry.actor == f"account:{cell.information_officer.account_id}"

    again = post_form(officer, ltf(feedback_id, "/delivered"), {"delivered_at": belgian(handed)},
                      form_path=ltf(feedback_id), headers=EN)
    assert again.status_code == 422 and "marked delivered already" in text(again)
    # The case team reads where the form stands.
    assert "delivered the form to the Local Task Force on" in text(
        client_for(app, cell.partner).get(f"{case_path(case_id)}/feedback/{feedback_id}", headers=EN))


def test_only_the_cleared_information_officer_delivers_prints_and_records_the_answer(app, cell, case):
    case_id, _code = case
    feedback_id = released(app, cell, case_id)
    acts = [("POST", "/delivered", {"delivered_at": belgian(utcnow())}), ("POST", "/answer", {"answer": LTF_ANSWER}),
            ("GET", "/print", None), ("GET", "/pdf", None)]
    for member in (cell.coordinator, cell.partner, cell.mayor, cell.social):
        client = client_for(app, member)
        for method, part, data in acts:
            if method == "GET":
                answer = client.get(ltf(feedback_id, part))
            else:
                answer = post_form(client, ltf(feedback_id, part), data, form_path=f"/{LEUVEN}/home")
            assert answer.status_code == 403, (member.email, part)
    # The coordinator reads the form, without the information officer's buttons.
    page = text(client_for(app, cell.coordinator).get(ltf(feedback_id), headers=EN))
    assert "Mark delivered" not in page and "Download as PDF" not in page
    assert not the_form(app, cell, case_id).delivered
    assert [e.details["action"] for e in trail(app, cell, "access.denied")].count("ltf.liaison") == 16

    # An information officer whose clearance expired is refused too.
    with app.app_context(), tenant_context(cell.tenant_id):
        membership(cell.information_officer).clearance_expires_on = utcnow().date() - timedelta(days=1)
        db.session.commit()
    assert client_for(app, cell.information_officer).get(ltf(feedback_id, "/print")).status_code == 403


def test_a_form_in_preparation_is_not_delivered_printed_nor_answered(app, cell, case):
    case_id, _code = case
    started(app, cell, case_id)
    feedback_id = the_form(app, cell, case_id).id
    officer = client_for(app, cell.information_officer)
    for part in ("/print", "/pdf"):
        assert officer.get(ltf(feedback_id, part)).status_code == 404
    assert post_form(officer, ltf(feedback_id, "/delivered"), {"delivered_at": belgian(utcnow())},
                     form_path=f"/{LEUVEN}/home").status_code == 404


def test_the_printed_form_and_its_pdf_hold_the_form_and_nothing_else(app, cell, case):
    case_id, code = case
    feedback_id = released(app, cell, case_id)
    with app.app_context(), tenant_context(cell.tenant_id):
        cases.add_note(db.session.get(Case, case_id), membership(cell.coordinator),
                       {"body": "Restricted: the police knows the brother.", "visibility": NoteVisibility.RESTRICTED})
        db.session.commit()
    officer = client_for(app, cell.information_officer)

    printed = officer.get(ltf(feedback_id, "/print"), headers=EN)
    assert printed.status_code == 200 and printed.headers["Cache-Control"] == "no-store"
    page = text(printed)
    assert "print.css" in page and code in page
    for answer in ("The talks with the pupil guidance centre work well.", "Yes, further follow-up by the cell is useful"):
        assert answer in page
    for absent in (NAME, "Test partner", "Test coordinator", "the police knows the brother"):
        assert absent not in page

    pdf = officer.get(ltf(feedback_id, "/pdf"), headers=EN)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Cache-Control"] == "no-store"
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="ltf-feedback-{code}-1.pdf"'
    assert pdf.data.startswith(b"%PDF-")
    written = pdf_text(pdf.data)
    assert code in written and "Comes to every appointment." in written
    assert "Is the person in a phase where they could move to terrorist acts?" in written
    for absent in (NAME, "Test partner", "Test coordinator", "the police knows the brother", "Van den"):
        assert absent not in written

    parts = [entry.details["part"] for entry in trail(app, cell, "case.read")]
    assert parts[-2:] == ["feedback_print", "feedback_pdf"]


def test_the_ltf_answer_is_police_information_on_the_case_recorded_by_the_information_officer(app, cell, case):
    case_id, _code = case
    feedback_id = released(app, cell, case_id)
    officer = client_for(app, cell.information_officer)
    early = post_form(officer, ltf(feedback_id, "/answer"), {"answer": LTF_ANSWER}, form_path=ltf(feedback_id), headers=EN)
    assert early.status_code == 422 and "Mark the form delivered" in text(early)

    post_form(officer, ltf(feedback_id, "/delivered"), {"delivered_at": belgian(utcnow())}, form_path=ltf(feedback_id))
    empty = post_form(officer, ltf(feedback_id, "/answer"), {"answer": "  "}, form_path=ltf(feedback_id))
    assert empty.status_code == 422
    assert post_form(officer, ltf(feedback_id, "/answer"), {"answer": LTF_ANSWER},
                     form_path=ltf(feedback_id)).status_code == 302

    with app.app_context(), tenant_context(cell.tenant_id):
        feedback = db.session.get(LtfFeedback, feedback_id)
        note = db.session.get(ProgressNote, feedback.answer_note_id)
        assert note.visibility == NoteVisibility.RESTRICTED and note.case_id == case_id
        assert note.body == LTF_ANSWER and LTF_ANSWER not in note.body_ciphertext
        assert note.author_id == cell.information_officer.membership_id
    [entry] = trail(app, cell, "case.feedback_answer_recorded")
    assert LTF_ANSWER not in str(entry.details)

    # Those who may read police information read it; the case team does not.
    assert LTF_ANSWER in text(officer.get(ltf(feedback_id), headers=EN))
    coordinator = client_for(app, cell.coordinator)
    assert LTF_ANSWER in text(coordinator.get(f"{case_path(case_id)}/feedback/{feedback_id}", headers=EN))
    assert LTF_ANSWER in text(coordinator.get(case_path(case_id), headers=EN))
    partner = client_for(app, cell.partner)
    assert LTF_ANSWER not in text(partner.get(f"{case_path(case_id)}/feedback/{feedback_id}", headers=EN))
    assert LTF_ANSWER not in text(partner.get(case_path(case_id), headers=EN))

    again = post_form(officer, ltf(feedback_id, "/answer"), {"answer": "More."}, form_path=ltf(feedback_id), headers=EN)
    assert again.status_code == 422 and "recorded already" in text(again)


def test_another_cells_information_officer_finds_nothing(app, cells, cell, case):
    case_id, _code = case
    feedback_id = released(app, cell, case_id)
    neighbour = ready_cell(app, cells[HERKO], HERKO)
    officer = client_for(app, neighbour.information_officer)
    for part in ("", "/print", "/pdf"):
        assert officer.get(f"/{HERKO}/ltf-feedback/{feedback_id}{part}").status_code == 404
    assert post_form(officer, f"/{HERKO}/ltf-feedback/{feedback_id}/delivered", {"delivered_at": belgian(utcnow())},
                     form_path=f"/{HERKO}/home").status_code == 404
    assert not the_form(app, cell, case_id).delivered


# --- helpers that read ------------------------------------------------------------------------------


def the_cell_name(app, cell) -> str:
    with app.app_context():
        return db.session.get(Tenant, cell.tenant_id).name


def pdf_text(data: bytes) -> str:
    """The text a PDF of fpdf2 shows, page by page (its content streams, inflated)."""
    shown = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for literal in re.findall(rb"\((.*?)(?<!\\)\)\s*Tj", content, re.S):
            shown.append(re.sub(rb"\\(.)", rb"\1", literal).decode("cp1252"))
    return " ".join(shown)
