"""The figures of a cell for the strategic table and the mayor (seeds 003 and 004, issue 17).

Each figure is a cube (:mod:`livc.tenants.monitoring.suppression`) over one year: what is
counted (one or two breakdowns, e.g. signals by channel and by the reporter's kind of
organisation), the months, quarters and the year, and the municipalities of residence with
"outside the territory", "not recorded" and the cell's total. It is summed from the facts of
live records and the counts erased records left (:mod:`livc.tenants.monitoring.facts`), hidden
once as a whole, and only then cut into what one reader may see (:class:`Scope`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from flask_babel import format_date
from flask_babel import lazy_gettext as _l

from livc.platform.policy import FigureScope, MonitoringScope
from livc.platform.registry import municipality
from livc.platform.roles import ORGANISATION_KIND_LABELS
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import (
    CLOSURE_LABELS,
    MEASURE_CATEGORY_LABELS,
    STAGE_LABELS,
    CaseStage,
)
from livc.tenants.meetings.models import MEETING_KIND_LABELS, MeetingKind
from livc.tenants.monitoring.facts import Fact
from livc.tenants.monitoring.suppression import THRESHOLD, Cube, Dimension, Hidden
from livc.tenants.signals.models import (
    CHANNEL_LABELS,
    DECISION_LABELS,
    FOLLOW_UP_LABELS,
    TARGET_GROUP_LABELS,
)

ROOT = "all"
CELL = "cell"
OUTSIDE = "outside"
NOT_RECORDED = "unknown"

# --- what is counted ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Breakdown:
    key: str
    title: object  # lazy string
    categories: tuple[tuple[str, object], ...]  # (leaf, label), in order


@dataclass(frozen=True)
class FigureDef:
    key: str
    title: object
    description: object
    breakdowns: tuple[Breakdown, ...]
    about_people: bool = True  # counts of people are hidden below the threshold; meetings are not
    by_organisation: bool = False  # measures: kinds of organisation, then each organisation
    chart: str = "bar"


def _labels(labels: dict) -> tuple[tuple[str, object], ...]:
    return tuple((key.value if hasattr(key, "value") else key, label) for key, label in labels.items())


REPORTER_LABELS = (*_labels(ORGANISATION_KIND_LABELS), ("none", _l("Not through a partner organisation")))
DECISION_TIME = (
    ("week", _l("Within a week")), ("month", _l("8 to 30 days")), ("quarter", _l("31 to 90 days")),
    ("longer", _l("More than 90 days")),
)
FOLLOW_UP_TIME = (
    ("3m", _l("Up to 3 months")), ("6m", _l("3 to 6 months")), ("12m", _l("6 to 12 months")),
    ("longer", _l("More than a year")),
)
ORGANISATION_KINDS = Breakdown("organisation_kind", _l("Kind of organisation"), _labels(ORGANISATION_KIND_LABELS))

FIGURES: tuple[FigureDef, ...] = (
    FigureDef("signals_received", _l("Signals received"),
              _l("Signals the cell received, by how they came in and by who reported them."), (
                  Breakdown("channel", _l("How the signal came in"), _labels(CHANNEL_LABELS)),
                  Breakdown("reporter", _l("Reporting organisation"), REPORTER_LABELS),
              )),
    FigureDef("signals_weighed", _l("Signals weighed"),
              _l("The cell's joint decisions on signals, and how long a signal waited for one."), (
                  Breakdown("decision", _l("Decision"), _labels(DECISION_LABELS)),
                  Breakdown("time", _l("Time from signal to decision"), DECISION_TIME),
              )),
    FigureDef("cases_opened", _l("Cases opened"),
              _l("Cases the cell opened, by target group and by kind of follow-up."), (
                  Breakdown("target_group", _l("Target group"), _labels(TARGET_GROUP_LABELS)),
                  Breakdown("follow_up", _l("Kind of follow-up"), _labels(FOLLOW_UP_LABELS)),
              )),
    FigureDef("cases_closed", _l("Cases closed"),
              _l("Cases the cell closed, by outcome and by how long they were followed."), (
                  Breakdown("outcome", _l("Outcome of closure"), _labels(CLOSURE_LABELS)),
                  Breakdown("time", _l("Time from opening to closure"), FOLLOW_UP_TIME),
              )),
    FigureDef("measures_planned", _l("Measures planned"),
              _l("Measures of the follow-up plans, by the kind of organisation that carries them."),
              (ORGANISATION_KINDS,), by_organisation=True),
    FigureDef("measures_done", _l("Measures done"),
              _l("Measures reported done, in the month they were done."), (ORGANISATION_KINDS,), by_organisation=True),
    FigureDef("measures_late", _l("Measures late"),
              _l("Measures not done by their date (done late, or still open), in the month they were due."),
              (ORGANISATION_KINDS,), by_organisation=True),
    FigureDef("measures_by_category", _l("Measures by category"),
              _l("Measures of the follow-up plans, by category (guidance, care, education, work, housing, "
                 "administrative, judicial or penal, police), in the month they were planned."), (
                  Breakdown("measure_category", _l("Category of measure"), _labels(MEASURE_CATEGORY_LABELS)),
              )),
    FigureDef("reviews", _l("Reviews"),
              _l("Reviews of cases that fell due, in the month they were due: held on time, held late or not held."), (
                  Breakdown("held", _l("Held"), (
                      ("on_time", _l("Held on time")), ("late", _l("Held late")), ("missed", _l("Not held yet")),
                  )),
              )),
    FigureDef("ltf_feedback", _l("Feedback forms to the LTF"),
              _l("Feedback forms released to the Local Task Force."), (
                  Breakdown("released", _l("Released"), (("released", _l("Released")),)),
              )),
    FigureDef("alerts_confirmed", _l("Match alerts confirmed"),
              _l("Alerts of a neighbouring cell following the same person, confirmed by both cells."), (
                  Breakdown("confirmed", _l("Confirmed"), (("confirmed", _l("Confirmed by both cells")),)),
              )),
    FigureDef("meetings", _l("Meetings"),
              _l("Meetings held, by kind, and meetings cancelled. Not about people: shown in full."), (
                  Breakdown("kind", _l("Kind of meeting"), (
                      *_labels({kind: MEETING_KIND_LABELS[kind] for kind in MeetingKind}),
                      ("cancelled", _l("Cancelled")),
                  )),
              ), about_people=False, chart="line"),
)
FIGURES_BY_KEY = {figure.key: figure for figure in FIGURES}
MEASURE_FIGURES = tuple(figure.key for figure in FIGURES if figure.by_organisation)
ACTIVE_STAGES = (CaseStage.BUILDING, CaseStage.FOLLOW_UP, CaseStage.EVALUATION, CaseStage.AFTERCARE)


# --- periods -------------------------------------------------------------------------------------


class PeriodError(ValueError):
    """A period that cannot be shown, with the message for the reader."""


@dataclass(frozen=True)
class Period:
    """What a reader asked for: a year, a quarter of it or a month of it."""

    year: int
    quarter: int | None = None
    month: int | None = None

    @property
    def key(self) -> str:
        if self.month:
            return f"{self.year}-{self.month:02d}"
        if self.quarter:
            return f"{self.year}-Q{self.quarter}"
        return str(self.year)

    @property
    def columns(self) -> list[str]:
        """The cube's period nodes shown as columns, the period itself last."""
        if self.month:
            return [self.key]
        if self.quarter:
            return [f"{self.year}-{m:02d}" for m in _quarter_months(self.quarter)] + [self.key]
        return [f"{self.year}-{m:02d}" for m in range(1, 13)] + [f"{self.year}-Q{q}" for q in range(1, 5)] + [self.key]

    @property
    def starts_on(self) -> date:
        return date(self.year, self.month or ((self.quarter - 1) * 3 + 1 if self.quarter else 1), 1)


