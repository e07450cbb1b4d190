"""Per-cell data keys: encrypted identities, crypto-shredding, blind indexes, on both backends.

A small test-only model stands in for the later case identities: ``Subject`` keeps its name
encrypted under its own record key (``subject:<id>``) with a blind index, ``Remark`` a text
under the cell-wide key. Two demo cells, A (Leuven) and B (Herk-de-Stad), show that nothing
crosses between cells.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from scoped_models import create_scoped_tables
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from conftest import make_app, seed_demo_tenants
from livc.platform.audit import AuditEntry
from livc.platform.db import (
    CrossTenantWrite,
    Id,
    TenantContextRequired,
    TenantScoped,
    db,
    tenant_context,
)
from livc.platform.keys import (
    TENANT_SCOPE,
    DataKey,
    DecryptionFailed,
    EncryptedField,
    KeyDestroyed,
    MasterKeyMismatch,
    blind_index,
    data_key,
    decrypt,
    destroy_key,
    encrypt,
    normalise_for_index,
    record_scope,
    shred,
)
from livc.platform.tenancy import Tenant

NAME = "Élodie Van den Berghe"


class KeysTestBase(DeclarativeBase):
    metadata = sa.MetaData()


Tenant.__table__.to_metadata(KeysTestBase.metadata)  # so tenant_id's foreign key resolves


class Subject(TenantScoped, KeysTestBase):
    """A record with its own key: shredding it erases its name and nothing else."""

    __tablename__ = "test_key_subjects"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(20))
    name_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    name_index: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    name = EncryptedField("name_ciphertext", index_column="name_index")

    @property
    def key_scope(self) -> str:
        return record_scope("subject", self.id)


class Remark(TenantScoped, KeysTestBase):
    """A record under the cell-wide key."""

    __tablename__ = "test_key_remarks"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    text_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    key_scope = TENANT_SCOPE
    text = EncryptedField("text_ciphertext")


TABLES = [Subject.__table__, Remark.__table__]


@dataclass
class Cells:
    a: int
    b: int


@pytest.fixture
def cells(app) -> Cells:
    create_scoped_tables(app.extensions["livc.settings"].migration_url, TABLES)
    tenants = seed_demo_tenants(app)
    return Cells(a=tenants["demo-leuven"], b=tenants["demo-herko"])


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


def _is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _new_subject(code: str, name: str | None) -> Subject:
    subject = Subject(code=code)
    db.session.add(subject)
    db.session.flush()  # the record key's scope is its id
    subject.name = name
    return subject


def _raw_subject(subject_id: int) -> sa.Row:
    table = Subject.__table__
    return db.session.execute(sa.select(table).where(table.c.id == subject_id)).one()


def _raw_key(scope: str) -> sa.Row:
    table = DataKey.__table__
    return db.session.execute(sa.select(table).where(table.c.scope == scope)).one()


# --- encryption -------------------------------------------------------------------------------


def test_a_value_round_trips_and_is_stored_only_encrypted(cells, ctx):
    with tenant_context(cells.a):
        subject = _new_subject("A-1", NAME)
        remark = Remark(text="Eerste gesprek met de CLB-medewerker")
        db.session.add(remark)
        db.session.commit()
        subject_id, remark_id = subject.id, remark.id
        db.session.expunge_all()

        assert db.session.get(Subject, subject_id).name == NAME
        assert db.session.get(Remark, remark_id).text == "Eerste gesprek met de CLB-medewerker"

        raw = _raw_subject(subject_id)
        for clear in (NAME, "Berghe", "Élodie", normalise_for_index(NAME)):
            assert clear not in raw.name_ciphertext
            assert clear.encode() not in base64.urlsafe_b64decode(raw.name_ciphertext[3:] + "==")
        assert raw.name_index == blind_index(NAME, "name")

        # The data key itself is stored only wrapped, and never twice the same ciphertext.
        key = data_key(record_scope("subject", subject_id))
        stored = _raw_key(record_scope("subject", subject_id))
        assert len(key) == 32 and key not in stored.wrapped_key
        assert stored.wrapping == "A256GCM" and stored.destroyed_at is None
        assert encrypt("Jan", TENANT_SCOPE) != encrypt("Jan", TENANT_SCOPE)
        assert decrypt(encrypt("", TENANT_SCOPE)) == ""
        assert decrypt(encrypt("Ğül Øre 🙂")) == "Ğül Øre 🙂"


def test_a_record_needs_an_id_before_its_key_scope_exists(cells, ctx):
    with tenant_context(cells.a), pytest.raises(ValueError, match="flush it first"):
        Subject(code="A-0").name = NAME
    with pytest.raises(TenantContextRequired):
        encrypt(NAME)
    with pytest.raises(TenantContextRequired):
        data_key()


def test_a_ciphertext_moved_to_another_cell_or_record_does_not_decrypt(cells, ctx):
    with tenant_context(cells.a):
        first, second = _new_subject("A-1", NAME), _new_subject("A-2", "Jan Peeters")
        token = encrypt(NAME, first.key_scope)
        tenant_token = encrypt(NAME)
        db.session.commit()
        first_scope = first.key_scope
        with pytest.raises(DecryptionFailed):
            decrypt(token, second.key_scope)  # another record of the same cell
        with pytest.raises(DecryptionFailed):
            decrypt(tenant_token, first_scope)  # the cell-wide key is not the record's
        second.name_ciphertext = first.name_ciphertext  # pasted into another record
        with pytest.raises(DecryptionFailed):
            _ = second.name
        tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        for bad in (tampered, token[:20], "v1.", "v0." + token[3:], NAME):
            with pytest.raises(DecryptionFailed):
                decrypt(bad, first_scope)
        db.session.rollback()

    with tenant_context(cells.b):
        with pytest.raises(DecryptionFailed):
            decrypt(tenant_token)  # B has no keys yet ...
        with pytest.raises(DecryptionFailed):
            decrypt(token, first_scope)
        assert db.session.scalars(sa.select(DataKey.scope)).all() == []  # ... and decrypting made none
        encrypt("B's own remark")
        with pytest.raises(DecryptionFailed):
            decrypt(tenant_token)  # B's own cell-wide key, B's associated data
        encrypt("B's own subject", first_scope)  # even once B keys the same scope name
        with pytest.raises(DecryptionFailed):
            decrypt(token, first_scope)
        remark = Remark()
        db.session.add(remark)
        remark.text_ciphertext = tenant_token
        with pytest.raises(DecryptionFailed):
            _ = remark.text


def test_a_key_made_in_a_rolled_back_transaction_is_forgotten(cells, ctx):
    """Keys are cached per transaction only: a key whose row was rolled back never encrypts again."""
    scope = record_scope("subject", 99)
    with tenant_context(cells.a):
        rolled_back = data_key(scope)
        db.session.rollback()
        kept = data_key(scope)
        db.session.commit()
        assert kept != rolled_back
        assert data_key(scope) == kept
        with tenant_context(cells.b):  # same transaction, another cell: never the same key
            assert data_key(scope) != kept and data_key() != data_key(scope)
        assert data_key(scope) == kept


# --- crypto-shredding ---------------------------------------------------------------------------


def test_shredding_a_record_erases_it_and_only_it(cells, ctx):
    with tenant_context(cells.a):
        erased, kept = _new_subject("A-1", NAME), _new_subject("A-2", "Jan Peeters")
        remark = Remark(text="cell-wide")
        db.session.add(remark)
        db.session.commit()
        erased_id, kept_id, scope = erased.id, kept.id, erased.key_scope

        shred(erased)
        db.session.commit()
        db.session.expunge_all()

        erased, kept = db.session.get(Subject, erased_id), db.session.get(Subject, kept_id)
        with pytest.raises(KeyDestroyed):
            _ = erased.name
        assert erased.name_ciphertext is not None and erased.name_index is None  # no "was X here?"
        assert kept.name == "Jan Peeters" and db.session.scalars(sa.select(Remark.text_ciphertext)).one()
        assert db.session.scalars(sa.select(Remark)).one().text == "cell-wide"
        assert db.session.scalars(sa.select(Subject).where(Subject.name.matches(NAME))).all() == []

        stored = _raw_key(scope)
        assert stored.wrapped_key is None and stored.destroyed_at is not None  # the row stays as evidence
        assert _raw_key(kept.key_scope).wrapped_key is not None
        for attempt in (lambda: data_key(scope), lambda: encrypt("again", scope),
                        lambda: decrypt(erased.name_ciphertext, scope)):
            with pytest.raises(KeyDestroyed):  # never keyed again
                attempt()
        destroyed_at = stored.destroyed_at
        destroy_key(scope)  # idempotent
        db.session.commit()
        assert _raw_key(scope).destroyed_at == destroyed_at
        entries = db.session.execute(
            sa.select(AuditEntry.action, AuditEntry.subject).where(AuditEntry.action == "key.destroyed")
        ).all()
        assert entries == [("key.destroyed", scope)]

        destroy_key("signal:7")  # never keyed: a tombstone, so it never will be
        db.session.commit()
        with pytest.raises(KeyDestroyed):
            encrypt("late", "signal:7")
        with pytest.raises(ValueError, match="own key scope"):
            shred(db.session.scalars(sa.select(Remark)).one())  # would erase the whole cell

        if _is_postgres():  # the app role may not delete the evidence
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                db.session.execute(sa.delete(DataKey.__table__).where(DataKey.__table__.c.scope == scope))
            db.session.rollback()

    with tenant_context(cells.a):
        victim = db.session.get(Subject, kept_id)
    with tenant_context(cells.b), pytest.raises(CrossTenantWrite):  # B cannot write into A's record
        victim.name = "overwritten from B"
    with tenant_context(cells.a):
        db.session.rollback()
        assert db.session.get(Subject, kept_id).name == "Jan Peeters"


def test_destroying_the_cell_wide_key_erases_the_cell_only(cells, ctx):
    with tenant_context(cells.b):
        b_token = encrypt(NAME)
        db.session.commit()
    with tenant_context(cells.a):
        a_token = encrypt(NAME)
        destroy_key(TENANT_SCOPE)
        db.session.commit()
        for attempt in (lambda: decrypt(a_token), lambda: blind_index(NAME, "name")):
            with pytest.raises(KeyDestroyed):
                attempt()
    with tenant_context(cells.b):
        assert decrypt(b_token) == NAME


# --- isolation ----------------------------------------------------------------------------------


def test_another_cell_cannot_see_the_keys(cells, ctx):
    with tenant_context(cells.a):
        subject = _new_subject("A-1", NAME)
        db.session.commit()
        a_ids = set(db.session.scalars(sa.select(DataKey.id)).all())
        assert len(a_ids) == 2  # the cell-wide key (blind index) and the record's
    with tenant_context(cells.b):
        encrypt("B")
        db.session.commit()
        b_keys = db.session.scalars(sa.select(DataKey)).all()
        assert [key.tenant_id for key in b_keys] == [cells.b]
        assert all(db.session.get(DataKey, key_id) is None for key_id in a_ids)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DataKey)) == 1
        raw_count = db.session.scalar(sa.text("SELECT count(*) FROM data_keys"))
        if _is_postgres():  # row-level security confines raw SQL too
            assert raw_count == 1
            assert db.session.execute(
                sa.text("UPDATE data_keys SET wrapped_key = NULL WHERE tenant_id = :a"), {"a": cells.a}
            ).rowcount == 0
        else:
            assert raw_count == 3
        db.session.commit()
    with pytest.raises(TenantContextRequired):
        db.session.scalars(sa.select(DataKey)).all()
    if _is_postgres():
        db.session.rollback()
        assert db.session.scalar(sa.text("SELECT count(*) FROM data_keys")) == 0
    with tenant_context(cells.a):
        assert db.session.get(Subject, subject.id).name == NAME


def test_a_wrong_master_key_cannot_unwrap(app, cells, ctx, tmp_path):
    settings = app.extensions["livc.settings"]
    with tenant_context(cells.a):
        token = encrypt(NAME)
        db.session.commit()
        wrapped_a = _raw_key(TENANT_SCOPE).wrapped_key
    with tenant_context(cells.b):
        encrypt("B")
        db.session.commit()

    other_master = base64.urlsafe_b64encode(b"\x42" * 32).decode()
    other = make_app(tmp_path, master_key=other_master, database_url=settings.database_url,
                     migrate_database_url=settings.migrate_database_url, database_pool_size=2)
    try:
        with other.app_context(), tenant_context(cells.a):
            for attempt in (lambda: decrypt(token), lambda: blind_index(NAME, "name"), lambda: encrypt("x")):
                with pytest.raises(MasterKeyMismatch):
                    attempt()
            # Claiming the other master key wrapped it does not help: the unwrap itself fails.
            data_key(record_scope("subject", 5))  # a key the other master key did wrap
            other_id = db.session.scalars(sa.select(DataKey.master_key_id).where(DataKey.scope == "subject:5")).one()
            tenant_row = db.session.scalars(sa.select(DataKey).where(DataKey.scope == TENANT_SCOPE)).one()
            assert tenant_row.master_key_id != other_id
            tenant_row.master_key_id = other_id
            db.session.flush()
            with pytest.raises(MasterKeyMismatch, match="does not unwrap"):
                decrypt(token)
            db.session.rollback()
            db.session.remove()
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()

    with tenant_context(cells.a):
        assert decrypt(token) == NAME  # the right master key still reads it
    with tenant_context(cells.b):  # A's wrapped key pasted into B's row is refused, not used
        row = db.session.scalars(sa.select(DataKey)).one()
        row.wrapped_key = wrapped_a
        db.session.flush()
        with pytest.raises(MasterKeyMismatch, match="does not unwrap"):
            data_key()
        db.session.rollback()


# --- blind index --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "searched"),
    [
        ("Élodie  Van-den Berghe", "elodie vandenberghe"),
        ("VAN DEN BERGHE", "Vandenberghe"),
        ("O’Brien", "o'brien"),
        ("Sœur Ğül", "soeur gul"),
        ("Straße", "STRASSE"),
        ("85.07.30-033.28", "85073003328"),
        ("\u212bngström", "angstrom"),  # a compatibility character (Ångström sign)
    ],
)
def test_normalisation_makes_spellings_of_one_name_equal(written, searched):
    assert normalise_for_index(written) == normalise_for_index(searched)


def test_normalisation_keeps_different_names_apart():
    assert normalise_for_index("Jan Peeters") != normalise_for_index("Jan Peters")
    assert normalise_for_index("Élodie") == "elodie"


def test_blind_indexes_match_spellings_and_differ_per_cell_and_field(cells, ctx):
    with tenant_context(cells.a):
        index = blind_index("Élodie  Van-den Berghe", "name")
        assert len(index) == 64 and int(index, 16) >= 0
        assert blind_index("elodie vandenberghe", "name") == index
        assert blind_index("Elodie Van den Bergh", "name") != index
        assert blind_index("Élodie Van den Berghe", "birth_name") != index  # per field
        for bad in ("", " - ' "):
            with pytest.raises(ValueError):
                blind_index(bad, "name")
        with pytest.raises(ValueError):
            blind_index(NAME, "Name:other")
        a_subject = _new_subject("A-1", NAME)
        _new_subject("A-2", "Jan Peeters")
        _new_subject("A-3", None)
        db.session.commit()
        found = db.session.scalars(sa.select(Subject).where(Subject.name.matches("elodie VANDENBERGHE"))).all()
        assert [subject.id for subject in found] == [a_subject.id]
        with pytest.raises(TypeError, match="matches"):
            sa.select(Subject).where(Subject.name == NAME)
        with pytest.raises(TypeError, match="no blind index"):
            Remark.text.matches("x")
    with tenant_context(cells.b):
        assert blind_index("elodie vandenberghe", "name") != index  # per cell
        b_subject = _new_subject("B-1", NAME)
        db.session.commit()
        assert db.session.scalars(sa.select(Subject.id).where(Subject.name.matches(NAME))).all() == [b_subject.id]
        assert b_subject.name_index != index


def test_scopes_are_checked():
    assert record_scope("case", 42) == "case:42"
    for kind, record_id in (("Case", 1), ("case", "1/2"), ("ca se", 1), ("case", "")):
        with pytest.raises(ValueError):
            record_scope(kind, record_id)
