"""Cooperation after a match (issue 15, part 6): the shared thread of two cells once both
confirmed an alert, and the hand-over of a case when the person moves. Through the pages, with
the real in-process custodian and inline jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import re

import pytest
import sqlalchemy as sa

from auth_helpers import add_member, give_session, post_form
from case_helpers import (
    HERKO,
    LEUVEN,
    case_confirmer,
    confirmed,
    membership,
    ready_cell,
    signal_values,
    weighed_and_confirmed,
)
from livc.federation import alerts, linking
from livc.federation.models import (
    CooperationThread,
    Handover,
    HandoverFile,
    HandoverStatus,
    MatchAlert,
    ThreadEntry,
)
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant, TenantMunicipality

EN = {"Accept-Language": "en"}
AMRANI_L = {"given_names": "Mohammed", "family_name": "El Amrani", "date_of_birth": "1990-03-07",
            "national_number": "", "address": ""}
AMRANI_H = {"given_names": "Muhammad", "family_name": "Elamrani", "date_of_birth": "1990-03-07",
            "national_number": "", "address": ""}
SECRET = "Seen at the station on Friday with the older brother"


@pytest.fixture
def two(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN), ready_cell(app, cells[HERKO], HERKO)


def open_person(app, cell, identity) -> tuple[int, str]:
    from livc.tenants.signals.operations import submit_signal

    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(cell.partner), signal_values(**identity))
        case_id = weighed_and_confirmed(cell, signal)
        code = db.session.scalar(sa.text("select code from cases where id = :id"), {"id": case_id})
        db.session.commit()
        db.session.remove()
    return case_id, code


def as_cell(app, cell, func):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        result = func()
        db.session.commit()
        db.session.remove()
    return result


def client_of(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def alert_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(MatchAlert.id))


def matched(app, leuven, herko) -> tuple[int, int, int]:
    """Linked cells following the same person: (alert id, Leuven's case id, Herko's case id)."""
    as_cell(app, leuven, lambda: linking.request_link(leuven.tenant_id, herko.tenant_id, membership(leuven.coordinator)))
    as_cell(app, herko, lambda: linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator)))
    case_l, _ = open_person(app, leuven, AMRANI_L)
    case_h, _ = open_person(app, herko, AMRANI_H)
    return alert_id(app), case_l, case_h


def confirm_both(app, leuven, herko, alert: int) -> None:
    """The earlier cell (Leuven's case was enrolled first) confirms, then the newer one."""
    as_cell(app, leuven, lambda: alerts.confirm(leuven.tenant_id, alert, membership(leuven.coordinator)))
    as_cell(app, herko, lambda: alerts.confirm(herko.tenant_id, alert, membership(herko.coordinator)))


def start_thread(app, leuven, alert: int):
    client = client_of(app, leuven.coordinator)
    answer = post_form(client, f"/{LEUVEN}/federation/cooperation/open", {"alert": str(alert)},
                       form_path=f"/{LEUVEN}/federation/cooperation", headers=EN)
    return client, answer


def thread_id(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(CooperationThread.id))


def entries_in(app, cell) -> list[ThreadEntry]:
    with app.app_context(), tenant_context(cell.tenant_id):
        found = db.session.scalars(sa.select(ThreadEntry).order_by(ThreadEntry.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return found


def actions_in(app, cell) -> list[tuple[str, str | None]]:
    with app.app_context(), tenant_context(cell.tenant_id):
        found = [(e.action, e.subject) for e in db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq))]
        db.session.remove()
    return found


def thread_path(slug: str, thread: int) -> str:
    return f"/{slug}/federation/cooperation/thread?thread={thread}"


def say(client, slug, thread, body, headers=EN):
    return post_form(client, f"/{slug}/federation/cooperation/thread", {"thread": str(thread), "action": "post", "body": body},
                     form_path=thread_path(slug, thread), headers=headers)


# --- the thread -----------------------------------------------------------------------------------


def test_a_thread_opens_only_once_both_cells_confirmed(app, two):
    leuven, herko = two
    alert, _, _ = matched(app, leuven, herko)
    as_cell(app, leuven, lambda: alerts.confirm(leuven.tenant_id, alert, membership(leuven.coordinator)))

    _client, refused = start_thread(app, leuven, alert)
    assert refused.status_code == 422
    assert "only once both cells confirmed" in text(refused)
    assert thread_id(app) is None

    as_cell(app, herko, lambda: alerts.confirm(herko.tenant_id, alert, membership(herko.coordinator)))
    _client, opened = start_thread(app, leuven, alert)
    assert opened.status_code == 302
    assert thread_id(app) is not None


def outbox(app) -> list[email.message.EmailMessage]:
    folder = app.extensions["livc.settings"].data_dir / "mail"
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(folder.glob("*.eml"))]


