"""The cell's record of processing (GDPR art. 30) and DPIA starting point (art. 35), made from
its configuration (issue 18, part 7): the page, its print version, the PDF and the JSON reflect
the house rules, the organisations at the table and the retention periods; the coordinator and
the mayor read it, nobody else."""

from __future__ import annotations

import pytest

from auth_helpers import give_session
from case_helpers import LEUVEN, membership, ready_cell
from livc.platform.db import db, tenant_context
from livc.tenants.house_rules.operations import publish_draft, update_draft
from livc.tenants.members.operations import accept_undertaking
from livc.tenants.signals.operations import change_settings

PAGE = f"/{LEUVEN}/record-of-processing"
EN = {"Accept-Language": "en"}


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


def client_of(app, member):
    client = app.test_client()
    give_session(app, client, member)
    return client


def in_cell(app, cell, func):
    with app.test_request_context(), tenant_context(cell.tenant_id):
        func()
        db.session.commit()
        db.session.remove()


def test_the_record_is_made_from_the_cells_configuration_and_follows_its_changes(app, cell):
    coordinator = client_of(app, cell.coordinator)
    page = coordinator.get(PAGE, headers=EN)
    assert page.status_code == 200 and page.headers["Cache-Control"].startswith("no-store")
    text = page.get_data(as_text=True)
    assert "Record of processing (GDPR, article 30)" in text and "article 35" in text
    assert "The law of 30 July 2018" in text and "house rules version 1" in text
    assert "OCMW test" in text  # the partner organisations at the table are its recipients
    assert "Erased 6 months after the cell" in text and "Erased 24 months after closure" in text
    assert "Kept, each field encrypted" in text
    assert "Local Task Force" in text and "row-level security" in text

    # The cell changes its retention and stops keeping identities: the record says so.
    in_cell(app, cell, lambda: change_settings({"retention_months_closed": 36, "retention_months_signals": 3}))

    def not_kept():
        update_draft({"identities_kept": False}, membership(cell.coordinator))
        publish_draft(membership(cell.coordinator))
        for member in cell.members():
            accept_undertaking(membership(member))

    in_cell(app, cell, not_kept)
    text = coordinator.get(PAGE, headers=EN).get_data(as_text=True)
    assert "Erased 3 months after the cell" in text and "Erased 36 months after closure" in text
    assert "Erased 24 months" not in text
    assert "Not kept (house rules version 2)" in text and "Kept, each field encrypted" not in text

    answer = coordinator.get(f"/{LEUVEN}/api/record-of-processing", headers=EN).get_json()["record_of_processing"]
    assert answer["identities_kept"] is False and answer["house_rules_version"] == 2
    retention = next(section for section in answer["record"] if section["key"] == "retention")
    assert any("36 months" in entry["text"] for entry in retention["entries"])


def test_the_record_is_printable_as_a_page_and_as_a_pdf_in_the_readers_language(app, cell):
    mayor = client_of(app, cell.mayor)
    printed = mayor.get(f"{PAGE}/print", headers=EN)
    assert printed.status_code == 200
    body = printed.get_data(as_text=True)
    assert 'class="print-register"' in body and "print.css" in body and "site-header" not in body
    assert "Record of processing (GDPR, article 30)" in body

    pdf = mayor.get(f"/{LEUVEN}/record-of-processing.pdf", headers=EN)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.data.startswith(b"%PDF") and "attachment" in pdf.headers["Content-Disposition"]

    # In the reader's language: Dutch first (the cell's language), English when asked.
    dutch = mayor.get(PAGE).get_data(as_text=True)
    english = mayor.get(PAGE, headers=EN).get_data(as_text=True)
    assert '<html lang="nl"' in dutch and '<html lang="en"' in english


def test_only_the_coordinator_and_the_mayor_read_the_record(app, cell):
    for member in (cell.partner, cell.information_officer, cell.social):
        client = client_of(app, member)
        for path in (PAGE, f"{PAGE}/print", f"/{LEUVEN}/record-of-processing.pdf", f"/{LEUVEN}/api/record-of-processing"):
            assert client.get(path).status_code == 403, (member, path)
    assert app.test_client().get(PAGE).status_code in (302, 401)
    # The coordinator finds it on the house rules page.
    house_rules = client_of(app, cell.coordinator).get(f"/{LEUVEN}/house-rules", headers=EN).get_data(as_text=True)
    assert f'href="{PAGE}"' in house_rules
