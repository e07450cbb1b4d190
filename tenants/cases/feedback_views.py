"""The feedback form to the Local Task Force (*terugkoppelingsfiche*, seed 004), page by page.

The case team: the coordinator starts the form and writes its answers; every member taking
part approves its current revision (the members asked are told by a mail without content, and
on their dashboard); the coordinator releases it to the information officer once every approval
is in. Until then the form shows who approved and whose approval is awaited, and offers no
release: a decision of the cell is joint, nobody releases the form alone.

The information officer (the police member, who passes it to the LTF): the released forms,
each readable, printable (HTML with the print stylesheet) and as a PDF holding what the printed
form holds; marking one delivered, with its date and time; recording the LTF's answer, kept
with the case as police information. The coordinator reads the same pages; the acts are the
cleared information officer's alone (``Action.LTF_LIAISON``).

Every read of the form's content is audited (``case.read``: ``feedback``, ``feedback_print``,
``feedback_pdf``), also when the answer is a refusal. Isolation by cell is the loaders' (an id
of another cell answers 404 like an id that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import flash, g, make_response, redirect, request, url_for
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from livc.platform.forms import every_field, field_messages, form_sent, form_status, form_values
from livc.platform.policy import Action, decide
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.cases.feedback_pdf import PrintedForm, feedback_pdf, printed_answers
from livc.tenants.cases.loads import load_any_feedback, load_case, load_feedback_case
from livc.tenants.cases.ltf_card_views import feedback_card_refs, printed_card_refs
from livc.tenants.cases.models import FURTHER_LABELS, PHASE_LABELS, Case, LtfFeedback
from livc.tenants.cases.operations import (
    approval_state,
    approve_feedback,
    deliver_feedback,
    ltf_answer,
    participating_member_ids,
    record_ltf_answer,
    release_faults,
    release_feedback,
    released_feedback,
    start_feedback,
    update_feedback,
)
from livc.tenants.cases.schemas import (
    ApprovalSchema,
    DeliverySchema,
    FeedbackSchema,
    LtfAnswerSchema,
)
from livc.tenants.cases.views import (
    CONFIRM,
    NOTHING_CHANGED,
    _case_page,
    _manage,
    _page,
    _read,
    _submit,
)
from livc.tenants.web import blueprint


@dataclass(frozen=True)
class Question:
    """A question of the feedback form to the Local Task Force (seed 004)."""

    name: str
    label: Any
    choices: dict | None = None  # None: answered in writing
    help: Any = None


FEEDBACK_QUESTIONS = (
    Question("effectiveness", _l("How effective is the treatment (the follow-up so far)?")),
    Question("cooperation", _l("How willing is the person to cooperate?")),
    Question("distance", _l("Has the person taken distance from extremist ideas?")),
    Question("further_follow_up", _l("Is further follow-up by the cell useful?"), FURTHER_LABELS),
    Question("further_note", _l("Note on further follow-up"), help=_l("Optional.")),
    Question("other_elements", _l("Other elements: measures taken, recommendations")),
    Question("terrorist_phase", _l("Is the person in a phase where they could move to terrorist acts?"), PHASE_LABELS),
    Question("phase_explanation", _l("Explanation of the answer above"), help=_l("Optional, but welcome for the Local Task Force.")),
)
FAULT_LABELS = {
    **{question.name: question.label for question in FEEDBACK_QUESTIONS},
    "approvals": _l("Approvals"),
    "revision": _l("Revision"),
}


def _fault_list(faults: dict) -> list[tuple[Any, list[str]]]:
    return [(FAULT_LABELS.get(name), [str(m) for m in messages]) for name, messages in faults.items()]


def _to_form(case: Case, feedback: LtfFeedback):
    return redirect(url_for("tenant.case_feedback", case_id=case.id, feedback_id=feedback.id))


# --- the case team's pages ---------------------------------------------------------------------


@blueprint.post("/cases/<int:case_id>/feedback")
@guard(Action.CASE_MANAGE, load=load_case)
def case_feedback_start(case_id: int):
    """Start a feedback form: with the box ticked (answers come later) or with answers."""
    case = g.resource
    if request.form.get("confirm") != "yes" and not form_sent(FeedbackSchema()):
        return _case_page(case, 422, {"confirm": [str(CONFIRM)]}, failed="feedback")
    values, errors = form_values(FeedbackSchema())
    feedback = None
    if not errors:
        try:
            feedback = start_feedback(case, g.membership, {k: v for k, v in values.items() if v is not None} or None)
        except ValidationError as error:
            errors = field_messages(error)
    if errors:
        return _case_page(case, 422, errors, failed="feedback")
    flash(_l("The feedback form was started. Answer its questions, then every participant approves it."), "info")
    return redirect(url_for("tenant.case_feedback_edit", case_id=case.id, feedback_id=feedback.id))


def _feedback_context(case: Case, feedback: LtfFeedback) -> dict:
    """The form as its page shows it: release is offered only when nothing holds it, and what
    still holds it is said once every approval is in (before that, the approvals say it)."""
    state = approval_state(case, feedback)
    manage = _manage(case)
    faults = release_faults(case, feedback) if manage and not feedback.released else {}
    return {
        "case": case, "feedback": feedback, "state": state, "questions": FEEDBACK_QUESTIONS,
        "manage": manage,
        "may_approve": (not feedback.released and g.membership.id in participating_member_ids(case)
                        and all(member.id != g.membership.id for member in state.approved)),
        "releasable": manage and not feedback.released and not faults,
        "release_faults": _fault_list(faults) if state.complete else [],
        "answer": ltf_answer(g.person, feedback),
        "ltf_cards": feedback_card_refs(feedback),
    }


@blueprint.get("/cases/<int:case_id>/feedback/<int:feedback_id>")
@guard(Action.CASE_WORK, load=load_feedback_case)
def case_feedback(case_id: int, feedback_id: int):
    case, feedback = g.resource, g.feedback
    _read(case, "feedback")
    return _page("tenants/case_feedback.html", **_feedback_context(case, feedback))


@blueprint.route("/cases/<int:case_id>/feedback/<int:feedback_id>/edit", methods=["GET", "POST"])
@guard(Action.CASE_MANAGE, load=load_feedback_case)
def case_feedback_edit(case_id: int, feedback_id: int):
    """Every field of the form is sent: an answer left empty is cleared. Any change is a new
    revision (the first answers are revision 1), and every participant approves again."""
    case, feedback = g.resource, g.feedback
    context = {"case": case, "feedback": feedback, "questions": FEEDBACK_QUESTIONS}
    _read(case, "feedback")
    if request.method == "GET":
        return _page("tenants/case_feedback_edit.html", **context)
    changed, errors = _submit(
        FeedbackSchema(), lambda values: update_feedback(case, feedback, g.membership, every_field(values, FeedbackSchema()))
    )
    if errors:
        return _page("tenants/case_feedback_edit.html", form_status(errors), errors, **context)
    if changed:
        flash(_l("Saved as revision %(revision)s: every participant approves this revision again.",
                 revision=feedback.revision), "info")
    else:
        flash(NOTHING_CHANGED, "info")
    return _to_form(case, feedback)


@blueprint.post("/cases/<int:case_id>/feedback/<int:feedback_id>/approve")
@guard(Action.CASE_WORK, load=load_feedback_case)
def case_feedback_approve(case_id: int, feedback_id: int):
    case, feedback = g.resource, g.feedback

    def approve(values: dict) -> None:
        approve_feedback(case, feedback, g.membership, values["revision"])

    _done, errors = _submit(ApprovalSchema(), approve)
    if errors:
        # The page has no field to mark (the revision is the one shown): every message on top.
        errors = {"_schema": [message for messages in errors.values() for message in messages]}
        _read(case, "feedback")
        return _page("tenants/case_feedback.html", 422, errors, **_feedback_context(case, feedback))
    flash(_l("You approved revision %(revision)s of the feedback form.", revision=feedback.revision), "info")
    return _to_form(case, feedback)


@blueprint.route("/cases/<int:case_id>/feedback/<int:feedback_id>/release", methods=["GET", "POST"])
@guard(Action.CASE_MANAGE, load=load_feedback_case)
def case_feedback_release(case_id: int, feedback_id: int):
    """Confirm the release. While something holds the form (an approval awaited, a question
    unanswered, no cleared information officer), the page says what and offers no release."""
    case, feedback = g.resource, g.feedback
    if request.method == "GET" and feedback.released:
        return _to_form(case, feedback)
    _read(case, "feedback")

    def context() -> dict:
        faults = release_faults(case, feedback)
        unanswered = bool({question.name for question in FEEDBACK_QUESTIONS} & set(faults))
        return {**_feedback_context(case, feedback), "faults": _fault_list(faults), "unanswered": unanswered}

    if request.method == "GET":
        return _page("tenants/case_feedback_release.html", **context())
    if request.form.get("confirm") != "yes":
        return _page("tenants/case_feedback_release.html", 422, {"confirm": [str(CONFIRM)]}, **context())
    try:
        release_feedback(case, feedback, g.membership)
    except ValidationError as error:
        return _page("tenants/case_feedback_release.html", 422, field_messages(error), **context())
    flash(_l("The feedback form was released to the information officer, who passes it to the Local Task Force."), "info")
    return _to_form(case, feedback)


# --- the information officer's pages -----------------------------------------------------------


@blueprint.get("/ltf-feedback")
@guard(Action.POLICE_INFO_READ)
def ltf_feedback_inbox():
    return _page("tenants/case_ltf_inbox.html", rows=released_feedback())


def _released_form() -> tuple[Case, LtfFeedback]:
    """The guarded form and its case; a form in preparation is not the information officer's
    (404, as for an id that does not exist)."""
    feedback = g.resource
    if not feedback.released:
        raise NotFound()
    return load_case(feedback.case_id), feedback


def _ltf_page(case: Case, feedback: LtfFeedback, status: int = 200, errors: dict | None = None):
    _read(case, "feedback")
    return _page("tenants/case_ltf_feedback.html", status, errors, case=case, feedback=feedback,
                 state=approval_state(case, feedback), questions=FEEDBACK_QUESTIONS,
                 liaison=bool(decide(g.person, Action.LTF_LIAISON)), answer=ltf_answer(g.person, feedback),
                 now=utcnow(), ltf_cards=feedback_card_refs(feedback))


def _to_ltf_page(feedback: LtfFeedback):
    return redirect(url_for("tenant.ltf_feedback", feedback_id=feedback.id))


@blueprint.get("/ltf-feedback/<int:feedback_id>")
@guard(Action.POLICE_INFO_READ, load=load_any_feedback)
def ltf_feedback(feedback_id: int):
    return _ltf_page(*_released_form())


@blueprint.post("/ltf-feedback/<int:feedback_id>/delivered")
@guard(Action.LTF_LIAISON, load=load_any_feedback)
def ltf_feedback_delivered(feedback_id: int):
    """The information officer handed the form to the LTF: when (Belgian time), audited."""
    case, feedback = _released_form()
    _done, errors = _submit(DeliverySchema(), lambda values: deliver_feedback(case, feedback, g.membership, values))
    if errors:
        return _ltf_page(case, feedback, 422, errors)
    flash(_l("The feedback form is marked delivered to the Local Task Force."), "info")
    return _to_ltf_page(feedback)


@blueprint.post("/ltf-feedback/<int:feedback_id>/answer")
@guard(Action.LTF_LIAISON, load=load_any_feedback)
def ltf_feedback_answer(feedback_id: int):
    """The LTF's answer, recorded with the case as police information."""
    case, feedback = _released_form()
    _done, errors = _submit(LtfAnswerSchema(), lambda values: record_ltf_answer(case, feedback, g.membership, values))
    if errors:
        return _ltf_page(case, feedback, 422, errors)
    flash(_l("The answer of the Local Task Force is recorded with the case, for the coordinator and the information "
             "officer only."), "info")
    return _to_ltf_page(feedback)


