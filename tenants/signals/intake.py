"""The intake's narrow door for the federation: a hand-over another cell sent, once the cell
accepted it, comes in as a signal (seed 004: everything a cell follows starts at the intake and
passes its joint weighing; seed 001, "Samenwerking": the cell of the new municipality takes the
follow-up over).

The federation calls :func:`register_handover` in the receiving cell's tenant context and knows
the signal by its id and reference only (:func:`signal_of_handover` for the hand-over page's
link). The signal is registered as every signal is: a reference of the cell, the observation
(the summary the sending cell wrote), the reporter (the sending cell) and the identity, if the
sending cell chose to send it, encrypted under the signal's and the identity's keys. It waits to
be weighed: the cell's joint weighing then opens a case, adds it to one, refers it or closes it,
as for every signal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from livc.platform import audit
from livc.platform.db import current_tenant_id, db
from livc.platform.tenancy import Tenant
from livc.tenants.signals.models import (
    InternalAssessment,
    Signal,
    SignalChannel,
    SignalStatus,
    Urgency,
)
from livc.tenants.signals.operations import identity_values, next_reference, write_identity

NO_SUMMARY = _l("The other cell sent no summary.")
REPORTER = _l("%(cell)s (hand-over)")
ASSESSMENT = _l("Followed as a case by %(cell)s, handed over when the person moved to %(municipality)s.")
FOLLOW_UP = _l("Kind of follow-up there: %(kind)s.")


@dataclass(frozen=True)
class HandoverSignal:
    """What the federation knows of the signal a hand-over became."""

    id: int
    reference: str
    waiting: bool  # not weighed yet


def register_handover(*, handover_id: int, from_cell: str, municipality: str, summary: str | None,
                      identity: Mapping[str, str | None] | None, follow_up: str | None,
                      recorded_by_id: int | None, residence_nis: str | None = None) -> HandoverSignal:
    """Register an accepted hand-over as a signal of the current cell, waiting to be weighed;
    the person lives in ``residence_nis``, the municipality they moved to.

    The words the cell adds (reporter, assessment) are in its first working language, as its
    mails are. The audit entry names the signal and the hand-over, never what it says."""
    tenant = db.session.get(Tenant, current_tenant_id())
    with force_locale(tenant.languages[0]):
        observation = (summary or "").strip() or str(NO_SUMMARY)
        note = str(ASSESSMENT % {"cell": from_cell, "municipality": municipality})
        if follow_up:
            note += " " + str(FOLLOW_UP % {"kind": follow_up})
        reporter = str(REPORTER % {"cell": from_cell})
    signal = Signal(
        reference=next_reference("signal"),
        channel=SignalChannel.HANDOVER,
        recorded_by_id=recorded_by_id,
        internal_assessment=InternalAssessment.DONE,  # the sending cell weighed and followed it
        urgency=Urgency.NORMAL,
        residence_nis=residence_nis,
        observation_ciphertext="",
    )
    db.session.add(signal)
    db.session.flush()  # the signal's key scope needs its id
    signal.observation = observation
    signal.reporter_contact = reporter
    signal.assessment_note = note
    person = write_identity(None, identity_values(identity or {}))
    signal.identity_id = person.id if person is not None else None
    audit.record(
        "signal.recorded", subject=f"signal:{signal.reference}",
        details={"channel": signal.channel.value, "urgency": signal.urgency.value,
                 "anonymous": person is None, "handover_id": handover_id},
    )
    return HandoverSignal(signal.id, signal.reference, waiting=True)


def signal_of_handover(signal_id: int) -> HandoverSignal | None:
    """The signal a hand-over became, while the cell keeps it (None once erased)."""
    signal = db.session.get(Signal, signal_id)
    if signal is None:
        return None
    return HandoverSignal(signal.id, signal.reference, waiting=signal.status == SignalStatus.NEW)
