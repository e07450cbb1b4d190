"""Indexes in the order the signal list, the past meetings and the match alerts are paged (issue 20).

The lists are read a page at a time, newest first, on (sort key, id): the signals on
``received_at`` and the meetings on ``starts_at`` within a cell (``tenant_id`` first), the match
alerts (which belong to two cells) on ``created_at``. Such an index answers "the next 50 after
this row" without reading the rows before it, at any length.
Row-level security is unchanged (no new table).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06
"""

from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_signals_tenant_received", "signals", ["tenant_id", "received_at", "id"]),
    ("ix_meetings_tenant_starts", "meetings", ["tenant_id", "starts_at", "id"]),
    ("ix_match_alerts_created", "match_alerts", ["created_at", "id"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
