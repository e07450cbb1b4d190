"""Follow-up scenarios per target group and the categories of measures (issue 18).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06

Every measure gets a category (guidance, care, education, work, housing, administrative,
judicial/penal, police) so that the monitoring counts them; measures from before are "not
recorded" (nothing in them says which it was, and guessing would make the figures lie). The
cell's follow-up scenarios (``follow_up_scenarios``) hold typical measures
(``scenario_measures``): both are tenant tables under row-level security.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("follow_up_scenarios", "scenario_measures")
CATEGORIES = ("guidance", "care", "education", "work", "housing", "administrative", "judicial_penal", "police",
              "not_recorded")
TARGET_GROUPS = ("ftf", "htf", "hate_propagandist", "child_of_ftf_htf", "other_extremism")
ORGANISATION_KINDS = ("municipal_service", "clb", "ocmw", "caw", "school", "police", "justice_house", "vdab",
                      "hospital", "youth_service", "other")


def _category(name: str = "measurecategory") -> sa.Enum:
    return sa.Enum(*CATEGORIES, name=name, native_enum=False, length=30)


def _tenant_column(table: str) -> tuple:
    return (
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"),
    )


def upgrade() -> None:
    with op.batch_alter_table("measures") as batch:
        batch.add_column(sa.Column("category", _category(), nullable=False, server_default="not_recorded"))
    op.create_table(
        "follow_up_scenarios",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("target_group", sa.Enum(*TARGET_GROUPS, name="targetgroup", native_enum=False, length=30),
                  nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", Id, nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        *_tenant_column("follow_up_scenarios"),
        sa.ForeignKeyConstraint(["created_by_id"], ["memberships.id"],
                                name="fk_follow_up_scenarios_created_by_id_memberships", ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_follow_up_scenarios"),
    )
    for column in ("target_group", "created_by_id", "tenant_id"):
        op.create_index(f"ix_follow_up_scenarios_{column}", "follow_up_scenarios", [column])
    op.create_table(
        "scenario_measures",
        sa.Column("id", Id, nullable=False),
        sa.Column("scenario_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("category", _category(), nullable=False),
        sa.Column("organisation_kind", sa.Enum(*ORGANISATION_KINDS, name="organisationkind", native_enum=False, length=30),
                  nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        *_tenant_column("scenario_measures"),
        sa.ForeignKeyConstraint(["scenario_id"], ["follow_up_scenarios.id"],
                                name="fk_scenario_measures_scenario_id_follow_up_scenarios", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_scenario_measures"),
    )
    for column in ("scenario_id", "tenant_id"):
        op.create_index(f"ix_scenario_measures_{column}", "scenario_measures", [column])
    for table in TABLES:
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
    with op.batch_alter_table("measures") as batch:
        batch.drop_column("category")
