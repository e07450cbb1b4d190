"""The demo cells' signals and cases: every stage, seeded once, and ``livc retention`` on them.

``seed_demo(with_members=True)`` is what ``livc demo`` runs; the other tests seed the cells
without members, and so without cases. These run on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from livc.app.cli import cli
from livc.app.demo import seed_demo
from livc.app.demo_cases import HERKO, LEUVEN, STORIES
from livc.platform.audit import AuditEntry, verify_chain
from livc.platform.db import db, tenant_context
from livc.platform.tenancy import Tenant
from livc.tenants.cases.models import (
    Case,
    CaseStage,
    FeedbackStatus,
    LtfFeedback,
    Measure,
    NoteVisibility,
    ProgressNote,
    Review,
    ReviewKind,
)
from livc.tenants.cases.operations import approval_state, stage_of
from livc.tenants.cell.operations import can_open_cases
from livc.tenants.retention.operations import retention_report
from livc.tenants.signals.models import Identity, Signal, SignalStatus, Urgency

CELLS = ("demo-leuven", "demo-herko")
CASE_TABLES = (Case, Signal, Identity, Measure, ProgressNote, Review, LtfFeedback, AuditEntry)


@pytest.fixture
def seeded(app) -> dict[str, int]:
    """Both demo cells with members, signals and cases, as ``livc demo`` leaves them."""
    with app.app_context():
        tenants = {tenant.slug: tenant.id for tenant in seed_demo(with_members=True)}
        db.session.remove()
    return tenants


def _counts(app, tenant_id: int) -> dict[str, int]:
    with app.app_context(), tenant_context(tenant_id):
        counts = {model.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
                  for model in CASE_TABLES}
        db.session.remove()
    return counts


def _cli(app, *args: str):
    """``livc ARGS`` as an operator runs it, against the test app's database and data folder."""
    settings = app.extensions["livc.settings"]
    env = {"LIVC_DATA_DIR": str(settings.data_dir), "LIVC_ENV": "test", "LIVC_SECRET_KEY": "t" * 40}
    if settings.database_url:
        env |= {"LIVC_DATABASE_URL": settings.database_url, "LIVC_MIGRATE_DATABASE_URL": settings.migration_url}
    return CliRunner().invoke(cli, list(args), env=env)


def test_each_demo_cell_has_signals_and_cases_at_every_stage(app, seeded):
    for slug in CELLS:
        with app.app_context(), tenant_context(seeded[slug]):
            assert can_open_cases()  # the form and the appointed official came with the demo
            cases = db.session.scalars(sa.select(Case).order_by(Case.id)).all()
            stages = [stage_of(case) for case in cases]
            assert set(stages) == {CaseStage.BUILDING, CaseStage.FOLLOW_UP, CaseStage.EVALUATION,
                                   CaseStage.AFTERCARE, CaseStage.CLOSED}, slug

            signals = db.session.scalars(sa.select(Signal)).all()
            statuses = {status: [s for s in signals if s.status == status] for status in SignalStatus}
            assert len(statuses[SignalStatus.NEW]) == 3
            assert any(s.urgency == Urgency.URGENT for s in statuses[SignalStatus.NEW])
            assert any(s.identity_id is None for s in statuses[SignalStatus.NEW])  # anonymous
            for status in (SignalStatus.INSUFFICIENT, SignalStatus.REFERRED, SignalStatus.ADDED_TO_CASE):
                assert len(statuses[status]) == 1, status
            assert len(statuses[SignalStatus.CASE_OPENED]) == len(cases) == 7  # with the shared person

            # Follow-up: an overdue measure and a note for the coordinator and officer only.
            today = date.today()
            assert db.session.scalar(sa.select(sa.func.count(Measure.id)).where(
                Measure.due_on < today, Measure.status.in_(("planned", "in_progress")))) == 1
            restricted = db.session.scalars(sa.select(ProgressNote).where(
                ProgressNote.visibility == NoteVisibility.RESTRICTED)).all()
            assert len(restricted) == 1 and restricted[0].body
            # The LTF feedback form waits for the information officer's approval.
            feedback = db.session.scalar(sa.select(LtfFeedback))
            assert feedback.status == FeedbackStatus.DRAFT
            state = approval_state(db.session.get(Case, feedback.case_id), feedback)
            assert len(state.approved) == 2 and [m.role.value for m in state.waiting] == ["information_officer"]
            # Reviews after closure to come, and a case closed long ago due for erasure.
            aftercare = cases[stages.index(CaseStage.AFTERCARE)]
            pending = db.session.scalars(sa.select(Review).where(
                Review.case_id == aftercare.id, Review.kind == ReviewKind.AFTER_CLOSURE, Review.held_on.is_(None))).all()
            assert len(pending) == 2 and all(review.due_on > today for review in pending)
            due = retention_report()
            erasable = cases[stages.index(CaseStage.CLOSED)]
            assert [(item.kind, item.reference) for item in due] == [("case", erasable.code)]
            assert erasable.closed_at.year < today.year - 1

            # Realistic and clearly fictional: the people are those of the demo's stories.
            names = {identity.family_name for identity in db.session.scalars(sa.select(Identity))}
            invented = {story.person.family_name for story in STORIES[slug].values() if story.person}
            assert names == invented
            observations = {signal.observation for signal in signals}
            assert {story.observation for story in STORIES[slug].values()} <= observations
            # Seeded through the operations: every step is in the cell's (intact) trail, as the demo.
            report = verify_chain()
            assert report.intact
            opened = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "case.opened")).all()
            assert len(opened) == 7 and {entry.actor for entry in opened} == {"system:demo"}
            db.session.remove()


