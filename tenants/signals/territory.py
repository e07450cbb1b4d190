"""The territory of a cell: the municipalities it covers, and where the person of a signal or a
case lives (seed 004: the cell follows the residents of its territory; intermunicipal and zonal
cells cover several municipalities, seed 001).

The municipality of residence is a NIS code of the registry (:mod:`livc.platform.registry`):
one of the cell's municipalities, one outside its territory (the signal is then referred to the
competent cell, the active cell on the platform covering it), or unknown (a signal may come in
anonymous). Forms and the API send it the same way, as ``residence``: the NIS code of one of the
cell's municipalities (any Belgian municipality, for the API), ``"outside"`` with
``residence_outside`` (the municipality's name in any of the country's languages, or its NIS
code), or ``"unknown"`` (or nothing): not known yet. :func:`resolve_residence` turns that into a
NIS code, with a message per field when it cannot.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from livc.platform import registry
from livc.platform.db import current_tenant_id, db
from livc.platform.tenancy import NIS_PATTERN, Tenant, cell_covering

OUTSIDE = "outside"
UNKNOWN = "unknown"

OUTSIDE_REQUIRED = _l("Type the municipality where the person lives, outside the cell's territory: its name or NIS code.")
NOT_A_MUNICIPALITY = _l(
    "No Belgian municipality has this name or NIS code: check the spelling, or type its NIS code (five digits)."
)
SEVERAL_MUNICIPALITIES = _l("Several municipalities have this name: type the NIS code (five digits).")


def cell_tenant() -> Tenant:
    """The cell whose context is current."""
    return db.session.get(Tenant, current_tenant_id())


def territory() -> list[tuple[str, str]]:
    """The cell's municipalities as (NIS code, name in the reader's language), by name."""
    municipalities = [(covered.nis_code, covered.local_name) for covered in cell_tenant().municipalities]
    return sorted(municipalities, key=lambda item: registry.folded(item[1]))


def territory_codes() -> list[str]:
    return cell_tenant().nis_codes


def several_municipalities() -> bool:
    """An intermunicipal or zonal cell: its members, cases and figures tell the municipalities apart."""
    return len(territory_codes()) > 1


def in_territory(nis_code: str | None) -> bool:
    return nis_code is not None and nis_code in territory_codes()



def find_municipalities(text: str) -> list[registry.Municipality]:
    """The municipalities ``text`` names: a NIS code, or a name in Dutch, French or German
    (case, accents and punctuation aside)."""
    text = (text or "").strip()
    if NIS_PATTERN.match(text):
        known = registry.municipality(text)
        return [known] if known is not None else []
    wanted = registry.folded(text)
    if not wanted:
        return []
    return [m for m in registry.municipalities() if any(registry.folded(name) == wanted for name in m.names.values() if name)]


def resolve_residence(values: MutableMapping[str, Any], faults: dict[str, list[Any]]) -> tuple[bool, str | None]:
    """(given, NIS code) of the municipality of residence in ``values``; the form's fields
    (``residence``, ``residence_outside``) are taken out, a ``residence_nis`` already resolved
    (a decision restored, the demo, a hand-over) is checked against the registry. Not given:
    nothing was said, or "not known yet". A fault is added under the field at fault."""
    choice = values.pop("residence", None)
    outside = (values.pop("residence_outside", None) or "").strip()
    if choice is None and "residence_nis" in values:
        choice = values.pop("residence_nis")
    choice = (choice or "").strip()
    if not choice or choice == UNKNOWN:
        return False, None
    field, text = ("residence_outside", outside) if choice == OUTSIDE else ("residence", choice)
    if not text:
        faults.setdefault(field, []).append(OUTSIDE_REQUIRED)
        return False, None
    found = find_municipalities(text)
    if len(found) > 1:
        faults.setdefault(field, []).append(SEVERAL_MUNICIPALITIES)
        return False, None
    if not found:
        faults.setdefault(field, []).append(NOT_A_MUNICIPALITY)
        return False, None
    return True, found[0].nis_code


@dataclass(frozen=True)
class Residence:
    """Where the person lives, as a page or an answer tells it."""

    nis_code: str | None
    name: str | None
    in_territory: bool | None  # None: not known yet
    competent_cell: str | None = None  # outside: the cell on the platform covering it, if any
    competent_cell_slug: str | None = None

    def as_answer(self) -> dict[str, Any]:
        return {"residence_nis": self.nis_code, "residence_name": self.name, "in_territory": self.in_territory,
                "competent_cell": ({"name": self.competent_cell, "slug": self.competent_cell_slug}
                                   if self.competent_cell else None)}


def residence_of(nis_code: str | None) -> Residence:
    """The residence ``nis_code`` names, with the competent cell when it lies outside the territory."""
    if nis_code is None:
        return Residence(None, None, None)
    if in_territory(nis_code):
        return Residence(nis_code, registry.name_of(nis_code), True)
    cell = cell_covering(nis_code, current_tenant_id())
    return Residence(nis_code, registry.name_of(nis_code), False,
                     cell.name if cell is not None else None, cell.slug if cell is not None else None)


def form_value(nis_code: str | None) -> dict[str, str]:
    """What the residence fields of a form show for ``nis_code`` (before anything is typed)."""
    if nis_code is None:
        return {"residence": UNKNOWN, "residence_outside": ""}
    if in_territory(nis_code):
        return {"residence": nis_code, "residence_outside": ""}
    return {"residence": OUTSIDE, "residence_outside": registry.name_of(nis_code) or nis_code}


def residence_choices() -> list[tuple[str, Any]]:
    """The choices of a form: the cell's municipalities, outside the territory, not known yet."""
    return [*territory(), (OUTSIDE, _l("Outside the cell's territory")), (UNKNOWN, _l("Not known yet"))]


def all_municipality_names() -> list[str]:
    """Every Belgian municipality's name in the reader's language: what a form suggests as one types."""
    return [m.name() for m in registry.municipalities()]
