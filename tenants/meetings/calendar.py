"""A member's meetings as an iCalendar feed, at a secret address they can revoke.

Calendar programs fetch the feed without signing in, so the address itself is the secret: a
random token, of which only a digest is kept (like invitation links). A new address revokes the
old one; revoking leaves none. The feed holds what a calendar needs and nothing of the cell's
work (DOMAIN.md: no lists of persons): the day and hours, the place or video link, and the
table's name; never a case code, a signal reference, an agenda item or a name of a person
discussed (a case team's meeting is "a meeting of a case team").
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from flask import g
from icalendar import Calendar, Event

from livc.platform import audit
from livc.platform.crypto import new_token, token_digest
from livc.platform.db import db
from livc.platform.timeutil import utcnow
from livc.tenants.meetings.mail import public_title
from livc.tenants.meetings.models import CalendarFeed, Invitee, Meeting, MeetingStatus
from livc.tenants.members.models import Membership


def feed_of(membership: Membership) -> CalendarFeed | None:
    return db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.membership_id == membership.id))


def new_feed(membership: Membership) -> str:
    """A new secret address for ``membership`` (the token, shown once); the old one stops working."""
    token = new_token()
    feed = feed_of(membership)
    if feed is None:
        db.session.add(CalendarFeed(membership_id=membership.id, token_digest=token_digest(token)))
    else:
        feed.token_digest, feed.created_at = token_digest(token), utcnow()
    db.session.flush()
    audit.record("meeting.calendar_address_new", subject=f"membership:{membership.id}")
    return token


def revoke_feed(membership: Membership) -> bool:
    feed = feed_of(membership)
    if feed is None:
        return False
    db.session.delete(feed)
    db.session.flush()
    audit.record("meeting.calendar_address_revoked", subject=f"membership:{membership.id}")
    return True


def member_of_feed(token: str) -> Membership | None:
    """The member whose current address ``token`` is (None: unknown, revoked, or not usable)."""
    feed = db.session.scalar(sa.select(CalendarFeed).where(CalendarFeed.token_digest == token_digest(token)))
    membership = db.session.get(Membership, feed.membership_id) if feed is not None else None
    return membership if membership is not None and membership.usable else None


def calendar_of(membership: Membership) -> bytes:
    """The meetings ``membership`` is invited to, as iCalendar (cancelled ones marked so)."""
    calendar = Calendar()
    calendar.add("prodid", "-//livc//meetings//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"livc {g.tenant.name}")
    meetings = db.session.scalars(
        sa.select(Meeting).join(Invitee, Invitee.meeting_id == Meeting.id)
        .where(Invitee.membership_id == membership.id).order_by(Meeting.starts_at)
    )
    for meeting in meetings:
        event = Event()
        event.add("uid", f"meeting-{meeting.id}@{g.tenant.slug}.livc")
        event.add("dtstamp", utcnow().replace(tzinfo=UTC))
        event.add("dtstart", meeting.starts_at.replace(tzinfo=UTC))
        event.add("dtend", meeting.ends_at.replace(tzinfo=UTC))
        event.add("summary", public_title(meeting))
        if meeting.place:
            event.add("location", meeting.place)
        if meeting.video_link:
            event.add("url", meeting.video_link)
        event.add("status", "CANCELLED" if meeting.status == MeetingStatus.CANCELLED else "CONFIRMED")
        calendar.add_component(event)
    return calendar.to_ical()
