"""Mails about signals and cases: an urgent signal, a feedback form released, reviews and
measures coming due.

A mail names the cell and the case code and links to the page; it never carries what the cell
knows about the person (seed 004: no lists of persons; DOMAIN.md: the operator sees no case
content, and mail passes through the operator's and others' servers). Mails go out in the
cell's first working language.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app

from livc.platform.db import current_tenant_id, db
from livc.platform.mail import render_mail, send_mail
from livc.tenants.case_models import Case
from livc.tenants.members import Membership
from livc.tenants.models import Tenant


def case_link(tenant: Tenant, case: Case) -> str:
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/{tenant.slug}/cases/{case.id}"


def _send(template: str, recipients: Iterable[Membership], **context) -> int:
    tenant = db.session.get(Tenant, current_tenant_id())
    subject, body = render_mail(template, tenant.languages[0], tenant=tenant, **context)
    sent = 0
    for membership in recipients:
        send_mail(membership.account.email, subject, body, tenant_id=tenant.id)
        sent += 1
    return sent


def notify_feedback_released(case: Case, recipients: Iterable[Membership]) -> int:
    tenant = db.session.get(Tenant, current_tenant_id())
    return _send("feedback_released", recipients, code=case.code, link=case_link(tenant, case))


def signal_link(tenant: Tenant, signal) -> str:
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/{tenant.slug}/signals/{signal.id}"


def notify_urgent_signal(signal, recipients: Iterable[Membership]) -> int:
    """An urgent signal: the coordinators hear of it at once (its reference only)."""
    tenant = db.session.get(Tenant, current_tenant_id())
    return _send("signal_urgent", recipients, reference=signal.reference, link=signal_link(tenant, signal))


def notify_due(recipients: Iterable[Membership], reviews: list[tuple[Case, object]], measures: list[tuple[Case, object]]) -> int:
    """One digest per recipient: case codes and due dates only."""
    tenant = db.session.get(Tenant, current_tenant_id())
    return _send(
        "case_reminders",
        recipients,
        reviews=[(case.code, review.due_on, case_link(tenant, case)) for case, review in reviews],
        measures=[(case.code, measure.due_on, case_link(tenant, case)) for case, measure in measures],
    )