def _quarter_months(quarter: int) -> range:
    return range((quarter - 1) * 3 + 1, quarter * 3 + 1)


PERIOD_PATTERN = re.compile(r"^(?P<year>\d{4})(?:-(?:Q(?P<quarter>[1-4])|(?P<month>0[1-9]|1[0-2])))?$")
EARLIEST_YEAR = 2015  # the circulars on the local cells date from 2015 (seed 004)


def parse_period(text: str | None, today: date | None = None) -> Period:
    """``2026``, ``2026-Q2`` or ``2026-05``; the current year when empty. Refuses the future."""
    today = today or utcnow().date()
    if not text:
        return Period(today.year)
    found = PERIOD_PATTERN.match(text.strip())
    if found is None:
        raise PeriodError(_l("Give a year (2026), a quarter (2026-Q2) or a month (2026-05)."))
    period = Period(int(found["year"]), int(found["quarter"]) if found["quarter"] else None,
                    int(found["month"]) if found["month"] else None)
    if period.starts_on > today:
        raise PeriodError(_l("This period has not begun yet: choose one up to today."))
    if period.year < EARLIEST_YEAR:
        raise PeriodError(_l("Figures start in %(year)s.", year=EARLIEST_YEAR))
    return period


def period_label(node: str) -> str:
    """A column's name in the reader's language: "March 2026", "Q1 2026", "2026"."""
    if "-Q" in node:
        year, quarter = node.split("-Q")
        return str(_l("Q%(quarter)s %(year)s", quarter=quarter, year=year))
    if "-" in node:
        year, month = node.split("-")
        return format_date(date(int(year), int(month), 1), "MMM y")
    return node


