"""Per-cell data keys wrapped by the master key: encrypted identities, crypto-shredding, blind indexes.

The people a cell discusses never consented to being on the platform, so their identities
(names, date of birth, national number, address) are stored only encrypted, and erasing them
must be possible without hunting down every copy::

    LIVC_MASTER_KEY (configuration, later a KMS)
        wraps -> DataKey(tenant, scope="tenant")      the cell-wide key; also keys the blind indexes
        wraps -> DataKey(tenant, scope="case:42")     one record's key, destroyed to erase that record

* :func:`encrypt` / :func:`decrypt` use AES-256-GCM with a random 96-bit nonce under a key
  derived from the scope's data key. The associated data names the tenant and the scope, so a
  ciphertext copied into another cell or another record does not decrypt.
* :func:`destroy_key` deletes a scope's wrapped key bytes and keeps the row (with its
  ``destroyed_at``) as evidence; everything encrypted under it is unreadable from then on, and
  the scope can never get a new key. Copies of the wrapped key in database backups made before
  stay readable with the master key until those backups expire: backup retention (or rotating
  the master key and destroying the old one) bounds how long erasure takes to reach backups.
* :func:`blind_index` lets a cell find "is this person already known here?" by name without
  storing the name in clear.
* :class:`EncryptedField` is how models use all this: a plaintext attribute over a ciphertext
  column (and optionally a blind-index column), decrypted only when read; :func:`shred` erases
  one record.

All of it works inside a :func:`livc.platform.db.tenant_context` only; key rows are
tenant-scoped, so isolation (ORM filter and PostgreSQL row-level security) covers them too.
Unwrapped keys are cached for the current transaction only, keyed by tenant and scope.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from datetime import datetime
from typing import Any, overload

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from livc.platform import audit
from livc.platform.db import (
    CrossTenantWrite,
    Id,
    TenantContextRequired,
    TenantScoped,
    current_tenant_id,
    db,
)
from livc.platform.timeutil import utcnow

TENANT_SCOPE = "tenant"
SCOPE_MAX = 100
# "tenant", or "<kind>:<record id>" such as "case:42" or "signal:7".
SCOPE_PATTERN = re.compile(r"^(?:tenant|[a-z][a-z0-9_]{0,29}:[A-Za-z0-9_.-]{1,64})$")
FIELD_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
KEY_BYTES = 32
NONCE_BYTES = 12  # 96 bits: random per encryption (far below 2**32 messages per key)
# How data keys are wrapped. The associated-data layout of _wrap_aad belongs to this name: a
# change to either gets a new name, so rows wrapped the old way stay readable during rotation.
WRAPPING = "A256GCM"
TOKEN_PREFIX = "v1."  # encrypt() output: version, then urlsafe base64 of nonce + ciphertext + tag

_CACHE = "livc.data_keys"  # session.info: {(tenant_id, scope): data key}, this transaction only
_MASTER = "livc.master_key"  # app.extensions: (master key, its id)


class KeysError(Exception):
    """Base class: something about data keys or ciphertexts went wrong (no secret in the text)."""


class KeyDestroyed(KeysError):
    """The scope's key was destroyed: what was encrypted under it is erased, by design."""


class MasterKeyMismatch(KeysError):
    """The configured master key cannot unwrap this data key (another key, or a tampered row)."""


class DecryptionFailed(KeysError):
    """A ciphertext is malformed, altered, or belongs to another tenant or scope."""


class DataKey(TenantScoped, db.Model):
    """A cell's data key for one scope, stored only wrapped by the master key.

    Destroying the key sets ``wrapped_key`` to NULL and ``destroyed_at``; the row stays as
    evidence of when the erasure happened and so that the scope can never be keyed again.
    ``wrapping`` and ``master_key_id`` say how and under which master key the key is wrapped,
    so the master key can be rotated by re-wrapping rows one by one.
    """

    __tablename__ = "data_keys"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "scope", name="uq_data_keys_tenant_scope"),
        sa.CheckConstraint(
            "(wrapped_key IS NOT NULL AND destroyed_at IS NULL)"
            " OR (wrapped_key IS NULL AND destroyed_at IS NOT NULL)",
            name="key_or_destroyed",
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(SCOPE_MAX))
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    wrapping: Mapped[str | None] = mapped_column(sa.String(20))
    master_key_id: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column()


# --- scopes and the master key ----------------------------------------------------------------


def record_scope(kind: str, record_id: int | str | None) -> str:
    """The key scope of one record, e.g. ``record_scope("case", 42) == "case:42"``."""
    if record_id is None:
        raise ValueError(f"a {kind} has no key scope before it has an id: flush it first")
    return _checked_scope(f"{kind}:{record_id}")


