"""The tallies the database keeps (``case_tallies``, migration 0035) always equal a count of the
cases and measures themselves, after every step of a case's life, on SQLite and PostgreSQL: the
coordinator's dashboard and the meetings' cadence show them, so a tally that drifted would show
a coordinator a wrong number of cases to evaluate or measures due.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from test_audit import livc_cli, tamper

from case_helpers import LEUVEN, case_confirmer, confirmed, membership, open_case, ready_cell
from livc.platform.db import db, tenant_context
from livc.tenants.access import person_for
from livc.tenants.cases import operations as cases
from livc.tenants.cases import tallies
from livc.tenants.cases.erasure import erase_closed_case_now
from livc.tenants.cases.listing import readable, stage_column, stage_counts
from livc.tenants.cases.models import (
    NO_DAY,
    Case,
    CaseStage,
    CaseTally,
    ClosureReason,
    Measure,
    MeasureStatus,
    ReviewOutcome,
)
from livc.tenants.home.dashboard import dashboard
from livc.tenants.meetings.cadence import PROBLEMATIC_FLAGS, cadence_state
from livc.tenants.signals.models import FlagLevel

EN = {"Accept-Language": "en"}


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


def counted() -> dict[tuple, int]:
    """What the tallies must hold, counted on the rows themselves (the cell's own, under its
    context)."""
    cases_counted = db.session.execute(
        sa.select(Case.base_stage, Case.flag, Case.next_review_on, sa.func.count())
        .group_by(Case.base_stage, Case.flag, Case.next_review_on)
    )
    measures_counted = db.session.execute(
        sa.select(Measure.status, Measure.due_on, sa.func.count()).group_by(Measure.status, Measure.due_on)
    )
    expected = {("case", str(stage), str(flag), day or NO_DAY): n for stage, flag, day, n in cases_counted}
    expected |= {("measure", str(status), "", day or NO_DAY): n for status, day, n in measures_counted}
    return expected


def assert_tallies_true() -> None:
    db.session.expire_all()
    kept = {(t.subject, t.state, t.flag, t.day): t.n for t in db.session.scalars(sa.select(CaseTally)) if t.n}
    assert kept == counted()


def add_measure(cell, case_id: int, due_on: date | None) -> Measure:
    measure = cases.add_measure(db.session.get(Case, case_id), membership(cell.coordinator), {
        "description": "Talk with the pupil guidance counsellor", "category": "education",
        "organisation_id": membership(cell.partner).organisation_id, "due_on": due_on})
    db.session.commit()
    return measure


def test_the_tallies_follow_every_step_of_a_case_and_its_measures(app, cell):
    first_id, _ = open_case(app, cell)
    second_id, _ = open_case(app, cell)
    today = date.today()
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        coordinator = membership(cell.coordinator)
        assert_tallies_true()
        assert tallies.stage_counts(today)[CaseStage.BUILDING] == 2

        measure = add_measure(cell, first_id, today + timedelta(days=3))
        add_measure(cell, first_id, None)
        assert_tallies_true()
        assert tallies.open_measures_due(today + timedelta(days=14)) == 1

        db.session.get(Measure, measure.id).status = MeasureStatus.DONE
        case = db.session.get(Case, second_id)
        case.next_review_on, case.flag = today, FlagLevel.RED
        db.session.get(Case, first_id).flag = FlagLevel.YELLOW
        db.session.commit()
        assert_tallies_true()
        assert tallies.open_measures_due(today + timedelta(days=14)) == 0
        counts = tallies.stage_counts(today)
        assert counts[CaseStage.EVALUATION] == 1 and counts[CaseStage.FOLLOW_UP] == 1
        assert tallies.open_cases(PROBLEMATIC_FLAGS) == (2, 1)

        proposal = cases.close_case(db.session.get(Case, first_id), coordinator, {
            "reason": ClosureReason.MOVED_AWAY, "municipality": "44021", "note": "Moved to Gent."})
        db.session.commit()
        confirmed(db.session.get(type(proposal), proposal.id), case_confirmer(cell, db.session.get(Case, first_id)))
        assert_tallies_true()
        assert tallies.stage_counts(today)[CaseStage.AFTERCARE] == 1
        for _ in range(2):
            case = db.session.get(Case, first_id)
            cases.hold_review(case, cases.next_open_review(case), coordinator,
                              {"outcome": ReviewOutcome.NO_CONCERN, "summary": "All calm."})
            db.session.commit()
        assert_tallies_true()
        assert tallies.stage_counts(today)[CaseStage.CLOSED] == 1

        erase_closed_case_now(db.session.get(Case, first_id), coordinator)
        db.session.commit()
        assert_tallies_true()
        assert tallies.stage_counts(today) == {**{stage: 0 for stage in CaseStage}, CaseStage.EVALUATION: 1}
        assert tallies.open_measures_due(today + timedelta(days=365)) == 0


def test_the_coordinators_counts_from_the_tallies_are_those_a_count_of_the_cases_gives(app, cell):
    """The dashboard's stage counts, measures due and the cadence's open cases, read from the
    tallies, against the same counted over the rows (the way a member's own are counted)."""
    ids = [open_case(app, cell)[0] for _ in range(3)]
    today = date.today()
    with app.test_request_context(headers=EN), tenant_context(cell.tenant_id):
        add_measure(cell, ids[0], today - timedelta(days=2))
        add_measure(cell, ids[1], today + timedelta(days=20))
        for case_id in ids:
            db.session.get(Case, case_id).flag = FlagLevel.GREEN
        case = db.session.get(Case, ids[2])
        case.next_review_on, case.flag = today - timedelta(days=1), FlagLevel.BLACK
        db.session.commit()
        coordinator = person_for(membership(cell.coordinator))
        stage = stage_column(today)
        by_rows = dict(db.session.execute(
            readable(coordinator, today).with_only_columns(stage, sa.func.count()).group_by(stage)).all())
        counts = stage_counts(coordinator, today)
        assert {str(s): n for s, n in counts.items() if n} == by_rows
        assert counts[CaseStage.EVALUATION] == 1 and counts[CaseStage.FOLLOW_UP] == 2

        board = dashboard(coordinator)
        assert board.measures_due_count == 1 == len(board.measures_due)
        assert [c.id for c in board.cases_by_stage[CaseStage.EVALUATION]] == [ids[2]]
        state = cadence_state()
        assert (state.open_cases, state.problematic_cases) == (3, 1)


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_sqlite_keeps_its_tally_triggers(app):
    """A later migration that rebuilds ``cases`` or ``measures`` in batch mode drops their
    triggers: it must create them again."""
    expected = {f"tally_{table}_{event}" for table in ("cases", "measures") for event in ("insert", "delete", "update")}
    with app.app_context():
        names = set(db.session.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    assert expected <= names


def test_an_operator_finds_tallies_that_differ_from_the_rows_and_repairs_them(app, cell):
    """Rows loaded with the triggers disabled leave the tallies behind: ``livc tallies check``
    says which cell differs (exit 1), ``--repair`` counts them again."""
    open_case(app, cell)
    tamper(app, cell.tenant_id, "UPDATE case_tallies SET n = n + 5 WHERE tenant_id = :t AND subject = 'case'")

    checked = livc_cli(app, "tallies", "check")
    assert checked.exit_code == 1
    assert f"DIFFERS   {cell.slug}: 1 tallies differed" in checked.output

    repaired = livc_cli(app, "tallies", "check", "--tenant", cell.slug, "--repair")
    assert repaired.exit_code == 0 and f"REPAIRED  {cell.slug}" in repaired.output
    assert livc_cli(app, "tallies", "check").exit_code == 0
    with app.test_request_context(), tenant_context(cell.tenant_id):
        assert_tallies_true()
        assert tallies.stage_counts(date.today())[CaseStage.BUILDING] == 1