def test_the_cells_speak_their_own_languages():
    leuven = " ".join(story.observation for story in LEUVEN.values())
    herko = " ".join(story.observation for story in HERKO.values())
    assert " de " in leuven and " la " not in leuven  # Leuven works in Dutch
    assert " de " in herko and " la " in herko  # Herent-Kortenberg in Dutch and French


def test_seeding_twice_adds_nothing(app, seeded):
    before = {slug: _counts(app, seeded[slug]) for slug in CELLS}
    with app.app_context():
        seed_demo(with_members=True)
        db.session.remove()
    assert {slug: _counts(app, seeded[slug]) for slug in CELLS} == before


def test_cells_seeded_without_members_have_no_cases(app, demo_tenants):
    for slug in CELLS:
        assert {table: count for table, count in _counts(app, demo_tenants[slug]).items() if count} == {"audit_entries": 1}


def test_livc_retention_dry_run_lists_what_is_due_and_erases_nothing(app, seeded):
    with app.app_context(), tenant_context(seeded["demo-leuven"]):
        code = retention_report()[0].reference
        db.session.remove()
    before = _counts(app, seeded["demo-leuven"])

    result = _cli(app, "retention", "--cell", "demo-leuven", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "demo-leuven: 1 case(s), 0 signal(s) would be erased" in result.output
    assert code in result.output and "due since" in result.output
    assert "demo-herko" not in result.output
    assert "(dry run: nothing changed)" in result.output
    assert _counts(app, seeded["demo-leuven"]) == before


def test_livc_retention_erases_what_is_due_in_every_active_cell(app, seeded):
    codes = {}
    for slug in CELLS:
        with app.app_context(), tenant_context(seeded[slug]):
            codes[slug] = retention_report()[0].reference
            db.session.remove()

    result = _cli(app, "retention")
    assert result.exit_code == 0, result.output
    for slug in CELLS:
        assert f"{slug}: 1 case(s), 0 signal(s) erased" in result.output
        assert codes[slug] in result.output
        with app.app_context(), tenant_context(seeded[slug]):
            assert db.session.scalar(sa.select(Case.id).where(Case.code == codes[slug])) is None
            assert retention_report() == []
            assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 6
            db.session.remove()
    assert "total: 2 case(s), 0 signal(s) erased in 2 cell(s)" in result.output
    # The person's name never reaches the output, only codes and dates.
    assert "Archiefgeval" not in result.output

    again = _cli(app, "retention", "--cell", "demo-herko")
    assert again.exit_code == 0 and "demo-herko: 0 case(s), 0 signal(s) erased" in again.output


def test_livc_retention_skips_inactive_cells_and_refuses_unknown_ones(app, seeded):
    from livc.platform.tenancy import TenantStatus

    with app.app_context():
        db.session.get(Tenant, seeded["demo-herko"]).status = TenantStatus.SUSPENDED
        db.session.commit()
        db.session.remove()
    result = _cli(app, "retention", "--dry-run")
    assert result.exit_code == 0 and "demo-leuven" in result.output and "demo-herko" not in result.output
    unknown = _cli(app, "retention", "--cell", "demo-nowhere")
    assert unknown.exit_code != 0 and "no cell at 'demo-nowhere'" in unknown.output
