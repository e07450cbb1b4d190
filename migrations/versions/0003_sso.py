"""Single sign-on: each cell's OpenID Connect provider, isolated on PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "oidc_providers",
        sa.Column("id", Id, primary_key=True),
        sa.Column("issuer", sa.String(300), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("client_secret", sa.String(), nullable=False),  # AES-GCM ciphertext (sqlalchemy-utils)
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("link_by_email", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.UniqueConstraint("tenant_id"),  # one provider per cell
    )
    op.create_index(op.f("ix_oidc_providers_tenant_id"), "oidc_providers", ["tenant_id"])
    isolate_tenant_table(op, "oidc_providers")


def downgrade() -> None:
    release_tenant_table(op, "oidc_providers")
    op.drop_table("oidc_providers")
