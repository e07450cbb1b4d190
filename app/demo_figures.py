"""The demo's history for the figures (issue 17, part 8): what erased records would have left.

A demo database is young: retention has erased nothing, and its few stories alone would show a
year of "< 5". So each demo cell gets the anonymous counts that erased records leave
(:class:`~livc.tenants.monitoring.models.KeptCount`: a figure, a month, the municipality of
residence, a category, for a measure the organisation; never a record), as if last year's and
this year's earlier signals and cases had come and gone:

- demo-leuven: about 45 signals received last year and 30 this year (by December), spread over
  the months (this year's up to the current month; one busy month a quarter, so that a quarter's
  total shows), channels and kinds of reporter; their weighing,
  the cases opened, their measures carried by the cell's organisations, reviews, feedback forms
  released to the LTF and closures with their outcome;
- demo-herko: a smaller history, split over Herent (24038) and Kortenberg (24055);
- a few people live outside the territory or where they live was not recorded.

So the mayor's year shows real numbers in the year and quarter totals, and small counts hidden.
Every category is a real leaf of the figures (:mod:`livc.tenants.monitoring.figures`); the
random draws use a fixed seed, and seeding twice adds nothing (a cell that kept any count the
history would add has its history already).

Both demo cells also decide to count in the platform-wide figures, jointly (the coordinator
proposes, the mayor confirms), so that the console's figures show something. All invented.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from livc.app.demo_cases import _as_demo_seeder, _demo_members
from livc.platform.db import db
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.decisions.operations import confirm
from livc.tenants.members.models import Organisation
from livc.tenants.monitoring.consent import consent_row, propose_consent
from livc.tenants.monitoring.facts import (
    DECISION_BUCKETS,
    FOLLOW_UP_BUCKETS,
    SEPARATOR,
    Fact,
    bucket,
)
from livc.tenants.monitoring.figures import FIGURES_BY_KEY
from livc.tenants.monitoring.models import KeptCount

SEED = 17  # the number: the same history on every demo database


@dataclass(frozen=True)
class History:
    places: tuple[tuple[str, int], ...]  # (NIS code, weight); "" not recorded, another code outside
    # Signals in a month, at least and at most: in one busy month of each quarter, in the others.
    last_year: tuple[tuple[int, int], tuple[int, int]]
    this_year: tuple[tuple[int, int], tuple[int, int]]


HISTORIES = {
    # About 45 signals last year and 30 this year (by December).
    "demo-leuven": History((("24062", 20), ("", 2), ("24086", 1)), ((5, 8), (1, 4)), ((6, 8), (0, 2))),
    "demo-herko": History((("24038", 6), ("24055", 5), ("", 1), ("24062", 1)), ((3, 6), (0, 2)), ((2, 5), (0, 2))),
}


def _leaves(figure: str, breakdown: int = 0) -> list[str]:
    """The real leaves of a figure's breakdown: the history counts nothing the figures do not."""
    return [leaf for leaf, _label in FIGURES_BY_KEY[figure].breakdowns[breakdown].categories]


# How often each leaf comes up (a leaf missing here is drawn with weight 1).
WEIGHTS = {
    "channel": {"form": 8, "email": 6, "phone": 4, "in_person": 3, "ltf_referral": 2, "handover": 1},
    "reporter": {"police": 6, "school": 4, "clb": 4, "ocmw": 3, "municipal_service": 3, "caw": 2,
                 "youth_service": 2, "none": 3, "justice_house": 1, "hospital": 1, "vdab": 1, "other": 1},
    "decision": {"open_case": 11, "refer": 4, "insufficient": 4, "add_to_case": 1},
    "target_group": {"other_extremism": 6, "hate_propagandist": 3, "htf": 2, "ftf": 1, "child_of_ftf_htf": 1},
    "follow_up": {"social": 6, "mixed": 4, "police": 2},
    "outcome": {"goals_reached": 6, "no_longer_concerning": 4, "taken_over": 2, "moved_away": 2,
                "refuses_cooperation": 1, "other": 1},
    "organisation_kind": {"clb": 4, "police": 4, "ocmw": 3, "caw": 3, "municipal_service": 3, "school": 2,
                          "youth_service": 2},
}


WAVES = ("school", "police", "clb", "ocmw")


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


