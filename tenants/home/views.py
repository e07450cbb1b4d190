"""The cell's landing page (public) and the member's home page: the dashboard
(:mod:`livc.tenants.home.dashboard`) and links to every page the member may reach."""

from __future__ import annotations

from flask import g, render_template

from livc.platform.policy import Action, decide, public
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.decisions.reading import waiting_for_confirmation_by
from livc.tenants.home.dashboard import dashboard_context
from livc.tenants.meetings.cadence import cadence_state
from livc.tenants.meetings.models import Meeting, MeetingStatus
from livc.tenants.meetings.operations import meetings_for
from livc.tenants.navigation import cell_pages
from livc.tenants.panels import dashboard_panels
from livc.tenants.web import KIND_LABELS, blueprint


@blueprint.get("/")
@public
def landing():
    return render_template("tenants/landing.html", tenant=g.tenant, kind_label=KIND_LABELS[g.tenant.kind])


@blueprint.get("/home")
@guard(Action.CELL_ENTER)
def home():
    """The cell's dashboard: what waits for the member (and what the parts above the cell's work
    contribute, :mod:`livc.tenants.panels`), and the pages they may reach."""
    to_confirm = waiting_for_confirmation_by(g.person, g.membership) if decide(g.person, Action.DECISIONS_TAKE) else []
    return render_template(
        "tenants/home.html", tenant=g.tenant, membership=g.membership, links=cell_pages(), kind_label=KIND_LABELS[g.tenant.kind],
        decisions_to_confirm=to_confirm, next_meeting=_next_meeting(), contributed=dashboard_panels(g.person),
        cadence=cadence_state() if g.membership.role == Role.COORDINATOR else None, **dashboard_context(g.person),
    )


def _next_meeting() -> Meeting | None:
    """The next meeting the member is invited to (planned or in session), if any."""
    now = utcnow()
    coming = [meeting for meeting in meetings_for(g.person)
              if meeting.status in (MeetingStatus.PLANNED, MeetingStatus.IN_SESSION) and meeting.ends_at >= now]
    return min(coming, key=lambda meeting: meeting.starts_at, default=None)
