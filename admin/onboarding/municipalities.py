"""Finding the municipalities of a new cell on the onboarding form, without JavaScript.

The registry holds 565 municipalities: the form offers a search field instead of a list to
scroll. :func:`search` matches a name in Dutch, French or German (case, accents and punctuation
left out: "sankt vith", "Saint-Vith" and "St. Vith" alike), or a NIS code; several terms
separated by commas find several municipalities at once ("Herent, Kortenberg").

The German-speaking Community's nine municipalities (the judicial arrondissement of Eupen, whose
official names are German) bring German as a working language: :func:`german_speaking` tells
the form to offer it first and tick it.
"""

from __future__ import annotations

from livc.platform import registry
from livc.platform.registry import Municipality, folded

#: The judicial arrondissement of Eupen is exactly the German-speaking Community.
GERMAN_SPEAKING_ARRONDISSEMENT = "eupen"
SEARCH_MAX = 40  # more matches than this: the operator narrows the search
SEARCH_LENGTH_MAX = 200


def _terms(query: str) -> list[str]:
    return [term for term in (folded(part) for part in query[:SEARCH_LENGTH_MAX].split(",")) if term]


def _matches(municipality: Municipality, term: str) -> bool:
    if term.isdigit():
        return municipality.nis_code.startswith(term)
    return any(term in folded(name) for name in municipality.names.values() if name)


def search(query: str) -> tuple[list[Municipality], int]:
    """The municipalities matching ``query`` (sorted by name in the reader's language), at most
    :data:`SEARCH_MAX`, and how many matched in all."""
    terms = _terms(query)
    if not terms:
        return [], 0
    found = [m for m in registry.municipalities() if any(_matches(m, term) for term in terms)]
    return found[:SEARCH_MAX], len(found)


def chosen(codes: list[str]) -> list[Municipality]:
    """The registry's municipalities among ``codes``, in the order given (unknown codes left out:
    the onboarding itself names them)."""
    found = (registry.municipality(code) for code in dict.fromkeys(codes))
    return [m for m in found if m is not None]


def german_speaking(municipality: Municipality) -> bool:
    return municipality.arrondissement == GERMAN_SPEAKING_ARRONDISSEMENT
