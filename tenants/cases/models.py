"""What a cell records about the people it discusses: signals, weighings, cases and their follow-up.

The steps of seed 004 ("dossieraanmelding, -vorming, -weging, -aanpak, -evaluatie en
-afsluiting") map onto these tables:

    Signal ──weighed by──> Weighing (flag, checklist of observed facts, who took part)
       │                       │ decision "open a case" / "add to a case"
       └───── person ────┐     v
                 Identity (encrypted, blind-indexed)  <── Case (pseudonymous code)
                                                         ├── CaseTeamMember (need-to-know)
                                                         ├── Measure (the follow-up plan)
                                                         ├── ProgressNote (author picks readers)
                                                         ├── Review (dated evaluations)
                                                         └── LtfFeedback ── FeedbackApproval

Privacy by design (ARCHITECTURE.md "Identities"): the identity of the person concerned and
every free text about them are encrypted under a key of their own record (``identity:7``,
``signal:12``, ``case:42``), so that erasing a record destroys its key and every copy,
backups included, becomes unreadable. Only codes, dates, statuses and ids are in clear. Nothing
here is listed by name: a person is found by a keyed blind index, never by a LIKE on a name.
Tables whose ids name key scopes never reuse an id (SQLite AUTOINCREMENT; sequences on
PostgreSQL): a destroyed scope stays destroyed, and a new record must not inherit it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.keys import EncryptedField, record_scope
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.signals.models import (
    REFERENCE_MAX,
    FlagLevel,
    FollowUpKind,
    Identity,
    TargetGroup,
    membership_column,
)
from livc.tenants.signals.registration import Registration, registration_column

# Case id -> memberships at a meeting with the case on its agenda: registered by the meetings
# domain, which sits above this one (the policy's "on the agenda of a meeting attended").
AGENDA_ATTENDEES: list[Callable[[int], set[int]]] = []


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


CASE_STATUS_LABELS = {CaseStatus.OPEN: _l("Open"), CaseStatus.CLOSED: _l("Closed")}
# What a search hit or an erasure due is: a case or a signal.
RECORD_LABELS = {"case": _l("Case"), "signal": _l("Signal")}


class CaseStage(enum.StrEnum):
    """Where a case stands, for the dashboard (derived, not stored)."""

    BUILDING = "building"  # opened, no measure agreed yet
    FOLLOW_UP = "follow_up"  # a plan with measures is running
    EVALUATION = "evaluation"  # a review is due
    AFTERCARE = "aftercare"  # closed, with reviews after closure still to hold
    CLOSED = "closed"


STAGE_LABELS = {
    CaseStage.BUILDING: _l("Case building"),
    CaseStage.FOLLOW_UP: _l("Follow-up"),
    CaseStage.EVALUATION: _l("Evaluation due"),
    CaseStage.AFTERCARE: _l("Closed, reviews after closure"),
    CaseStage.CLOSED: _l("Closed"),
}


class ClosureReason(enum.StrEnum):
    GOALS_REACHED = "goals_reached"
    NO_LONGER_CONCERNING = "no_longer_concerning"
    TAKEN_OVER = "taken_over"  # by justice, a care institution, another service
    MOVED_AWAY = "moved_away"  # another cell takes over
    REFUSES_COOPERATION = "refuses_cooperation"
    DECEASED = "deceased"
    OTHER = "other"


CLOSURE_LABELS = {
    ClosureReason.GOALS_REACHED: _l("The goals of the follow-up plan are reached"),
    ClosureReason.NO_LONGER_CONCERNING: _l("No longer a concern for the cell"),
    ClosureReason.TAKEN_OVER: _l("Taken over by another service or by justice"),
    ClosureReason.MOVED_AWAY: _l("Moved away: another cell takes over"),
    ClosureReason.REFUSES_COOPERATION: _l("Refuses every cooperation, nothing more the cell can do"),
    ClosureReason.DECEASED: _l("Deceased"),
    ClosureReason.OTHER: _l("Another reason"),
}


class MeasureStatus(enum.StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


MEASURE_STATUS_LABELS = {
    MeasureStatus.PLANNED: _l("Planned"),
    MeasureStatus.IN_PROGRESS: _l("In progress"),
    MeasureStatus.DONE: _l("Done"),
    MeasureStatus.CANCELLED: _l("Cancelled"),
}
OPEN_MEASURE_STATUSES = (MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS)


class MeasureCategory(enum.StrEnum):
    """What kind of measure (seeds 000 and 004: *begeleidings-, bestuurlijke en strafrechtelijke
    maatregelen*), so that the monitoring counts them. Measures from before the categories are
    "not recorded"; a new measure always has one of the others."""

    GUIDANCE = "guidance"  # *begeleiding*
    CARE = "care"  # *zorg*: psychological help, family support
    EDUCATION = "education"  # *onderwijs*
    WORK = "work"  # *werk*
    HOUSING = "housing"  # *huisvesting*
    ADMINISTRATIVE = "administrative"  # *bestuurlijke maatregel*
    JUDICIAL_PENAL = "judicial_penal"  # *gerechtelijke of strafrechtelijke maatregel*
    POLICE = "police"  # *politionele opvolging*
    NOT_RECORDED = "not_recorded"


MEASURE_CATEGORY_LABELS = {
    MeasureCategory.GUIDANCE: _l("Guidance"),
    MeasureCategory.CARE: _l("Care"),
    MeasureCategory.EDUCATION: _l("Education"),
    MeasureCategory.WORK: _l("Work"),
    MeasureCategory.HOUSING: _l("Housing"),
    MeasureCategory.ADMINISTRATIVE: _l("Administrative measure"),
    MeasureCategory.JUDICIAL_PENAL: _l("Judicial or penal measure"),
    MeasureCategory.POLICE: _l("Police follow-up"),
    MeasureCategory.NOT_RECORDED: _l("Category not recorded"),
}
#: The categories a measure is given (not "not recorded").
CHOSEN_MEASURE_CATEGORIES = tuple(category for category in MeasureCategory if category != MeasureCategory.NOT_RECORDED)


class NoteVisibility(enum.StrEnum):
    TEAM = "team"  # the case team (and the coordinator)
    RESTRICTED = "restricted"  # the coordinator and the information officer only


VISIBILITY_LABELS = {
    NoteVisibility.TEAM: _l("The case team"),
    NoteVisibility.RESTRICTED: _l("The coordinator and the information officer only"),
}


class ReviewKind(enum.StrEnum):
    FOLLOW_UP = "follow_up"  # while the case is open
    AFTER_CLOSURE = "after_closure"  # e.g. 6 and 12 months after closure


REVIEW_KIND_LABELS = {
    ReviewKind.FOLLOW_UP: _l("Review of the follow-up"),
    ReviewKind.AFTER_CLOSURE: _l("Review after closure"),
}


class ReviewOutcome(enum.StrEnum):
    CONTINUE = "continue"
    ADJUST_PLAN = "adjust_plan"
    PROPOSE_CLOSURE = "propose_closure"
    REOPEN = "reopen"  # after closure: the cell takes the case up again
    NO_CONCERN = "no_concern"  # after closure: all is well


REVIEW_OUTCOME_LABELS = {
    ReviewOutcome.CONTINUE: _l("Continue the plan"),
    ReviewOutcome.ADJUST_PLAN: _l("Adjust the plan"),
    ReviewOutcome.PROPOSE_CLOSURE: _l("Propose to close the case"),
    ReviewOutcome.REOPEN: _l("Take the case up again"),
    ReviewOutcome.NO_CONCERN: _l("No new concern"),
}
OUTCOMES_BY_KIND = {
    ReviewKind.FOLLOW_UP: (ReviewOutcome.CONTINUE, ReviewOutcome.ADJUST_PLAN, ReviewOutcome.PROPOSE_CLOSURE),
    ReviewKind.AFTER_CLOSURE: (ReviewOutcome.NO_CONCERN, ReviewOutcome.REOPEN),
}


class FurtherFollowUp(enum.StrEnum):
    USEFUL = "useful"
    NOT_USEFUL = "not_useful"
    UNCERTAIN = "uncertain"


FURTHER_LABELS = {
    FurtherFollowUp.USEFUL: _l("Yes, further follow-up by the cell is useful"),
    FurtherFollowUp.NOT_USEFUL: _l("No, further follow-up by the cell is not useful"),
    FurtherFollowUp.UNCERTAIN: _l("Uncertain"),
}


class TerroristPhase(enum.StrEnum):
    """The LTF's key question: could the person be in a phase of moving to terrorist acts?"""

    NO = "no"
    CANNOT_EXCLUDE = "cannot_exclude"
    YES = "yes"


