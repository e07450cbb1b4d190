"""The operator realm: the platform operator's own accounts, sessions and audit trail.

Operators are not members of any cell: they have their own table, their own sign-in (argon2id
password and a TOTP second factor that every sign-in requires, enrolled at the first one),
their own server-side sessions and a platform-level audit trail, hash-chained like the cells'
trails. Their roles:

- ``support``: platform health and onboarding progress (read only), retrying failed jobs;
- ``administrator``: also onboarding, the tenant lifecycle and operator accounts.

An operator's action on a tenant is also written into that tenant's own audit trail (actor
``operator:<id>``), so the cell's coordinator sees what the operator did
(``/<cell>/operator-actions``). Nothing here ever reads case, signal or identity content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, session, url_for
from marshmallow import ValidationError

from livc.admin.operators.models import (
    SESSION_KEY,
    SETUP_LIFETIME,
    TOUCH_EVERY,
    Operator,
    OperatorAuditEntry,
    OperatorAuditHead,
    OperatorRole,
    OperatorSession,
)
from livc.platform import audit, browsers
from livc.platform.accounts import normalise_email
from livc.platform.audit import GENESIS_HASH, canonical
from livc.platform.crypto import new_token, token_digest
from livc.platform.db import db, tenant_context
from livc.platform.forms import email_field
from livc.platform.timeutil import utcnow

# --- accounts -------------------------------------------------------------------------------


class OperatorProblem(ValueError):
    """A refused operator-account operation; the message is for the command line or the page."""


def find_operator(email: str) -> Operator | None:
    return db.session.scalar(sa.select(Operator).where(Operator.email == normalise_email(email)))


def operator_list() -> list[Operator]:
    return list(db.session.scalars(sa.select(Operator).order_by(Operator.email)))


def _setup_link(token: str) -> str:
    if has_request_context():
        return url_for("admin.set_up", token=token, _external=True)
    return f"{current_app.extensions['livc.settings'].base_url}/admin/set-up/{token}"


def create_operator(email: str, role: OperatorRole, *, actor: str, display_name: str = "") -> tuple[Operator, str]:
    """A new operator account without password; returns it and its single-use set-up link."""


    try:
        email = email_field().deserialize(email.strip())
    except ValidationError as error:
        raise OperatorProblem(f"not a valid e-mail address: {' '.join(map(str, error.messages))}") from None
    if find_operator(email) is not None:
        raise OperatorProblem("an operator with this e-mail address exists already")
    operator = Operator(email=normalise_email(email), role=OperatorRole(role), display_name=display_name.strip())
    db.session.add(operator)
    db.session.flush()
    link = renew_setup_link(operator)
    record_action("operator.created", actor=actor, subject=f"operator:{operator.id}", details={"role": operator.role.value})
    return operator, link


def renew_setup_link(operator: Operator) -> str:
    token = new_token()
    operator.setup_token_digest = token_digest(token)
    operator.setup_expires_at = utcnow() + SETUP_LIFETIME
    return _setup_link(token)


def operator_for_setup(token: str) -> Operator | None:
    """The operator whose unused, unexpired set-up link ``token`` is, or None."""
    operator = db.session.scalar(sa.select(Operator).where(Operator.setup_token_digest == token_digest(token[:100])))
    if operator is None or operator.disabled_at is not None or operator.setup_expires_at is None:
        return None
    if operator.setup_expires_at <= utcnow():
        return None
    return operator


def disable_operator(operator: Operator, *, actor: str) -> int:
    """Disable an account: it cannot sign in any more and its sessions end at once."""
    if operator.disabled_at is not None:
        raise OperatorProblem("this operator is disabled already")
    others = db.session.scalar(
        sa.select(sa.func.count()).select_from(Operator).where(
            Operator.role == OperatorRole.ADMINISTRATOR, Operator.disabled_at.is_(None), Operator.id != operator.id
        )
    )
    if operator.role == OperatorRole.ADMINISTRATOR and not others:
        raise OperatorProblem("the platform needs at least one administrator: create another one first")
    operator.disabled_at = utcnow()
    operator.setup_token_digest = None
    operator.privilege_version += 1
    ended = end_all_sessions(operator.id)
    record_action("operator.disabled", actor=actor, subject=f"operator:{operator.id}", details={"sessions_ended": ended})
    return ended


# --- sessions -------------------------------------------------------------------------------


def _settings():
    return current_app.extensions["livc.settings"]


def start_session(operator: Operator) -> OperatorSession:
    """Sign the operator in: a fresh token (and a fresh CSRF token, since the cookie is cleared)."""
    now = utcnow()
    purge_expired_sessions()
    token = new_token()
    row = OperatorSession(
        token_digest=token_digest(token),
        operator_id=operator.id,
        privilege_version=operator.privilege_version,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=_settings().session_absolute_hours),
    )
    db.session.add(row)
    db.session.flush()
    session.clear()  # nothing from before signing in carries over (cell sessions included)
    session[SESSION_KEY] = token
    browsers.renew()  # a new cookie token too: a value known before signing in opens nothing
    return row


@dataclass(frozen=True)
class Found:
    row: OperatorSession | None
    operator: Operator | None = None
    ended: bool = False  # the browser presented a session that is over


def current_session() -> Found:
    """The live operator session of this browser, touched; or that the presented one ended."""
    token = session.get(SESSION_KEY)
    if not token:
        return Found(None)
    row = db.session.scalar(sa.select(OperatorSession).where(OperatorSession.token_digest == token_digest(token)))
    now = utcnow()
    operator = db.session.get(Operator, row.operator_id) if row is not None else None
    over = (
        row is None
        or operator is None
        or not operator.usable
        or row.privilege_version != operator.privilege_version
        or row.expires_at <= now
        or row.last_seen_at + timedelta(minutes=_settings().session_idle_minutes) <= now
    )
    if over:
        if row is not None:
            db.session.delete(row)
        session.pop(SESSION_KEY, None)
        return Found(None, ended=True)
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return Found(row, operator)


def end_session(row: OperatorSession | None) -> None:
    if row is not None:
        db.session.delete(row)
    session.pop(SESSION_KEY, None)
    session.pop("csrf_token", None)


def end_all_sessions(operator_id: int) -> int:
    return db.session.execute(sa.delete(OperatorSession).where(OperatorSession.operator_id == operator_id)).rowcount or 0


def purge_expired_sessions() -> int:
    now = utcnow()
    idle = now - timedelta(minutes=_settings().session_idle_minutes)
    result = db.session.execute(
        sa.delete(OperatorSession).where(sa.or_(OperatorSession.expires_at <= now, OperatorSession.last_seen_at <= idle))
    )
    return result.rowcount or 0


# --- the operator audit trail ---------------------------------------------------------------


def record_action(
    action: str,
    *,
    actor: str,
    tenant=None,
    subject: str | None = None,
    details: dict[str, Any] | None = None,
) -> OperatorAuditEntry:
    """Append to the operator trail and, when the action concerns ``tenant``, to its trail too.

    ``actor`` is ``operator:<id>`` (or ``cli`` for a command run on the server). ``details``
    hold ids, codes and counts, never a secret or personal data of the people discussed.
    """
    details = details or {}
    head = db.session.scalar(sa.select(OperatorAuditHead).with_for_update())
    if head is None:
        head = OperatorAuditHead(id=1, seq=0, hash=GENESIS_HASH)
        db.session.add(head)
    entry = OperatorAuditEntry(
        seq=head.seq + 1,
        at=utcnow(),
        actor=actor,
        action=action,
        tenant_slug=tenant.slug if tenant is not None else None,
        subject=subject,
        details=_as_json(details),
        prev_hash=head.hash,
    )
    entry.hash = entry.computed_hash()
    head.seq, head.hash = entry.seq, entry.hash
    db.session.add(entry)
    db.session.flush()
    if tenant is not None:
        with tenant_context(tenant.id):
            audit.record(f"operator.{action}", actor=actor, subject=subject, details=details)
    return entry


def _as_json(details: dict[str, Any]) -> dict[str, Any]:
    return json.loads(canonical(details))  # stored exactly as hashed


def verify_operator_trail() -> list[str]:
    """Every break in the operator trail (changed, missing or reordered entries); empty if intact."""
    problems: list[str] = []
    expected_seq, expected_prev = 1, GENESIS_HASH
    for entry in db.session.scalars(sa.select(OperatorAuditEntry).order_by(OperatorAuditEntry.seq)):
        if entry.seq != expected_seq:
            problems.append(f"entries {expected_seq} to {entry.seq - 1} are missing")
        elif entry.prev_hash != expected_prev:
            problems.append(f"entry {entry.seq} does not follow entry {entry.seq - 1}")
        if entry.computed_hash() != entry.hash:
            problems.append(f"entry {entry.seq} was changed")
        expected_seq, expected_prev = entry.seq + 1, entry.hash
    head = db.session.scalar(sa.select(OperatorAuditHead))
    if head is not None and (head.seq, head.hash) != (expected_seq - 1, expected_prev):
        problems.append("the trail's end does not match its head")
    return problems


def window_problems(entries: list[OperatorAuditEntry], *, newest: bool) -> list[str]:
    """The breaks :func:`verify_operator_trail` would report among ``entries`` (a page of the
    trail): changed entries, gaps and broken links between them, and, for the ``newest`` page,
    an end that does not match the head. A page costs the same at any length of the trail; the
    whole chain is checked by "check now" on the page and ``livc operator verify-trail``."""
    problems: list[str] = []
    ordered = sorted(entries, key=lambda entry: entry.seq)
    for before, entry in zip([None, *ordered], ordered):
        if before is None:
            if entry.seq == 1 and entry.prev_hash != GENESIS_HASH:
                problems.append("entry 1 does not follow entry 0")
        elif entry.seq != before.seq + 1:
            problems.append(f"entries {before.seq + 1} to {entry.seq - 1} are missing")
        elif entry.prev_hash != before.hash:
            problems.append(f"entry {entry.seq} does not follow entry {entry.seq - 1}")
        if entry.computed_hash() != entry.hash:
            problems.append(f"entry {entry.seq} was changed")
    head = db.session.scalar(sa.select(OperatorAuditHead)) if newest else None
    if head is not None and ordered and (head.seq, head.hash) != (ordered[-1].seq, ordered[-1].hash):
        problems.append("the trail's end does not match its head")
    return problems
