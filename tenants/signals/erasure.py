"""Erasing signals and identities, and the anonymous tally that is all erasure leaves.

Erasing a record destroys the keys its content was encrypted under (crypto-shredding: every
copy, backups included, becomes unreadable) and deletes its rows. The cases' erasure
(:mod:`livc.tenants.cases.erasure`) and the nightly retention build on these.
"""

from __future__ import annotations

import sqlalchemy as sa

from livc.platform import audit
from livc.platform.db import db
from livc.platform.keys import destroy_key, record_scope
from livc.tenants.decisions.operations import forget_subject
from livc.tenants.signals import events
from livc.tenants.signals.models import (
    ErasureTally,
    Identity,
    Signal,
    Weighing,
    WeighingFact,
    WeighingParticipant,
)


def tally_erasure(record: str, year: int, outcome: str, target_group: str = "") -> None:
    """Count one erased ``record`` ("case" or "signal") under its year and outcome."""
    row = db.session.scalar(sa.select(ErasureTally).where(
        ErasureTally.year == year, ErasureTally.record == record, ErasureTally.outcome == outcome,
        ErasureTally.target_group == target_group,
    ))
    if row is None:
        row = ErasureTally(year=year, record=record, outcome=outcome, target_group=target_group, count=0)
        db.session.add(row)
    row.count += 1


def _identity_holders() -> list[tuple[type, sa.Column]]:
    """Every model with a column that refers to an identity, and that column: signals here, and
    the cases above, which this domain knows only through the schema's foreign keys."""
    return [
        (mapper.class_, key.parent)
        for mapper in db.Model.registry.mappers
        for key in mapper.local_table.foreign_keys
        if key.target_fullname == f"{Identity.__tablename__}.id"
    ]


def erase_identity(identity_id: int | None) -> None:
    """Erase an identity once no record refers to it any more."""
    if identity_id is None:
        return
    for model, column in _identity_holders():
        if db.session.scalar(sa.select(sa.func.count()).select_from(model).where(column == identity_id)):
            return
    db.session.execute(sa.delete(Identity).where(Identity.id == identity_id))
    destroy_key(record_scope("identity", identity_id))


def erase_signal(signal: Signal, *, tally: bool = True) -> None:
    """Erase a signal, its weighing and (unless still used) its identity. ``tally=False`` for a
    signal erased with its case, which the case's tally counts."""
    events.signal_erased.send(signal)  # before any row goes: listeners read the signal as it was
    weighing_ids = sa.select(Weighing.id).where(Weighing.signal_id == signal.id)
    db.session.execute(sa.delete(WeighingFact).where(WeighingFact.signal_id == signal.id))
    db.session.execute(sa.delete(WeighingParticipant).where(WeighingParticipant.weighing_id.in_(weighing_ids)))
    db.session.execute(sa.delete(Weighing).where(Weighing.signal_id == signal.id))
    forget_subject("signal", signal.id)
    identity_id, reference, signal_id = signal.identity_id, signal.reference, signal.id
    if tally:
        tally_erasure("signal", signal.received_at.year, signal.status.value)
    db.session.delete(signal)
    db.session.flush()
    destroy_key(record_scope("signal", signal_id))
    erase_identity(identity_id)
    audit.record("signal.erased", subject=f"signal:{reference}")
