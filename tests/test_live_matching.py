"""The live matcher (``matching.match_enrolment``) as enrolments arrive one by one, and the
evaluation command's ``--as-enrolled`` mode that plays it on two CSV files.

Enrolments are made the way :func:`livc.federation.enrolment.enrol_case` makes them (its
``store_tokens``, tokens through an in-process OPRF), in two linked cells, without the case
machinery around them: what is tested is the matcher.
"""

from __future__ import annotations

import itertools

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from livc.app.cli import cli
from livc.federation.enrolment import store_tokens
from livc.federation.linkage import Record, ephemeral_custodian, tokens_for
from livc.federation.match_keys import THRESHOLD
from livc.federation.matching import match_enrolment
from livc.federation.models import (
    AlertState,
    FederationEnrolment,
    FederationLink,
    MatchAlert,
    SideStatus,
)
from livc.platform.db import db
from livc.platform.tenancy import Tenant, TenantKind
from livc.platform.timeutil import utcnow

REFS = itertools.count(1)


@pytest.fixture
def cells(sqlite_app):
    """Two linked cells in a fresh app; yields (app, enrol) where ``enrol(side, given, family,
    born)`` enrols a person in cell 0 or 1 and matches it, returning the enrolment id."""
    evaluate = ephemeral_custodian()
    with sqlite_app.app_context():
        tenants = [Tenant(slug=f"cell-{n}", name=f"Cell {n}", kind=TenantKind.MUNICIPALITY) for n in (0, 1)]
        db.session.add_all(tenants)
        db.session.flush()
        now = utcnow()
        db.session.add(FederationLink(cell_a_id=tenants[0].id, cell_b_id=tenants[1].id,
                                      requested_by_id=tenants[0].id, a_agreed_at=now, b_agreed_at=now))
        db.session.commit()
        ids = [tenant.id for tenant in tenants]

        def enrol(side: int, given: str, family: str, born: str) -> int:
            record = Record.from_fields("x", given, family, born)
            (tokens,) = tokens_for([record], evaluate)
            enrolment = FederationEnrolment(tenant_id=ids[side], ref=f"ref-{next(REFS)}")
            db.session.add(enrolment)
            db.session.flush()
            store_tokens(enrolment, record.identity, tokens, 1, "v1")
            match_enrolment(enrolment.id)
            db.session.commit()
            return enrolment.id

        yield sqlite_app, enrol
        db.session.remove()


def alerts() -> list[MatchAlert]:
    return list(db.session.scalars(sa.select(MatchAlert).order_by(MatchAlert.id)))


def test_a_weak_pair_alerts_when_each_is_the_others_sole_candidate(cells):
    _, enrol = cells
    left = enrol(0, "Jan", "Peeters", "1990-03-07")
    right = enrol(1, "Jan", "Peeters", "1990-07-03")  # day and month swapped
    (alert,) = alerts()
    assert (alert.enrolment_a_id, alert.enrolment_b_id) == (left, right)
    assert alert.state == AlertState.OPEN and alert.score < THRESHOLD
    assert "swap_dob" in alert.agreeing_types
    assert match_enrolment(right) == 0 and len(alerts()) == 1  # idempotent


def test_a_newcomer_competing_with_a_weak_alert_withdraws_it_and_makes_none(cells):
    _, enrol = cells
    enrol(0, "Jan", "Peeters", "1990-03-07")
    enrol(1, "Jan", "Peeters", "1990-07-03")
    enrol(1, "Jan", "Peeters", "1990-07-03")  # a second candidate for the left record
    (alert,) = alerts()
    assert alert.state == AlertState.WITHDRAWN and alert.withdrawn_at is not None


def test_a_weak_alert_someone_acted_on_is_not_withdrawn(cells):
    _, enrol = cells
    enrol(0, "Jan", "Peeters", "1990-03-07")
    enrol(1, "Jan", "Peeters", "1990-07-03")
    (alert,) = alerts()
    alert.status_a = SideStatus.ACKNOWLEDGED
    db.session.commit()
    enrol(1, "Jan", "Peeters", "1990-07-03")
    assert [alert.state for alert in alerts()] == [AlertState.OPEN]


def test_a_weak_pair_with_a_competitor_already_enrolled_never_alerts(cells):
    _, enrol = cells
    enrol(1, "Jan", "Peeters", "1990-07-03")
    enrol(1, "Jan", "Peeters", "1990-07-03")
    enrol(0, "Jan", "Peeters", "1990-03-07")
    assert alerts() == []


def test_a_namesake_born_a_day_apart_never_alerts_even_with_nobody_else_near(cells):
    """One digit of the date apart looks exactly like a mistyped digit: not an alert (key scheme 4)."""
    _, enrol = cells
    enrol(0, "Mohamed", "El Amrani", "1990-03-07")
    enrol(1, "Mohamed", "El Amrani", "1990-03-08")
    assert alerts() == []


