"""Federation pages: links between two demo cells, match alerts and a case's opt-out, walked
through the coordinators' pages with the real in-process custodian and inline jobs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session, post_form
from case_helpers import HERKO, LEUVEN, membership, ready_cell, signal_values, weighed_and_confirmed
from livc.federation.models import (
    AlertState,
    CaseFederation,
    FederationLink,
    MatchAlert,
    SideStatus,
)
from livc.platform.db import db, tenant_context

EN = {"Accept-Language": "en"}
AMRANI_L = {"given_names": "Mohammed", "family_name": "El Amrani", "date_of_birth": "1990-03-07",
            "national_number": "", "address": ""}
AMRANI_H = {"given_names": "Muhammad", "family_name": "Elamrani", "date_of_birth": "1990-03-07",
            "national_number": "", "address": ""}
NAMES = ("Mohammed", "Muhammad", "Amrani", "amrani", "1990-03-07")


@pytest.fixture
def two(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN), ready_cell(app, cells[HERKO], HERKO)


def open_person(app, cell, identity) -> tuple[int, str]:
    """A signal about ``identity`` weighed into a case (proposed and confirmed): (id, code)."""
    from livc.tenants.signals.operations import submit_signal

    with app.test_request_context(), tenant_context(cell.tenant_id):
        signal = submit_signal(membership(cell.partner), signal_values(**identity))
        case_id = weighed_and_confirmed(cell, signal)
        code = db.session.scalar(sa.text("select code from cases where id = :id"), {"id": case_id})
        db.session.commit()
        db.session.remove()
    return case_id, code


def section(body: str, name: str) -> str:
    """The list of alerts under one heading of the alerts page ("" when there is none)."""
    found = re.search(rf'<ul class="federation-alerts {name}">(.*?)\n    </ul>', body, re.S)
    return found.group(1) if found else ""


def nothing_technical(body: str) -> bool:
    """No score and no key type on the page (before both cells confirmed)."""
    main = body.split("<main", 1)[1]
    return ("score" not in main.lower() and "_dob" not in main and "phon_y" not in main
            and "names and full date of birth" not in main and "What agreed" not in main)


def client_of(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def alerts(app):
    with app.app_context():
        found = db.session.scalars(sa.select(MatchAlert).order_by(MatchAlert.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return found


def links(app):
    with app.app_context():
        found = db.session.scalars(sa.select(FederationLink).order_by(FederationLink.id)).all()
        db.session.expunge_all()
        db.session.remove()
    return found


def link_cells(app, leuven, herko):
    """Leuven's coordinator asks, Herko's agrees: through the pages."""
    ask = client_of(app, leuven.coordinator)
    page = ask.get(f"/{LEUVEN}/federation", headers=EN)
    assert page.status_code == 200
    assert f'<option value="{herko.tenant_id}"' in text(page)
    assert post_form(ask, f"/{LEUVEN}/federation/request", {"cell": str(herko.tenant_id)},
                     form_path=f"/{LEUVEN}/federation").status_code == 302
    agree = client_of(app, herko.coordinator)
    page = text(agree.get(f"/{HERKO}/federation", headers=EN))
    assert "Waiting for your agreement" in page and "asks to be linked" in page
    assert post_form(agree, f"/{HERKO}/federation/agree", {"cell": str(leuven.tenant_id)},
                     form_path=f"/{HERKO}/federation").status_code == 302
    return ask, agree


def test_the_walk_from_link_to_contact(app, two):
    leuven, herko = two
    ask = client_of(app, leuven.coordinator)

    # Nothing linked: the page explains what a link shares, and offers Herko.
    page = ask.get(f"/{LEUVEN}/federation", headers=EN)
    body = text(page)
    assert "not linked with any other cell" in body and "no case content" in body
    assert f'<option value="{herko.tenant_id}"' in body and f'<option value="{leuven.tenant_id}"' not in body

    # An empty request is refused with its message, and nothing is linked.
    refused = post_form(ask, f"/{LEUVEN}/federation/request", {}, form_path=f"/{LEUVEN}/federation", headers=EN)
    assert refused.status_code == 422 and "Choose a cell." in text(refused)
    assert links(app) == []

    assert post_form(ask, f"/{LEUVEN}/federation/request", {"cell": str(herko.tenant_id)},
                     form_path=f"/{LEUVEN}/federation").status_code == 302
    body = text(ask.get(f"/{LEUVEN}/federation", headers=EN))
    assert "Waiting for the other cell" in body and f'<option value="{herko.tenant_id}"' not in body
    # Asking twice is refused.
    again = post_form(ask, f"/{LEUVEN}/federation/request", {"cell": str(herko.tenant_id)},
                      form_path=f"/{LEUVEN}/federation", headers=EN)
    assert again.status_code == 422 and "already linked" in text(again)

    agree = client_of(app, herko.coordinator)
    body = text(agree.get(f"/{HERKO}/federation", headers=EN))
    assert "Waiting for your agreement" in body and "asks to be linked" in body
    assert post_form(agree, f"/{HERKO}/federation/agree", {"cell": str(leuven.tenant_id)},
                     form_path=f"/{HERKO}/federation").status_code == 302
    [link] = links(app)
    assert link.active
    body = text(ask.get(f"/{LEUVEN}/federation", headers=EN))
    assert "Active links" in body and "Waiting for the other cell" not in body

    # The same person, spelled differently, in both cells: one alert. Leuven's case was in the
    # federation first, so Leuven hears first; Herko sees nothing yet.
    case_l, code_l = open_person(app, leuven, AMRANI_L)
    case_h, code_h = open_person(app, herko, AMRANI_H)
    [alert] = alerts(app)
    assert alert.state == AlertState.OPEN
    page = ask.get(f"/{LEUVEN}/federation/alerts", headers=EN)
    assert page.status_code == 200
    body = text(page)
    waiting = section(body, "waiting-alerts")
    assert waiting.count('class="federation-alert"') == 1
    assert code_l in waiting and code_h not in body
    assert "very strong" in waiting and "almost certainly the same person" in waiting
    assert nothing_technical(body)
    assert not any(name in body for name in NAMES)
    assert "Shared reference" not in body
    assert re.search(r'alert-status-theirs">\s*not told yet', body)
    body = text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    assert 'class="federation-alert"' not in body and "No alert waits for you." in body

    # Leuven judges it worth checking (a step of its own, which tells Herko) ...
    assert post_form(ask, f"/{LEUVEN}/federation/alerts", {"alert": str(alert.id), "action": "acknowledge"}).status_code == 302
    body = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    assert re.search(r'alert-status-ours">\s*judged worth checking', body)
    assert "Worth checking" not in section(body, "waiting-alerts")  # taken once
    body = text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    waiting = section(body, "waiting-alerts")
    assert waiting.count('class="federation-alert"') == 1 and code_h in waiting and code_l not in body
    assert "heard of this alert first and judged it worth checking" in waiting
    assert nothing_technical(body)

    # ... confirming is another step, with a box to tick: without it nothing changes.
    refused = post_form(ask, f"/{LEUVEN}/federation/alerts", {"alert": str(alert.id), "action": "confirm"}, headers=EN)
    assert refused.status_code == 422 and "Tick the box to confirm that you checked your case" in text(refused)
    assert alerts(app)[0].state == AlertState.OPEN and SideStatus.CONFIRMED not in (alerts(app)[0].status_a, alerts(app)[0].status_b)
    assert post_form(ask, f"/{LEUVEN}/federation/alerts",
                     {"alert": str(alert.id), "action": "confirm", "confirm": "yes"}).status_code == 302
    body = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    assert section(body, "theirs-alerts").count('class="federation-alert"') == 1
    assert "No alert waits for you." in body and "Shared reference" not in body
    body = text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    assert re.search(r'alert-status-theirs">\s*confirmed', body)
    assert post_form(agree, f"/{HERKO}/federation/alerts",
                     {"alert": str(alert.id), "action": "confirm", "confirm": "yes"}).status_code == 302
    [alert] = alerts(app)
    assert alert.state == AlertState.CONFIRMED and alert.shared_reference
    leuven_page = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    herko_page = text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    for page, other in ((leuven_page, herko), (herko_page, leuven)):
        confirmed = section(page, "confirmed-alerts")
        assert "Confirmed: the same person</h2>" in page
        assert confirmed.count('class="federation-alert"') == 1 and "theirs-alerts" not in page
        assert page.count(alert.shared_reference) == 1 and page.count(f"mailto:{other.coordinator.email}") == 1
        assert page.count("confirmed by both cells") == 1  # the confirmation, once
    assert leuven.coordinator.email not in leuven_page and herko.coordinator.email not in herko_page
    # A closed alert takes no more steps.
    late = post_form(ask, f"/{LEUVEN}/federation/alerts", {"alert": str(alert.id), "action": "confirm", "confirm": "yes"},
                     headers=EN)
    assert late.status_code == 422 and "no longer open" in text(late)


def test_dismissing_asks_for_confirmation(app, two):
    leuven, herko = two
    ask, agree = link_cells(app, leuven, herko)
    open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    [alert] = alerts(app)
    page = ask.get(f"/{LEUVEN}/federation/dismiss?alert={alert.id}", headers=EN)
    assert page.status_code == 404  # the confirmation page lives under alerts
    page = ask.get(f"/{LEUVEN}/federation/alerts/dismiss?alert={alert.id}", headers=EN)
    assert page.status_code == 200 and "a different person" in text(page)
    path = f"/{LEUVEN}/federation/alerts/dismiss"
    refused = post_form(ask, path, {"alert": str(alert.id)}, form_path=f"{path}?alert={alert.id}", headers=EN)
    assert refused.status_code == 422 and "Tick the box to confirm." in text(refused)
    assert alerts(app)[0].state == AlertState.OPEN
    done = post_form(ask, path, {"alert": str(alert.id), "confirm": "yes"}, form_path=f"{path}?alert={alert.id}")
    assert done.status_code == 302
    assert alerts(app)[0].state == AlertState.DISMISSED
    # Leuven heard first and dismissed it before telling Herko: Herko never learns of it.
    body = text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    assert "No alert waits for you." in body and 'class="federation-alert"' not in body
    body = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    assert section(body, "closed-alerts").count('class="federation-alert"') == 1 and "dismissed: two different people" in body
    # Another cell's alert id (or none) is not found.
    assert ask.get(f"/{LEUVEN}/federation/alerts/dismiss?alert=987654").status_code == 404
    assert ask.get(f"/{LEUVEN}/federation/alerts/dismiss").status_code == 404


def test_excluding_a_case_needs_a_reason_and_withdraws_its_alert(app, two):
    leuven, herko = two
    ask, _agree = link_cells(app, leuven, herko)
    case_l, _code = open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    [alert] = alerts(app)
    path = f"/{LEUVEN}/cases/{case_l}/federation"
    page = ask.get(path, headers=EN)
    assert page.status_code == 200 and "in the federation index" in text(page)

    refused = post_form(ask, path, {"action": "exclude", "reason": "  "}, headers=EN)
    assert refused.status_code == 422
    assert "Say why this case is kept out of the federation." in text(refused)
    with app.app_context(), tenant_context(leuven.tenant_id):
        row = db.session.scalar(sa.select(CaseFederation).where(CaseFederation.case_id == case_l))
        assert row.excluded_at is None
        db.session.remove()
    assert alerts(app)[0].state == AlertState.OPEN
    assert post_form(ask, path, {}, headers=EN).status_code == 422

    done = post_form(ask, path, {"action": "exclude", "reason": "Minor followed by the youth court."})
    assert done.status_code == 302
    assert alerts(app)[0].state == AlertState.WITHDRAWN
    body = text(ask.get(path, headers=EN))
    assert "kept this case out" in body and "Minor followed by the youth court." in body
    body = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    assert "No alert waits for you." in body and "withdrawn" in section(body, "closed-alerts")

    # Included again: enrolled again (the pair's alert, withdrawn, is not repeated).
    assert post_form(ask, path, {"action": "include"}).status_code == 302
    body = text(ask.get(path, headers=EN))
    assert "kept this case out" not in body and "in the federation index" in body
    assert alert.id == alerts(app)[0].id


def test_ending_a_link_needs_confirmation(app, two):
    leuven, herko = two
    ask, agree = link_cells(app, leuven, herko)
    open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    path = f"/{LEUVEN}/federation/end"
    page = ask.get(f"{path}?cell={herko.tenant_id}", headers=EN)
    body = text(page)
    assert page.status_code == 200 and "(1) are withdrawn" in body and "last link of your cell" in body
    assert ask.get(path).status_code == 404
    refused = post_form(ask, path, {"cell": str(herko.tenant_id)}, form_path=f"{path}?cell={herko.tenant_id}", headers=EN)
    assert refused.status_code == 422 and "Tick the box to confirm." in text(refused)
    assert links(app)[0].active
    # Declining is for a request that waits, not for an active link.
    declined = post_form(ask, f"/{LEUVEN}/federation/decline", {"cell": str(herko.tenant_id)},
                         form_path=f"/{LEUVEN}/federation", headers=EN)
    assert declined.status_code == 422 and links(app)[0].active
    done = post_form(ask, path, {"cell": str(herko.tenant_id), "confirm": "yes"}, form_path=f"{path}?cell={herko.tenant_id}")
    assert done.status_code == 302
    [link] = links(app)
    assert link.ended_at is not None and link.ended_by_id == leuven.tenant_id
    assert alerts(app)[0].state == AlertState.WITHDRAWN
    body = text(agree.get(f"/{HERKO}/federation", headers=EN))
    assert "ended by the other cell" in body and f'<option value="{leuven.tenant_id}"' in body


def test_declining_a_request(app, two):
    leuven, herko = two
    ask = client_of(app, leuven.coordinator)
    assert post_form(ask, f"/{LEUVEN}/federation/request", {"cell": str(herko.tenant_id)},
                     form_path=f"/{LEUVEN}/federation").status_code == 302
    agree = client_of(app, herko.coordinator)
    assert post_form(agree, f"/{HERKO}/federation/decline", {"cell": str(leuven.tenant_id)},
                     form_path=f"/{HERKO}/federation").status_code == 302
    [link] = links(app)
    assert link.ended_at is not None and not link.active
    body = text(ask.get(f"/{LEUVEN}/federation", headers=EN))
    assert "ended by the other cell" in body


def test_only_the_coordinator_reaches_federation_pages(app, two):
    leuven, herko = two
    case_l, _code = open_person(app, leuven, AMRANI_L)
    for member in (leuven.partner, leuven.mayor, leuven.information_officer):
        client = client_of(app, member)
        for path in ("/federation", "/federation/alerts", f"/federation/end?cell={herko.tenant_id}",
                     "/federation/alerts/dismiss?alert=1", f"/cases/{case_l}/federation"):
            assert client.get(f"/{LEUVEN}{path}").status_code == 403, (member.role, path)
        for path, data in (("/federation/request", {"cell": str(herko.tenant_id)}),
                           ("/federation/agree", {"cell": str(herko.tenant_id)}),
                           ("/federation/decline", {"cell": str(herko.tenant_id)}),
                           ("/federation/end", {"cell": str(herko.tenant_id), "confirm": "yes"}),
                           ("/federation/alerts", {"alert": "1", "action": "confirm", "confirm": "yes"}),
                           ("/federation/alerts/dismiss", {"alert": "1", "confirm": "yes"}),
                           (f"/cases/{case_l}/federation", {"action": "exclude", "reason": "x"})):
            assert post_form(client, f"/{LEUVEN}{path}", data, form_path=f"/{LEUVEN}/profile").status_code == 403, path
    assert links(app) == []
    # The home page links the coordinator to the federation, and no one else.
    assert f"/{LEUVEN}/federation" in text(client_of(app, leuven.coordinator).get(f"/{LEUVEN}/home", headers=EN))
    assert f"/{LEUVEN}/federation" not in text(client_of(app, leuven.partner).get(f"/{LEUVEN}/home", headers=EN))


def test_an_empty_post_is_refused_and_changes_nothing(app, two):
    leuven, herko = two
    ask, _agree = link_cells(app, leuven, herko)
    case_l, _code = open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    before = [(a.id, a.state, a.status_a, a.status_b) for a in alerts(app)]
    for path in ("/federation/request", "/federation/agree", "/federation/decline", "/federation/end",
                 "/federation/alerts", "/federation/alerts/dismiss", f"/cases/{case_l}/federation"):
        answer = post_form(ask, f"/{LEUVEN}{path}", {}, form_path=f"/{LEUVEN}/federation")
        assert answer.status_code == 422, path
    assert [(a.id, a.state, a.status_a, a.status_b) for a in alerts(app)] == before
    [link] = links(app)
    assert link.active


# --- where alerts appear: the home page, the case page and its timeline ------------------------


def linked_with_alert(app, two):
    """Two linked cells and one alert, Leuven's case enrolled first: (clients, cases, alert)."""
    leuven, herko = two
    ask, agree = link_cells(app, leuven, herko)
    case_l, code_l = open_person(app, leuven, AMRANI_L)
    case_h, code_h = open_person(app, herko, AMRANI_H)
    [alert] = alerts(app)
    return ask, agree, (case_l, code_l), (case_h, code_h), alert


