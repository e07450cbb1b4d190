"""Reserved for issue 20 (filled in by the work it is reserved for, or removed).

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06
"""

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
