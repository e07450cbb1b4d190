"""The reminder mail: reviews and measures coming due, one digest per coordinator.

Like every mail of the cell (:mod:`livc.tenants.signals.mail`), it carries case codes, due dates
and links only.
"""

from __future__ import annotations

from collections.abc import Iterable

from livc.tenants.cases.mail import case_link
from livc.tenants.cases.models import Case, Measure, Review
from livc.tenants.members.models import Membership
from livc.tenants.signals.mail import send_to_members


def notify_due(
    recipients: Iterable[Membership], reviews: list[tuple[Case, Review]], measures: list[tuple[Case, Measure]]
) -> int:
    """One digest per recipient: case codes and due dates only."""
    return send_to_members(
        "case_reminders",
        recipients,
        reviews=[(case.code, review.due_on, case_link(case)) for case, review in reviews],
        measures=[(case.code, measure.due_on, case_link(case)) for case, measure in measures],
    )
