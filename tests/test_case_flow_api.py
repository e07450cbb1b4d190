"""The whole path through the JSON API, as an integration would walk it: a partner's signal,
the weighing, the case and its plan, the feedback form with everyone's approval, closure and
erasure. And a partner outside the case team never reads it, through any door.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import give_session
from case_helpers import (
    IDENTITY,
    LEUVEN,
    OBSERVATION,
    membership,
    open_case,
    ready_cell,
)
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.tenants.cases.models import Case
from livc.tenants.signals.models import ErasureTally, Signal


class Api:
    """A member's JSON client: the CSRF header comes from ``GET /api/session``."""

    def __init__(self, app, member):
        self.client = app.test_client()
        give_session(app, self.client, member)
        token = self.client.get(f"/{LEUVEN}/api/session").get_json()["csrf_token"]
        self.headers = {"X-CSRFToken": token, "Accept-Language": "en"}

    def __getattr__(self, method):
        def call(path, body=None):
            return self.client.open(f"/{LEUVEN}/api{path}", method=method.upper(), json=body, headers=self.headers)

        return call


@pytest.fixture
def cell(app, cells):
    return ready_cell(app, cells[LEUVEN], LEUVEN)


def test_a_signal_goes_through_weighing_case_plan_feedback_closure_and_erasure(app, cell):
    partner, coordinator = Api(app, cell.partner), Api(app, cell.coordinator)

    # The partner reports; the filter of their own organisation comes first.
    body = {"observation": OBSERVATION, "internal_assessment": "done", "urgency": "soon",
            "observed_from": (date.today() - timedelta(days=9)).isoformat(), **IDENTITY}
    refused = partner.post("/signals", {**body, "internal_assessment": "not_done"})
    assert refused.status_code == 422 and "internal_assessment" in refused.get_json()["error"]["fields"]
    created = partner.post("/signals", body)
    assert created.status_code == 201
    signal = created.get_json()["signal"]
    assert signal["reference"].startswith("S-") and "Van den Berghe" not in created.get_data(as_text=True)

    # The coordinator proposes the weighing, the partner confirms it: a case opens, the partner in
    # its team. Who took part is not typed: a list of participants is refused.
    weighing = {
        "flag": "red", "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social",
        "facts": [{"fact": "propaganda", "description": "Attack video shared in the class chat."}],
        "team_ids": [cell.partner.membership_id],
    }
    assert partner.post(f"/signals/{signal['id']}/weighing", weighing).status_code == 403
    typed = coordinator.post(f"/signals/{signal['id']}/weighing",
                             {**weighing, "participant_ids": [cell.partner.membership_id]})
    assert typed.status_code == 422 and "participant_ids" in typed.get_json()["error"]["fields"]
    weighed = coordinator.post(f"/signals/{signal['id']}/weighing", weighing)
    assert weighed.status_code == 202, weighed.get_json()
    assert weighed.get_json()["decision"]["status"] == "proposed" and "case" not in weighed.get_json()
    assert coordinator.get("/cases").get_json()["cases"] == []  # nothing before a second member confirms
    pending = coordinator.post(f"/signals/{signal['id']}/weighing", weighing)
    assert pending.status_code == 422  # one proposal at a time
    decision_path = f"/decisions/{weighed.get_json()['decision']['id']}"
    own = coordinator.post(f"{decision_path}/confirm")
    assert own.status_code == 422 and "_schema" in own.get_json()["error"]["fields"]  # never its proposer
    confirmed = partner.post(f"{decision_path}/confirm")
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["decision"]["status"] == "taken"
    [case] = coordinator.get("/cases").get_json()["cases"]
    assert case["code"] == f"LEU-{date.today().year}-001"
    again = coordinator.post(f"/signals/{signal['id']}/weighing", weighing)
    assert again.status_code == 422  # the decision stands
    case_path = f"/cases/{case['id']}"

    # The plan, a note, and the feedback form to the LTF.
    measure = coordinator.post(f"{case_path}/measures", {
        "description": "Talk with the pupil and the parents", "organisation_id": _organisation_of(app, cell), "category": "guidance",
        "due_on": (date.today() + timedelta(days=14)).isoformat()})
    assert measure.status_code == 201, measure.get_json()
    assert partner.post(f"{case_path}/notes", {"body": "First talk went well.", "visibility": "team"}).status_code == 201
    answers = {"effectiveness": "The talks help.", "cooperation": "Willing.", "distance": "Takes distance.",
               "further_follow_up": "not_useful", "other_elements": "Back in class.", "terrorist_phase": "no"}
    started = coordinator.post(f"{case_path}/feedback", answers)
    assert started.status_code == 201
    feedback_path = started.headers["Location"].split("/api", 1)[1]
    revision = coordinator.get(feedback_path).get_json()["feedback"]["revision"]
    assert coordinator.post(f"{feedback_path}/approvals", {"revision": revision}).status_code == 201
    early = coordinator.post(f"{feedback_path}/release", {"confirm": True})
    assert early.status_code == 422 and "approvals" in early.get_json()["error"]["fields"]
    assert partner.post(f"{feedback_path}/approvals", {"revision": revision}).status_code == 201
    assert coordinator.post(f"{feedback_path}/release", {"confirm": True}).status_code == 200
    officer = Api(app, cell.information_officer)
    inbox = officer.get("/ltf-feedback").get_json()["feedback"]
    assert [item["case_code"] for item in inbox] == [case["code"]]

    # Closure: the open measure needs a word on why; then erasure.
    refused = coordinator.post(f"{case_path}/closure", {"reason": "goals_reached"})
    assert refused.status_code == 422 and "note" in refused.get_json()["error"]["fields"]
    assert coordinator.post(f"{case_path}/erasure", {"confirm": True}).status_code == 422  # still open
    closed = coordinator.post(f"{case_path}/closure", {"reason": "goals_reached", "note": "Plan completed early."})
    assert closed.status_code == 202
    assert coordinator.post(f"{case_path}/erasure", {"confirm": True}).status_code == 422  # not closed before confirmation
    assert partner.post(f"/decisions/{closed.get_json()['decision']['id']}/confirm").status_code == 200
    assert coordinator.get(case_path).get_json()["case"]["status"] == "closed"
    assert coordinator.post(f"{case_path}/erasure", {}).status_code == 422  # not confirmed
    assert coordinator.post(f"{case_path}/erasure", {"confirm": True}).status_code == 204
    assert coordinator.get(case_path).status_code == 404
    assert coordinator.post("/search", {"name": "Élodie Van den Berghe"}).get_json()["hits"] == []
    with app.app_context(), tenant_context(cell.tenant_id):
        assert db.session.scalar(sa.select(sa.func.count(Case.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(Signal.id))) == 0
        assert db.session.scalar(sa.select(ErasureTally.count).where(ErasureTally.record == "case")) == 1


def _organisation_of(app, cell) -> int:
    with app.app_context(), tenant_context(cell.tenant_id):
        return membership(cell.partner).organisation_id


def test_a_partner_outside_the_case_team_cannot_read_it_through_any_door(app, cell):
    case_id, code = open_case(app, cell)
    outsider, coordinator = Api(app, cell.social), Api(app, cell.coordinator)
    assert outsider.get(f"/cases/{case_id}").status_code == 403
    assert outsider.post(f"/cases/{case_id}/identity/reveal").status_code == 403
    assert outsider.post(f"/cases/{case_id}/notes", {"body": "x", "visibility": "team"}).status_code == 403
    assert outsider.get("/cases").get_json()["cases"] == []
    assert outsider.post("/search", {"name": IDENTITY["family_name"]}).status_code == 403
    assert code not in outsider.get("/dashboard").get_data(as_text=True)
    web = outsider.client
    assert web.get(f"/{LEUVEN}/cases/{case_id}").status_code == 403
    assert code not in web.get(f"/{LEUVEN}/cases").get_data(as_text=True)
    assert web.get(f"/{LEUVEN}/search").status_code == 403
    # The coordinator finds the person; every refusal above is in the audit trail.
    assert [hit["reference"] for hit in coordinator.post("/search", {"name": "van den berghe"}).get_json()["hits"]][0] == code
    with app.app_context(), tenant_context(cell.tenant_id):
        denied = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "access.denied")).all()
        assert len(denied) >= 6 and all(entry.actor == f"account:{cell.social.account_id}" for entry in denied)