PHASE_LABELS = {
    TerroristPhase.NO: _l("No"),
    TerroristPhase.CANNOT_EXCLUDE: _l("Cannot be excluded"),
    TerroristPhase.YES: _l("Yes"),
}


class FeedbackStatus(enum.StrEnum):
    DRAFT = "draft"
    RELEASED = "released"


# --- cases -----------------------------------------------------------------------------------


class Case(TenantScoped, db.Model):
    """A case (*casus*) the cell follows, known everywhere by its code only."""

    __tablename__ = "cases"
    __table_args__ = (sa.UniqueConstraint("tenant_id", "code"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(REFERENCE_MAX))  # "GNT-2026-007"
    # Raised on every change (migration 0029): an edit made on an older version answers 409.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}
    status: Mapped[CaseStatus] = mapped_column(value_enum(CaseStatus), default=CaseStatus.OPEN, index=True)
    identity_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("identities.id", ondelete="SET NULL"), index=True)
    target_group: Mapped[TargetGroup] = mapped_column(value_enum(TargetGroup))
    # The person is approached for another problem first: the target group is not shown to
    # the case team (only to the coordinator), so no label travels with the person.
    approached_for_other_problem: Mapped[bool] = mapped_column(default=False)
    follow_up_kind: Mapped[FollowUpKind] = mapped_column(value_enum(FollowUpKind))
    flag: Mapped[FlagLevel] = mapped_column(value_enum(FlagLevel))
    # The municipality of residence (NIS code), one of the cell's (seed 004: the cell follows
    # the residents of its territory); None for a case opened before it was recorded.
    residence_nis: Mapped[str | None] = mapped_column(sa.String(5), index=True)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_by_id: Mapped[int | None] = membership_column()
    next_review_on: Mapped[date | None] = mapped_column(index=True)
    # The stage apart from the day (never "evaluation", which is read against today): kept by
    # livc.tenants.cases.stages after every flush touching the case, its measures or reviews
    # (migration 0032), so lists count and pick the cases of a stage from an index.
    base_stage: Mapped[CaseStage] = mapped_column(value_enum(CaseStage), default=CaseStage.BUILDING,
                                                  server_default=CaseStage.BUILDING.value)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = membership_column()
    closure_reason: Mapped[ClosureReason | None] = mapped_column(value_enum(ClosureReason))
    # Erasure is due from this day on (set at closure, moved by reviews after closure).
    erase_after: Mapped[date | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    goal_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    closure_note_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    goal = EncryptedField("goal_ciphertext")  # what the personal trajectory aims at
    closure_note = EncryptedField("closure_note_ciphertext")  # why, incl. measures left open

    identity: Mapped[Identity | None] = relationship()
    team: Mapped[list[CaseTeamMember]] = relationship(
        primaryjoin="and_(Case.id == CaseTeamMember.case_id, CaseTeamMember.removed_at.is_(None))",
        order_by="CaseTeamMember.id",
        viewonly=True,
    )
    measures: Mapped[list[Measure]] = relationship(order_by="Measure.id", viewonly=True)

    @property
    def key_scope(self) -> str:
        return record_scope("case", self.id)

    @property
    def team_membership_ids(self) -> set[int]:
        """Who may read the case beside the coordinator: team members whose time has not run out."""
        today = utcnow().date()
        return {
            member.membership_id
            for member in self.team
            if member.membership_id is not None and (member.until is None or member.until >= today)
        }

    @property
    def agenda_attendee_ids(self) -> set[int]:
        """Who attends a meeting with the case on its agenda (the meetings domain, above, tells)."""
        return set().union(*(attendees(self.id) for attendees in AGENDA_ATTENDEES))

    @property
    def closed(self) -> bool:
        return self.status == CaseStatus.CLOSED

    @property
    def open_measures(self) -> list[Measure]:
        return [measure for measure in self.measures if measure.status in OPEN_MEASURE_STATUSES]


# The case list's order (open first, by code) and the stages' counts and first cases, from an
# index (migration 0032).
sa.Index("ix_cases_tenant_list", Case.tenant_id, Case.status.desc(), Case.code, Case.id)
sa.Index("ix_cases_tenant_stage", Case.tenant_id, Case.base_stage, Case.code, Case.id, Case.next_review_on)
# When the oldest open case was opened (the meetings' cadence), from the index's first entry.
sa.Index("ix_cases_tenant_open_since", Case.tenant_id, Case.status, Case.opened_at)

#: The day of a tally for a case without a next review or a measure without a due day: after
#: every day a dashboard asks about, so "due by" never counts it.
NO_DAY = date(9999, 12, 31)


#: What a tally counts.
TALLY_CASE, TALLY_MEASURE = "case", "measure"


class CaseTally(TenantScoped, db.Model):
    """How many of a cell's cases stand at one kept stage with one flag and next review day
    (``state`` = ``Case.base_stage``), or how many of its measures have one status and due day
    (``flag`` empty): kept by the database's triggers on ``cases`` and ``measures`` in the
    statement that changes a row (migration 0035), read by :mod:`livc.tenants.cases.tallies`.
    Never written by the app."""

    __tablename__ = "case_tallies"
    __table_args__ = (sa.PrimaryKeyConstraint("tenant_id", "subject", "state", "flag", "day"),)

    subject: Mapped[str] = mapped_column(sa.String(10))
    state: Mapped[str] = mapped_column(sa.String(30))
    flag: Mapped[str] = mapped_column(sa.String(20))
    day: Mapped[date]
    n: Mapped[int]


class CaseTeamMember(TenantScoped, db.Model):
    """A member in a case's team (need-to-know), a guest expert for a limited time."""

    __tablename__ = "case_team_members"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int | None] = membership_column(ondelete="CASCADE")
    until: Mapped[date | None]
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by_id: Mapped[int | None] = membership_column()
    removed_at: Mapped[datetime | None]

    membership: Mapped[Membership | None] = relationship(foreign_keys=[membership_id])


