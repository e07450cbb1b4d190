"""Reserved for issue 20 (filled in by the work it is reserved for, or removed).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06
"""

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
