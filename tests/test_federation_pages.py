"""Federation pages: links between two demo cells, match alerts and a case's opt-out, walked
through the coordinators' pages with the real in-process custodian and inline jobs."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from auth_helpers import give_session, post_form
from case_helpers import HERKO, LEUVEN, membership, ready_cell, signal_values, weighed_and_confirmed
from livc.federation.models import AlertState, CaseFederation, FederationLink, MatchAlert
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

    # The same person, spelled differently, in both cells: one alert on each side.
    case_l, code_l = open_person(app, leuven, AMRANI_L)
    case_h, code_h = open_person(app, herko, AMRANI_H)
    [alert] = alerts(app)
    assert alert.state == AlertState.OPEN
    for client, slug, own, other in ((ask, LEUVEN, code_l, code_h), (agree, HERKO, code_h, code_l)):
        page = client.get(f"/{slug}/federation/alerts", headers=EN)
        assert page.status_code == 200
        body = text(page)
        assert body.count('class="federation-alert"') == 1
        assert own in body and other not in body
        assert "names and full date of birth" in body and "Strength" in body and "very strong" in body
        main = body.split("<main", 1)[1]
        assert "_dob" not in main and "phon_y" not in main  # key types in plain language only
        assert not any(name in body for name in NAMES)
        assert "Shared reference" not in body

    # Leuven acknowledges, then confirms; Herko confirms: contact opens on both sides.
    assert post_form(ask, f"/{LEUVEN}/federation/alerts", {"alert": str(alert.id), "action": "acknowledge"}).status_code == 302
    body = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    assert re.search(r'alert-status-ours">\s*acknowledged', body)
    assert post_form(ask, f"/{LEUVEN}/federation/alerts", {"alert": str(alert.id), "action": "confirm"}).status_code == 302
    body = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    assert "waiting for the other cell" in body and "Shared reference" not in body
    body = text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    assert re.search(r'alert-status-theirs">\s*confirmed', body)
    assert post_form(agree, f"/{HERKO}/federation/alerts", {"alert": str(alert.id), "action": "confirm"}).status_code == 302
    [alert] = alerts(app)
    assert alert.state == AlertState.CONFIRMED and alert.shared_reference
    leuven_page = text(ask.get(f"/{LEUVEN}/federation/alerts", headers=EN))
    herko_page = text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    assert alert.shared_reference in leuven_page and alert.shared_reference in herko_page
    assert herko.coordinator.email in leuven_page and leuven.coordinator.email not in leuven_page
    assert leuven.coordinator.email in herko_page
    assert "confirmed by both cells" in leuven_page
    # A closed alert takes no more steps.
    late = post_form(ask, f"/{LEUVEN}/federation/alerts", {"alert": str(alert.id), "action": "confirm"}, headers=EN)
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
    body = text(agree.get(f"/{HERKO}/federation/alerts", headers=EN))
    assert "No open alerts." in body and "dismissed: a different person" in body
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
    assert "No open alerts." in body and "withdrawn" in body

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
                           ("/federation/alerts", {"alert": "1", "action": "confirm"}),
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