#: Which cases a member's teams give them to read (:func:`livc.tenants.cases.listing.readable`), read
#: from the index alone (migration 0034).
sa.Index("ix_case_team_members_member_cases", CaseTeamMember.membership_id, CaseTeamMember.case_id,
         CaseTeamMember.until, postgresql_where=CaseTeamMember.removed_at.is_(None),
         sqlite_where=CaseTeamMember.removed_at.is_(None))


class Measure(TenantScoped, db.Model):
    """A measure of the personal follow-up plan: who does what, by when."""

    __tablename__ = "measures"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    due_on: Mapped[date | None] = mapped_column(index=True)
    status: Mapped[MeasureStatus] = mapped_column(value_enum(MeasureStatus), default=MeasureStatus.PLANNED)
    category: Mapped[MeasureCategory] = mapped_column(
        value_enum(MeasureCategory), default=MeasureCategory.NOT_RECORDED, server_default=MeasureCategory.NOT_RECORDED.value
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = membership_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    reminded_on: Mapped[date | None]
    description_ciphertext: Mapped[str] = mapped_column(sa.Text)

    description = EncryptedField("description_ciphertext")

    organisation: Mapped[Organisation | None] = relationship()
    # Raised on every change (migration 0029): an edit made on an older version answers 409.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    @property
    def key_scope(self) -> str:
        return record_scope("case", self.case_id)

    @property
    def open(self) -> bool:
        return self.status in OPEN_MEASURE_STATUSES


#: The measures due (the dashboards): in the order they are shown, the status for the count.
sa.Index("ix_measures_tenant_due", Measure.tenant_id, Measure.due_on, Measure.id, Measure.status)


class ProgressNote(TenantScoped, db.Model):
    """A progress note; its author chooses who may read it."""

    __tablename__ = "progress_notes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = membership_column()
    visibility: Mapped[NoteVisibility] = mapped_column(value_enum(NoteVisibility))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The partner who brought it (the author, unless recorded for another) and their choice
    # (seed 001): oral only keeps no body, only that it was discussed.
    brought_by_id: Mapped[int | None] = membership_column()
    registration: Mapped[Registration] = registration_column()
    body_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    body = EncryptedField("body_ciphertext")

    author: Mapped[Membership | None] = relationship(foreign_keys=[author_id])
    brought_by: Mapped[Membership | None] = relationship(foreign_keys=[brought_by_id])

    @property
    def key_scope(self) -> str:
        return record_scope("case", self.case_id)


class Review(TenantScoped, db.Model):
    """A dated evaluation of a case, while it is followed or after its closure."""

    __tablename__ = "case_reviews"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ReviewKind] = mapped_column(value_enum(ReviewKind))
    due_on: Mapped[date] = mapped_column(index=True)
    held_on: Mapped[date | None]
    held_by_id: Mapped[int | None] = membership_column()
    outcome: Mapped[ReviewOutcome | None] = mapped_column(value_enum(ReviewOutcome))
    flag: Mapped[FlagLevel | None] = mapped_column(value_enum(FlagLevel))
    reminded_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    summary_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    summary = EncryptedField("summary_ciphertext")

    @property
    def key_scope(self) -> str:
        return record_scope("case", self.case_id)

    @property
    def held(self) -> bool:
        return self.held_on is not None


