"""The feedback form to the LTF after its release: the revision whose participants were asked by
mail for their approval (once per revision), when and by whom the information officer delivered
it to the Local Task Force, and the LTF's answer (a progress note for the coordinator and the
information officer only).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

``ltf_feedback`` is a tenant table already under row-level security: new columns are covered by
its policy, nothing to add.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("ltf_feedback") as batch:
        batch.add_column(sa.Column("notified_revision", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("delivered_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("delivered_by_id", Id, nullable=True))
        batch.add_column(sa.Column("answer_note_id", Id, nullable=True))
        batch.create_foreign_key(
            op.f("fk_ltf_feedback_delivered_by_id_memberships"), "memberships", ["delivered_by_id"], ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            op.f("fk_ltf_feedback_answer_note_id_progress_notes"), "progress_notes", ["answer_note_id"], ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_ltf_feedback_delivered_by_id"), ["delivered_by_id"], unique=False)
    # Forms already under way: their current revision went round before these mails existed.
    op.execute("UPDATE ltf_feedback SET notified_revision = revision")


def downgrade() -> None:
    with op.batch_alter_table("ltf_feedback") as batch:
        batch.drop_index(op.f("ix_ltf_feedback_delivered_by_id"))
        batch.drop_constraint(op.f("fk_ltf_feedback_answer_note_id_progress_notes"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_ltf_feedback_delivered_by_id_memberships"), type_="foreignkey")
        batch.drop_column("answer_note_id")
        batch.drop_column("delivered_by_id")
        batch.drop_column("delivered_at")
        batch.drop_column("notified_revision")
