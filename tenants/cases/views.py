"""Case pages: the list of cases, the case page, and the forms that change a case.

The case page shows, by code only, what the reader may see of a case: a summary first (its
stage in words and what moves it on, its flag, its next review, its team), then sections
reached from a list of links: the case team, the follow-up plan, progress notes, reviews, the
feedback forms to the Local Task Force, the cell's decisions, its closure and its timeline, told
oldest first (:mod:`livc.tenants.cases.timeline`). Each form opens on demand; a stage reached
since the reader's last visit is announced at the top. A closed case offers no change but what
the law still asks: reviews after closure, their notes, rectification and erasure. The identity
of the person concerned is never on it: it is shown on a page of its own, answered to a
deliberate POST that the audit trail records.

Views only parse and answer; the rules live in :mod:`livc.tenants.cases.operations`. Each form posts to
its own address; a refusal answers 422 with the page of the form again, its messages field
by field and what was typed, its form open (a refused request is rolled back: nothing is saved
half-way), and a success goes back to the section of the case page with a message. A POST without any
of its form's fields is refused the same way and changes nothing.

Every view of case content is accounted for with :func:`livc.tenants.cases.operations.record_read`, also
when the answer is a refusal that shows the case page again (it is recorded after the
rollback). Case pages are never cached by the browser.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import (
    flash,
    g,
    get_template_attribute,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError

from livc.platform import registry
from livc.platform.forms import (
    every_field,
    field_messages,
    form_status,
    form_values,
    render_form,
    submit_form,
)
from livc.platform.i18n import day, when
from livc.platform.paging import BadPage, PageArgs, page_args
from livc.platform.policy import Action, decide
from livc.platform.roles import ROLE_LABELS, Role
from livc.platform.timeutil import utcnow
from livc.platform.web import after_refusal
from livc.tenants.access import guard, refuse
from livc.tenants.cases.erasure import erase_closed_case_now
from livc.tenants.cases.listing import CaseRow, case_rows_page
from livc.tenants.cases.loads import (
    load_case,
    load_measure_case,
    load_note_case,
    load_review_case,
    load_team_member_case,
)
from livc.tenants.cases.models import (
    CHOSEN_MEASURE_CATEGORIES,
    CLOSURE_LABELS,
    FURTHER_LABELS,
    MEASURE_CATEGORY_LABELS,
    MEASURE_STATUS_LABELS,
    OUTCOMES_BY_KIND,
    PHASE_LABELS,
    REVIEW_KIND_LABELS,
    REVIEW_OUTCOME_LABELS,
    STAGE_LABELS,
    VISIBILITY_LABELS,
    Case,
    CaseStage,
    ClosureReason,
    Measure,
    Review,
    ReviewKind,
)
from livc.tenants.cases.operations import (
    add_measure,
    add_months,
    add_note,
    add_team_member,
    approval_state,
    case_decisions,
    change_case,
    change_identity,
    change_measure,
    change_note_registration,
    change_residence,
    check_municipality_filter,
    close_case,
    feedback_of,
    hold_review,
    may_change_measure,
    next_open_review,
    note_bringers,
    notes_for,
    observations,
    participating_member_ids,
    record_read,
    remove_team_member,
    reveal_identity,
    reviews_of,
    stage_of,
    target_group_visible,
    team_candidates,
)
from livc.tenants.cases.schemas import (
    CaseChangeSchema,
    CaseResidenceSchema,
    ClosureSchema,
    MeasureChangeSchema,
    MeasureSchema,
    NoteRegistrationSchema,
    NoteSchema,
    ReviewSchema,
    TeamMemberSchema,
)
from livc.tenants.cases.timeline import Event, last_stage_change, previous_visit, timeline
from livc.tenants.decisions.models import (
    DECISION_KIND_LABELS,
    DECISION_STATUS_LABELS,
    DECISION_WAY_LABELS,
    TAKEN_IN_LABELS,
    DecisionKind,
    DecisionWay,
    Proposal,
)
from livc.tenants.decisions.operations import ways_for
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import organisation_list
from livc.tenants.panels import case_events, case_panels
from livc.tenants.signals.models import (
    FLAG_LABELS,
    FOLLOW_UP_LABELS,
    IDENTITY_FIELDS,
    OBSERVED_FACT_LABELS,
    TARGET_GROUP_LABELS,
)
from livc.tenants.signals.operations import case_settings
from livc.tenants.signals.registration import REGISTRATION_LABELS, Registration
from livc.tenants.signals.schemas import IdentitySchema
from livc.tenants.signals.territory import several_municipalities, territory
from livc.tenants.web import blueprint

CONFIRM = _l("Tick the box to confirm.")
NOTHING_CHANGED = _l("Nothing changed.")
IDENTITY_NOTHING = _l("Type a new value in at least one field, or tick a field to clear it.")
IDENTITY_BOTH = _l("Either type a new value or clear the field, not both.")
REVEAL_CONFIRM = _l("Use the button on the case page to show the identity.")

IDENTITY_LABELS = {
    "given_names": _l("Given names"),
    "family_name": _l("Family name"),
    "date_of_birth": _l("Date of birth"),
    "national_number": _l("National number"),
    "address": _l("Address"),
}




# --- helpers ----------------------------------------------------------------------------------


def _today() -> date:
    return utcnow().date()


def _page(template: str, status: int = 200, errors: dict | None = None, **context):
    """A page with case content: rendered with what was typed, and never kept by the browser."""
    body, status = render_form(template, status, errors, **context)
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _read(case: Case, part: str = "case") -> None:
    """Account for this view of case content, also when the answer is a refusal (rolled back)."""
    after_refusal(lambda: record_read(case, part))


def _submit(schema: Schema, operation) -> tuple[Any, dict]:
    return submit_form(schema, operation, require_sent=True)


def _flash_decision(proposal: Proposal, done) -> None:
    """What the member learns after putting a decision to the cell: done, or waiting for a second member."""
    if proposal.in_effect:
        flash(done, "info")
    else:
        flash(_l("Your proposal is recorded: it takes effect once another member confirms it."), "info")


def _ways(case: Case, kind: DecisionKind) -> list[tuple[str, Any]]:
    return [(way.value, DECISION_WAY_LABELS[way]) for way in ways_for(g.membership, kind, case)]


def _to_case(case: Case, anchor: str | None = None):
    return redirect(url_for("tenant.case", case_id=case.id, _anchor=anchor))


def _manage(case: Case) -> bool:
    return bool(decide(g.person, Action.CASE_MANAGE, case))


def _overdue(measure: Measure, today: date) -> bool:
    return measure.open and measure.due_on is not None and measure.due_on < today


def _member_label(membership: Membership | None) -> str:
    if membership is None:
        return str(_l("a former member"))
    return f"{membership.account.label} · {membership.organisation.name}"


def _candidate_label(membership: Membership) -> str:
    label = f"{membership.account.label}, {membership.organisation.name}, {ROLE_LABELS[membership.role]}"
    if membership.role == Role.GUEST_EXPERT and membership.expires_on:
        label += " · " + str(_l("guest expert until %(date)s", date=day(membership.expires_on)))
    return label




# --- the timeline -----------------------------------------------------------------------------

def _event_text(event: Event) -> str:
    """One line of the timeline: what happened, by kind; never what a note or measure says."""
    record, kind = event.record, event.kind
    if kind == "opened":
        return _l("Case opened: %(kind)s", kind=FOLLOW_UP_LABELS[record.follow_up_kind])
    if kind == "signal":
        return _l("Signal %(reference)s received", reference=record.reference)
    if kind == "weighing":
        return _l("Signal weighed together: flag %(flag)s", flag=FLAG_LABELS[record.flag])
    if kind == "team_added":
        return _l("%(member)s joined the case team", member=_member_label(record.membership))
    if kind == "team_removed":
        return _l("%(member)s left the case team", member=_member_label(record.membership))
    if kind == "measure":
        return _l("Measure added to the plan, for %(organisation)s", organisation=_organisation(record))
    if kind == "measure_status":
        return _l("Measure for %(organisation)s: status now %(status)s", organisation=_organisation(record),
                  status=MEASURE_STATUS_LABELS[event.detail["status"]])
    if kind == "measure_cancelled":
        return _l("Measure for %(organisation)s cancelled with the closure", organisation=_organisation(record))
    if kind == "note":
        return _l("Progress note by %(member)s. Who reads it: %(readers)s", member=_member_label(record.author),
                  readers=VISIBILITY_LABELS[record.visibility])
    if kind == "review_due":
        return _l("The review of the follow-up planned for this day is due")
    if kind == "review":
        return _l("%(kind)s held: %(outcome)s", kind=REVIEW_KIND_LABELS[record.kind],
                  outcome=REVIEW_OUTCOME_LABELS[record.outcome] if record.outcome else "—")
    if kind == "feedback_started":
        return _l("Feedback form to the Local Task Force started")
    if kind == "feedback_released":
        return _l("Feedback form released to the information officer (revision %(revision)s)", revision=record.revision)
    if kind == "feedback_delivered":
        return _l("Feedback form delivered to the Local Task Force by the information officer (revision %(revision)s)",
                  revision=record.revision)
    if kind == "closed":
        reason = event.detail.get("reason")
        text = _l("Case closed: %(reason)s", reason=CLOSURE_LABELS[ClosureReason(reason)] if reason else "—")
        cancelled = event.detail.get("measures_cancelled") if event.record is None else None
        if cancelled:
            return _l("%(closed)s; open measures cancelled with it: %(count)s", closed=text, count=cancelled)
        return text
    return kind


def _organisation(measure: Measure) -> str:
    return measure.organisation.name if measure.organisation else "—"


def _entry(at: datetime, kind: str, text: str, timed: bool = True, stage: CaseStage | None = None) -> dict:
    """A line of the timeline as the page shows it: its date and time of day in Belgian time,
    in the reader's language; an event known by its day only, that day."""
    return {
        "at": at, "kind": kind, "text": text,
        "when": when(at) if timed else day(at.date()),
        "iso": at.strftime("%Y-%m-%dT%H:%M:%SZ") if timed else at.date().isoformat(),
        "stage": STAGE_LABELS[stage] if stage else None, "stage_key": stage.value if stage else None,
    }