def test_a_strong_alert_stands_whatever_competes(cells):
    _, enrol = cells
    enrol(0, "Mohammed", "El Amrani", "1990-03-07")
    enrol(1, "Muhammad", "Elamrani", "1990-03-07")
    enrol(1, "Mohamed", "El Amrani", "1990-03-08")
    open_alerts = [alert for alert in alerts() if alert.state == AlertState.OPEN]
    assert [alert.score >= THRESHOLD for alert in open_alerts] == [True]


def test_twins_never_alert_even_as_sole_candidates(cells):
    _, enrol = cells
    enrol(0, "Jan", "Mertens", "2004-04-25")
    enrol(1, "Stefaan", "Mertens", "2004-04-25")
    assert alerts() == []


def test_a_missing_date_with_the_whole_name_alerts_as_sole_candidate(cells):
    _, enrol = cells
    enrol(0, "Kim", "Vos", "1999-02-02")
    enrol(1, "Vos", "Kim", "")
    (alert,) = alerts()
    assert alert.score < THRESHOLD and "name_only" in alert.agreeing_types


def test_a_married_name_joined_to_the_birth_name_alerts(cells):
    _, enrol = cells
    enrol(0, "Els", "Janssens-Peeters", "1971-06-02")
    enrol(1, "Els", "Peeters", "1971-06-02")
    (alert,) = alerts()
    assert alert.score >= THRESHOLD and "fw_dob" in alert.agreeing_types


# --- livc federation link --as-enrolled ---------------------------------------------------------

HEADER = "id,given_names,family_name,date_of_birth,national_number\n"


def test_as_enrolled_prints_the_alerts_coordinators_would_see(tmp_path):
    left, right = tmp_path / "left.csv", tmp_path / "right.csv"
    left.write_text(HEADER + "L1,Mohammed,El Amrani,1990-03-07,\nL2,Jan,Peeters,1990-03-07,\n"
                    "L3,Piet,Maes,1970-05-04,\n", encoding="utf-8")
    right.write_text(HEADER + "R1,Muhammad,Elamrani,1990-03-07,\nR2,Jan,Peeters,1990-07-03,\n"
                     "R3,Piet,Maes,1970-04-05,\nR4,Piet,Maes,1970-04-05,\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["federation", "link", str(left), str(right), "--as-enrolled"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "left_id,right_id,score"
    rows = [line.split(",") for line in lines[1:]]
    assert [(l, r) for l, r, _ in rows] == [("L1", "R1"), ("L2", "R2")]  # L3 has two candidates: none
    assert float(rows[0][2]) >= THRESHOLD > float(rows[1][2])  # a strong and a live weak alert
    explained = CliRunner().invoke(cli, ["federation", "link", str(left), str(right), "--as-enrolled", "--explain"])
    assert explained.stdout.splitlines()[0] == "left_id,right_id,score,agreeing"
    assert "swap_dob" in explained.stdout.splitlines()[2]


def test_as_enrolled_refuses_bad_input_with_status_2(tmp_path):
    left, right = tmp_path / "left.csv", tmp_path / "right.csv"
    left.write_text(HEADER + "L1,Jan,Peeters,1990-13-12,\n", encoding="utf-8")
    right.write_text(HEADER, encoding="utf-8")
    result = CliRunner().invoke(cli, ["federation", "link", str(left), str(right), "--as-enrolled"])
    assert result.exit_code == 2 and result.stdout == ""
    assert "line 2: bad date_of_birth" in result.stderr


def test_as_enrolled_leaves_out_what_production_never_enrols(tmp_path):
    """A national number without both names, or names without a year of birth or a national
    number, is never enrolled by a cell: the evaluation plays the same rule, so such a record
    alerts on nothing, however well it would match."""
    left, right = tmp_path / "left.csv", tmp_path / "right.csv"
    left.write_text(HEADER + "L1,Mohammed,El Amrani,1990-03-07,90030712345\nL2,Kim,Vos,1999-02-02,\n",
                    encoding="utf-8")
    right.write_text(HEADER + "R1,,,,90030712345\nR2,Kim,Vos,,\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["federation", "link", str(left), str(right), "--as-enrolled"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["left_id,right_id,score"]
    # The same people, enrollable, do alert (the control).
    right.write_text(HEADER + "R1,Mohamed,Elamrani,,90030712345\nR2,Kim,Vos,1999,\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["federation", "link", str(left), str(right), "--as-enrolled"])
    assert [line.split(",")[:2] for line in result.stdout.splitlines()[1:]] == [["L1", "R1"], ["L2", "R2"]]
