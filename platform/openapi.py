"""The JSON API's contract: what each endpoint reads and answers, for the OpenAPI document.

A view of the API says what it takes and gives with :func:`documented`, placed directly under
its route decorator::

    @blueprint.post("/<tenant_slug>/api/scenarios")
    @documented(body=ScenarioIn, answer=ScenarioOut, status=201, errors=(409,))
    @guard(Action.SCENARIO_MANAGE)
    def api_create_scenario(): ...

The decorator only records the description on the view (``view.__openapi__``) and returns the
view unchanged; the document itself is built from the app's URL map, so a route of the API
without a description is noticed (see ``tests/test_openapi.py``).
"""

from __future__ import annotations

from typing import Any, Callable

from marshmallow import Schema

#: The attribute a described view carries.
ATTRIBUTE = "__openapi__"


def documented(
    *,
    body: type[Schema] | Schema | None = None,
    answer: type[Schema] | Schema | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    query: type[Schema] | Schema | None = None,
    many: bool = False,
    summary: str | None = None,
    tags: tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Describe an API view: ``body`` the JSON it reads, ``answer`` the JSON it gives with
    ``status`` (``many`` for a list), ``errors`` the statuses beyond the ones every endpoint may
    answer, ``query`` its query-string parameters."""

    description = {
        "body": body,
        "answer": answer,
        "status": status,
        "errors": tuple(errors),
        "query": query,
        "many": many,
        "summary": summary,
        "tags": tuple(tags),
    }

    def record(view: Callable[..., Any]) -> Callable[..., Any]:
        setattr(view, ATTRIBUTE, description)
        return view

    return record
