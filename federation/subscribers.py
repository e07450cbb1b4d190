"""The federation listens to the cases domain: a case followed is enrolled, a case no longer
followed (closed, erased) leaves the index. Cases never call the federation; the app factory
connects these receivers once (:func:`connect`, idempotent). Each receiver sees the case that
sent the event only as :func:`livc.tenants.cases.reading.federated` shows it.

It also contributes to the meetings' proposed agenda (:mod:`livc.tenants.meetings.agenda`): an
open match alert on a case of the cell, by its code only; and to the cell's home and case pages
(:mod:`livc.tenants.panels`, answered by :mod:`livc.federation.panels`)."""

from __future__ import annotations

from livc.federation import enrolment, handover, panels, threads
from livc.federation.alerts import alerts_for
from livc.federation.cooperation_views import handover_panels
from livc.federation.models import AlertState
from livc.platform.db import current_tenant_id
from livc.tenants import panels as cell_pages
from livc.tenants.cases import events
from livc.tenants.cases.reading import federated
from livc.tenants.meetings import agenda
from livc.tenants.signals.events import identity_entered


def _enrol(case, **_details) -> None:
    enrolment.request_enrolment(federated(case))


def _closed(case, reason=None, municipality=None, **_details) -> None:
    enrolment.remove_enrolment(federated(case), "closed")
    if str(reason) == "moved_away":
        handover.propose_on_closure(federated(case), municipality)


def _erased(case, **_details) -> None:
    # Before the case's federation reference goes: the threads on its alerts are found by it.
    threads.case_erased(case.id)
    handover.case_erased(case.id)
    enrolment.remove_enrolment(federated(case), "erased")


def _match_alerts_for_agenda(occasion: agenda.Occasion, **_details) -> list[agenda.Suggestion]:
    """Open match alerts on the cell's cases, for a meeting that discusses cases."""
    if not occasion.discusses_cases:
        return []
    return [
        agenda.Suggestion(agenda.ItemKind.MATCH_ALERT, alert.case_code, case_id=alert.case_id)
        for alert in alerts_for(current_tenant_id())
        if alert.state == AlertState.OPEN and alert.case_id is not None
        and occasion.case_id in (None, alert.case_id)
    ]


def connect() -> None:
    """Subscribe the federation to the cases' events (connecting twice changes nothing)."""
    events.case_became_active.connect(_enrol)
    events.case_identity_changed.connect(_enrol)
    events.case_closed.connect(_closed)
    events.case_erased.connect(_erased)
    identity_entered.connect(enrolment.prepare_tokens)
    agenda.agenda_wanted.connect(_match_alerts_for_agenda)
    cell_pages.dashboard_wanted.connect(panels.dashboard_panels)
    cell_pages.case_panels_wanted.connect(panels.case_panels)
    cell_pages.case_events_wanted.connect(panels.case_events)
    cell_pages.case_panels_wanted.connect(handover_panels)
