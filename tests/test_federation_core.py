"""Federation core: links, enrolment, matching and alerts between two demo cells, end to end
with the real in-process custodian and inline jobs, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

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
from livc.federation import alerts, enrolment, linking, matching
from livc.federation.match_keys import BATCH_TYPES
from livc.federation.models import (
    AlertState,
    CaseFederation,
    EnrolmentStatus,
    FederationEnrolment,
    FederationToken,
    MatchAlert,
    SideStatus,
)
from livc.platform.db import db, tenant_context
from livc.platform.jobs import Enqueued
from livc.platform.timeutil import utcnow

AMRANI_L = {"given_names": "Mohammed", "family_name": "El Amrani", "date_of_birth": "1990-03-07",
            "national_number": "", "address": ""}
AMRANI_H = {"given_names": "Muhammad", "family_name": "Elamrani", "date_of_birth": "1990-03-07",
            "national_number": "", "address": ""}
NAMES = ("Mohammed", "Muhammad", "Amrani", "amrani")


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


def as_cell(app, cell, func, *args):
    """Run func(*args) inside the cell (a request context), commit, return its result."""
    with app.test_request_context(), tenant_context(cell.tenant_id):
        result = func(*args)
        db.session.commit()
        db.session.remove()
    return result


def link(app, left, right):
    as_cell(app, left, lambda: linking.request_link(left.tenant_id, right.tenant_id, membership(left.coordinator)))
    as_cell(app, right, lambda: linking.agree_link(right.tenant_id, left.tenant_id, membership(right.coordinator)))


def alerts_of(app, cell, **kwargs):
    return as_cell(app, cell, lambda: alerts.alerts_for(cell.tenant_id, **kwargs))


def rows(app, model):
    with app.app_context():
        found = db.session.scalars(sa.select(model)).all()
        db.session.expunge_all()
        db.session.remove()
    return found


def case_of(cell, case_id):
    from livc.tenants.cases.models import Case

    return db.session.get(Case, case_id)


def federated_case_of(cell, case_id):
    """The case as the federation reads it (its enrolment functions take this)."""
    from livc.tenants.cases.reading import case_for_federation

    return case_for_federation(case_id)


def test_the_same_person_in_two_linked_cells_gives_one_alert(app, two):
    leuven, herko = two
    case_l, code_l = open_person(app, leuven, AMRANI_L)
    case_h, code_h = open_person(app, herko, AMRANI_H)
    # Not linked: nothing enrolled, nothing alerted.
    assert rows(app, FederationToken) == []
    assert alerts_of(app, leuven) == [] and alerts_of(app, herko) == []
    # Asked but not agreed: still nothing.
    as_cell(app, leuven, lambda: linking.request_link(leuven.tenant_id, herko.tenant_id, membership(leuven.coordinator)))
    assert rows(app, FederationToken) == [] and alerts_of(app, herko) == []
    # A partner cannot agree for the cell.
    with pytest.raises(ValidationError):
        as_cell(app, herko, lambda: linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.partner)))
    as_cell(app, herko, lambda: linking.agree_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator)))

    enrolled = rows(app, FederationEnrolment)
    assert sorted(e.status for e in enrolled) == [EnrolmentStatus.ENROLLED] * 2
    # Leuven's case was enrolled first (the cell that agreed is enrolled after the other):
    # Leuven hears first, in words only; Herent-Kortenberg sees nothing yet.
    [view_l] = alerts_of(app, leuven)
    assert view_l.heard_first and view_l.strength == "very_strong"
    assert view_l.agreeing == () and view_l.unknown == () and not hasattr(view_l, "score")
    assert alerts_of(app, herko) == []
    assert as_cell(app, herko, lambda: alerts.alert_for(herko.tenant_id, view_l.id)) is None
    # Leuven judges it worth checking: now Herent-Kortenberg sees it too.
    as_cell(app, leuven, lambda: alerts.acknowledge(leuven.tenant_id, view_l.id, membership(leuven.coordinator)))
    [view_h] = alerts_of(app, herko)
    assert view_l.id == view_h.id and not view_h.heard_first and view_h.strength == "very_strong"
    [stored] = rows(app, MatchAlert)
    assert stored.score >= 6 and "name_dob" in stored.agreeing_types and "nn" not in stored.agreeing_types
    assert view_l.case_code == code_l and view_h.case_code == code_h  # each its own case only
    assert code_h not in repr(view_l) and code_l not in repr(view_h)
    assert view_l.other_cell and view_l.shared_reference is None and view_l.contacts == ()
    for name in NAMES:
        assert name not in repr(view_l) and name not in repr(view_h)

    # Re-running the matching (a retried job) duplicates nothing.
    for e in enrolled:
        with app.app_context():
            assert matching.match_enrolment(e.id) == 0
            db.session.commit()
    assert len(rows(app, MatchAlert)) == 1
    # Re-enrolling (a duplicate delivery) neither.
    with app.app_context(), tenant_context(leuven.tenant_id):
        assert enrolment.enrol_case(case_l) == "enrolled"
        db.session.commit()
    assert len(rows(app, MatchAlert)) == 1

    # Both coordinators were mailed once (Herent-Kortenberg's once it was told), with no personal data.
    mails = list((app.extensions["livc.settings"].data_dir / "mail").glob("*.eml"))
    texts = [path.read_text() for path in mails]
    federation_mails = [t for t in texts if "federation/alerts" in t]
    assert len(federation_mails) == 2
    for text in federation_mails:
        assert not any(name in text for name in NAMES) and code_l not in text and code_h not in text


def test_acknowledge_confirm_and_contact(app, two):
    leuven, herko = two
    open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    link(app, leuven, herko)
    [alert] = alerts_of(app, leuven)
    view = as_cell(app, leuven, lambda: alerts.acknowledge(leuven.tenant_id, alert.id, membership(leuven.coordinator)))
    assert view.status == SideStatus.ACKNOWLEDGED and view.other_status == SideStatus.NEW
    view = as_cell(app, leuven, lambda: alerts.confirm(leuven.tenant_id, alert.id, membership(leuven.coordinator)))
    assert view.state == AlertState.OPEN and view.shared_reference is None and view.contacts == ()
    view_h = as_cell(app, herko, lambda: alerts.confirm(herko.tenant_id, alert.id, membership(herko.coordinator)))
    assert view_h.state == AlertState.CONFIRMED and view_h.shared_reference
    assert [c.email for c in view_h.contacts] == [leuven.coordinator.email]
    [view_l] = alerts_of(app, leuven)
    assert view_l.shared_reference == view_h.shared_reference
    assert [c.email for c in view_l.contacts] == [herko.coordinator.email]
    with app.app_context(), tenant_context(leuven.tenant_id):
        from livc.platform.audit import AuditEntry

        actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("federation.%"))).all()
        db.session.remove()
    assert {"federation.alert_acknowledged", "federation.alert_confirmed", "federation.alert_created",
            "federation.link_agreed"} <= set(actions)
    # A cell that is not a side sees nothing and can do nothing.
    with pytest.raises(ValidationError):
        as_cell(app, herko, lambda: alerts.dismiss(herko.tenant_id, alert.id + 1000, membership(herko.coordinator)))


def test_dismissed_pair_never_alerts_again_until_identity_changes(app, two):
    from livc.tenants.cases.operations import change_identity

    leuven, herko = two
    case_l, _ = open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    link(app, leuven, herko)
    [alert] = alerts_of(app, leuven)  # Leuven's case was enrolled first: it hears first
    view = as_cell(app, leuven, lambda: alerts.dismiss(leuven.tenant_id, alert.id, membership(leuven.coordinator)))
    assert view.state == AlertState.DISMISSED
    for e in rows(app, FederationEnrolment):
        with app.app_context():
            matching.match_enrolment(e.id)
            db.session.commit()
    assert [a.state for a in rows(app, MatchAlert)] == [AlertState.DISMISSED]
    # A change in the identity (an address does not count: not in the match keys? it is
    # rewritten only when a matched field changes) brings the pair back.
    as_cell(app, leuven, lambda: change_identity(
        case_of(leuven, case_l), membership(leuven.coordinator), {**AMRANI_L, "given_names": "Mohamed"}
    ))
    states = sorted(a.state for a in rows(app, MatchAlert))
    assert states == sorted([AlertState.DISMISSED, AlertState.OPEN])


def test_ending_the_link_withdraws_pending_alerts(app, two):
    leuven, herko = two
    open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    link(app, leuven, herko)
    assert len(alerts_of(app, leuven)) == 1
    as_cell(app, herko, lambda: linking.end_link(herko.tenant_id, leuven.tenant_id, membership(herko.coordinator)))
    assert alerts_of(app, herko) == [] and alerts_of(app, leuven) == []
    assert [a.state for a in rows(app, MatchAlert)] == [AlertState.WITHDRAWN]
    assert rows(app, FederationToken) == []  # neither cell is linked any more
    with app.app_context():
        assert enrolment.linked_cells(leuven.tenant_id) == {}


def test_excluding_closing_and_erasing_remove_tokens(app, two):
    from livc.tenants.cases.erasure import erase_case
    from livc.tenants.cases.operations import close_case
    from livc.tenants.decisions.models import Proposal

    leuven, herko = two
    case_l, _ = open_person(app, leuven, AMRANI_L)
    case_h, _ = open_person(app, herko, AMRANI_H)
    link(app, leuven, herko)
    ref_l = as_cell(app, leuven, lambda: enrolment.federation_of(federated_case_of(leuven, case_l)).ref)

    def tokens_of(ref):
        with app.app_context():
            count = db.session.scalar(
                sa.select(sa.func.count()).select_from(FederationToken).join(FederationEnrolment)
                .where(FederationEnrolment.ref == ref)
            )
            db.session.remove()
        return count

    assert tokens_of(ref_l) > 0
    with pytest.raises(ValidationError):
        as_cell(app, leuven, lambda: enrolment.exclude_case(federated_case_of(leuven, case_l), membership(leuven.coordinator), "  "))
    assert tokens_of(ref_l) > 0
    as_cell(app, leuven, lambda: enrolment.exclude_case(
        federated_case_of(leuven, case_l), membership(leuven.coordinator), "Known to both cells already"))
    assert tokens_of(ref_l) == 0
    assert [a.state for a in rows(app, MatchAlert)] == [AlertState.WITHDRAWN]
    reason = as_cell(app, leuven, lambda: enrolment.federation_of(federated_case_of(leuven, case_l)).excluded_reason)
    assert reason == "Known to both cells already"
    as_cell(app, leuven, lambda: enrolment.include_case(federated_case_of(leuven, case_l), membership(leuven.coordinator)))
    assert tokens_of(ref_l) > 0

    ref_h = as_cell(app, herko, lambda: enrolment.federation_of(federated_case_of(herko, case_h)).ref)
    assert tokens_of(ref_h) > 0
    # Closing is a joint decision: the tokens stay while the closure waits for a second member.
    proposal_h = as_cell(app, herko, lambda: close_case(case_of(herko, case_h), membership(herko.coordinator),
                                                        {"reason": "other", "note": "Moved away"}).id)
    assert tokens_of(ref_h) > 0
    as_cell(app, herko, lambda: confirmed(db.session.get(Proposal, proposal_h), case_confirmer(herko, case_of(herko, case_h))))
    assert tokens_of(ref_h) == 0
    as_cell(app, leuven, lambda: confirmed(
        close_case(case_of(leuven, case_l), membership(leuven.coordinator), {"reason": "other", "note": "Moved"}),
        case_confirmer(leuven, case_of(leuven, case_l))))
    assert tokens_of(ref_l) == 0
    as_cell(app, leuven, lambda: erase_case(case_of(leuven, case_l)))
    with app.app_context(), tenant_context(leuven.tenant_id):
        assert db.session.scalars(sa.select(CaseFederation)).all() == []
        db.session.remove()


def test_a_lost_enrolment_job_is_picked_up_by_the_sweeper(app, two, monkeypatch):
    leuven, herko = two
    link(app, leuven, herko)
    open_person(app, herko, AMRANI_H)
    # The job is lost: enqueued in a Redis that lost it (no job of that id anywhere).
    monkeypatch.setattr(enrolment, "enqueue", lambda *args, **kwargs: Enqueued(job_id=uuid.uuid4().hex, inline=False))
    case_l, _ = open_person(app, leuven, AMRANI_L)
    monkeypatch.undo()
    [pending] = [e for e in rows(app, FederationEnrolment) if e.tenant_id == leuven.tenant_id]
    assert pending.status == EnrolmentStatus.PENDING and alerts_of(app, leuven) == []
    with app.app_context():
        assert as_cell(app, leuven, enrolment.sweep_enrolments) == 0  # not stuck yet
        db.session.get(FederationEnrolment, pending.id).updated_at = utcnow() - timedelta(minutes=10)
        db.session.commit()
        db.session.remove()
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 1
    [done] = [e for e in rows(app, FederationEnrolment) if e.tenant_id == leuven.tenant_id]
    assert done.status == EnrolmentStatus.ENROLLED
    assert len(alerts_of(app, herko)) == 1  # Herent-Kortenberg's case was enrolled first


def test_an_unlinked_cell_sees_no_tokens_or_alerts(app, two, cells):
    from livc.admin.onboarding.cells import create_tenant

    leuven, herko = two
    with app.app_context():
        third = create_tenant({"slug": "demo-third", "name": "Third cell", "kind": "municipality",
                               "languages": ["nl"], "municipalities": [{"nis_code": "11001", "name": "Aartselaar"}]})
        db.session.commit()
        third_id = third.id
        db.session.remove()
    other = ready_cell(app, third_id, "demo-third")
    open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    open_person(app, other, AMRANI_L)
    link(app, leuven, herko)
    assert alerts_of(app, other) == []
    assert all(e.tenant_id != third_id for e in rows(app, FederationEnrolment))
    assert len(rows(app, MatchAlert)) == 1


def test_federation_tables_hold_no_names(app, two):
    leuven, herko = two
    open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    link(app, leuven, herko)
    dump = []
    with app.app_context():
        for table in ("federation_links", "federation_enrolments", "federation_tokens", "match_alerts",
                      "dismissed_pairs"):
            dump += [repr(tuple(row)) for row in db.session.execute(sa.text(f"select * from {table}"))]
        db.session.remove()
    text = "\n".join(dump).lower()
    assert "match_alerts" and text
    for name in NAMES + ("1990-03-07", "elamrani"):
        assert name.lower() not in text
    # Nor any token of a key without the date of birth (batch linkage's name_only).
    kinds = {token.key_type for token in rows(app, FederationToken)}
    assert {"name_dob", "gdel_dob", "fdel_dob"} <= kinds and not kinds & BATCH_TYPES


@pytest.mark.parametrize("app", ["postgres"], indirect=True)
def test_matching_query_uses_the_token_index(app, two):
    import os

    leuven, herko = two
    open_person(app, leuven, AMRANI_L)
    open_person(app, herko, AMRANI_H)
    link(app, leuven, herko)
    with app.app_context():
        mine = db.session.scalar(sa.select(FederationEnrolment).where(FederationEnrolment.tenant_id == leuven.tenant_id))
        # 20,000 tokens of 1,500 other enrolments of the linked cell.
        db.session.execute(sa.insert(FederationEnrolment), [
            {"tenant_id": herko.tenant_id, "ref": os.urandom(16).hex(), "epoch": mine.epoch, "known": "",
             "status": EnrolmentStatus.ENROLLED, "requested_at": utcnow(), "updated_at": utcnow()}
            for _ in range(1500)
        ])
        ids = db.session.scalars(sa.select(FederationEnrolment.id).where(FederationEnrolment.tenant_id == herko.tenant_id)).all()
        kinds = ("name_dob", "first_dob", "phon_dob", "one_dob", "pre_dob", "suf_dob", "mix_dob", "phon_ym", "phon_y")
        db.session.execute(sa.insert(FederationToken), [
            {"enrolment_id": ids[n % len(ids)], "tenant_id": herko.tenant_id, "epoch": mine.epoch,
             "key_type": kinds[n % len(kinds)], "token": os.urandom(64)}
            for n in range(20_000)
        ])
        db.session.commit()
        db.session.execute(sa.text("ANALYZE federation_tokens"))
        db.session.execute(sa.text("ANALYZE federation_enrolments"))
        query = matching.candidates_query(mine.id, [herko.tenant_id])
        compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        plan = "\n".join(db.session.scalars(sa.text(f"EXPLAIN {compiled}")))
        db.session.remove()
    assert "ix_federation_tokens_lookup" in plan, plan
    with app.app_context():
        assert matching.match_enrolment(mine.id) == 0  # still the one alert, now among 20,000 tokens
        db.session.commit()
    assert len(rows(app, MatchAlert)) == 1


def test_after_a_key_rotation_the_sweeper_re_enrols_both_cells_and_the_alert_stands(app, two):
    from livc.federation.custodian_client import custodian_for

    leuven, herko = two
    link(app, leuven, herko)
    open_person(app, herko, AMRANI_H)
    open_person(app, leuven, AMRANI_L)
    assert len(alerts_of(app, herko)) == 1  # the earlier case's cell
    before = {e.tenant_id: e.epoch for e in rows(app, FederationEnrolment)}
    with app.app_context():
        custodian = custodian_for(app.extensions["livc.settings"])
        new_epoch = custodian.rotate()
    assert new_epoch > max(before.values())
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 1
    assert as_cell(app, herko, enrolment.sweep_enrolments) == 1
    after = rows(app, FederationEnrolment)
    assert {e.epoch for e in after} == {new_epoch} and {e.status for e in after} == {EnrolmentStatus.ENROLLED}
    assert {t.epoch for t in rows(app, FederationToken)} == {new_epoch}  # the old epoch's tokens are gone
    assert len(alerts_of(app, herko)) == 1  # the same pair: no second alert
    with app.app_context():
        custodian.retire(min(before.values()))
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 0  # nothing left to move
