"""Each role's dashboard (issue 16): a work queue of what waits for this member, card by card.

- the **coordinator** weighs signals, confirms proposals, holds reviews, keeps the measures and
  the cadence of the meetings, releases the feedback forms, and answers the match alerts (the
  federation's card, :mod:`livc.tenants.panels`);
- the **information officer** delivers the released feedback forms to the Local Task Force and
  records its answers (police information), approves the forms of their case teams, and sees
  the points of police information on the coming meetings' agendas;
- the **mayor** reads the year's key figures in their scope (counts, small ones hidden as on the
  figures page: no case code, no content) and takes part in the cell's decisions;
- every **other member** of the table (partners, the police chief, the alderman, the secretary,
  a guest expert) follows the measures of their organisation, their case teams and their signals.

A card is a :class:`Section`: its template is ``tenants/dashboard/<key>.html``, its ``waiting``
how many things in it wait for the member (the "What waits for you" summary counts them; None:
a card that informs and asks nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from livc.platform.db import db
from livc.platform.policy import Action, Person, decide
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.decisions.operations import overdue
from livc.tenants.decisions.reading import waiting
from livc.tenants.home.dashboard import (
    FEEDBACK_READ,
    FeedbackStep,
    WithTheOfficer,
    coming_meetings,
    dashboard,
    feedback_drafts_count,
    feedback_in_progress,
    feedback_with_the_officer,
    followed_cases,
    key_figures,
    measures_of_organisation,
    police_points,
)
from livc.tenants.meetings.cadence import cadence_state
from livc.tenants.members.models import Membership
from livc.tenants.panels import Panel, dashboard_panels
from livc.tenants.signals.operations import signals_recorded_by

SIGNALS_TO_WEIGH = _l("Signals to weigh")
DECISIONS = _l("Decisions waiting for your confirmation")
REVIEWS_DUE = _l("Reviews due")
MEASURES_DUE = _l("Measures due")
MEETINGS = _l("Meetings")
NEXT_MEETING = _l("Next meeting")
FEEDBACK_FORMS = _l("Feedback forms for the Local Task Force")
FEEDBACK_TO_APPROVE = _l("Feedback forms waiting for your approval")
CASES = _l("Cases")
MEASURES_OF_ORGANISATION = _l("Measures of your organisation")
CASE_TEAMS = _l("Your case teams")
MY_SIGNALS = _l("Signals I recorded")
POLICE_INFORMATION = _l("Police information to record")
FIGURES = _l("The cell in figures")

MY_SIGNALS_SHOWN = 10


@dataclass(frozen=True)
class Section:
    """A card of the dashboard."""

    key: str  # its template, anchor and CSS class: "signals-to-weigh"
    title: Any  # a lazy string
    waiting: int | None = None  # what waits for the member in it (None: it informs only)
    data: Any = None  # what its template shows
    wide: bool = False  # spans the row
    panel: Panel | None = None  # contributed by a part above the cell's work, rendered by it


@dataclass(frozen=True)
class Board:
    """A member's dashboard: its cards in order, and those that ask something of the member."""

    sections: list[Section]
    today: date

    @property
    def waiting(self) -> list[Section]:
        return [section for section in self.sections if section.waiting]


def board_for(person: Person, membership: Membership) -> Board:
    """The dashboard of ``membership``'s role; every role without one of its own has a partner's."""
    today = utcnow().date()
    cards = ROLE_BOARDS.get(person.role, _member_of_the_table)
    return Board(cards(person, membership, today), today)


def _panels(person: Person) -> list[Section]:
    return [Section(panel.name, panel.title, panel.waiting, panel=panel) for panel in dashboard_panels(person)]


def _decisions(person: Person, membership: Membership) -> list[Section]:
    """The proposals the member may confirm, and (the coordinator's) urgent acts whose
    confirmation is late; nothing for whoever takes no part in the cell's decisions."""
    if not decide(person, Action.DECISIONS_TAKE):
        return []
    readings = [(reading, overdue(reading.proposal)) for reading in waiting(person, membership)]
    mine = [(reading, late) for reading, late in readings
            if reading.may_confirm or (late and person.role == Role.COORDINATOR)]
    return [Section("decisions-to-confirm", DECISIONS, len(mine), mine)]


