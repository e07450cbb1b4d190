"""The record of processing's pages (issue 18, part 7): ``/<cell>/record-of-processing`` for
the coordinator and the mayor (``Action.RECORD_OF_PROCESSING_VIEW``), its print version, its
PDF and its JSON, all made from the cell's configuration when asked
(:mod:`livc.tenants.register.content`), in the reader's language."""

from __future__ import annotations

from dataclasses import asdict

from flask import g, make_response, render_template
from marshmallow import Schema, fields

from livc.platform import audit
from livc.platform.openapi import documented
from livc.platform.policy import Action, decide
from livc.tenants.access import guard
from livc.tenants.register.content import record_of_processing
from livc.tenants.register.pdf import DPIA_HEADING, RECORD_HEADING, record_pdf
from livc.tenants.web import blueprint, no_store, no_store_answer, no_store_page


class EntryOut(Schema):
    label = fields.String()
    text = fields.String()


class SectionOut(Schema):
    key = fields.String()
    title = fields.String()
    entries = fields.List(fields.Nested(EntryOut))


class RecordOut(Schema):
    """The record of processing (:class:`livc.tenants.register.content.Record`)."""

    cell = fields.String()
    title = fields.String()
    intro = fields.String()
    made_on = fields.Date()
    record = fields.List(fields.Nested(SectionOut), metadata={"description": "Article 30 GDPR."})
    dpia = fields.List(fields.Nested(SectionOut), metadata={"description": "Article 35 GDPR: a starting point."})
    identities_kept = fields.Boolean()
    house_rules_version = fields.Integer(allow_none=True)


class RecordAnswer(Schema):
    record_of_processing = fields.Nested(RecordOut)


def _context() -> dict:
    return {"record": record_of_processing(), "record_heading": RECORD_HEADING, "dpia_heading": DPIA_HEADING,
            # The mayor reads the record but not the retention page (the coordinator's).
            "may_see_retention": decide(g.person, Action.CASE_SETTINGS_MANAGE)}


@blueprint.get("/record-of-processing")
@guard(Action.RECORD_OF_PROCESSING_VIEW)
def record_of_processing_page():
    return no_store_page("tenants/record_of_processing.html", **_context())


@blueprint.get("/record-of-processing/print")
@guard(Action.RECORD_OF_PROCESSING_VIEW)
def record_of_processing_print():
    """Plain, black on white, without the site's navigation: for the browser's print."""
    return no_store(make_response(render_template("tenants/record_of_processing_print.html", **_context())))


@blueprint.get("/record-of-processing.pdf")
@guard(Action.RECORD_OF_PROCESSING_VIEW)
def record_of_processing_pdf():
    record = record_of_processing()
    response = no_store(make_response(record_pdf(record)))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="record-of-processing-{g.tenant.slug}-{record.made_on.isoformat()}.pdf"'
    )
    audit.record("register.printed", details={"house_rules_version": record.house_rules_version})
    return response


@blueprint.get("/api/record-of-processing")
@documented(answer=RecordAnswer, summary="The cell's record of processing and DPIA starting point.", tags=("register",))
@guard(Action.RECORD_OF_PROCESSING_VIEW)
def api_record_of_processing():
    record = record_of_processing()
    body = asdict(record)
    body["made_on"] = record.made_on.isoformat()
    return no_store_answer(record_of_processing=body)
