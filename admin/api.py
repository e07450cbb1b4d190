"""The console's JSON API under ``/admin/api/``: the operator's actions, scriptable.

A client signs in through the console's pages (password and TOTP) and keeps the session
cookie; it reads the CSRF token from ``GET /admin/api/session`` and sends it as
``X-CSRFToken`` with every change. Bad input answers 422 with every field's messages.
"""

from __future__ import annotations

from flask import g, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema, ValidationError, fields

from livc.admin.access import actor, operator_guard
from livc.admin.health.checks import platform_health
from livc.admin.onboarding.operations import (
    OnboardingSchema,
    TenantFilters,
    TenantListQuery,
    invitations_sent,
    onboard,
    progress,
    resend_invitation,
    tenant_page,
)
from livc.admin.onboarding.views import load_tenant
from livc.admin.operators import operations as operators
from livc.admin.police_zones.operations import PoliceZoneSchema, remove_zone, set_zone
from livc.admin.police_zones.views import load_zone
from livc.admin.web import blueprint
from livc.platform.api import InvalidFields, load_body
from livc.platform.failed_jobs import retry_failed
from livc.platform.forms import field_messages
from livc.platform.openapi import documented
from livc.platform.paging import page_answer, page_args
from livc.platform.police_zones import find_zone, zones
from livc.platform.policy import OperatorAction


class StepSchema(Schema):
    key = fields.String()
    done = fields.Boolean()
    at = fields.DateTime(allow_none=True)


class MunicipalityOutSchema(Schema):
    nis_code = fields.String()
    name = fields.String()


class TenantOutSchema(Schema):
    """What the operator may know of a tenant: directory data and onboarding steps."""

    slug = fields.String()
    name = fields.String()
    kind = fields.Function(lambda tenant: tenant.kind.value)
    status = fields.Function(lambda tenant: tenant.status.value)
    languages = fields.List(fields.String())
    municipalities = fields.List(fields.Nested(MunicipalityOutSchema))
    created_at = fields.DateTime()
    progress = fields.Function(lambda tenant: StepSchema(many=True).dump(progress(tenant)))


class TenantListOutSchema(Schema):
    """A cell on the console's list: directory data, its onboarding steps (booleans and dates
    only) and the platform's own facts."""

    slug = fields.String(attribute="tenant.slug")
    name = fields.String(attribute="tenant.name")
    kind = fields.Function(lambda row: row["tenant"].kind.value)
    status = fields.Function(lambda row: row["tenant"].status.value)
    languages = fields.List(fields.String(), attribute="tenant.languages")
    municipalities = fields.List(fields.Nested(MunicipalityOutSchema), attribute="tenant.municipalities")
    created_at = fields.DateTime(attribute="tenant.created_at")
    invited_at = fields.DateTime(allow_none=True)
    progress = fields.Function(lambda row: StepSchema(many=True).dump(row["progress"]))


class ResendSchema(Schema):
    language = fields.String(load_default=None)


class ChainSchema(Schema):
    verified_at = fields.DateTime(allow_none=True)
    intact = fields.Boolean(allow_none=True)
    entries = fields.Integer(allow_none=True)


class TenantHealthSchema(Schema):
    slug = fields.String()
    name = fields.String()
    status = fields.String()
    members = fields.Integer()
    cases = fields.Integer()
    chain = fields.Nested(ChainSchema)


class FailedJobSchema(Schema):
    id = fields.String()
    queue = fields.String()
    task = fields.String()
    tenant_id = fields.Integer(allow_none=True)
    failed_at = fields.DateTime(allow_none=True)
    error = fields.String()


class HealthSchema(Schema):
    database = fields.String()
    tenants_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    tenants = fields.List(fields.Nested(TenantHealthSchema))
    jobs = fields.Function(lambda health: {
        "inline": health["jobs"]["inline"],
        "queues": health["jobs"]["queues"],
        "failed": FailedJobSchema(many=True).dump(health["jobs"]["failed"]),
        **({"problem": health["jobs"]["problem"]} if "problem" in health["jobs"] else {}),
    })
    custodian = fields.Dict()


class PoliceZoneOutSchema(Schema):
    """A zone of the directory: code, name, its municipalities, who changed it last and when."""

    code = fields.String()
    name = fields.String()
    nis_codes = fields.List(fields.String())
    updated_at = fields.DateTime()
    updated_by = fields.String()


