"""Mails about meetings: the invitation, a move, a cancellation, the day before, minutes waiting
for approval, the cadence overdue, a member's request for a meeting.

Like every mail of the cell (:mod:`livc.tenants.signals.mail`), they name the cell, the table,
the day, the hour and the place, and link to the page: never a case code, a signal reference or
anything said about a person (a case team's meeting is "a meeting of a case team").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flask_babel import lazy_gettext as _l

from livc.tenants.meetings.models import Meeting, to_local
from livc.tenants.members.models import Membership
from livc.tenants.signals.mail import cell_link, send_to_members

CASE_TEAM_MEETING = _l("A meeting of a case team")


def public_title(meeting: Meeting) -> str:
    """How a mail or a calendar names a meeting: its table, never its case."""
    if meeting.table is not None:
        return meeting.table.name
    return str(CASE_TEAM_MEETING)


def _context(meeting: Meeting) -> dict:
    return {
        "title": public_title(meeting),
        "starts": to_local(meeting.starts_at).strftime("%d/%m/%Y %H:%M"),
        "ends": to_local(meeting.ends_at).strftime("%H:%M"),
        "place": meeting.place,
        "video_link": meeting.video_link,
        "link": cell_link(f"meetings/{meeting.id}"),
    }


def notify_invited(meeting: Meeting, recipients: Iterable[Membership]) -> int:
    return send_to_members("meeting_invitation", recipients, **_context(meeting))


def notify_moved(meeting: Meeting, recipients: Iterable[Membership], was_starts_at: datetime) -> int:
    """The meeting moved: its new day, place or link (``was_starts_at``: when it was, stored UTC)."""
    return send_to_members("meeting_moved", recipients, before=to_local(was_starts_at).strftime("%d/%m/%Y %H:%M"),
                           **_context(meeting))


def notify_cancelled(meeting: Meeting, recipients: Iterable[Membership]) -> int:
    return send_to_members("meeting_cancelled", recipients, **_context(meeting))


def notify_day_before(meeting: Meeting, recipients: Iterable[Membership]) -> int:
    return send_to_members("meeting_tomorrow", recipients, **_context(meeting))


def notify_minutes_waiting(meeting: Meeting, recipients: Iterable[Membership]) -> int:
    return send_to_members("meeting_minutes_waiting", recipients, **_context(meeting))


def notify_cadence_overdue(recipients: Iterable[Membership], due_on: str) -> int:
    return send_to_members("meeting_cadence_overdue", recipients, due_on=due_on, link=cell_link("meetings"))


def notify_requested(recipients: Iterable[Membership]) -> int:
    return send_to_members("meeting_requested", recipients, link=cell_link("meetings"))
