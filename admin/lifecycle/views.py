"""The lifecycle's pages: the console's (suspend, reactivate, offboard, progress and report), the
same actions in the console's JSON API (``/admin/api/tenants/<slug>/...``), and the
municipality's single-use download page for the export.

The console pages never show what a cell wrote: states, counts, dates and error types only.
The download page is public (its token is the credential) and rate-limited like every page
that takes a credential; the export leaves it once, under the passphrase the designated
person types there.
"""

from __future__ import annotations

import io

from flask import flash, g, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields
from werkzeug.exceptions import NotFound

from livc.admin.access import actor, operator_guard
from livc.admin.lifecycle import export as lifecycle_export
from livc.admin.lifecycle import models as lifecycle_models
from livc.admin.lifecycle import operations as lifecycle
from livc.admin.operators import trail
from livc.admin.operators.sign_in_views import limit_credential_attempts
from livc.admin.web import blueprint
from livc.platform.api import InvalidFields, load_body
from livc.platform.forms import field_messages
from livc.platform.openapi import documented
from livc.platform.policy import OperatorAction, decide, public
from livc.platform.tenancy import Tenant

SUSPENDED = _l("The cell is suspended: its members are signed out and its jobs wait.")
REACTIVATED = _l("The cell is active again.")
OFFBOARDING_STARTED = _l("Offboarding started. Its steps run one after the other; this page shows where they are.")
RESUMED = _l("The offboarding resumes from the step that failed.")
CONFIRM_SLUG = _l("Type the cell's address exactly, to confirm.")
LINK_UNKNOWN = _l("This link is not a valid export link. Check that you copied it whole from the mail.")

STATE_LABELS = {
    "pending": _l("waiting"), "running": _l("running"), "done": _l("done"), "failed": _l("failed"),
    "downloaded": _l("downloaded, and deleted from the platform"), "expired": _l("expired, and deleted from the platform"),
    "missing": _l("not made yet"),
}
STEP_LABELS = {
    "suspend": _l("Suspend the cell"), "export": _l("Export its data for the municipality"),
    "shred": _l("Crypto-shred the cell"), "verify": _l("Verify that nothing decryptable remains"),
}
trail.STEP_LABELS.update(STEP_LABELS)  # the trails name the offboarding's steps in these words
CHECK_LABELS = {
    "keys_destroyed": _l("Every data key of the cell is destroyed"),
    "no_tenant_rows": _l("No row of the cell is left in any of its tables"),
    "no_federation": _l("No federation token, enrolment, alert or link of the cell is left"),
    "no_sessions": _l("No sign-in session of the cell is left"),
    "no_memberships": _l("No membership of the cell is left"),
    "export_pending_or_gone": _l("The export is waiting for its one download, encrypted, or is gone"),
    "tenant_offboarded": _l("The cell is marked offboarded; its address stays reserved"),
}


def load_tenant(slug: str) -> Tenant:
    try:
        return lifecycle_models.tenant_by_slug(slug)
    except ValidationError:
        raise NotFound() from None


@blueprint.context_processor
def _lifecycle_labels() -> dict:
    return {"lifecycle_state_label": lambda key: STATE_LABELS.get(key, key),
            "lifecycle_step_label": lambda key: STEP_LABELS.get(key, key),
            "lifecycle_check_label": lambda key: CHECK_LABELS.get(key, key)}


# --- the console ----------------------------------------------------------------------------------


def _lifecycle_page(tenant: Tenant, status: int = 200, errors: dict | None = None):
    return render_template(
        "admin/lifecycle.html", tenant=tenant, state=lifecycle.progress(tenant.id), errors=errors or {},
        typed=request.form if request.method == "POST" else {},
        may_manage=bool(decide(g.operator_person, OperatorAction.LIFECYCLE_MANAGE)),
    ), status


