"""The bringing partner's consent: registered, or shared orally only (issue 18).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06

Seed 001 (the house rules' chapter on information management): information discussed in the
cell is registered "only with the consent of the partner who brought it". A signal, a progress
note and an agenda item's contribution carry that partner's choice (``registration``):
``registered``, or ``oral_only``, when only that it was discussed is kept, so their content
columns allow NULL. Notes and agenda items name the partner who brought them
(``brought_by_id``). Rows that exist were registered. The tables are tenant tables already under
row-level security: new columns are covered by their policies.
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = ("signals", "progress_notes", "meeting_agenda_items")
CONTENT = {"signals": "observation_ciphertext", "progress_notes": "body_ciphertext"}
BROUGHT_BY = ("progress_notes", "meeting_agenda_items")
# SQLite rebuilds a table to change a column: signals' ids name key scopes and are never reused.
KEEP = {"signals": {"sqlite_autoincrement": True}}


def _registration() -> sa.Column:
    return sa.Column(
        "registration", sa.Enum("registered", "oral_only", name="registration", native_enum=False, length=30),
        nullable=False, server_default="registered",
    )


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, table_kwargs=KEEP.get(table, {})) as batch:
            batch.add_column(_registration())
            if table in CONTENT:
                batch.alter_column(CONTENT[table], existing_type=sa.Text(), nullable=True)
            if table in BROUGHT_BY:
                batch.add_column(sa.Column("brought_by_id", Id, nullable=True))
                batch.create_foreign_key(
                    op.f(f"fk_{table}_brought_by_id_memberships"), "memberships", ["brought_by_id"], ["id"],
                    ondelete="SET NULL",
                )
                batch.create_index(op.f(f"ix_{table}_brought_by_id"), ["brought_by_id"], unique=False)


def downgrade() -> None:
    for table in reversed(TABLES):
        if table in CONTENT:
            # What was shared orally has no content: it keeps none (an empty text) once required.
            op.execute(f"UPDATE {table} SET {CONTENT[table]} = '' WHERE {CONTENT[table]} IS NULL")
        with op.batch_alter_table(table, table_kwargs=KEEP.get(table, {})) as batch:
            if table in BROUGHT_BY:
                batch.drop_index(op.f(f"ix_{table}_brought_by_id"))
                batch.drop_constraint(op.f(f"fk_{table}_brought_by_id_memberships"), type_="foreignkey")
                batch.drop_column("brought_by_id")
            if table in CONTENT:
                batch.alter_column(CONTENT[table], existing_type=sa.Text(), nullable=False)
            batch.drop_column("registration")
