"""How fast the figures are hidden, how much is hidden, and whether anything stays disclosed.

Random cells of 1 to 4 municipalities, a year of months and quarters, a figure of two
breakdowns (6 and 12 categories, as signals by channel and by reporter), from 10 to 400 facts a
year. For each: the time to hide the cube (heuristic rules, then the linear-programming audit and
its widening rounds), the share of numbers hidden, and the small counts an adversary solving every
relation at once can still pin (should be 0). Prints figures; asserts nothing (machines are shared).

    .venv/bin/python benchmarks/figures_suppression.py [cubes]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))  # the checkout's parent holds livc

from livc.tenants.monitoring.suppression import Cube, Dimension, audit  # noqa: E402


def dimensions(places: int) -> list[Dimension]:
    categories = Dimension("category", "all")
    categories.add("all", [f"channel{i}" for i in range(6)])
    categories.add("all", [f"reporter{i}" for i in range(12)])
    periods = Dimension("period", "Y")
    periods.add("Y", [f"Q{q}" for q in range(1, 5)])
    for q in range(1, 5):
        periods.add(f"Q{q}", [f"M{m:02d}" for m in range(3 * q - 2, 3 * q + 1)])
    municipalities = Dimension("municipality", "cell")
    municipalities.add("cell", [*(f"nis{i}" for i in range(places)), "outside", "unknown"])
    return [categories, periods, municipalities]


def random_facts(rnd: random.Random, places: int, count: int) -> dict:
    facts: dict = {}
    for _ in range(count):
        place = rnd.choices([*(f"nis{i}" for i in range(places)), "outside", "unknown"],
                            weights=[*([8] * places), 1, 1])[0]
        key = ((f"channel{min(int(rnd.expovariate(0.7)), 5)}", f"reporter{min(int(rnd.expovariate(0.4)), 11)}"),
               f"M{rnd.randint(1, 12):02d}", place)
        facts[key] = facts.get(key, 0) + 1
    return facts


def main(cubes: int = 24) -> None:
    rnd = random.Random(2026)
    rows = []
    for _ in range(cubes):
        places, count = rnd.randint(1, 4), rnd.choice([10, 40, 100, 400])
        facts = random_facts(rnd, places, count)
        started = time.perf_counter()
        cube = Cube.from_facts(dimensions(places), facts).suppress()
        seconds = time.perf_counter() - started
        rules_only = Cube.from_facts(dimensions(places), facts).suppress(audited=False)
        rows.append((places, count, len(cube.values), seconds, len(cube.hidden) / len(cube.values),
                     len(audit(rules_only)), len(audit(cube))))
    print(f"{'municipalities':>14} {'facts':>6} {'numbers':>8} {'seconds':>8} {'hidden':>7} {'pinned by rules':>16} {'pinned after audit':>19}")
    for places, count, numbers, seconds, hidden, before, after in rows:
        print(f"{places:>14} {count:>6} {numbers:>8} {seconds:>8.3f} {hidden:>7.0%} {before:>16} {after:>19}")
    print(f"median seconds {statistics.median(r[3] for r in rows):.3f}, max {max(r[3] for r in rows):.3f}; "
          f"cubes with a count pinned by the rules alone: {sum(1 for r in rows if r[5])}/{len(rows)}; "
          f"after the audit: {sum(1 for r in rows if r[6])}/{len(rows)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 24)
