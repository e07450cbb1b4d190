"""Matching one enrolment against everything enrolled in the cells linked to its cell.

One indexed query joins the enrolment's tokens to equal tokens (same epoch, key type and
token: the ``(epoch, key_type, token)`` index) of enrolled cases of actively linked cells,
giving each other enrolment with the key types on which the two agree, in one round trip. The
decision (:func:`.match_keys.decide`) sees those types and which fields each side knows, never a
value.

Two kinds of alert:

- **strong**: a national number, or a score of at least :data:`.match_keys.THRESHOLD`;
- **weak** ("possible match", a score from :data:`.match_keys.CANDIDATE` up, below the
  threshold): the pair is the *sole candidate* of both its records among the linked cells'
  enrolled cases (neither takes part in another pair scoring :data:`.match_keys.CANDIDATE` or
  more). The other record's candidates are read with a second query of the same kind, only when
  the new enrolment has exactly one candidate. It is re-checked as enrolments arrive: a newcomer
  that gives a record of an open weak alert a second candidate withdraws that alert while
  neither side has acted on it (both still *new*), and makes no weak alert itself.

So, whatever the order in which two sets are enrolled, the open weak alerts at the end are the
pairs that are each other's sole candidate (the rule of :mod:`.linkage`, without its one-to-one
assignment and residual step, which need two whole sets). A live residual step (two records
that have only each other, the rule refusing them) was measured and left out: right on FEBRL4,
where every record has its counterpart, and nearly always wrong where the cells hold mostly
different people, as a federation's do (``federation/README.md``, Measured).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from livc.federation.alerts import create_alert, withdraw_alerts
from livc.federation.links import linked_cells
from livc.federation.match_keys import (
    CANDIDATE,
    THRESHOLD,
    contradicted,
    decide,
    score,
    unknown_fields,
)
from livc.federation.models import (
    AlertState,
    DismissedPair,
    EnrolmentStatus,
    FederationEnrolment,
    FederationToken,
    MatchAlert,
    SideStatus,
)
from livc.platform.db import db
from livc.platform.jobs import task


def candidates_query(enrolment_id: int, linked_tenant_ids) -> sa.Select:
    """(other enrolment id, key type, the other enrolment) for every token the enrolment shares
    with an enrolled case of a linked cell: one join on the token index, one round trip."""
    mine = aliased(FederationToken, name="mine")
    theirs = aliased(FederationToken, name="theirs")
    other = aliased(FederationEnrolment, name="other")
    return (
        sa.select(theirs.enrolment_id, theirs.key_type, other)
        .select_from(mine)
        .join(theirs, sa.and_(
            theirs.epoch == mine.epoch, theirs.key_type == mine.key_type, theirs.token == mine.token,
        ))
        .join(other, other.id == theirs.enrolment_id)
        .where(
            mine.enrolment_id == enrolment_id,
            theirs.tenant_id.in_(list(linked_tenant_ids)),
            other.status == EnrolmentStatus.ENROLLED,
        )
        .distinct()
    )


def _dismissed(low: FederationEnrolment, high: FederationEnrolment) -> bool:
    return db.session.scalar(
        sa.select(sa.literal(True)).where(
            DismissedPair.ref_low == low.ref, DismissedPair.ref_high == high.ref,
            DismissedPair.version_low == low.identity_version, DismissedPair.version_high == high.identity_version,
        )
    ) is not None


def _live_alert(link_id: int, low_id: int, high_id: int) -> bool:
    return db.session.scalar(
        sa.select(sa.literal(True)).where(
            MatchAlert.link_id == link_id, MatchAlert.enrolment_a_id == low_id, MatchAlert.enrolment_b_id == high_id,
            MatchAlert.state.in_([AlertState.OPEN, AlertState.CONFIRMED]),
        )
    ) is not None


@dataclass(frozen=True)
class Pair:
    """The enrolment being matched and one other that shares a token with it."""

    other: FederationEnrolment
    types: frozenset[str]
    unknown: frozenset[str]
    score: float
    strong: float | None  # the score when the rule alerts on it alone
    weak: float | None  # the score when it alerts as a sole candidate


def pairs_of(me: FederationEnrolment, links: dict[int, int]) -> list[Pair]:
    """Every enrolled case of a linked cell sharing a token with ``me``, scored: one query."""
    agreeing: dict[int, set[str]] = defaultdict(set)
    others: dict[int, FederationEnrolment] = {}
    for other_id, key_type, other in db.session.execute(candidates_query(me.id, links)):
        agreeing[other_id].add(key_type)
        others[other_id] = other
    pairs = []
    for other in sorted(others.values(), key=lambda enrolment: enrolment.id):
        types = frozenset(agreeing[other.id])
        unknown = unknown_fields(me.known_fields, other.known_fields)
        contradiction = contradicted(me.known_fields, other.known_fields, types)
        pairs.append(Pair(
            other, types, unknown, score(types, unknown),
            decide(types, unknown, contradiction=contradiction),
            decide(types, unknown, sole_candidate=True, contradiction=contradiction),
        ))
    return pairs


def _candidates(pairs: list[Pair]) -> list[Pair]:
    """The pairs that compete for a weak alert: every pair scoring :data:`CANDIDATE` or more
    (strong, weak, or refused by the rule: twins, two national numbers)."""
    return [pair for pair in pairs if pair.score >= CANDIDATE]


def _sole_candidate_of(other: FederationEnrolment, me_id: int) -> bool:
    """Whether ``me_id`` is the only candidate of ``other`` among its own linked cells."""
    candidates = _candidates(pairs_of(other, linked_cells(other.tenant_id)))
    return [pair.other.id for pair in candidates] == [me_id]


def _withdraw_competed(me: FederationEnrolment, candidates: list[Pair]) -> int:
    """Withdraw the open weak alerts that ``me`` competes with, while neither side acted on them:
    those of its candidates with a third record (each now has ``me`` as a second candidate), and,
    unless ``me`` has exactly one candidate, its own (its weak alert with its one candidate
    stands)."""
    ids = [pair.other.id for pair in candidates]
    involved = sa.or_(MatchAlert.enrolment_a_id.in_(ids), MatchAlert.enrolment_b_id.in_(ids))
    mine = sa.or_(MatchAlert.enrolment_a_id == me.id, MatchAlert.enrolment_b_id == me.id)
    competed = sa.and_(involved, sa.not_(mine))
    if len(candidates) != 1:
        competed = sa.or_(competed, mine)
    else:
        other = candidates[0].other.id
        competed = sa.or_(competed, sa.and_(mine, sa.not_(sa.or_(
            MatchAlert.enrolment_a_id == other, MatchAlert.enrolment_b_id == other))))
    alert_ids = db.session.scalars(
        sa.select(MatchAlert.id).where(
            competed,
            MatchAlert.state == AlertState.OPEN,
            MatchAlert.score < THRESHOLD,
            MatchAlert.status_a == SideStatus.NEW,
            MatchAlert.status_b == SideStatus.NEW,
        )
    ).all()
    return withdraw_alerts(alert_ids) if alert_ids else 0


@task(queue="federation")
def match_enrolment(enrolment_id: int) -> int:
    """Alert on the enrolment's matches in linked cells (a platform-level job, also called by
    :func:`.enrolment.enrol_case`): strong alerts, and a weak one when the enrolment and its
    one candidate are each other's sole candidate; withdraw the weak alerts it competes with.
    Returns how many alerts were created. Re-running creates none twice. The coordinators'
    mails are handed over in the same transaction."""

    me = db.session.get(FederationEnrolment, enrolment_id)
    if me is None or me.status != EnrolmentStatus.ENROLLED:
        return 0
    links = linked_cells(me.tenant_id)
    if not links:
        return 0
    pairs = pairs_of(me, links)
    candidates = _candidates(pairs)
    _withdraw_competed(me, candidates)
    alerted = [(pair, pair.strong) for pair in pairs if pair.strong is not None]
    if len(candidates) == 1 and candidates[0].strong is None and candidates[0].weak is not None:
        if _sole_candidate_of(candidates[0].other, me.id):
            alerted.append((candidates[0], candidates[0].weak))
    created = 0
    for pair, decided in alerted:
        other = pair.other
        low, high = (me, other) if me.id < other.id else (other, me)
        link_id = links[other.tenant_id]
        if _dismissed(low, high) or _live_alert(link_id, low.id, high.id):
            continue
        if create_alert(link_id, low, high, decided, pair.types, pair.unknown, newer=me) is not None:
            created += 1
    return created
