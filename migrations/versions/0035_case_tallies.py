"""How many cases and measures a cell has of each kind, kept by the database (issue 20).

``case_tallies``: per cell, how many cases stand at each kept stage with each flag and next
review day, and how many measures have each status and due day (``subject`` 'case' or
'measure'; ``flag`` '' for measures; ``day`` 9999-12-31 when there is none, so "due by a day"
never counts it). The coordinator's dashboard and the meetings' cadence read their counts here:
a handful of rows per day that has something due, instead of every case of the cell. Triggers
on ``cases`` and ``measures`` keep it in the statement that changes a row, whatever changes it
(the app, erasure, a cascade, bulk SQL): an insert adds one to its key, a delete takes one
away, an update that changes the key does both. A decrement only updates (a key whose row is
gone, as when a tenant's rows go with it, is left alone), so it never writes a row for a cell
being removed. Row-level security as every tenant table.

SQLite: the same triggers in its dialect. A later migration that rebuilds ``cases`` or
``measures`` with Alembic's batch mode drops them, and must create them again
(:data:`SQLITE_TRIGGERS`); ``tests/test_case_tallies.py`` fails when they are missing.

Also two indexes: ``(tenant_id, status, opened_at)`` on cases, when the oldest open case was
opened (the cadence) from the index's first entry; ``(tenant_id, status, urgency, received_at,
id)`` on signals, the first signals to weigh of each urgency (the dashboard) read in order.

The fill runs with row-level security not forced for the owner (the migration's own tables), so
that it reads every cell's rows when the owner is an ordinary role; it fills ``base_stage``
again by migration 0032's rule first, for a database where 0032's fill could not see the rows.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
NO_DAY = "9999-12-31"
KEY = "(tenant_id, subject, state, flag, day)"

# subject, table, state column, flag expression, day column
SUBJECTS = (
    ("case", "cases", "base_stage", "{row}.flag", "next_review_on"),
    ("measure", "measures", "status", "''", "due_on"),
)


def _values(subject: str, state: str, flag: str, day: str, row: str, no_day: str) -> dict[str, str]:
    return {"tenant": f"{row}.tenant_id", "subject": f"'{subject}'", "state": f"{row}.{state}",
            "flag": flag.format(row=row), "day": f"coalesce({row}.{day}, {no_day})"}


def _increment(values: dict[str, str], alias: str) -> str:
    return (f"INSERT INTO case_tallies {alias} (tenant_id, subject, state, flag, day, n) "
            f"VALUES ({values['tenant']}, {values['subject']}, {values['state']}, {values['flag']}, {values['day']}, 1) "
            f"ON CONFLICT {KEY} DO UPDATE SET n = {'t.' if alias else ''}n + 1;")


def _decrement(values: dict[str, str]) -> str:
    return (f"UPDATE case_tallies SET n = n - 1 WHERE tenant_id = {values['tenant']} AND subject = {values['subject']} "
            f"AND state = {values['state']} AND flag = {values['flag']} AND day = {values['day']};")


def _changed(state: str, flag: str, day: str) -> str:
    flag_changed = "" if flag == "''" else " OR OLD.flag IS DISTINCT FROM NEW.flag"
    return (f"OLD.tenant_id IS DISTINCT FROM NEW.tenant_id OR OLD.{state} IS DISTINCT FROM NEW.{state}"
            f"{flag_changed} OR OLD.{day} IS DISTINCT FROM NEW.{day}")


def trigger_statements(dialect: str) -> list[str]:
    """The triggers (and on PostgreSQL their functions) that keep the tallies, for ``dialect``."""
    no_day = f"DATE '{NO_DAY}'" if dialect == "postgresql" else f"'{NO_DAY}'"
    statements = []
    for subject, table, state, flag, day in SUBJECTS:
        old = _values(subject, state, flag, day, "OLD", no_day)
        new = _values(subject, state, flag, day, "NEW", no_day)
        if dialect != "postgresql":
            statements += [
                f"CREATE TRIGGER tally_{table}_insert AFTER INSERT ON {table} BEGIN {_increment(new, '')} END",
                f"CREATE TRIGGER tally_{table}_delete AFTER DELETE ON {table} BEGIN {_decrement(old)} END",
                f"CREATE TRIGGER tally_{table}_update AFTER UPDATE ON {table} WHEN {_changed(state, flag, day)} "
                f"BEGIN {_decrement(old)} {_increment(new, '')} END",
            ]
            continue
        statements += [
            f"""CREATE FUNCTION livc_tally_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NOT ({_changed(state, flag, day)}) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        {_decrement(old)}
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        {_increment(new, 'AS t')}
    END IF;
    RETURN NULL;