def home(client, slug: str) -> str:
    page = client.get(f"/{slug}/home", headers=EN)
    assert page.status_code == 200
    return text(page)


def step(client, slug: str, alert, action: str):
    data = {"alert": str(alert.id), "action": action} | ({"confirm": "yes"} if action == "confirm" else {})
    answer = post_form(client, f"/{slug}/federation/alerts", data, headers=EN)
    assert answer.status_code == 302, text(answer)


def test_the_home_page_shows_a_waiting_alert_to_the_cell_whose_turn_it_is(app, two):
    leuven, herko = two
    ask, agree, (case_l, code_l), (case_h, code_h), alert = linked_with_alert(app, two)

    body = home(ask, LEUVEN)
    assert "Match alerts waiting for you: 1." in body
    assert f'href="/{LEUVEN}/federation/alerts#alert-{alert.id}">{code_l}</a>' in body
    assert f"very strong match with a case of {cell_name(app, herko)}" in body
    assert nothing_technical(body) and code_h not in body
    # Herko heard nothing yet; a partner of Leuven sees no alert either.
    assert "federation-alerts" not in home(agree, HERKO)
    assert "federation-alerts" not in home(client_of(app, leuven.partner), LEUVEN)

    step(ask, LEUVEN, alert, "acknowledge")  # worth checking: Herko is told
    body = home(agree, HERKO)
    assert "Match alerts waiting for you: 1." in body and f"#alert-{alert.id}\">{code_h}</a>" in body
    assert code_l not in body and nothing_technical(body)

    step(ask, LEUVEN, alert, "confirm")
    body = home(ask, LEUVEN)
    assert "Match alerts waiting for you" not in body
    assert "Alerts you confirmed, waiting for the other cell: 1." in body
    step(agree, HERKO, alert, "confirm")
    [alert] = alerts(app)
    for client, slug, code in ((ask, LEUVEN, code_l), (agree, HERKO, code_h)):
        body = home(client, slug)
        assert "Match alerts waiting for you" not in body and "Confirmed: cooperation with another cell" in body
        assert code in body and alert.shared_reference in body


