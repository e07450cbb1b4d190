"""Matching one enrolment against everything enrolled in the cells linked to its cell.

One indexed query joins the enrolment's tokens to equal tokens (same epoch, key type and
token: the ``(epoch, key_type, token)`` index) of enrolled cases of actively linked cells,
giving each other enrolment with the key types on which the two agree. The decision
(:func:`.match_keys.decide`) sees those types and which fields each side knows, never a value.

The "sole candidate" rule of :mod:`.linkage` (a weak agreement, 3 to 5, counts when neither
record takes part in another such pair) is a property of two whole sets; matching one record
against many as cases arrive cannot apply it soundly, so here only the strong rule alerts: a
national number, or a score of at least :data:`.match_keys.THRESHOLD`.
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from livc.federation.alerts import create_alert
from livc.federation.links import linked_cells
from livc.federation.match_keys import contradicted, decide, unknown_fields
from livc.federation.models import (
    AlertState,
    DismissedPair,
    EnrolmentStatus,
    FederationEnrolment,
    FederationToken,
    MatchAlert,
)
from livc.platform.db import db
from livc.platform.jobs import task


def candidates_query(enrolment_id: int, linked_tenant_ids) -> sa.Select:
    """(other enrolment id, key type) for every token the enrolment shares with an enrolled
    case of a linked cell: one join on the token index."""
    mine = aliased(FederationToken, name="mine")
    theirs = aliased(FederationToken, name="theirs")
    other = aliased(FederationEnrolment, name="other")
    return (
        sa.select(theirs.enrolment_id, theirs.key_type)
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


@task(queue="federation")
def match_enrolment(enrolment_id: int) -> int:
    """Alert on the enrolment's matches in linked cells (a platform-level job, also called by
    :func:`.enrolment.enrol_case`); returns how many alerts were created. Re-running creates
    none twice. The coordinators' mails are handed over in the same transaction."""

    me = db.session.get(FederationEnrolment, enrolment_id)
    if me is None or me.status != EnrolmentStatus.ENROLLED:
        return 0
    links = linked_cells(me.tenant_id)
    if not links:
        return 0
    agreeing: dict[int, set[str]] = defaultdict(set)
    for other_id, key_type in db.session.execute(candidates_query(me.id, links)):
        agreeing[other_id].add(key_type)
    created = 0
    for other_id in sorted(agreeing):
        other = db.session.get(FederationEnrolment, other_id)
        types = agreeing[other_id]
        unknown = unknown_fields(me.known_fields, other.known_fields)
        decided = decide(types, unknown, contradiction=contradicted(me.known_fields, other.known_fields, types))
        if decided is None:
            continue
        low, high = (me, other) if me.id < other.id else (other, me)
        link_id = links[other.tenant_id]
        if _dismissed(low, high) or _live_alert(link_id, low.id, high.id):
            continue
        if create_alert(link_id, low, high, decided, types, unknown) is not None:
            created += 1
    return created