class _Draw:
    """Tells a year of signals and cases as facts, month by month, up to ``until``."""

    def __init__(self, rnd: random.Random, history: History, organisations: list[Organisation], until: date) -> None:
        self.rnd, self.history, self.until = rnd, history, until
        self.organisations = organisations
        self.facts: Counter = Counter()

    def pick(self, name: str, leaves: list[str]) -> str:
        weights = WEIGHTS.get(name, {})
        return self.rnd.choices(leaves, weights=[weights.get(leaf, 1) for leaf in leaves])[0]

    def count(self, figure: str, month: date, place: str, category: tuple[str, ...], organisation_id: int | None = None) -> None:
        if month <= self.until:
            self.facts[Fact(figure, month, place, category, organisation_id)] += 1

    def year(self, year: int, busy: tuple[int, int], quiet: tuple[int, int]) -> None:
        """Each quarter has one busy month, a wave of signals one kind of partner reports through
        the form (a school after an incident, the police after a wave of online hate): so a
        quarter's total can be shown, beside months and categories that mostly stay "< 5"."""
        for quarter in range(4):
            busy_month = quarter * 3 + self.rnd.randint(1, 3)
            wave = self.rnd.choice(WAVES)
            for number in range(quarter * 3 + 1, quarter * 3 + 4):
                month = date(year, number, 1)
                signals = self.rnd.randint(*(busy if number == busy_month else quiet))
                if month <= self.until:
                    for _ in range(signals):
                        self.signal(month, wave if number == busy_month else None)

    def signal(self, month: date, wave: str | None = None) -> None:
        places, weights = zip(*self.history.places, strict=True)
        place = self.rnd.choices(places, weights=weights)[0]
        channel = "form" if wave else self.pick("channel", _leaves("signals_received"))
        reporter = wave or self.pick("reporter", _leaves("signals_received", 1))
        self.count("signals_received", month, place, (channel, reporter))
        if self.rnd.random() < 0.1:
            return  # not weighed (yet) when it was erased: an anonymous signal withdrawn, say
        days = self.rnd.choice((2, 5, 6, 12, 20, 28, 45, 70, 120))
        decided = _add_months(month, days // 30)
        decision = self.pick("decision", _leaves("signals_weighed"))
        self.count("signals_weighed", decided, place, (decision, bucket(days, DECISION_BUCKETS)))
        if decision == "open_case":
            self.case(decided, place)

    def case(self, opened: date, place: str) -> None:
        self.count("cases_opened", opened, place,
                   (self.pick("target_group", _leaves("cases_opened")), self.pick("follow_up", _leaves("cases_opened", 1))))
        for _ in range(self.rnd.randint(1, 3)):
            self.measure(opened, place)
        months = self.rnd.randint(2, 15)
        for review in range(3, months + 1, 3):
            outcome = self.rnd.choices(("on_time", "late", "missed"), weights=(8, 2, 1))[0]
            self.count("reviews", _add_months(opened, review), place, (outcome,))
        if self.rnd.random() < 0.35:
            self.count("ltf_feedback", _add_months(opened, self.rnd.randint(1, 3)), place, ("released",))
        if self.rnd.random() < 0.7:
            days = months * 30 + self.rnd.randint(0, 20)
            self.count("cases_closed", _add_months(opened, months), place,
                       (self.pick("outcome", _leaves("cases_closed")), bucket(days, FOLLOW_UP_BUCKETS)))

    def measure(self, planned: date, place: str) -> None:
        if not self.organisations:
            return
        weights = WEIGHTS["organisation_kind"]
        organisation = self.rnd.choices(self.organisations, weights=[weights.get(o.kind.value, 1) for o in self.organisations])[0]
        leaf = (f"{organisation.kind.value}/{organisation.id}",)
        self.count("measures_planned", planned, place, leaf, organisation.id)
        due = _add_months(planned, self.rnd.randint(1, 4))
        chance = self.rnd.random()
        if chance < 0.6:
            self.count("measures_done", due, place, leaf, organisation.id)
        elif chance < 0.75:
            self.count("measures_done", _add_months(due, 1), place, leaf, organisation.id)
            self.count("measures_late", due, place, leaf, organisation.id)
        elif chance < 0.9:
            self.count("measures_late", due, place, leaf, organisation.id)


def history_facts(tenant: Tenant, today: date | None = None) -> Counter:
    """The demo cell's history as facts (inside its tenant context); empty for another cell."""
    history = HISTORIES.get(tenant.slug)
    if history is None:
        return Counter()
    today = today or utcnow().date()
    organisations = [o for o in db.session.scalars(sa.select(Organisation).order_by(Organisation.id))
                     if o.kind.value in WEIGHTS["organisation_kind"]]
    draw = _Draw(random.Random(f"{SEED}:{tenant.slug}:{today.year}"), history, organisations,
                 date(today.year, today.month, 1))
    draw.year(today.year - 1, *history.last_year)
    draw.year(today.year, *history.this_year)
    return draw.facts


def seed_demo_figures(tenant: Tenant) -> bool:
    """Keep the demo cell's history and let it count in the platform-wide figures (inside its
    tenant context, after its members and cases); False when there was nothing to add."""
    facts = history_facts(tenant)
    if not facts:
        return False
    kept = {tuple(row) for row in db.session.execute(sa.select(
        KeptCount.figure, KeptCount.month, KeptCount.municipality, KeptCount.category, KeptCount.organisation_id))}
    rows = {(fact.figure, fact.month, fact.municipality, SEPARATOR.join(fact.category), fact.organisation_id): count
            for fact, count in facts.items()}
    added = not kept & set(rows)  # any of them kept already: the history was seeded before
    if added:
        for (figure, month, place, category, organisation_id), count in sorted(rows.items(), key=str):
            db.session.add(KeptCount(figure=figure, month=month, municipality=place, category=category,
                                     organisation_id=organisation_id, count=count))
    db.session.flush()
    return _consent(tenant) or added


def _consent(tenant: Tenant) -> bool:
    """The cell decides, once, to count in the platform-wide figures: proposed, then confirmed."""
    members = _demo_members(tenant)
    if consent_row() is not None or not {Role.COORDINATOR, Role.MAYOR} <= set(members):
        return False
    with _as_demo_seeder(tenant):
        proposal = propose_consent(members[Role.COORDINATOR], {"platform_figures": True})
        confirm(proposal, members[Role.MAYOR])
        db.session.flush()
    return True