def cell_name(app, cell) -> str:
    with app.app_context():
        name = db.session.scalar(sa.text("select name from tenants where id = :id"), {"id": cell.tenant_id})
        db.session.remove()
    return name


def test_the_newer_cell_sees_nothing_before_the_earlier_one_judged_it_worth_checking(app, two):
    leuven, herko = two
    ask, agree, _leuven_case, (case_h, code_h), alert = linked_with_alert(app, two)
    assert 'class="federation-alert"' not in text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    assert agree.get(f"/{HERKO}/federation/alerts/dismiss?alert={alert.id}").status_code == 404
    for action in ("acknowledge", "confirm"):
        early = post_form(agree, f"/{HERKO}/federation/alerts", {"alert": str(alert.id), "action": action, "confirm": "yes"},
                          headers=EN)
        assert early.status_code == 422 and "judged it worth checking" in text(early)
    assert (alerts(app)[0].status_a, alerts(app)[0].status_b) == (SideStatus.NEW, SideStatus.NEW)
    body = text(agree.get(f"/{HERKO}/cases/{case_h}", headers=EN))
    assert "Cooperation with another cell" not in body and "federation-joint" not in body


def test_after_both_confirmed_the_case_page_and_timeline_show_the_other_cell(app, two):
    leuven, herko = two
    ask, agree, (case_l, code_l), (case_h, code_h), alert = linked_with_alert(app, two)
    # Before both confirmed, the case page says nothing of the alert.
    step(ask, LEUVEN, alert, "confirm")
    body = text(ask.get(f"/{LEUVEN}/cases/{case_l}", headers=EN))
    assert "Cooperation with another cell" not in body and "event-federation" not in body

    step(agree, HERKO, alert, "confirm")
    [alert] = alerts(app)
    for client, slug, case_id, other, other_code in ((ask, LEUVEN, case_l, herko, code_h), (agree, HERKO, case_h, leuven, code_l)):
        body = text(client.get(f"/{slug}/cases/{case_id}", headers=EN))
        panel = body.split('class="case-section federation-cooperation"', 1)[1].split("</section>", 1)[0]
        assert cell_name(app, other) in panel and alert.shared_reference in panel
        assert f'mailto:{other.coordinator.email}' in panel and "Test coordinator" in panel
        assert other_code not in body and not any(name in body for name in NAMES if name not in ("Amrani", "amrani"))
        timeline = body.split('<ol class="case-timeline">', 1)[1].split("</ol>", 1)[0]
        assert timeline.count('class="event-federation-confirmed"') == 2
        assert timeline.count('class="event-federation-joint"') == 1
        assert re.search(r'event-federation-joint"><time datetime="[^"]+">[^<]+ \d{1,2}:\d{2}\s?[AP]M</time>\s*Both cells confirmed',
                         timeline)
        assert "coordinator confirmed that a case of" in timeline and alert.shared_reference in timeline
    # The case team reads it too, without the coordinator's link to the alert.
    body = text(client_of(app, leuven.partner).get(f"/{LEUVEN}/cases/{case_l}", headers=EN))
    assert alert.shared_reference in body and herko.coordinator.email in body
    assert "/federation/alerts" not in body


