"""The territory: the municipality of residence of the person a signal or a case is about, and the
municipality a mayor stands for in an intermunicipal or zonal cell (issue 17).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

A NIS code (Statbel's REFNIS, the registry's key); the cell's own municipalities, or one outside
its territory. ``signals``, ``cases`` and ``memberships`` are tenant tables already under
row-level security: new columns are covered by their policies.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("signals", "cases"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("residence_nis", sa.String(5), nullable=True))
            batch.create_index(op.f(f"ix_{table}_residence_nis"), ["residence_nis"], unique=False)
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("municipality_nis", sa.String(5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("municipality_nis")
    for table in ("cases", "signals"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_residence_nis"))
            batch.drop_column("residence_nis")
