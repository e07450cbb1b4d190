"""Browser sessions kept on the server (issue 19): the cookie carries one opaque token.

``browser_sessions``: a browser's session content (CSRF token, its per-cell sign-in tokens,
the operator's, flash messages), found by the SHA-256 of the token its cookie carries. Not a
cell's table: one browser may be signed in to several cells. Cookies signed before this
revision carried their content themselves; they now open an empty session (sign in again).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "browser_sessions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_browser_sessions"),
        sa.UniqueConstraint("token_digest", name="uq_browser_sessions_token_digest"),
    )
    op.create_index("ix_browser_sessions_last_seen_at", "browser_sessions", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_browser_sessions_last_seen_at", table_name="browser_sessions")
    op.drop_table("browser_sessions")
