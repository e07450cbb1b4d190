"""Per-tenant data keys wrapped by the master key (privacy by design).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "data_keys",
        sa.Column("id", Id, primary_key=True),
        sa.Column("scope", sa.String(100), nullable=False),
        # nonce + AES-GCM(master key) of the 32-byte data key; NULL once destroyed
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("wrapping", sa.String(20), nullable=True),
        sa.Column("master_key_id", sa.String(16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_keys")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], ondelete="CASCADE", name=op.f("fk_data_keys_tenant_id_tenants")
        ),
        sa.UniqueConstraint("tenant_id", "scope", name="uq_data_keys_tenant_scope"),
        sa.CheckConstraint(
            "(wrapped_key IS NOT NULL AND destroyed_at IS NULL)"
            " OR (wrapped_key IS NULL AND destroyed_at IS NOT NULL)",
            name=op.f("ck_data_keys_key_or_destroyed"),
        ),
    )
    op.create_index(op.f("ix_data_keys_tenant_id"), "data_keys", ["tenant_id"])
    isolate_tenant_table(op, "data_keys")
    # A destroyed key's row stays as evidence of the erasure: the app may update it, not delete it.
    role = op.get_context().config.attributes.get("app_role")
    if role is not None and op.get_bind().dialect.name == "postgresql":
        quoted = op.get_bind().dialect.identifier_preparer.quote(role)
        op.execute(f"REVOKE DELETE, TRUNCATE ON data_keys FROM {quoted}")


def downgrade() -> None:
    release_tenant_table(op, "data_keys")
    op.drop_index(op.f("ix_data_keys_tenant_id"), table_name="data_keys")
    op.drop_table("data_keys")