def test_a_message_is_kept_encrypted_in_both_cells_audited_in_both_and_mailed_without_content(app, two):
    leuven, herko = two
    alert, _, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)

    assert say(ask, LEUVEN, thread, SECRET).status_code == 302

    for cell in (leuven, herko):
        [entry] = entries_in(app, cell)
        assert entry.tenant_id == cell.tenant_id
        assert SECRET not in entry.body_ciphertext and "Friday" not in entry.body_ciphertext
    assert ("federation.thread_message_sent", f"thread:{thread}") in actions_in(app, leuven)
    assert ("federation.thread_message_received", f"thread:{thread}") in actions_in(app, herko)

    # Herko's coordinator reads it in its own copy; the read is audited as a read of its case.
    reader = client_of(app, herko.coordinator)
    page = reader.get(thread_path(HERKO, thread), headers=EN)
    assert page.status_code == 200 and SECRET in text(page)
    assert any(action == "case.read" for action, _subject in actions_in(app, herko))

    # The mail to Herko names the cells and the reference, never the message.
    mails = [mail for mail in outbox(app) if "FED-" in mail["subject"]]
    assert mails and all(SECRET not in mail.get_content() and "Amrani" not in mail.get_content() for mail in mails)
    assert {mail["To"] for mail in mails} == {herko.coordinator.email}


def test_information_officers_take_part_only_when_both_cells_agreed(app, two):
    leuven, herko = two
    alert, _, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)
    officer = client_of(app, leuven.information_officer)

    assert officer.get(thread_path(LEUVEN, thread), headers=EN).status_code == 404
    post_form(ask, f"/{LEUVEN}/federation/cooperation/thread", {"thread": str(thread), "action": "officers", "officers": "yes"},
              form_path=thread_path(LEUVEN, thread))
    assert officer.get(thread_path(LEUVEN, thread), headers=EN).status_code == 404  # Herko has not agreed

    answer = client_of(app, herko.coordinator)
    answer.get(thread_path(HERKO, thread))
    post_form(answer, f"/{HERKO}/federation/cooperation/thread", {"thread": str(thread), "action": "officers", "officers": "yes"},
              form_path=thread_path(HERKO, thread))
    assert officer.get(thread_path(LEUVEN, thread), headers=EN).status_code == 200
    assert say(officer, LEUVEN, thread, "From the information officer").status_code == 302

    # A partner of the cell never reaches it.
    assert client_of(app, leuven.partner).get(thread_path(LEUVEN, thread)).status_code == 403


def test_a_closed_thread_is_read_only_and_a_message_to_it_is_refused_keeping_the_text(app, two):
    leuven, herko = two
    alert, _, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)

    no_reason = post_form(ask, f"/{LEUVEN}/federation/cooperation/thread", {"thread": str(thread), "action": "close", "reason": ""},
                          form_path=thread_path(LEUVEN, thread), headers=EN)
    assert no_reason.status_code == 422 and "Say why the cooperation ends." in text(no_reason)
    closed = post_form(ask, f"/{LEUVEN}/federation/cooperation/thread",
                       {"thread": str(thread), "action": "close", "reason": "Herko takes it from here"},
                       form_path=thread_path(LEUVEN, thread))
    assert closed.status_code == 302

    answer = client_of(app, herko.coordinator)
    page = text(answer.get(thread_path(HERKO, thread), headers=EN))
    assert "This cooperation is closed" in page and "Herko takes it from here" in page
    refused = say(answer, HERKO, thread, "One more thing about the weekend")
    assert refused.status_code == 422
    body = text(refused)
    assert "This cooperation is closed" in body
    assert [entry.kind for entry in entries_in(app, herko)] == ["closed"]


