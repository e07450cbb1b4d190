"""The strategic table's policy follow-up: dated entries with an owner and a status (issue 17).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

An entry (a working agreement with the Local Task Force, a priority, the yearly evaluation, another
decision or agreement of the strategic table) is recorded by a joint decision
(``decision_proposals``), carried by a member or an organisation of the cell, and has a dated
history of status reports. Policy, not cases: no case is referred to. Both tables are tenant
tables under row-level security.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("policy_entries", "policy_status_reports")
STATUSES = ("planned", "in_progress", "done", "dropped")


def _status(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Enum(*STATUSES, name="entrystatus", native_enum=False, length=30), nullable=nullable)


def _tenant_column(table: str) -> tuple:
    return (
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"),
    )


def _reference(table: str, column: str, target: str) -> tuple:
    return (
        sa.Column(column, Id, nullable=True),
        sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="SET NULL"),
    )


def upgrade() -> None:
    op.create_table(
        "policy_entries",
        sa.Column("id", Id, nullable=False),
        sa.Column("kind", sa.Enum("ltf_agreement", "priority", "yearly_evaluation", "decision", "other_agreement",
                                  name="entrykind", native_enum=False, length=30), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        *_reference("policy_entries", "owner_membership_id", "memberships"),
        *_reference("policy_entries", "owner_organisation_id", "organisations"),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=False),
        _status("status"),
        *_reference("policy_entries", "meeting_id", "meetings"),
        *_reference("policy_entries", "proposal_id", "decision_proposals"),
        *_reference("policy_entries", "proposed_by_id", "memberships"),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(), nullable=True),
        *_tenant_column("policy_entries"),
        sa.PrimaryKeyConstraint("id", name="pk_policy_entries"),
        sa.CheckConstraint("owner_membership_id IS NULL OR owner_organisation_id IS NULL",
                           name="ck_policy_entries_one_owner"),
    )
    for column in ("owner_membership_id", "owner_organisation_id", "year", "status", "meeting_id", "proposal_id",
                   "proposed_by_id", "tenant_id"):
        op.create_index(f"ix_policy_entries_{column}", "policy_entries", [column])
    op.create_table(
        "policy_status_reports",
        sa.Column("id", Id, nullable=False),
        sa.Column("entry_id", Id, nullable=False),
        _status("status"),
        _status("previous_status"),
        sa.Column("note", sa.String(500), nullable=True),
        *_reference("policy_status_reports", "reported_by_id", "memberships"),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        *_tenant_column("policy_status_reports"),
        sa.ForeignKeyConstraint(["entry_id"], ["policy_entries.id"],
                                name="fk_policy_status_reports_entry_id_policy_entries", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_policy_status_reports"),
    )
    for column in ("entry_id", "reported_by_id", "tenant_id"):
        op.create_index(f"ix_policy_status_reports_{column}", "policy_status_reports", [column])
    for table in TABLES:
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