#: The reviews still to hold, in the order the dashboards show them.
sa.Index("ix_case_reviews_tenant_due", Review.tenant_id, Review.due_on, Review.id,
         postgresql_where=Review.held_on.is_(None), sqlite_where=Review.held_on.is_(None))


class LtfFeedback(TenantScoped, db.Model):
    """The feedback form to the Local Task Force (*LIVC-R-terugkoppelingsfiche*, seed 004).

    Released to the information officer only once every effectively participating member
    approved its current revision; any change makes a new revision and asks everyone again.
    The information officer then delivers it to the LTF and records the LTF's answer.
    """

    __tablename__ = "ltf_feedback"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    case_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    status: Mapped[FeedbackStatus] = mapped_column(value_enum(FeedbackStatus), default=FeedbackStatus.DRAFT)
    revision: Mapped[int] = mapped_column(default=1)
    # Raised on every change (migration 0029): an edit made on an older version answers 409.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}
    further_follow_up: Mapped[FurtherFollowUp | None] = mapped_column(value_enum(FurtherFollowUp))
    terrorist_phase: Mapped[TerroristPhase | None] = mapped_column(value_enum(TerroristPhase))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = membership_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = membership_column()
    released_at: Mapped[datetime | None]
    released_by_id: Mapped[int | None] = membership_column()
    # The revision whose participants were asked by mail for their approval (once per revision).
    notified_revision: Mapped[int | None]
    # The information officer's part: when they handed the form to the LTF, and the LTF's
    # answer, kept as police information (a progress note for the coordinator and them only).
    delivered_at: Mapped[datetime | None]
    delivered_by_id: Mapped[int | None] = membership_column()
    answer_note_id: Mapped[int | None] = mapped_column(Id, sa.ForeignKey("progress_notes.id", ondelete="SET NULL"))

    effectiveness_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    cooperation_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    distance_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    further_note_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    other_elements_ciphertext: Mapped[str | None] = mapped_column(sa.Text)
    phase_explanation_ciphertext: Mapped[str | None] = mapped_column(sa.Text)

    effectiveness = EncryptedField("effectiveness_ciphertext")  # of the treatment
    cooperation = EncryptedField("cooperation_ciphertext")  # the person's willingness
    distance = EncryptedField("distance_ciphertext")  # from extremist ideas
    further_note = EncryptedField("further_note_ciphertext")
    other_elements = EncryptedField("other_elements_ciphertext")  # measures taken, recommendations
    phase_explanation = EncryptedField("phase_explanation_ciphertext")

    approvals: Mapped[list[FeedbackApproval]] = relationship(order_by="FeedbackApproval.id", viewonly=True)
    delivered_by: Mapped[Membership | None] = relationship(foreign_keys=[delivered_by_id])
    answer: Mapped[ProgressNote | None] = relationship(foreign_keys=[answer_note_id])

    @property
    def key_scope(self) -> str:
        return record_scope("case", self.case_id)

    @property
    def released(self) -> bool:
        return self.status == FeedbackStatus.RELEASED

    @property
    def delivered(self) -> bool:
        return self.delivered_at is not None