def test_erasing_a_case_removes_its_cells_copy_and_tells_the_other_cell_it_left(app, two):
    from livc.tenants.cases.erasure import erase_case
    from livc.tenants.cases.models import Case

    leuven, herko = two
    alert, case_l, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)
    assert say(ask, LEUVEN, thread, SECRET).status_code == 302

    def erase():
        case = db.session.get(Case, case_l)
        erase_case(case)

    as_cell(app, leuven, erase)
    assert entries_in(app, leuven) == []
    assert [entry.kind for entry in entries_in(app, herko)] == ["message", "left"]
    page = text(client_of(app, herko.coordinator).get(thread_path(HERKO, thread), headers=EN))
    assert "The other cell left this cooperation" in page


def test_a_third_cell_sees_nothing_of_the_thread(app, two):
    leuven, herko = two
    alert, _, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)
    say(ask, LEUVEN, thread, SECRET)
    third = _third_cell(app)
    stranger = client_of(app, third)
    assert stranger.get(thread_path("third-cell", thread)).status_code == 404
    assert SECRET not in text(stranger.get("/third-cell/federation/cooperation", headers=EN))


def _third_cell(app, nis_code: str | None = None):
    with app.app_context():
        tenant = Tenant(slug="third-cell", name="Third cell", kind="municipality", languages=["nl"])
        db.session.add(tenant)
        db.session.flush()
        if nis_code:
            db.session.add(TenantMunicipality(tenant_id=tenant.id, nis_code=nis_code, name="Moved-to"))
        db.session.commit()
        tenant_id = tenant.id
        db.session.remove()
    member = add_member(app, tenant_id, "third-cell", Role.COORDINATOR)
    from livc.tenants.members.operations import accept_undertaking

    with app.app_context(), tenant_context(tenant_id):
        accept_undertaking(membership(member))
        db.session.commit()
        db.session.remove()
    return member


# --- the hand-over --------------------------------------------------------------------------------


def close_moved(app, cell, case_id: int, nis_code: str, client=None):
    """The coordinator proposes the closure through the page, a team member confirms it."""
    client = client or client_of(app, cell.coordinator)
    answer = post_form(client, f"/{cell.slug}/cases/{case_id}/close",
                       {"reason": "moved_away", "municipality": nis_code, "note": "", "way": "propose"},
                       form_path=f"/{cell.slug}/cases/{case_id}/close", headers=EN)
    if answer.status_code != 302:
        return answer
    with app.test_request_context(), tenant_context(cell.tenant_id):
        from case_helpers import latest_proposal
        from livc.tenants.cases.models import Case

        confirmed(latest_proposal(), case_confirmer(cell, db.session.get(Case, case_id)))
        db.session.commit()
        db.session.remove()
    return answer


