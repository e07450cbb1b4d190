"""The hand-over of a case when the person moves (seed 001: people live in several
municipalities; a cell whose person moved away hands the follow-up to the cell of the new one).

1. A case closes with the reason "moved away" and the new municipality (a NIS code of the
   registry); the closure is a joint decision of the cell, and its ``case_closed`` event
   carries the code. :func:`propose_on_closure` finds the active cell on the platform covering
   that municipality (``tenant_municipalities``) and records a hand-over to it, ``proposed``;
   no federation link is needed (a person can move anywhere). When no cell covers it, the
   sending cell's file says so and the closure stands.
2. The sending coordinator chooses what travels (:func:`send_summary`): a summary they write,
   the identity yes or no, the kind of follow-up yes or no. The choice is kept in the sending
   cell, encrypted under the case's key (erasing the case erases it); only then does the
   receiving cell see the proposal, which names the sending cell and the municipality, nothing
   of the person.
3. The receiving coordinator accepts (the chosen summary is copied, encrypted under the
   receiving cell's key for the hand-over, and the sending copy is emptied; it becomes a signal
   of the receiving cell's intake, waiting for its joint weighing, through
   :mod:`livc.tenants.signals.intake`) or declines with a
   reason (nothing travels; the sending cell reads the reason). A hand-over decided once cannot
   be acted on again. Every step is in both cells' audit trails.

Mails, in the recipient cell's first language and naming only the other cell and the
municipality, with a link: the receiving coordinators when the proposal is sent, the sending
coordinators when it is accepted or declined (the reason stays on the page).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.federation.links import FederationError, audit_in
from livc.federation.models import Handover, HandoverFile, HandoverSide, HandoverStatus
from livc.platform import audit, registry
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.mail import render_mail, send_mail
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant, cell_covering
from livc.platform.timeutil import utcnow
from livc.tenants.cases.reading import FederatedCase, facts_for_handover
from livc.tenants.members.reading import coordinator_contacts
from livc.tenants.signals.intake import HandoverSignal, register_handover, signal_of_handover

SUMMARY_MAX = 5000
REASON_MAX = 2000
NO_HANDOVER = _l("There is no such hand-over.")
ONLY_COORDINATOR = _l("Only a coordinator of the cell can do this.")
NO_CELL = _l("No cell on the platform covers this municipality: no hand-over could be proposed.")
ALREADY_SENT = _l("The summary was already sent: it can no longer be changed.")
NOTHING_CHOSEN = _l("Choose at least one part to send: a summary, the identity or the kind of follow-up.")
TOO_LONG = _l("At most %(max)s characters.")
REASON_REQUIRED = _l("Say why your cell declines the hand-over.")
NOT_SENT_YET = _l("The other cell has not sent its hand-over yet.")
DECIDED = {
    HandoverStatus.ACCEPTED: _l("This hand-over was accepted: it cannot be acted on again."),
    HandoverStatus.DECLINED: _l("This hand-over was declined: it cannot be acted on again."),
    HandoverStatus.WITHDRAWN: _l("This hand-over was withdrawn: it cannot be acted on again."),
}
MUNICIPALITY_REQUIRED = _l("Choose the municipality the person moved to.")
MUNICIPALITY_UNKNOWN = _l("This is not a Belgian municipality (a NIS code of five digits).")


def check_new_municipality(nis_code: str | None) -> str:
    """The NIS code of the municipality a person moved to, checked against the registry."""
    code = (nis_code or "").strip()
    if not code:
        raise ValidationError({"municipality": [str(MUNICIPALITY_REQUIRED)]})
    if registry.municipality(code) is None:
        raise ValidationError({"municipality": [str(MUNICIPALITY_UNKNOWN)]})
    return code


def municipality_name(nis_code: str) -> str:
    found = registry.municipality(nis_code)
    return found.name() if found is not None else nis_code


@dataclass(frozen=True)
class HandoverView:
    """A hand-over as one cell sees it."""

    id: int | None  # None: no cell could be proposed
    file_id: int | None
    sending: bool  # this cell hands over
    other_cell: str | None
    nis_code: str
    municipality: str
    status: HandoverStatus | None
    sent: bool  # the sending cell chose and sent its summary
    proposed_at: datetime | None
    decided_at: datetime | None
    case_id: int | None = None  # the sending cell's own case
    decline_reason: str | None = None  # for the sending cell, once declined
    summary: dict | None = None  # for the receiving cell, once accepted
    signal: HandoverSignal | None = None  # the signal it became in the receiving cell's intake


def _is_coordinator(actor, tenant_id: int) -> bool:
    return (actor is not None and actor.tenant_id == tenant_id and actor.role == Role.COORDINATOR
            and actor.usable and current_tenant_id() == tenant_id)


def _require_coordinator(actor, tenant_id: int) -> None:
    if not _is_coordinator(actor, tenant_id):
        raise FederationError(ONLY_COORDINATOR)


def propose_on_closure(case: FederatedCase, nis_code: str | None) -> HandoverFile | None:
    """A case closed as "moved away" (in its cell's context): its file, and a hand-over
    proposed to the covering cell when there is one. Not the person's business of the other
    cell yet: it sees the proposal once the summary is sent."""
    if not nis_code:
        return None
    tenant_id = case.tenant_id
    covering = cell_covering(nis_code, tenant_id)
    target = covering.id if covering is not None else None
    handover = None
    if target is not None:
        handover = Handover(from_cell_id=tenant_id, to_cell_id=target, nis_code=nis_code)
        db.session.add(handover)
        db.session.flush()
    record = HandoverFile(handover_id=handover.id if handover else None, side=HandoverSide.SENDING,
                          case_id=case.id, nis_code=nis_code)
    db.session.add(record)
    db.session.flush()
    audit.record("federation.handover_prepared", subject=f"case:{case.code}",
                 details={"handover_id": handover.id if handover else None, "nis_code": nis_code,
                          "to_cell": target})
    return record


def _file_of_case(case_id: int) -> HandoverFile | None:
    return db.session.scalar(
        sa.select(HandoverFile).where(HandoverFile.case_id == case_id, HandoverFile.side == HandoverSide.SENDING)
        .order_by(HandoverFile.id.desc())
    )


def _names(*cell_ids) -> dict[int, str]:
    ids = {cell_id for cell_id in cell_ids if cell_id is not None}
    return dict(db.session.execute(sa.select(Tenant.id, Tenant.name).where(Tenant.id.in_(ids))).all()) if ids else {}


def _cell_link(tenant: Tenant, path: str) -> str:
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/{tenant.slug}/{path}"


def _tell_coordinators(handover: Handover, cell_id: int, template: str, path: str, **context) -> int:
    """Mail the coordinators of ``cell_id`` about the hand-over, in the cell's first language:
    the other cell, the municipality and a link, nothing of the person and no reason. Audited in
    that cell with the number of recipients."""
    tenant = db.session.get(Tenant, cell_id)
    other_id = handover.to_cell_id if cell_id == handover.from_cell_id else handover.from_cell_id
    with tenant_context(cell_id):
        recipients = coordinator_contacts()
        subject, body = render_mail(
            template, tenant.languages[0], tenant=tenant, other=_names(other_id).get(other_id),
            municipality=municipality_name(handover.nis_code), link=_cell_link(tenant, path), **context,
        )
        for contact in recipients:
            send_mail(contact.email, subject, body, tenant_id=cell_id)
        audit.record("federation.handover_notified", subject=f"handover:{handover.id}",
                     details={"handover_id": handover.id, "recipients": len(recipients)})
    return len(recipients)


def _tell_sender(handover: Handover, *, accepted: bool) -> int:
    with tenant_context(handover.from_cell_id):
        sending = _sending_file(handover)
        case_id = sending.case_id if sending is not None else None
    path = f"cases/{case_id}/handover" if case_id is not None else "federation/cooperation"
    return _tell_coordinators(handover, handover.from_cell_id, "federation_handover_decided", path, accepted=accepted)


def sending_view(case_id: int) -> HandoverView | None:
    """The hand-over of the cell's case, if it closed as "moved away" (the case page, the
    sending coordinator's form); the decline reason is decrypted only when declined."""
    record = _file_of_case(case_id)
    if record is None:
        return None
    handover = db.session.get(Handover, record.handover_id) if record.handover_id else None
    names = _names(handover.to_cell_id if handover else None)
    declined = handover is not None and handover.status == HandoverStatus.DECLINED
    return HandoverView(
        id=handover.id if handover else None, file_id=record.id, sending=True,
        other_cell=names.get(handover.to_cell_id) if handover else None,
        nis_code=record.nis_code, municipality=municipality_name(record.nis_code),
        status=handover.status if handover else None,
        sent=handover is not None and handover.summary_chosen_at is not None,
        proposed_at=handover.proposed_at if handover else None,
        decided_at=handover.decided_at if handover else None,
        case_id=case_id,
        decline_reason=record.decline_reason if declined else None,
    )


def send_summary(case: FederatedCase, actor, *, summary: str | None, identity: bool, follow_up: bool) -> None:
    """The sending coordinator chooses what travels and sends the proposal."""
    tenant_id = case.tenant_id
    _require_coordinator(actor, tenant_id)
    record = _file_of_case(case.id)
    if record is None:
        raise FederationError(NO_HANDOVER)
    if record.handover_id is None:
        raise FederationError(NO_CELL)
    handover = db.session.scalar(sa.select(Handover).where(Handover.id == record.handover_id).with_for_update())
    if handover.status != HandoverStatus.PROPOSED:
        raise FederationError(DECIDED[handover.status])
    if handover.summary_chosen_at is not None:
        raise FederationError(ALREADY_SENT)
    text = (summary or "").strip()
    if len(text) > SUMMARY_MAX:
        raise ValidationError({"summary": [str(TOO_LONG) % {"max": SUMMARY_MAX}]})
    if not (text or identity or follow_up):
        raise ValidationError({"_schema": [str(NOTHING_CHOSEN)]})
    facts = facts_for_handover(case.id)
    chosen = {"summary": text or None, "identity": None, "follow_up": None}
    if identity and facts is not None:
        chosen["identity"] = {"given_names": facts.given_names, "family_name": facts.family_name,
                              "date_of_birth": facts.date_of_birth}
    if follow_up and facts is not None:
        chosen["follow_up"] = facts.follow_up_label
    record.summary = json.dumps(chosen, ensure_ascii=False)
    handover.summary_chosen_at = utcnow()
    parts = sorted(name for name, value in chosen.items() if value)
    audit.record("federation.handover_sent", subject=f"case:{case.code}",
                 details={"handover_id": handover.id, "parts": parts, "membership_id": actor.id})
    audit_in(handover.to_cell_id, "federation.handover_proposed", subject=f"handover:{handover.id}",
             details={"handover_id": handover.id, "from_cell": tenant_id, "nis_code": handover.nis_code})
    _tell_coordinators(handover, handover.to_cell_id, "federation_handover_proposed",
                       f"federation/handover?handover={handover.id}")


def _received(tenant_id: int, handover_id: int, *, lock: bool = False) -> Handover | None:
    """A hand-over to this cell that its sender sent (before that, the cell does not see it)."""
    query = sa.select(Handover).where(Handover.id == handover_id, Handover.to_cell_id == tenant_id,
                                      Handover.summary_chosen_at.is_not(None))
    return db.session.scalar(query.with_for_update() if lock else query)


def is_received(tenant_id: int, handover_id: int) -> bool:
    return _received(tenant_id, handover_id) is not None


def _receiving_file(handover_id: int) -> HandoverFile | None:
    return db.session.scalar(sa.select(HandoverFile).where(
        HandoverFile.handover_id == handover_id, HandoverFile.side == HandoverSide.RECEIVING))


def _received_view(handover: Handover, names: dict[int, str], *, with_summary: bool) -> HandoverView:
    summary = signal = None
    if with_summary and handover.status == HandoverStatus.ACCEPTED:
        record = _receiving_file(handover.id)
        summary = json.loads(record.summary) if record is not None and record.summary else None
        signal_id = summary.pop("signal_id", None) if summary else None
        signal = signal_of_handover(signal_id) if signal_id is not None else None
    return HandoverView(
        id=handover.id, file_id=None, sending=False, other_cell=names.get(handover.from_cell_id),
        nis_code=handover.nis_code, municipality=municipality_name(handover.nis_code), status=handover.status,
        sent=True, proposed_at=handover.summary_chosen_at, decided_at=handover.decided_at, summary=summary,
        signal=signal,
    )


def received_for(tenant_id: int) -> list[HandoverView]:
    """The hand-overs sent to the cell, newest first (nothing decrypted)."""
    rows = db.session.scalars(sa.select(Handover).where(
        Handover.to_cell_id == tenant_id, Handover.summary_chosen_at.is_not(None),
    ).order_by(Handover.summary_chosen_at.desc(), Handover.id.desc())).all()
    names = _names(*(row.from_cell_id for row in rows))
    return [_received_view(row, names, with_summary=False) for row in rows]


def received_view(tenant_id: int, handover_id: int, actor) -> HandoverView:
    """One hand-over sent to the cell; once accepted, its summary, decrypted (audited)."""
    _require_coordinator(actor, tenant_id)
    handover = _received(tenant_id, handover_id)
    if handover is None:
        raise FederationError(NO_HANDOVER)
    view = _received_view(handover, _names(handover.from_cell_id), with_summary=True)
    if view.summary is not None:
        audit.record("federation.handover_read", subject=f"handover:{handover.id}",
                     details={"handover_id": handover.id, "membership_id": actor.id})
    return view


def _undecided(tenant_id: int, handover_id: int, actor) -> Handover:
    _require_coordinator(actor, tenant_id)
    handover = _received(tenant_id, handover_id, lock=True)
    if handover is None:
        raise FederationError(NO_HANDOVER)
    if handover.status != HandoverStatus.PROPOSED:
        raise FederationError(DECIDED[handover.status])
    return handover


def _sending_file(handover: Handover) -> HandoverFile | None:
    return db.session.scalar(sa.select(HandoverFile).where(
        HandoverFile.handover_id == handover.id, HandoverFile.side == HandoverSide.SENDING))


def accept(tenant_id: int, handover_id: int, actor) -> None:
    """The receiving cell takes the person over: the chosen summary is registered in its intake
    as a signal waiting to be weighed (the cell's joint weighing then decides, as for every
    signal); the hand-over keeps only the way to that signal."""
    handover = _undecided(tenant_id, handover_id, actor)
    with tenant_context(handover.from_cell_id):
        sending = _sending_file(handover)
        chosen = sending.summary if sending is not None else None
        if sending is not None:
            sending.summary = None  # it travelled: the sending cell keeps no copy of the choice
        db.session.flush()
    received = json.loads(chosen) if chosen else {}
    signal = register_handover(
        handover_id=handover.id, from_cell=_names(handover.from_cell_id).get(handover.from_cell_id),
        municipality=municipality_name(handover.nis_code), summary=received.get("summary"),
        identity=received.get("identity"), follow_up=received.get("follow_up"), recorded_by_id=actor.id,
        residence_nis=handover.nis_code,
    )
    copy = HandoverFile(handover_id=handover.id, side=HandoverSide.RECEIVING, nis_code=handover.nis_code)
    db.session.add(copy)
    # Only the way to the signal is kept here: what travelled lives in the signal alone, under
    # the cell's retention rules (a second copy beside it would outlive the signal's erasure).
    copy.summary = json.dumps({"signal_id": signal.id}, ensure_ascii=False)
    db.session.flush()
    handover.status, handover.decided_at = HandoverStatus.ACCEPTED, utcnow()
    details = {"handover_id": handover.id}
    audit.record("federation.handover_accepted", subject=f"handover:{handover.id}",
                 details={**details, "membership_id": actor.id, "from_cell": handover.from_cell_id,
                          "signal": signal.reference})
    audit_in(handover.from_cell_id, "federation.handover_accepted", subject=f"handover:{handover.id}",
             details={**details, "to_cell": tenant_id})
    _tell_sender(handover, accepted=True)


def decline(tenant_id: int, handover_id: int, actor, reason: str | None) -> None:
    """The receiving cell declines (a reason, which the sending cell reads); nothing travels."""
    text = (reason or "").strip()
    if not text:
        raise ValidationError({"reason": [str(REASON_REQUIRED)]})
    if len(text) > REASON_MAX:
        raise ValidationError({"reason": [str(TOO_LONG) % {"max": REASON_MAX}]})
    handover = _undecided(tenant_id, handover_id, actor)
    with tenant_context(handover.from_cell_id):
        sending = _sending_file(handover)
        if sending is not None:
            sending.summary = None  # nothing travels, and nothing of it is kept
            sending.decline_reason = text
        db.session.flush()
    handover.status, handover.decided_at = HandoverStatus.DECLINED, utcnow()
    details = {"handover_id": handover.id}
    audit.record("federation.handover_declined", subject=f"handover:{handover.id}",
                 details={**details, "membership_id": actor.id, "from_cell": handover.from_cell_id})
    audit_in(handover.from_cell_id, "federation.handover_declined", subject=f"handover:{handover.id}",
             details={**details, "to_cell": tenant_id})
    _tell_sender(handover, accepted=False)


def _withdraw(handover: Handover, reason: str, by_cell: int) -> None:
    handover.status, handover.withdrawn_at = HandoverStatus.WITHDRAWN, utcnow()
    other = handover.to_cell_id if by_cell == handover.from_cell_id else handover.from_cell_id
    details = {"handover_id": handover.id, "reason": reason}
    audit_in(by_cell, "federation.handover_withdrawn", subject=f"handover:{handover.id}", details=details)
    audit_in(other, "federation.handover_withdrawn", subject=f"handover:{handover.id}", details=details)


def case_erased(case_id: int) -> int:
    """The sending case is being erased: a hand-over not decided yet is withdrawn, and the
    case's file goes (its summary was under the case's key, destroyed with the case)."""
    tenant_id = current_tenant_id()
    withdrawn = 0
    records = db.session.scalars(sa.select(HandoverFile).where(HandoverFile.case_id == case_id)).all()
    for record in records:
        handover = db.session.get(Handover, record.handover_id) if record.handover_id is not None else None
        if handover is not None and handover.status == HandoverStatus.PROPOSED:
            _withdraw(handover, "case_erased", tenant_id)
            withdrawn += 1
        db.session.delete(record)
    db.session.flush()
    return withdrawn


def withdraw_cell(tenant_id: int) -> int:
    """A cell leaves the platform: its undecided hand-overs, either way, are withdrawn (the
    other cell's trail says so); the rows then go with the cell's other rows."""
    withdrawn = 0
    for handover in db.session.scalars(sa.select(Handover).where(
            sa.or_(Handover.from_cell_id == tenant_id, Handover.to_cell_id == tenant_id),
            Handover.status == HandoverStatus.PROPOSED)):
        _withdraw(handover, "cell_offboarded", tenant_id)
        withdrawn += 1
    return withdrawn
