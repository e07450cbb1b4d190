"""Counting the SQL statements a request runs, to show that a page's cost does not grow with the
data: ``with statements(app) as ran: client.get(...)`` then ``len(ran)``.

It listens to ``before_cursor_execute`` on the app's engine, so it counts what reaches the
database (lazy loads, the tenancy's own statements, the session's last-seen update), not what
the ORM was asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from livc.platform.db import db


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """The statements run on ``app``'s database while the block runs, in order."""
    with app.app_context():
        engine = db.engine
    ran: list[str] = []

    def record(connection, cursor, statement, parameters, context, executemany) -> None:
        ran.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield ran
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


# --- Walking a paged list ------------------------------------------------------------------------

NEXT_PAGE = re.compile(r'<a class="govuk-link govuk-pagination__link" href="([^"]+)" rel="next">')


def next_link(kind: str, body: str) -> str | None:
    """The next page's address: ``next`` of an API answer (``kind`` starts with ``api/``), or the
    pager's "next" link of a page."""
    if kind.startswith("api/"):
        return json.loads(body)["next"]
    found = NEXT_PAGE.search(body)
    return found[1].replace("&amp;", "&") if found else None


def read(app, client, path: str, headers: dict | None = None) -> tuple[int, str]:
    """The statements a page ran, and its body (the page must answer 200)."""
    with statements(app) as ran:
        answer = client.get(path, headers=headers)
    assert answer.status_code == 200, (path, answer.status_code)
    return len(ran), answer.get_data(as_text=True)


def every_page(app, client, kind: str, first: str, rows_of: Callable[[str, str], list[str]], per_page: int,
               headers: dict | None = None) -> list[str]:
    """Every row a list shows (``rows_of(kind, body)``), following its next links from ``first``;
    no page holds more than ``per_page`` rows and the links end."""
    seen, path = [], first
    for _ in range(50):
        _cost, body = read(app, client, path, headers)
        rows = rows_of(kind, body)
        assert len(rows) <= per_page, (kind, rows)
        seen += rows
        path = next_link(kind, body)
        if path is None:
            return seen
    raise AssertionError(f"{kind}: the next links never end")
