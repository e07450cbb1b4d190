"""The policy follow-up's pages: the list by year and status, an entry with its history, putting
an entry to the strategic table and reporting on its status.

Views only parse and answer; the rules live in :mod:`livc.tenants.strategy.operations`. A refused
form answers 422 with the form again, its messages field by field and what was typed (a refused
request is rolled back: nothing is saved half-way); a filter with a wrong value answers 422 with
that field's message, and the list unfiltered. The pages are for the strategic table
(``Action.STRATEGY_VIEW``; its resource is the table, :mod:`livc.tenants.strategy.loads`).
"""

from __future__ import annotations

from itertools import groupby

from flask import flash, g, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from livc.platform.db import db
from livc.platform.forms import submit_form
from livc.platform.policy import Action, decide
from livc.tenants.access import guard, refuse
from livc.tenants.decisions.models import DECISION_WAY_LABELS, DecisionWay
from livc.tenants.decisions.operations import current_sitting
from livc.tenants.meetings.models import Meeting
from livc.tenants.meetings.operations import meeting_title
from livc.tenants.strategy.loads import load_entry, load_strategic_table
from livc.tenants.strategy.models import (
    ENTRY_KIND_LABELS,
    ENTRY_STATE_LABELS,
    ENTRY_STATUS_LABELS,
    EntryState,
    PolicyEntry,
)
from livc.tenants.strategy.operations import (
    entry_years,
    is_strategic_meeting,
    may_report,
    meeting_choices,
    organisation_choices,
    overdue,
    owner_member_choices,
    owner_name,
    policy_table,
    proposal_of,
    propose_entry,
    recorded_entries,
    report_status,
    state_of,
    today,
    waiting_entries,
)
from livc.tenants.strategy.schemas import (
    EntrySchema,
    FilterSchema,
    StatusReportSchema,
    read_filters,
)
from livc.tenants.web import blueprint, no_store_page

LABELS = {"kind": ENTRY_KIND_LABELS, "status": ENTRY_STATUS_LABELS, "state": ENTRY_STATE_LABELS}
PROPOSED = _l("The entry is proposed: it is recorded once another member at the strategic table confirms it.")
RECORDED = _l("The entry is recorded: the meeting in session decided it.")
REPORTED = _l("The status report is recorded.")
NOTHING_SENT = _l("Fill in the form first: nothing was sent.")
FILTER_NOT_APPLIED = _l("The list below is not filtered: correct the filter first.")


def _row(entry: PolicyEntry) -> dict:
    return {"entry": entry, "owner": owner_name(entry), "overdue": overdue(entry)}


@blueprint.get("/strategy")
@guard(Action.STRATEGY_VIEW, load=load_strategic_table)
def strategy():
    """The recorded entries by year (newest first) and status, the overdue ones said so, and
    those waiting for a second member."""
    filters, errors = read_filters(request.args)
    if errors:
        errors["_schema"] = [str(FILTER_NOT_APPLIED)]
    entries = recorded_entries(**filters)
    years = [(year, [_row(entry) for entry in group]) for year, group in groupby(entries, key=lambda entry: entry.year)]
    return no_store_page(
        "tenants/strategy_list.html", 422 if errors else 200, errors,
        years=years, waiting=[(entry, proposal_of(entry)) for entry in waiting_entries()],
        overdue_count=sum(1 for _year, rows in years for row in rows if row["overdue"]),
        chosen={name: request.args.get(name, "") for name in FilterSchema().fields},
        kinds=list(ENTRY_KIND_LABELS.items()), statuses=list(ENTRY_STATUS_LABELS.items()),
        year_choices=[(year, str(year)) for year in entry_years()],
        filtered=bool(filters), may_propose=bool(decide(g.person, Action.STRATEGY_WORK, g.resource)),
        labels=LABELS, owner_name=owner_name,
    )


def _meeting(meeting_id: int | None) -> Meeting | None:
    return db.session.get(Meeting, meeting_id) if meeting_id else None


def _entry_ways() -> list[tuple[str, str]]:
    """Propose it; or, for a member present at the strategic table's meeting in session, decide it there."""
    ways = [(DecisionWay.PROPOSE.value, DECISION_WAY_LABELS[DecisionWay.PROPOSE])]
    sitting = current_sitting()
    if sitting is not None and g.membership.id in sitting.present_ids and is_strategic_meeting(
            _meeting(sitting.meeting_id), policy_table()):
        ways.append((DecisionWay.MEETING.value, DECISION_WAY_LABELS[DecisionWay.MEETING]))
    return ways


def _new_page(status: int = 200, errors: dict | None = None):
    return no_store_page(
        "tenants/strategy_new.html", status, errors,
        kinds=list(ENTRY_KIND_LABELS.items()), members=owner_member_choices(), organisations=organisation_choices(),
        meetings=meeting_choices(), ways=_entry_ways(), today=today(),
    )


@blueprint.route("/strategy/new", methods=["GET", "POST"])
@guard(Action.STRATEGY_WORK, load=load_strategic_table)
def strategy_new():
    """Put an entry to the strategic table: a joint decision, never one member's."""
    if request.method == "GET":
        return _new_page()
    proposal, errors = submit_form(EntrySchema(), lambda values: propose_entry(g.membership, values), require_sent=True)
    if errors:
        db.session.rollback()  # nothing proposed half-way is shown as saved
        return _new_page(422, errors)
    flash(RECORDED if proposal.in_effect else PROPOSED, "info")
    return redirect(url_for("tenant.strategy_entry", entry_id=proposal.subject_id))


def _entry_page(status: int = 200, errors: dict | None = None):
    entry: PolicyEntry = g.entry
    state = state_of(entry)
    meeting = _meeting(entry.meeting_id)
    return no_store_page(
        "tenants/strategy_entry.html", status, errors,
        entry=entry, state=state, states=EntryState, proposal=proposal_of(entry), owner=owner_name(entry),
        meeting_title=meeting_title(meeting) if meeting is not None else None, overdue=overdue(entry),
        may_report=state == EntryState.RECORDED and may_report(g.membership, entry),
        statuses=list(ENTRY_STATUS_LABELS.items()), labels=LABELS,
    )


@blueprint.get("/strategy/<int:entry_id>")
@guard(Action.STRATEGY_VIEW, load=load_entry)
def strategy_entry(entry_id: int):
    """An entry and the dated history of its status."""
    return _entry_page()


@blueprint.post("/strategy/<int:entry_id>/status")
@guard(Action.STRATEGY_WORK, load=load_entry)
def strategy_entry_status(entry_id: int):
    """The owner (or the coordinator) reports where the entry stands."""
    schema = StatusReportSchema()
    if not any(name in request.form for name in schema.fields):
        return _entry_page(422, {"_schema": [str(NOTHING_SENT)]})
    if not may_report(g.membership, g.entry):
        refuse(Action.STRATEGY_WORK, "not the entry's owner")
    _report, errors = submit_form(schema, lambda values: report_status(g.entry, g.membership, values))
    if errors:
        db.session.rollback()
        return _entry_page(422, errors)
    flash(REPORTED, "info")
    return redirect(url_for("tenant.strategy_entry", entry_id=g.entry.id, _anchor="history"))