END $$""",
            f"CREATE TRIGGER tally_{table} AFTER INSERT OR DELETE OR UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION livc_tally_{table}()",
        ]
    return statements


SQLITE_TRIGGERS = tuple(f"tally_{table}_{event}" for _s, table, *_rest in SUBJECTS
                        for event in ("insert", "delete", "update"))

BASE_STAGE = """
UPDATE cases SET base_stage = CASE
    WHEN status = 'closed' THEN
        CASE WHEN EXISTS (SELECT 1 FROM case_reviews r WHERE r.case_id = cases.id
                          AND r.kind = 'after_closure' AND r.held_on IS NULL)
             THEN 'aftercare' ELSE 'closed' END
    WHEN EXISTS (SELECT 1 FROM measures m WHERE m.case_id = cases.id) THEN 'follow_up'
    ELSE 'building'
END
"""


def _fill(no_day: str) -> list[str]:
    return [
        BASE_STAGE,
        "DELETE FROM case_tallies",
        f"INSERT INTO case_tallies (tenant_id, subject, state, flag, day, n) "
        f"SELECT tenant_id, 'case', base_stage, flag, coalesce(next_review_on, {no_day}), count(*) FROM cases "
        f"GROUP BY tenant_id, base_stage, flag, coalesce(next_review_on, {no_day})",
        f"INSERT INTO case_tallies (tenant_id, subject, state, flag, day, n) "
        f"SELECT tenant_id, 'measure', status, '', coalesce(due_on, {no_day}), count(*) FROM measures "
        f"GROUP BY tenant_id, status, coalesce(due_on, {no_day})",
    ]


def upgrade() -> None:
    op.create_table(
        "case_tallies",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("subject", sa.String(10), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("flag", sa.String(20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_case_tallies_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "subject", "state", "flag", "day", name="pk_case_tallies"),
    )
    op.create_index("ix_case_tallies_tenant_id", "case_tallies", ["tenant_id"])
    op.create_index("ix_cases_tenant_open_since", "cases", ["tenant_id", "status", "opened_at"])
    op.create_index("ix_signals_tenant_waiting", "signals", ["tenant_id", "status", "urgency", "received_at", "id"])
    isolate_tenant_table(op, "case_tallies")
    if op.get_bind().dialect.name == "postgresql":
        tables = ("cases", "measures", "case_reviews", "case_tallies")
        for table in tables:
            op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        for statement in _fill(f"DATE '{NO_DAY}'") + trigger_statements("postgresql"):
            op.execute(statement)
        for table in tables:
            op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    else:
        for statement in _fill(f"'{NO_DAY}'") + trigger_statements("sqlite"):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for _subject, table, *_rest in SUBJECTS:
            op.execute(f"DROP TRIGGER IF EXISTS tally_{table} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS livc_tally_{table}()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_signals_tenant_waiting", table_name="signals")
    op.drop_index("ix_cases_tenant_open_since", table_name="cases")
    release_tenant_table(op, "case_tallies")
    op.drop_index("ix_case_tallies_tenant_id", table_name="case_tallies")
    op.drop_table("case_tallies")