def _next_meeting(person: Person) -> Section:
    return Section("next-meeting", NEXT_MEETING, data={"meeting": next(iter(coming_meetings(person)), None)})


def _my_signals(person: Person) -> list[Section]:
    if not decide(person, Action.SIGNAL_SUBMIT):
        return []
    return [Section("my-signals", MY_SIGNALS, data=signals_recorded_by(person.membership_id, MY_SIGNALS_SHOWN))]


def _case_teams(person: Person, today: date) -> Section:
    followed, count, closed = followed_cases(person, today)
    return Section("case-teams", CASE_TEAMS, count, {"cases": followed, "count": count, "closed": closed})


def _coordinator(person: Person, membership: Membership, today: date) -> list[Section]:
    board = dashboard(person)
    cadence = cadence_state()
    feedback = feedback_in_progress(person)
    for_me = [item for item in feedback if item.step != FeedbackStep.OTHERS]
    drafts = feedback_drafts_count(person) if len(feedback) >= FEEDBACK_READ else len(feedback)
    return [
        Section("signals-to-weigh", SIGNALS_TO_WEIGH, board.open_signals_count, board.open_signals),
        *_decisions(person, membership),
        Section("reviews-due", REVIEWS_DUE, board.reviews_due_count, board.reviews_due),
        Section("measures-due", MEASURES_DUE, board.measures_due_count, board.measures_due),
        *_panels(person),
        Section("meetings", MEETINGS, int(cadence.overdue) + cadence.requests_waiting,
                {"meeting": next(iter(coming_meetings(person)), None), "cadence": cadence}),
        Section("feedback-forms", FEEDBACK_FORMS, len(for_me),
                {"forms": for_me, "others": drafts - len(for_me)}),
        Section("cases-by-stage", CASES, data={"cases": board.cases_by_stage, "counts": board.stage_counts}),
    ]


def _information_officer(person: Person, membership: Membership, today: date) -> list[Section]:
    cleared = bool(decide(person, Action.POLICE_INFO_READ))
    board = dashboard(person)
    officer = feedback_with_the_officer() if cleared else WithTheOfficer([], [])
    points = police_points(person) if cleared else []
    return [
        Section("ltf-feedback", FEEDBACK_FORMS, len(officer.to_deliver) + len(board.feedback_to_approve),
                {"to_deliver": officer.to_deliver, "to_approve": board.feedback_to_approve, "cleared": cleared}),
        Section("police-information", POLICE_INFORMATION, len(officer.answer_to_record) + len(points),
                {"answers": officer.answer_to_record, "points": points, "cleared": cleared}),
        *_decisions(person, membership),
        _case_teams(person, today),
        *_panels(person),
        *_my_signals(person),
        _next_meeting(person),
    ]


def _mayor(person: Person, membership: Membership, today: date) -> list[Section]:
    return [
        Section("figures", FIGURES, data=key_figures(person, db.session.get(Tenant, person.tenant_id), today), wide=True),
        *_decisions(person, membership),
        *_panels(person),
        _next_meeting(person),
        *_my_signals(person),
    ]


def _member_of_the_table(person: Person, membership: Membership, today: date) -> list[Section]:
    board = dashboard(person)
    measures, count = measures_of_organisation(person, membership.organisation_id)
    return [
        Section("my-measures", MEASURES_OF_ORGANISATION, count,
                {"measures": measures, "count": count, "organisation": membership.organisation.name}),
        _case_teams(person, today),
        *_decisions(person, membership),
        Section("feedback-to-approve", FEEDBACK_TO_APPROVE, len(board.feedback_to_approve), board.feedback_to_approve),
        *_panels(person),
        *_my_signals(person),
        _next_meeting(person),
    ]


ROLE_BOARDS = {
    Role.COORDINATOR: _coordinator,
    Role.INFORMATION_OFFICER: _information_officer,
    Role.MAYOR: _mayor,
}