def handovers(app) -> list[Handover]:
    with app.app_context():
        found = db.session.scalars(sa.select(Handover).order_by(Handover.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return found


def test_closing_as_moved_away_needs_a_municipality_of_the_registry(app, two):
    leuven, _ = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    client = client_of(app, leuven.coordinator)
    missing = close_moved(app, leuven, case_id, "", client)
    assert missing.status_code == 422 and "Choose the municipality the person moved to." in text(missing)
    unknown = close_moved(app, leuven, case_id, "99999", client)
    assert unknown.status_code == 422 and "Choose a Belgian municipality from the list." in text(unknown)
    assert handovers(app) == []


def test_the_closure_form_says_the_new_municipality_is_for_moved_away_only_and_keeps_what_was_typed(app, two):
    leuven, _ = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    client = client_of(app, leuven.coordinator)
    path = f"/{LEUVEN}/cases/{case_id}/close"
    page = text(client.get(path, headers=EN))
    assert "Moved to (only when the person moved away)" in page and "ignored for another reason" in page
    # The field is in the page (visible without JavaScript); a script of the site shows it only
    # for "moved away".
    assert 'data-shown-for="moved_away"' in page and 'name="municipality"' in page
    assert '<script src="/static/closure.js"' in page
    script = client.get("/static/closure.js")
    assert script.status_code == 200 and "data-shown-for" in script.get_data(as_text=True)

    refused = post_form(client, path, {"reason": "moved_away", "municipality": "", "note": "Left for Herent in May",
                                       "way": "propose"}, form_path=path, headers=EN)
    assert refused.status_code == 422
    body = text(refused)
    assert re.search(r'id="e-municipality">(<span class="govuk-visually-hidden">[^<]*</span>)?\s*Choose the municipality the person moved to\.', body)
    assert "Left for Herent in May</textarea>" in body
    assert '<option value="moved_away" selected>' in body
    assert handovers(app) == []


def test_a_hand_over_travels_to_the_covering_cell_only_on_acceptance(app, two):
    leuven, herko = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    assert close_moved(app, leuven, case_id, "24038").status_code == 302  # Herent: Herko's
    [handover] = handovers(app)
    assert handover.status == HandoverStatus.PROPOSED and handover.to_cell_id == herko.tenant_id

    case_page = text(client_of(app, leuven.coordinator).get(f"/{LEUVEN}/cases/{case_id}", headers=EN))
    assert "Hand-over to" in case_page and "Choose what it receives" in case_page

    # Not sent yet: Herko does not see it.
    receiver = client_of(app, herko.coordinator)
    assert f"handover={handover.id}" not in text(receiver.get(f"/{HERKO}/federation/cooperation", headers=EN))

    sender = client_of(app, leuven.coordinator)
    path = f"/{LEUVEN}/cases/{case_id}/handover"
    nothing = post_form(sender, path, {"summary": ""}, form_path=path, headers=EN)
    assert nothing.status_code == 422 and "Choose at least one part" in text(nothing)
    assert post_form(sender, path, {"summary": SECRET, "identity": "yes", "follow_up": "yes"}, form_path=path).status_code == 302
    with app.app_context(), tenant_context(leuven.tenant_id):
        stored = db.session.scalar(sa.select(HandoverFile.summary_ciphertext))
        assert SECRET not in stored and "Amrani" not in stored
        db.session.remove()

    # Herko sees the sending cell and the municipality only, until it accepts.
    listing = text(receiver.get(f"/{HERKO}/federation/cooperation", headers=EN))
    assert "Leuven" in listing and "Herent" in listing
    page = text(receiver.get(f"/{HERKO}/federation/handover?handover={handover.id}", headers=EN))
    assert SECRET not in page and "Amrani" not in page and "Mohammed" not in page
    with app.app_context(), tenant_context(herko.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count(HandoverFile.id))) == 0
        db.session.remove()

    assert post_form(receiver, f"/{HERKO}/federation/handover", {"handover": str(handover.id), "action": "accept"},
                     form_path=f"/{HERKO}/federation/handover?handover={handover.id}").status_code == 302
    page = text(receiver.get(f"/{HERKO}/federation/handover?handover={handover.id}", headers=EN))
    assert "waiting for the cell to weigh it together" in page
    # What travelled is on the signal, and nowhere else in the cell: the hand-over keeps only
    # the way to it, so the signal's retention erases it for good.
    assert SECRET not in page and "Amrani" not in page
    [(signal_id, _reference, _channel, _status)] = signals_in(app, herko)
    signal_page = text(receiver.get(f"/{HERKO}/signals/{signal_id}", headers=EN))
    assert SECRET in signal_page
    with app.app_context(), tenant_context(herko.tenant_id):
        copy = db.session.scalar(sa.select(HandoverFile))
        assert copy.summary == f'{{"signal_id": {signal_id}}}'
        db.session.remove()
    assert ("federation.handover_accepted", f"handover:{handover.id}") in actions_in(app, leuven)
    assert ("federation.handover_accepted", f"handover:{handover.id}") in actions_in(app, herko)


def test_a_declined_hand_over_sends_nothing_and_cannot_be_acted_on_again(app, two):
    leuven, herko = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    close_moved(app, leuven, case_id, "24055")  # Kortenberg: Herko's
    [handover] = handovers(app)
    sender = client_of(app, leuven.coordinator)
    path = f"/{LEUVEN}/cases/{case_id}/handover"
    post_form(sender, path, {"summary": SECRET}, form_path=path)

    receiver = client_of(app, herko.coordinator)
    at = f"/{HERKO}/federation/handover?handover={handover.id}"
    no_reason = post_form(receiver, f"/{HERKO}/federation/handover", {"handover": str(handover.id), "action": "decline"},
                          form_path=at, headers=EN)
    assert no_reason.status_code == 422 and "Say why your cell declines" in text(no_reason)
    assert post_form(receiver, f"/{HERKO}/federation/handover",
                     {"handover": str(handover.id), "action": "decline", "reason": "Not our municipality after all"},
                     form_path=at).status_code == 302
    again = post_form(receiver, f"/{HERKO}/federation/handover", {"handover": str(handover.id), "action": "accept"},
                      form_path=at, headers=EN)
    assert again.status_code == 422 and "declined: it cannot be acted on again" in text(again)
    with app.app_context(), tenant_context(herko.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count(HandoverFile.id))) == 0
        db.session.remove()
    page = text(sender.get(path, headers=EN))
    assert "declined" in page and "Not our municipality after all" in page


