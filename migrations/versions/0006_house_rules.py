"""House rules: versioned chapters and legal basis per cell.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
CHAPTERS = ("general", "composition_operation", "place_date", "minutes", "information_management")
ONLY_DRAFTS = sa.text("status = 'draft'")


def _membership(name: str) -> sa.Column:
    return sa.Column(name, Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True)


def upgrade() -> None:
    op.create_table(
        "house_rules",
        sa.Column("id", Id, primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status", sa.Enum("draft", "published", "superseded", name="houserulesstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("legal_basis", sa.Enum("law_2018", "prosecutor_consent", name="legalbasis", native_enum=False, length=30)),
        sa.Column("consent_reference", sa.String(120)),
        sa.Column("consent_date", sa.Date()),
        *(sa.Column(chapter, sa.Text()) for chapter in CHAPTERS),
        _membership("drafted_by_id"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        _membership("published_by_id"),
        sa.Column("published_at", sa.DateTime()),
        sa.Column("undertaking_version", sa.Integer()),
        sa.Column("tenant_id", Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.UniqueConstraint("tenant_id", "version"),
    )
    op.create_index(op.f("ix_house_rules_tenant_id"), "house_rules", ["tenant_id"])
    # One draft per cell at a time.
    op.create_index(
        "uq_house_rules_one_draft", "house_rules", ["tenant_id"], unique=True,
        sqlite_where=ONLY_DRAFTS, postgresql_where=ONLY_DRAFTS,
    )
    isolate_tenant_table(op, "house_rules")


def downgrade() -> None:
    release_tenant_table(op, "house_rules")
    op.drop_table("house_rules")