def _timeline(events: list[Event], case: Case) -> list[dict]:
    """The case's chronicle, oldest first, with what the parts above the cell's work contribute
    (:mod:`livc.tenants.panels`: the federation's confirmations), each to the minute."""
    entries = [_entry(event.at, event.kind, str(_event_text(event)), event.timed, event.stage) for event in events]
    entries += [_entry(entry.at, entry.kind, entry.text) for entry in case_events(g.person, case.id)]
    entries.sort(key=lambda entry: entry["at"])  # stable: events at one time keep their order
    return entries


def _stage_news(case: Case, events: list[Event]) -> dict | None:
    """The stage the case entered since the reader last saw its page, and what moved it there
    (a joint decision, a review, a first measure, a review falling due), or None."""
    change = last_stage_change(events)
    if change is None or change.kind == "opened":
        return None
    seen = previous_visit(case)
    if seen is None or change.at <= seen:
        return None
    entry = _entry(change.at, change.kind, str(_event_text(change)), change.timed, change.stage)
    return {"stage": entry["stage"], "when": entry["when"], "text": entry["text"]}


# What moves a case on from each stage, in one sentence (the summary at the top of its page).
def _stage_explained(case: Case, stage: CaseStage, next_review: Review | None) -> str:
    due = day(next_review.due_on) if next_review else None
    if stage == CaseStage.BUILDING:
        return _l("The case team drafts the follow-up plan; the case moves to follow-up when the coordinator "
                  "adds the first measure agreed with the partners.")
    if stage == CaseStage.FOLLOW_UP and due:
        return _l("The partners carry out the measures of the plan; on %(date)s the review is due and the case "
                  "moves to evaluation.", date=due)
    if stage == CaseStage.FOLLOW_UP:
        return _l("The partners carry out the measures of the plan; no review is planned, as the last review "
                  "proposed to close the case: the cell decides on the closure together.")
    if stage == CaseStage.EVALUATION:
        return _l("The review due on %(date)s is to be held: once it is recorded, the case goes back to follow-up "
                  "with a next review, or the cell decides together to close it.", date=due or "—")
    erase = day(case.erase_after)
    if stage == CaseStage.AFTERCARE:
        return _l("The case is closed; the cell reviews it again on %(date)s. A review after closure may take "
                  "the case up again; after the last one it stays closed until it is erased from %(erase)s.",
                  date=due or "—", erase=erase)
    return _l("The case is closed and no review is planned; it is erased from %(erase)s, or earlier when the "
              "coordinator erases it.", erase=erase)


