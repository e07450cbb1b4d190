"""Reserved for issue 20 (filled in by the work it is reserved for, or removed).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06
"""

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
