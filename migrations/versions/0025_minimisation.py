"""Data minimisation chosen by the cell: identities not kept (issue 18).

The house rules say whether the cell keeps the identities of the people concerned
(``identities_kept``, kept by default as before); a cell that does not keep them holds an
identity's blind indexes only, and the federation's tokens made when it was entered
(``prepared_tokens``, tenant-scoped, row-level security).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("house_rules") as batch:
        batch.add_column(sa.Column("identities_kept", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        "prepared_tokens",
        sa.Column("id", Id, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("identity_id", Id, nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("key_scheme", sa.Integer(), nullable=True),
        sa.Column("known", sa.String(80), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_prepared_tokens_tenant_id_tenants",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["identity_id"], ["identities.id"], name="fk_prepared_tokens_identity_id_identities",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_prepared_tokens"),
        sa.UniqueConstraint("identity_id", name="uq_prepared_tokens_identity_id"),
    )
    op.create_index("ix_prepared_tokens_tenant_id", "prepared_tokens", ["tenant_id"])
    isolate_tenant_table(op, "prepared_tokens")


def downgrade() -> None:
    release_tenant_table(op, "prepared_tokens")
    op.drop_table("prepared_tokens")
    with op.batch_alter_table("house_rules") as batch:
        batch.drop_column("identities_kept")
