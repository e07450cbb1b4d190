"""The offboarding's export: every row of the cell as JSON files with a manifest, kept encrypted
under a key only the designated person's single-use link unwraps, handed over once as an
AES-256 ZIP (format: ``admin/LIFECYCLE.md``)."""

from __future__ import annotations

import base64
import enum
import hashlib
import io
import json
import os
import re
import zipfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyzipper
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.admin.lifecycle.models import (
    NOT_EXPORTED,
    Offboarding,
    TenantExport,
    TenantExportFile,
    record_event,
)
from livc.admin.lifecycle.verification import export_state
from livc.platform.crypto import keyed_digest, new_token
from livc.platform.db import TenantScoped, db, tenant_context
from livc.platform.jobs import task
from livc.platform.keys import (
    DecryptionFailed,
    KeyDestroyed,
    encrypted_fields,
)
from livc.platform.mail import send_mail
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership

# --- operations ---------------------------------------------------------------------------------

EXPORT_FORMAT = "livc-tenant-export"
EXPORT_VERSION = "1"
EXPORT_VALID_DAYS = 14
EXPORT_WRAPPING = "A256GCM/HKDF-SHA256(link token)"
EXPORT_STORAGE = "database:tenant_export_files"


# --- step (b): the export -----------------------------------------------------------------------

LINK_PURPOSE = "tenant-export-link"


def _tenant_models() -> list[type]:
    """Every tenant-scoped model (found from the mappers: a new table is exported too)."""
    models = [mapper.class_ for mapper in db.Model.registry.mappers if issubclass(mapper.class_, TenantScoped)]
    return sorted(models, key=lambda model: model.__tablename__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(record: object) -> dict[str, Any]:
    """One row as the export writes it: encrypted fields decrypted, credentials and blind
    indexes left out; a field erased earlier (its key destroyed) is null and named in ``_erased``."""
    fields = {field.column: field for field in encrypted_fields(type(record))}
    skipped = {field.index_column for field in fields.values() if field.index_column}
    row: dict[str, Any] = {}
    erased = []
    for attribute in sa.inspect(type(record)).column_attrs:
        key = attribute.key
        if key in skipped or _SECRET_COLUMN.search(key):
            continue
        if key in fields:
            field = fields[key]
            try:
                row[field.name] = getattr(record, field.name)
            except (KeyDestroyed, DecryptionFailed):
                row[field.name] = None
                erased.append(field.name)
            continue
        row[key] = _jsonable(getattr(record, key))
    if erased:
        row["_erased"] = erased
    return row


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True).encode()


def export_documents(tenant: Tenant) -> list[tuple[str, bytes, int]]:
    """The export's files: (name, JSON bytes, row count), manifest excluded."""

    documents = []
    organisation = {
        "slug": tenant.slug, "name": tenant.name, "kind": tenant.kind.value, "languages": tenant.languages,
        "created_at": tenant.created_at.isoformat(),
        "municipalities": [{"nis_code": m.nis_code, "name": m.name} for m in tenant.municipalities],
    }
    documents.append(("organisation.json", _json(organisation), 1))
    with tenant_context(tenant.id):
        members = db.session.scalars(sa.select(Membership).order_by(Membership.id)).all()
        directory = [{"membership_id": m.id, "account_id": m.account_id, "email": m.account.email,
                      "display_name": m.account.display_name} for m in members]
        documents.append(("members.json", _json({"members": directory}), len(directory)))
        for model in _tenant_models():
            table = model.__tablename__
            if table in NOT_EXPORTED:
                continue
            keys = sa.inspect(model).primary_key
            rows = [_row(record) for record in db.session.scalars(sa.select(model).order_by(*keys))]
            documents.append((f"tables/{table}.json", _json({"table": table, "rows": rows}), len(rows)))
    return documents


