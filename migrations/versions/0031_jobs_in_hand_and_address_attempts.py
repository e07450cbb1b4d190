"""Sweeps that know which jobs are still in hand, and rate limits that outlive Redis (issue 20).

``federation_enrolments.job_id``: the RQ job last sent to compute an enrolment (a batch's
enrolments share one); the federation sweep sends an enrolment's work again only when RQ no
longer holds that job, instead of re-enqueueing everything pending for five minutes.
``offboarding_steps.job_id``: the job running a step; a step whose job RQ no longer holds and
that ran longer than a job may is resumed by the periodic sweep.
``credential_attempts``: attempts of a client address at credential-checking endpoints, counted
there while Redis is down (a keyed digest of the address, the time); platform-level, no row
level security (an address may try any cell).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("federation_enrolments") as batch:
        batch.add_column(sa.Column("job_id", sa.String(64), nullable=True))
    with op.batch_alter_table("offboarding_steps") as batch:
        batch.add_column(sa.Column("job_id", sa.String(64), nullable=True))
    op.create_table(
        "credential_attempts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("bucket", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_credential_attempts"),
    )
    op.create_index("ix_credential_attempts_bucket_at", "credential_attempts", ["bucket", "at"])
    op.create_index("ix_credential_attempts_at", "credential_attempts", ["at"])


def downgrade() -> None:
    op.drop_index("ix_credential_attempts_at", table_name="credential_attempts")
    op.drop_index("ix_credential_attempts_bucket_at", table_name="credential_attempts")
    op.drop_table("credential_attempts")
    with op.batch_alter_table("offboarding_steps") as batch:
        batch.drop_column("job_id")
    with op.batch_alter_table("federation_enrolments") as batch:
        batch.drop_column("job_id")
