"""The platform's side of the key custodian: evaluate blinded elements, turn values into tokens.

Two custodians with one interface (:class:`Custodian`):

- :class:`CustodianClient`, the real one: the custodian service (``livc custodian serve``,
  :mod:`livc.federation.custodian.service`) over HTTP, authenticated with OAuth2 client credentials
  (authlib's requests ``OAuth2Session``). One client, and so one access token, per process
  (:func:`custodian_for` keeps it): the token is fetched when first needed, renewed once 80% of
  its lifetime has passed, and once more when the custodian answers 401 (it restarted). The
  custodian issues at most 60 tokens a minute per address: a token per job met thousands of
  refusals in a bulk enrolment. A worker forks a work horse per job, so its main process renews
  the token before each federation or maintenance job (:func:`~livc.platform.jobs.before_each_job`)
  and every job inherits it.
- :class:`InProcessCustodian`, for development, the embedded demo and tests: the same
  evaluation in this process, no HTTP, no rate limit, no audit.

:func:`custodian_for` chooses from the platform's settings. With ``LIVC_CUSTODIAN_URL`` it is
the service (always so in production). Without it, outside production, the in-process
custodian keeps its seeds in ``<LIVC_DATA_DIR>/custodian/keys.json``: the very key file and
layout of the service (``LIVC_CUSTODIAN_DATA_DIR`` defaults to ``var/custodian``, inside the
default data folder), so tokens survive a restart of the demo, ``livc custodian rotate`` and
``retire`` work on it, and ``livc custodian serve`` can take over with the same tokens. That
folder is the custodian's state, demo only: never the platform's configuration or database,
and in production the custodian's folder lives in its own deployment, out of the platform's
reach.

Tokens: ``tokens(cell, values)`` blinds each value, has the custodian evaluate the blinded
elements, and finalizes: ``(epoch, [64-byte token, ...])``, equal to
``oprf.evaluate(key of that epoch, value)``. Elements go in batches of at most
:data:`~livc.federation.custodian.settings.MAX_ELEMENTS`, every batch pinned to the epoch of
the first.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from livc.federation import oprf
from livc.federation.custodian.settings import (
    MAX_ELEMENTS,
    CustodianError,
    InvalidElement,
    RateLimited,
    RetiredEpoch,
    TooManyElements,
    UnknownEpoch,
    decode_element,
    encode_element,
)
from livc.federation.custodian.storage import EpochStatus, KeyStore, evaluate_elements
from livc.platform.jobs import before_each_job, error_type
from livc.platform.settings import ConfigurationError, Settings

__all__ = [
    "CUSTODIAN_WAITS",
    "MAX_ELEMENTS",
    "Custodian",
    "CustodianAuthError",
    "CustodianClient",
    "CustodianError",
    "CustodianUnavailable",
    "EpochStatus",
    "InProcessCustodian",
    "InvalidElement",
    "RateLimited",
    "RetiredEpoch",
    "TooManyElements",
    "UnknownEpoch",
    "custodian_for",
]

log = logging.getLogger(__name__)

TOKEN_LEEWAY = 30  # seconds: a token this close to its expiry is replaced before use
TOKEN_RENEWAL = 0.8  # of a token's lifetime: then it is renewed, before any call can meet its expiry
WARM_PAUSE = 30.0  # seconds without trying to renew before jobs after a renewal failed
HTTP_TIMEOUT = 30.0  # seconds per call (a full batch takes well under one)
CONNECT_TIMEOUT = 5.0  # seconds to reach it: a custodian that is down is known soon


class CustodianUnavailable(CustodianError):
    """The custodian could not be reached, or failed (5xx, a malformed answer): try later."""

    status, code = 503, "unavailable"


class CustodianAuthError(CustodianError):
    """The custodian refused this platform's credentials (wrong id or secret, client removed)."""

    status, code = 401, "unauthorized"


CUSTODIAN_WAITS: tuple[type[CustodianError], ...] = (CustodianUnavailable, CustodianAuthError, RateLimited)
"""The custodian is down or refuses (unreachable, 5xx, credentials refused, rate-limited): what
asked it waits and is retried later (an enrolment stays pending), never fails a request."""

