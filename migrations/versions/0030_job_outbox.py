"""The job outbox (issue 20): jobs written in the transaction that wants them, relayed to RQ.

``job_outbox``: one row per job enqueued with Redis configured (task path, plain arguments,
tenant, queue; its id is also the RQ job id), marked done by the job in its own transaction.
Platform-level like ``paused_jobs``, its tenant id a plain value (a job for a tenant that is
gone is written, then skipped by the worker; done rows are purged by the relay after a
week), but on PostgreSQL a cell's
transaction sees and changes only its own rows (it may write a new row for another cell, whose
work it wants done: two cells that link enrol each other's cases), while
the relay, the worker's bookkeeping and the console, which set no tenant, see them all. The
index on (done_at, available_at) serves the relay and the backlog's age.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")

POLICY = "outbox_isolation"
CURRENT_TENANT = "nullif(current_setting('app.tenant_id', true), '')::bigint"


def upgrade() -> None:
    op.create_table(
        "job_outbox",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant_id", Id, nullable=True),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(20), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("state", sa.Enum("pending", "done", "failed", "skipped", name="outboxstate", native_enum=False,
                                   length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("available_at", sa.DateTime(), nullable=False),
        sa.Column("relayed_at", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_job_outbox"),
    )
    op.create_index("ix_job_outbox_tenant_id", "job_outbox", ["tenant_id"])
    op.create_index("ix_job_outbox_done_at_available_at", "job_outbox", ["done_at", "available_at"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE job_outbox ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE job_outbox FORCE ROW LEVEL SECURITY")
        # Reading, changing and deleting: a cell's own rows. Writing a new row: any tenant's,
        # since a cell's request may want work done in another cell (two cells that link enrol
        # each other's open cases); that job still runs in its own cell's context.
        own = f"{CURRENT_TENANT} IS NULL OR tenant_id = {CURRENT_TENANT}"
        op.execute(f"CREATE POLICY {POLICY} ON job_outbox USING ({own}) WITH CHECK ({own} OR tenant_id IS NULL)")
        op.execute(f"CREATE POLICY {POLICY}_insert ON job_outbox FOR INSERT WITH CHECK (true)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP POLICY IF EXISTS {POLICY}_insert ON job_outbox")
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON job_outbox")
    op.drop_index("ix_job_outbox_done_at_available_at", table_name="job_outbox")
    op.drop_index("ix_job_outbox_tenant_id", table_name="job_outbox")
    op.drop_table("job_outbox")
