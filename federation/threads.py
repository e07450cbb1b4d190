"""The shared thread of two cells after both confirmed an alert (seed 001, "Samenwerking":
two cells working on the same person cooperate on the case).

Who takes part: the coordinators of both cells and, once *both* cells agreed (each coordinator
ticks "let our information officer take part"), their information officers with a valid
security clearance. Nobody else, and only while the alert stays confirmed by both.

Where a message lives: keys are per cell, so each message is written twice, once in each cell's
tenant-scoped ``federation_thread_entries`` (the other cell's copy inside its tenant context),
each encrypted under that cell's key for the thread (``fedthread:<thread id>``). The shared row
(``federation_threads``) holds ids and dates only. Every message is in both cells' audit
trails; reading the thread is audited as a read of the cell's case. The other side's
participants get a mail naming the cells and the shared reference, never the content, for a
message, for the thread's closing (the reason stays in livc) and when both cells let their
information officers in.

The thread ends when either side closes it (with a reason, written to both copies) and is
read-only from then on. When a cell's case is erased, that cell's copy goes with it (its entries
deleted, its key destroyed) and the other cell's copy says the other cell left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.federation.alerts import alert_for
from livc.federation.links import FederationError, audit_in
from livc.federation.models import (
    AlertState,
    CaseFederation,
    CooperationThread,
    EntryKind,
    FederationEnrolment,
    MatchAlert,
    ThreadEntry,
)
from livc.platform import audit
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.keys import destroy_key, record_scope
from livc.platform.mail import render_mail, send_mail
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.members.reading import cleared_officer_contacts, coordinator_contacts

MESSAGE_MAX = 5000
REASON_MAX = 2000
NO_THREAD = _l("There is no such cooperation.")
NOT_CONFIRMED = _l("The cooperation opens only once both cells confirmed it is the same person.")
THREAD_CLOSED = _l("This cooperation is closed: it can be read, not written to.")
OTHER_LEFT = _l("The other cell's case was erased: it left this cooperation.")
NOT_A_PARTICIPANT = _l(
    "Only the coordinators take part, and the cleared information officers once both cells agreed."
)
ONLY_COORDINATOR = _l("Only a coordinator of the cell can do this.")
EMPTY_MESSAGE = _l("Write a message.")
MESSAGE_TOO_LONG = _l("At most %(max)s characters.")
REASON_REQUIRED = _l("Say why the cooperation ends.")


@dataclass(frozen=True)
class EntryView:
    kind: EntryKind
    ours: bool  # written by this cell
    author: str | None
    body: str | None
    sent_at: datetime


@dataclass(frozen=True)
class ThreadView:
    """A thread as one cell sees it: its own copy."""

    id: int
    alert_id: int | None
    shared_reference: str | None
    other_cell: str
    case_id: int | None  # this cell's case on the alert, if still in the cell
    case_code: str | None
    open: bool
    writable: bool
    officers_ours: bool  # this cell agreed to let its information officers take part
    officers_theirs: bool
    officers_join: bool
    other_left: bool
    entries: tuple[EntryView, ...] = ()


def _error(message, field: str) -> ValidationError:
    return ValidationError({field: [str(message)]})


def is_coordinator(actor, tenant_id: int) -> bool:
    return (actor is not None and actor.tenant_id == tenant_id and actor.role == Role.COORDINATOR
            and actor.usable and current_tenant_id() == tenant_id)


def _is_cleared_officer(actor, tenant_id: int) -> bool:
    return (actor is not None and actor.tenant_id == tenant_id and actor.role == Role.INFORMATION_OFFICER
            and actor.usable and actor.clearance_valid and current_tenant_id() == tenant_id)


def may_take_part(actor, tenant_id: int, thread: CooperationThread | None) -> bool:
    """Coordinators always; cleared information officers once both cells agreed."""
    if is_coordinator(actor, tenant_id):
        return True
    return thread is not None and thread.officers_join and _is_cleared_officer(actor, tenant_id)


def _confirmed_alert(tenant_id: int, alert_id: int):
    view = alert_for(tenant_id, alert_id)
    if view is None:
        raise FederationError(NO_THREAD)
    if view.state != AlertState.CONFIRMED:
        raise FederationError(NOT_CONFIRMED)
    return view


def thread_of_alert(tenant_id: int, alert_id: int) -> CooperationThread | None:
    return db.session.scalar(sa.select(CooperationThread).where(
        CooperationThread.alert_id == alert_id,
        sa.or_(CooperationThread.cell_a_id == tenant_id, CooperationThread.cell_b_id == tenant_id),
    ))


def threads_of_alerts(tenant_id: int, alert_ids) -> dict[int, CooperationThread | None]:
    """Alert id -> its thread (None if not opened) for a page of alerts: one query for any number."""
    ids = set(alert_ids)
    found = dict.fromkeys(ids)
    if ids:
        for thread in db.session.scalars(sa.select(CooperationThread).where(
            CooperationThread.alert_id.in_(ids),
            sa.or_(CooperationThread.cell_a_id == tenant_id, CooperationThread.cell_b_id == tenant_id),
        )):
            found[thread.alert_id] = thread
    return found


def find_thread(tenant_id: int, thread_id: int, *, lock: bool = False) -> CooperationThread | None:
    query = sa.select(CooperationThread).where(
        CooperationThread.id == thread_id,
        sa.or_(CooperationThread.cell_a_id == tenant_id, CooperationThread.cell_b_id == tenant_id),
    )
    return db.session.scalar(query.with_for_update() if lock else query)


def open_thread(tenant_id: int, alert_id: int, actor) -> CooperationThread:
    """The thread of a confirmed alert, opened by a coordinator the first time (idempotent)."""
    if not is_coordinator(actor, tenant_id):
        raise FederationError(ONLY_COORDINATOR)
    _confirmed_alert(tenant_id, alert_id)
    thread = thread_of_alert(tenant_id, alert_id)
    if thread is not None:
        return thread
    alert = db.session.get(MatchAlert, alert_id)
    thread = CooperationThread(alert_id=alert.id, cell_a_id=alert.tenant_a_id, cell_b_id=alert.tenant_b_id)
    db.session.add(thread)
    db.session.flush()
    details = {"thread_id": thread.id, "alert_id": alert.id}
    audit.record("federation.thread_opened", subject=f"thread:{thread.id}",
                 details={**details, "membership_id": actor.id})
    audit_in(thread.other(tenant_id), "federation.thread_opened", subject=f"thread:{thread.id}", details=details)
    return thread


def _participant_thread(tenant_id: int, thread_id: int, actor, *, lock: bool = False) -> CooperationThread:
    thread = find_thread(tenant_id, thread_id, lock=lock)
    if thread is None or not may_take_part(actor, tenant_id, thread):
        raise FederationError(NO_THREAD if thread is None else NOT_A_PARTICIPANT)
    return thread


def _writable(thread: CooperationThread, tenant_id: int) -> None:
    """Refuse a write to a thread that is closed, left, or whose alert is no longer confirmed."""
    if thread.closed_at is not None:
        raise FederationError(THREAD_CLOSED)
    if getattr(thread, f"left_{'b' if thread.side(tenant_id) == 'a' else 'a'}_at") is not None:
        raise FederationError(OTHER_LEFT)
    alert = db.session.get(MatchAlert, thread.alert_id) if thread.alert_id is not None else None
    if alert is None or alert.state != AlertState.CONFIRMED:
        raise FederationError(NOT_CONFIRMED)


def _entries(thread_id: int) -> list[ThreadEntry]:
    return list(db.session.scalars(
        sa.select(ThreadEntry).where(ThreadEntry.thread_id == thread_id).order_by(ThreadEntry.sent_at, ThreadEntry.id)
    ))


def _view(thread: CooperationThread, tenant_id: int, *, with_entries: bool) -> ThreadView:
    side = thread.side(tenant_id)
    other_side = "b" if side == "a" else "a"
    alert = alert_for(tenant_id, thread.alert_id) if thread.alert_id is not None else None
    entries = ()
    if with_entries:
        entries = tuple(
            EntryView(entry.kind, entry.from_cell_id == tenant_id, entry.author, entry.body, entry.sent_at)
            for entry in _entries(thread.id)
        )
    other_left = getattr(thread, f"left_{other_side}_at") is not None
    open_ = thread.closed_at is None
    return ThreadView(
        id=thread.id,
        alert_id=thread.alert_id,
        shared_reference=alert.shared_reference if alert is not None else None,
        other_cell=db.session.get(Tenant, thread.other(tenant_id)).name,
        case_id=alert.case_id if alert is not None else None,
        case_code=alert.case_code if alert is not None else None,
        open=open_,
        writable=open_ and not other_left and alert is not None and alert.state == AlertState.CONFIRMED,
        officers_ours=getattr(thread, f"officers_{side}_at") is not None,
        officers_theirs=getattr(thread, f"officers_{other_side}_at") is not None,
        officers_join=thread.officers_join,
        other_left=other_left,
        entries=entries,
    )


def summary_of(tenant_id: int, thread_id: int, actor) -> ThreadView:
    """The thread without its messages (nothing decrypted, nothing to audit)."""
    return _view(_participant_thread(tenant_id, thread_id, actor), tenant_id, with_entries=False)


def read_thread(tenant_id: int, thread_id: int, actor) -> ThreadView:
    """The cell's copy of the thread, decrypted: audited as a read of the cell's case."""
    thread = _participant_thread(tenant_id, thread_id, actor)
    view = _view(thread, tenant_id, with_entries=True)
    subject = f"case:{view.case_code}" if view.case_code else f"thread:{thread.id}"
    audit.record("case.read", subject=subject,
                 details={"part": "cooperation", "thread_id": thread.id, "membership_id": actor.id})
    return view


def threads_for(tenant_id: int, actor) -> list[ThreadView]:
    """The cell's threads the actor takes part in, newest first (no messages)."""
    threads = db.session.scalars(
        sa.select(CooperationThread)
        .where(sa.or_(CooperationThread.cell_a_id == tenant_id, CooperationThread.cell_b_id == tenant_id))
        .order_by(CooperationThread.opened_at.desc(), CooperationThread.id.desc())
    ).all()
    return [_view(thread, tenant_id, with_entries=False) for thread in threads if may_take_part(actor, tenant_id, thread)]


