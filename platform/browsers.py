"""Server-side browser sessions: the cookie carries one opaque random token, nothing else.

Flask's own sessions keep their content in a signed cookie that anyone holding it can read:
which cells a browser is signed in to, the flash messages of the last page. Here the cookie
(``livc_session``) holds a random token, signed so that a forged or altered cookie can be
noticed and audited; the content (the CSRF token, the per-cell sign-in tokens of
:mod:`livc.platform.sessions`, the operator's, flash messages) stays in ``browser_sessions``,
found by the SHA-256 of that token.

At every sign-in (a cell's or the console's) :func:`renew` gives the browser a new token:
whoever knew the old value (session fixation) is left with a key that opens nothing. The
content moves with it, so the browser stays signed in to its other cells.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g, session
from flask.sessions import SecureCookieSession, SessionInterface, session_json_serializer
from itsdangerous import BadSignature, Signer
from sqlalchemy.orm import Mapped, mapped_column

from livc.platform.crypto import new_token, token_digest
from livc.platform.db import Id, db
from livc.platform.timeutil import utcnow

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(seconds=60)  # last activity is written at most once a minute
_TOKEN_MAX = 200  # a signed token is about 70 characters; anything much longer is not ours


class BrowserSession(db.Model):
    """One browser's session content (not a cell's: a browser may be signed in to several)."""

    __tablename__ = "browser_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    data: Mapped[str] = mapped_column(sa.Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ServerSession(SecureCookieSession):
    """The session dict of one request, with the browser row it came from."""

    def __init__(self, initial=None, *, row_id: int | None = None, token: str | None = None,
                 last_seen_at: datetime | None = None):
        super().__init__(initial)
        self.row_id = row_id
        self.token = token
        self.last_seen_at = last_seen_at
        self.renew = False


def renew() -> None:
    """Give this browser a new token when the response is sent (at every sign-in)."""
    if isinstance(session, ServerSession):
        session.renew = True
        session.modified = True


def _lifetime() -> timedelta:
    # No session of any kind outlives an absolute sign-in lifetime of inactivity.
    return timedelta(hours=current_app.extensions["livc.settings"].session_absolute_hours)


class ServerSessions(SessionInterface):
    """Flask's session interface, with the content kept in the database."""

    serializer = session_json_serializer  # Flask's own: tuples (flash messages), lazy texts, dates

    def _signer(self, app) -> Signer:
        return Signer(app.secret_key, salt="livc-browser-session", key_derivation="hmac")

    def open_session(self, app, request) -> ServerSession:
        presented = request.cookies.get(self.get_cookie_name(app))
        if not presented:
            return ServerSession()
        try:
            token = self._signer(app).unsign(presented[:_TOKEN_MAX]).decode()
        except BadSignature:
            g.session_cookie_refused = True  # forged or altered: the cell pages audit it
            return ServerSession()
        row = db.session.execute(
            sa.select(BrowserSession.id, BrowserSession.data, BrowserSession.last_seen_at)
            .where(BrowserSession.token_digest == token_digest(token))
        ).one_or_none()
        if row is None or row.last_seen_at + _lifetime() <= utcnow():
            return ServerSession()  # renewed, ended or expired: an empty session, a new token if needed
        try:
            content = self.serializer.loads(row.data)
        except ValueError:
            content = {}
        return ServerSession(content, row_id=row.id, token=token, last_seen_at=row.last_seen_at)

    def save_session(self, app, session: ServerSession, response) -> None:
        name, domain, path = self.get_cookie_name(app), self.get_cookie_domain(app), self.get_cookie_path(app)
        if session.accessed:
            response.vary.add("Cookie")
        now = utcnow()
        try:
            token = self._store(session, now)
            db.session.commit()
        except sa.exc.SQLAlchemyError as error:
            db.session.rollback()
            log.error("browser session not saved (%s)", type(error).__name__)
            return
        if token is None:
            return
        if token == "":
            response.delete_cookie(name, domain=domain, path=path, secure=self.get_cookie_secure(app),
                                   httponly=self.get_cookie_httponly(app), samesite=self.get_cookie_samesite(app))
            return
        response.vary.add("Cookie")
        response.set_cookie(
            name, self._signer(app).sign(token).decode(), expires=self.get_expiration_time(app, session),
            httponly=self.get_cookie_httponly(app), domain=domain, path=path,
            secure=self.get_cookie_secure(app), samesite=self.get_cookie_samesite(app),
        )

    def _store(self, session: ServerSession, now: datetime) -> str | None:
        """Write the session; the cookie's new token, ``""`` to delete it, None to leave it."""
        content = self.serializer.dumps(dict(session))
        if session.row_id is None:
            if not session.modified or not session:
                return None
            token = new_token()
            db.session.add(BrowserSession(token_digest=token_digest(token), data=content, created_at=now,
                                          last_seen_at=now))
            return token
        table = BrowserSession.__table__
        where = table.c.id == session.row_id
        if not session and session.modified and not session.renew:
            db.session.execute(sa.delete(table).where(where))
            return ""
        if session.renew:
            token = new_token()
            db.session.execute(sa.update(table).where(where).values(
                token_digest=token_digest(token), data=content, last_seen_at=now))
            return token
        if session.modified:
            db.session.execute(sa.update(table).where(where).values(data=content, last_seen_at=now))
        elif session.last_seen_at is None or now - session.last_seen_at >= TOUCH_EVERY:
            db.session.execute(sa.update(table).where(where).values(last_seen_at=now))
        return None


def purge_expired() -> int:
    """Delete the browser sessions nobody used for an absolute sign-in lifetime."""
    result = db.session.execute(sa.delete(BrowserSession).where(BrowserSession.last_seen_at <= utcnow() - _lifetime()))
    return result.rowcount or 0