def test_no_covering_cell_the_closure_stands_and_the_case_says_so(app, two):
    leuven, _ = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    assert close_moved(app, leuven, case_id, "44021").status_code == 302  # Ghent: no cell here
    assert handovers(app) == []
    with app.app_context(), tenant_context(leuven.tenant_id):
        assert db.session.scalar(sa.text("select status from cases where id = :id"), {"id": case_id}) == "closed"
        db.session.remove()
    coordinator = client_of(app, leuven.coordinator)
    for path in (f"/{LEUVEN}/cases/{case_id}/handover", f"/{LEUVEN}/cases/{case_id}"):
        assert "no cell on the platform covers it" in text(coordinator.get(path, headers=EN))


def test_a_third_cell_sees_nothing_of_a_hand_over(app, two):
    leuven, herko = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    close_moved(app, leuven, case_id, "24038")
    [handover] = handovers(app)
    path = f"/{LEUVEN}/cases/{case_id}/handover"
    post_form(client_of(app, leuven.coordinator), path, {"summary": SECRET}, form_path=path)
    third = client_of(app, _third_cell(app))
    assert third.get(f"/third-cell/federation/handover?handover={handover.id}").status_code == 404
    assert "Leuven" not in text(third.get("/third-cell/federation/cooperation", headers=EN)).split("<main", 1)[1]


def signals_in(app, cell) -> list[tuple[int, str, str, str | None]]:
    """The cell's signals: (id, reference, channel, status)."""
    with app.app_context(), tenant_context(cell.tenant_id):
        found = [tuple(row) for row in db.session.execute(
            sa.text("select id, reference, channel, status from signals where tenant_id = :cell order by id"),
            {"cell": cell.tenant_id})]
        db.session.remove()
    return found


def sent_and_accepted(app, leuven, herko, choice: dict) -> tuple[int, Handover]:
    case_id, _ = open_person(app, leuven, AMRANI_L)
    close_moved(app, leuven, case_id, "24038")
    [handover] = handovers(app)
    path = f"/{LEUVEN}/cases/{case_id}/handover"
    post_form(client_of(app, leuven.coordinator), path, choice, form_path=path)
    receiver = client_of(app, herko.coordinator)
    assert post_form(receiver, f"/{HERKO}/federation/handover", {"handover": str(handover.id), "action": "accept"},
                     form_path=f"/{HERKO}/federation/handover?handover={handover.id}").status_code == 302
    return case_id, handover


def test_an_accepted_hand_over_waits_in_the_receiving_cells_intake_as_a_signal_to_weigh(app, two):
    leuven, herko = two
    _case, handover = sent_and_accepted(app, leuven, herko, {"summary": SECRET, "identity": "yes", "follow_up": "yes"})

    [(signal_id, reference, channel, status)] = signals_in(app, herko)
    assert (channel, status) == ("handover", "new")
    assert [row[2:] for row in signals_in(app, leuven)] == [("form", "case_opened")]  # only its own
    with app.app_context(), tenant_context(herko.tenant_id):
        stored = db.session.execute(sa.text(
            "select observation_ciphertext, reporter_contact_ciphertext, identity_id from signals"
            " where id = :id"), {"id": signal_id}).one()
        assert SECRET not in stored[0] and "Leuven" not in stored[1] and stored[2] is not None
        family = db.session.scalar(sa.text("select family_name_ciphertext from identities where id = :id"),
                                   {"id": stored[2]})
        assert family and "Amrani" not in family
        db.session.remove()

    # The hand-over page links to it; the signal page reads as any signal, to be weighed.
    receiver = client_of(app, herko.coordinator)
    page = text(receiver.get(f"/{HERKO}/federation/handover?handover={handover.id}", headers=EN))
    assert f"/{HERKO}/signals/{signal_id}" in page and reference in page
    signal_page = text(receiver.get(f"/{HERKO}/signals/{signal_id}", headers=EN))
    assert SECRET in signal_page and "A person is named" in signal_page  # the identity: on the case page
    assert "Hand-over from another cell" in signal_page and "Leuven" in signal_page
    assert "To be weighed" in signal_page
    assert reference in text(receiver.get(f"/{HERKO}/signals", headers=EN))

    trail = actions_in(app, herko)
    assert ("signal.recorded", f"signal:{reference}") in trail
    assert trail.index(("signal.recorded", f"signal:{reference}")) < trail.index(
        ("federation.handover_accepted", f"handover:{handover.id}"))

    # The cell's joint weighing decides, as for every signal: here it opens a case of its own.
    def weigh():
        from livc.tenants.signals.operations import find_signal

        return weighed_and_confirmed(herko, find_signal(signal_id))

    case_h = as_cell(app, herko, weigh)
    assert case_h is not None and signals_in(app, herko)[0][3] == "case_opened"
    with app.app_context(), tenant_context(herko.tenant_id):
        assert db.session.scalar(sa.text("select identity_id from cases where id = :id"), {"id": case_h}) == stored[2]
        db.session.remove()
    page = text(receiver.get(f"/{HERKO}/federation/handover?handover={handover.id}", headers=EN))
    assert "which the cell weighed" in page