def test_the_earlier_cell_is_told_when_the_newer_case_left_soon_after(app, two):
    from livc.federation.enrolment import remove_enrolment
    from livc.tenants.cases.reading import case_for_federation

    leuven, herko = two
    ask, agree, _leuven_case, (case_h, _code_h), alert = linked_with_alert(app, two)
    # Herko's case (the newer one) leaves the federation as it is erased, the day of the alert.
    with app.test_request_context(), tenant_context(herko.tenant_id):
        remove_enrolment(case_for_federation(case_h), "erased")
        db.session.commit()
        db.session.remove()
    assert alerts(app)[0].state == AlertState.WITHDRAWN
    body = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    closed = section(body, "closed-alerts")
    assert f"{cell_name(app, herko)} erased its case on the day of this alert." in closed
    assert "federation-alerts" not in home(ask, LEUVEN)  # nothing left to do
    assert 'class="federation-alert"' not in text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))

    # Two days later, it says how many.
    with app.app_context():
        row = db.session.get(MatchAlert, alert.id)
        row.newer_left_at = row.created_at + timedelta(days=2, hours=3)
        db.session.commit()
        db.session.remove()
    body = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    assert f"{cell_name(app, herko)} erased its case 2 day(s) after this alert." in section(body, "closed-alerts")
