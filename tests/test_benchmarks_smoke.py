"""Smoke test of the benchmarks' own code (benchmarks/): the synthetic population has
the requested mix and the quality scoring is right on a hand-made example (no network, no
anonlink); the web load benchmark's verdicts, and one tiny run of it on PostgreSQL. No timing:
the benchmarks themselves print figures, never assert them."""

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import POSTGRES_ADMIN_URL

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


synthetic = _load("synthetic_belgians")
quality = _load("federation_quality")


def test_generator_is_reproducible_and_has_the_mix():
    left, right, truth, hard = synthetic.generate(600, seed=5)
    again = synthetic.generate(600, seed=5)
    assert (left, right, truth, hard) == again
    assert len(left) == len(right) == 600
    assert len(truth) == 300 and len(hard) == 90
    left_ids, right_ids = {row["id"] for row in left}, {row["id"] for row in right}
    assert all(l in left_ids and r in right_ids for l, r, _ in truth)
    assert not {r for _, r, _ in truth} & set(hard)  # a hard negative is never a true pair
    # every origin is there
    families = {row["family_name"] for row in left}
    for origin, (_, names) in synthetic.NAMES.items():
        assert families & set(names), origin
    # the kinds of change and of hard negatives asked for
    kinds = {kind for _, _, kinds in truth for kind in kinds.split("+")}
    assert {"given_spelling", "family_spelling", "particles", "typo_given", "typo_family",
            "day_month_swapped", "date_to_month", "date_to_year", "exact"} <= kinds
    assert {"namesake_days", "twin", "namesake_year"} <= set(hard.values())
    dates = {len(row["date_of_birth"]) for row in right}
    assert dates == {0, 4, 7, 10}  # a date missing, to the year, to the month, full
    # the harder variations (enough people for each to appear)
    _, _, truth, _ = synthetic.generate(3000, seed=5)
    kinds = {kind for _, _, kinds in truth for kind in kinds.split("+")}
    assert {"date_typo", "date_digits_swapped", "date_missing", "family_missing", "married_name",
            "father_name", "double_family_cut"} <= kinds


def test_generator_writes_the_contract(tmp_path):
    left, _right, truth = synthetic.write(tmp_path, size=50, seed=1)
    with open(left, encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == ["id", "given_names", "family_name", "date_of_birth",
                                            "national_number"]
    with open(truth, encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 25


def test_national_numbers_are_well_formed():
    import datetime as dt

    from livc.federation.match_keys import national_number_valid

    assert national_number_valid(synthetic.national_number(dt.date(1985, 3, 7), 123))
    assert national_number_valid(synthetic.national_number(dt.date(2004, 11, 30), 2))


def test_quality_on_a_hand_made_example():
    truth = {("a1", "b1"), ("a2", "b2"), ("a3", "b3"), ("a4", "b4")}
    predicted = [("a1", "b1"), ("a2", "b2"), ("a3", "b9")]
    q = quality.quality(predicted, truth)
    assert (q["tp"], q["fp"], q["fn"]) == (2, 1, 2)
    assert q["precision"] == pytest.approx(2 / 3)
    assert q["recall"] == pytest.approx(0.5)
    assert q["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))


def test_cuts_on_the_score():
    truth = {("a1", "b1"), ("a2", "b2"), ("a3", "b3"), ("a4", "b4")}
    scored = [("a1", "b1", 10), ("a2", "b2", 6), ("a9", "b9", 5), ("a3", "b3", 3), ("a8", "b8", 2)]
    rows = quality.sweep(scored, truth)
    assert [(r["threshold"], r["kept"], r["tp"]) for r in rows] == [
        (10, 1, 1), (6, 2, 2), (5, 3, 2), (3, 4, 3), (2, 5, 3)]
    cut = quality.recall_at_precision(scored, truth, 0.99)
    assert cut["threshold"] == 6 and cut["recall"] == pytest.approx(0.5)
    assert quality.recall_at_precision([("a9", "b9", 1)], truth) is None
    best = quality.best_f1(scored, truth)
    assert best["threshold"] == 3 and best["f1"] == pytest.approx(0.75)


def test_febrl_dates_and_truth():
    assert quality.febrl_date("19450403") == ("1945-04-03", "ok")
    assert quality.febrl_date("19450493") == ("1945-04", "to_month")
    assert quality.febrl_date("19451393") == ("1945", "to_year")
    assert quality.febrl_date("") == ("", "empty")
    assert quality.febrl_truth(["rec-1-org", "rec-2-org"], ["rec-1-dup-0", "rec-3-dup-0"]) == {
        ("rec-1-org", "rec-1-dup-0")}


# --- web_load.py: the load benchmark of the coordinator's pages -------------------------------


web_load = _load("web_load")


def _figures(label, size, latency, statements, errors=None):
    row = web_load.Figures(label, size, requests=10, seconds=10 * latency, latencies=[latency] * 10,
                           bytes=1000, errors=errors or {}, statements=statements)
    return row


def test_web_load_targets_say_met_only_when_met(capsys):
    pages = ["/cases"]
    flat = [_figures("/cases", 10, 0.05, 20), _figures("/cases", 1000, 0.06, 20), _figures(web_load.BARE, None, 0.02, None)]
    assert web_load.report(flat, [10, 1000], pages)
    assert "NOT met" not in capsys.readouterr().out
    growing = [_figures("/cases", 10, 0.05, 20), _figures("/cases", 1000, 0.5, 2200, {500: 1}),
               _figures(web_load.BARE, None, 0.02, None)]
    assert not web_load.report(growing, [10, 1000], pages)
    out = capsys.readouterr().out
    assert "NOT met  /cases: SQL statements per page independent of the cases (20 / 2200)" in out
    assert "NOT met  /cases: p50 at 1000 cases 10.00x of 10 cases" in out
    assert "0.04 of the bare page's" in out and "500: 1" in out


@pytest.mark.postgres
def test_web_load_runs_end_to_end_on_postgresql(postgres_database):
    """Tiny cells, two requests per page: the benchmark seeds, serves, signs in and reports
    (on the suite's migrated database: migrating a new one would take most of the time)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVC_")}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "web_load.py"), "--dsn", POSTGRES_ADMIN_URL,
         "--owner-url", postgres_database["owner"], "--app-url", postgres_database["app"], "--sizes", "2,6",
         "--requests", "2", "--clients", "1", "--workers", "1", "--pages", "/cases,/api/cases"],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    rows = {tuple(line.split()[:2]): line for line in lines if line.startswith("/")}
    assert set(rows) == {("/cases", "2"), ("/cases", "6"), ("/api/cases", "2"), ("/api/cases", "6")}
    assert all(line.rstrip().endswith("-") for line in rows.values()), rows  # every answer a 200
    assert any(line.startswith(web_load.BARE) for line in lines)
    assert "SQL statements per page independent of the cases" in done.stdout
