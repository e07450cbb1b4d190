"""Federation: links between cells, the shared token index, match alerts, case opt-outs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23

The federation tables are platform-level (shared by design, ids, opaque refs and tokens only);
``case_federation`` maps a case to its ref inside the cell and is isolated per tenant.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _tenant(name: str, table: str, nullable: bool = False) -> list:
    return [
        sa.Column(name, Id, nullable=nullable),
        sa.ForeignKeyConstraint([name], ["tenants.id"], name=f"fk_{table}_{name}_tenants", ondelete="CASCADE"),
    ]


def upgrade() -> None:
    op.create_table(
        "federation_links",
        sa.Column("id", Id, nullable=False),
        *_tenant("cell_a_id", "federation_links"),
        *_tenant("cell_b_id", "federation_links"),
        *_tenant("requested_by_id", "federation_links"),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("a_agreed_at", sa.DateTime(), nullable=True),
        sa.Column("b_agreed_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        *_tenant("ended_by_id", "federation_links", nullable=True),
        sa.CheckConstraint("cell_a_id < cell_b_id", name=op.f("ck_federation_links_ordered")),
        sa.PrimaryKeyConstraint("id", name="pk_federation_links"),
    )
    op.create_index("ix_federation_links_cell_a_id", "federation_links", ["cell_a_id"])
    op.create_index("ix_federation_links_cell_b_id", "federation_links", ["cell_b_id"])
    op.create_index(
        "uq_federation_links_live_pair", "federation_links", ["cell_a_id", "cell_b_id"], unique=True,
        postgresql_where=sa.text("ended_at IS NULL"), sqlite_where=sa.text("ended_at IS NULL"),
    )
    op.create_table(
        "federation_enrolments",
        sa.Column("id", Id, nullable=False),
        *_tenant("tenant_id", "federation_enrolments"),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=True),
        sa.Column("identity_version", sa.String(64), nullable=True),
        sa.Column("known", sa.String(80), nullable=False),
        sa.Column("status", sa.Enum("pending", "enrolled", "removed", name="enrolmentstatus", native_enum=False, length=30), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_federation_enrolments"),
        sa.UniqueConstraint("ref", name="uq_federation_enrolments_ref"),
    )
    op.create_index("ix_federation_enrolments_tenant_id", "federation_enrolments", ["tenant_id"])
    op.create_index("ix_federation_enrolments_status", "federation_enrolments", ["status"])
    op.create_table(
        "federation_tokens",
        sa.Column("id", Id, nullable=False),
        sa.Column("enrolment_id", Id, nullable=False),
        *_tenant("tenant_id", "federation_tokens"),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("key_type", sa.String(20), nullable=False),
        sa.Column("token", sa.LargeBinary(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["enrolment_id"], ["federation_enrolments.id"],
            name="fk_federation_tokens_enrolment_id_federation_enrolments", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_federation_tokens"),
    )
    op.create_index("ix_federation_tokens_enrolment_id", "federation_tokens", ["enrolment_id"])
    op.create_index("ix_federation_tokens_tenant_id", "federation_tokens", ["tenant_id"])
    op.create_index("ix_federation_tokens_lookup", "federation_tokens", ["epoch", "key_type", "token"])
    op.create_table(
        "match_alerts",
        sa.Column("id", Id, nullable=False),
        sa.Column("link_id", Id, nullable=False),
        sa.Column("enrolment_a_id", Id, nullable=False),
        sa.Column("enrolment_b_id", Id, nullable=False),
        *_tenant("tenant_a_id", "match_alerts"),
        *_tenant("tenant_b_id", "match_alerts"),
        sa.Column("version_a", sa.String(64), nullable=False),
        sa.Column("version_b", sa.String(64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("agreeing", sa.String(200), nullable=False),
        sa.Column("unknown", sa.String(80), nullable=False),
        sa.Column("status_a", sa.Enum("new", "acknowledged", "confirmed", "dismissed", name="sidestatus", native_enum=False, length=30), nullable=False),
        sa.Column("status_b", sa.Enum("new", "acknowledged", "confirmed", "dismissed", name="sidestatus", native_enum=False, length=30), nullable=False),
        sa.Column("state", sa.Enum("open", "confirmed", "dismissed", "withdrawn", name="alertstate", native_enum=False, length=30), nullable=False),
        sa.Column("shared_reference", sa.String(20), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("notified_a_at", sa.DateTime(), nullable=True),
        sa.Column("notified_b_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["federation_links.id"], name="fk_match_alerts_link_id_federation_links", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["enrolment_a_id"], ["federation_enrolments.id"],
            name="fk_match_alerts_enrolment_a_id_federation_enrolments", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_b_id"], ["federation_enrolments.id"],
            name="fk_match_alerts_enrolment_b_id_federation_enrolments", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_match_alerts"),
        sa.UniqueConstraint("link_id", "enrolment_a_id", "enrolment_b_id", "version_a", "version_b", name="uq_match_alerts_pair"),
    )
    for column in ("link_id", "enrolment_a_id", "enrolment_b_id", "tenant_a_id", "tenant_b_id", "state"):
        op.create_index(f"ix_match_alerts_{column}", "match_alerts", [column])
    op.create_table(
        "dismissed_pairs",
        sa.Column("id", Id, nullable=False),
        sa.Column("ref_low", sa.String(32), nullable=False),
        sa.Column("ref_high", sa.String(32), nullable=False),
        sa.Column("version_low", sa.String(64), nullable=False),
        sa.Column("version_high", sa.String(64), nullable=False),
        sa.Column("dismissed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dismissed_pairs"),
        sa.UniqueConstraint("ref_low", "ref_high", "version_low", "version_high", name="uq_dismissed_pairs_pair"),
    )
    op.create_table(
        "case_federation",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.Column("excluded_at", sa.DateTime(), nullable=True),
        sa.Column("excluded_by_id", Id, nullable=True),
        sa.Column("excluded_reason_ciphertext", sa.Text(), nullable=True),
        *_tenant("tenant_id", "case_federation"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_federation_case_id_cases", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["excluded_by_id"], ["memberships.id"], name="fk_case_federation_excluded_by_id_memberships", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_case_federation"),
        sa.UniqueConstraint("case_id", name="uq_case_federation_case_id"),
        sa.UniqueConstraint("ref", name="uq_case_federation_ref"),
    )
    op.create_index("ix_case_federation_tenant_id", "case_federation", ["tenant_id"])
    isolate_tenant_table(op, "case_federation")


def downgrade() -> None:
    release_tenant_table(op, "case_federation")
    for table in ("case_federation", "dismissed_pairs", "match_alerts", "federation_tokens",
                  "federation_enrolments", "federation_links"):
        op.drop_table(table)