# --- the list and the case page --------------------------------------------------------------


def _case_list_rows(listed: list[CaseRow]) -> list[dict]:
    """The list's rows as it shows them. What many rows share is worked out once for the page,
    not once a row: the labels (a lazy text looks its translation up again each time it is
    shown), the days, the municipalities, the flags (drawn by the case pages' own macro) and the
    links (a case's page is the list's address and its id, the rule ``/cases/<int:case_id>``: one
    ``url_for``)."""
    stage_labels = {stage: str(label) for stage, label in STAGE_LABELS.items()}
    flag_labels = {flag: str(label) for flag, label in FLAG_LABELS.items()}
    days = {value: day(value) for value in {row.next_review_on for row in listed}}
    places = {nis: registry.name_of(nis) for nis in {row.case.residence_nis for row in listed}}
    draw_flag = get_template_attribute("tenants/case_macros.html", "flag")
    flags = {(level, closed): draw_flag(level, flag_labels, closed=closed)
             for level, closed in {(row.case.flag, row.case.closed) for row in listed}}
    cases_url = url_for("tenant.cases")
    return [{
        "case": row.case,
        "link": f"{cases_url}/{row.case.id}",
        "stage": stage_labels[row.stage],
        "flag": flags[row.case.flag, row.case.closed],
        "next_review": row.next_review_on,
        "next_review_day": days[row.next_review_on],
        "after_closure": row.after_closure,
        "open_measures": row.open_measures,
        "overdue": row.overdue,
        "municipality": places[row.case.residence_nis],
    } for row in listed]


