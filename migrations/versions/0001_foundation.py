"""Foundation: tenants, the municipalities they cover, the audit trail; isolation on PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.migrating import grant_app_role, restrict_to_append
from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TENANT_TABLES = ("audit_entries", "audit_heads")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", Id, primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("languages", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
    )
    op.create_table(
        "tenant_municipalities",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("nis_code", sa.String(5), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], ondelete="CASCADE",
            name=op.f("fk_tenant_municipalities_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "nis_code", name=op.f("pk_tenant_municipalities")),
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", Id, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("subject", sa.String(120), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], ondelete="CASCADE",
            name=op.f("fk_audit_entries_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
        sa.UniqueConstraint("tenant_id", "seq", name="uq_audit_entries_tenant_seq"),
    )
    op.create_index(op.f("ix_audit_entries_tenant_id"), "audit_entries", ["tenant_id"])
    op.create_table(
        "audit_heads",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], ondelete="CASCADE",
            name=op.f("fk_audit_heads_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_audit_heads")),
    )

    for table in TENANT_TABLES:
        isolate_tenant_table(op, table)
    role = op.get_context().config.attributes.get("app_role")
    grant_app_role(op, role)
    restrict_to_append(op, role, "audit_entries")


def downgrade() -> None:
    for table in TENANT_TABLES:
        release_tenant_table(op, table)
    op.drop_table("audit_heads")
    op.drop_index(op.f("ix_audit_entries_tenant_id"), table_name="audit_entries")
    op.drop_table("audit_entries")
    op.drop_table("tenant_municipalities")
    op.drop_table("tenants")
