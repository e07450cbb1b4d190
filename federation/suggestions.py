"""Likely neighbours of a cell, suggested on its federation links page.

From tenant directory data only (the platform-level ``tenants`` and ``tenant_municipalities``
tables and the registry of municipalities, :mod:`livc.platform.registry`), never case content: the
other **active** cells that cover municipalities of the same police zone, of the same or an
adjacent judicial canton (the registry's approximation of neighbouring municipalities: it has no
municipality borders), or of the same judicial arrondissement. The cell itself and the cells it
already has a live link with (active or a request waiting on either side) are left out.

Each suggestion carries its reasons, strongest first; suggestions are sorted by the sum of
their reasons' weights, then by how many pairs of municipalities the reasons name, then by name.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from livc.federation.links import links_of
from livc.platform import registry
from livc.platform.db import db
from livc.platform.tenancy import Tenant, TenantMunicipality, TenantStatus


class ReasonKind(enum.StrEnum):
    POLICE_ZONE = "police_zone"  # a municipality of each cell in one police zone
    SAME_CANTON = "same_canton"  # a municipality of each cell in one judicial canton
    ADJACENT_CANTON = "adjacent_canton"  # ... in judicial cantons whose boundaries touch
    ARRONDISSEMENT = "arrondissement"  # ... in one judicial arrondissement (district)


WEIGHTS = {
    ReasonKind.POLICE_ZONE: 4,
    ReasonKind.SAME_CANTON: 3,
    ReasonKind.ADJACENT_CANTON: 2,
    ReasonKind.ARRONDISSEMENT: 1,
}


@dataclass(frozen=True)
class Reason:
    kind: ReasonKind
    # (our NIS code, their NIS code) pairs for the municipality reasons; empty otherwise.
    pairs: tuple[tuple[str, str], ...] = ()
    # The shared police zone's code or arrondissement's id, for those reasons.
    area: str | None = None

    @property
    def weight(self) -> int:
        return WEIGHTS[self.kind]


@dataclass(frozen=True)
class Suggestion:
    tenant_id: int
    name: str
    reasons: tuple[Reason, ...]

    @property
    def score(self) -> int:
        return sum(reason.weight for reason in self.reasons)

    @property
    def pairs(self) -> int:
        """How many pairs of municipalities the reasons name (breaks a tie in score)."""
        return sum(len(reason.pairs) for reason in self.reasons)


def _coverage(tenant_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    query = sa.select(TenantMunicipality.tenant_id, TenantMunicipality.nis_code)
    if tenant_ids is not None:
        query = query.where(TenantMunicipality.tenant_id.in_(list(tenant_ids)))
    covered: dict[int, list[str]] = {}
    for tenant_id, nis_code in db.session.execute(query):
        covered.setdefault(tenant_id, []).append(nis_code)
    return covered


def reasons_between(ours: Iterable[str], theirs: Iterable[str]) -> tuple[Reason, ...]:
    """Why two coverages (NIS codes) look like neighbours, strongest first."""
    mine = [m for m in (registry.municipality(code) for code in sorted(set(ours))) if m]
    other = [m for m in (registry.municipality(code) for code in sorted(set(theirs))) if m]
    zone_of = registry.zones_of([m.nis_code for m in mine + other])
    zones: dict[str, list[tuple[str, str]]] = {}
    same_canton, adjacent, arrondissements = [], [], []
    for a in mine:
        for b in other:
            if a.nis_code == b.nis_code:
                continue  # overlapping coverage is the operator's business, not a neighbour
            pair = (a.nis_code, b.nis_code)
            zone = zone_of.get(a.nis_code)
            if zone and zone == zone_of.get(b.nis_code):
                zones.setdefault(zone, []).append(pair)
            if set(a.cantons) & set(b.cantons):
                same_canton.append(pair)
            elif b.nis_code in a.neighbours:
                adjacent.append(pair)
            if a.arrondissement == b.arrondissement and a.arrondissement not in arrondissements:
                arrondissements.append(a.arrondissement)
    reasons = [Reason(ReasonKind.POLICE_ZONE, tuple(pairs), zone) for zone, pairs in sorted(zones.items())]
    if same_canton:
        reasons.append(Reason(ReasonKind.SAME_CANTON, tuple(same_canton)))
    if adjacent:
        reasons.append(Reason(ReasonKind.ADJACENT_CANTON, tuple(adjacent)))
    reasons.extend(Reason(ReasonKind.ARRONDISSEMENT, area=area) for area in arrondissements)
    return tuple(reasons)


def suggestions_for(tenant_id: int) -> list[Suggestion]:
    """The other active cells that are likely neighbours of ``tenant_id``, strongest first."""
    taken = {link.other(tenant_id) for link in links_of(tenant_id)} | {tenant_id}
    candidates = dict(db.session.execute(
        sa.select(Tenant.id, Tenant.name).where(Tenant.status == TenantStatus.ACTIVE, Tenant.id.not_in(taken))
    ).all())
    if not candidates:
        return []
    ours = _coverage([tenant_id]).get(tenant_id, [])
    found = []
    for other_id, theirs in _coverage(candidates).items():
        reasons = reasons_between(ours, theirs)
        if reasons:
            found.append(Suggestion(other_id, candidates[other_id], reasons))
    return sorted(found, key=lambda s: (-s.score, -s.pairs, s.name.casefold(), s.tenant_id))
