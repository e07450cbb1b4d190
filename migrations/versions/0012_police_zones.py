"""The police-zone directory the platform's administrators maintain (``livc.platform.police_zones``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Platform-level directory data (no tenant, no cell's content): a zone's four-digit code and
name, and its municipalities by NIS code, each in one zone at most (the primary key).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "police_zones",
        sa.Column("code", sa.String(4), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_police_zones"),
    )
    op.create_table(
        "police_zone_municipalities",
        sa.Column("nis_code", sa.String(5), nullable=False),
        sa.Column("zone_code", sa.String(4), nullable=False),
        sa.ForeignKeyConstraint(["zone_code"], ["police_zones.code"], ondelete="CASCADE",
                                name="fk_police_zone_municipalities_zone_code_police_zones"),
        sa.PrimaryKeyConstraint("nis_code", name="pk_police_zone_municipalities"),
    )
    op.create_index("ix_police_zone_municipalities_zone_code", "police_zone_municipalities", ["zone_code"])


def downgrade() -> None:
    op.drop_index("ix_police_zone_municipalities_zone_code", table_name="police_zone_municipalities")
    op.drop_table("police_zone_municipalities")
    op.drop_table("police_zones")
