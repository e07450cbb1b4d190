"""``livc federation link LEFT.csv RIGHT.csv --as-enrolled``: what coordinators would be alerted
on if two linked cells enrolled these people, measured through production's own path.

Batch linkage (:mod:`.linkage`) links two whole sets at once, with steps production cannot take
(a one-to-one assignment, a residual step). This mode instead plays the live federation:

1. a throw-away platform: a SQLite database in a temporary directory, migrated
   (:func:`livc.platform.migrating.upgrade`) and opened by the app factory, holding two cells
   (``left``, ``right``) and an agreed :class:`~.models.FederationLink` between them;
2. each record's match keys as enrolment makes them (:func:`.match_keys.identity_keys`, no
   batch-only key) and their tokens through the OPRF with an ephemeral in-process custodian
   (a fresh secret, forgotten at the end);
3. every LEFT record enrolled as a case of the first cell, **in file order, then** every RIGHT
   record as a case of the second: its tokens stored by :func:`.enrolment.store_tokens` (what
   :func:`.enrolment.enrol_case` stores) and matched by :func:`.matching.match_enrolment`, the
   production matcher (strong alerts, weak alerts as sole candidates, weak alerts withdrawn when
   a newcomer competes);
4. the alerts still open or confirmed at the end (not withdrawn): what coordinators see.

A record production would not enrol (:func:`.enrolment.identity_refusal`: a national number
without both names, names without a year of birth or a national number) is not enrolled here
either, and so never alerts. Cells' enrolment budgets and throttles do not apply: the cases are enrolled by the command, not
by coordinators' requests. The temporary directory, and the database in it, are deleted at the
end.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from livc.federation.enrolment import identity_refusal, store_tokens
from livc.federation.linkage import EvaluateBlinded, Match, Record, ephemeral_custodian, tokens_for
from livc.federation.matching import match_enrolment
from livc.federation.models import AlertState, FederationEnrolment, FederationLink, MatchAlert
from livc.platform import migrating
from livc.platform.db import db
from livc.platform.settings import load_settings
from livc.platform.tenancy import Tenant, TenantKind
from livc.platform.timeutil import utcnow

EPOCH = 1
COMMIT_EVERY = 500  # enrolments per transaction (production commits each job; the result is the same)
VERSION = "as-enrolled"  # the identity version of every enrolment (identities never change here)


def _settings(folder: Path) -> dict:
    """A throw-away platform's settings: everything in ``folder``, jobs and mails in process
    (overriding any ``LIVC_*`` of the environment)."""
    url = f"sqlite:///{(folder / 'livc.sqlite').resolve()}"
    return {
        "env": "test", "data_dir": str(folder), "database_url": url, "migrate_database_url": url,
        "secret_key": "as-enrolled-" + "x" * 32, "redis_url": "", "smtp_url": "", "custodian_url": "",
        "public_url": "",
    }


def link_as_enrolled(
    left: Sequence[Record],
    right: Sequence[Record],
    create_app: Callable[[dict], Flask],
    evaluate_blinded: EvaluateBlinded | None = None,
) -> list[Match]:
    """The alerts (open or confirmed) after enrolling LEFT's records in one cell and then RIGHT's
    in a linked cell, in the order of the left then the right records. ``create_app``: the app
    factory (the federation does not import the composition root; ``livc`` hands it over)."""
    evaluate_blinded = evaluate_blinded or ephemeral_custodian()
    left_tokens = tokens_for(left, evaluate_blinded)
    right_tokens = tokens_for(right, evaluate_blinded)
    with tempfile.TemporaryDirectory(prefix="livc-as-enrolled-") as tmp:
        overrides = _settings(Path(tmp))
        migrating.upgrade(load_settings(overrides))
        app = create_app(overrides)
        with app.app_context():
            try:
                return _enrol_and_match(left, right, left_tokens, right_tokens)
            finally:
                db.session.remove()
                db.engine.dispose()


def _enrol_and_match(left, right, left_tokens, right_tokens) -> list[Match]:
    cells = [Tenant(slug=slug, name=slug.upper(), kind=TenantKind.MUNICIPALITY) for slug in ("left", "right")]
    db.session.add_all(cells)
    db.session.flush()
    now = utcnow()
    db.session.add(FederationLink(
        cell_a_id=cells[0].id, cell_b_id=cells[1].id, requested_by_id=cells[0].id,
        requested_at=now, a_agreed_at=now, b_agreed_at=now,
    ))  # fmt: skip
    db.session.commit()
    record_of: dict[int, tuple[int, int]] = {}  # enrolment id -> (side, position)
    done = 0
    for side, (records, tokens) in enumerate(((left, left_tokens), (right, right_tokens))):
        for position, (record, typed) in enumerate(zip(records, tokens, strict=True)):
            if identity_refusal(record.identity.known) is not None:
                continue  # production never enrols it (a national number alone, no date): no alert
            enrolment = FederationEnrolment(tenant_id=cells[side].id, ref=f"{side}-{position}")
            db.session.add(enrolment)
            db.session.flush()
            store_tokens(enrolment, record.identity, typed, EPOCH, VERSION)
            match_enrolment(enrolment.id)
            record_of[enrolment.id] = (side, position)
            done += 1
            if done % COMMIT_EVERY == 0:
                db.session.commit()
        db.session.commit()
        # SQLite plans without statistics: gathered once the first cell is in, the lookup goes
        # through the token index (as on PostgreSQL) rather than through all of a cell's tokens.
        db.session.execute(sa.text("ANALYZE"))
    found = []
    for alert in db.session.scalars(
        sa.select(MatchAlert).where(MatchAlert.state.in_([AlertState.OPEN, AlertState.CONFIRMED]))
    ):
        ends = sorted([record_of[alert.enrolment_a_id], record_of[alert.enrolment_b_id]])
        (_, i), (_, j) = ends
        found.append((i, j, alert))
    found.sort(key=lambda item: (item[0], item[1]))
    return [
        Match(left[i].id, right[j].id, alert.score, alert.agreeing_types,
              tuple(field for field in alert.unknown.split(",") if field))
        for i, j, alert in found
    ]
