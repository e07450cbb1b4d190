"""Linkage through OPRF tokens, and ``livc federation link``, the evaluation contract.

The command runs the production path (keys, blinded evaluation by an ephemeral custodian,
finalized tokens, the equi-join, the decision rule) on small CSV files written here, and its
output is checked as a benchmark reads it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from livc.app.cli import cli
from livc.federation import oprf
from livc.federation.custodian_client import InProcessCustodian
from livc.federation.linkage import (
    HEADER,
    InputError,
    Record,
    agreeing_pairs,
    custodian_evaluator,
    ephemeral_custodian,
    link,
    matches,
    read_csv,
    tokens_for,
)
from livc.federation.match_keys import CANDIDATE, RESIDUAL, THRESHOLD, identity_keys

LEFT = [
    ("L1", "Mohammed", "El Amrani", "1990-03-07", ""),  # a Moroccan name spelled two ways
    ("L2", "Pieter", "Van den Berghe", "1979-11-30", ""),  # a Flemish particle split and glued
    ("L3", "Jan", "Peeters", "1986-04-09", ""),  # day and month swapped on the other side
    ("L4", "Mohamed", "Bouzidi", "1993-06-21", ""),  # hard negative: a namesake born a week earlier
    ("L5", "Hüseyin", "Yılmaz", "2001-02", ""),  # the other side knows the day too
    ("L6", "Fatima", "Chakir", "1975-12-01", "75120112345"),  # the national number decides
    ("L7", "Youssef", "Benali", "1988", ""),  # a year alone, and no one else like him
]
RIGHT = [
    ("R1", "Muhammad", "Elamrani", "1990-03-07", ""),
    ("R2", "PIETER", "VANDENBERGHE", "1979-11-30", ""),
    ("R3", "Jan", "Peeters", "1986-09-04", ""),
    ("R4", "Mohamed", "Bouzidi", "1993-06-14", ""),  # two digits apart (one apart: a sole candidate)
    ("R5", "Huseyin", "Yilmaz", "2001-02-14", ""),
    ("R6", "Fatma", "Çakir", "1957-12-01", "75.12.01-123.45"),
    ("R7", "Yusuf", "Ben Ali", "1988-10-02", ""),
    ("R8", "Sofie", "Claes", "1990-03-07", ""),  # nobody's match
]
EXPECTED = {("L1", "R1"), ("L2", "R2"), ("L3", "R3"), ("L5", "R5"), ("L6", "R6"), ("L7", "R7")}
# The namesake pair has only each other: alerted in the residual step, below every other alert.
RESIDUAL_PAIRS = {("L4", "R4")}


def write_csv(path: Path, rows, header=HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def records(rows) -> list[Record]:
    return [Record.from_fields(*row) for row in rows]


def run_link(*args: str):
    return CliRunner().invoke(cli, ["federation", "link", *args])


# --- reading the contract's CSV -----------------------------------------------------------------


def test_read_csv_takes_the_three_date_precisions_and_empty_numbers(tmp_path):
    path = write_csv(tmp_path / "left.csv", LEFT)
    read = read_csv(path)
    assert [record.id for record in read] == [row[0] for row in LEFT]
    assert read[4].identity.born.day is None and read[6].identity.born.month is None
    assert read[5].identity.national_number == "75120112345"
    assert read[0].identity.national_number is None


def test_read_csv_accepts_a_byte_order_mark_columns_in_another_order_and_blank_lines(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text(
        "\ufeffnational_number,id,family_name,given_names,date_of_birth\r\n"
        ",A1,Öztürk,Ayşe,1990-01-31\r\n\r\n", encoding="utf-8",
    )  # fmt: skip
    [record] = read_csv(path)
    assert record.id == "A1" and record.identity.family == ("ozturk",)


@pytest.mark.parametrize(
    "content, message",
    [
        ("id,given,family,dob,nn\n", "line 1: the header must be id,given_names,family_name,date_of_birth,national_number"),
        ("", "empty file"),
        (",".join(HEADER) + "\nA1,Jan,Peeters,1990-02-30,\n", "line 2: bad date_of_birth"),
        (",".join(HEADER) + "\nA1,Jan,Peeters,1990-01-01,\nA2,Jan,Peeters,07/03/1990,\n", "line 3: bad date_of_birth"),
        (",".join(HEADER) + "\nA1,Jan,Peeters,1990-01-01\n", "line 2: 4 fields, expected 5"),
        (",".join(HEADER) + "\nA1,Jan,Peeters,1990,\nA1,Piet,Peeters,1991,\n", "line 3: the id 'A1' is used twice"),
        (",".join(HEADER) + "\n,Jan,Peeters,1990,\n", "line 2: the id is empty"),
        (",".join(HEADER) + "\nA1,Jan,Peeters,1990,1234\n", "line 2: bad national_number"),
    ],
)
def test_read_csv_says_what_is_wrong_and_where(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        read_csv(path)


def test_read_csv_refuses_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_csv(tmp_path / "absent.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes((",".join(HEADER) + "\nA1,Jos\xe9,Peeters,1990,\n").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8"):
        read_csv(latin)


# --- tokens -------------------------------------------------------------------------------------


def test_tokens_are_the_oprf_of_each_key_and_the_custodian_sees_only_blinded_elements():
    secret = oprf.random_key()
    seen: list[bytes] = []

    def custodian(elements: list[bytes]) -> list[bytes]:
        seen.extend(elements)
        return [oprf.blind_evaluate(secret, element) for element in elements]

    people = records(LEFT[:2])
    tokens = tokens_for(people, custodian)
    for person, person_tokens in zip(people, tokens, strict=True):
        keys = identity_keys(person.identity)
        assert person_tokens.keys() == keys.keys()
        for key_type, key in keys.items():
            assert person_tokens[key_type] == oprf.evaluate(secret, key)
            assert key not in seen
    assert all(len(element) == oprf.ELEMENT_BYTES for element in seen)
    # Blinding is fresh each time: other elements, the same tokens.
    before = list(seen)
    assert tokens_for(people, custodian) == tokens
    assert not set(seen[len(before):]) & set(before)


def test_tokens_differ_under_another_ephemeral_key():
    people = records(LEFT[:1])
    [first] = tokens_for(people, ephemeral_custodian())
    [second] = tokens_for(people, ephemeral_custodian())
    assert first.keys() == second.keys()
    assert all(first[key_type] != second[key_type] for key_type in first)


def test_batches_of_the_custodian_and_an_identical_key_evaluated_once():
    calls: list[int] = []
    secret = oprf.random_key()

    def custodian(elements):
        calls.append(len(elements))
        return [oprf.blind_evaluate(secret, element) for element in elements]

    twins = records([("A", "Jan", "Peeters", "1990-01-15", ""), ("B", "Jan", "Peeters", "1990-01-15", "")])
    first, second = tokens_for(twins, custodian, batch=4)
    assert first == second
    assert sum(calls) == len(identity_keys(twins[0].identity)) and max(calls) <= 4


def test_the_key_custodian_of_the_platform_serves_as_evaluator():
    custodian = InProcessCustodian(bytes(32))
    found = link(records(LEFT), records(RIGHT), custodian_evaluator(custodian, "demo-leuven"))
    assert {(left, right) for left, right, _ in found} == EXPECTED | RESIDUAL_PAIRS


def test_the_join_looks_only_at_pairs_that_share_a_token():
    left = [{"name_dob": b"a", "phon_y": b"x"}, {"name_dob": b"b"}]
    right = [{"name_dob": b"b"}, {"phon_y": b"x", "one_dob#2": b"a"}, {"name_dob": b"c"}]
    assert agreeing_pairs(left, right) == {(0, 1): {"phon_y"}, (1, 0): {"name_dob"}}
    # Types are compared as such: a one_dob token meets one_dob tokens whatever their number.
    assert agreeing_pairs([{"one_dob#1": b"z"}], [{"one_dob#2": b"z"}]) == {(0, 0): {"one_dob"}}


# --- linking ------------------------------------------------------------------------------------


def test_link_alerts_on_the_same_people_and_on_namesakes_only_as_residual_pairs():
    found = matches(records(LEFT), records(RIGHT), ephemeral_custodian())
    assert {(match.left_id, match.right_id) for match in found if match.score >= CANDIDATE} == EXPECTED
    by_pair = {(match.left_id, match.right_id): match for match in found}
    # The namesake born a week earlier shares the name (and year and month) with L4 and nobody
    # else shares anything with either: a residual alert, cut away at the candidate bar.
    assert {pair for pair, match in by_pair.items() if match.score < CANDIDATE} == RESIDUAL_PAIRS
    assert by_pair[("L4", "R4")].score == RESIDUAL
    assert by_pair[("L4", "R4")].agreeing == ("name_only", "phon_y", "phon_ym")
    assert {"name_dob", "phon_dob", "first_dob"} <= set(by_pair[("L1", "R1")].agreeing)
    assert by_pair[("L1", "R1")].score >= THRESHOLD
    assert by_pair[("L3", "R3")].agreeing == ("name_only", "phon_y", "swap_dob")  # sole candidate
    assert by_pair[("L5", "R5")].unknown == ("day",)
    assert "nn" in by_pair[("L6", "R6")].agreeing
    # Only types and fields, never a value.
    assert all(re.fullmatch(r"[a-z_]+", part) for match in found for part in match.agreeing + match.unknown)


def test_a_weak_pair_is_dropped_when_a_record_has_another_candidate():
    """Jan Peeters with a swapped date is only a candidate; with his namesake on the same day
    beside him, neither weak pair is alerted on."""
    left = records([("L3", "Jan", "Peeters", "1986-04-09", "")])
    right = records([("R3", "Jan", "Peeters", "1986-09-04", ""), ("R9", "Piet", "Peeters", "1986-04-09", "")])
    assert link(left, right, ephemeral_custodian()) == []


# --- the command --------------------------------------------------------------------------------


def test_the_link_command_prints_the_alerted_pairs_as_csv(tmp_path):
    left = write_csv(tmp_path / "left.csv", LEFT)
    right = write_csv(tmp_path / "right.csv", RIGHT)
    result = run_link(str(left), str(right))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "left_id,right_id,score"
    rows = list(csv.reader(lines[1:]))
    assert all(len(row) == 3 and re.fullmatch(r"\d+\.\d{3}", row[2]) for row in rows), rows
    assert {(left_id, right_id) for left_id, right_id, _ in rows} == EXPECTED | RESIDUAL_PAIRS
    assert len(rows) == len(EXPECTED | RESIDUAL_PAIRS)  # each pair once
    assert {(l, r) for l, r, score in rows if float(score) >= CANDIDATE} == EXPECTED
    assert [left_id for left_id, _, _ in rows] == sorted(left_id for left_id, _, _ in rows)


def test_the_output_contract_quotes_ids_and_runs_the_same_on_every_call(tmp_path):
    left = write_csv(tmp_path / "left.csv", [("a,1", "Jan", "Peeters", "1990-01-15", "")])
    right = write_csv(tmp_path / "right.csv", [('b "2"', "Jan", "Peeters", "1990-01-15", "")])
    first, second = run_link(str(left), str(right)), run_link(str(left), str(right))
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout  # another ephemeral key, the same decisions
    [row] = list(csv.reader(first.stdout.splitlines()[1:]))
    assert row[:2] == ["a,1", 'b "2"'] and float(row[2]) >= THRESHOLD


def test_the_link_command_explains_on_request(tmp_path):
    left = write_csv(tmp_path / "left.csv", LEFT[4:5])
    right = write_csv(tmp_path / "right.csv", RIGHT[4:5])
    result = run_link("--explain", str(left), str(right))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["left_id,right_id,score,agreeing", "L5,R5,6.000,name_only phon_y phon_ym day?"]


def test_an_empty_side_gives_just_the_header(tmp_path):
    left = write_csv(tmp_path / "left.csv", LEFT)
    right = write_csv(tmp_path / "right.csv", [])
    result = run_link(str(left), str(right))
    assert result.exit_code == 0 and result.stdout == "left_id,right_id,score\n"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "absent.csv", "absent.csv: no such file"),
        (lambda tmp: write_csv(tmp / "bad.csv", [], header=("id", "name")), "bad.csv line 1: the header must be"),
        (lambda tmp: write_csv(tmp / "bad.csv", [LEFT[0], ("X", "Jan", "Peeters", "1990-31-01", "")]),
         "bad.csv line 3: bad date_of_birth"),
        (lambda tmp: tmp, "is a directory"),
    ],
)  # fmt: skip
def test_input_errors_exit_with_status_2_and_a_message_without_traceback(tmp_path, make, message):
    right = write_csv(tmp_path / "right.csv", RIGHT)
    result = run_link(str(make(tmp_path)), str(right))
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.startswith("livc federation link: ")
    assert "Traceback" not in result.output and result.stdout == ""


def test_twins_are_only_a_residual_pair_but_a_typo_in_one_name_is_an_alert():
    """Registry to registry: a twin (same family name and date, another given name) is never an
    alert of the rule; when the two records have only each other it is a residual pair (the
    register may have replaced the given name), scored below the candidate bar; with anyone
    else beside them, nothing. A one-letter typo in a name with the other exact is an alert."""
    left = records([("L1", "Stefaan", "Mertens", "2004-04-25", ""), ("L2", "Taylah", "Leaver", "1913-07-03", "")])
    right = records([("R1", "Jan", "Mertens", "2004-04-25", ""), ("R2", "Talyah", "Leaver", "1913-07-03", "")])
    found = {(l, r): score for l, r, score in link(left, right, ephemeral_custodian())}
    assert found[("L2", "R2")] >= THRESHOLD
    assert found == {("L1", "R1"): RESIDUAL, ("L2", "R2"): found[("L2", "R2")]}
    # The other twin in the right register too: each of them has two pairs, so no alert at all.
    other_twin = records([("R3", "Stefaan", "Mertens", "2004-04-25", "")])
    found = {(l, r) for l, r, _ in link(left[:1], right[:1] + other_twin, ephemeral_custodian())}
    assert found == {("L1", "R3")}


def test_a_residual_pair_needs_both_records_to_have_only_each_other():
    """Mohamed Bouzidi born a week apart (two digits of the date): the whole name agrees
    (name_only) and each record has only the other, a residual pair. With a date only one side
    knows, the whole name is a sole candidate (name_only weighs when a date is missing). A third
    record sharing anything with one of them, or national numbers that differ, and there is
    none."""
    left = records([("L1", "Mohamed", "Bouzidi", "1993-06-21", ""), ("L2", "Lotte", "Wouters", "", "")])
    right = records([("R1", "Mohamed", "Bouzidi", "1993-06-14", ""), ("R2", "Lotte", "Wouters", "1971-02-03", "")])
    found = {(l, r): score for l, r, score in link(left, right, ephemeral_custodian())}
    assert found == {("L1", "R1"): RESIDUAL, ("L2", "R2"): CANDIDATE}
    crowded = right + records([("R3", "Mohamed", "Bouzidi", "1961-01-01", "")])
    assert {(l, r) for l, r, _ in link(left, crowded, ephemeral_custodian())} == {("L2", "R2")}
    numbered = records([("L1", "Mohamed", "Bouzidi", "1993-06-21", "93062112378")])
    numbered_right = records([("R1", "Mohamed", "Bouzidi", "1993-06-23", "93062316573")])
    assert link(numbered, numbered_right, ephemeral_custodian()) == []


def test_each_record_takes_part_in_one_alert_at_most():
    """Two strong candidates for one record: the higher score wins, the other is not alerted."""
    left = records([("L1", "Jan", "Peeters", "1990-03-07", "")])
    right = records([("R1", "Jan", "Peeters", "1990-03-07", ""), ("R2", "Jan", "Peters", "1990-03-07", "")])
    found = link(left, right, ephemeral_custodian())
    assert [(left_id, right_id) for left_id, right_id, _ in found] == [("L1", "R1")]
    # The order of the input does not change the choice (ties are broken by record order).
    assert [(l, r) for l, r, _ in link(left, list(reversed(right)), ephemeral_custodian())] == [("L1", "R1")]


def test_a_weak_pair_counts_once_the_strong_pairs_are_assigned():
    """L1-R1 is strong. L2 (day and month swapped) would also be a candidate for R1, and R2
    (a birth year only) for L1 and L2: once L1 and R1 are taken, L2-R2 is the sole candidate
    of both its records among those still free, and is alerted on; L2-R1 never is."""
    left = records([("L1", "Jan", "Peeters", "1986-04-09", ""), ("L2", "Jan", "Peeters", "1986-09-04", "")])
    right = records([("R1", "Jan", "Peeters", "1986-04-09", ""), ("R2", "Jan", "Peeters", "1986", "")])
    found = {(l, r): s for l, r, s in link(left, right, ephemeral_custodian())}
    assert set(found) == {("L1", "R1"), ("L2", "R2")}
    assert found[("L1", "R1")] >= THRESHOLD > found[("L2", "R2")]