def test_a_hand_over_without_the_identity_becomes_an_anonymous_signal(app, two):
    leuven, herko = two
    sent_and_accepted(app, leuven, herko, {"summary": SECRET})
    [(signal_id, _reference, _channel, _status)] = signals_in(app, herko)
    with app.app_context(), tenant_context(herko.tenant_id):
        assert db.session.scalar(sa.text("select identity_id from signals where id = :id"), {"id": signal_id}) is None
        db.session.remove()
    page = text(client_of(app, herko.coordinator).get(f"/{HERKO}/signals/{signal_id}", headers=EN))
    assert SECRET in page and "Anonymous" in page


def test_a_declined_hand_over_leaves_no_signal(app, two):
    leuven, herko = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    close_moved(app, leuven, case_id, "24038")
    [handover] = handovers(app)
    path = f"/{LEUVEN}/cases/{case_id}/handover"
    post_form(client_of(app, leuven.coordinator), path, {"summary": SECRET, "identity": "yes"}, form_path=path)
    post_form(client_of(app, herko.coordinator), f"/{HERKO}/federation/handover",
              {"handover": str(handover.id), "action": "decline", "reason": "Not ours"},
              form_path=f"/{HERKO}/federation/handover?handover={handover.id}")
    assert signals_in(app, herko) == []


# --- a cell leaving the platform -------------------------------------------------------------------


def test_offboarding_a_cell_withdraws_its_hand_overs_and_ends_its_threads_for_the_other_cell(app, two):
    from livc.admin.lifecycle import operations as lifecycle

    leuven, herko = two
    alert, _, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)
    say(ask, LEUVEN, thread, SECRET)
    moved, _ = open_person(app, leuven, {**AMRANI_L, "given_names": "Karim", "date_of_birth": "1991-04-08"})
    close_moved(app, leuven, moved, "24038")
    [handover] = handovers(app)
    path = f"/{LEUVEN}/cases/{moved}/handover"
    post_form(client_of(app, leuven.coordinator), path, {"summary": SECRET}, form_path=path)

    with app.app_context():
        leaving = db.session.scalar(sa.select(Tenant).where(Tenant.slug == LEUVEN))
        lifecycle.start_offboarding(leaving, "operator:1", "archive@leuven.example.test")
        db.session.commit()
        db.session.remove()
        state = lifecycle.progress(leuven.tenant_id)
        db.session.remove()
    assert state["state"] == "done" and state["report"]["passed"] is True

    assert handovers(app) == []
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(CooperationThread.id))) == 0
        db.session.remove()
    assert entries_in(app, herko) == []
    trail = actions_in(app, herko)
    assert ("federation.handover_withdrawn", f"handover:{handover.id}") in trail
    assert ("federation.thread_left", f"thread:{thread}") in trail
    assert client_of(app, herko.coordinator).get(thread_path(HERKO, thread)).status_code == 404