def _write_both(thread: CooperationThread, tenant_id: int, kind: EntryKind, author: str | None,
                body: str | None) -> None:
    """The entry in this cell, then in the other one (under each cell's own key)."""
    now = utcnow()
    for cell_id in (tenant_id, thread.other(tenant_id)):
        with tenant_context(cell_id):
            entry = ThreadEntry(thread_id=thread.id, kind=kind, from_cell_id=tenant_id, sent_at=now)
            db.session.add(entry)
            entry.author = author
            entry.body = body
            db.session.flush()


def _checked_text(text: str | None, *, field: str, empty, maximum: int) -> str:
    text = (text or "").strip()
    if not text:
        raise _error(empty, field)
    if len(text) > maximum:
        raise _error(str(MESSAGE_TOO_LONG) % {"max": maximum}, field)
    return text


def post(tenant_id: int, thread_id: int, actor, body: str | None) -> None:
    """A message to the other cell: copied into both cells, audited in both, the other side's
    participants told by mail (cells and reference only)."""
    thread = _participant_thread(tenant_id, thread_id, actor, lock=True)
    _writable(thread, tenant_id)
    text = _checked_text(body, field="body", empty=EMPTY_MESSAGE, maximum=MESSAGE_MAX)
    _write_both(thread, tenant_id, EntryKind.MESSAGE, actor.account.label, text)
    thread.last_message_at = utcnow()
    details = {"thread_id": thread.id, "alert_id": thread.alert_id}
    audit.record("federation.thread_message_sent", subject=f"thread:{thread.id}",
                 details={**details, "membership_id": actor.id})
    other = thread.other(tenant_id)
    audit_in(other, "federation.thread_message_received", subject=f"thread:{thread.id}", details=details)
    notify_other_side(thread, tenant_id)


