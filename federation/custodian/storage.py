"""The key custodian's state: the key file (a seed per epoch, the OPRF secret; rotation,
retirement, evaluation of blinded elements), the registered clients and the append-only audit
log; written privately and atomically, re-read when the command line changed them."""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from livc.federation import oprf
from livc.federation.custodian.settings import (
    CLIENT_ID,
    CLIENT_SECRET_MIN,
    CustodianConfigurationError,
    CustodianError,
    EnrolmentRefused,
    InvalidElement,
    RetiredEpoch,
    UnknownEpoch,
    timestamp_now,
)

KEYS_FORMAT = "livc-custodian-keys/1"
CLIENTS_FORMAT = "livc-custodian-clients/1"


def epoch_info(epoch: int) -> bytes:
    """The ``info`` of DeriveKeyPair for an epoch: binds each key to its epoch number."""
    return b"livc custodian epoch %d" % epoch


def epoch_key(seed: bytes, epoch: int) -> bytes:
    """The OPRF secret of an epoch, from that epoch's seed."""
    return oprf.derive_key(seed, epoch_info(epoch))


def _stat_signature(path: Path) -> tuple[int, int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return (found.st_ino, found.st_mtime_ns, found.st_size)


def check_private(path: Path) -> None:
    """Refuse a secret file that anybody (other than its owner and group) may read or change."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXO):
        raise CustodianConfigurationError(
            f"{path} is accessible to other users (mode {stat.filemode(mode)}): chmod 600 it"
        )


def _write_private(path: Path, content: str, *, exclusive: bool = False) -> bool:
    """Write ``path`` (mode 600) whole, under a temporary name first, then into place.

    ``exclusive``: only if ``path`` does not exist (the first of several writers wins; False
    when another one was first). Otherwise the file is replaced atomically: a reader sees the
    old file or the new one, never half of one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(temporary, path)
            except FileExistsError:
                return False
        else:
            os.replace(temporary, path)
        return True
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of ``path`` between processes (the admin commands)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = path.with_name(f".{path.name}.lock")
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


# --- the secret: seeds per epoch ------------------------------------------------------------


@dataclass(frozen=True)
class Epoch:
    number: int
    created: str
    seed: bytes | None  # None once retired: the secret is gone
    retired: str | None = None


@dataclass(frozen=True)
class EpochStatus:
    """What anybody may know of the epochs: numbers only."""

    current: int
    active: tuple[int, ...]
    retired: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        return {"current": self.current, "active": list(self.active), "retired": list(self.retired)}


class KeyStore:
    """The custodian's secret: one seed per epoch, in its key file or (``path=None``) in memory.

    The file is re-read whenever it changed (another process rotated or retired), so a running
    service follows the admin commands. Changes are written whole and atomically, under a lock.
    """

    def __init__(self, path: Path | None, *, create: bool = False, seed: bytes | None = None):
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._epochs: dict[int, Epoch] = {}
        self._current = 0
        self._keys: dict[tuple[int, bytes], bytes] = {}
        if seed is not None and len(seed) != 32:
            raise ValueError("a seed is 32 bytes")
        if path is None:
            self._epochs = {1: Epoch(1, timestamp_now(), seed or secrets.token_bytes(32))}
            self._current = 1
            return
        if not path.exists():
            if not create:
                raise CustodianConfigurationError(
                    f"no key file at {path}: run livc custodian init first (a first installation only: "
                    "a new key matches no token enrolled under a lost one; restore the key file otherwise)"
                )
            first = {1: Epoch(1, timestamp_now(), seed or secrets.token_bytes(32))}
            _write_private(path, self._dump(1, first), exclusive=True)  # another process may win
        self._reload()

    # -- reading

    @staticmethod
    def _dump(current: int, epochs: Mapping[int, Epoch]) -> str:
        return json.dumps(
            {
                "format": KEYS_FORMAT,
                "current": current,
                "epochs": [
                    {
                        "epoch": epoch.number,
                        "created": epoch.created,
                        "seed": None if epoch.seed is None else base64.urlsafe_b64encode(epoch.seed).decode(),
                        "retired": epoch.retired,
                    }
                    for epoch in sorted(epochs.values(), key=lambda item: item.number)
                ],
            },
            indent=2,
        ) + "\n"

    def _parse(self, text: str) -> tuple[int, dict[int, Epoch]]:
        problem = f"{self.path} is not a custodian key file"
        try:
            data = json.loads(text)
            if data.get("format") != KEYS_FORMAT:
                raise ValueError
            epochs: dict[int, Epoch] = {}
            for item in data["epochs"]:
                number = item["epoch"]
                if type(number) is not int or number < 1 or number in epochs:
                    raise ValueError
                seed = None if item["seed"] is None else base64.urlsafe_b64decode(item["seed"])
                if seed is not None and len(seed) != 32:
                    raise ValueError
                if (seed is None) == (item.get("retired") is None):
                    raise ValueError
                epochs[number] = Epoch(number, str(item["created"]), seed, item.get("retired"))
            current = data["current"]
            if current not in epochs or epochs[current].seed is None:
                raise ValueError
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise CustodianConfigurationError(problem) from None
        return current, epochs

    def _reload(self) -> None:
        """(With the lock held, or from __init__.) Read the file again if it changed."""
        if self.path is None:
            return
        signature = _stat_signature(self.path)
        if signature is None:
            raise CustodianConfigurationError(f"the key file {self.path} disappeared")
        if signature == self._signature:
            return
        check_private(self.path)
        self._current, self._epochs = self._parse(self.path.read_text())
        self._signature = signature

    def status(self) -> EpochStatus:
        with self._lock:
            self._reload()
            numbers = sorted(self._epochs)
            return EpochStatus(
                current=self._current,
                active=tuple(n for n in numbers if self._epochs[n].seed is not None),
                retired=tuple(n for n in numbers if self._epochs[n].seed is None),
            )

    @property
    def current_epoch(self) -> int:
        return self.status().current

    def key(self, epoch: int | None = None) -> tuple[int, bytes]:
        """The epoch (default the current one) and its OPRF secret; refused when unknown or retired."""
        with self._lock:
            self._reload()
            number = self._current if epoch is None else epoch
            found = self._epochs.get(number)
            if found is None:
                raise UnknownEpoch(f"epoch {number} does not exist (current: {self._current})")
            if found.seed is None:
                raise RetiredEpoch(f"epoch {number} is retired")
            cache_key = (number, found.seed)
            if cache_key not in self._keys:
                self._keys[cache_key] = epoch_key(found.seed, number)
            return number, self._keys[cache_key]

    def created(self, epoch: int) -> str:
        """When the epoch was made (current): re-enrolments follow a rotation."""
        with self._lock:
            self._reload()
            return self._epochs[epoch].created

    # -- changing

    @contextlib.contextmanager
    def _change(self) -> Iterator[None]:
        if self.path is None:
            with self._lock:
                yield
            return
        with _locked(self.path), self._lock:
            self._signature = None  # read afresh under the lock
            self._reload()
            yield
            _write_private(self.path, self._dump(self._current, self._epochs))
            self._signature = _stat_signature(self.path)

    def rotate(self, seed: bytes | None = None) -> int:
        """Start a new epoch with a fresh seed and make it current; older ones stay active."""
        if seed is not None and len(seed) != 32:
            raise ValueError("a seed is 32 bytes")
        with self._change():
            number = max(self._epochs) + 1
            self._epochs[number] = Epoch(number, timestamp_now(), seed or secrets.token_bytes(32))
            self._current = number
            return number

    def retire(self, epoch: int) -> None:
        """Delete an old epoch's seed: its evaluation is refused from now on, for good."""
        with self._change():
            found = self._epochs.get(epoch)
            if found is None:
                raise UnknownEpoch(f"epoch {epoch} does not exist")
            if found.seed is None:
                raise RetiredEpoch(f"epoch {epoch} is already retired")
            if epoch == self._current:
                raise CustodianError(f"epoch {epoch} is the current epoch: rotate first")
            self._epochs[epoch] = Epoch(epoch, found.created, None, timestamp_now())
            self._keys = {key: value for key, value in self._keys.items() if key[0] != epoch}


def evaluate_elements(secret: bytes, elements: list[bytes]) -> list[bytes]:
    """BlindEvaluate every element; :class:`InvalidElement` names the first one refused."""
    evaluated = []
    for index, element in enumerate(elements):
        try:
            evaluated.append(oprf.blind_evaluate(secret, element))
        except oprf.OprfError as error:
            raise InvalidElement(index, str(error)) from None
    return evaluated


# --- registered clients ---------------------------------------------------------------------


def _secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ClientRegistry:
    """The clients allowed a token: id and SHA-256 of the secret, in the clients file."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._clients: dict[str, dict[str, str]] = {}

    def _read(self) -> dict[str, dict[str, str]]:
        signature = _stat_signature(self.path)
        if signature is None:
            self._clients, self._signature = {}, None
            return self._clients
        if signature != self._signature:
            check_private(self.path)
            try:
                data = json.loads(self.path.read_text())
                if data.get("format") != CLIENTS_FORMAT or not isinstance(data.get("clients"), dict):
                    raise ValueError
                clients = {str(name): dict(entry) for name, entry in data["clients"].items()}
            except (ValueError, TypeError, AttributeError):
                raise CustodianConfigurationError(f"{self.path} is not a custodian clients file") from None
            self._clients, self._signature = clients, signature
        return self._clients

    def ids(self) -> list[str]:
        with self._lock:
            return sorted(self._read())

    def known(self, client_id: str) -> bool:
        return self.fingerprint(client_id) is not None

    def fingerprint(self, client_id: str) -> str | None:
        """The client's current secret hash (changes when it gets a new secret), or None."""
        with self._lock:
            entry = self._read().get(client_id)
        return entry.get("secret_sha256") if entry else None

    def check(self, client_id: str, secret: str) -> bool:
        with self._lock:
            entry = self._read().get(client_id)
        expected = entry.get("secret_sha256", "") if entry else "0" * 64
        return hmac.compare_digest(_secret_hash(secret), expected) and entry is not None

    def _write(self, clients: dict[str, dict[str, str]]) -> None:
        _write_private(self.path, json.dumps({"format": CLIENTS_FORMAT, "clients": clients}, indent=2) + "\n")

    def add(self, client_id: str, secret: str | None = None) -> str:
        """Register (or give a new secret to) ``client_id``; returns the secret, kept only hashed."""
        if not CLIENT_ID.fullmatch(client_id):
            raise ValueError("a client id is 1 to 64 letters, digits, dots, dashes or underscores")
        if secret is not None and len(secret) < CLIENT_SECRET_MIN:
            raise ValueError(f"a client secret has at least {CLIENT_SECRET_MIN} characters")
        secret = secret or secrets.token_urlsafe(32)
        with _locked(self.path), self._lock:
            self._signature = None
            clients = dict(self._read())
            clients[client_id] = {"secret_sha256": _secret_hash(secret), "created": timestamp_now()}
            self._write(clients)
        return secret

    def remove(self, client_id: str) -> bool:
        with _locked(self.path), self._lock:
            self._signature = None
            clients = dict(self._read())
            if clients.pop(client_id, None) is None:
                return False
            self._write(clients)
        return True


# --- enrolment budgets ----------------------------------------------------------------------


class EnrolmentLedger:
    """Per client and cell: the times of its enrolment calls in the last week, how many it ever
    made, and its re-enrolments per epoch and key scheme; and when each key scheme was first
    seen. Counts and times only, in ``enrolments.json`` (mode 600), so a restart resets nothing.

    The custodian's own bound on probing (THREAT_MODEL.md): a platform that lied about the
    purpose of a call would get no more than ``per_week`` new enrolments a week per cell, and
    re-enrolments only just after a rotation or a key scheme change, no more than the cell had
    enrolled."""

    WEEK = timedelta(days=7)

    def __init__(self, path: Path, per_week: int, reenrol_days: int):
        self.path = path
        self.per_week = per_week
        self.reenrol_window = timedelta(days=reenrol_days)
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"cells": {}, "schemes": {}}
        check_private(self.path)
        try:
            data = json.loads(self.path.read_text())
            if not isinstance(data.get("cells"), dict) or not isinstance(data.get("schemes"), dict):
                raise ValueError
        except (ValueError, AttributeError):
            raise CustodianConfigurationError(f"{self.path} is not a custodian enrolments file") from None
        return data

    @contextlib.contextmanager
    def _change(self) -> Iterator[dict[str, Any]]:
        with _locked(self.path), self._lock:
            data = self._load()
            yield data
            _write_private(self.path, json.dumps(data, indent=1, sort_keys=True))

    def admit(self, client: str, cell: str, purpose: str, epoch: int, epoch_created: str,
              scheme: int | None, now: datetime | None = None) -> None:
        """Count one call, or raise :class:`EnrolmentRefused` (nothing counted)."""
        now = now or datetime.now(UTC)
        with self._change() as data:
            entry = data["cells"].setdefault(f"{client} {cell}", {"times": [], "total": 0, "reenrol": {}})
            entry["times"] = [t for t in entry["times"] if datetime.fromisoformat(t) > now - self.WEEK]
            seen = {int(number): when for number, when in data["schemes"].items()}
            if scheme is not None and scheme not in seen and (not seen or scheme > max(seen)):
                data["schemes"][str(scheme)] = seen[scheme] = now.isoformat(timespec="seconds")
            if purpose == "enrol":
                if len(entry["times"]) >= self.per_week:
                    raise EnrolmentRefused(f"over the weekly enrolment budget of this cell ({self.per_week})")
                entry["times"].append(now.isoformat(timespec="seconds"))
                entry["total"] += 1
                return
            recent_epoch = datetime.fromisoformat(epoch_created) > now - self.reenrol_window
            recent_scheme = scheme is not None and scheme in seen and scheme == max(seen) and (
                datetime.fromisoformat(seen[scheme]) > now - self.reenrol_window
            )
            if not (recent_epoch or recent_scheme):
                raise EnrolmentRefused("a re-enrolment only follows a recent key rotation or key scheme change")
            key = f"{epoch}:{scheme}"
            if entry["reenrol"].get(key, 0) >= entry["total"]:
                raise EnrolmentRefused("more re-enrolments than the cell ever enrolled")
            entry["reenrol"][key] = entry["reenrol"].get(key, 0) + 1


# --- audit ----------------------------------------------------------------------------------


class AuditLog:
    """Append-only JSON lines: who asked what for which cell, and the outcome. Never elements."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> None:
        line = json.dumps({"time": timestamp_now(), "event": event, **fields}, separators=(",", ":")) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, line.encode())
            finally:
                os.close(descriptor)
