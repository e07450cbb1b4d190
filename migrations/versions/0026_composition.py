"""The composition rules of seed 004: the alderman's mandatee (issue 18).

``memberships.social_mandatee``: the member stands in for the alderman for social affairs
among the cell's fixed participants (the legal minimum). False for everyone before.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("social_mandatee", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("social_mandatee")
