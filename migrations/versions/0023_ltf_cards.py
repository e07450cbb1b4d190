"""The LTF's information cards on a case, with their own retention (issue 18).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06

An information card (*informatiekaart*, seeds 000 and 004) shared by the information officer:
its date, the LTF's reference, a summary encrypted under the card's own key (``ltf_card:<id>``,
so ids are never reused: AUTOINCREMENT on SQLite), the threat level as the card states it, who
recorded it and when, and the day it is erased. The feedback form to the LTF refers to cards
through ``ltf_feedback_cards``. Both are tenant tables under row-level security.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("ltf_cards", "ltf_feedback_cards")


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
        "ltf_cards",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column("card_date", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("threat_level", sa.Enum("1", "2", "3", "4", "not_stated", name="threatlevel", native_enum=False,
                                          length=30), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        *_membership("ltf_cards", "recorded_by_id"),
        sa.Column("erase_after", sa.Date(), nullable=False),
        sa.Column("summary_ciphertext", sa.Text(), nullable=False),
        *_tenant_column("ltf_cards"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_ltf_cards_case_id_cases", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_ltf_cards"),
        sqlite_autoincrement=True,
    )
    for column in ("case_id", "recorded_by_id", "erase_after", "tenant_id"):
        op.create_index(f"ix_ltf_cards_{column}", "ltf_cards", [column])
    op.create_table(
        "ltf_feedback_cards",
        sa.Column("id", Id, nullable=False),
        sa.Column("feedback_id", Id, nullable=False),
        sa.Column("card_id", Id, nullable=False),
        sa.Column("chosen_at", sa.DateTime(), nullable=False),
        *_membership("ltf_feedback_cards", "chosen_by_id"),
        *_tenant_column("ltf_feedback_cards"),
        sa.ForeignKeyConstraint(["feedback_id"], ["ltf_feedback.id"], name="fk_ltf_feedback_cards_feedback_id_ltf_feedback",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["card_id"], ["ltf_cards.id"], name="fk_ltf_feedback_cards_card_id_ltf_cards",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_ltf_feedback_cards"),
        sa.UniqueConstraint("feedback_id", "card_id", name="uq_ltf_feedback_cards_feedback_id"),
    )
    for column in ("feedback_id", "card_id", "chosen_by_id", "tenant_id"):
        op.create_index(f"ix_ltf_feedback_cards_{column}", "ltf_feedback_cards", [column])
    for table in TABLES:
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