@blueprint.get("/tenants/<slug>/lifecycle")
@operator_guard(OperatorAction.TENANTS_VIEW, load=load_tenant)
def lifecycle_page(slug: str):
    return _lifecycle_page(g.resource)


def _act(action, done_message):
    """Run a lifecycle operation for the loaded tenant: back to its page, or the page again with
    the messages (422) and nothing changed."""
    tenant = g.resource
    try:
        action(tenant)
    except ValidationError as error:
        return _lifecycle_page(tenant, 422, error.messages)
    flash(done_message, "success")
    return redirect(url_for("admin.lifecycle_page", slug=tenant.slug), 303)


@blueprint.post("/tenants/<slug>/suspend")
@operator_guard(OperatorAction.LIFECYCLE_MANAGE, load=load_tenant)
def suspend_tenant(slug: str):
    return _act(lambda tenant: lifecycle.suspend(tenant, actor(), request.form.get("reason", "")), SUSPENDED)


@blueprint.post("/tenants/<slug>/reactivate")
@operator_guard(OperatorAction.LIFECYCLE_MANAGE, load=load_tenant)
def reactivate_tenant(slug: str):
    return _act(lambda tenant: lifecycle.reactivate(tenant, actor()), REACTIVATED)


def _offboard(tenant: Tenant) -> None:
    if request.form.get("confirm_slug", "").strip() != tenant.slug:
        raise ValidationError({"confirm_slug": [str(CONFIRM_SLUG)]})
    lifecycle.start_offboarding(tenant, actor(), request.form.get("recipient", ""))


@blueprint.post("/tenants/<slug>/offboard")
@operator_guard(OperatorAction.LIFECYCLE_MANAGE, load=load_tenant)
def offboard_tenant(slug: str):
    return _act(_offboard, OFFBOARDING_STARTED)


@blueprint.post("/tenants/<slug>/offboarding/resume")
@operator_guard(OperatorAction.LIFECYCLE_MANAGE, load=load_tenant)
def resume_offboarding(slug: str):
    return _act(lambda tenant: lifecycle.resume_offboarding(tenant, actor()), RESUMED)


# --- the municipality's download page ------------------------------------------------------------------


def _limit() -> None:
    limit_credential_attempts()


def _refused(error: lifecycle_export.ExportRefused):
    return render_template("admin/export_refused.html", state=error.state, at=error.at), 410


@blueprint.route("/export/<token>", methods=["GET", "POST"])
@public
def export_download(token: str):
    _limit()
    export = lifecycle_export.export_for_link(token)
    if export is None:
        return render_template("admin/export_refused.html", state="unknown", at=None, message=LINK_UNKNOWN), 404
    try:
        lifecycle_export.check_link(export)
    except lifecycle_export.ExportRefused as error:
        return _refused(error)
    cell = lifecycle.db.session.get(lifecycle.Offboarding, export.offboarding_id).tenant_name
    if request.method == "GET":
        return render_template("admin/export_download.html", export=export, cell=cell, errors={})
    try:
        filename, data = lifecycle_export.download_export(
            token, request.form.get("passphrase", ""), request.form.get("passphrase_repeated", ""))
    except lifecycle_export.ExportRefused as error:  # used in another request a moment ago
        return _refused(error)
    except ValidationError as error:
        return render_template("admin/export_download.html", export=export, cell=cell, errors=error.messages), 422
    response = send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True, download_name=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the JSON API ---------------------------------------------------------------------------------------


class SuspendSchema(Schema):
    reason = fields.String(required=True)


class OffboardSchema(Schema):
    recipient = fields.String(required=True)


class EmptySchema(Schema):
    pass


