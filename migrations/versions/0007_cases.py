"""Signals, weighings, cases and their follow-up, the LTF feedback form, erasure tallies.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

Identities and every free text about the people discussed are stored encrypted (``*_ciphertext``
columns, see livc.platform.keys); the tables whose ids name key scopes (identities, signals,
cases) never reuse an id (AUTOINCREMENT on SQLite, sequences on PostgreSQL).
"""

import sqlalchemy as sa
from alembic import op

from livc.platform.rls import isolate_tenant_table, release_tenant_table

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
TABLES = (
    "case_settings",
    "erasure_tallies",
    "identities",
    "cases",
    "case_reviews",
    "case_team_members",
    "ltf_feedback",
    "measures",
    "progress_notes",
    "signals",
    "ltf_feedback_approvals",
    "weighings",
    "weighing_facts",
    "weighing_participants",
)


def upgrade() -> None:
    op.create_table(
        "case_settings",
        sa.Column("id", Id, nullable=False),
        sa.Column("code_prefix", sa.String(length=6), nullable=False),
        sa.Column("flag_green_criteria", sa.Text(), nullable=True),
        sa.Column("flag_yellow_criteria", sa.Text(), nullable=True),
        sa.Column("flag_red_criteria", sa.Text(), nullable=True),
        sa.Column("flag_black_criteria", sa.Text(), nullable=True),
        sa.Column("review_interval_days", sa.Integer(), nullable=False),
        sa.Column("reviews_after_closure", sa.Boolean(), nullable=False),
        sa.Column("review_months_after_closure", sa.String(length=40), nullable=False),
        sa.Column("retention_months_closed", sa.Integer(), nullable=False),
        sa.Column("retention_months_signals", sa.Integer(), nullable=False),
        sa.Column("code_year", sa.Integer(), nullable=False),
        sa.Column("next_case_number", sa.Integer(), nullable=False),
        sa.Column("next_signal_number", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_case_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_settings")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_case_settings_tenant_id")),
    )
    op.create_index(
        op.f("ix_case_settings_tenant_id"), "case_settings", ["tenant_id"], unique=False
    )
    op.create_table(
        "erasure_tallies",
        sa.Column("id", Id, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("record", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("target_group", sa.String(length=30), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_erasure_tallies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_tallies")),
        sa.UniqueConstraint(
            "tenant_id",
            "year",
            "record",
            "outcome",
            "target_group",
            name=op.f("uq_erasure_tallies_tenant_id"),
        ),
    )
    op.create_index(
        op.f("ix_erasure_tallies_tenant_id"), "erasure_tallies", ["tenant_id"], unique=False
    )
    op.create_table(
        "identities",
        sa.Column("id", Id, nullable=False),
        sa.Column("given_names_ciphertext", sa.Text(), nullable=True),
        sa.Column("family_name_ciphertext", sa.Text(), nullable=True),
        sa.Column("date_of_birth_ciphertext", sa.Text(), nullable=True),
        sa.Column("national_number_ciphertext", sa.Text(), nullable=True),
        sa.Column("address_ciphertext", sa.Text(), nullable=True),
        sa.Column("family_name_index", sa.String(length=64), nullable=True),
        sa.Column("full_name_index", sa.String(length=64), nullable=True),
        sa.Column("reversed_name_index", sa.String(length=64), nullable=True),
        sa.Column("national_number_index", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_identities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_identities_family_name_index"), "identities", ["family_name_index"], unique=False
    )
    op.create_index(
        op.f("ix_identities_full_name_index"), "identities", ["full_name_index"], unique=False
    )
    op.create_index(
        op.f("ix_identities_national_number_index"),
        "identities",
        ["national_number_index"],
        unique=False,
    )
    op.create_index(
        op.f("ix_identities_reversed_name_index"),
        "identities",
        ["reversed_name_index"],
        unique=False,
    )
    op.create_index(op.f("ix_identities_tenant_id"), "identities", ["tenant_id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", Id, nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum("open", "closed", name="casestatus", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("identity_id", Id, nullable=True),
        sa.Column(
            "target_group",
            sa.Enum(
                "ftf",
                "htf",
                "hate_propagandist",
                "child_of_ftf_htf",
                "other_extremism",
                name="targetgroup",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("approached_for_other_problem", sa.Boolean(), nullable=False),
        sa.Column(
            "follow_up_kind",
            sa.Enum("social", "police", "mixed", name="followupkind", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column(
            "flag",
            sa.Enum(
                "green", "yellow", "red", "black", name="flaglevel", native_enum=False, length=30
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by_id", Id, nullable=True),
        sa.Column("next_review_on", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by_id", Id, nullable=True),
        sa.Column(
            "closure_reason",
            sa.Enum(
                "goals_reached",
                "no_longer_concerning",
                "taken_over",
                "moved_away",
                "refuses_cooperation",
                "deceased",
                "other",
                name="closurereason",
                native_enum=False,
                length=30,
            ),
            nullable=True,
        ),
        sa.Column("erase_after", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("goal_ciphertext", sa.Text(), nullable=True),
        sa.Column("closure_note_ciphertext", sa.Text(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["memberships.id"],
            name=op.f("fk_cases_closed_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_cases_identity_id_identities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"],
            ["memberships.id"],
            name=op.f("fk_cases_opened_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_cases_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_cases_tenant_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_cases_closed_by_id"), "cases", ["closed_by_id"], unique=False)
    op.create_index(op.f("ix_cases_erase_after"), "cases", ["erase_after"], unique=False)
    op.create_index(op.f("ix_cases_identity_id"), "cases", ["identity_id"], unique=False)
    op.create_index(op.f("ix_cases_next_review_on"), "cases", ["next_review_on"], unique=False)
    op.create_index(op.f("ix_cases_opened_by_id"), "cases", ["opened_by_id"], unique=False)
    op.create_index(op.f("ix_cases_status"), "cases", ["status"], unique=False)
    op.create_index(op.f("ix_cases_tenant_id"), "cases", ["tenant_id"], unique=False)
    op.create_table(
        "case_reviews",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column(
            "kind",
            sa.Enum("follow_up", "after_closure", name="reviewkind", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=True),
        sa.Column("held_by_id", Id, nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "continue",
                "adjust_plan",
                "propose_closure",
                "reopen",
                "no_concern",
                name="reviewoutcome",
                native_enum=False,
                length=30,
            ),
            nullable=True,
        ),
        sa.Column(
            "flag",
            sa.Enum(
                "green", "yellow", "red", "black", name="flaglevel", native_enum=False, length=30
            ),
            nullable=True,
        ),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("summary_ciphertext", sa.Text(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_reviews_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["held_by_id"],
            ["memberships.id"],
            name=op.f("fk_case_reviews_held_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_case_reviews_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_reviews")),
    )
    op.create_index(op.f("ix_case_reviews_case_id"), "case_reviews", ["case_id"], unique=False)
    op.create_index(op.f("ix_case_reviews_due_on"), "case_reviews", ["due_on"], unique=False)
    op.create_index(
        op.f("ix_case_reviews_held_by_id"), "case_reviews", ["held_by_id"], unique=False
    )
    op.create_index(op.f("ix_case_reviews_tenant_id"), "case_reviews", ["tenant_id"], unique=False)
    op.create_table(
        "case_team_members",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column("membership_id", Id, nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by_id", Id, nullable=True),
        sa.Column("removed_at", sa.DateTime(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["memberships.id"],
            name=op.f("fk_case_team_members_added_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_team_members_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_case_team_members_membership_id_memberships"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_case_team_members_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_team_members")),
    )
    op.create_index(
        op.f("ix_case_team_members_added_by_id"), "case_team_members", ["added_by_id"], unique=False
    )
    op.create_index(
        op.f("ix_case_team_members_case_id"), "case_team_members", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_case_team_members_membership_id"),
        "case_team_members",
        ["membership_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_case_team_members_tenant_id"), "case_team_members", ["tenant_id"], unique=False
    )
    op.create_table(
        "ltf_feedback",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column(
            "status",
            sa.Enum("draft", "released", name="feedbackstatus", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "further_follow_up",
            sa.Enum(
                "useful",
                "not_useful",
                "uncertain",
                name="furtherfollowup",
                native_enum=False,
                length=30,
            ),
            nullable=True,
        ),
        sa.Column(
            "terrorist_phase",
            sa.Enum(
                "no", "cannot_exclude", "yes", name="terroristphase", native_enum=False, length=30
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", Id, nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by_id", Id, nullable=True),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("released_by_id", Id, nullable=True),
        sa.Column("effectiveness_ciphertext", sa.Text(), nullable=True),
        sa.Column("cooperation_ciphertext", sa.Text(), nullable=True),
        sa.Column("distance_ciphertext", sa.Text(), nullable=True),
        sa.Column("further_note_ciphertext", sa.Text(), nullable=True),
        sa.Column("other_elements_ciphertext", sa.Text(), nullable=True),
        sa.Column("phase_explanation_ciphertext", sa.Text(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_ltf_feedback_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["memberships.id"],
            name=op.f("fk_ltf_feedback_created_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["released_by_id"],
            ["memberships.id"],
            name=op.f("fk_ltf_feedback_released_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ltf_feedback_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["memberships.id"],
            name=op.f("fk_ltf_feedback_updated_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ltf_feedback")),
    )
    op.create_index(op.f("ix_ltf_feedback_case_id"), "ltf_feedback", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_ltf_feedback_created_by_id"), "ltf_feedback", ["created_by_id"], unique=False
    )
    op.create_index(
        op.f("ix_ltf_feedback_released_by_id"), "ltf_feedback", ["released_by_id"], unique=False
    )
    op.create_index(op.f("ix_ltf_feedback_tenant_id"), "ltf_feedback", ["tenant_id"], unique=False)
    op.create_index(
        op.f("ix_ltf_feedback_updated_by_id"), "ltf_feedback", ["updated_by_id"], unique=False
    )
    op.create_table(
        "measures",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column("organisation_id", Id, nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "in_progress",
                "done",
                "cancelled",
                name="measurestatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", Id, nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.Column("description_ciphertext", sa.Text(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_measures_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["memberships.id"],
            name=op.f("fk_measures_created_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_measures_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_measures_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measures")),
    )
    op.create_index(op.f("ix_measures_case_id"), "measures", ["case_id"], unique=False)
    op.create_index(op.f("ix_measures_created_by_id"), "measures", ["created_by_id"], unique=False)
    op.create_index(op.f("ix_measures_due_on"), "measures", ["due_on"], unique=False)
    op.create_index(
        op.f("ix_measures_organisation_id"), "measures", ["organisation_id"], unique=False
    )
    op.create_index(op.f("ix_measures_tenant_id"), "measures", ["tenant_id"], unique=False)
    op.create_table(
        "progress_notes",
        sa.Column("id", Id, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column("author_id", Id, nullable=True),
        sa.Column(
            "visibility",
            sa.Enum("team", "restricted", name="notevisibility", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("body_ciphertext", sa.Text(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["memberships.id"],
            name=op.f("fk_progress_notes_author_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_progress_notes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_progress_notes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress_notes")),
    )
    op.create_index(
        op.f("ix_progress_notes_author_id"), "progress_notes", ["author_id"], unique=False
    )
    op.create_index(op.f("ix_progress_notes_case_id"), "progress_notes", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_progress_notes_tenant_id"), "progress_notes", ["tenant_id"], unique=False
    )
    op.create_table(
        "signals",
        sa.Column("id", Id, nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "form",
                "phone",
                "email",
                "in_person",
                "ltf_referral",
                name="signalchannel",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("recorded_by_id", Id, nullable=True),
        sa.Column("reporter_organisation_id", Id, nullable=True),
        sa.Column(
            "internal_assessment",
            sa.Enum(
                "done",
                "not_done",
                "not_applicable",
                name="internalassessment",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "urgency",
            sa.Enum("normal", "soon", "urgent", name="urgency", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("observed_from", sa.Date(), nullable=True),
        sa.Column("observed_until", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "case_opened",
                "added_to_case",
                "referred",
                "insufficient",
                name="signalstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("identity_id", Id, nullable=True),
        sa.Column("case_id", Id, nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("reporter_contact_ciphertext", sa.Text(), nullable=True),
        sa.Column("observation_ciphertext", sa.Text(), nullable=False),
        sa.Column("assessment_note_ciphertext", sa.Text(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_signals_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_signals_identity_id_identities"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["memberships.id"],
            name=op.f("fk_signals_recorded_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["reporter_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_signals_reporter_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_signals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signals")),
        sa.UniqueConstraint("tenant_id", "reference", name=op.f("uq_signals_tenant_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_signals_case_id"), "signals", ["case_id"], unique=False)
    op.create_index(op.f("ix_signals_identity_id"), "signals", ["identity_id"], unique=False)
    op.create_index(op.f("ix_signals_recorded_by_id"), "signals", ["recorded_by_id"], unique=False)
    op.create_index(
        op.f("ix_signals_reporter_organisation_id"),
        "signals",
        ["reporter_organisation_id"],
        unique=False,
    )
    op.create_index(op.f("ix_signals_status"), "signals", ["status"], unique=False)
    op.create_index(op.f("ix_signals_tenant_id"), "signals", ["tenant_id"], unique=False)
    op.create_table(
        "ltf_feedback_approvals",
        sa.Column("id", Id, nullable=False),
        sa.Column("feedback_id", Id, nullable=False),
        sa.Column("membership_id", Id, nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["ltf_feedback.id"],
            name=op.f("fk_ltf_feedback_approvals_feedback_id_ltf_feedback"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_ltf_feedback_approvals_membership_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ltf_feedback_approvals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ltf_feedback_approvals")),
        sa.UniqueConstraint(
            "feedback_id",
            "membership_id",
            "revision",
            name=op.f("uq_ltf_feedback_approvals_feedback_id"),
        ),
    )
    op.create_index(
        op.f("ix_ltf_feedback_approvals_feedback_id"),
        "ltf_feedback_approvals",
        ["feedback_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ltf_feedback_approvals_membership_id"),
        "ltf_feedback_approvals",
        ["membership_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ltf_feedback_approvals_tenant_id"),
        "ltf_feedback_approvals",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "weighings",
        sa.Column("id", Id, nullable=False),
        sa.Column("signal_id", Id, nullable=False),
        sa.Column(
            "flag",
            sa.Enum(
                "green", "yellow", "red", "black", name="flaglevel", native_enum=False, length=30
            ),
            nullable=False,
        ),
        sa.Column(
            "decision",
            sa.Enum(
                "open_case",
                "add_to_case",
                "refer",
                "insufficient",
                name="weighingdecision",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("case_id", Id, nullable=True),
        sa.Column("recorded_by_id", Id, nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("rationale_ciphertext", sa.Text(), nullable=True),
        sa.Column("referred_to_ciphertext", sa.Text(), nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_weighings_case_id_cases"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["memberships.id"],
            name=op.f("fk_weighings_recorded_by_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signals.id"],
            name=op.f("fk_weighings_signal_id_signals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_weighings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weighings")),
        sa.UniqueConstraint("signal_id", name=op.f("uq_weighings_signal_id")),
    )
    op.create_index(op.f("ix_weighings_case_id"), "weighings", ["case_id"], unique=False)
    op.create_index(
        op.f("ix_weighings_recorded_by_id"), "weighings", ["recorded_by_id"], unique=False
    )
    op.create_index(op.f("ix_weighings_tenant_id"), "weighings", ["tenant_id"], unique=False)
    op.create_table(
        "weighing_facts",
        sa.Column("id", Id, nullable=False),
        sa.Column("weighing_id", Id, nullable=False),
        sa.Column("signal_id", Id, nullable=False),
        sa.Column(
            "fact",
            sa.Enum(
                "support_for_violence",
                "extremist_contacts",
                "propaganda",
                "travel",
                "threats",
                "weapons",
                "social_break",
                "behaviour_change",
                "other",
                name="observedfact",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("observed_on", sa.Date(), nullable=True),
        sa.Column("description_ciphertext", sa.Text(), nullable=False),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["signal_id"],
            ["signals.id"],
            name=op.f("fk_weighing_facts_signal_id_signals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_weighing_facts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["weighing_id"],
            ["weighings.id"],
            name=op.f("fk_weighing_facts_weighing_id_weighings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weighing_facts")),
        sa.UniqueConstraint("weighing_id", "fact", name=op.f("uq_weighing_facts_weighing_id")),
    )
    op.create_index(
        op.f("ix_weighing_facts_signal_id"), "weighing_facts", ["signal_id"], unique=False
    )
    op.create_index(
        op.f("ix_weighing_facts_tenant_id"), "weighing_facts", ["tenant_id"], unique=False
    )
    op.create_index(
        op.f("ix_weighing_facts_weighing_id"), "weighing_facts", ["weighing_id"], unique=False
    )
    op.create_table(
        "weighing_participants",
        sa.Column("id", Id, nullable=False),
        sa.Column("weighing_id", Id, nullable=False),
        sa.Column("membership_id", Id, nullable=True),
        sa.Column("tenant_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["memberships.id"],
            name=op.f("fk_weighing_participants_membership_id_memberships"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_weighing_participants_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["weighing_id"],
            ["weighings.id"],
            name=op.f("fk_weighing_participants_weighing_id_weighings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weighing_participants")),
        sa.UniqueConstraint(
            "weighing_id", "membership_id", name=op.f("uq_weighing_participants_weighing_id")
        ),
    )
    op.create_index(
        op.f("ix_weighing_participants_membership_id"),
        "weighing_participants",
        ["membership_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_weighing_participants_tenant_id"),
        "weighing_participants",
        ["tenant_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_weighing_participants_weighing_id"),
        "weighing_participants",
        ["weighing_id"],
        unique=False,
    )
    for table in TABLES:
        isolate_tenant_table(op, table)


def downgrade() -> None:
    for table in reversed(TABLES):
        release_tenant_table(op, table)
        op.drop_table(table)