class OperatorOutSchema(Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    role = fields.String(required=True)


class OperatorSessionOutSchema(Schema):
    operator = fields.Nested(OperatorOutSchema, required=True)
    csrf_token = fields.String(required=True)


class OnboardedOutSchema(Schema):
    tenant = fields.Nested(TenantOutSchema, required=True)
    coordinator_email = fields.String(required=True)
    overlaps_confirmed = fields.List(fields.String(), required=True)  # other cells' slugs


class SentToOutSchema(Schema):
    sent_to = fields.String(required=True)


class RetriedOutSchema(Schema):
    retried = fields.List(fields.String(), required=True)


class RetrySchema(Schema):
    job_ids = fields.List(fields.String(), load_default=list)
    all = fields.Boolean(load_default=False)


@blueprint.get("/api/session")
@documented(answer=OperatorSessionOutSchema, summary="The signed-in operator, and the CSRF token for the next change.")
@operator_guard(OperatorAction.ACCOUNT)
def api_session():
    operator = {"id": g.operator.id, "email": g.operator.email, "role": g.operator.role.value}
    return jsonify(OperatorSessionOutSchema().dump({"operator": operator, "csrf_token": generate_csrf()}))


@blueprint.get("/api/tenants")
@documented(answer=TenantListOutSchema, many=True, envelope="tenants", query=TenantListQuery, paged=True,
            summary="The cells, a page at a time (the `next` link reads the next), each with its onboarding steps.")
@operator_guard(OperatorAction.TENANTS_VIEW)
def api_tenants():
    page = tenant_page(page_args(request.args), TenantFilters.from_args(request.args))
    invited = invitations_sent(page.items)
    listed = [{"tenant": tenant, "invited_at": invited.get(tenant.slug), "progress": progress(tenant)}
              for tenant in page.items]
    return jsonify(page_answer(page, "tenants", TenantListOutSchema(many=True).dump(listed)))


@blueprint.post("/api/tenants")
@documented(body=OnboardingSchema, answer=OnboardedOutSchema, status=201, summary="Onboard a cell and invite its coordinator.")
@operator_guard(OperatorAction.ONBOARDING_MANAGE)
def api_onboard():
    load_body(OnboardingSchema())  # 415, 400 or 422 with every field's messages
    try:
        done = onboard(request.get_json(), actor=actor())
    except ValidationError as error:
        raise InvalidFields(field_messages(error)) from None
    return jsonify(OnboardedOutSchema().dump({"tenant": done.tenant, "coordinator_email": done.coordinator_email,
                                              "overlaps_confirmed": done.overlaps})), 201


@blueprint.get("/api/tenants/<slug>")
@documented(answer=TenantOutSchema, envelope="tenant")
@operator_guard(OperatorAction.TENANTS_VIEW, load=load_tenant)
def api_tenant(slug: str):
    return jsonify(tenant=TenantOutSchema().dump(g.resource))


@blueprint.post("/api/tenants/<slug>/invitation")
@documented(body=ResendSchema, answer=SentToOutSchema, summary="Send the coordinator's invitation again.")
@operator_guard(OperatorAction.ONBOARDING_MANAGE, load=load_tenant)
def api_resend(slug: str):
    values = load_body(ResendSchema())
    try:
        email = resend_invitation(g.resource, actor=actor(), language=values["language"])
    except ValidationError as error:
        raise InvalidFields(field_messages(error)) from None
    return jsonify(SentToOutSchema().dump({"sent_to": email}))


@blueprint.get("/api/health")
@documented(answer=HealthSchema, summary="The platform's health: database, cells, jobs, custodian.")
@operator_guard(OperatorAction.HEALTH_VIEW)
def api_health():
    return jsonify(HealthSchema().dump(platform_health()))


@blueprint.post("/api/jobs/retry")
@documented(body=RetrySchema, answer=RetriedOutSchema, errors=(409,), summary="Retry failed jobs: some by id, or all.")
@operator_guard(OperatorAction.JOBS_RETRY)
def api_retry_jobs():
    values = load_body(RetrySchema())
    if not values["all"] and not values["job_ids"]:
        raise InvalidFields({"job_ids": [_l("Name job ids, or send all: true.")]})
    retried = retry_failed(None if values["all"] else set(values["job_ids"]))
    operators.record_action("jobs.retried", actor=actor(), details={"jobs": sorted(retried)})
    return jsonify(RetriedOutSchema().dump({"retried": sorted(retried)}))


@blueprint.get("/api/police-zones")
@documented(answer=PoliceZoneOutSchema, many=True, envelope="police_zones")
@operator_guard(OperatorAction.POLICE_ZONES_VIEW)
def api_police_zones():
    return jsonify(police_zones=PoliceZoneOutSchema(many=True).dump(zones()))


@blueprint.get("/api/police-zones/<code>")
@documented(answer=PoliceZoneOutSchema, envelope="police_zone")
@operator_guard(OperatorAction.POLICE_ZONES_VIEW, load=load_zone)
def api_police_zone(code: str):
    return jsonify(police_zone=PoliceZoneOutSchema().dump(g.resource))


@blueprint.put("/api/police-zones/<code>")
@documented(body=PoliceZoneSchema(exclude=("code",)), answer=PoliceZoneOutSchema, envelope="police_zone", also=(201,),
            summary="Create the zone, or replace its name and municipalities (201 when created).")
@operator_guard(OperatorAction.POLICE_ZONES_MANAGE)
def api_set_police_zone(code: str):
    """Create the zone ``code`` or replace its name and municipalities: ``{"name": ..., "nis_codes":
    [...], "move": false}``."""
    values = load_body(PoliceZoneSchema(exclude=("code",)))  # 415, 400 or 422 with every field's messages
    created = find_zone(code) is None
    try:
        zone = set_zone({**values, "code": code}, actor=actor())
    except ValidationError as error:
        raise InvalidFields(field_messages(error)) from None
    return jsonify(police_zone=PoliceZoneOutSchema().dump(zone)), 201 if created else 200


@blueprint.delete("/api/police-zones/<code>")
@documented(status=204, summary="Remove a zone.")
@operator_guard(OperatorAction.POLICE_ZONES_MANAGE)
def api_remove_police_zone(code: str):
    remove_zone(load_zone(code).code, actor=actor())
    return "", 204
