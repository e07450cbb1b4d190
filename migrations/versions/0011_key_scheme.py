"""The key scheme of each federation enrolment: the version of the match keys its tokens were
made under (``livc.federation.match_keys.KEY_SCHEME``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Enrolments made before are left without one (null): the federation sweep re-enrols them, a
batch per cell per sweep, as it re-enrols an older scheme, so that every case's tokens are
those of the current match keys.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("federation_enrolments", sa.Column("key_scheme", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("federation_enrolments") as batch:
        batch.drop_column("key_scheme")
