"""Tenant lifecycle: jobs paused while a tenant is suspended; offboarding runs, their steps,
the encrypted export and its single-use link, the verification report.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

The offboarding tables are platform-level and keep the tenant's id and slug as plain values
(no foreign key to ``tenants``): they must outlive every row of the tenant they describe.
``paused_jobs`` does reference the tenant (it goes with it).

On PostgreSQL the app role may not delete audit entries (``restrict_to_append``); the
function ``livc_purge_offboarded_audit`` (owner's rights) deletes the trail of one tenant,
and only once that tenant is marked offboarded and its keys are all destroyed: a live
tenant's trail cannot be removed without irreversibly crypto-shredding the tenant first.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")

PURGE_FUNCTION = """
CREATE FUNCTION livc_purge_offboarded_audit(p_tenant bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    removed bigint;
BEGIN
    -- Only once the cell is marked offboarded and crypto-shredded: its tenant key destroyed and
    -- no key of it left (seen through row-level security, so as the cell itself).
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = p_tenant AND status = 'offboarded')
       OR NOT EXISTS (SELECT 1 FROM data_keys WHERE tenant_id = p_tenant AND scope = 'tenant'
                      AND wrapped_key IS NULL AND destroyed_at IS NOT NULL)
       OR EXISTS (SELECT 1 FROM data_keys WHERE tenant_id = p_tenant AND wrapped_key IS NOT NULL) THEN
        RAISE EXCEPTION 'only an offboarded, crypto-shredded tenant''s audit trail can be removed';
    END IF;
    DELETE FROM audit_entries WHERE tenant_id = p_tenant;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$
"""


def _state(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=20)


def upgrade() -> None:
    op.create_table(
        "paused_jobs",
        sa.Column("id", Id, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("task", sa.String(200), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_paused_jobs_tenant_id_tenants", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_paused_jobs"),
    )
    op.create_index("ix_paused_jobs_tenant_id", "paused_jobs", ["tenant_id"])
    op.create_table(
        "offboardings",
        sa.Column("id", Id, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("tenant_slug", sa.String(63), nullable=False),
        sa.Column("tenant_name", sa.String(200), nullable=False),
        sa.Column("recipient_email", sa.String(254), nullable=False),
        sa.Column("requested_by", sa.String(120), nullable=False),
        sa.Column("state", _state("runstate", ("running", "failed", "done")), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_offboardings"),
        sa.UniqueConstraint("tenant_id", name="uq_offboardings_tenant_id"),
    )
    op.create_table(
        "offboarding_steps",
        sa.Column("id", Id, nullable=False),
        sa.Column("offboarding_id", Id, nullable=False),
        sa.Column("name", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("state", _state("stepstate", ("pending", "running", "done", "failed")), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offboarding_id"], ["offboardings.id"], name="fk_offboarding_steps_offboarding_id_offboardings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_offboarding_steps"),
        sa.UniqueConstraint("offboarding_id", "name", name="uq_offboarding_steps_offboarding_name"),
    )
    op.create_index("ix_offboarding_steps_offboarding_id", "offboarding_steps", ["offboarding_id"])
    op.create_table(
        "tenant_exports",
        sa.Column("id", Id, nullable=False),
        sa.Column("offboarding_id", Id, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("tenant_slug", sa.String(63), nullable=False),
        sa.Column("recipient_email", sa.String(254), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("format_version", sa.String(10), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("storage", sa.String(100), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("key_wrapping", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("downloaded_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_because", sa.String(20), nullable=True),
        sa.ForeignKeyConstraint(
            ["offboarding_id"], ["offboardings.id"], name="fk_tenant_exports_offboarding_id_offboardings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tenant_exports"),
        sa.UniqueConstraint("offboarding_id", name="uq_tenant_exports_offboarding_id"),
        sa.UniqueConstraint("token_digest", name="uq_tenant_exports_token_digest"),
    )
    op.create_index("ix_tenant_exports_tenant_id", "tenant_exports", ["tenant_id"])
    op.create_table(
        "tenant_export_files",
        sa.Column("export_id", Id, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"], ["tenant_exports.id"], name="fk_tenant_export_files_export_id_tenant_exports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("export_id", name="pk_tenant_export_files"),
    )
    op.create_table(
        "offboarding_reports",
        sa.Column("id", Id, nullable=False),
        sa.Column("offboarding_id", Id, nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.Column("tenant_slug", sa.String(63), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["offboarding_id"], ["offboardings.id"], name="fk_offboarding_reports_offboarding_id_offboardings",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_offboarding_reports"),
        sa.UniqueConstraint("offboarding_id", name="uq_offboarding_reports_offboarding_id"),
    )
    op.create_index("ix_offboarding_reports_tenant_id", "offboarding_reports", ["tenant_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PURGE_FUNCTION)
        op.execute("REVOKE ALL ON FUNCTION livc_purge_offboarded_audit(bigint) FROM PUBLIC")
        role = op.get_context().config.attributes.get("app_role")
        if role:
            quoted = op.get_bind().dialect.identifier_preparer.quote(role)
            op.execute(f"GRANT EXECUTE ON FUNCTION livc_purge_offboarded_audit(bigint) TO {quoted}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS livc_purge_offboarded_audit(bigint)")
    for table in ("offboarding_reports", "tenant_export_files", "tenant_exports", "offboarding_steps",
                  "offboardings", "paused_jobs"):
        op.drop_table(table)
