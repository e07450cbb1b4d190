"""What the federation adds to a cell's pages (:mod:`livc.tenants.panels`): on the
coordinator's home page, the match alerts waiting for the cell and the confirmed ones it
cooperates on; on a case's page and in its timeline, once both cells confirmed an alert on the
case, the other cell, its coordinators and the shared reference, and when each side confirmed.

Only what :mod:`livc.federation.alerts` shows the cell: an alert the other cell heard of first
and did not pass on yet is not there, and before both confirmed nothing names anyone. Connected
by :func:`livc.federation.subscribers.connect`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, render_template, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from livc.federation.alerts import AlertView, alerts_for
from livc.federation.handover import received_for
from livc.federation.models import AlertState, CooperationThread, HandoverStatus, SideStatus
from livc.platform.audit import AuditEntry
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.policy import Action, Person, decide
from livc.tenants.panels import CaseOccasion, Panel, TimelineEntry

# What each strength (federation.alerts.strength_of) means, in one plain sentence.
STRENGTH_EXPLAINED = {
    "very_strong": _l("Very strong: the data of both cases agree so well that it is almost certainly the same person."),
    "strong": _l("Strong: probably the same person; check your own case before you confirm."),
    "possible": _l("Possible: the only likely candidate on both sides, but it may well be someone else; check carefully."),
}
THREAD_ENDPOINT = "tenant.cooperation_thread"  # the shared thread (federation.cooperation_views)


def waits_for_us(alert: AlertView) -> bool:
    """An open alert this cell has not confirmed yet: its coordinator has a step to take."""
    return alert.state == AlertState.OPEN and alert.status != SideStatus.CONFIRMED


def thread_url(alert: AlertView) -> str | None:
    """The shared thread of a confirmed alert, once one of the cells started it."""
    if THREAD_ENDPOINT not in current_app.view_functions:
        return None
    thread_id = db.session.scalar(sa.select(CooperationThread.id).where(CooperationThread.alert_id == alert.id))
    return url_for(THREAD_ENDPOINT, thread=thread_id) if thread_id is not None else None


def open_threads(alert_ids) -> set[int]:
    """Of these confirmed alerts, those whose cooperation thread is not closed (none yet: open)."""
    ids = set(alert_ids)
    if not ids:
        return set()
    closed = set(db.session.scalars(
        sa.select(CooperationThread.alert_id).where(CooperationThread.alert_id.in_(ids), CooperationThread.closed_at.is_not(None))
    ))
    return ids - closed


# --- the home page ----------------------------------------------------------------------------


def dashboard_panels(person: Person, **_details) -> list[Panel]:
    """For the coordinator: the alerts waiting for the cell, the confirmed ones it cooperates on,
    and the hand-overs other cells sent it that wait for its answer."""
    if not decide(person, Action.FEDERATION_MANAGE):
        return []
    views = alerts_for(current_tenant_id())
    waiting = [alert for alert in views if waits_for_us(alert)]
    theirs = [alert for alert in views if alert.state == AlertState.OPEN and not waits_for_us(alert)]
    confirmed = [alert for alert in views if alert.state == AlertState.CONFIRMED and alert.case_id is not None]
    active = open_threads(alert.id for alert in confirmed)
    cooperating = [alert for alert in confirmed if alert.id in active]
    handovers = [view for view in received_for(current_tenant_id()) if view.status == HandoverStatus.PROPOSED]
    if not (waiting or theirs or cooperating or handovers):
        return []
    html = render_template(
        "tenants/federation_dashboard.html", waiting=waiting, theirs=theirs, cooperating=cooperating,
        thread_url=thread_url, handovers=handovers,
    )
    return [Panel("federation-alerts", Markup(html), title=str(_l("Match alerts")), waiting=len(waiting) + len(handovers))]


# --- a case's page and timeline ---------------------------------------------------------------


def _confirmed_on(case_id: int) -> list[AlertView]:
    return [alert for alert in alerts_for(current_tenant_id())
            if alert.case_id == case_id and alert.state == AlertState.CONFIRMED]


def case_panels(occasion: CaseOccasion, **_details) -> list[Panel]:
    """The cells this case was confirmed with: the other cell, its coordinators, the reference."""
    alerts = _confirmed_on(occasion.case_id)
    if not alerts:
        return []
    coordinator = bool(decide(occasion.person, Action.FEDERATION_MANAGE))
    html = render_template(
        "tenants/federation_case_panel.html", alerts=alerts, coordinator=coordinator, thread_url=thread_url,
    )
    return [Panel("federation-cooperation", Markup(html))]


def _confirmed_at(tenant_id: int, alert_id: int) -> datetime | None:
    """When cell ``tenant_id`` confirmed the alert, from its own audit trail (a time, nothing else)."""
    with tenant_context(tenant_id):
        return db.session.scalar(
            sa.select(sa.func.min(AuditEntry.at))
            .where(AuditEntry.action == "federation.alert_confirmed", AuditEntry.subject == f"alert:{alert_id}")
        )


def case_events(occasion: CaseOccasion, **_details) -> list[TimelineEntry]:
    """Each side's confirmation and the joint one, to the minute, once both confirmed."""
    entries = []
    for alert in _confirmed_on(occasion.case_id):
        ours = _confirmed_at(current_tenant_id(), alert.id)
        theirs = _confirmed_at(alert.other_cell_id, alert.id)
        joint = alert.confirmed_at or max((at for at in (ours, theirs) if at), default=None)
        if ours is not None:
            entries.append(TimelineEntry(ours, "federation-confirmed", str(_l(
                "Your cell's coordinator confirmed that a case of %(cell)s concerns the same person", cell=alert.other_cell))))
        if theirs is not None:
            entries.append(TimelineEntry(theirs, "federation-confirmed", str(_l(
                "%(cell)s confirmed that its case concerns the same person", cell=alert.other_cell))))
        if joint is not None:
            entries.append(TimelineEntry(joint, "federation-joint", str(_l(
                "Both cells confirmed the same person: cooperation with %(cell)s under shared reference %(reference)s",
                cell=alert.other_cell, reference=alert.shared_reference))))
    return entries
