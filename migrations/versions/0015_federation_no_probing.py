"""The federation without an oracle: which cell hears of an alert first, an alert whose newer case left early, weekly enrolment budgets and their release by an operator (counts only).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _tenant(name: str, table: str) -> list:
    return [
        sa.Column(name, Id, nullable=False),
        sa.ForeignKeyConstraint([name], ["tenants.id"], name=f"fk_{table}_{name}_tenants", ondelete="CASCADE"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("federation_enrolments") as batch:
        batch.add_column(sa.Column("enrolled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("released_at", sa.DateTime(), nullable=True))
    # An enrolment made before this revision was enrolled when it was requested (near enough).
    op.execute("UPDATE federation_enrolments SET enrolled_at = requested_at WHERE status = 'enrolled'")
    with op.batch_alter_table("match_alerts") as batch:
        batch.add_column(sa.Column("earlier_side", sa.String(1), server_default="a", nullable=False))
        batch.add_column(sa.Column("disclosed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("newer_left", sa.String(10), nullable=True))
        batch.add_column(sa.Column("newer_left_at", sa.DateTime(), nullable=True))
    # Alerts made before this revision were shown to both sides at once: they stay so.
    op.execute("UPDATE match_alerts SET disclosed_at = created_at")
    op.create_table(
        "federation_budget_uses",
        sa.Column("id", Id, nullable=False),
        *_tenant("tenant_id", "federation_budget_uses"),
        sa.Column("used_at", sa.DateTime(), nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_federation_budget_uses"),
    )
    op.create_index("ix_federation_budget_uses_cell_time", "federation_budget_uses", ["tenant_id", "used_at"])
    op.create_table(
        "federation_budget_releases",
        sa.Column("id", Id, nullable=False),
        *_tenant("tenant_id", "federation_budget_releases"),
        sa.Column("operator_id", Id, nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_federation_budget_releases"),
    )
    op.create_index("ix_federation_budget_releases_tenant_id", "federation_budget_releases", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_federation_budget_releases_tenant_id", table_name="federation_budget_releases")
    op.drop_table("federation_budget_releases")
    op.drop_index("ix_federation_budget_uses_cell_time", table_name="federation_budget_uses")
    op.drop_table("federation_budget_uses")
    op.execute("UPDATE federation_enrolments SET status = 'pending' WHERE status = 'held'")
    with op.batch_alter_table("match_alerts") as batch:
        batch.drop_column("newer_left_at")
        batch.drop_column("newer_left")
        batch.drop_column("disclosed_at")
        batch.drop_column("earlier_side")
    with op.batch_alter_table("federation_enrolments") as batch:
        batch.drop_column("released_at")
        batch.drop_column("enrolled_at")