def _manifest(tenant: Tenant, documents: list[tuple[str, bytes, int]], created_at: datetime) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "created_at": created_at.isoformat(),
        "cell": {"slug": tenant.slug, "name": tenant.name},
        "encoding": "UTF-8 JSON; times in UTC (ISO 8601); one object per row, keyed by column",
        "files": [
            {"name": name, "rows": rows, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data, rows in documents
        ],
        "not_included": sorted(NOT_EXPORTED),
    }


def _zip(documents: list[tuple[str, bytes]], passphrase: str | None = None) -> bytes:
    """A ZIP of ``documents``; with ``passphrase``, AES-256 encrypted (7-Zip, WinZip, macOS
    Archive Utility... open it)."""
    buffer = io.BytesIO()
    if passphrase is None:
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in documents:
                archive.writestr(name, data)
    else:
        with pyzipper.AESZipFile(buffer, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as archive:
            archive.setpassword(passphrase.encode())
            archive.setencryption(pyzipper.WZ_AES, nbits=256)
            for name, data in documents:
                archive.writestr(name, data)
    return buffer.getvalue()


def _seal(key: bytes, data: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, aad)


def _unseal(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad)


def _link_key(token: str, export_id: int) -> bytes:
    """The key that wraps the export's own key: derived from the mailed link's token only."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"livc/export-link/{export_id}".encode()).derive(token.encode())


def _aad(export_id: int, what: str) -> bytes:
    return f"livc/export/{export_id}/{what}".encode()


def export_link(token: str) -> str:
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/admin/export/{token}"


def _mail_export(export: TenantExport, tenant: Tenant, token: str) -> None:
    with force_locale(tenant.languages[0]):
        text = render_template("admin/export_mail.txt", cell=tenant.name, link=export_link(token),
                               expires_on=export.expires_at.date().isoformat())
    subject, _, body = text.strip().partition("\n")
    send_mail(export.recipient_email, subject.strip(), body.strip() + "\n", tenant_id=None)


def step_export(run: Offboarding, tenant: Tenant) -> dict[str, Any]:
    existing = db.session.scalar(sa.select(TenantExport).where(TenantExport.offboarding_id == run.id))
    if existing is not None:  # made and mailed by an earlier attempt that committed
        return {"files": len(existing.manifest["files"]), "rows": _rows(existing.manifest), "bytes": existing.size}
    now = utcnow()
    documents = export_documents(tenant)
    manifest = _manifest(tenant, documents, now)
    archive = _zip([("manifest.json", _json(manifest)), *((name, data) for name, data, _ in documents)])
    token = new_token()
    export = TenantExport(
        offboarding_id=run.id, tenant_id=tenant.id, tenant_slug=tenant.slug, recipient_email=run.recipient_email,
        token_digest=keyed_digest(LINK_PURPOSE, token), format_version=EXPORT_VERSION,
        # What the platform keeps of the manifest: names and counts (no hash of any content).
        manifest={"files": [{key: entry[key] for key in ("name", "rows", "bytes")} for entry in manifest["files"]]},
        size=len(archive), storage=EXPORT_STORAGE, key_wrapping=EXPORT_WRAPPING, created_at=now,
        expires_at=now + timedelta(days=EXPORT_VALID_DAYS),
    )
    db.session.add(export)
    db.session.flush()
    key = os.urandom(32)
    export.wrapped_key = _seal(_link_key(token, export.id), key, _aad(export.id, "key"))
    db.session.add(TenantExportFile(export_id=export.id, ciphertext=_seal(key, archive, _aad(export.id, "file"))))
    db.session.flush()
    _mail_export(export, tenant, token)  # handed over when this step commits
    counts = {"files": len(documents) + 1, "rows": _rows(manifest), "bytes": len(archive)}
    record_event(tenant, "tenant.exported", run.requested_by, {"export_id": export.id, **counts})
    return counts


def export_of(run: Offboarding) -> TenantExport | None:
    return db.session.scalar(sa.select(TenantExport).where(TenantExport.offboarding_id == run.id))


# --- the download, once ----------------------------------------------------------------------------

PASSPHRASE_MIN = 12
PASSPHRASE_TOO_SHORT = _l("Choose a passphrase of at least 12 characters.")
PASSPHRASE_MISMATCH = _l("The two passphrases differ: type the same one twice.")


class ExportRefused(Exception):
    """The link was used already or has expired (``state`` says which, ``at`` since when)."""

    def __init__(self, state: str, at: datetime | None) -> None:
        super().__init__(state)
        self.state, self.at = state, at


def export_for_link(token: str, *, lock: bool = False) -> TenantExport | None:
    """The export the link's token opens, or None for a token that never was one."""
    if not token or len(token) > 100:
        return None
    query = sa.select(TenantExport).where(TenantExport.token_digest == keyed_digest(LINK_PURPOSE, token))
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def check_link(export: TenantExport) -> None:
    """Raise :class:`ExportRefused` unless the export is still waiting for its download."""
    state = export_state(export)
    if state == "downloaded":
        raise ExportRefused(state, export.downloaded_at)
    if state != "pending":
        raise ExportRefused("expired", export.expires_at)


def check_passphrase(passphrase: str, repeated: str) -> None:
    errors: dict[str, list[str]] = {}
    if len(passphrase or "") < PASSPHRASE_MIN:
        errors["passphrase"] = [str(PASSPHRASE_TOO_SHORT)]
    elif passphrase != repeated:
        errors["passphrase_repeated"] = [str(PASSPHRASE_MISMATCH)]
    if errors:
        raise ValidationError(errors)


def download_export(token: str, passphrase: str, repeated: str) -> tuple[str, bytes]:
    """The export as an AES-256 ZIP under the designated person's own passphrase, once.

    Opens the stored file with the key the link's token unwraps, re-packs it under
    ``passphrase`` (which is never stored), and deletes the stored file and the wrapped key
    in the same transaction: a second use of the link is refused.
    """
    export = export_for_link(token, lock=True)
    if export is None:
        raise LookupError("no such export link")
    check_link(export)
    check_passphrase(passphrase, repeated)
    stored = db.session.get(TenantExportFile, export.id)
    key = _unseal(_link_key(token, export.id), export.wrapped_key, _aad(export.id, "key"))
    archive = _unseal(key, stored.ciphertext, _aad(export.id, "file"))
    with zipfile.ZipFile(io.BytesIO(archive)) as inner:
        documents = [(name, inner.read(name)) for name in inner.namelist()]
    protected = _zip(documents, passphrase)
    export.downloaded_at = utcnow()
    _delete_file(export, "downloaded")
    return f"livc-export-{export.tenant_slug}.zip", protected


def _delete_file(export: TenantExport, because: str) -> None:
    db.session.execute(sa.delete(TenantExportFile).where(TenantExportFile.export_id == export.id))
    export.wrapped_key, export.deleted_at, export.deleted_because = None, utcnow(), because
    actor = "designated-person" if because == "downloaded" else "system"
    record_event(db.session.get(Tenant, export.tenant_id), f"tenant.export_{because}", actor, {"export_id": export.id})
    db.session.flush()


@task(queue="maintenance")
def expire_exports() -> int:
    """Delete the exports whose link expired without being used (periodic, platform-level)."""
    now = utcnow()
    expired = db.session.scalars(sa.select(TenantExport).where(
        TenantExport.deleted_at.is_(None), TenantExport.downloaded_at.is_(None), TenantExport.expires_at <= now,
    ).with_for_update()).all()
    for export in expired:
        _delete_file(export, "expired")
    return len(expired)


def _rows(manifest: dict[str, Any]) -> int:
    return sum(entry["rows"] for entry in manifest["files"])


# Columns never handed over: credentials and blind indexes (keyed digests, useless outside).
_SECRET_COLUMN = re.compile(r"(?:^|_)(?:secret|token_digest|code_digest)$|_index$")
