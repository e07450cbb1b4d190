"""The console's health page, the operator accounts page and the operator audit trail page."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from livc.admin.access import actor, operator_guard
from livc.admin.health.checks import platform_health
from livc.admin.operators import operations as operators
from livc.admin.web import blueprint
from livc.platform.failed_jobs import retry_failed
from livc.platform.policy import OperatorAction


@blueprint.get("/health")
@operator_guard(OperatorAction.HEALTH_VIEW)
def health():
    return render_template("admin/health.html", health=platform_health())


@blueprint.post("/jobs/retry")
@operator_guard(OperatorAction.JOBS_RETRY)
def retry_jobs():
    """Put failed jobs back on their queue: the ones ticked, or all of them."""

    if request.form.get("all") == "yes":
        wanted = None
    else:
        wanted = set(request.form.getlist("job_id"))
        if not wanted:
            flash(_l("Tick the jobs to retry."), "warning")
            return redirect(url_for("admin.health"))
    try:
        retried = retry_failed(wanted)
    except HTTPException as refusal:  # no queue, or Redis out of reach: said on the page
        flash(refusal.description, "warning")
        return redirect(url_for("admin.health"))
    operators.record_action("jobs.retried", actor=actor(), details={"jobs": sorted(retried)})
    flash(_l("%(count)d job(s) put back on their queue.", count=len(retried)), "info")
    return redirect(url_for("admin.health"))
