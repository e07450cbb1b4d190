"""What other parts of the platform may put on a meeting's proposed agenda, and how.

The meetings domain proposes an agenda from what needs the table (signals to weigh, reviews and
measures due, feedback forms, decisions waiting, members' requests:
:func:`livc.tenants.meetings.operations.proposed_agenda`). Parts that sit above the cell's work
contribute too, without meetings knowing them: the federation's match alerts. They connect a
receiver to :data:`agenda_wanted` when the app is assembled; it is sent with an
:class:`Occasion` as sender and returns a list of :class:`Suggestion`.

This module is the federation's only door into meetings (the federation contract in
``pyproject.toml``): a suggestion names a case by its id and code, never anything about the
person.
"""

from __future__ import annotations

from dataclasses import dataclass

from blinker import Namespace

from livc.tenants.meetings.models import ItemKind

__all__ = ["ItemKind", "Occasion", "Suggestion", "agenda_wanted", "contributed"]

_signals = Namespace()

#: A meeting's agenda is being proposed: receivers return a list of :class:`Suggestion`.
agenda_wanted = _signals.signal("agenda-wanted")


@dataclass(frozen=True)
class Occasion:
    """The meeting an agenda is proposed for, as contributors see it."""

    meeting_id: int
    discusses_cases: bool  # an operational (or main) table, or a case team
    case_id: int | None  # a case team's meeting: only this case's points belong on it


@dataclass(frozen=True)
class Suggestion:
    """A point the platform proposes; the chair takes it up or leaves it."""

    kind: ItemKind
    reference: str | None = None  # the case code or signal reference, nothing else
    case_id: int | None = None
    signal_id: int | None = None
    proposal_id: int | None = None
    request_id: int | None = None
    police_information: bool = False
    title: str | None = None  # None: the kind's label, in the reader's language

    @property
    def key(self) -> tuple:
        """What makes two suggestions the same point (an item already on the agenda)."""
        return (self.kind, self.case_id, self.signal_id, self.proposal_id, self.request_id)


def contributed(occasion: Occasion) -> list[Suggestion]:
    """What the receivers of :data:`agenda_wanted` suggest for ``occasion``."""
    found: list[Suggestion] = []
    for _receiver, suggestions in agenda_wanted.send(occasion):
        found.extend(suggestions or ())
    return found
