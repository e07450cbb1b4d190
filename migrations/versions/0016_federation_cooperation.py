"""Cooperation after a match: the shared thread of two cells (a copy of each message in each cell, encrypted under that cell's keys) and the hand-over of a case to the cell of the municipality a person moved to.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

The platform-level tables (``federation_threads``, ``federation_handovers``) hold ids, a
municipality's NIS code, statuses and dates; the tenant-scoped ones hold each cell's own
encrypted copies, under row-level security. A copy refers to its shared row by id without a
foreign key: it is the cell's own record and outlives the shared row.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TENANT_TABLES = ("federation_thread_entries", "federation_handover_files")


def _tenant_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["tenants.id"], name=op.f(f"fk_{table}_{column}_tenants"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "federation_threads",
        sa.Column("id", Id, nullable=False),
        sa.Column("alert_id", Id, nullable=True),
        sa.Column("cell_a_id", Id, nullable=False),
        sa.Column("cell_b_id", Id, nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("last_message_at", sa.DateTime(), nullable=True),
        sa.Column("officers_a_at", sa.DateTime(), nullable=True),
        sa.Column("officers_b_at", sa.DateTime(), nullable=True),
        sa.Column("left_a_at", sa.DateTime(), nullable=True),
        sa.Column("left_b_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by_id", Id, nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["match_alerts.id"], name=op.f("fk_federation_threads_alert_id_match_alerts"),
            ondelete="SET NULL",
        ),
        _tenant_fk("federation_threads", "cell_a_id"),
        _tenant_fk("federation_threads", "cell_b_id"),
        _tenant_fk("federation_threads", "closed_by_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_threads")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_federation_threads_alert_id")),
    )
    op.create_index(op.f("ix_federation_threads_cell_a_id"), "federation_threads", ["cell_a_id"], unique=False)
    op.create_index(op.f("ix_federation_threads_cell_b_id"), "federation_threads", ["cell_b_id"], unique=False)

    op.create_table(
        "federation_thread_entries",
        sa.Column("id", Id, nullable=False),
        sa.Column("thread_id", Id, nullable=False),
        sa.Column(
            "kind",
            sa.Enum("message", "closed", "left", name="entrykind", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("from_cell_id", Id, nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("author_ciphertext", sa.Text(), nullable=True),
        sa.Column("body_ciphertext", sa.Text(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        _tenant_fk("federation_thread_entries", "tenant_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_thread_entries")),
    )
    op.create_index(
        op.f("ix_federation_thread_entries_thread_id"), "federation_thread_entries", ["thread_id"], unique=False
    )
    op.create_index(
        op.f("ix_federation_thread_entries_tenant_id"), "federation_thread_entries", ["tenant_id"], unique=False
    )

    op.create_table(
        "federation_handovers",
        sa.Column("id", Id, nullable=False),
        sa.Column("from_cell_id", Id, nullable=False),
        sa.Column("to_cell_id", Id, nullable=False),
        sa.Column("nis_code", sa.String(length=5), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "proposed", "accepted", "declined", "withdrawn", name="handoverstatus", native_enum=False, length=30
            ),
            nullable=False,
        ),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("summary_chosen_at", sa.DateTime(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        _tenant_fk("federation_handovers", "from_cell_id"),
        _tenant_fk("federation_handovers", "to_cell_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_handovers")),
    )
    op.create_index(op.f("ix_federation_handovers_from_cell_id"), "federation_handovers", ["from_cell_id"], unique=False)
    op.create_index(op.f("ix_federation_handovers_to_cell_id"), "federation_handovers", ["to_cell_id"], unique=False)
    op.create_index(op.f("ix_federation_handovers_status"), "federation_handovers", ["status"], unique=False)

    op.create_table(
        "federation_handover_files",
        sa.Column("id", Id, nullable=False),
        sa.Column("handover_id", Id, nullable=True),
        sa.Column(
            "side",
            sa.Enum("sending", "receiving", name="handoverside", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("case_id", Id, nullable=True),
        sa.Column("nis_code", sa.String(length=5), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("summary_ciphertext", sa.Text(), nullable=True),
        sa.Column("decline_reason_ciphertext", sa.Text(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_federation_handover_files_case_id_cases"), ondelete="CASCADE"
        ),
        _tenant_fk("federation_handover_files", "tenant_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_handover_files")),
    )
    op.create_index(
        op.f("ix_federation_handover_files_handover_id"), "federation_handover_files", ["handover_id"], unique=False
    )
    op.create_index(
        op.f("ix_federation_handover_files_case_id"), "federation_handover_files", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_federation_handover_files_tenant_id"), "federation_handover_files", ["tenant_id"], unique=False
    )
    for table in TENANT_TABLES:
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        release_tenant_table(op, table)
    op.drop_table("federation_handover_files")
    op.drop_table("federation_handovers")
    op.drop_table("federation_thread_entries")
    op.drop_table("federation_threads")