def _period_dimension(year: int) -> Dimension:
    dimension = Dimension("period", str(year))
    dimension.add(str(year), [f"{year}-Q{q}" for q in range(1, 5)])
    for q in range(1, 5):
        dimension.add(f"{year}-Q{q}", [f"{year}-{m:02d}" for m in _quarter_months(q)])
    return dimension


# --- the cube of a figure ----------------------------------------------------------------------


@dataclass
class Territory:
    """The municipalities of the cell, in order, for the municipality dimension."""

    nis_codes: tuple[str, ...]

    def node(self, residence: str) -> str:
        if not residence:
            return NOT_RECORDED
        return residence if residence in self.nis_codes else OUTSIDE

    @property
    def leaves(self) -> list[str]:
        return [*self.nis_codes, OUTSIDE, NOT_RECORDED]

    def label(self, node: str) -> str:
        if node == CELL:
            return str(_l("The whole cell"))
        if node == OUTSIDE:
            return str(_l("Outside the territory"))
        if node == NOT_RECORDED:
            return str(_l("Municipality not recorded"))
        known = municipality(node)
        return known.name() if known is not None else node


def _category_dimension(figure: FigureDef, organisations: dict[str, list[str]]) -> Dimension:
    dimension = Dimension("category", ROOT)
    for breakdown in figure.breakdowns:
        dimension.add(ROOT, [leaf for leaf, _label in breakdown.categories])
    if figure.by_organisation:
        for kind, leaves in organisations.items():
            dimension.add(kind, leaves)
    return dimension


@dataclass
class FigureCube:
    figure: FigureDef
    cube: Cube
    organisation_names: dict[str, str] = field(default_factory=dict)


def build(figure: FigureDef, year: int, facts: Iterable[tuple[Fact, int]], territory: Territory,
          organisation_names: dict[int, str], *, threshold: int = THRESHOLD) -> FigureCube:
    """The figure's cube over ``year``, hidden as a whole (counts about people only)."""
    wanted = [(fact, count) for fact, count in facts if fact.figure == figure.key and fact.month.year == year]
    organisations: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    if figure.by_organisation:
        # Every organisation of the cell has its row, whether it carried a measure or not: a row
        # that appears only when something happened would tell that it did.
        for organisation_id, (name, kind) in organisation_names.items():
            organisations.setdefault(kind, []).append(f"{kind}/{organisation_id}")
            names[f"{kind}/{organisation_id}"] = name
        for fact, _count in wanted:
            leaf = fact.category[0]
            kind = leaf.split("/")[0]
            if leaf not in organisations.setdefault(kind, []):
                organisations[kind].append(leaf)
                names[leaf] = str(_l("An organisation no longer at the table"))
    categories = _category_dimension(figure, organisations)
    places = Dimension("municipality", CELL)
    places.add(CELL, territory.leaves)
    dimensions = [categories, _period_dimension(year), places]
    known_leaves = set(categories.nodes)
    counted: Counter = Counter()
    for fact, count in wanted:
        leaves = tuple(leaf if leaf in known_leaves else None for leaf in fact.category)
        if any(leaf is None for leaf in leaves):
            continue  # a category this version no longer counts
        component = leaves if len(leaves) > 1 else leaves[0]
        counted[(component, f"{year}-{fact.month.month:02d}", territory.node(fact.municipality))] += count
    cube = Cube.from_facts(dimensions, counted, threshold=threshold)
    if figure.about_people:
        cube.suppress()
    return FigureCube(figure, cube, names)