def test_the_closure_api_takes_the_new_municipality_and_names_the_field_at_fault(app, two):
    leuven, herko = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    client = client_of(app, leuven.coordinator)
    headers = {"X-CSRFToken": client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"], **EN}
    path = f"/{LEUVEN}/api/cases/{case_id}/closure"
    refused = client.post(path, json={"reason": "moved_away"}, headers=headers)
    assert refused.status_code == 422
    assert "municipality" in str(refused.get_json())
    assert client.post(path, json={"reason": "moved_away", "municipality": "24055"}, headers=headers).status_code in (200, 201, 202)
    with app.test_request_context(), tenant_context(leuven.tenant_id):
        from case_helpers import latest_proposal
        from livc.tenants.cases.models import Case

        confirmed(latest_proposal(), case_confirmer(leuven, db.session.get(Case, case_id)))
        db.session.commit()
        db.session.remove()
    [handover] = handovers(app)
    assert handover.to_cell_id == herko.tenant_id and handover.nis_code == "24055"


# --- the mails ------------------------------------------------------------------------------------


@pytest.fixture
def speaking_english(app, two):
    """The two cells, working in English first: the mails go out in a cell's first language, and
    English reads the same before and after the Dutch translations."""
    with app.app_context():
        for cell in two:
            db.session.get(Tenant, cell.tenant_id).languages = ["en", "nl"]
        db.session.commit()
        db.session.remove()
    return two


def mails_to(app, address: str, *, about: str) -> list[email.message.EmailMessage]:
    return [mail for mail in outbox(app) if mail["To"] == address and about in mail["subject"]]


def path_in(mail) -> str:
    """The link of a mail, as a path of the site."""
    [link] = [line.strip() for line in mail.get_content().splitlines() if "://" in line]
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def test_the_receiving_coordinators_are_told_of_a_hand_over_by_cell_and_municipality_only(app, speaking_english):
    leuven, herko = speaking_english
    case_id, code = open_person(app, leuven, AMRANI_L)
    close_moved(app, leuven, case_id, "24038")
    [handover] = handovers(app)
    assert mails_to(app, herko.coordinator.email, about="hand-over") == []  # nothing chosen yet

    path = f"/{LEUVEN}/cases/{case_id}/handover"
    post_form(client_of(app, leuven.coordinator), path, {"summary": SECRET, "identity": "yes"}, form_path=path)

    [mail] = mails_to(app, herko.coordinator.email, about="hand-over")
    body = mail.get_content()
    assert "Leuven" in mail["subject"] and "Leuven" in body and "Herent" in body
    for secret in (SECRET, "Amrani", "Mohammed", code):
        assert secret not in body and secret not in mail["subject"]
    assert path_in(mail) == f"/{HERKO}/federation/handover?handover={handover.id}"
    page = client_of(app, herko.coordinator).get(path_in(mail), headers=EN)
    assert page.status_code == 200 and "A hand-over from" in text(page)
    assert mails_to(app, leuven.coordinator.email, about="hand-over") == []
    assert ("federation.handover_notified", f"handover:{handover.id}") in actions_in(app, herko)


def test_the_sending_coordinators_hear_of_the_answer_the_reason_staying_on_the_page(app, speaking_english):
    leuven, herko = speaking_english
    declined_case, _ = open_person(app, leuven, AMRANI_L)
    accepted_case, _ = open_person(app, leuven, {**AMRANI_L, "given_names": "Karim", "date_of_birth": "1991-04-08"})
    sender = client_of(app, leuven.coordinator)
    for case_id in (declined_case, accepted_case):
        close_moved(app, leuven, case_id, "24055")
        path = f"/{LEUVEN}/cases/{case_id}/handover"
        post_form(sender, path, {"summary": SECRET}, form_path=path)
    first, second = handovers(app)

    receiver = client_of(app, herko.coordinator)
    post_form(receiver, f"/{HERKO}/federation/handover",
              {"handover": str(first.id), "action": "decline", "reason": "Not our municipality after all"},
              form_path=f"/{HERKO}/federation/handover?handover={first.id}")
    [declined] = mails_to(app, leuven.coordinator.email, about="declined")
    assert "declined" in declined["subject"] and "Herent-Kortenberg" in declined["subject"]
    assert "Kortenberg" in declined.get_content()  # the municipality
    assert "Not our municipality" not in declined.get_content() and SECRET not in declined.get_content()
    assert path_in(declined) == f"/{LEUVEN}/cases/{declined_case}/handover"
    assert "Not our municipality after all" in text(sender.get(path_in(declined), headers=EN))

    post_form(receiver, f"/{HERKO}/federation/handover", {"handover": str(second.id), "action": "accept"},
              form_path=f"/{HERKO}/federation/handover?handover={second.id}")
    [accepted] = mails_to(app, leuven.coordinator.email, about="accepted")
    assert SECRET not in accepted.get_content() and "Amrani" not in accepted.get_content()
    assert path_in(accepted) == f"/{LEUVEN}/cases/{accepted_case}/handover"
    notified = [subject for action, subject in actions_in(app, leuven) if action == "federation.handover_notified"]
    assert notified == [f"handover:{first.id}", f"handover:{second.id}"]


def test_the_other_side_hears_that_a_thread_was_closed_without_the_reason(app, speaking_english):
    leuven, herko = speaking_english
    alert, _, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)
    post_form(ask, f"/{LEUVEN}/federation/cooperation/thread",
              {"thread": str(thread), "action": "close", "reason": "Herko takes it from here"},
              form_path=thread_path(LEUVEN, thread))

    [mail] = mails_to(app, herko.coordinator.email, about="closed")
    assert "FED-" in mail["subject"] and "Leuven" in mail.get_content()
    assert "Herko takes it from here" not in mail.get_content()
    assert path_in(mail) == thread_path(HERKO, thread)
    assert "Herko takes it from here" in text(client_of(app, herko.coordinator).get(path_in(mail), headers=EN))
    assert mails_to(app, leuven.coordinator.email, about="closed") == []
    assert ("federation.thread_notified", f"thread:{thread}") in actions_in(app, herko)


