"""Before retention erases a record, its facts move to the kept counts (anonymous, per month).

Connected to the signals' and cases' erasure events when the app is assembled
(``livc.app.factory``); the events are sent before any row of the record goes, in the erasure's
transaction, so the counts and the erasure commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from livc.platform.db import db
from livc.tenants.cases import events as case_events
from livc.tenants.monitoring.facts import SEPARATOR, Fact, case_facts, signal_facts
from livc.tenants.monitoring.models import KeptCount
from livc.tenants.signals import events as signal_events


def keep(facts: Iterable[Fact]) -> None:
    for fact in facts:
        category = SEPARATOR.join(fact.category)
        row = db.session.scalar(sa.select(KeptCount).where(
            KeptCount.figure == fact.figure, KeptCount.month == fact.month,
            KeptCount.municipality == fact.municipality, KeptCount.category == category,
            KeptCount.organisation_id.is_(None) if fact.organisation_id is None
            else KeptCount.organisation_id == fact.organisation_id,
        ))
        if row is None:
            row = KeptCount(figure=fact.figure, month=fact.month, municipality=fact.municipality,
                            category=category, organisation_id=fact.organisation_id, count=0)
            db.session.add(row)
        row.count += 1
    db.session.flush()


def kept_facts() -> Iterable[tuple[Fact, int]]:
    for row in db.session.scalars(sa.select(KeptCount)):
        yield Fact(row.figure, row.month, row.municipality, tuple(row.category.split(SEPARATOR)), row.organisation_id), row.count


def _signal_erased(signal, **_) -> None:
    keep(signal_facts(signal))


def _case_erased(case, **_) -> None:
    keep(case_facts(case))


def connect() -> None:
    signal_events.signal_erased.connect(_signal_erased)
    case_events.case_erased.connect(_case_erased)
