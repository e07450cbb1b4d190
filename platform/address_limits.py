"""Rate limits per client address that hold while Redis is down.

Sign-in, password reset and every other credential-checking endpoint cap the attempts of one
client address (a moving window, the ``limits`` library). The counters live in Redis, shared by
every web process. When Redis cannot be reached those endpoints answered 500; now the
:class:`AddressLimiter` counts in the database instead (:class:`CredentialAttempt`, one row per
attempt, in a transaction of its own), with the same window and the same cap. Decided so rather
than ``limits``' in-process ``MemoryStorage``: every gunicorn worker would count on its own, so
an address would get the cap once per worker process and per web replica; the database is
shared by all of them, as Redis is. The per-account lock-out (``accounts.throttle_state``) is
already in the database and unaffected.

A failure of Redis logs one line (the error's type, no traceback) and the database counts for
:data:`REDIS_RETRY_AFTER` seconds before Redis is tried again; when it answers again, one line
says so. Rows older than the window are deleted as attempts come in. The address is stored
only as a keyed digest.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
from limits import RateLimitItem
from limits.errors import StorageError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError
from sqlalchemy.orm import Mapped, mapped_column

from livc.platform.crypto import keyed_digest
from livc.platform.db import Id, db
from livc.platform.timeutil import utcnow

__all__ = ["AddressLimiter", "CredentialAttempt", "REDIS_RETRY_AFTER"]

log = logging.getLogger(__name__)

REDIS_RETRY_AFTER = 30.0  # seconds of counting in the database before Redis is tried again
REDIS_TIMEOUT = 1.0  # seconds: a Redis that does not answer is soon known


class CredentialAttempt(db.Model):
    """One attempt of a client address at a rate-limited endpoint, counted while Redis is down.

    Platform-level (an address may try any cell); ``bucket`` is a keyed digest of the limit's
    name and the address, never the address itself."""

    __tablename__ = "credential_attempts"
    __table_args__ = (sa.Index("ix_credential_attempts_bucket_at", "bucket", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    bucket: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(index=True)


class AddressLimiter:
    """``hit(item, *identifiers)`` as ``limits``' moving window: True while under the cap.

    With a Redis URL, Redis counts, and the database while Redis fails; without one (the
    embedded mode, one process) the counters are in memory."""

    def __init__(self, redis_url: str | None):
        options = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT} if redis_url else {}
        self._primary = MovingWindowRateLimiter(storage_from_string(redis_url or "memory://", **options))
        self._shared = bool(redis_url)
        self._lock = threading.Lock()
        self._degraded_until: float | None = None  # time.monotonic(): the database counts until then

    @property
    def degraded(self) -> bool:
        return self._degraded_until is not None

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        with self._lock:
            use_database = self._degraded_until is not None and time.monotonic() < self._degraded_until
        if not use_database:
            try:
                allowed = self._primary.hit(item, *identifiers)
            except (RedisError, StorageError, OSError) as error:
                self._degrade(error)
            else:
                self._recovered()
                return allowed
        return _database_hit(item, *identifiers)

    def _degrade(self, error: BaseException) -> None:
        with self._lock:
            first = self._degraded_until is None
            self._degraded_until = time.monotonic() + REDIS_RETRY_AFTER
        if first:
            log.warning("rate limits: Redis unavailable (%s), counting attempts in the database", type(error).__name__)

    def _recovered(self) -> None:
        with self._lock:
            was = self._degraded_until is not None
            self._degraded_until = None
        if was:
            log.warning("rate limits: Redis answers again, counting attempts there")


def _database_hit(item: RateLimitItem, *identifiers: str) -> bool:
    """The moving window in the database, in a transaction of its own (kept when the request
    rolls back): the attempts of the last window for this bucket, under the cap or refused."""
    bucket = keyed_digest("address-rate-limit", "\x1f".join(identifiers))
    now = utcnow()
    window_start = now - timedelta(seconds=item.get_expiry())
    table = CredentialAttempt.__table__
    with db.engine.begin() as connection:
        connection.execute(sa.delete(table).where(table.c.at <= window_start))
        used = connection.scalar(
            sa.select(sa.func.count()).select_from(table).where(table.c.bucket == bucket, table.c.at > window_start)
        )
        if used >= item.amount:
            return False
        connection.execute(sa.insert(table).values(bucket=bucket, at=now))
    return True
