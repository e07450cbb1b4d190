"""Data minimisation chosen by the cell (issue 18, part 6): with house rules saying "identities
are not kept", an identity is entered once, turned into the cell's blind indexes and the
federation's tokens, and never stored; "is this person known here?" and match alerts between
linked cells still work, showing the identity is refused with the reason. On SQLite and
PostgreSQL, with the real in-process key custodian and inline jobs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from test_federation_core import AMRANI_H, AMRANI_L, alerts_of, as_cell, open_person

from auth_helpers import give_session
from case_helpers import HERKO, LEUVEN, membership, ready_cell
from livc.federation import alerts, linking
from livc.federation.models import EnrolmentStatus, FederationEnrolment, PreparedTokens
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.tenants.cases.operations import search_people
from livc.tenants.house_rules.operations import (
    discard_draft,
    identities_kept,
    publish_draft,
    update_draft,
)
from livc.tenants.members.operations import accept_undertaking

CIPHERTEXTS = ("given_names_ciphertext", "family_name_ciphertext", "date_of_birth_ciphertext",
               "national_number_ciphertext", "address_ciphertext")
# What the person's identity looks like written anywhere: the values entered, as typed.
VALUES = ("Mohammed", "Muhammad", "Amrani", "1990-03-07")
EN = {"Accept-Language": "en"}


@pytest.fixture
def two(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN), ready_cell(app, cells[HERKO], HERKO)


def stop_keeping(app, cell) -> int:
    """The cell's coordinator publishes house rules saying identities are not kept; every member
    accepts them again. Returns the version now in force."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        update_draft({"identities_kept": False}, membership(cell.coordinator))
        version = publish_draft(membership(cell.coordinator)).version
        for member in cell.members():
            accept_undertaking(membership(member))
        db.session.commit()
        db.session.remove()
    return version


def dump(app, tenant_ids) -> str:
    """Every row of every table, as text: once without a cell and once inside each cell (so
    row-level security on PostgreSQL hides nothing from the dump)."""
    lines = []
    with app.app_context():
        tables = sa.inspect(db.engine).get_table_names()
    for tenant_id in (None, *tenant_ids):
        with app.app_context():
            context = tenant_context(tenant_id) if tenant_id is not None else _nothing()
            with context:
                for table in tables:
                    for row in db.session.execute(sa.text(f'SELECT * FROM "{table}"')):
                        lines.append(f"{table}: " + " | ".join(_text(value) for value in row))
            db.session.remove()
    return "\n".join(lines)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _text(value) -> str:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("latin-1")
    return str(value)


def identity_rows(app, cell) -> list[dict]:
    with app.app_context(), tenant_context(cell.tenant_id):
        rows = [dict(row._mapping) for row in db.session.execute(
            sa.text("SELECT * FROM identities WHERE tenant_id = :tenant"), {"tenant": cell.tenant_id})]
        db.session.remove()
    return rows


def search(app, cell, name: str):
    return as_cell(app, cell, lambda: [hit.reference for hit in search_people(name=name)])


def test_a_cell_that_does_not_keep_identities_holds_none_yet_finds_and_matches_the_person(app, two):
    leuven, herko = two
    assert as_cell(app, leuven, identities_kept) == (True, 1)  # as today, until the rules say otherwise
    version = stop_keeping(app, leuven)
    stop_keeping(app, herko)
    assert as_cell(app, leuven, identities_kept) == (False, version)

    case_l, code_l = open_person(app, leuven, AMRANI_L)
    case_h, code_h = open_person(app, herko, AMRANI_H)
    as_cell(app, leuven, lambda: linking.request_link(leuven.tenant_id, herko.tenant_id, membership(leuven.coordinator)))
    as_cell(app, herko, lambda: linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator)))

    # Nothing of the identity is stored, encrypted or not: its row holds blind indexes only.
    whole = dump(app, (leuven.tenant_id, herko.tenant_id))
    assert code_l in whole and code_h in whole  # the dump holds the cells' data
    for value in VALUES:
        assert value not in whole
    for cell in (leuven, herko):
        [row] = identity_rows(app, cell)
        assert all(row[column] is None for column in CIPHERTEXTS)
        assert row["full_name_index"] and row["family_name_index"]
    with app.app_context(), tenant_context(leuven.tenant_id):
        [prepared] = db.session.scalars(sa.select(PreparedTokens)).all()
        assert prepared.tokens and "given" in prepared.known_fields and "year" in prepared.known_fields
        db.session.remove()

    # "Is this person known here?" still answers, by the case's code.
    assert code_l in search(app, leuven, "Mohammed El Amrani")
    assert code_l in search(app, leuven, "El Amrani Mohammed")
    assert search(app, leuven, "Jan Peeters") == []

    # The federation still alerts: both cases were enrolled from the tokens made at entry.
    with app.app_context():
        enrolled = db.session.scalars(sa.select(FederationEnrolment)).all()
        assert sorted(e.status for e in enrolled) == [EnrolmentStatus.ENROLLED] * 2
        db.session.remove()
    [view_l] = alerts_of(app, leuven)
    assert view_l.case_code == code_l and view_l.strength == "very_strong"
    as_cell(app, leuven, lambda: alerts.acknowledge(leuven.tenant_id, view_l.id, membership(leuven.coordinator)))
    [view_h] = alerts_of(app, herko)
    assert view_h.case_code == code_h

    # Showing the identity is refused, saying why (page and API); nothing is audited as shown.
    client = app.test_client()
    give_session(app, client, leuven.coordinator)
    page = client.get(f"/{LEUVEN}/cases/{case_l}", headers=EN).get_data(as_text=True)
    assert f"the cell chose not to keep the identities of the people concerned (house rules, version {version})" in page
    assert "Show identity" not in page
    token = client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    refused = client.post(f"/{LEUVEN}/api/cases/{case_l}/identity/reveal", json={},
                          headers={"X-CSRFToken": token, **EN})
    assert refused.status_code == 422
    assert f"house rules, version {version}" in refused.get_data(as_text=True)
    shown = client.post(f"/{LEUVEN}/cases/{case_l}/identity/reveal",
                        data={"csrf_token": token, "reveal": "yes"}, headers=EN)
    assert shown.status_code == 422 and "not to keep the identities" in shown.get_data(as_text=True)
    with app.app_context(), tenant_context(leuven.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count(AuditEntry.id)).where(
            AuditEntry.action == "case.identity_revealed")) == 0
        db.session.remove()


