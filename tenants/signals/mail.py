"""Mails about signals (an urgent signal), and how every mail of a cell's work goes out.

A mail names the cell and a reference or case code and links to the page; it never carries what
the cell knows about the person (seed 004: no lists of persons; DOMAIN.md: the operator sees no
case content, and mail passes through the operator's and others' servers). Mails go out in the
cell's first working language. The cases' and the retention's mails send through
:func:`send_to_members` and link with :func:`cell_link`.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app

from livc.platform.db import current_tenant_id, db
from livc.platform.mail import render_mail, send_mail
from livc.platform.tenancy import Tenant
from livc.tenants.members.models import Membership
from livc.tenants.signals.models import Signal


def cell_link(path: str) -> str:
    """The address of a page of the current cell (``path`` after its slug), for a mail."""
    tenant = db.session.get(Tenant, current_tenant_id())
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/{tenant.slug}/{path}"


def send_to_members(template: str, recipients: Iterable[Membership], **context) -> int:
    """Send ``mail/<template>.txt`` to each of ``recipients``; returns how many were sent."""
    tenant = db.session.get(Tenant, current_tenant_id())
    subject, body = render_mail(template, tenant.languages[0], tenant=tenant, **context)
    sent = 0
    for membership in recipients:
        send_mail(membership.account.email, subject, body, tenant_id=tenant.id)
        sent += 1
    return sent


def notify_urgent_signal(signal: Signal, recipients: Iterable[Membership]) -> int:
    """An urgent signal: the coordinators hear of it at once (its reference only)."""
    return send_to_members("signal_urgent", recipients, reference=signal.reference, link=cell_link(f"signals/{signal.id}"))
