"""The stage kept on the case (``Case.base_stage``, migration 0032) always says what ``stage_of``
says, after every step of a case's life: opened, a measure added, a review due, closure with
reviews after closure, those reviews held, taken up again. Lists and dashboards count and pick
cases by that column, so a wrong value would put a case under the wrong stage.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from case_helpers import LEUVEN, case_confirmer, confirmed, membership, open_case, ready_cell
from livc.platform.db import db, tenant_context
from livc.tenants.access import person_for
from livc.tenants.cases import operations as cases
from livc.tenants.cases.listing import stage_column, stage_counts
from livc.tenants.cases.models import Case, CaseStage, ClosureReason, ReviewKind, ReviewOutcome

EN = {"Accept-Language": "en"}


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


def assert_kept(case_id: int, expected: CaseStage) -> None:
    """A fresh read of the case: the oracle, the kept column and the SQL expression agree."""
    db.session.expire_all()
    case = db.session.get(Case, case_id)
    today = date.today()
    assert cases.stage_of(case, today) == expected
    listed = db.session.scalar(sa.select(stage_column(today)).where(Case.id == case_id))
    assert CaseStage(listed) == expected
    if expected != CaseStage.EVALUATION:
        assert case.base_stage == expected


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_the_kept_stage_follows_every_step_of_a_case(app, cell):
    case_id, _ = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        coordinator = membership(cell.coordinator)
        assert_kept(case_id, CaseStage.BUILDING)

        cases.add_measure(db.session.get(Case, case_id), coordinator, {
            "description": "Talk with the pupil guidance counsellor", "category": "education",
            "organisation_id": membership(cell.partner).organisation_id, "due_on": date.today() + timedelta(days=10)})
        db.session.commit()
        assert_kept(case_id, CaseStage.FOLLOW_UP)

        case = db.session.get(Case, case_id)
        case.next_review_on = date.today()  # the review is due: read against the day
        db.session.commit()
        assert_kept(case_id, CaseStage.EVALUATION)
        counts = stage_counts(person_for(coordinator), date.today())
        assert counts[CaseStage.EVALUATION] == 1 and counts[CaseStage.FOLLOW_UP] == 0

        case = db.session.get(Case, case_id)
        version = case.version
        proposal = cases.close_case(case, coordinator, {
            "reason": ClosureReason.MOVED_AWAY, "municipality": "44021", "note": "Moved to Gent; their cell takes over."})
        db.session.commit()
        case = db.session.get(Case, case_id)
        confirmed(db.session.get(type(proposal), proposal.id), case_confirmer(cell, case))
        assert_kept(case_id, CaseStage.AFTERCARE)
        assert db.session.get(Case, case_id).version > version  # closing is an edit; keeping the stage is not

        case = db.session.get(Case, case_id)
        after = [r for r in cases.reviews_of(case) if r.kind == ReviewKind.AFTER_CLOSURE]
        assert len(after) == 2
        version = case.version
        cases.hold_review(case, cases.next_open_review(case), coordinator,
                          {"outcome": ReviewOutcome.NO_CONCERN, "summary": "All calm."})
        db.session.commit()
        assert_kept(case_id, CaseStage.AFTERCARE)  # one review after closure still to hold
        case = db.session.get(Case, case_id)
        cases.hold_review(case, cases.next_open_review(case), coordinator,
                          {"outcome": ReviewOutcome.NO_CONCERN, "summary": "Still calm."})
        db.session.commit()
        assert_kept(case_id, CaseStage.CLOSED)
        counts = stage_counts(person_for(coordinator), date.today())
        assert counts[CaseStage.CLOSED] == 1 and sum(counts.values()) == 1


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_a_review_after_closure_that_takes_the_case_up_again_puts_it_back_in_follow_up(app, cell):
    case_id, _ = open_case(app, cell)
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        coordinator = membership(cell.coordinator)
        cases.add_measure(db.session.get(Case, case_id), coordinator, {
            "description": "Weekly talk", "category": "education",
            "organisation_id": membership(cell.partner).organisation_id, "due_on": None})
        db.session.commit()
        case = db.session.get(Case, case_id)
        proposal = cases.close_case(case, coordinator, {
            "reason": ClosureReason.MOVED_AWAY, "municipality": "44021", "note": "Moved away."})
        db.session.commit()
        confirmed(db.session.get(type(proposal), proposal.id), case_confirmer(cell, db.session.get(Case, case_id)))
        assert_kept(case_id, CaseStage.AFTERCARE)
        case = db.session.get(Case, case_id)
        cases.hold_review(case, cases.next_open_review(case), coordinator,
                          {"outcome": ReviewOutcome.REOPEN, "summary": "New worrying signs."})
        db.session.commit()
        case = db.session.get(Case, case_id)
        assert not case.closed
        assert_kept(case_id, cases.stage_of(case, date.today()))
        assert cases.stage_of(case, date.today()) in (CaseStage.FOLLOW_UP, CaseStage.EVALUATION)