@blueprint.get("/cases")
@guard(Action.CELL_ENTER)
def cases():
    """The cases the member reads, the open ones first, a page at a time (``?per_page=``,
    ``?after=``: :mod:`livc.platform.paging`); a closed case shows its next review after closure,
    and its last flag in grey. In a cell of several municipalities each case shows where the
    person lives, and ``?municipality=<NIS code>`` lists one municipality's (another code, or a
    page link that is no longer valid, is answered with its message, and the first page)."""
    today = _today()
    errors: dict[str, list[str]] = {}
    try:
        municipality = check_municipality_filter(request.args.get("municipality"))
    except ValidationError as error:
        municipality, errors = None, field_messages(error)
    try:
        args = page_args(request.args)
        page = case_rows_page(g.person, args, today, municipality=municipality)
    except BadPage as refused:
        errors.setdefault(refused.field_name, []).append(refused.description)
        page = case_rows_page(g.person, PageArgs(), today, municipality=municipality)
    rows = _case_list_rows(page.items)
    body = render_template("tenants/case_list.html", rows=rows, page=page,
                           follow_up_labels={kind: str(label) for kind, label in FOLLOW_UP_LABELS.items()},
                           today=today, errors=errors,
                           several=several_municipalities(), municipalities=territory(), municipality=municipality)
    response = make_response(body, 400 if errors else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _case_page(case: Case, status: int = 200, errors: dict | None = None, failed: str | None = None):
    """The case page; ``failed`` names the form whose refusal it shows again, open, with its
    errors and what was typed (the other forms stay closed and empty)."""
    _read(case, "case")
    today = _today()
    manage = _manage(case)
    participants = participating_member_ids(case)
    feedback = [(form, approval_state(case, form)) for form in feedback_of(case)]
    next_review = next_open_review(case)
    stage = stage_of(case, today)
    events = timeline(g.person, case, today)
    return _page(
        "tenants/case_page.html", status, errors,
        case=case,
        failed=failed,
        manage=manage,
        today=today,
        stage=STAGE_LABELS[stage],
        stage_key=stage.value,
        stage_explained=_stage_explained(case, stage, next_review),
        stage_news=_stage_news(case, events),
        show_target_group=target_group_visible(g.person, case),
        residence=registry.name_of(case.residence_nis),
        # A move within the territory: only where there is another municipality to move to.
        municipalities=territory() if manage and not case.closed and several_municipalities() else [],
        team=case.team,
        candidates=[(m.id, _candidate_label(m)) for m in team_candidates(case)] if manage and not case.closed else [],
        team_ways=_ways(case, DecisionKind.TEAM_CHANGE) if manage and not case.closed else [],
        decisions=case_decisions(case),
        may_open_decisions=bool(decide(g.person, Action.DECISIONS_TAKE)),
        measures=[(m, _overdue(m, today), m.open and not case.closed and may_change_measure(g.membership, m)) for m in case.measures],
        organisations=[(o.id, o.name) for o in organisation_list()],
        notes=notes_for(g.person, case),
        # Notes go on after closure while reviews after closure are planned (aftercare).
        may_note=bool(decide(g.person, Action.CASE_WORK, case)) and stage != CaseStage.CLOSED,
        observed=observations(g.person, case),
        fact_labels=OBSERVED_FACT_LABELS,
        reviews=reviews_of(case),
        next_review=next_review,
        outcomes=[(o.value, REVIEW_OUTCOME_LABELS[o]) for o in OUTCOMES_BY_KIND[next_review.kind]] if next_review else [],
        flags=list(FLAG_LABELS.items()),
        review_interval=case_settings().review_interval_days,
        feedback=feedback,
        draft_open=any(not form.released for form, _state in feedback),
        participant=g.membership.id in participants,
        timeline=_timeline(events, case),
        contributed=case_panels(g.person, case.id),
        labels=_labels(),
        visibility_options=list(VISIBILITY_LABELS.items()),
        registration_options=list(REGISTRATION_LABELS.items()),
        bringer_options=_bringer_options(case),
        status_options=list(MEASURE_STATUS_LABELS.items()),
        category_options=_category_options(),
        role_labels=ROLE_LABELS,
    )


def _category_options() -> list[tuple[str, Any]]:
    return [(category.value, MEASURE_CATEGORY_LABELS[category]) for category in CHOSEN_MEASURE_CATEGORIES]


def _labels() -> dict:
    return {
        "flag": FLAG_LABELS, "target_group": TARGET_GROUP_LABELS, "follow_up": FOLLOW_UP_LABELS,
        "measure_status": MEASURE_STATUS_LABELS, "measure_category": MEASURE_CATEGORY_LABELS, "visibility": VISIBILITY_LABELS, "review_kind": REVIEW_KIND_LABELS,
        "outcome": REVIEW_OUTCOME_LABELS, "closure": CLOSURE_LABELS, "further": FURTHER_LABELS, "phase": PHASE_LABELS,
        "stage": STAGE_LABELS, "decision_kind": DECISION_KIND_LABELS, "decision_status": DECISION_STATUS_LABELS,
        "taken_in": TAKEN_IN_LABELS,
    }


@blueprint.get("/cases/<int:case_id>")
@guard(Action.CASE_READ, load=load_case)
def case(case_id: int):
    return _case_page(g.resource)


# --- the identity of the person concerned ----------------------------------------------------


@blueprint.post("/cases/<int:case_id>/identity/reveal")
@guard(Action.CASE_READ, load=load_case)
def case_identity_reveal(case_id: int):
    case = g.resource
    if request.form.get("reveal") != "yes":
        return _case_page(case, 422, {"_schema": [str(REVEAL_CONFIRM)]}, failed="reveal")
    try:
        identity = reveal_identity(case, g.membership)
    except ValidationError as error:  # the cell does not keep identities: the page says why
        return _case_page(case, 422, field_messages(error), failed="reveal")
    return _page("tenants/case_identity.html", case=case, identity=identity, fields=IDENTITY_LABELS)


@blueprint.route("/cases/<int:case_id>/identity", methods=["GET", "POST"])
@guard(Action.CASE_MANAGE, load=load_case)
def case_identity_edit(case_id: int):
    """New values for the identity: the form starts empty (the identity is not shown here);
    a field left empty keeps its value, a ticked "clear" empties it."""
    case = g.resource
    filled = {name: case.identity is not None and getattr(case.identity, f"{name}_ciphertext") is not None
              for name in IDENTITY_FIELDS}
    context = {"case": case, "fields": IDENTITY_LABELS, "filled": filled}
    if request.method == "GET":
        return _page("tenants/case_identity_edit.html", **context)
    values, errors = form_values(IdentitySchema())
    cleared = [name for name in IDENTITY_FIELDS if request.form.get(f"clear_{name}") == "yes"]
    for name in cleared:
        if name in values:
            errors.setdefault(name, []).append(str(IDENTITY_BOTH))
    if not errors and not values and not cleared:
        errors = {"_schema": [str(IDENTITY_NOTHING)]}
    changed = []
    if not errors:
        try:
            changed = change_identity(case, g.membership, {**values, **{name: None for name in cleared}})
        except ValidationError as error:
            errors = field_messages(error)
    if errors:
        return _page("tenants/case_identity_edit.html", 422, errors, **context)
    if changed:
        flash(_l("The identity was changed: %(fields)s.", fields=", ".join(str(IDENTITY_LABELS[n]) for n in changed)), "info")
    else:
        flash(NOTHING_CHANGED, "info")
    return _to_case(case, "identity")


# --- the case itself -------------------------------------------------------------------------


@blueprint.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@guard(Action.CASE_MANAGE, load=load_case)
def case_edit(case_id: int):
    case = g.resource
    context = {
        "case": case,
        "target_groups": list(TARGET_GROUP_LABELS.items()),
        "follow_up_kinds": list(FOLLOW_UP_LABELS.items()),
    }
    if request.method == "GET":
        _read(case, "case")
        return _page("tenants/case_edit.html", **context)

    def change(values: dict) -> list[str]:
        changes = every_field(values, CaseChangeSchema())
        changes["approached_for_other_problem"] = bool(values.get("approached_for_other_problem"))
        return change_case(case, g.membership, changes)

    changed, errors = _submit(CaseChangeSchema(), change)
    if errors:
        _read(case, "case")
        return _page("tenants/case_edit.html", form_status(errors), errors, **context)
    flash(_l("The case was changed.") if changed else NOTHING_CHANGED, "info")
    return _to_case(case)


@blueprint.post("/cases/<int:case_id>/residence")
@guard(Action.CASE_MANAGE, load=load_case)
def case_residence(case_id: int):
    """The person moved within the territory: the case follows them in another of the cell's municipalities."""
    case = g.resource
    changed, errors = _submit(CaseResidenceSchema(),
                              lambda values: change_residence(case, g.membership, values["residence_nis"]))
    if errors:
        return _case_page(case, 422, errors, failed="residence")
    flash(_l("The municipality of residence is now %(municipality)s.", municipality=registry.name_of(case.residence_nis))
          if changed else NOTHING_CHANGED, "info")
    return _to_case(case)


# --- the case team ---------------------------------------------------------------------------


@blueprint.post("/cases/<int:case_id>/team")
@guard(Action.CASE_MANAGE, load=load_case)
def case_team_add(case_id: int):
    case = g.resource
    proposal, errors = _submit(TeamMemberSchema(), lambda values: add_team_member(case, g.membership, values))
    if errors:
        return _case_page(case, 422, errors, failed="team")
    _flash_decision(proposal, _l("The team change is made."))
    return _to_case(case, "team")


@blueprint.route("/cases/<int:case_id>/team/<int:team_member_id>/remove", methods=["GET", "POST"])
@guard(Action.CASE_MANAGE, load=load_team_member_case)
def case_team_remove(case_id: int, team_member_id: int):
    case, member = g.resource, g.team_member
    context = {"case": case, "member": member, "label": _member_label(member.membership),
               "ways": _ways(case, DecisionKind.TEAM_CHANGE)}
    if request.method == "GET":
        return _page("tenants/case_team_remove.html", **context)
    if request.form.get("confirm") != "yes":
        return _page("tenants/case_team_remove.html", 422, {"confirm": [str(CONFIRM)]}, **context)
    try:
        proposal = remove_team_member(case, member, g.membership, request.form.get("way") or DecisionWay.PROPOSE)
    except ValidationError as error:
        return _page("tenants/case_team_remove.html", 422, field_messages(error), **context)
    _flash_decision(proposal, _l("%(member)s left the case team and no longer reads the case.", member=context["label"]))
    return _to_case(case, "team")


# --- the follow-up plan ----------------------------------------------------------------------


@blueprint.post("/cases/<int:case_id>/measures")
@guard(Action.CASE_MANAGE, load=load_case)
def case_measure_add(case_id: int):
    case = g.resource
    _measure, errors = _submit(MeasureSchema(), lambda values: add_measure(case, g.membership, values))
    if errors:
        return _case_page(case, 422, errors, failed="measure")
    flash(_l("The measure was added to the follow-up plan."), "info")
    return _to_case(case, "plan")


@blueprint.route("/cases/<int:case_id>/measures/<int:measure_id>", methods=["GET", "POST"])
@guard(Action.CASE_WORK, load=load_measure_case)
def case_measure(case_id: int, measure_id: int):
    """The case team reads a measure; the coordinator changes every field, a member of the
    responsible organisation its status. Fields not sent stay as they are."""
    case, measure = g.resource, g.measure
    may_change = may_change_measure(g.membership, measure)
    sent_fields = set(request.form) & set(MeasureChangeSchema().fields)
    if request.method == "POST" and sent_fields and not may_change:
        refuse(Action.CASE_WORK, "not the responsible organisation")
    coordinator = g.person.role == Role.COORDINATOR
    context = {
        "case": case, "measure": measure, "coordinator": coordinator, "may_change": may_change,
        "organisations": [(o.id, o.name) for o in organisation_list()],
        "status_options": list(MEASURE_STATUS_LABELS.items()),
        "category_options": _category_options(), "category_labels": MEASURE_CATEGORY_LABELS,
        "overdue": _overdue(measure, _today()),
    }
    _read(case, "measure")
    if request.method == "GET":
        return _page("tenants/case_measure.html", **context)

    def change(values: dict) -> list[str]:
        sent = {name: values.get(name) for name in MeasureChangeSchema().fields if name in request.form}
        if not coordinator:
            if sent.get("status") is None:
                raise ValidationError({"status": [str(_l("This field is required."))]})
        return change_measure(case, measure, g.membership, sent)

    changed, errors = _submit(MeasureChangeSchema(), change)
    if errors:
        return _page("tenants/case_measure.html", form_status(errors), errors, **context)
    if changed:
        flash(_l("The measure was changed; its status is now: %(status)s.",
                 status=MEASURE_STATUS_LABELS[measure.status]), "info")
    else:
        flash(NOTHING_CHANGED, "info")
    return _to_case(case, "plan")


# --- progress notes --------------------------------------------------------------------------


def _bringer_options(case: Case) -> list[tuple[Any, str]]:
    """Who brings a note: yourself, or another member of the case team (then oral only)."""
    others = [member for member in note_bringers(case) if member.id != g.membership.id]
    return [(g.membership.id, str(_l("Myself")))] + [(member.id, _candidate_label(member)) for member in others]


@blueprint.post("/cases/<int:case_id>/notes")
@guard(Action.CASE_WORK, load=load_case)
def case_note_add(case_id: int):
    case = g.resource
    note, errors = _submit(NoteSchema(), lambda values: add_note(case, g.membership, values))
    if errors:
        return _case_page(case, 422, errors, failed="note")
    if note.registration == Registration.ORAL_ONLY:
        flash(_l("Recorded as shared orally: nothing of what was said is kept."), "info")
    else:
        flash(_l("The note was added. Who reads it: %(readers)s", readers=VISIBILITY_LABELS[note.visibility]), "info")
    return _to_case(case, "notes")


@blueprint.post("/cases/<int:case_id>/notes/<int:note_id>/registration")
@guard(Action.CASE_WORK, load=load_note_case)
def case_note_registration(case_id: int, note_id: int):
    """The partner who brought a note changes their choice: registered, or shared orally only."""
    case, note = g.resource, g.note
    _note, errors = _submit(NoteRegistrationSchema(), lambda values: change_note_registration(case, note, g.membership, values))
    if errors:
        return _case_page(case, 422, errors, failed=f"registration-{note.id}")
    if note.registration == Registration.ORAL_ONLY:
        flash(_l("The note is now kept as shared orally: its text was erased."), "info")
    else:
        flash(_l("The note is now registered."), "info")
    return _to_case(case, "notes")


# --- reviews ---------------------------------------------------------------------------------


@blueprint.route("/cases/<int:case_id>/reviews/<int:review_id>", methods=["GET", "POST"])
@guard(Action.CASE_MANAGE, load=load_review_case)
def case_review(case_id: int, review_id: int):
    case, review = g.resource, g.review
    context = {
        "case": case, "review": review,
        "outcomes": [(outcome.value, REVIEW_OUTCOME_LABELS[outcome]) for outcome in OUTCOMES_BY_KIND[review.kind]],
        "flags": list(FLAG_LABELS.items()),
        "labels": _labels(),
        "interval": case_settings().review_interval_days,
        "follow_up": review.kind == ReviewKind.FOLLOW_UP,
    }
    _read(case, "review")
    if request.method == "GET":
        return _page("tenants/case_review.html", **context)
    _held, errors = _submit(ReviewSchema(), lambda values: hold_review(case, review, g.membership, values))
    if errors:
        return _page("tenants/case_review.html", 422, errors, **context)
    if case.closed:
        flash(_l("The review was recorded."), "info")
    elif case.next_review_on:
        flash(_l("The review was recorded; the next one is on %(date)s.", date=day(case.next_review_on)), "info")
    else:
        flash(_l("The review was recorded; no next review is planned."), "info")
    return _to_case(case, "reviews")


# --- closure ---------------------------------------------------------------------------------


def _closure_outlook(case: Case) -> dict:
    """What closing today plans: reviews after closure, and when the case is due for erasure."""
    settings, today = case_settings(), _today()
    reviews = [add_months(today, months) for months in settings.months_after_closure] if settings.reviews_after_closure else []
    erase = max([add_months(today, settings.retention_months_closed), *reviews])
    return {"reviews_after": reviews, "erase_after": erase}


@blueprint.route("/cases/<int:case_id>/close", methods=["GET", "POST"])
@guard(Action.CASE_MANAGE, load=load_case)
def case_close(case_id: int):
    case = g.resource
    context = {
        "case": case, "reasons": list(CLOSURE_LABELS.items()), "open_measures": case.open_measures,
        "labels": _labels(), **_closure_outlook(case), "ways": _ways(case, DecisionKind.CLOSURE),
    }
    _read(case, "closure")
    if request.method == "GET":
        return _page("tenants/case_close.html", **context)
    proposal, errors = _submit(ClosureSchema(), lambda values: close_case(case, g.membership, values))
    if errors:
        return _page("tenants/case_close.html", 422, errors, **context)
    if proposal.in_effect:
        flash(_l("The case is closed. It is due for erasure from %(date)s.", date=day(case.erase_after)), "info")
    else:
        _flash_decision(proposal, None)
    return _to_case(case, "closure")


@blueprint.route("/cases/<int:case_id>/erase", methods=["GET", "POST"])
@guard(Action.CASE_MANAGE, load=load_case)
def case_erase(case_id: int):
    """Erase a closed case now rather than when its retention period ends."""
    case = g.resource
    if request.method == "GET" or request.form.get("confirm") != "yes":
        status, errors = (200, {}) if request.method == "GET" else (422, {"confirm": [str(CONFIRM)]})
        return _page("tenants/case_erase.html", status, errors, case=case)
    code = case.code
    try:
        erase_closed_case_now(case, g.membership)
    except ValidationError as error:
        return _page("tenants/case_erase.html", 422, field_messages(error), case=case)
    flash(_l("Case %(code)s is erased: nothing of the person can be read any more; only an anonymous count "
             "remains.", code=code), "info")
    return redirect(url_for("tenant.cases"))
