"""Where each case stands, kept on the case, and indexes in the order its lists read (issue 20).

``cases.base_stage``: the case's stage as far as it does not depend on the day: ``closed`` or
``aftercare`` (closed, with a review after closure still to hold) for a closed case, ``building``
(no measure yet) or ``follow_up`` for an open one. An open case whose next review is due today or
earlier is in ``evaluation``; that is read against the day when a list asks
(:func:`livc.tenants.cases.listing.stage_column`). The app keeps the column right after every
flush that adds, changes or removes a case, a measure or a review
(:mod:`livc.tenants.cases.stages`); here it is filled for the cases that exist, by the same rule.

Two indexes: ``(tenant_id, status DESC, code, id)``, the case list's order (open first, by code),
so a page is read from the index instead of sorting the cell's cases; and ``(tenant_id,
base_stage, code, id, next_review_on)``, so the dashboards count the cases of each stage and list
the first of each from the index alone.
Row-level security is unchanged (no new table).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

FILL = """
UPDATE cases SET base_stage = CASE
    WHEN status = 'closed' THEN
        CASE WHEN EXISTS (SELECT 1 FROM case_reviews r WHERE r.case_id = cases.id
                          AND r.kind = 'after_closure' AND r.held_on IS NULL)
             THEN 'aftercare' ELSE 'closed' END
    WHEN EXISTS (SELECT 1 FROM measures m WHERE m.case_id = cases.id) THEN 'follow_up'
    ELSE 'building'
END
"""


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("base_stage", sa.String(30), nullable=False, server_default="building"))
    op.execute(FILL)
    op.create_index("ix_cases_tenant_list", "cases", ["tenant_id", sa.text("status DESC"), "code", "id"])
    op.create_index("ix_cases_tenant_stage", "cases", ["tenant_id", "base_stage", "code", "id", "next_review_on"])


def downgrade() -> None:
    op.drop_index("ix_cases_tenant_stage", table_name="cases")
    op.drop_index("ix_cases_tenant_list", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("base_stage")
