"""What parts above a cell's work add to its pages: a panel on the member's home page, a panel on
a case's page and lines in the case's timeline.

A cell's work never imports the parts above it (the federation: its match alerts and the
cooperation they open). Those connect a receiver to the signals below when the app is
assembled; the home page and the case page send them and show what comes back, without knowing
who answered. A receiver decides for itself whom it shows something to (it gets the reader) and
returns nothing for anyone else.

This module is one of the federation's doors into a cell (the federation contract in
``pyproject.toml``): it names a case by its id only, and what a receiver returns is what the
reader sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from blinker import Namespace
from markupsafe import Markup

from livc.platform.policy import Person

__all__ = [
    "CaseOccasion", "Panel", "TimelineEntry", "case_events", "case_events_wanted", "case_panels",
    "case_panels_wanted", "dashboard_panels", "dashboard_wanted",
]

_signals = Namespace()

#: The home page is shown to a member: sent with the reader (:class:`Person`) as sender,
#: receivers return a list of :class:`Panel`.
dashboard_wanted = _signals.signal("dashboard-wanted")

#: A case's page is shown: sent with a :class:`CaseOccasion`, receivers return a list of :class:`Panel`.
case_panels_wanted = _signals.signal("case-panels-wanted")

#: A case's timeline is shown: sent with a :class:`CaseOccasion`, receivers return a list of
#: :class:`TimelineEntry`.
case_events_wanted = _signals.signal("case-events-wanted")


@dataclass(frozen=True)
class CaseOccasion:
    """The case a page is shown for, and who reads it (the page already checked they may)."""

    case_id: int
    person: Person


@dataclass(frozen=True)
class Panel:
    """A section of a page, rendered by its contributor (escaped as any template)."""

    name: str  # what it is about, a CSS class: "federation-alerts"
    html: Markup
    title: str | None = None  # on the home page: its line in "What waits for you"
    waiting: int = 0  # ... with how many things in it wait for the reader (0: no line)


@dataclass(frozen=True)
class TimelineEntry:
    """A line of a case's timeline: when (to the minute), what kind, and what happened in words."""

    at: datetime  # stored time, naive UTC
    kind: str
    text: str


def _gathered(signal, sender) -> list:
    found: list = []
    for _receiver, answer in signal.send(sender):
        found.extend(answer or ())
    return found


def dashboard_panels(person: Person) -> list[Panel]:
    return _gathered(dashboard_wanted, person)


def case_panels(person: Person, case_id: int) -> list[Panel]:
    return _gathered(case_panels_wanted, CaseOccasion(case_id, person))


def case_events(person: Person, case_id: int) -> list[TimelineEntry]:
    return _gathered(case_events_wanted, CaseOccasion(case_id, person))
