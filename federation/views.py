"""Federation pages of a cell: its links with other cells, its match alerts, and a case's place
in the federation index. For the coordinator only (they speak for the cell).

Views only parse and answer; the rules and the audit live in :mod:`livc.federation.linking`,
:mod:`livc.federation.enrolment` and :mod:`livc.federation.alerts`. A case is read through
:mod:`livc.tenants.cases.reading` only. Ids of cells and alerts travel in the form (or the query
string of a confirmation page), never in the path. A refusal answers 422 with its messages,
and since a refused request is rolled back, it changes nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from livc.federation import alerts as federation_alerts
from livc.federation.enrolment import exclude_case, federation_of, include_case, not_enrolled_reason
from livc.federation.linking import NO_LINK, agree_link, end_link, request_link
from livc.federation.links import linked_cells, links_of
from livc.federation.match_keys import WEIGHTS
from livc.federation.models import (
    AlertState,
    EnrolmentStatus,
    FederationEnrolment,
    FederationLink,
    MatchAlert,
    SideStatus,
)
from livc.federation.panels import STRENGTH_EXPLAINED, waits_for_us
from livc.federation.suggestions import ReasonKind, suggestions_for
from livc.federation.threads import threads_of_alerts
from livc.platform import registry
from livc.platform.db import db
from livc.platform.forms import field_messages, render_form
from livc.platform.paging import page_args
from livc.platform.policy import Action
from livc.platform.tenancy import Tenant, TenantStatus
from livc.tenants.access import guard
from livc.tenants.cases.reading import FederatedCase, case_for_federation, federated
from livc.tenants.web import blueprint

CONFIRM = _l("Tick the box to confirm.")
CHOOSE_CELL = _l("Choose a cell.")
CHOOSE_ACTION = _l("Choose what to do.")
LINK_IS_ACTIVE = _l("This link is active: end it from its own page.")
REASON_MAX = 2000
REASON_TOO_LONG = _l("At most {max} characters.")

# What each key type means, as a coordinator reads it (see federation/README.md).
KEY_TYPE_LABELS = {
    "nn": _l("national number"),
    "name_dob": _l("names and full date of birth"),
    "first_dob": _l("first given name, family name and full date of birth"),
    "phon_dob": _l("how the names sound and full date of birth"),
    "swap_dob": _l("how the names sound, and the date of birth with day and month swapped"),
    "one_dob": _l("one of the names and full date of birth"),
    "pre_dob": _l("beginnings of the names and full date of birth"),
    "suf_dob": _l("ends of the names and full date of birth"),
    "mix_dob": _l("beginning of one name, end of the other, and full date of birth"),
    "phon_ym": _l("how the names sound, year and month of birth"),
    "phon_y": _l("how the names sound and year of birth"),
    "gdel_dob": _l("first given name but for one letter, and full date of birth"),
    "fdel_dob": _l("family name but for one letter, and full date of birth"),
    # Alerts made before gdel_dob and fdel_dob replaced it keep their label.
    "del_dob": _l("one name exactly, the other but for one letter, and full date of birth"),
    "fam_dob": _l("family name and full date of birth"),
    "giv_dob": _l("a given name and full date of birth"),
    "name_only": _l("names, one side without a date of birth"),
    "fw_dob": _l("first given name, one word of the family name and full date of birth"),
}
FIELD_LABELS = {
    "given": _l("given names"),
    "family": _l("family name"),
    "year": _l("year of birth"),
    "month": _l("month of birth"),
    "day": _l("day of birth"),
    "nn": _l("national number"),
    "nn_checked": _l("national number"),
}
SIDE_STATUS_LABELS = {
    SideStatus.NEW: _l("not looked at yet"),
    SideStatus.ACKNOWLEDGED: _l("seen"),
    SideStatus.CONFIRMED: _l("confirmed: the same person"),
    SideStatus.DISMISSED: _l("dismissed: two different people"),
}
# The cell that heard first acknowledges by judging the alert worth checking (it tells the other).
CHECKING = _l("judged worth checking")
NOT_TOLD = _l("not told yet: it learns of the alert once you judge it worth checking")
NEWER_LEFT = {
    "closed": _l("%(cell)s closed its case %(days)s day(s) after this alert."),
    "erased": _l("%(cell)s erased its case %(days)s day(s) after this alert."),
}
NEWER_LEFT_SAME_DAY = {
    "closed": _l("%(cell)s closed its case on the day of this alert."),
    "erased": _l("%(cell)s erased its case on the day of this alert."),
}
STATE_LABELS = {
    AlertState.OPEN: _l("open"),
    AlertState.CONFIRMED: _l("confirmed by both cells"),
    AlertState.DISMISSED: _l("dismissed: a different person"),
    AlertState.WITHDRAWN: _l("withdrawn (the link ended or a case left the federation)"),
}
ENROLMENT_LABELS = {
    EnrolmentStatus.PENDING: _l("being enrolled in the federation index"),
    EnrolmentStatus.ENROLLED: _l("in the federation index: compared with the cases of linked cells"),
    EnrolmentStatus.REMOVED: _l("not in the federation index"),
    EnrolmentStatus.HELD: _l("held: not yet compared with the cases of linked cells"),
}
def key_type_label(key_type: str) -> str:
    return str(KEY_TYPE_LABELS.get(key_type, key_type))


def agreeing_label(types) -> str:
    """The agreeing key types in plain language, the weightiest first."""
    ordered = sorted(types, key=lambda kind: (-WEIGHTS.get(kind, 0.0), list(KEY_TYPE_LABELS).index(kind)
                                              if kind in KEY_TYPE_LABELS else len(KEY_TYPE_LABELS)))
    return "; ".join(key_type_label(kind) for kind in ordered)


def _labels() -> dict:
    return {
        "side_status": SIDE_STATUS_LABELS,
        "state": STATE_LABELS,
        "agreeing": agreeing_label,
        "unknown": lambda names: ", ".join(dict.fromkeys(str(FIELD_LABELS.get(name, name)) for name in names)),
        "strength_explained": lambda alert: STRENGTH_EXPLAINED[alert.strength],
        "ours": _our_status,
        "theirs": _their_status,
        "newer_left": _newer_left,
    }


def _our_status(alert) -> str:
    if alert.status == SideStatus.ACKNOWLEDGED and alert.heard_first:
        return str(CHECKING)
    return str(SIDE_STATUS_LABELS[alert.status])


def _their_status(alert) -> str:
    """The other cell's step, as this cell may know it: the cell that heard first knows that the
    other was not told while it has not judged the alert worth checking."""
    if alert.heard_first and not alert.disclosed and alert.state == AlertState.OPEN:
        return str(NOT_TOLD)
    if alert.other_status == SideStatus.ACKNOWLEDGED and not alert.heard_first:
        return str(CHECKING)
    return str(SIDE_STATUS_LABELS[alert.other_status])


def _newer_left(alert) -> str | None:
    """For the cell that heard first: the newer case left soon after the alert (a probe looks so)."""
    if alert.newer_left not in NEWER_LEFT or not alert.heard_first:
        return None
    labels = NEWER_LEFT if alert.newer_left_days else NEWER_LEFT_SAME_DAY
    return str(labels[alert.newer_left]) % {"cell": alert.other_cell, "days": alert.newer_left_days}


# Why a cell is suggested as a neighbour (federation.suggestions). The registry has no municipal
# borders: "neighbouring" municipalities are those of the same or an adjacent judicial canton,
# and the words say so.
REASON_LABELS = {
    ReasonKind.POLICE_ZONE: _l("same police zone: %(area)s"),
    ReasonKind.SAME_CANTON: _l("municipalities in the same judicial canton: %(pairs)s"),
    ReasonKind.ADJACENT_CANTON: _l("municipalities in adjacent judicial cantons: %(pairs)s"),
    ReasonKind.ARRONDISSEMENT: _l("same judicial district: %(area)s"),
}
PAIRS_SHOWN = 3
MORE_PAIRS = _l("and %(count)s more")


def reason_label(reason) -> str:
    """A suggestion's reason in words, with municipality names in the page's language."""
    def name(code: str) -> str:
        found = registry.municipality(code)
        return found.name() if found else code

    shown = [f"{name(ours)} – {name(theirs)}" for ours, theirs in reason.pairs[:PAIRS_SHOWN]]
    if len(reason.pairs) > PAIRS_SHOWN:
        shown.append(str(MORE_PAIRS) % {"count": len(reason.pairs) - PAIRS_SHOWN})
    if reason.kind == ReasonKind.POLICE_ZONE:
        zone = registry.police_zone(reason.area)
        area = f"{zone.code} {zone.name}" if zone else reason.area
    elif reason.kind == ReasonKind.ARRONDISSEMENT:
        area = registry.arrondissement_name(reason.area)
    else:
        area = ""
    return str(REASON_LABELS[reason.kind]) % {"area": area, "pairs": ", ".join(shown)}


def _int_from(source, name: str) -> int | None:
    value = (source.get(name) or "").strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


def _cell_names(ids) -> dict[int, str]:
    ids = set(ids)
    if not ids:
        return {}
    return {cell_id: name for cell_id, name in db.session.execute(sa.select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids)))}


# --- links ------------------------------------------------------------------------------------


def _links_context() -> dict:
    tenant_id = g.tenant.id
    live = links_of(tenant_id)
    ended = db.session.scalars(
        sa.select(FederationLink)
        .where(
            FederationLink.ended_at.is_not(None),
            sa.or_(FederationLink.cell_a_id == tenant_id, FederationLink.cell_b_id == tenant_id),
        )
        .order_by(FederationLink.ended_at.desc(), FederationLink.id.desc())
    ).all()
    names = _cell_names(link.other(tenant_id) for link in [*live, *ended])
    active, theirs, ours = [], [], []
    for link in live:
        row = {"link": link, "cell_id": link.other(tenant_id), "name": names.get(link.other(tenant_id), "")}
        if link.active:
            active.append(row)
        elif _agreed(link, tenant_id):
            theirs.append(row)  # we agreed: waiting for the other cell
        else:
            ours.append(row)
    taken = {link.other(tenant_id) for link in live}
    candidates = db.session.execute(
        sa.select(Tenant.id, Tenant.name)
        .where(Tenant.status == TenantStatus.ACTIVE, Tenant.id != tenant_id)
        .order_by(Tenant.name)
    ).all()
    return {
        "active": active,
        "waiting_theirs": theirs,
        "waiting_ours": ours,
        "ended": [
            {"link": link, "name": names.get(link.other(tenant_id), ""), "by_us": link.ended_by_id == tenant_id}
            for link in ended
        ],
        "candidates": [(cell_id, name) for cell_id, name in candidates if cell_id not in taken],
        "suggestions": suggestions_for(tenant_id),
        "reason_label": reason_label,
    }


def _agreed(link: FederationLink, tenant_id: int) -> bool:
    return (link.a_agreed_at if tenant_id == link.cell_a_id else link.b_agreed_at) is not None


def _live_link_with(cell_id: int | None) -> FederationLink | None:
    if cell_id is None:
        return None
    return next((link for link in links_of(g.tenant.id) if link.other(g.tenant.id) == cell_id), None)


def _links_page(status: int = 200, errors: dict | None = None):
    return render_form("tenants/federation.html", status, errors, **_links_context())


def _link_step(step, done_message):
    """Run ``step(tenant_id, other_id, actor)`` on the cell named in the form."""
    cell_id = _int_from(request.form, "cell")
    if cell_id is None:
        return _links_page(422, {"cell": [str(CHOOSE_CELL)], "_schema": [str(CHOOSE_CELL)]})
    try:
        step(g.tenant.id, cell_id, g.membership)
    except ValidationError as error:
        return _links_page(422, field_messages(error))
    flash(done_message, "info")
    return redirect(url_for("tenant.federation"))


@blueprint.get("/federation")
@guard(Action.FEDERATION_MANAGE)
def federation():
    return _links_page()


@blueprint.post("/federation/request")
@guard(Action.FEDERATION_MANAGE)
def federation_request():
    return _link_step(request_link, _l("The link was requested. It starts once the other cell's coordinator agrees."))


@blueprint.post("/federation/agree")
@guard(Action.FEDERATION_MANAGE)
def federation_agree():
    return _link_step(agree_link, _l("The link is active: the open cases of both cells are compared."))


@blueprint.post("/federation/decline")
@guard(Action.FEDERATION_MANAGE)
def federation_decline():
    """Decline a request of another cell, or withdraw our own: only while it waits."""

    link = _live_link_with(_int_from(request.form, "cell"))
    if link is not None and link.active:
        return _links_page(422, {"_schema": [str(LINK_IS_ACTIVE)]})
    return _link_step(end_link, _l("The request was withdrawn. The cells are not linked."))


@blueprint.route("/federation/end", methods=["GET", "POST"])
@guard(Action.FEDERATION_MANAGE)
def federation_end():
    """End an active link, after confirmation: its open alerts are withdrawn."""

    source = request.args if request.method == "GET" else request.form
    link = _live_link_with(_int_from(source, "cell"))
    if link is None:
        if request.method == "GET":
            raise NotFound()
        return _links_page(422, {"_schema": [str(NO_LINK)]})
    tenant_id, other_id = g.tenant.id, link.other(g.tenant.id)
    context = {
        "link": link,
        "cell_id": other_id,
        "name": _cell_names([other_id]).get(other_id, ""),
        "open_alerts": db.session.scalar(
            sa.select(sa.func.count(MatchAlert.id)).where(MatchAlert.link_id == link.id, MatchAlert.state == AlertState.OPEN)
        ),
        "last_link": set(linked_cells(tenant_id)) <= {other_id},
    }
    if request.method == "GET":
        return render_form("tenants/federation_end.html", **context)
    if request.form.get("confirm") != "yes":
        return render_form("tenants/federation_end.html", 422, {"confirm": [str(CONFIRM)]}, **context)
    try:
        end_link(tenant_id, other_id, g.membership)
    except ValidationError as error:
        return render_form("tenants/federation_end.html", 422, field_messages(error), **context)
    flash(_l("The link with %(cell)s ended. Its open alerts were withdrawn.", cell=context["name"]), "info")
    return redirect(url_for("tenant.federation"))


# --- alerts -----------------------------------------------------------------------------------


def _alerts_context(failed_alert: int | None = None) -> dict:
    """The cell's alerts, a page at a time (newest first), under four headings: waiting for this
    cell (a step to take), waiting for the other cell (confirmed here), confirmed by both (the same
    person), closed. How many wait for the cell is counted over all its alerts, not the page."""
    page = federation_alerts.alerts_page(g.tenant.id, page_args(request.args))
    views = page.items
    # The confirmed alerts' threads, read together (the page links each to its thread).
    g.alert_threads = threads_of_alerts(g.tenant.id, [view.id for view in views if view.state == AlertState.CONFIRMED])
    return {
        "page": page,
        "waiting": [view for view in views if waits_for_us(view)],
        # Over all the cell's alerts, not this page's: a later page still says what waits.
        "waiting_total": federation_alerts.waiting_count(g.tenant.id),
        "theirs": [view for view in views if view.state == AlertState.OPEN and not waits_for_us(view)],
        "confirmed": [view for view in views if view.state == AlertState.CONFIRMED],
        "closed": [view for view in views if view.state in (AlertState.DISMISSED, AlertState.WITHDRAWN)],
        "labels": _labels(),
        "SideStatus": SideStatus,
        "failed_alert": failed_alert,
    }


def _alerts_page(status: int = 200, errors: dict | None = None, failed_alert: int | None = None):
    return render_form("tenants/federation_alerts.html", status, errors, **_alerts_context(failed_alert))


CONFIRM_SAME = _l("Tick the box to confirm that you checked your case and it is the same person.")


def _step_message(view) -> str:
    """What the step changed, said to the coordinator who took it."""
    if view.state == AlertState.CONFIRMED:
        return _l("Both cells confirmed it is the same person: the other cell's coordinator can now be contacted.")
    if view.status == SideStatus.CONFIRMED:
        return _l("You confirmed it is the same person. Contact opens once %(cell)s confirms too.", cell=view.other_cell)
    if view.heard_first:
        return _l("You judged the alert worth checking: %(cell)s is told and can check its own case.", cell=view.other_cell)
    return _l("The alert is marked as seen.")


@blueprint.route("/federation/alerts", methods=["GET", "POST"])
@guard(Action.FEDERATION_MANAGE)
def federation_alerts_page():
    """The cell's match alerts (the address the alert e-mail links to). Two different steps:
    ``acknowledge`` (the cell that heard first judges it worth checking, which tells the other
    cell; the other marks it seen) and ``confirm`` (the same person: a ticked box)."""
    if request.method == "GET":
        return _alerts_page()
    alert_id = _int_from(request.form, "alert")
    action = request.form.get("action", "")
    if alert_id is None or action not in ("acknowledge", "confirm"):
        return _alerts_page(422, {"_schema": [str(CHOOSE_ACTION)]})
    if action == "confirm" and request.form.get("confirm") != "yes":
        return _alerts_page(422, {"confirm": [str(CONFIRM_SAME)]}, failed_alert=alert_id)
    operation = federation_alerts.acknowledge if action == "acknowledge" else federation_alerts.confirm
    try:
        view = operation(g.tenant.id, alert_id, g.membership)
    except ValidationError as error:
        return _alerts_page(422, field_messages(error))
    flash(_step_message(view), "info")
    return redirect(url_for("tenant.federation_alerts_page"))


@blueprint.route("/federation/alerts/dismiss", methods=["GET", "POST"])
@guard(Action.FEDERATION_MANAGE)
def federation_dismiss():
    """Dismiss an alert as two different people, after confirmation."""
    source = request.args if request.method == "GET" else request.form
    alert_id = _int_from(source, "alert")
    view = federation_alerts.alert_for(g.tenant.id, alert_id) if alert_id is not None else None
    if view is None:
        if request.method == "GET":
            raise NotFound()
        return _alerts_page(422, {"_schema": [str(federation_alerts.NO_ALERT)]})
    context = {"alert": view, "labels": _labels()}
    if view.state != AlertState.OPEN:
        return render_form(
            "tenants/federation_dismiss.html", 422 if request.method == "POST" else 200,
            {"_schema": [str(federation_alerts.ALERT_CLOSED)]}, **context,
        )
    if request.method == "GET":
        return render_form("tenants/federation_dismiss.html", **context)
    if request.form.get("confirm") != "yes":
        return render_form("tenants/federation_dismiss.html", 422, {"confirm": [str(CONFIRM)]}, **context)
    try:
        federation_alerts.dismiss(g.tenant.id, view.id, g.membership)
    except ValidationError as error:
        return render_form("tenants/federation_dismiss.html", 422, field_messages(error), **context)
    flash(_l("The alert is dismissed: a different person. This pair is not alerted again unless an identity changes."), "info")
    return redirect(url_for("tenant.federation_alerts_page"))


# --- a case in the federation -----------------------------------------------------------------


def _case(case_id: int) -> FederatedCase:
    case = case_for_federation(case_id)
    if case is None:
        raise NotFound()
    return case


def _case_context(case: FederatedCase) -> dict:
    row = federation_of(case)
    enrolment = None
    if row is not None:
        enrolment = db.session.scalar(sa.select(FederationEnrolment).where(FederationEnrolment.ref == row.ref))
    status = enrolment.status if enrolment is not None else EnrolmentStatus.REMOVED
    return {
        "case": case,
        "row": row,
        "excluded": row is not None and row.excluded_at is not None,
        "status_label": ENROLMENT_LABELS[status],
        "pending": status == EnrolmentStatus.PENDING,
        "linked": bool(linked_cells(g.tenant.id)),
        "closed": not case.followed,
        "no_identity": not case.has_identity,
        # Why it is not compared, when the case itself does not say (its identity, a held enrolment).
        "not_enrolled": not_enrolled_reason(case) if linked_cells(g.tenant.id) else None,
        "reason_max": REASON_MAX,
    }


@blueprint.app_template_global()
def federation_waiting(case) -> bool:
    """Whether the case's enrolment in the federation index waits for the key custodian (it is
    pending): the case page (which passes its case) says so next to its link to the case's
    federation page."""
    row = federation_of(federated(case))
    if row is None:
        return False
    status = db.session.scalar(sa.select(FederationEnrolment.status).where(FederationEnrolment.ref == row.ref))
    return status == EnrolmentStatus.PENDING


@blueprint.route("/cases/<int:case_id>/federation", methods=["GET", "POST"])
@guard(Action.FEDERATION_MANAGE, load=_case)
def federation_case(case_id: int):
    """Whether the case is compared with linked cells; keep it out (with a reason) or let it in."""
    case = g.resource
    template = "tenants/federation_case.html"
    if request.method == "GET":
        return render_form(template, **_case_context(case))
    action = request.form.get("action")
    reason = (request.form.get("reason") or "").strip()
    try:
        if action == "exclude":
            if len(reason) > REASON_MAX:
                raise ValidationError({"reason": [REASON_TOO_LONG.format(max=REASON_MAX)]})
            exclude_case(case, g.membership, reason)
            message = _l("The case is kept out of the federation. Its open alerts were withdrawn.")
        elif action == "include":
            include_case(case, g.membership)
            message = _l("The case may be compared with linked cells again.")
        else:
            raise ValidationError({"_schema": [str(CHOOSE_ACTION)]})
    except ValidationError as error:
        return render_form(template, 422, field_messages(error), **_case_context(case))
    flash(message, "info")
    return redirect(url_for("tenant.federation_case", case_id=case.id))
