"""The cell's organisation: form, tables, seats at the tables, partner inventory.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TENANT_TABLES = ("cell_profiles", "cell_tables", "table_seats", "partner_inventory_entries")

CELL_FORMS = ("integrated", "strategic_operational", "main_with_case_teams", "zonal_with_case_teams")
TABLE_KINDS = ("operational", "strategic", "main")
PARTNER_KINDS = ("municipal_service", "clb", "ocmw", "caw", "school", "police", "justice_house", "vdab",
                 "hospital", "youth_service", "public_prosecutor", "intelligence_service", "other")
PARTICIPATION = ("works_along", "thinks_along", "kept_informed")


def _tenant_column() -> sa.Column:
    return sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def _enum(name: str, values: tuple[str, ...], nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Enum(*values, name=name, native_enum=False, length=30), nullable=nullable)


def _membership(name: str, ondelete: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, Id, sa.ForeignKey("memberships.id", ondelete=ondelete), nullable=nullable, index=True)


def upgrade() -> None:
    op.create_table(
        "cell_profiles",
        sa.Column("id", Id, primary_key=True),
        _enum("form", CELL_FORMS),
        _membership("appointed_official_id", "SET NULL"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _tenant_column(),
        sa.UniqueConstraint("tenant_id"),  # one profile per cell
    )
    op.create_table(
        "cell_tables",
        sa.Column("id", Id, primary_key=True),
        _enum("kind", TABLE_KINDS),
        sa.Column("name", sa.String(120), nullable=False),
        _membership("chair_membership_id", "SET NULL"),
        _membership("secretary_membership_id", "SET NULL"),
        sa.Column("cadence", sa.String(200)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime()),
        _tenant_column(),
    )
    op.create_table(
        "table_seats",
        sa.Column("id", Id, primary_key=True),
        sa.Column("table_id", Id, sa.ForeignKey("cell_tables.id", ondelete="CASCADE"), nullable=False, index=True),
        _membership("membership_id", "CASCADE"),
        _enum("participant_kind", PARTNER_KINDS, nullable=True),
        sa.Column("participant_organisation", sa.String(120)),
        sa.Column("capacity", sa.String(120)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime()),
        _tenant_column(),
        sa.UniqueConstraint("table_id", "membership_id"),
        # A seat is a member's or an outside participant's, never both, never neither.
        sa.CheckConstraint(
            "(membership_id IS NULL) <> (participant_kind IS NULL)", name="ck_table_seats_member_or_participant"
        ),
    )
    op.create_table(
        "partner_inventory_entries",
        sa.Column("id", Id, primary_key=True),
        sa.Column("organisation_name", sa.String(120), nullable=False),
        _enum("kind", PARTNER_KINDS),
        _enum("participation", PARTICIPATION),
        sa.Column("contact_role", sa.String(120)),
        sa.Column("notes", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime()),
        _tenant_column(),
    )
    for table in TENANT_TABLES:
        op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
