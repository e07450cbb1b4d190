"""The key scheme: the version of the match keys (``match_keys.KEY_SCHEME``), recorded with each
enrolment, so that the federation sweep re-enrols the cases whose tokens an older scheme made.

The first test fails when what the match keys make changes (a key type, a weight, the
normalisation, the clusters, the phonetic code) without the scheme being bumped: then enrolled
cases would keep tokens that no newly enrolled case makes, and never be refreshed.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from test_federation_core import (  # noqa: F401
    AMRANI_H,
    AMRANI_L,
    alerts_of,
    as_cell,
    link,
    open_person,
    rows,
    two,
)

from livc.federation import enrolment, match_keys
from livc.federation.match_keys import KEY_SCHEME
from livc.federation.models import EnrolmentStatus, FederationEnrolment, FederationToken, MatchAlert
from livc.platform.db import db

# Identities that reach every kind of key: particles, diacritics, Turkish and Cyrillic letters,
# a partial date, a year only, a national number, a missing given or family name.
SAMPLES = [
    ("Mohammed", "El Amrani", "1990-03-07", ""),
    ("Youssef Jan", "Van den Voorbeeld", "1999-06-21", "99.06.21-123.45"),
    ("Kristof", "Goossens", "1988-02-12", ""),
    ("Aïşe", "Öztürk-Yılmaz", "2001-11", ""),
    ("Рамзан", "Kadyrov", "1976", ""),
    ("", "De Smet", "1965-05-04", ""),
    ("Jan", "", "1965-05-04", "65050412345"),
]
# The fingerprint of each scheme. 1: match_keys.py of commit c96df84 (del_dob), computed the
# same way; 2: gdel_dob and fdel_dob replaced del_dob; 3: dig_dob, dsw_dob, fw_dob, name_only enrolled;
# 4: dig_dob and dsw_dob dropped.
RECORDED = {
    1: "27d6db540896515da372ccb1f215f7f1b8780aaa19ad37a24293817525b58163",
    2: "2235ee98b246a1499d4d2788f00ddc8ddbb107c40dc97a8a5f82e7fc70d3d875",
    3: "c6a945602aa732cad322754697edfc05cfd307fa62d2b3bf649c742d1cdd80b2",
    4: "80fdfe2c74131e6c69a3dd1097b5ce1b9f2bfc8f18a65b9af80b7f2d0d7f9f38",
}


def fingerprint(module) -> str:
    """A digest of the weights and of the keys (bytes, before any OPRF) made for the samples."""
    digest = hashlib.sha256()
    digest.update(json.dumps(sorted(module.WEIGHTS.items())).encode())
    for sample in SAMPLES:
        keys = module.identity_keys(module.Identity.parse(*sample))
        digest.update(json.dumps(sorted((kind, key.hex()) for kind, key in keys.items())).encode())
    return digest.hexdigest()


def test_the_match_keys_are_those_of_the_recorded_scheme():
    found = fingerprint(match_keys)
    assert KEY_SCHEME == max(RECORDED), "record the fingerprint of the new KEY_SCHEME here"
    assert found == RECORDED[KEY_SCHEME], (
        f"the match keys changed ({found}): bump KEY_SCHEME in federation/match_keys.py and record "
        "the new fingerprint under it in RECORDED (the sweep then re-enrols every case)"
    )
    assert len(set(RECORDED.values())) == len(RECORDED)  # every bump changed the keys


def test_a_weight_or_key_change_changes_the_fingerprint(monkeypatch):
    before = fingerprint(match_keys)
    monkeypatch.setitem(match_keys.WEIGHTS, "phon_y", 2.0)
    assert fingerprint(match_keys) != before
    monkeypatch.undo()
    monkeypatch.setattr(match_keys, "PART", 4)  # the names' beginnings and ends get longer
    assert fingerprint(match_keys) != before


def _as_older_scheme(app, cell, scheme):
    """Turn the cell's enrolments into what an older scheme left: its key types (del_dob for
    gdel_dob and fdel_dob) and its version (None: from before versions were recorded)."""
    with app.app_context():
        ids = db.session.scalars(
            sa.select(FederationEnrolment.id).where(FederationEnrolment.tenant_id == cell.tenant_id)
        ).all()
        db.session.execute(
            sa.update(FederationToken)
            .where(FederationToken.enrolment_id.in_(ids), FederationToken.key_type.in_(["gdel_dob", "fdel_dob"]))
            .values(key_type="del_dob")
        )
        db.session.execute(
            sa.update(FederationEnrolment).where(FederationEnrolment.id.in_(ids)).values(key_scheme=scheme)
        )
        db.session.commit()
        db.session.remove()


def kinds_of(app, cell) -> set[str]:
    return {t.key_type for t in rows(app, FederationToken) if t.tenant_id == cell.tenant_id}


@pytest.mark.parametrize("older", [KEY_SCHEME - 1, None], ids=["older scheme", "no scheme recorded"])
def test_the_sweep_re_enrols_an_older_key_scheme_a_batch_at_a_time(app, two, monkeypatch, older):  # noqa: F811
    leuven, herko = two
    link(app, leuven, herko)
    open_person(app, herko, AMRANI_H)
    open_person(app, leuven, AMRANI_L)
    open_person(app, leuven, {**AMRANI_L, "given_names": "Karim", "date_of_birth": "1984-10-30"})
    assert {e.key_scheme for e in rows(app, FederationEnrolment)} == {KEY_SCHEME}
    assert len(alerts_of(app, herko)) == 1  # Herko's case was enrolled first: it hears first
    _as_older_scheme(app, leuven, older)
    assert "del_dob" in kinds_of(app, leuven) and "gdel_dob" not in kinds_of(app, leuven)

    monkeypatch.setattr(enrolment, "REENROL_PER_SWEEP", 1)  # a batch of one case per sweep
    assert as_cell(app, herko, enrolment.sweep_enrolments) == 0  # Herko's are current
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 1
    assert sorted(e.key_scheme == KEY_SCHEME for e in rows(app, FederationEnrolment)
                  if e.tenant_id == leuven.tenant_id) == [False, True]
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 1
    assert as_cell(app, leuven, enrolment.sweep_enrolments) == 0  # nothing left to move

    after = rows(app, FederationEnrolment)
    assert {e.key_scheme for e in after} == {KEY_SCHEME} and {e.status for e in after} == {EnrolmentStatus.ENROLLED}
    assert "del_dob" not in kinds_of(app, leuven) and {"gdel_dob", "fdel_dob"} <= kinds_of(app, leuven)
    assert len(rows(app, MatchAlert)) == 1  # the same pair: matched again, not alerted twice
