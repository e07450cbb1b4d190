"""Erasing a case: its signals, follow-up, keys and (unless still used) the person's identity,
leaving one anonymous count; at the end of its retention period or earlier, at the
coordinator's decision.

The case's receivers hear of it first (:data:`livc.tenants.cases.events.case_erased`), in the
same transaction as the erasure itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.platform import audit
from livc.platform.db import db
from livc.platform.keys import destroy_key, record_scope
from livc.tenants.cases import events
from livc.tenants.cases.ltf_cards import erase_case_cards
from livc.tenants.cases.models import (
    Case,
    CaseStatus,
    CaseTeamMember,
    FeedbackApproval,
    LtfFeedback,
    Measure,
    ProgressNote,
    Review,
)
from livc.tenants.decisions.operations import forget_subject
from livc.tenants.members.models import Membership
from livc.tenants.signals.erasure import erase_identity, erase_signal, tally_erasure
from livc.tenants.signals.models import Signal, Weighing

ERASE_OPEN_CASE = _l("Only a closed case can be erased: close it first.")


def erase_case(case: Case) -> None:
    case_id, code, identity_id = case.id, case.code, case.identity_id
    events.case_erased.send(case)  # before any row goes: listeners read the case as it was
    tally_erasure("case", case.opened_at.year, case.closure_reason.value if case.closure_reason else "",
                  case.target_group.value)
    for signal in db.session.scalars(sa.select(Signal).where(Signal.case_id == case_id)).all():
        erase_signal(signal, tally=False)
    erase_case_cards(case_id)  # the LTF's information cards, and their own keys
    feedback_ids = sa.select(LtfFeedback.id).where(LtfFeedback.case_id == case_id)
    db.session.execute(sa.delete(FeedbackApproval).where(FeedbackApproval.feedback_id.in_(feedback_ids)))
    for model in (LtfFeedback, ProgressNote, Measure, Review, CaseTeamMember):
        db.session.execute(sa.delete(model).where(model.case_id == case_id))
    db.session.execute(sa.update(Weighing).where(Weighing.case_id == case_id).values(case_id=None))
    forget_subject("case", case_id)
    db.session.delete(case)
    db.session.flush()
    destroy_key(record_scope("case", case_id))
    erase_identity(identity_id)
    audit.record("case.erased", subject=f"case:{code}")


def erase_closed_case_now(case: Case, actor: Membership) -> None:
    """Erase a closed case before its retention period ends, at the coordinator's decision
    (the person moved and another cell took over, the cell decides no review is needed, or a
    request under the GDPR). Audited with who decided it."""
    if case.status != CaseStatus.CLOSED:
        raise ValidationError({"_schema": [str(ERASE_OPEN_CASE)]})
    audit.record("case.erasure_requested", subject=f"case:{case.code}", details={"membership_id": actor.id})
    erase_case(case)
