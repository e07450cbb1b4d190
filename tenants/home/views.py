"""The cell's landing page (public) and the member's home page: the dashboard
(:mod:`livc.tenants.home.dashboard`) and links to every page the member may reach."""

from __future__ import annotations

from flask import g, render_template
from flask_babel import lazy_gettext as _l

from livc.platform.policy import Action, decide, public
from livc.platform.roles import Role
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.decisions.reading import waiting_for_confirmation_by
from livc.tenants.home.dashboard import dashboard_context
from livc.tenants.meetings.cadence import cadence_state
from livc.tenants.meetings.models import Meeting, MeetingStatus
from livc.tenants.meetings.operations import meetings_for
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
    links = [(action, endpoint, label) for action, endpoint, label in HOME_LINKS if decide(g.person, action)]
    to_confirm = waiting_for_confirmation_by(g.person, g.membership) if decide(g.person, Action.DECISIONS_TAKE) else []
    return render_template(
        "tenants/home.html", tenant=g.tenant, membership=g.membership, links=links, kind_label=KIND_LABELS[g.tenant.kind],
        decisions_to_confirm=to_confirm, next_meeting=_next_meeting(), contributed=dashboard_panels(g.person),
        cadence=cadence_state() if g.membership.role == Role.COORDINATOR else None, **dashboard_context(g.person),
    )


def _next_meeting() -> Meeting | None:
    """The next meeting the member is invited to (planned or in session), if any."""
    now = utcnow()
    coming = [meeting for meeting in meetings_for(g.person)
              if meeting.status in (MeetingStatus.PLANNED, MeetingStatus.IN_SESSION) and meeting.ends_at >= now]
    return min(coming, key=lambda meeting: meeting.starts_at, default=None)


HOME_LINKS = (
    (Action.SETUP_MANAGE, "tenant.setup", _l("Set-up of the cell")),
    (Action.SIGNAL_SUBMIT, "tenant.signal_new", _l("Report a signal")),
    (Action.SIGNAL_SUBMIT, "tenant.signals", _l("Signals")),
    (Action.CELL_ENTER, "tenant.cases", _l("Cases")),
    (Action.CELL_ENTER, "tenant.meetings", _l("Meetings")),
    (Action.DECISIONS_TAKE, "tenant.decisions", _l("Decisions waiting for confirmation")),
    (Action.POLICE_INFO_READ, "tenant.ltf_feedback_inbox", _l("Feedback forms for the Local Task Force")),
    (Action.PERSON_SEARCH, "tenant.person_search", _l("Is this person known to the cell?")),
    (Action.CASE_SETTINGS_MANAGE, "tenant.case_settings", _l("Case settings")),
    (Action.CASE_SETTINGS_MANAGE, "tenant.retention", _l("Retention and erasure")),
    (Action.FEDERATION_MANAGE, "tenant.federation", _l("Links with other cells")),
    (Action.CELL_STRUCTURE_VIEW, "tenant.cell_structure", _l("Organisation of the cell")),
    (Action.HOUSE_RULES_VIEW, "tenant.house_rules", _l("House rules")),
    (Action.MEMBERS_VIEW, "tenant.members", _l("Members of the cell")),
    (Action.ORGANISATIONS_MANAGE, "tenant.organisations", _l("Organisations at the table")),
    (Action.SSO_MANAGE, "tenant.sso_settings", _l("Single sign-on")),
    (Action.OPERATOR_ACTIONS_VIEW, "tenant.operator_actions", _l("Actions of the platform operator")),
    (Action.PROFILE_MANAGE, "tenant.profile", _l("Your profile and sign-in")),
)
