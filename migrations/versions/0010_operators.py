"""The operator console: operator accounts, their sessions and audit trail; a tenant's set-up.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

The operator tables are platform-level (no tenant); the operator audit trail is append-only
for the app role. ``tenant_setups`` (onboarding and the coordinator's set-up wizard) belongs
to its tenant and is isolated like every tenant table.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.migrating import restrict_to_append
from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", Id, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("role", sa.Enum("support", "administrator", name="operatorrole", native_enum=False, length=20), nullable=False),
        sa.Column("setup_token_digest", sa.String(64), nullable=True),
        sa.Column("setup_expires_at", sa.DateTime(), nullable=True),
        sa.Column("privilege_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("password_changed_at", sa.DateTime(), nullable=True),
        sa.Column("totp_secret", sa.String(), nullable=True),
        sa.Column("totp_enabled_at", sa.DateTime(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.UniqueConstraint("email", name="uq_operators_email"),
        sa.UniqueConstraint("setup_token_digest", name="uq_operators_setup_token_digest"),
    )
    op.create_table(
        "operator_recovery_codes",
        sa.Column("id", Id, nullable=False),
        sa.Column("operator_id", Id, nullable=False),
        sa.Column("code_digest", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], name="fk_operator_recovery_codes_operator_id_operators",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_operator_recovery_codes"),
    )
    op.create_index("ix_operator_recovery_codes_operator_id", "operator_recovery_codes", ["operator_id"])
    op.create_table(
        "operator_sessions",
        sa.Column("id", Id, nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("operator_id", Id, nullable=False),
        sa.Column("privilege_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], name="fk_operator_sessions_operator_id_operators",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_operator_sessions"),
        sa.UniqueConstraint("token_digest", name="uq_operator_sessions_token_digest"),
    )
    op.create_index("ix_operator_sessions_operator_id", "operator_sessions", ["operator_id"])
    op.create_table(
        "operator_audit_entries",
        sa.Column("id", Id, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("tenant_slug", sa.String(63), nullable=True),
        sa.Column("subject", sa.String(120), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operator_audit_entries"),
        sa.UniqueConstraint("seq", name="uq_operator_audit_entries_seq"),
    )
    op.create_index("ix_operator_audit_entries_action", "operator_audit_entries", ["action"])
    op.create_index("ix_operator_audit_entries_tenant_slug", "operator_audit_entries", ["tenant_slug"])
    op.create_table(
        "operator_audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operator_audit_head"),
    )
    op.create_table(
        "tenant_setups",
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("onboarded_by", sa.String(120), nullable=False),
        sa.Column("onboarded_at", sa.DateTime(), nullable=False),
        sa.Column("police_zone", sa.String(10), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_tenant_setups_tenant_id_tenants", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_setups"),
    )
    isolate_tenant_table(op, "tenant_setups")
    restrict_to_append(op, op.get_context().config.attributes.get("app_role"), "operator_audit_entries")


def downgrade() -> None:
    release_tenant_table(op, "tenant_setups")
    for table in ("tenant_setups", "operator_audit_head", "operator_audit_entries", "operator_sessions",
                  "operator_recovery_codes", "operators"):
        op.drop_table(table)
