"""Joint decisions of a cell (``livc.tenants.decisions``): proposals and who took part.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05

A weighing, a change of a case team or a closure is a proposal until a second member confirms
it or a meeting takes it. What is proposed is encrypted under the key of the signal or case it
concerns; only the kind, the status, the dates and the code are in clear.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("decision_proposals", "decision_participants")


def _tenant_column(table: str) -> tuple:
    return (
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"),
    )


def _membership(table: str, column: str) -> tuple:
    return (
        sa.Column(column, Id, nullable=True),
        sa.ForeignKeyConstraint([column], ["memberships.id"], name=f"fk_{table}_{column}_memberships", ondelete="SET NULL"),
    )


def upgrade() -> None:
    op.create_table(
        "decision_proposals",
        sa.Column("id", Id, nullable=False),
        sa.Column("kind", sa.Enum("weighing", "team_change", "closure", name="decisionkind",
                                  native_enum=False, length=30), nullable=False),
        sa.Column("subject_type", sa.String(20), nullable=False),
        sa.Column("subject_id", Id, nullable=False),
        sa.Column("subject_code", sa.String(20), nullable=True),
        sa.Column("status", sa.Enum("proposed", "acted_urgently", "taken", "withdrawn", name="decisionstatus",
                                    native_enum=False, length=30), nullable=False),
        sa.Column("taken_in", sa.Enum("confirmation", "meeting", name="takenin", native_enum=False, length=30),
                  nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("confirm_by", sa.DateTime(), nullable=True),
        sa.Column("police_information", sa.Boolean(), nullable=False),
        *_membership("decision_proposals", "proposed_by_id"),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("meeting_id", Id, nullable=True),
        sa.Column("payload_ciphertext", sa.Text(), nullable=False),
        *_tenant_column("decision_proposals"),
        sa.PrimaryKeyConstraint("id", name="pk_decision_proposals"),
    )
    for column in ("subject_id", "status", "proposed_by_id", "meeting_id", "tenant_id"):
        op.create_index(f"ix_decision_proposals_{column}", "decision_proposals", [column])
    op.create_table(
        "decision_participants",
        sa.Column("id", Id, nullable=False),
        sa.Column("proposal_id", Id, nullable=False),
        *_membership("decision_participants", "membership_id"),
        sa.Column("role", sa.Enum("proposed", "confirmed", "attended", name="participantrole",
                                  native_enum=False, length=30), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        *_tenant_column("decision_participants"),
        sa.ForeignKeyConstraint(["proposal_id"], ["decision_proposals.id"],
                                name="fk_decision_participants_proposal_id_decision_proposals", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_decision_participants"),
        sa.UniqueConstraint("proposal_id", "membership_id", name="uq_decision_participants_proposal_id"),
    )
    for column in ("proposal_id", "membership_id", "tenant_id"):
        op.create_index(f"ix_decision_participants_{column}", "decision_participants", [column])
    for table in TABLES:
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
