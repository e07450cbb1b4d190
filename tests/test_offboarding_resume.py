"""Issue 20: a worker killed during an offboarding step left the cell suspended and the run
refused for 20 minutes until resumed by hand. Now the periodic sweep resumes a step that ran
longer than a job may and whose job RQ no longer holds, audited; a step still within its time
is left alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from test_lifecycle import act, offboard, progress, tenant, two  # noqa: F401  (two: the fixture)

from case_helpers import LEUVEN
from livc.admin.lifecycle import operations as lifecycle
from livc.admin.lifecycle.models import Offboarding, StepState
from livc.admin.operators.models import OperatorAuditEntry
from livc.platform.db import db
from livc.platform.timeutil import utcnow


def worker_died_during_export(app, ago: timedelta) -> None:
    """The suspend step done, the export step "running" since ``ago``, its job gone."""
    with app.app_context():
        run = db.session.scalar(sa.select(Offboarding).where(Offboarding.tenant_id == tenant(LEUVEN).id))
        started = utcnow() - ago
        run.step("suspend").state = StepState.DONE
        export = run.step("export")
        export.state, export.started_at, export.updated_at, export.attempts, export.job_id = (
            StepState.RUNNING, started, started, 1, "a-job-whose-worker-was-killed")
        run.updated_at = started
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_a_step_whose_worker_died_is_resumed_by_the_sweep_and_audited(app, two, monkeypatch):  # noqa: F811
    monkeypatch.setattr(lifecycle, "enqueue", lambda *args, **kwargs: None)  # the first job never runs
    offboard(app, LEUVEN)
    monkeypatch.undo()

    worker_died_during_export(app, timedelta(minutes=3))  # within a job's time: maybe still working
    assert act(app, lifecycle.resume_stalled_offboardings) == 0
    assert progress(app, LEUVEN)["steps"][1]["state"] == "running"

    worker_died_during_export(app, lifecycle.STALE_RUNNING + timedelta(seconds=1))
    assert progress(app, LEUVEN)["resumable"] is True
    assert act(app, lifecycle.resume_stalled_offboardings) == 1  # inline jobs: the rest runs now
    state = progress(app, LEUVEN)
    assert state["state"] == "done" and state["report"]["passed"] is True
    assert [step["state"] for step in state["steps"]] == ["done"] * 4
    with app.app_context():
        resumed = db.session.scalars(sa.select(OperatorAuditEntry).where(
            OperatorAuditEntry.action == "tenant.offboarding_resumed")).all()
        assert [(entry.actor, entry.details["step"]) for entry in resumed] == [(lifecycle.SWEEP_ACTOR, "export")]
        db.session.remove()
    assert act(app, lifecycle.resume_stalled_offboardings) == 0  # nothing left to resume
