"""The name an inviter gave a seat (issue 19): shown while the invitation is open.

``memberships.invited_name``: what the coordinator typed when inviting. While a seat is only
invited, the cell shows this name, never the account's own (which another cell may know):
an invitation reveals nothing about accounts elsewhere. Empty for seats taken up before.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("invited_name", sa.String(120), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("invited_name")
