"""Mails about cases: a feedback form waiting for a member's approval, and released to the
information officer.

Like every mail of the cell (:mod:`livc.tenants.signals.mail`), they link to the case's page and
never carry anything the cell knows about the person; the request for an approval does not even
name the case's code (it goes to every participant of each revision).
"""

from __future__ import annotations

from collections.abc import Iterable

from livc.tenants.cases.models import Case
from livc.tenants.members.models import Membership
from livc.tenants.signals.mail import cell_link, send_to_members


def case_link(case: Case) -> str:
    return cell_link(f"cases/{case.id}")


def notify_feedback_released(case: Case, recipients: Iterable[Membership]) -> int:
    return send_to_members("feedback_released", recipients, code=case.code, link=case_link(case))


def notify_feedback_awaits_approval(case: Case, recipients: Iterable[Membership]) -> int:
    return send_to_members("feedback_awaits_approval", recipients, link=case_link(case))
