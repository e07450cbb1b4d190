"""Sign-in sessions: kept on the server, revocable, bound to one cell.

The browser holds one opaque token in its cookie (``livc_session``: Secure in production,
HttpOnly, SameSite=Lax); its session content stays on the server (:mod:`livc.platform.browsers`)
and holds, per cell, a random session token whose SHA-256 is the key of an :class:`AuthSession`
row in that cell: the server maps (browser, cell) to the row, and the cookie tells no one which
cells a browser is signed in to. Deleting the row ends the session wherever the cookie is.
Every sign-in gives the browser a new token (the old cookie value opens nothing any more) and
moves its other cells' sessions to it, and the cell's own token is new whenever the member's
rights change; sessions
end after ``LIVC_SESSION_IDLE_MINUTES`` without activity and ``LIVC_SESSION_ABSOLUTE_HOURS``
after sign-in, whatever happens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, session
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from livc.platform import browsers
from livc.platform.crypto import new_token, token_digest
from livc.platform.db import Id, TenantScoped, db
from livc.platform.jobs import task
from livc.platform.timeutil import utcnow

SESSION_KEY = "auth"  # server-side session content: {tenant slug: token}
ACCOUNT_KEY = "auth_account"  # whose sessions those are (one person per browser)
TOUCH_EVERY = timedelta(seconds=60)  # last activity is written at most once a minute


class AuthSession(TenantScoped, db.Model):
    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    account_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), index=True)
    privilege_version: Mapped[int]
    method: Mapped[str] = mapped_column(sa.String(20))  # "password" or "sso"
    # For single sign-on: the provider's session id, so its back-channel logout can end this one.
    sso_issuer: Mapped[str | None] = mapped_column(sa.String(300))
    sso_sid: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    sso_subject: Mapped[str | None] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


def _settings():
    return current_app.extensions["livc.settings"]


def _tokens() -> dict:
    return dict(session.get(SESSION_KEY) or {})


def _store_token(slug: str, token: str | None) -> None:
    tokens = _tokens()
    if token is None:
        tokens.pop(slug, None)
    else:
        tokens[slug] = token
    session[SESSION_KEY] = tokens


def start(slug: str, membership, method: str, *, sso_issuer=None, sso_sid=None, sso_subject=None) -> AuthSession:
    """Sign ``membership`` in: a fresh token, and a fresh CSRF token with it.

    The browser gets a new cookie token too (session fixation); its sessions in other cells
    move to the new token when they are the same person's, since signing in here says nothing
    against them. Another person's (a shared computer) do not carry over: this browser forgets
    their tokens, so nothing reaches those sessions any more (the periodic purge removes them).
    """
    now = utcnow()
    token = new_token()
    row = AuthSession(
        token_digest=token_digest(token),
        account_id=membership.account_id,
        membership_id=membership.id,
        privilege_version=membership.privilege_version,
        method=method,
        sso_issuer=sso_issuer,
        sso_sid=sso_sid,
        sso_subject=sso_subject,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=_settings().session_absolute_hours),
    )
    db.session.add(row)
    db.session.flush()
    tokens = _tokens() if session.get(ACCOUNT_KEY) == membership.account_id else {}
    session.clear()  # whatever was in the cookie before signing in does not carry over
    tokens[slug] = token
    session[SESSION_KEY] = tokens
    session[ACCOUNT_KEY] = membership.account_id
    browsers.renew()
    browsers.purge_expired()
    return row


@dataclass(frozen=True)
class Found:
    row: AuthSession | None
    ended: str | None = None  # why a session the browser still presented is over
    joined: tuple = ()  # what ``also`` added to the session's query, for a live session


def current(slug: str, also: Callable[[sa.Select], sa.Select] | None = None) -> Found:
    """The live session for this cell, touched; or why the presented one has ended.

    ``also`` may widen the session's query with what the caller reads next anyway (the member
    behind the session, joined): loaded in the same statement, it is then found in the
    session's identity map instead of costing a round trip each."""
    token = _tokens().get(slug)
    if not token:
        return Found(None)
    query = sa.select(AuthSession).where(AuthSession.token_digest == token_digest(token))
    # The whole row, not ``scalars()``: that would skip loading what ``also`` joined.
    result = db.session.execute(also(query) if also is not None else query).one_or_none()
    row, joined = (result[0], tuple(result[1:])) if result is not None else (None, ())
    if row is None:
        _store_token(slug, None)
        return Found(None, "revoked")
    now = utcnow()
    if row.expires_at <= now or row.last_seen_at + timedelta(minutes=_settings().session_idle_minutes) <= now:
        db.session.delete(row)
        _store_token(slug, None)
        return Found(None, "expired")
    if now - row.last_seen_at >= TOUCH_EVERY:
        _touch(row, now)
    return Found(row, joined=joined)


