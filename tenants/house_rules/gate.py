"""The legal basis before case work (issue 18; seeds 002 and 004).

Article 458ter of the Criminal Code (seed 002) lets professionals bound by secrecy share in the
cell's case consultation only when it rests on a law (the law of 30 July 2018) or on the public
prosecutor's consent, and when its participants, purpose and modalities are fixed beforehand:
the house rules in force fix them and record the basis (publication refuses rules without a
basis, or a consent without its reference and date). The case consultation itself is held at
the operational table (seed 004: "de operationele tafel is de minimumvereiste"), or at the
table that does its work in the cell's form (the main table).

:func:`case_work_obstacles` says what stands in the way, each with the page where it is put
right: no signal is weighed and no case opened until there is nothing. The weighing's rules
(:mod:`livc.tenants.cases.weighing`) and its pages and API ask it first, so nothing is saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from livc.tenants.cell.models import serves_as_operational
from livc.tenants.cell.operations import cell_profile, live_tables
from livc.tenants.house_rules.operations import publication_faults, rules_in_force

NO_HOUSE_RULES = _l(
    "No signal is weighed and no case opened before the cell's house rules are in force with a legal basis: "
    "the law of 30 July 2018, or the public prosecutor's consent with its reference and date; they fix the "
    "participants, the purpose and the modalities (article 458ter of the Criminal Code, seed 002)."
)
NO_LEGAL_BASIS = _l(
    "The house rules in force name no complete legal basis: publish a version resting on the law of 30 July "
    "2018, or on the public prosecutor's consent with its reference and date (article 458ter of the Criminal "
    "Code, seed 002)."
)
NO_OPERATIONAL_TABLE = _l(
    "No signal is weighed and no case opened before the cell has a table that does the operational work: "
    "the operational table, or the main table in the cell's form (circular of 22 May 2018, seed 004)."
)
TO_HOUSE_RULES = _l("Write and publish the house rules")
TO_TABLES = _l("Add the operational table")
TO_FORM = _l("Choose the form of the cell")


@dataclass(frozen=True)
class Obstacle:
    """A rule case work waits for: ``rule`` (a stable key for the API), the message naming
    the rule and its seed, and where it is put right (an endpoint of the cell's blueprint)."""

    rule: str
    message: LazyString
    endpoint: str
    action: LazyString


def case_work_obstacles() -> list[Obstacle]:
    """What still stands between the cell and case work (empty: nothing), inside its context."""
    obstacles = []
    rules = rules_in_force()
    if rules is None:
        obstacles.append(Obstacle("house_rules_in_force", NO_HOUSE_RULES, "tenant.house_rules", TO_HOUSE_RULES))
    elif publication_faults(rules):
        obstacles.append(Obstacle("legal_basis", NO_LEGAL_BASIS, "tenant.house_rules", TO_HOUSE_RULES))
    if cell_profile() is None:
        obstacles.append(Obstacle("operational_table", NO_OPERATIONAL_TABLE, "tenant.cell_profile_edit", TO_FORM))
    elif not any(serves_as_operational(table.kind) for table in live_tables()):
        obstacles.append(Obstacle("operational_table", NO_OPERATIONAL_TABLE, "tenant.cell_table_new", TO_TABLES))
    return obstacles