def _printed(case: Case, feedback: LtfFeedback) -> PrintedForm:
    """What the printout and the PDF hold: the form, nothing more."""
    return PrintedForm(
        title=str(_l("Feedback form to the Local Task Force on %(code)s", code=case.code)),
        lines=[
            g.tenant.name,
            str(_l("Revision %(revision)s, released on %(date)s.", revision=feedback.revision,
                   date=format_date(feedback.released_at))),
            str(_l("Confidential: shared under article 458ter of the Criminal Code. Cases by code only.")),
        ],
        answers=printed_answers(FEEDBACK_QUESTIONS, feedback, str(_l("Not answered.")))
        + [(str(_l("LTF information cards the form refers to")), printed_card_refs(feedback) or str(_l("None.")))],
    )


@blueprint.get("/ltf-feedback/<int:feedback_id>/print")
@guard(Action.LTF_LIAISON, load=load_any_feedback)
def ltf_feedback_print(feedback_id: int):
    case, feedback = _released_form()
    _read(case, "feedback_print")
    return _page("tenants/case_ltf_print.html", feedback=feedback, form=_printed(case, feedback))


@blueprint.get("/ltf-feedback/<int:feedback_id>/pdf")
@guard(Action.LTF_LIAISON, load=load_any_feedback)
def ltf_feedback_pdf(feedback_id: int):
    case, feedback = _released_form()
    _read(case, "feedback_pdf")
    body = feedback_pdf(_printed(case, feedback), page_label=str(_l("Page %(page)s of %(pages)s", page="{page}",
                                                                     pages="{pages}")))
    response = make_response(body)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="ltf-feedback-{case.code}-{feedback.revision}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response