def test_when_both_cells_let_their_officers_in_the_other_sides_participants_are_told(app, speaking_english):
    leuven, herko = speaking_english
    alert, _, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)
    post_form(ask, f"/{LEUVEN}/federation/cooperation/thread", {"thread": str(thread), "action": "officers", "officers": "yes"},
              form_path=thread_path(LEUVEN, thread))
    assert mails_to(app, herko.coordinator.email, about="information officers") == []  # one cell agreed: no news

    answer = client_of(app, herko.coordinator)
    post_form(answer, f"/{HERKO}/federation/cooperation/thread", {"thread": str(thread), "action": "officers", "officers": "yes"},
              form_path=thread_path(HERKO, thread))
    told = {mail["To"] for mail in outbox(app) if "information officers" in mail["subject"]}
    assert told == {leuven.coordinator.email, leuven.information_officer.email}
    [mail] = mails_to(app, leuven.information_officer.email, about="information officers")
    assert client_of(app, leuven.information_officer).get(path_in(mail), headers=EN).status_code == 200


def test_the_mail_of_a_new_message_links_to_the_thread(app, speaking_english):
    leuven, herko = speaking_english
    alert, _, _ = matched(app, leuven, herko)
    confirm_both(app, leuven, herko, alert)
    ask, _ = start_thread(app, leuven, alert)
    thread = thread_id(app)
    say(ask, LEUVEN, thread, SECRET)
    [mail] = mails_to(app, herko.coordinator.email, about="FED-")
    page = client_of(app, herko.coordinator).get(path_in(mail), headers=EN)
    assert page.status_code == 200 and SECRET in text(page)


def test_a_hand_over_waiting_for_an_answer_is_on_the_receiving_coordinators_home_page(app, two):
    leuven, herko = two
    case_id, _ = open_person(app, leuven, AMRANI_L)
    close_moved(app, leuven, case_id, "24038")
    [handover] = handovers(app)
    receiver = client_of(app, herko.coordinator)
    line = "proposes a hand-over: a person who moved to Herent"
    assert line not in text(receiver.get(f"/{HERKO}/home", headers=EN))  # not sent yet: not seen
    path = f"/{LEUVEN}/cases/{case_id}/handover"
    post_form(client_of(app, leuven.coordinator), path, {"summary": SECRET}, form_path=path)
    home = text(receiver.get(f"/{HERKO}/home", headers=EN))
    assert line in home and f"handover={handover.id}" in home and SECRET not in home
    assert line not in text(client_of(app, leuven.coordinator).get(f"/{LEUVEN}/home", headers=EN))
    assert post_form(receiver, f"/{HERKO}/federation/handover", {"handover": str(handover.id), "action": "accept"},
                     form_path=f"/{HERKO}/federation/handover?handover={handover.id}").status_code == 302
    assert line not in text(receiver.get(f"/{HERKO}/home", headers=EN))  # answered: no longer waiting
