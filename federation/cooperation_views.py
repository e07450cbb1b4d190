"""Pages of the cooperation after a match: the threads with other cells, and the hand-overs a
cell sends (from a case closed as "moved away") or receives.

Views only parse and answer; the rules and the audit live in :mod:`livc.federation.threads` and
:mod:`livc.federation.handover`. Ids of alerts, threads and hand-overs travel in the form or the
query string, never in the path. A refusal answers 422 with its messages and the typed text
shown again; a refused request is rolled back, so it changes nothing.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from livc.federation import handover as handovers
from livc.federation import threads
from livc.federation.models import HandoverStatus
from livc.platform import registry
from livc.platform.forms import field_messages, render_form
from livc.platform.policy import Action
from livc.platform.roles import Role
from livc.tenants.access import guard
from livc.tenants.cases.reading import FederatedCase, case_for_federation
from livc.tenants.panels import CaseOccasion, Panel
from livc.tenants.web import blueprint

CHOOSE_ACTION = _l("Choose what to do.")
HANDOVER_LABELS = {
    HandoverStatus.PROPOSED: _l("proposed, waiting for the other cell"),
    HandoverStatus.ACCEPTED: _l("accepted"),
    HandoverStatus.DECLINED: _l("declined"),
    HandoverStatus.WITHDRAWN: _l("withdrawn"),
}


def _int_from(source, name: str) -> int | None:
    value = (source.get(name) or "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


@blueprint.app_template_global()
def moved_to_choices() -> list[tuple[str, str]]:
    """The municipalities of the registry, by name in the page's language (the closure form)."""
    return sorted(((m.nis_code, m.name()) for m in registry.municipalities()), key=lambda item: item[1].casefold())


def handover_panels(occasion: CaseOccasion, **_details) -> list[Panel]:
    """The case page's hand-over, when the case closed as "moved away" (a receiver of
    :data:`livc.tenants.panels.case_panels_wanted`: the page already checked the reader may read
    the case); the way to the sending form for its coordinator."""
    view = handovers.sending_view(occasion.case_id)
    if view is None:
        return []
    html = render_template("tenants/federation_handover_case.html", handover=view, labels=HANDOVER_LABELS,
                           coordinator=occasion.person.role == Role.COORDINATOR)
    return [Panel("federation-handover", Markup(html))]


@blueprint.app_template_global()
def cooperation_of_alert(alert_id: int):
    """The thread of a confirmed alert, if opened (for the alert page's link): read with the
    page's other alerts when the page asked for them (``g.alert_threads``), else on its own."""
    read_with_page = g.get("alert_threads") or {}
    if alert_id in read_with_page:
        return read_with_page[alert_id]
    return threads.thread_of_alert(g.tenant.id, alert_id)


# --- threads ------------------------------------------------------------------------------------


def _cooperation_page(status: int = 200, errors: dict | None = None):
    coordinator = threads.is_coordinator(g.membership, g.tenant.id)
    return render_form(
        "tenants/federation_cooperation.html", status, errors,
        threads=threads.threads_for(g.tenant.id, g.membership),
        received=handovers.received_for(g.tenant.id) if coordinator else [],
        coordinator=coordinator, handover_labels=HANDOVER_LABELS,
    )


@blueprint.get("/federation/cooperation")
@guard(Action.FEDERATION_COOPERATE)
def cooperation():
    """The cell's cooperation threads the member takes part in; the hand-overs it received."""
    return _cooperation_page()


@blueprint.post("/federation/cooperation/open")
@guard(Action.FEDERATION_MANAGE)
def cooperation_open():
    """Open (or find) the thread of an alert both cells confirmed."""
    alert_id = _int_from(request.form, "alert")
    try:
        if alert_id is None:
            raise ValidationError({"_schema": [str(threads.NO_THREAD)]})
        thread = threads.open_thread(g.tenant.id, alert_id, g.membership)
    except ValidationError as error:
        return _cooperation_page(422, field_messages(error))
    return redirect(url_for("tenant.cooperation_thread", thread=thread.id))


def _thread_page(thread_id: int, status: int = 200, errors: dict | None = None):
    view = threads.read_thread(g.tenant.id, thread_id, g.membership)
    return render_form("tenants/federation_thread.html", status, errors, thread=view,
                       coordinator=threads.is_coordinator(g.membership, g.tenant.id),
                       message_max=threads.MESSAGE_MAX)