def thread_link(tenant: Tenant, thread_id: int) -> str:
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/{tenant.slug}/federation/cooperation/thread?thread={thread_id}"


def _tell_other_side(thread: CooperationThread, tenant_id: int, template: str, action: str) -> int:
    """Mail the other cell's participants (its coordinators, and its cleared information officers
    once both cells let them in) in its first language: the cells and the shared reference, a
    link, never content. Audited in the other cell with the number of recipients."""
    other = db.session.get(Tenant, thread.other(tenant_id))
    sender = db.session.get(Tenant, tenant_id)
    alert = db.session.get(MatchAlert, thread.alert_id) if thread.alert_id is not None else None
    with tenant_context(other.id):
        recipients = list(coordinator_contacts())
        if thread.officers_join:
            recipients += [c for c in cleared_officer_contacts() if c not in recipients]
        subject, body = render_mail(
            template, other.languages[0], tenant=other, other=sender.name,
            reference=alert.shared_reference if alert is not None else f"#{thread.id}",
            link=thread_link(other, thread.id),
        )
        for contact in recipients:
            send_mail(contact.email, subject, body, tenant_id=other.id)
        audit.record(action, subject=f"thread:{thread.id}", details={"recipients": len(recipients)})
    return len(recipients)


def notify_other_side(thread: CooperationThread, tenant_id: int) -> int:
    """Mail the other cell's participants that a message waits (no content, cells only)."""
    return _tell_other_side(thread, tenant_id, "federation_thread_message", "federation.thread_notified")


