"""Reserved for issue 20 (filled in by the work it is reserved for, or removed).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06
"""

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
