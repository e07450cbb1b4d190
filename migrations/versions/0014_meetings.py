"""Meetings of a table or a case team: invitees and the attendance register, occasional
attendees, the agenda and its minutes, addenda, members' requests, calendar addresses.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05

An agenda item names a case or a signal by code only; its summary is encrypted under the case's
key (or the meeting's), and an item off the record keeps none. Meeting ids name key scopes and
are never reused (AUTOINCREMENT on SQLite, sequences on PostgreSQL). Calendar addresses are kept
as token digests only.
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = (
    "meeting_calendar_feeds",
    "meetings",
    "meeting_minutes_addenda",
    "meeting_occasional_attendees",
    "meeting_requests",
    "meeting_agenda_items",
    "meeting_invitees",
)


def upgrade() -> None:
    op.create_table(
        "meeting_calendar_feeds",
        sa.Column("id", Id, nullable=False),
        sa.Column("membership_id", Id, nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_meeting_calendar_feeds_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_meeting_calendar_feeds_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_calendar_feeds")),
        sa.UniqueConstraint("membership_id", name=op.f("uq_meeting_calendar_feeds_membership_id")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_meeting_calendar_feeds_token_digest")),
    )
    op.create_index(
        op.f("ix_meeting_calendar_feeds_membership_id"),
        "meeting_calendar_feeds",
        ["membership_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_calendar_feeds_tenant_id"),
        "meeting_calendar_feeds",
        ["tenant_id"],
        unique=False,
    )

    op.create_table(
        "meetings",
        sa.Column("id", Id, nullable=False),
        sa.Column("table_id", Id, nullable=True),
        sa.Column("case_id", Id, nullable=True),
        sa.Column("case_code", sa.String(length=20), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "regular", "ad_hoc", "strategic", name="meetingkind", native_enum=False, length=30
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "in_session",
                "held",
                "cancelled",
                name="meetingstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("video_link", sa.String(length=500), nullable=True),
        sa.Column("chair_id", Id, nullable=True),
        sa.Column("secretary_id", Id, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", Id, nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("minutes_approved_at", sa.DateTime(), nullable=True),
        sa.Column("minutes_approved_in_id", Id, nullable=True),
        sa.Column("minutes_approved_by_id", Id, nullable=True),
        sa.Column("reminded_day_before_at", sa.DateTime(), nullable=True),
        sa.Column("minutes_reminded_at", sa.DateTime(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_meetings_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["chair_id"],
            ["memberships.id"],
            name=op.f("fk_meetings_chair_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["memberships.id"],
            name=op.f("fk_meetings_created_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["minutes_approved_by_id"],
            ["memberships.id"],
            name=op.f("fk_meetings_minutes_approved_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["minutes_approved_in_id"],
            ["meetings.id"],
            name=op.f("fk_meetings_minutes_approved_in_id_meetings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["secretary_id"],
            ["memberships.id"],
            name=op.f("fk_meetings_secretary_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["table_id"], ["cell_tables.id"], name=op.f("fk_meetings_table_id_cell_tables")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_meetings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_meetings_case_id"), "meetings", ["case_id"], unique=False)
    op.create_index(op.f("ix_meetings_chair_id"), "meetings", ["chair_id"], unique=False)
    op.create_index(op.f("ix_meetings_created_by_id"), "meetings", ["created_by_id"], unique=False)
    op.create_index(
        op.f("ix_meetings_minutes_approved_by_id"),
        "meetings",
        ["minutes_approved_by_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meetings_minutes_approved_in_id"),
        "meetings",
        ["minutes_approved_in_id"],
        unique=False,
    )
    op.create_index(op.f("ix_meetings_secretary_id"), "meetings", ["secretary_id"], unique=False)
    op.create_index(op.f("ix_meetings_starts_at"), "meetings", ["starts_at"], unique=False)
    op.create_index(op.f("ix_meetings_status"), "meetings", ["status"], unique=False)
    op.create_index(op.f("ix_meetings_table_id"), "meetings", ["table_id"], unique=False)
    op.create_index(op.f("ix_meetings_tenant_id"), "meetings", ["tenant_id"], unique=False)

    op.create_table(
        "meeting_minutes_addenda",
        sa.Column("id", Id, nullable=False),
        sa.Column("meeting_id", Id, nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.Column("written_by_id", Id, nullable=True),
        sa.Column("text_ciphertext", sa.Text(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_minutes_addenda_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_meeting_minutes_addenda_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["written_by_id"],
            ["memberships.id"],
            name=op.f("fk_meeting_minutes_addenda_written_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_minutes_addenda")),
    )
    op.create_index(
        op.f("ix_meeting_minutes_addenda_meeting_id"),
        "meeting_minutes_addenda",
        ["meeting_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_minutes_addenda_tenant_id"),
        "meeting_minutes_addenda",
        ["tenant_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_minutes_addenda_written_by_id"),
        "meeting_minutes_addenda",
        ["written_by_id"],
        unique=False,
    )

    op.create_table(
        "meeting_occasional_attendees",
        sa.Column("id", Id, nullable=False),
        sa.Column("meeting_id", Id, nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("organisation", sa.String(length=120), nullable=False),
        sa.Column("capacity", sa.String(length=120), nullable=False),
        sa.Column("undertaking_signed", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", Id, nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_occasional_attendees_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["memberships.id"],
            name=op.f("fk_meeting_occasional_attendees_recorded_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_meeting_occasional_attendees_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_occasional_attendees")),
    )
    op.create_index(
        op.f("ix_meeting_occasional_attendees_meeting_id"),
        "meeting_occasional_attendees",
        ["meeting_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_occasional_attendees_recorded_by_id"),
        "meeting_occasional_attendees",
        ["recorded_by_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_occasional_attendees_tenant_id"),
        "meeting_occasional_attendees",
        ["tenant_id"],
        unique=False,
    )

    op.create_table(
        "meeting_requests",
        sa.Column("id", Id, nullable=False),
        sa.Column("requested_by_id", Id, nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("meeting_id", Id, nullable=True),
        sa.Column("reason_ciphertext", sa.Text(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_requests_meeting_id_meetings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["memberships.id"],
            name=op.f("fk_meeting_requests_requested_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_meeting_requests_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_requests")),
    )
    op.create_index(
        op.f("ix_meeting_requests_meeting_id"), "meeting_requests", ["meeting_id"], unique=False
    )
    op.create_index(
        op.f("ix_meeting_requests_requested_by_id"),
        "meeting_requests",
        ["requested_by_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_requests_tenant_id"), "meeting_requests", ["tenant_id"], unique=False
    )

    op.create_table(
        "meeting_agenda_items",
        sa.Column("id", Id, nullable=False),
        sa.Column("meeting_id", Id, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "signal",
                "review",
                "measures",
                "feedback",
                "decision",
                "match_alert",
                "request",
                "other",
                name="itemkind",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=20), nullable=True),
        sa.Column("case_id", Id, nullable=True),
        sa.Column("signal_id", Id, nullable=True),
        sa.Column("proposal_id", Id, nullable=True),
        sa.Column("request_id", Id, nullable=True),
        sa.Column("police_information", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by_id", Id, nullable=True),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.Column("off_the_record", sa.Boolean(), nullable=False),
        sa.Column("summary_ciphertext", sa.Text(), nullable=True),
        sa.Column("written_at", sa.DateTime(), nullable=True),
        sa.Column("written_by_id", Id, nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["memberships.id"],
            name=op.f("fk_meeting_agenda_items_added_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_meeting_agenda_items_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_agenda_items_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["meeting_requests.id"],
            name=op.f("fk_meeting_agenda_items_request_id_meeting_requests"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signals.id"],
            name=op.f("fk_meeting_agenda_items_signal_id_signals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_meeting_agenda_items_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["written_by_id"],
            ["memberships.id"],
            name=op.f("fk_meeting_agenda_items_written_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_agenda_items")),
    )
    op.create_index(
        op.f("ix_meeting_agenda_items_added_by_id"),
        "meeting_agenda_items",
        ["added_by_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_agenda_items_case_id"), "meeting_agenda_items", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_meeting_agenda_items_meeting_id"),
        "meeting_agenda_items",
        ["meeting_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_agenda_items_proposal_id"),
        "meeting_agenda_items",
        ["proposal_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_agenda_items_request_id"),
        "meeting_agenda_items",
        ["request_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_agenda_items_signal_id"),
        "meeting_agenda_items",
        ["signal_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_agenda_items_tenant_id"),
        "meeting_agenda_items",
        ["tenant_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_agenda_items_written_by_id"),
        "meeting_agenda_items",
        ["written_by_id"],
        unique=False,
    )

    op.create_table(
        "meeting_invitees",
        sa.Column("id", Id, nullable=False),
        sa.Column("meeting_id", Id, nullable=False),
        sa.Column("membership_id", Id, nullable=False),
        sa.Column("item_id", Id, nullable=True),
        sa.Column("invited_at", sa.DateTime(), nullable=False),
        sa.Column(
            "attendance",
            sa.Enum(
                "present", "excused", "absent", name="attendance", native_enum=False, length=30
            ),
            nullable=True,
        ),
        sa.Column("recorded_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_by_id", Id, nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["meeting_agenda_items.id"],
            name=op.f("fk_meeting_invitees_item_id_meeting_agenda_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_invitees_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_meeting_invitees_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["memberships.id"],
            name=op.f("fk_meeting_invitees_recorded_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_meeting_invitees_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_invitees")),
        sa.UniqueConstraint(
            "meeting_id", "membership_id", name=op.f("uq_meeting_invitees_meeting_id")
        ),
    )
    op.create_index(
        op.f("ix_meeting_invitees_item_id"), "meeting_invitees", ["item_id"], unique=False
    )
    op.create_index(
        op.f("ix_meeting_invitees_meeting_id"), "meeting_invitees", ["meeting_id"], unique=False
    )
    op.create_index(
        op.f("ix_meeting_invitees_membership_id"),
        "meeting_invitees",
        ["membership_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_invitees_recorded_by_id"),
        "meeting_invitees",
        ["recorded_by_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_meeting_invitees_tenant_id"), "meeting_invitees", ["tenant_id"], unique=False
    )
    for table in TABLES:
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