def _touch(row: AuthSession, now: datetime) -> None:
    """Write the session's last activity, at most once a minute, without holding up the request.

    On PostgreSQL it is its own short transaction on another connection, and skips a row that is
    locked (another request of the same session is writing it: that one's time will do), so a
    session's concurrent requests never queue behind each other's last-seen update, which used to
    hold the row until the end of each request. SQLite serialises its writers anyway: there the
    update rides with the request's transaction."""
    if db.engine.dialect.name != "postgresql":
        row.last_seen_at = now
        return
    table = AuthSession.__table__
    free = (sa.select(table.c.id)
            .where(table.c.id == row.id, table.c.last_seen_at <= now - TOUCH_EVERY)
            .with_for_update(skip_locked=True))
    try:
        with db.engine.connect() as connection:
            connection.execute(sa.text("SELECT set_config('app.tenant_id', :tenant_id, true)"),
                               {"tenant_id": str(row.tenant_id)})
            connection.execute(sa.update(table).where(table.c.id.in_(free)).values(last_seen_at=now))
            connection.commit()
    except sa.exc.TimeoutError:
        return  # no connection free in the pool: the session's next request writes it
    set_committed_value(row, "last_seen_at", now)


def rotate(slug: str, row: AuthSession, privilege_version: int) -> None:
    """A new token for the same session, e.g. after the member's rights changed."""
    token = new_token()
    row.token_digest = token_digest(token)
    row.privilege_version = privilege_version
    _store_token(slug, token)
    session.pop("csrf_token", None)
    browsers.renew()  # a copied cookie stops working too, as at sign-in


def end(slug: str, row: AuthSession | None) -> None:
    if row is not None:
        db.session.delete(row)
    _store_token(slug, None)


def end_all_for(account_id: int) -> int:
    """End every session of ``account_id`` in the current cell (membership removed, password reset)."""
    result = db.session.execute(sa.delete(AuthSession).where(AuthSession.account_id == account_id))
    return result.rowcount or 0


def end_sso_sessions(issuer: str, *, sid: str | None, subject: str | None) -> int:
    """Back-channel logout: end this cell's sessions opened through ``issuer`` for ``sid``/``subject``."""
    query = sa.delete(AuthSession).where(AuthSession.sso_issuer == issuer)
    if sid:
        query = query.where(AuthSession.sso_sid == sid)
    elif subject:
        query = query.where(AuthSession.sso_subject == subject)
    else:
        return 0
    return db.session.execute(query).rowcount or 0


def purge_expired() -> int:
    """Delete the current cell's sessions that are over (a periodic job)."""
    now = utcnow()
    idle = now - timedelta(minutes=_settings().session_idle_minutes)
    result = db.session.execute(
        sa.delete(AuthSession).where(sa.or_(AuthSession.expires_at <= now, AuthSession.last_seen_at <= idle))
    )
    return result.rowcount or 0


@task(queue="maintenance")
def purge_expired_sessions() -> int:
    return purge_expired()


@task(queue="maintenance")
def purge_idle_browsers() -> int:
    """Delete the browsers' session content nobody used for a sign-in lifetime (platform-wide:
    a page that only showed a form leaves a row, whether or not anyone signed in)."""
    return browsers.purge_expired()
