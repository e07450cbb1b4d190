"""Reminders about meetings, as a periodic job per cell (``app/periodic.py``).

The invitation itself goes out when a meeting is planned (:func:`livc.tenants.meetings.operations.plan_meeting`).
Every morning: the invitees of a meeting of the next day; the organisers of a held meeting whose
minutes still wait for approval (once); and, at most once a week, the coordinators and the
table's chair when the cadence of seed 004 says the table should have met and no meeting is
planned. Mails name the table, the day and the place: never a case.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from livc.platform import audit
from livc.platform.audit import AuditEntry
from livc.platform.db import db
from livc.platform.jobs import task
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.meetings import mail
from livc.tenants.meetings.cadence import cadence_state, operational_table
from livc.tenants.meetings.models import Meeting, MeetingStatus
from livc.tenants.members.operations import active_members

DAY_BEFORE = timedelta(hours=36)
MINUTES_AFTER = timedelta(days=2)
OVERDUE_EVERY = timedelta(days=7)
OVERDUE_ACTION = "meeting.cadence_overdue_reminded"


def _usable(memberships) -> list:
    seen, found = set(), []
    for membership in memberships:
        if membership is not None and membership.usable and membership.id not in seen:
            seen.add(membership.id)
            found.append(membership)
    return found


@task(queue="maintenance")
def send_meeting_reminders() -> int:
    """The day before, minutes waiting, the cadence overdue (each once); returns mails sent."""
    now = utcnow()
    sent = 0
    for meeting in db.session.scalars(sa.select(Meeting).where(
        Meeting.status == MeetingStatus.PLANNED, Meeting.reminded_day_before_at.is_(None),
        Meeting.starts_at > now, Meeting.starts_at <= now + DAY_BEFORE,
    )):
        sent += mail.notify_day_before(meeting, _usable(invitee.membership for invitee in meeting.invitees))
        meeting.reminded_day_before_at = now
    for meeting in db.session.scalars(sa.select(Meeting).where(
        Meeting.status == MeetingStatus.HELD, Meeting.minutes_approved_at.is_(None),
        Meeting.minutes_reminded_at.is_(None), Meeting.closed_at <= now - MINUTES_AFTER,
    )):
        sent += mail.notify_minutes_waiting(meeting, _usable((meeting.secretary, meeting.chair)))
        meeting.minutes_reminded_at = now
    state = cadence_state(now)
    if state.overdue:
        last = db.session.scalar(sa.select(sa.func.max(AuditEntry.at)).where(AuditEntry.action == OVERDUE_ACTION))
        if last is None or last <= now - OVERDUE_EVERY:
            table = operational_table()
            recipients = _usable([*active_members(Role.COORDINATOR), table.chair if table is not None else None])
            sent += mail.notify_cadence_overdue(recipients, state.next_due.strftime("%d/%m/%Y"))
            audit.record(OVERDUE_ACTION, details={"cadence": state.cadence.value, "due_on": state.next_due.isoformat()})
    db.session.flush()
    return sent
