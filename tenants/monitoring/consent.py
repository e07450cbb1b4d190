"""The cell's consent to count in the platform-wide figures (issue 17, part 7).

The platform's administrators see the cells' anonymous figures summed over every cell that
agreed to it, hidden as the cells' own figures are, never per cell. Whether a cell counts is
the cell's decision, and a decision of a cell is joint (seeds 001 and 004):

- the coordinator proposes it (``Action.SETUP_MANAGE``: the coordinator speaks for the cell
  to the platform), to count or to stop counting;
- it has no effect until another member of the table confirms it, or the meeting in session
  takes it with its members present (:mod:`livc.tenants.decisions`,
  ``DecisionKind.PLATFORM_FIGURES``); never on the urgent fast path;
- until then the cell counts, or does not, as last decided: a cell that never decided does not.

The decision's subject is the cell's one :class:`FiguresConsent` row. Audit entries carry the
choice and the decision's id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.platform import audit
from livc.platform.db import db
from livc.platform.policy import Action, decide
from livc.platform.timeutil import utcnow
from livc.tenants.access import person_for
from livc.tenants.decisions.models import DecisionKind, DecisionStatus, Proposal
from livc.tenants.decisions.operations import Handler, open_proposal_about, register
from livc.tenants.decisions.operations import decide as decide_jointly
from livc.tenants.members.models import Membership
from livc.tenants.monitoring.models import FiguresConsent

SUBJECT_TYPE = "figures_consent"

CHOOSE = _l("Say whether the cell counts in the platform-wide figures.")
ONLY_COORDINATOR = _l("The coordinator puts this to the cell; another member of the table confirms it.")
ALREADY_IN = _l("The cell counts in the platform-wide figures already.")
ALREADY_OUT = _l("The cell does not count in the platform-wide figures.")
OPT_IN = _l("Count in the platform-wide figures")
OPT_OUT = _l("No longer count in the platform-wide figures")


def consent_row() -> FiguresConsent | None:
    """The cell's consent (inside its tenant context); None when it never was put to the cell."""
    return db.session.scalar(sa.select(FiguresConsent).limit(1))


def counts_in_platform_figures() -> bool:
    """Does the current cell count in the platform-wide figures (as last decided)?"""
    row = consent_row()
    return row is not None and row.platform_figures


def _consent_subject() -> FiguresConsent:
    row = consent_row()
    if row is None:
        row = FiguresConsent(platform_figures=False)
        db.session.add(row)
        db.session.flush()
    return row


@dataclass(frozen=True)
class ConsentState:
    """Where the cell stands, and what waits for a second member."""

    platform_figures: bool
    decided_at: datetime | None  # when the last decision was taken (None: never decided)
    last_decision: Proposal | None
    pending: Proposal | None
    wanted: bool | None  # what the pending proposal asks for


def consent_state() -> ConsentState:
    row = consent_row()
    if row is None:
        return ConsentState(False, None, None, None, None)
    last = db.session.scalars(
        sa.select(Proposal).where(Proposal.kind == DecisionKind.PLATFORM_FIGURES, Proposal.subject_id == row.id,
                                  Proposal.status == DecisionStatus.TAKEN)
        .order_by(Proposal.decided_at.desc(), Proposal.id.desc())
    ).first()
    pending = open_proposal_about(DecisionKind.PLATFORM_FIGURES, SUBJECT_TYPE, row.id)
    # A proposal asks for the other state: the rule (_check) refuses to propose the current one.
    return ConsentState(row.platform_figures, last.decided_at if last is not None else None, last, pending,
                        (not row.platform_figures) if pending is not None else None)


def may_propose(membership: Membership) -> bool:
    return bool(decide(person_for(membership), Action.SETUP_MANAGE))


def propose_consent(actor: Membership, values: Mapping[str, Any]) -> Proposal:
    """Put to the cell that it counts (``platform_figures`` true) or no longer counts in the
    platform-wide figures: proposed by the coordinator (``way`` ``propose``, the default), or
    decided in the meeting in session (``way`` ``meeting``)."""
    if not may_propose(actor):
        raise ValidationError({"_schema": [str(ONLY_COORDINATOR)]})
    return decide_jointly(DecisionKind.PLATFORM_FIGURES, _consent_subject(), values, actor)


def _check(consent: FiguresConsent, values: Mapping[str, Any], _actor: Membership) -> dict[str, Any]:
    """Again when taken: another decision may have been taken in between."""
    wanted = values.get("platform_figures")
    if wanted is None:
        raise ValidationError({"platform_figures": [str(CHOOSE)]})
    if bool(wanted) == consent.platform_figures:
        raise ValidationError({"platform_figures": [str(ALREADY_IN if consent.platform_figures else ALREADY_OUT)]})
    return {"platform_figures": bool(wanted)}


def _apply(consent: FiguresConsent, values: Mapping[str, Any], _actor: Membership, participant_ids: Sequence[int],
           proposal: Proposal) -> None:
    consent.platform_figures = bool(values["platform_figures"])
    consent.decided_at = utcnow()
    db.session.flush()
    audit.record("monitoring.consent_decided", subject=f"{SUBJECT_TYPE}:{consent.id}",
                 details={"platform_figures": consent.platform_figures, "decision": proposal.id,
                          "participants": len(participant_ids)})


def _describe(_consent: FiguresConsent, values: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(str(_l("Decision")), str(OPT_IN if values.get("platform_figures") else OPT_OUT))]


register(Handler(
    kind=DecisionKind.PLATFORM_FIGURES,
    subject_type=SUBJECT_TYPE,
    load=lambda consent_id: db.session.get(FiguresConsent, consent_id),
    code=lambda _consent: None,
    check=_check,
    apply=_apply,
    dump=lambda values: {"platform_figures": bool(values.get("platform_figures"))},
    restore=lambda payload: {"platform_figures": payload.get("platform_figures")},
    describe=_describe,
))