THREAD_STEPS = {
    "post": (lambda thread_id: threads.post(g.tenant.id, thread_id, g.membership, request.form.get("body")),
             _l("Your message was sent to the other cell.")),
    "officers": (lambda thread_id: threads.agree_officers(g.tenant.id, thread_id, g.membership,
                                                          request.form.get("officers") == "yes"),
                 _l("Your choice about the information officers was saved.")),
    "close": (lambda thread_id: threads.close_thread(g.tenant.id, thread_id, g.membership, request.form.get("reason")),
              _l("The cooperation is closed. It stays readable.")),
}


@blueprint.route("/federation/cooperation/thread", methods=["GET", "POST"])
@guard(Action.FEDERATION_COOPERATE)
def cooperation_thread():
    """One thread: read it (audited), write to it, let the information officers in, close it."""
    source = request.args if request.method == "GET" else request.form
    thread_id = _int_from(source, "thread")
    if thread_id is None:
        raise NotFound()
    try:
        threads.summary_of(g.tenant.id, thread_id, g.membership)
    except ValidationError:
        raise NotFound() from None
    if request.method == "GET":
        return _thread_page(thread_id)
    step = THREAD_STEPS.get(request.form.get("action", ""))
    try:
        if step is None:
            raise ValidationError({"_schema": [str(CHOOSE_ACTION)]})
        step[0](thread_id)
    except ValidationError as error:
        return _thread_page(thread_id, 422, field_messages(error))
    flash(step[1], "info")
    return redirect(url_for("tenant.cooperation_thread", thread=thread_id))


# --- hand-overs ---------------------------------------------------------------------------------


def _case(case_id: int) -> FederatedCase:
    case = case_for_federation(case_id)
    if case is None:
        raise NotFound()
    return case


def _sending_page(case: FederatedCase, status: int = 200, errors: dict | None = None):
    return render_form("tenants/federation_handover_send.html", status, errors, case=case,
                       handover=handovers.sending_view(case.id), labels=HANDOVER_LABELS,
                       summary_max=handovers.SUMMARY_MAX)


@blueprint.route("/cases/<int:case_id>/handover", methods=["GET", "POST"])
@guard(Action.FEDERATION_MANAGE, load=_case)
def handover_send(case_id: int):
    """The sending coordinator chooses what travels to the cell of the new municipality."""
    case = g.resource
    if handovers.sending_view(case.id) is None:
        raise NotFound()
    if request.method == "GET":
        return _sending_page(case)
    try:
        handovers.send_summary(case, g.membership, summary=request.form.get("summary"),
                               identity=request.form.get("identity") == "yes",
                               follow_up=request.form.get("follow_up") == "yes")
    except ValidationError as error:
        return _sending_page(case, 422, field_messages(error))
    flash(_l("The hand-over was sent. The other cell sees the municipality and your cell's name until it accepts."), "info")
    return redirect(url_for("tenant.handover_send", case_id=case.id))


def _received_page(handover_id: int, status: int = 200, errors: dict | None = None):
    view = handovers.received_view(g.tenant.id, handover_id, g.membership)
    return render_form("tenants/federation_handover_received.html", status, errors, handover=view,
                       labels=HANDOVER_LABELS, reason_max=handovers.REASON_MAX)


@blueprint.route("/federation/handover", methods=["GET", "POST"])
@guard(Action.FEDERATION_MANAGE)
def handover_received():
    """A hand-over another cell sent: accept it (the summary is copied here) or decline it."""
    source = request.args if request.method == "GET" else request.form
    handover_id = _int_from(source, "handover")
    if handover_id is None:
        raise NotFound()
    if not handovers.is_received(g.tenant.id, handover_id):
        raise NotFound()
    if request.method == "GET":
        return _received_page(handover_id)
    action = request.form.get("action")
    try:
        if action == "accept":
            handovers.accept(g.tenant.id, handover_id, g.membership)
            message = _l("The hand-over is accepted: it is in your intake as a signal to weigh.")
        elif action == "decline":
            handovers.decline(g.tenant.id, handover_id, g.membership, request.form.get("reason"))
            message = _l("The hand-over is declined. Nothing was received.")
        else:
            raise ValidationError({"_schema": [str(CHOOSE_ACTION)]})
    except ValidationError as error:
        return _received_page(handover_id, 422, field_messages(error))
    flash(message, "info")
    return redirect(url_for("tenant.handover_received", handover=handover_id))
