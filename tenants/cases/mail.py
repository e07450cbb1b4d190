"""Mails about cases: a feedback form released to the information officer.

Like every mail of the cell (:mod:`livc.tenants.signals.mail`), it names the case by its code
and links to its page, never anything the cell knows about the person.
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