class StepOutSchema(Schema):
    name = fields.String()
    state = fields.String()
    attempts = fields.Integer()
    counts = fields.Function(lambda step: {key: value for key, value in step["counts"].items()
                                           if not isinstance(value, dict)})
    error = fields.String(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class ExportOutSchema(Schema):
    state = fields.String()
    recipient = fields.String()
    expires_at = fields.DateTime()
    downloaded_at = fields.DateTime(allow_none=True)
    size = fields.Integer()
    files = fields.Integer()


class ReportOutSchema(Schema):
    passed = fields.Boolean()
    checks = fields.List(fields.Dict())
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    created_at = fields.DateTime()


class OffboardingOutSchema(Schema):
    """An offboarding as the operator may know it: states, counts, dates, never content."""

    tenant = fields.String()
    state = fields.String()
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    resumable = fields.Boolean()
    steps = fields.List(fields.Nested(StepOutSchema))
    export = fields.Nested(ExportOutSchema, allow_none=True)
    report = fields.Nested(ReportOutSchema, allow_none=True)


class TenantStateOutSchema(Schema):
    slug = fields.String(required=True)
    status = fields.String(required=True)


class LifecycleOutSchema(Schema):
    """What the lifecycle's API answers: the cell's status and its offboarding, if one began."""

    tenant = fields.Nested(TenantStateOutSchema, required=True)
    offboarding = fields.Nested(OffboardingOutSchema, required=True, allow_none=True)


def _lifecycle_out(tenant: Tenant):
    return jsonify(LifecycleOutSchema().dump({"tenant": {"slug": tenant.slug, "status": tenant.status.value},
                                              "offboarding": _offboarding_state(tenant)}))


def _api_act(schema: Schema, action):
    values = load_body(schema)  # 415, 400 or 422 with every field's messages
    tenant = g.resource
    try:
        action(tenant, values)
    except ValidationError as error:
        raise InvalidFields(field_messages(error)) from None
    return _lifecycle_out(tenant)


def _offboarding_state(tenant: Tenant):
    return lifecycle.progress(tenant.id)


@blueprint.get("/api/tenants/<slug>/offboarding")
@documented(answer=LifecycleOutSchema, summary="The cell's status and its offboarding's progress.")
@operator_guard(OperatorAction.TENANTS_VIEW, load=load_tenant)
def api_offboarding(slug: str):
    return _lifecycle_out(g.resource)


@blueprint.post("/api/tenants/<slug>/suspend")
@documented(body=SuspendSchema, answer=LifecycleOutSchema, summary="Suspend the cell: its members are signed out.")
@operator_guard(OperatorAction.LIFECYCLE_MANAGE, load=load_tenant)
def api_suspend(slug: str):
    return _api_act(SuspendSchema(), lambda tenant, values: lifecycle.suspend(tenant, actor(), values["reason"]))


@blueprint.post("/api/tenants/<slug>/reactivate")
@documented(body=EmptySchema, answer=LifecycleOutSchema, summary="Make a suspended cell active again.")
@operator_guard(OperatorAction.LIFECYCLE_MANAGE, load=load_tenant)
def api_reactivate(slug: str):
    return _api_act(EmptySchema(), lambda tenant, _values: lifecycle.reactivate(tenant, actor()))


@blueprint.post("/api/tenants/<slug>/offboard")
@documented(body=OffboardSchema, answer=LifecycleOutSchema, summary="Start offboarding the cell (suspend, export, crypto-shred, verify).")
@operator_guard(OperatorAction.LIFECYCLE_MANAGE, load=load_tenant)
def api_offboard(slug: str):
    return _api_act(OffboardSchema(), lambda tenant, values: lifecycle.start_offboarding(
        tenant, actor(), values["recipient"]))


@blueprint.post("/api/tenants/<slug>/offboarding/resume")
@documented(body=EmptySchema, answer=LifecycleOutSchema, summary="Resume an offboarding from the step that failed.")
@operator_guard(OperatorAction.LIFECYCLE_MANAGE, load=load_tenant)
def api_resume_offboarding(slug: str):
    return _api_act(EmptySchema(), lambda tenant, _values: lifecycle.resume_offboarding(tenant, actor()))
