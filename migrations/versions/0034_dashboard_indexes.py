"""Indexes for the dashboards and for what a member's case teams let them read (issue 20).

The home page and ``/api/dashboard`` list the measures due within two weeks and the reviews due,
the first ten with how many in all, and the draft feedback forms; a member who is not the
coordinator reads the cases whose team they are in. At 50,000 cases these read every case
(more than a minute a query). These indexes hold each list in the order it is shown
(``tenant_id`` first, then the day and the id) with what the count filters on, so a list is a
short index scan and a count an index-only scan:

- ``measures (tenant_id, due_on, id, status)``;
- ``case_reviews (tenant_id, due_on, id)`` of the reviews not held yet (``held_on IS NULL``);
- ``ltf_feedback (tenant_id, status, updated_at, id)``;
- ``case_team_members (membership_id, case_id, until)`` of the members not removed
  (``removed_at IS NULL``): a member's cases from the index alone.

Row-level security is unchanged (no new table). Partial indexes work on SQLite and PostgreSQL.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_measures_tenant_due", "measures", ["tenant_id", "due_on", "id", "status"], None),
    ("ix_case_reviews_tenant_due", "case_reviews", ["tenant_id", "due_on", "id"], "held_on IS NULL"),
    ("ix_ltf_feedback_tenant_status", "ltf_feedback", ["tenant_id", "status", "updated_at", "id"], None),
    ("ix_case_team_members_member_cases", "case_team_members", ["membership_id", "case_id", "until"],
     "removed_at IS NULL"),
)


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        partial = {} if where is None else {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}
        op.create_index(name, table, columns, **partial)


def downgrade() -> None:
    for name, table, _columns, _where in INDEXES:
        op.drop_index(name, table_name=table)
