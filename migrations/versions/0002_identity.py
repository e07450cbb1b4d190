"""Identity and access: accounts, second factors, cells' organisations and memberships,
invitations, the secrecy undertaking, sign-in sessions; isolation on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TENANT_TABLES = (
    "organisations",
    "memberships",
    "invitations",
    "undertakings",
    "undertaking_acceptances",
    "auth_sessions",
    "password_resets",
)


def _tenant_column() -> sa.Column:
    return sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def _enum(name: str, values: tuple[str, ...], length: int) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=length)


ROLES = ("mayor", "coordinator", "information_officer", "police_chief", "social_alderman", "partner",
         "secretary", "guest_expert")
ORGANISATION_KINDS = ("municipal_service", "clb", "ocmw", "caw", "school", "police", "justice_house",
                      "vdab", "hospital", "youth_service", "other")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", Id, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("password_changed_at", sa.DateTime()),
        sa.Column("totp_secret", sa.String()),  # AES-GCM ciphertext (sqlalchemy-utils)
        sa.Column("totp_enabled_at", sa.DateTime()),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=False),
        sa.Column("disabled_at", sa.DateTime()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "sign_in_throttles",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime()),
    )
    op.create_table(
        "account_identities",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("issuer", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("issuer", "subject"),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("code_digest", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime()),
    )
    op.create_table(
        "organisations",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("kind", _enum("organisationkind", ORGANISATION_KINDS, 30), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _tenant_column(),
        sa.UniqueConstraint("tenant_id", "name"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("organisation_id", Id, sa.ForeignKey("organisations.id"), nullable=False, index=True),
        sa.Column("role", _enum("role", ROLES, 30), nullable=False),
        sa.Column("status", _enum("membershipstatus", ("invited", "active", "ended"), 20), nullable=False),
        sa.Column("clearance_expires_on", sa.Date()),
        sa.Column("expires_at", sa.DateTime()),
        sa.Column("privilege_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime()),
        _tenant_column(),
        sa.UniqueConstraint("tenant_id", "account_id"),
    )
    op.create_table(
        "invitations",
        sa.Column("id", Id, primary_key=True),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("membership_id", Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime()),
        sa.Column("revoked_at", sa.DateTime()),
        _tenant_column(),
    )
    op.create_table(
        "undertakings",
        sa.Column("id", Id, primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text()),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        _tenant_column(),
        sa.UniqueConstraint("tenant_id", "version"),
    )
    op.create_table(
        "undertaking_acceptances",
        sa.Column("id", Id, primary_key=True),
        sa.Column("membership_id", Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=False),
        _tenant_column(),
        sa.UniqueConstraint("membership_id", "version"),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("membership_id", Id, sa.ForeignKey("memberships.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("privilege_version", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("sso_issuer", sa.String(300)),
        sa.Column("sso_sid", sa.String(255), index=True),
        sa.Column("sso_subject", sa.String(255)),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        _tenant_column(),
    )
    op.create_table(
        "password_resets",
        sa.Column("id", Id, primary_key=True),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("account_id", Id, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime()),
        _tenant_column(),
    )
    for table in TENANT_TABLES:
        op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"])
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
    for table in ("recovery_codes", "account_identities", "sign_in_throttles", "accounts"):
        op.drop_table(table)
