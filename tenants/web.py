"""Tenant pages under ``/<slug>/``: resolving the tenant is the first thing any of them does.

The blueprint every domain's views put their routes on, and what their pages and JSON answers
share: signal and case content is never kept by a browser or a proxy.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from flask import Blueprint, Response, g, jsonify, make_response
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from werkzeug.exceptions import Forbidden, NotFound

from livc.platform.db import enter_tenant
from livc.platform.forms import render_form
from livc.platform.i18n import translated
from livc.platform.policy import Person
from livc.platform.roles import ORGANISATION_KIND_LABELS, ROLE_LABELS
from livc.platform.tenancy import SLUG_PATTERN, Tenant, TenantKind, TenantStatus, find_tenant
from livc.tenants.access import audit_refused_request, load_person
from livc.tenants.members.operations import standard_undertaking

blueprint = Blueprint("tenant", __name__, url_prefix="/<tenant_slug>")

KIND_LABELS = {
    TenantKind.MUNICIPALITY: _l("Municipal cell"),
    TenantKind.INTERMUNICIPAL: _l("Intermunicipal cell"),
    TenantKind.POLICE_ZONE: _l("Zonal cell of a police zone"),
}


def resolve_tenant(slug: str) -> Tenant:
    """The tenant at ``slug``, or a 404 (unknown, gone) or 403 (suspended) refusal."""
    tenant = find_tenant(slug) if SLUG_PATTERN.match(slug) else None
    if tenant is None:
        raise NotFound(_l("There is no cell at this address."))
    if tenant.status == TenantStatus.OFFBOARDED:
        raise NotFound(_l("This cell is no longer on the platform."))
    if tenant.status == TenantStatus.SUSPENDED:
        raise Forbidden(_l("Access to this cell is suspended. Contact your cell coordinator."))
    return tenant


@blueprint.url_value_preprocessor
def _enter_tenant(_endpoint, values) -> None:
    g.tenant = resolve_tenant(values.pop("tenant_slug"))
    g.tenant_token = enter_tenant(g.tenant.id)


@blueprint.url_defaults
def _tenant_slug(_endpoint, values) -> None:
    if "tenant_slug" not in values and getattr(g, "tenant", None) is not None:
        values["tenant_slug"] = g.tenant.slug


@blueprint.before_request
def _signed_in_member() -> None:
    load_person()


@blueprint.after_request
def _audit_refused_request(response):
    return audit_refused_request(response)


@blueprint.context_processor
def _labels() -> dict:
    return {
        "standard_undertaking": standard_undertaking,
        "role_label": lambda role: ROLE_LABELS[role],
        "organisation_kind_label": lambda kind: ORGANISATION_KIND_LABELS[kind],
    }


# --- what pages and answers with signal or case content share ------------------------------------


def no_store(response: Response) -> Response:
    """Signal and case content is never kept by a browser or a proxy."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def no_store_page(template: str, status: int = 200, errors: dict | None = None, **context: Any) -> Response:
    """A form page (with what was typed, and its errors field by field) that is never kept."""
    return no_store(make_response(render_form(template, status, errors, **context)))


def no_store_answer(status: int = 200, location: str | None = None, **body: Any) -> Response:
    """A JSON answer that is never kept; ``location`` names what a POST created."""
    response = no_store(jsonify(body))
    response.status_code = status
    if location:
        response.headers["Location"] = location
    return response


def label_of(labels: dict, value: Any) -> str | None:
    """A choice's label in the reader's language, for an answer (``None`` stays ``None``)."""
    return translated(labels[value]) if value is not None else None


def enum_value(enum_type: type[Enum], **kwargs: Any) -> fields.Enum:
    """An answer's field holding a choice, answered by its value (``allow_none=True`` when it may be unset)."""
    return fields.Enum(enum_type, by_value=True, **kwargs)


class AnswerFor(Schema):
    """An answer that depends on who reads it: what ``person`` may see decides what is filled in.

    Without a person (as the OpenAPI document builds it) the schema only describes its fields."""

    def __init__(self, person: Person | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.person = person
