"""The coordinator's retention page and its API: what will be erased within the coming 60
days, by reference and date only, so that nothing comes as a surprise; and, first, what is
overdue (past its day and still kept), so that a stalled erasure does not pass for a coming one."""

from __future__ import annotations

from marshmallow import Schema, fields

from livc.platform.openapi import documented
from livc.platform.policy import Action
from livc.platform.timeutil import utcnow
from livc.tenants.access import guard
from livc.tenants.cases.models import RECORD_LABELS
from livc.tenants.retention.operations import is_overdue, upcoming_erasures
from livc.tenants.signals.operations import case_settings
from livc.tenants.signals.views import case_url
from livc.tenants.web import blueprint, no_store_answer, no_store_page

RETENTION_WITHIN_DAYS = 60


class DueOut(Schema):
    kind = fields.String()
    id = fields.Integer(attribute="record_id")
    reference = fields.String()
    due_on = fields.Date()
    overdue = fields.Function(lambda item: is_overdue(item))


class RetentionAnswer(Schema):
    within_days = fields.Integer()
    due = fields.List(fields.Nested(DueOut))


@blueprint.get("/retention")
@guard(Action.CASE_SETTINGS_MANAGE)
def retention():
    """What is overdue, then what will be erased within the coming 60 days: references and dates only."""
    today = utcnow().date()
    due = upcoming_erasures(RETENTION_WITHIN_DAYS)
    return no_store_page(
        "tenants/signal_retention.html",
        overdue=[item for item in due if is_overdue(item, today)],
        due=[item for item in due if not is_overdue(item, today)],
        within=RETENTION_WITHIN_DAYS, settings=case_settings(), labels={"record": RECORD_LABELS}, case_url=case_url,
    )


@blueprint.get("/api/retention")
@documented(answer=RetentionAnswer, summary="What is due for erasure in the coming days.", tags=("retention",))
@guard(Action.CASE_SETTINGS_MANAGE)
def api_retention():
    return no_store_answer(within_days=RETENTION_WITHIN_DAYS, due=DueOut(many=True).dump(upcoming_erasures(RETENTION_WITHIN_DAYS)))
