"""Counting the SQL statements a request runs, to show that a page's cost does not grow with the
data: ``with statements(app) as ran: client.get(...)`` then ``len(ran)``.

It listens to ``before_cursor_execute`` on the app's engine, so it counts what reaches the
database (lazy loads, the tenancy's own statements, the session's last-seen update), not what
the ORM was asked.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

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