_ERRORS: dict[int, type[CustodianError]] = {
    409: UnknownEpoch,
    410: RetiredEpoch,
    413: TooManyElements,
}


def _chunks(items: Sequence[bytes], size: int) -> list[Sequence[bytes]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


class Custodian:
    """What the federation asks of a key custodian (the HTTP client or the in-process one)."""

    def evaluate(self, cell: str, elements: Sequence[bytes], epoch: int | None = None, *,
                 purpose: str | None = None, scheme: int | None = None) -> tuple[int, list[bytes]]:
        """BlindEvaluate ``elements`` for ``cell`` under ``epoch`` (default the current one).

        ``purpose``: "enrol" (one case's new tokens, charged to the cell's budget at the
        custodian) or "reenrol" (the same identity again after a key rotation or key scheme
        change, ``scheme`` the current one); None for batch evaluation."""
        raise NotImplementedError

    def epochs(self) -> EpochStatus:
        """The current epoch, the active ones (still evaluable) and the retired ones."""
        raise NotImplementedError

    def tokens(self, cell: str, values: Sequence[bytes], epoch: int | None = None, *,
               purpose: str | None = None, scheme: int | None = None) -> tuple[int, list[bytes]]:
        """The OPRF output (64 bytes) of each value, through the custodian, and the epoch used.

        The custodian sees only blinded elements; the values never leave this process.
        """
        if not values:
            return (self.epochs().current if epoch is None else epoch), []
        blinded = [oprf.blind(value) for value in values]
        extra = {"purpose": purpose, "scheme": scheme} if purpose is not None else {}
        used, evaluated = self.evaluate(cell, [item.element for item in blinded], epoch, **extra)
        return used, [oprf.finalize(value, item, answer) for value, item, answer in zip(values, blinded, evaluated, strict=True)]


class CustodianClient(Custodian):
    """The custodian service over HTTP, authenticated with OAuth2 client credentials."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = HTTP_TIMEOUT,
        verify: bool | str = True,
    ):
        self.url = url.rstrip("/")
        self.client_id = client_id
        self.timeout = timeout
        self._timeouts = (min(CONNECT_TIMEOUT, timeout), timeout)  # (connect, read)
        self._token_endpoint = f"{self.url}/oauth/token"
        self._session = OAuth2Session(
            client_id,
            client_secret,
            token_endpoint=self._token_endpoint,
            token_endpoint_auth_method="client_secret_basic",
            grant_type="client_credentials",
            leeway=TOKEN_LEEWAY,
        )
        self._session.verify = verify
        self._lock = threading.Lock()
        self._renew_at = 0.0  # time.monotonic() when the token in hand is to be renewed
        self._warm_paused_until = 0.0
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return f"CustodianClient({self.url!r}, client_id={self.client_id!r})"

    # -- the access token

    def _fetch_token(self) -> None:
        try:
            self._session.fetch_token(self._token_endpoint, grant_type="client_credentials", timeout=self._timeouts)
        except AuthlibBaseError as error:
            if error.error == RateLimited.code:  # too many token requests from this address
                raise RateLimited("the custodian's token endpoint is rate-limited; try again later") from None
            raise CustodianAuthError(f"the custodian refused the client credentials ({error.error})") from None
        except requests.RequestException as error:
            raise CustodianUnavailable(f"the custodian is unreachable ({type(error).__name__})") from None
        except ValueError:  # an answer that is no token at all
            raise CustodianUnavailable("the custodian's token endpoint answered nonsense") from None
        self.tokens_fetched += 1
        lifetime = self._session.token.get("expires_in")
        lifetime = lifetime if isinstance(lifetime, int | float) and lifetime > 0 else 2 * TOKEN_LEEWAY
        self._renew_at = time.monotonic() + TOKEN_RENEWAL * lifetime

    def _ensure_token(self, stale: str | None = None) -> None:
        """A usable token: fetched when there is none, 80% of its lifetime has passed, it is
        about to expire, or ``stale`` was refused (unless another thread already replaced it)."""
        with self._lock:
            token = self._session.token
            if (
                not token
                or time.monotonic() >= self._renew_at
                or token.is_expired(leeway=TOKEN_LEEWAY) is not False
                or (stale is not None and token.get("access_token") == stale)
            ):
                self._fetch_token()

    def warm(self) -> None:
        """Renew the token now if it is due (a worker's main process, before forking a job),
        and keep no connection open for the forked job to share. After a failure, jobs ask
        for themselves for :data:`WARM_PAUSE` seconds (they meet the same refusal and wait)."""
        if time.monotonic() < self._warm_paused_until:
            return
        try:
            self._ensure_token()
        except CustodianError as error:
            self._warm_paused_until = time.monotonic() + WARM_PAUSE
            log.warning("custodian token not renewed before a job: %s", error_type(error))
        finally:
            self._session.close()  # its pool only: the session stays usable

    def _forked(self) -> None:
        """In a forked child: the parent's connections and lock are not ours to use."""
        self._lock = threading.Lock()
        for prefix in ("https://", "http://"):
            self._session.mount(prefix, requests.adapters.HTTPAdapter())

    # -- calls

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        refused: str | None = None
        for attempt in range(2):
            self._ensure_token(refused)
            sent = self._session.token["access_token"]
            try:
                response = self._session.request(method, f"{self.url}{path}", json=body, timeout=self._timeouts)
            except AuthlibBaseError as error:
                raise CustodianAuthError(f"the access token could not be renewed ({error.error})") from None
            except requests.RequestException as error:
                raise CustodianUnavailable(f"the custodian is unreachable ({type(error).__name__})") from None
            if response.status_code == 401 and attempt == 0:
                refused = sent  # expired early or the custodian restarted: one new token, once
                continue
            return self._answer(response)
        raise CustodianAuthError("the custodian refused a fresh access token")  # pragma: no cover

    @staticmethod
    def _answer(response: requests.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code == 200 and isinstance(data, dict):
            return data
        message = data.get("message") if isinstance(data, dict) else None
        message = message if isinstance(message, str) else f"HTTP {response.status_code}"
        status = response.status_code
        if status in (401, 403):
            raise CustodianAuthError(f"the custodian refused the access token (HTTP {status})")
        if status == 422 and isinstance(data, dict) and type(data.get("index")) is int:
            raise InvalidElement(data["index"], message.partition(": ")[2] or message)
        if status == 429:
            retry_after = response.headers.get("Retry-After", "")
            raise RateLimited(message, int(retry_after) if retry_after.isdigit() else 60)
        if status in _ERRORS:
            raise _ERRORS[status](message)
        if status >= 500 or status == 200:
            raise CustodianUnavailable(f"the custodian failed: {message}")
        raise CustodianError(message)

    def _evaluate_batch(self, cell: str, elements: Sequence[bytes], epoch: int | None,
                        purpose: str | None = None, scheme: int | None = None) -> tuple[int, list[bytes]]:
        body: dict[str, Any] = {"cell": cell, "elements": [encode_element(item) for item in elements]}
        if epoch is not None:
            body["epoch"] = epoch
        if purpose is not None:
            body["purpose"] = purpose
            if scheme is not None:
                body["scheme"] = scheme
        data = self._call("POST", "/evaluate", body)
        used, answers = data.get("epoch"), data.get("elements")
        if type(used) is not int or (epoch is not None and used != epoch):
            raise CustodianUnavailable("the custodian answered for another epoch")
        if not isinstance(answers, list) or len(answers) != len(elements):
            raise CustodianUnavailable("the custodian answered a different number of elements")
        try:
            return used, [decode_element(item) for item in answers]
        except ValueError:
            raise CustodianUnavailable("the custodian answered an invalid element") from None

    def evaluate(self, cell: str, elements: Sequence[bytes], epoch: int | None = None, *,
                 purpose: str | None = None, scheme: int | None = None) -> tuple[int, list[bytes]]:
        if not elements:
            return (self.epochs().current if epoch is None else epoch), []
        evaluated: list[bytes] = []
        for offset, batch in zip(range(0, len(elements), MAX_ELEMENTS), _chunks(elements, MAX_ELEMENTS), strict=True):
            try:
                epoch, answers = self._evaluate_batch(cell, batch, epoch, purpose, scheme)  # later batches: the first's epoch
            except InvalidElement as error:
                raise InvalidElement(offset + error.index, str(error).partition(": ")[2]) from None
            evaluated.extend(answers)
        return epoch, evaluated

    def epochs(self) -> EpochStatus:
        data = self._call("GET", "/epochs")
        try:
            return EpochStatus(int(data["current"]), tuple(map(int, data["active"])), tuple(map(int, data["retired"])))
        except (KeyError, TypeError, ValueError):
            raise CustodianUnavailable("the custodian's epochs answer is malformed") from None

    def close(self) -> None:
        self._session.close()


class InProcessCustodian(Custodian):
    """The custodian's evaluation in this process (development, the demo, tests).

    ``InProcessCustodian()`` holds a random seed in memory only; ``InProcessCustodian(seed)``
    uses that 32-byte seed for epoch 1 (the same key the service derives from that seed);
    :meth:`from_directory` uses a custodian key file (see :func:`custodian_for`).
    ``rotate`` and ``retire`` behave like the service's commands.
    """

    def __init__(self, seed: bytes | None = None, *, keys: KeyStore | None = None):
        if keys is not None and seed is not None:
            raise ValueError("a seed or a key store, not both")
        self.keys = keys if keys is not None else KeyStore(None, seed=seed)

    @classmethod
    def from_directory(cls, folder) -> InProcessCustodian:
        """The custodian whose key file is ``folder/keys.json`` (created, mode 600, if absent)."""
        return cls(keys=KeyStore(folder / "keys.json", create=True))

    def __repr__(self) -> str:
        where = "memory" if self.keys.path is None else str(self.keys.path)
        return f"InProcessCustodian({where})"

    def evaluate(self, cell: str, elements: Sequence[bytes], epoch: int | None = None, *,
                 purpose: str | None = None, scheme: int | None = None) -> tuple[int, list[bytes]]:
        # In-process (development, demo, tests): the platform's own budget is the bound.
        used, secret = self.keys.key(epoch)
        for index, element in enumerate(elements):
            if not isinstance(element, bytes | bytearray) or len(element) != oprf.ELEMENT_BYTES:
                raise InvalidElement(index, f"not {oprf.ELEMENT_BYTES} bytes")
        return used, evaluate_elements(secret, [bytes(element) for element in elements])

    def epochs(self) -> EpochStatus:
        return self.keys.status()

    def rotate(self, seed: bytes | None = None) -> int:
        return self.keys.rotate(seed)

    def retire(self, epoch: int) -> None:
        self.keys.retire(epoch)


_clients: dict[tuple[str, str | None, str | None], CustodianClient] = {}
_clients_lock = threading.Lock()


def _shared_client(settings: Settings) -> CustodianClient:
    """This process's one client for these settings (its token shared by every job and thread)."""
    key = (settings.custodian_url, settings.custodian_client_id, settings.custodian_client_secret)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = CustodianClient(*key)
        return client


def _after_fork_in_child() -> None:
    global _clients_lock
    _clients_lock = threading.Lock()
    for client in _clients.values():
        client._forked()  # noqa: SLF001


os.register_at_fork(after_in_child=_after_fork_in_child)


@before_each_job
def _renew_before_job(settings: Settings, queue_name: str) -> None:
    """A worker's main process renews the token a federation or maintenance job will inherit."""
    if settings.custodian_url and queue_name in ("federation", "maintenance"):
        _shared_client(settings).warm()


def custodian_for(settings: Settings) -> Custodian:
    """The platform's custodian: the service at ``LIVC_CUSTODIAN_URL`` (one client per process
    and settings, so one access token), or (development and demo only) the in-process one
    keeping its seeds in ``<data dir>/custodian``."""
    if settings.custodian_url:
        return _shared_client(settings)
    if settings.production:
        raise ConfigurationError(
            "LIVC_CUSTODIAN_URL: required in production (the key custodian is a deployment of its own)"
        )
    return InProcessCustodian.from_directory(settings.data_dir / "custodian")

