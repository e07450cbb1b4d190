"""The JSON API of the policy follow-up: the entries, putting one to the strategic table, reporting
on its status.

Views only parse and answer: the rules live in :mod:`livc.tenants.strategy.operations`, the bodies
are checked by the schemas the pages share (:mod:`livc.tenants.strategy.schemas`). A refused rule
or a wrong filter answers 422 field by field, and a refused request is rolled back. Putting an
entry to the table is a joint decision: answered 202 while it waits for a second member (nothing
is recorded yet), 201 once the meeting in session decided it. Another cell's id answers 404.
"""

from __future__ import annotations

from flask import g, request, url_for
from marshmallow import Schema, fields

from livc.platform.api import InvalidFields, load_body
from livc.platform.forms import apply_or_422
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.tenants.access import guard, refuse
from livc.tenants.decisions.operations import proposal_summary
from livc.tenants.decisions.schemas import ProposalSummaryOut
from livc.tenants.strategy.loads import load_entry, load_strategic_table
from livc.tenants.strategy.models import (
    ENTRY_KIND_LABELS,
    ENTRY_STATE_LABELS,
    ENTRY_STATUS_LABELS,
    EntryKind,
    EntryStatus,
    PolicyEntry,
)
from livc.tenants.strategy.operations import (
    find_entry,
    may_report,
    overdue,
    owner_name,
    propose_entry,
    recorded_entries,
    report_status,
    state_of,
    waiting_entries,
)
from livc.tenants.strategy.schemas import (
    EntrySchema,
    FilterSchema,
    StatusReportSchema,
    read_filters,
)
from livc.tenants.web import blueprint, enum_value, label_of, no_store_answer


class ReportOut(Schema):
    id = fields.Integer()
    status = enum_value(EntryStatus)
    status_label = fields.Function(lambda report: label_of(ENTRY_STATUS_LABELS, report.status))
    previous_status = enum_value(EntryStatus)
    note = fields.String(allow_none=True)
    reported_at = fields.DateTime()
    reported_by_id = fields.Integer(allow_none=True)
    reported_by = fields.Function(lambda report: report.reported_by.account.label if report.reported_by else None)


class EntryOut(Schema):
    """An entry as the strategic table reads it: policy only, no case and no person."""

    id = fields.Integer()
    reference = fields.String()
    kind = enum_value(EntryKind)
    kind_label = fields.Function(lambda entry: label_of(ENTRY_KIND_LABELS, entry.kind))
    title = fields.String()
    text = fields.String(allow_none=True)
    owner = fields.Method("_owner")
    decided_on = fields.Date()
    due_on = fields.Date(allow_none=True)
    year = fields.Integer()
    state = fields.Function(lambda entry: state_of(entry).value)
    state_label = fields.Function(lambda entry: label_of(ENTRY_STATE_LABELS, state_of(entry)))
    status = enum_value(EntryStatus)
    status_label = fields.Function(lambda entry: label_of(ENTRY_STATUS_LABELS, entry.status))
    overdue = fields.Function(overdue)
    meeting_id = fields.Integer(allow_none=True)
    decision_id = fields.Integer(attribute="proposal_id", allow_none=True)
    proposed_by_id = fields.Integer(allow_none=True)
    proposed_at = fields.DateTime(allow_none=True)
    recorded_at = fields.DateTime(allow_none=True)

    def _owner(self, entry: PolicyEntry) -> dict:
        kind = "member" if entry.owner_membership_id else "organisation" if entry.owner_organisation_id else None
        return {"type": kind, "membership_id": entry.owner_membership_id,
                "organisation_id": entry.owner_organisation_id, "name": owner_name(entry)}


class EntryWithHistoryOut(EntryOut):
    history = fields.Function(lambda entry: ReportOut(many=True).dump(entry.reports))


class EntriesAnswer(Schema):
    entries = fields.List(fields.Nested(EntryOut))
    waiting = fields.List(fields.Nested(EntryOut))


class EntryProposedAnswer(Schema):
    """201 once the meeting in session decided it; 202 while it waits for a second member."""

    entry = fields.Nested(EntryOut)
    decision = fields.Nested(ProposalSummaryOut)


class EntryAnswer(Schema):
    entry = fields.Nested(EntryWithHistoryOut)


class ReportAnswer(EntryAnswer):
    report = fields.Nested(ReportOut)


def _location(entry: PolicyEntry) -> str:
    return url_for("tenant.api_strategy_entry", entry_id=entry.id)


@blueprint.get("/api/strategy")
@documented(answer=EntriesAnswer, query=FilterSchema, summary="The policy entries, and those waiting for a second member.", tags=("strategy",))
@guard(Action.STRATEGY_VIEW, load=load_strategic_table)
def api_strategy():
    """The recorded entries (filters ``kind``, ``status``, ``year``), newest year first, and
    those waiting for a second member."""
    filters, errors = read_filters(request.args)
    if errors:
        raise InvalidFields(errors)
    return no_store_answer(
        entries=EntryOut(many=True).dump(recorded_entries(**filters)),
        waiting=EntryOut(many=True).dump(waiting_entries()),
    )


@blueprint.post("/api/strategy")
@documented(body=EntrySchema, answer=EntryProposedAnswer, status=201, also=(202,), summary="Put an entry to the strategic table.", tags=("strategy",))
@guard(Action.STRATEGY_WORK, load=load_strategic_table)
def api_strategy_propose():
    """Put an entry to the strategic table (``way``: ``propose``, the default, or ``meeting``)."""
    proposal = apply_or_422(propose_entry, g.membership, load_body(EntrySchema()))
    entry = find_entry(proposal.subject_id)
    return no_store_answer(201 if proposal.in_effect else 202, location=_location(entry),
                           entry=EntryOut().dump(entry), decision=proposal_summary(proposal))


@blueprint.get("/api/strategy/<int:entry_id>")
@documented(answer=EntryAnswer, summary="A policy entry and its history.", tags=("strategy",))
@guard(Action.STRATEGY_VIEW, load=load_entry)
def api_strategy_entry(entry_id: int):
    return no_store_answer(entry=EntryWithHistoryOut().dump(g.entry))


@blueprint.post("/api/strategy/<int:entry_id>/status")
@documented(body=StatusReportSchema, answer=ReportAnswer, status=201, summary="Report where an entry stands.", tags=("strategy",))
@guard(Action.STRATEGY_WORK, load=load_entry)
def api_strategy_entry_status(entry_id: int):
    """Report where the entry stands (``status``, ``note``): its owner, or the coordinator."""
    values = load_body(StatusReportSchema())
    if not may_report(g.membership, g.entry):
        refuse(Action.STRATEGY_WORK, "not the entry's owner")
    report = apply_or_422(report_status, g.entry, g.membership, values)
    return no_store_answer(201, report=ReportOut().dump(report), entry=EntryWithHistoryOut().dump(g.entry))