def agree_officers(tenant_id: int, thread_id: int, actor, agree: bool) -> None:
    """This cell lets its cleared information officers take part (or no longer does); they
    join once both cells agreed."""
    if not is_coordinator(actor, tenant_id):
        raise FederationError(ONLY_COORDINATOR)
    thread = _participant_thread(tenant_id, thread_id, actor, lock=True)
    if thread.closed_at is not None:
        raise FederationError(THREAD_CLOSED)
    column = f"officers_{thread.side(tenant_id)}_at"
    if (getattr(thread, column) is not None) == agree:
        return
    setattr(thread, column, utcnow() if agree else None)
    action = "federation.thread_officers_agreed" if agree else "federation.thread_officers_withdrawn"
    details = {"thread_id": thread.id, "both": thread.officers_join}
    audit.record(action, subject=f"thread:{thread.id}", details={**details, "membership_id": actor.id})
    audit_in(thread.other(tenant_id), action, subject=f"thread:{thread.id}", details={**details, "cell": tenant_id})
    if thread.officers_join:
        _tell_other_side(thread, tenant_id, "federation_thread_officers", "federation.thread_notified")


def close_thread(tenant_id: int, thread_id: int, actor, reason: str | None) -> None:
    """End the cooperation (a coordinator, with a reason written to both copies)."""
    if not is_coordinator(actor, tenant_id):
        raise FederationError(ONLY_COORDINATOR)
    thread = _participant_thread(tenant_id, thread_id, actor, lock=True)
    if thread.closed_at is not None:
        raise FederationError(THREAD_CLOSED)
    text = _checked_text(reason, field="reason", empty=REASON_REQUIRED, maximum=REASON_MAX)
    _write_both(thread, tenant_id, EntryKind.CLOSED, actor.account.label, text)
    thread.closed_at, thread.closed_by_id = utcnow(), tenant_id
    details = {"thread_id": thread.id}
    audit.record("federation.thread_closed", subject=f"thread:{thread.id}", details={**details, "membership_id": actor.id})
    audit_in(thread.other(tenant_id), "federation.thread_closed", subject=f"thread:{thread.id}",
             details={**details, "cell": tenant_id})
    _tell_other_side(thread, tenant_id, "federation_thread_closed", "federation.thread_notified")


def threads_of_case(case_id: int) -> list[CooperationThread]:
    """The threads on alerts of the cell's case ``case_id`` (through its federation ref)."""
    tenant_id = current_tenant_id()
    ref = db.session.scalar(sa.select(CaseFederation.ref).where(CaseFederation.case_id == case_id))
    if ref is None:
        return []
    enrolments = sa.select(FederationEnrolment.id).where(FederationEnrolment.ref == ref)
    alerts = sa.select(MatchAlert.id).where(
        sa.or_(MatchAlert.enrolment_a_id.in_(enrolments), MatchAlert.enrolment_b_id.in_(enrolments))
    )
    return list(db.session.scalars(sa.select(CooperationThread).where(
        CooperationThread.alert_id.in_(alerts),
        sa.or_(CooperationThread.cell_a_id == tenant_id, CooperationThread.cell_b_id == tenant_id),
    )))


def case_erased(case_id: int) -> int:
    """The cell's case is being erased: its copy of every thread on it goes (entries deleted,
    key destroyed), the thread ends, and the other cell's copy says the other cell left."""
    tenant_id = current_tenant_id()
    gone = 0
    for thread in threads_of_case(case_id):
        db.session.execute(sa.delete(ThreadEntry).where(ThreadEntry.thread_id == thread.id))
        destroy_key(record_scope("fedthread", thread.id))
        now = utcnow()
        setattr(thread, f"left_{thread.side(tenant_id)}_at", now)
        if thread.closed_at is None:
            thread.closed_at, thread.closed_by_id = now, tenant_id
        other = thread.other(tenant_id)
        with tenant_context(other):
            db.session.add(ThreadEntry(thread_id=thread.id, kind=EntryKind.LEFT, from_cell_id=tenant_id, sent_at=now))
            db.session.flush()
        audit.record("federation.thread_left", subject=f"thread:{thread.id}", details={"reason": "case_erased"})
        audit_in(other, "federation.thread_left", subject=f"thread:{thread.id}",
                 details={"reason": "case_erased", "cell": tenant_id})
        gone += 1
    return gone


def cell_left(tenant_id: int) -> int:
    """A cell leaves the platform (offboarding): its threads go with its rows. The shared row
    goes too (it names the cell), and a copy is only reachable through it, so the other cell's
    copy is erased as well (entries deleted, its key destroyed) and its trail says why."""
    threads = db.session.scalars(sa.select(CooperationThread).where(
        sa.or_(CooperationThread.cell_a_id == tenant_id, CooperationThread.cell_b_id == tenant_id))).all()
    for thread in threads:
        other = thread.other(tenant_id)
        with tenant_context(other):
            removed = db.session.execute(sa.delete(ThreadEntry).where(ThreadEntry.thread_id == thread.id)).rowcount
            destroy_key(record_scope("fedthread", thread.id))
            audit.record("federation.thread_left", subject=f"thread:{thread.id}",
                         details={"reason": "cell_offboarded", "cell": tenant_id, "entries_erased": removed or 0})
    return len(threads)