FEEDBACK_TEXT_FIELDS = ("effectiveness", "cooperation", "distance", "further_note", "other_elements", "phase_explanation")


#: The draft feedback forms (the dashboards), the oldest change first.
sa.Index("ix_ltf_feedback_tenant_status", LtfFeedback.tenant_id, LtfFeedback.status, LtfFeedback.updated_at,
         LtfFeedback.id)


class FeedbackApproval(TenantScoped, db.Model):
    """A member's approval of one revision of the feedback form (kept when a revision passes)."""

    __tablename__ = "ltf_feedback_approvals"
    __table_args__ = (sa.UniqueConstraint("feedback_id", "membership_id", "revision"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    feedback_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("ltf_feedback.id", ondelete="CASCADE"), index=True)
    membership_id: Mapped[int | None] = membership_column()
    revision: Mapped[int]
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- the stage kept on the case ----------------------------------------------------------------


def base_stage_rule(case_id):
    """``stage_of``'s rule apart from the day, as SQL over the case ``case_id`` (a column):
    closed with a review after closure to hold, closed, open without measures, open with them."""
    cases = Case.__table__
    aftercare_due = sa.exists().where(
        Review.__table__.c.case_id == case_id, Review.__table__.c.kind == ReviewKind.AFTER_CLOSURE.value,
        Review.__table__.c.held_on.is_(None),
    )
    has_measures = sa.exists().where(Measure.__table__.c.case_id == case_id)
    return sa.case(
        (cases.c.status == CaseStatus.CLOSED.value,
         sa.case((aftercare_due, CaseStage.AFTERCARE.value), else_=CaseStage.CLOSED.value)),
        (has_measures, CaseStage.FOLLOW_UP.value),
        else_=CaseStage.BUILDING.value,
    )


_TOUCHED = "livc_cases_touched"


@sa.event.listens_for(Session, "after_flush")
def _keep_base_stage(session, _context) -> None:
    """After a flush that adds, changes or removes a case, a measure or a review: the
    ``base_stage`` of the cases concerned written again by :func:`base_stage_rule` (one UPDATE,
    rows whose stage is unchanged left alone; the case's edit version is not raised)."""
    touched = set()
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Case):
            if instance not in session.deleted:
                touched.add(instance.id)
        elif isinstance(instance, Measure | Review):
            touched.add(instance.case_id)
    touched.discard(None)
    if not touched:
        return
    cases = Case.__table__
    rule = base_stage_rule(cases.c.id)
    session.connection().execute(
        sa.update(cases).where(cases.c.id.in_(sorted(touched)), cases.c.base_stage != rule).values(base_stage=rule)
    )
    session.info.setdefault(_TOUCHED, set()).update(touched)


@sa.event.listens_for(Session, "after_flush_postexec")
def _expire_base_stage(session, _context) -> None:
    """The cases whose stage was written again read it afresh when next asked."""
    touched = session.info.pop(_TOUCHED, None)
    if not touched:
        return
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Case) and instance.id in touched:
            session.expire(instance, ["base_stage"])
