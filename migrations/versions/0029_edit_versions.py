"""Edit versions (issue 20): two people saving the same thing no longer overwrite each other.

A ``version`` integer on the rows people edit in forms and through the API: cases, measures
of the follow-up plan, the LTF feedback form, meetings and their agenda items (the minutes are written per item), the cell's case
settings, and ``edit_version`` on house rules (whose ``version`` is the rules' own number). The
ORM raises it on every change (``version_id_col``); a form or request that carries an older one
is refused with 409 and the current values. Existing rows start at 1.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

COLUMNS = {
    "cases": "version",
    "measures": "version",
    "ltf_feedback": "version",
    "meetings": "version",
    "meeting_agenda_items": "version",
    "case_settings": "version",
    "house_rules": "edit_version",
}


def upgrade() -> None:
    for table, column in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column(column, sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    for table, column in COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