def test_rules_that_stop_keeping_identities_erase_those_kept_and_the_person_is_still_found(app, two):
    leuven, _herko = two
    _case_id, code = open_person(app, leuven, AMRANI_L)
    [before] = identity_rows(app, leuven)
    assert before["given_names_ciphertext"] and before["family_name_ciphertext"]  # kept, encrypted

    version = stop_keeping(app, leuven)

    [after] = identity_rows(app, leuven)
    assert all(after[column] is None for column in CIPHERTEXTS)
    assert after["full_name_index"] == before["full_name_index"]
    assert code in search(app, leuven, "Mohammed El Amrani")
    with app.app_context(), tenant_context(leuven.tenant_id):
        [entry] = db.session.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "identities.erased_by_house_rules")).all()
        assert entry.details == {"version": version, "identities": 1}
        db.session.remove()


def test_the_house_rules_page_shows_the_identity_setting_and_the_draft_form_changes_it(app, two):
    leuven, _herko = two
    client = app.test_client()
    give_session(app, client, leuven.coordinator)
    page = client.get(f"/{LEUVEN}/house-rules", headers=EN).get_data(as_text=True)
    assert "Kept, encrypted" in page
    token = client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    assert client.post(f"/{LEUVEN}/house-rules/draft/start", data={"csrf_token": token}).status_code == 302
    form = client.get(f"/{LEUVEN}/house-rules/draft", headers=EN).get_data(as_text=True)
    assert 'name="identities_kept" value="true" checked' in form and 'name="identities_kept" value="false"' in form
    answer = client.put(f"/{LEUVEN}/api/house-rules/draft", json={"identities_kept": False},
                        headers={"X-CSRFToken": token, **EN})
    assert answer.status_code == 200 and answer.get_json()["house_rules"]["identities_kept"] is False
    with app.test_request_context(), tenant_context(leuven.tenant_id):
        discard_draft()
        db.session.commit()
        db.session.remove()
    stop_keeping(app, leuven)
    page = client.get(f"/{LEUVEN}/house-rules", headers=EN).get_data(as_text=True)
    assert "Not kept: an identity is entered once" in page


def test_an_identity_entered_again_replaces_the_indexes_and_is_still_never_stored(app, two):
    leuven, _herko = two
    stop_keeping(app, leuven)
    case_id, code = open_person(app, leuven, AMRANI_L)
    client = app.test_client()
    give_session(app, client, leuven.coordinator)
    page = client.get(f"/{LEUVEN}/cases/{case_id}/identity", headers=EN).get_data(as_text=True)
    assert "type the whole identity again" in page
    token = client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
    written = client.put(f"/{LEUVEN}/api/cases/{case_id}/identity", headers={"X-CSRFToken": token, **EN},
                         json={"given_names": "Karim", "family_name": "Benali", "date_of_birth": "1992-01-02"})
    assert written.status_code == 200 and written.get_json()["identity_recorded"] is True
    assert code in search(app, leuven, "Karim Benali")
    assert code not in search(app, leuven, "Mohammed El Amrani")
    [row] = identity_rows(app, leuven)
    assert all(row[column] is None for column in CIPHERTEXTS)
    assert "Benali" not in dump(app, (leuven.tenant_id,))


def test_the_intake_form_says_when_the_identity_will_not_be_stored(app, two):
    leuven, _herko = two
    client = app.test_client()
    give_session(app, client, leuven.partner)
    before = client.get(f"/{LEUVEN}/signals/new", headers=EN).get_data(as_text=True)
    assert "Person concerned" in before and "is not stored" not in before
    stop_keeping(app, leuven)
    after = client.get(f"/{LEUVEN}/signals/new", headers=EN).get_data(as_text=True)
    assert "Your cell does not keep identities (house rules)" in after