# --- what a reader sees -------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """One number as shown: the count, or why it is hidden."""

    value: int | None
    hidden: Hidden | None = None

    @property
    def text(self) -> str:
        if self.hidden == Hidden.SMALL:
            return str(_l("< %(threshold)s", threshold=THRESHOLD))
        if self.hidden == Hidden.COMPLEMENT:
            return "×"
        return str(self.value)

    def as_json(self) -> int | str:
        return self.value if self.hidden is None else self.text


@dataclass
class Row:
    key: str
    label: str
    cells: list[Shown]
    total: bool = False


@dataclass
class Table:
    """A table as shown: rows, columns (periods) and the numbers (see :class:`Shown`)."""

    key: str
    title: str
    breakdown: str  # the breakdown's key, "municipality" or "organisation"
    columns: list[str]
    column_labels: list[str]
    rows: list[Row]


@dataclass
class FigureView:
    figure: FigureDef
    tables: list[Table]

    @property
    def key(self) -> str:
        return self.figure.key


def row_of(cube: Cube, category: str, place: str, columns: Sequence[str], key: str, label: str, *, total: bool = False) -> Row:
    cells = []
    for column in columns:
        shown = cube.shown((category, column, place))
        cells.append(Shown(None, shown) if isinstance(shown, Hidden) else Shown(shown))
    return Row(key, label, cells, total)


def view(built: FigureCube, period: Period, scope: MonitoringScope, territory: Territory,
         *, own_organisations: Sequence[str] = ()) -> FigureView:
    """Cut what ``scope`` may see out of a hidden cube."""
    figure, cube = built.figure, built.cube
    columns = period.columns
    labels = [period_label(column) for column in columns]
    tables: list[Table] = []
    if scope.kind == FigureScope.ORGANISATION:
        rows = [row_of(cube, leaf, CELL, columns, leaf, built.organisation_names.get(leaf, leaf)) for leaf in own_organisations]
        return FigureView(figure, [Table(figure.key, str(figure.title), "organisation", columns, labels, rows)])
    place = scope.municipality_nis if scope.kind == FigureScope.MUNICIPALITY else CELL
    for breakdown in figure.breakdowns:
        rows = [row_of(cube, leaf, place, columns, leaf, str(label)) for leaf, label in breakdown.categories]
        rows.append(row_of(cube, ROOT, place, columns, ROOT, str(_l("Total")), total=True))
        tables.append(Table(f"{figure.key}-{breakdown.key}", str(breakdown.title), breakdown.key, columns, labels, rows))
    if figure.by_organisation and scope.kind == FigureScope.CELL:
        rows = []
        for leaf, label in ORGANISATION_KINDS.categories:
            for organisation in sorted(built.cube.dimensions[0].partitions.get(leaf, [[]])[0], key=built.organisation_names.get):
                rows.append(row_of(cube, organisation, CELL, columns, organisation,
                                 f"{built.organisation_names.get(organisation, organisation)} ({label})"))
        tables.append(Table(f"{figure.key}-organisation", str(_l("Organisation")), "organisation", columns, labels, rows))
    places = territory.leaves if scope.kind == FigureScope.CELL else [scope.municipality_nis]
    if len(territory.nis_codes) > 1 or scope.kind == FigureScope.CELL:
        rows = [row_of(cube, ROOT, node, columns, node, territory.label(node)) for node in places]
        rows.append(row_of(cube, ROOT, CELL, columns, CELL, territory.label(CELL), total=True))
        tables.append(Table(f"{figure.key}-municipality", str(_l("Municipality of residence")), "municipality",
                            columns, labels, rows))
    return FigureView(figure, tables)


BREAKDOWNS = ("category", "municipality", "organisation")


def figures_for(scope: MonitoringScope) -> tuple[FigureDef, ...]:
    if scope.kind == FigureScope.ORGANISATION:
        return tuple(FIGURES_BY_KEY[key] for key in MEASURE_FIGURES)
    return FIGURES


def stage_labels() -> list[tuple[str, str]]:
    return [(stage.value, str(STAGE_LABELS[stage])) for stage in ACTIVE_STAGES]