def _checked_scope(scope: str) -> str:
    if not isinstance(scope, str) or len(scope) > SCOPE_MAX or not SCOPE_PATTERN.match(scope):
        raise ValueError("a key scope is 'tenant' or '<kind>:<id>'")
    return scope


def _master_key() -> tuple[bytes, str]:
    """The master key and its public id, read once per app (generated in development)."""
    cached = current_app.extensions.get(_MASTER)
    if cached is None:
        key = current_app.extensions["livc.settings"].master_key_bytes()
        # A short fingerprint, not the key: tells which master key wrapped a row, so a wrong
        # key is reported as such and rotation knows which rows still need re-wrapping.
        key_id = hmac.new(key, b"livc master key id", hashlib.sha256).hexdigest()[:16]
        cached = current_app.extensions[_MASTER] = (key, key_id)
    return cached


def _tenant() -> int:
    tenant_id = current_tenant_id()
    if tenant_id is None:
        raise TenantContextRequired("data keys belong to a tenant")
    return tenant_id


def _wrap_aad(tenant_id: int, scope: str) -> bytes:
    # Binds a wrapped key to its row: moved to another tenant or scope, it no longer unwraps.
    return f"livc/data-key/{tenant_id}/{scope}".encode()


def _wrap(key: bytes, tenant_id: int, scope: str) -> tuple[bytes, str]:
    master, key_id = _master_key()
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master).encrypt(nonce, key, _wrap_aad(tenant_id, scope)), key_id


def _unwrap(row: DataKey, tenant_id: int) -> bytes:
    if row.destroyed_at is not None or row.wrapped_key is None:
        raise KeyDestroyed(f"the key of {row.scope} was destroyed")
    master, key_id = _master_key()
    if row.wrapping != WRAPPING or row.master_key_id != key_id:
        raise MasterKeyMismatch(f"the key of {row.scope} is wrapped another way or by another master key")
    nonce, sealed = row.wrapped_key[:NONCE_BYTES], row.wrapped_key[NONCE_BYTES:]
    try:
        key = AESGCM(master).decrypt(nonce, sealed, _wrap_aad(tenant_id, row.scope))
    except InvalidTag:
        raise MasterKeyMismatch(f"the key of {row.scope} does not unwrap: altered or moved") from None
    return key


# --- data keys --------------------------------------------------------------------------------


@event.listens_for(Session, "after_transaction_end")
def _forget_keys(session: Session, transaction: Any) -> None:
    # Never across transactions: a key made in a transaction (or savepoint) that rolls back
    # does not exist, and one destroyed elsewhere must not linger here.
    session.info.pop(_CACHE, None)


def _key_row(scope: str) -> DataKey | None:
    statement = sa.select(DataKey).where(DataKey.scope == scope).execution_options(populate_existing=True)
    return db.session.execute(statement).scalar_one_or_none()


