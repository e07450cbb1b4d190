"""The platform's periodic jobs, as data: each domain's periodic task, gathered at the top.

``livc cron`` registers them with RQ's cron scheduler (``livc.platform.schedule``). A job marked
``per_tenant`` (the default) fans out into one job per active tenant, inside its isolation.
"""

from __future__ import annotations

from livc.admin.lifecycle.export import expire_exports
from livc.admin.lifecycle.operations import resume_stalled_offboardings
from livc.federation.enrolment import sweep_enrolments
from livc.platform.audit import verify_tenant_chain
from livc.platform.schedule import Periodic
from livc.platform.sessions import purge_expired_sessions, purge_idle_browsers
from livc.tenants.meetings.reminders import send_meeting_reminders
from livc.tenants.retention.operations import retention_sweep, send_case_reminders

PERIODIC = (
    Periodic("audit-chain-verification", verify_tenant_chain.task.path, "17 3 * * *"),
    Periodic("expired-session-purge", purge_expired_sessions.task.path, "*/15 * * * *"),
    Periodic("case-retention", retention_sweep.task.path, "41 2 * * *"),
    Periodic("case-reminders", send_case_reminders.task.path, "7 6 * * *"),
    Periodic("meeting-reminders", send_meeting_reminders.task.path, "13 6 * * *"),
    Periodic("federation-sweep", sweep_enrolments.task.path, "*/10 * * * *"),
    Periodic("export-expiry", expire_exports.task.path, "23 * * * *", per_tenant=False),
    Periodic("browser-session-purge", purge_idle_browsers.task.path, "29 * * * *", per_tenant=False),
    Periodic("offboarding-resume", resume_stalled_offboardings.task.path, "*/5 * * * *", per_tenant=False),
)
