"""The anonymous figures of a cell: the counts erased records leave, and the cell's consent to
count in the platform-wide figures (issue 17).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06

Both are tenant tables under row-level security. The anonymous tallies kept at erasure before this
revision (``erasure_tallies``: year, outcome, target group) are carried over as counts of January
of their year, the finest date they kept.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("monitoring_kept_counts", "monitoring_consents")


def upgrade() -> None:
    op.create_table(
        "monitoring_kept_counts",
        sa.Column("id", Id, nullable=False),
        sa.Column("figure", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("municipality", sa.String(length=5), nullable=False),
        sa.Column("category", sa.String(length=120), nullable=False),
        sa.Column("organisation_id", Id, nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_monitoring_kept_counts_organisation_id_organisations"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_monitoring_kept_counts_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_kept_counts")),
        sa.UniqueConstraint("tenant_id", "figure", "month", "municipality", "category", "organisation_id",
                            name="uq_monitoring_kept_counts_fact"),
    )
    op.create_index(op.f("ix_monitoring_kept_counts_organisation_id"), "monitoring_kept_counts", ["organisation_id"])
    op.create_index(op.f("ix_monitoring_kept_counts_tenant_id"), "monitoring_kept_counts", ["tenant_id"])
    op.create_table(
        "monitoring_consents",
        sa.Column("id", Id, nullable=False),
        sa.Column("platform_figures", sa.Boolean(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"],
                                name=op.f("fk_monitoring_consents_tenant_id_tenants"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_consents")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_monitoring_consents_tenant_id")),
    )
    op.create_index(op.f("ix_monitoring_consents_tenant_id"), "monitoring_consents", ["tenant_id"])
    for table in TABLES:
        isolate_tenant_table(op, table)
    # The tallies of earlier erasures: cases under "cases opened" by target group and "cases
    # closed" by reason, signals under "signals received" (channel and reporter unknown).
    op.execute("""
        INSERT INTO monitoring_kept_counts (tenant_id, figure, month, municipality, category, organisation_id, count)
        SELECT tenant_id, 'cases_opened', CAST(year || '-01-01' AS DATE), '', target_group || '|unknown', NULL, SUM(count)
        FROM erasure_tallies WHERE record = 'case' GROUP BY tenant_id, year, target_group
    """)
    op.execute("""
        INSERT INTO monitoring_kept_counts (tenant_id, figure, month, municipality, category, organisation_id, count)
        SELECT tenant_id, 'cases_closed', CAST(year || '-01-01' AS DATE), '', outcome || '|unknown', NULL, SUM(count)
        FROM erasure_tallies WHERE record = 'case' AND outcome != '' GROUP BY tenant_id, year, outcome
    """)
    op.execute("""
        INSERT INTO monitoring_kept_counts (tenant_id, figure, month, municipality, category, organisation_id, count)
        SELECT tenant_id, 'signals_received', CAST(year || '-01-01' AS DATE), '', 'unknown|unknown', NULL, SUM(count)
        FROM erasure_tallies WHERE record = 'signal' GROUP BY tenant_id, year
    """)


def downgrade() -> None:
    for table in reversed(TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