def _insert_unless_present(values: dict[str, Any]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on (tenant, scope).

    Two transactions keying the same scope at once must not fail, nor each keep a key of its
    own: the loser's insert does nothing and it reads the winner's key.
    """
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(DataKey.__table__).values(**values)
    db.session.execute(statement.on_conflict_do_nothing(index_elements=["tenant_id", "scope"]))


def data_key(scope: str = TENANT_SCOPE) -> bytes:
    """The current tenant's 32-byte data key for ``scope``, created on first use.

    Raises :class:`KeyDestroyed` once the scope's key was destroyed (it is never re-created),
    and :class:`MasterKeyMismatch` when the configured master key did not wrap it.
    """
    key = _stored_key(scope)
    if key is not None:
        return key
    tenant_id = _tenant()
    fresh = os.urandom(KEY_BYTES)
    wrapped, key_id = _wrap(fresh, tenant_id, scope)
    _insert_unless_present({
        "tenant_id": tenant_id, "scope": scope, "wrapped_key": wrapped, "wrapping": WRAPPING,
        "master_key_id": key_id, "created_at": utcnow(),
    })
    key = _stored_key(scope)  # ours, or the one a concurrent transaction stored first
    if key is None:  # pragma: no cover - the insert stored it or met a stored one
        raise KeysError(f"the key of {scope} could not be stored")
    return key


def _stored_key(scope: str) -> bytes | None:
    """The scope's key if one was stored (never creates one), cached for this transaction."""
    tenant_id, scope = _tenant(), _checked_scope(scope)
    cached = db.session.info.get(_CACHE, {}).get((tenant_id, scope))
    if cached is not None:
        return cached
    row = _key_row(scope)
    if row is None:
        return None
    key = _unwrap(row, tenant_id)
    # Stored after the query, so inside the transaction whose end clears it.
    db.session.info.setdefault(_CACHE, {})[(tenant_id, scope)] = key
    return key


def destroy_key(scope: str) -> None:
    """Crypto-shred ``scope`` in the current tenant: drop its wrapped key, keep the row as evidence.

    Idempotent. A scope that never had a key gets a destroyed row too, so nothing can be
    encrypted under it later. The erasure is recorded in the tenant's audit trail (the
    scope is a record id, never a name). Destroying ``"tenant"`` erases the whole cell's
    identities and blind indexes: meant for offboarding a cell only.
    """
    tenant_id, scope = _tenant(), _checked_scope(scope)
    now = utcnow()
    existed = _key_row(scope) is not None
    _insert_unless_present(
        {"tenant_id": tenant_id, "scope": scope, "wrapped_key": None, "destroyed_at": now, "created_at": now}
    )
    destroyed = db.session.execute(
        sa.update(DataKey)
        .where(DataKey.scope == scope, DataKey.destroyed_at.is_(None))
        .values(wrapped_key=None, destroyed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    for loaded in list(db.session.identity_map.values()):
        if isinstance(loaded, DataKey):
            db.session.expire(loaded)  # no loaded row keeps the old bytes in memory
    db.session.info.get(_CACHE, {}).pop((tenant_id, scope), None)
    if destroyed or not existed:  # not again when it was destroyed before
        audit.record("key.destroyed", subject=scope, details={"had_key": bool(destroyed)})


# --- encryption -------------------------------------------------------------------------------


def _subkey(key: bytes, purpose: str) -> bytes:
    """Independent keys per use of one data key (encryption, each blind index)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"livc/{purpose}".encode())
    return hkdf.derive(key)


def _aad(tenant_id: int, scope: str) -> bytes:
    return f"livc/v1/{tenant_id}/{scope}".encode()


def encrypt(value: str, scope: str = TENANT_SCOPE) -> str:
    """``value`` encrypted for the current tenant and ``scope``: an ASCII token to store."""
    if not isinstance(value, str):
        raise TypeError("encrypt() takes a str")
    tenant_id, scope = _tenant(), _checked_scope(scope)
    nonce = os.urandom(NONCE_BYTES)
    cipher = AESGCM(_subkey(data_key(scope), "encryption"))
    sealed = cipher.encrypt(nonce, value.encode(), _aad(tenant_id, scope))
    return TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def decrypt(token: str, scope: str = TENANT_SCOPE) -> str:
    """The plaintext of an :func:`encrypt` token of the current tenant and ``scope``.

    Raises :class:`KeyDestroyed` when the scope was shredded, :class:`DecryptionFailed` when
    the token was altered or comes from another tenant or scope.
    """
    tenant_id, scope = _tenant(), _checked_scope(scope)
    key = _stored_key(scope)  # first: a shredded record reports KeyDestroyed, whatever its tokens
    if key is None:  # nothing was ever encrypted under this scope here: do not key it now
        raise DecryptionFailed(f"the value does not decrypt in this tenant under {scope}")
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        raise DecryptionFailed("not an encrypted value of this version")
    body = token.removeprefix(TOKEN_PREFIX)
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if len(raw) < NONCE_BYTES + 16:
            raise ValueError
        cipher = AESGCM(_subkey(key, "encryption"))
        plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(tenant_id, scope))
    except (binascii.Error, ValueError, InvalidTag):
        raise DecryptionFailed(f"the value does not decrypt in this tenant under {scope}") from None
    return plain.decode()


# --- blind index -------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\W_]+")  # after folding: everything but letters and digits
# Letters NFKD does not decompose but people write without their mark or ligature.
_PLAIN_LETTERS = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ı": "i"})


def normalise_for_index(value: str) -> str:
    """The form a blind index is computed over: what people consider the same name or number.

    Case-folded, diacritics removed (NFKD, combining marks dropped; œ, æ, ø, ł, đ, ı spelt
    plainly), and every space, hyphen, apostrophe or other punctuation removed rather than
    collapsed: Flemish surnames are written with the particles apart, hyphenated or joined
    ("Van den Berghe", "Van-den Berghe", "Vandenberghe"), and a national number with or
    without its dots and dash.
    """
    # Decompose before and after case-folding: each may produce what the other must handle
    # ("ℌ" only becomes "H" when decomposed, "İ" only gains its combining dot when folded).
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", value).casefold())
    letters = "".join(char for char in folded if not unicodedata.combining(char))
    return _SEPARATORS.sub("", letters.translate(_PLAIN_LETTERS))


def blind_index(value: str, field: str) -> str:
    """A keyed digest of ``value`` for look-ups by equality, per tenant and per field (hex).

    HMAC-SHA256 over :func:`normalise_for_index` under a key derived (HKDF,
    ``blind-index:<field>``) from the cell's tenant-wide data key: the same name gives a
    different index in another cell, and in another field. It still lets anyone holding the
    cell's key test "is X in here?", so it serves look-ups inside the cell only; cells never
    exchange blind indexes (the federation matches through its OPRF instead). When a
    record is erased its index goes too (:func:`shred`).
    """
    if not isinstance(field, str) or not FIELD_PATTERN.match(field):
        raise ValueError("a blind-index field is a lower-case identifier")
    normalised = normalise_for_index(value)
    if not normalised:
        raise ValueError("nothing to index: the value has no letters or digits")
    key = _subkey(data_key(TENANT_SCOPE), f"blind-index:{field}")
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


# --- models -------------------------------------------------------------------------------------


class EncryptedField:
    """A plaintext attribute over a column that holds an :func:`encrypt` token.

    ::

        class Person(TenantScoped, db.Model):
            name_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
            name_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)
            name = EncryptedField("name_ciphertext", index_column="name_index")

            @property
            def key_scope(self) -> str:  # or a class attribute: key_scope = TENANT_SCOPE
                return record_scope("case", self.case_id)

        person.name = "Élodie Van den Berghe"      # stores ciphertext and blind index
        select(Person).where(Person.name.matches("elodie vandenberghe"))

    Decryption happens when the attribute is read, not when rows load: a list of records
    never decrypts identities nobody looks at. Encrypted attributes cannot be compared in
    SQL (``Person.name == ...`` raises); look up through :meth:`matches`.
    """

    def __init__(
        self,
        column: str,
        *,
        scope_attribute: str = "key_scope",
        index_column: str | None = None,
        index_field: str | None = None,
    ) -> None:
        self.column = column
        self.scope_attribute = scope_attribute
        self.index_column = index_column
        self.index_field = index_field
        self.name = column
        self.owner: type | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.owner, self.name = owner, name
        if self.index_column is not None:
            self.index_field = self.index_field or name
            if not FIELD_PATTERN.match(self.index_field):
                raise ValueError("a blind-index field is a lower-case identifier")

    def scope_of(self, record: object) -> str:
        return _checked_scope(getattr(record, self.scope_attribute))

    @overload
    def __get__(self, record: None, owner: type) -> EncryptedField: ...

    @overload
    def __get__(self, record: object, owner: type | None = None) -> str | None: ...

    def __get__(self, record: object | None, owner: type | None = None) -> EncryptedField | str | None:
        if record is None:
            return self
        token = getattr(record, self.column)
        return None if token is None else decrypt(token, self.scope_of(record))

    def __set__(self, record: object, value: str | None) -> None:
        tenant_id = _tenant()
        if getattr(record, "tenant_id", None) not in (None, tenant_id):
            raise CrossTenantWrite("an encrypted value cannot be written into another tenant's record")
        if value is None:
            setattr(record, self.column, None)
        else:
            setattr(record, self.column, encrypt(value, self.scope_of(record)))
        if self.index_column is not None:
            indexable = value is not None and normalise_for_index(value) != ""
            setattr(record, self.index_column, blind_index(value, self.index_field) if indexable else None)

    def matches(self, value: str) -> sa.ColumnElement[bool]:
        """SQL criterion: records whose value equals ``value`` once normalised (blind index)."""
        if self.index_column is None or self.owner is None:
            raise TypeError(f"{self.name} has no blind index to look up by")
        return getattr(self.owner, self.index_column) == blind_index(value, self.index_field)

    def __eq__(self, other: object) -> bool:
        # Without this, ``Model.name == "x"`` is plain False and silently matches no row.
        raise TypeError(f"{self.name} is encrypted: look it up with .matches(), not ==")

    __hash__ = object.__hash__


def encrypted_fields(model: type) -> list[EncryptedField]:
    """The :class:`EncryptedField` attributes of ``model`` (and its bases)."""
    found: dict[str, EncryptedField] = {}
    for klass in reversed(model.__mro__):
        for name, attribute in vars(klass).items():
            if isinstance(attribute, EncryptedField):
                found[name] = attribute
    return list(found.values())


def shred(record: object) -> None:
    """Erase a record's identity: destroy its own key and clear its blind indexes.

    The ciphertexts stay and raise :class:`KeyDestroyed` when read, so the record shows as
    erased; the indexes go because they would still answer "was X here?". Only records with
    their own key scope can be shredded alone: the tenant-wide key is destroyed with
    :func:`destroy_key` when a whole cell leaves.
    """
    fields = encrypted_fields(type(record))
    scopes = {field.scope_of(record) for field in fields}
    if not fields or TENANT_SCOPE in scopes:
        raise ValueError("only a record with its own key scope can be shredded alone")
    for field in fields:
        if field.index_column is not None:
            setattr(record, field.index_column, None)
    db.session.flush()
    for scope in sorted(scopes):
        destroy_key(scope)
