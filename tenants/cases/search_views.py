"""Is this person known to the cell? The search page and its API.

A name searched for travels in a POST body, never in an address (addresses end up in browser
histories and access logs); answers are case codes and signal references only, with their
status, and are never kept by a browser or a proxy. The lookup and its audit entry are
:func:`livc.tenants.cases.operations.search_people`'s.
"""

from __future__ import annotations

from flask import make_response, render_template, request
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields

from livc.platform.api import InvalidFields, load_body
from livc.platform.forms import form_values
from livc.platform.keys import normalise_for_index
from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.tenants.access import guard
from livc.tenants.cases.models import CASE_STATUS_LABELS, RECORD_LABELS, CaseStatus
from livc.tenants.cases.operations import SearchHit, search_people
from livc.tenants.cases.schemas import SearchSchema
from livc.tenants.signals.models import SIGNAL_STATUS_LABELS, SignalStatus
from livc.tenants.signals.views import LABELS as SIGNAL_LABELS
from livc.tenants.signals.views import case_url
from livc.tenants.web import blueprint, no_store, no_store_answer, no_store_page

SEARCH_EMPTY = _l("Give a name, a national number, or both.")
LABELS = {**SIGNAL_LABELS, "case_status": CASE_STATUS_LABELS, "record": RECORD_LABELS}


class SearchHitOut(Schema):
    kind = fields.String()
    id = fields.Integer(attribute="record_id")
    reference = fields.String()
    status = fields.String()
    status_label = fields.Function(lambda hit: _hit_status_label(hit))


class SearchAnswer(Schema):
    hits = fields.List(fields.Nested(SearchHitOut))


def _hit_status_label(hit: SearchHit) -> str:
    if hit.kind == "case":
        return str(CASE_STATUS_LABELS[CaseStatus(hit.status)])
    return str(SIGNAL_STATUS_LABELS[SignalStatus(hit.status)])


def _search_faults(values: dict) -> dict[str, list[str]]:
    if any(normalise_for_index(values.get(name) or "") for name in ("name", "national_number")):
        return {}
    return {"name": [str(SEARCH_EMPTY)]}


@blueprint.route("/search", methods=["GET", "POST"])
@guard(Action.PERSON_SEARCH)
def person_search():
    """A POST, so that the name never lands in an address, a browser history or a log."""
    if request.method == "GET":
        return no_store_page("tenants/signal_search.html", hits=None, labels=LABELS, case_url=case_url)
    values, errors = form_values(SearchSchema())
    errors = errors or _search_faults(values)
    if errors:
        return no_store_page("tenants/signal_search.html", 422, errors, hits=None, labels=LABELS, case_url=case_url)
    hits = search_people(values.get("name"), values.get("national_number"))
    # What was searched for is not shown again: the answer carries references only.
    return no_store(make_response(render_template(
        "tenants/signal_search.html", typed={}, errors={}, hits=hits, labels=LABELS, case_url=case_url,
    )))


@blueprint.post("/api/search")
@documented(body=SearchSchema, answer=SearchAnswer, summary="Is this person known to the cell? Case codes and signal references.", tags=("cases",))
@guard(Action.PERSON_SEARCH)
def api_search():
    """``{"name": ..., "national_number": ...}`` (either or both): the case codes and signal
    references the person is known under, with their status; audited with the number of hits."""
    values = load_body(SearchSchema())
    faults = _search_faults(values)
    if faults:
        raise InvalidFields(faults)
    hits = search_people(values.get("name"), values.get("national_number"))
    return no_store_answer(hits=SearchHitOut(many=True).dump(hits))
