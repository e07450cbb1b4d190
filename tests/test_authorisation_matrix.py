"""Every route x every role x (own cell, another cell's member, anonymous), from the URL map.

The expectations are written here, apart from the policy module, as a specification: which
roles may do each action. A route whose view declares no policy (``guard`` or ``public``), or
whose action has no expectation here, fails the test, so a new page cannot slip in unguarded.
Members are given a server-side session directly (the sign-in path has its own tests), and
have accepted the secrecy undertaking, so only the policy decides.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from auth_helpers import add_member, give_session
from conftest import seed_demo_tenants
from livc.admin.operators.models import OperatorRole
from livc.platform.db import db, tenant_context
from livc.platform.policy import Action, OperatorAction
from livc.platform.roles import OrganisationKind, Role
from livc.tenants.cases.ltf_cards import LtfCard, ThreatLevel
from livc.tenants.cases.models import (
    Case,
    CaseTeamMember,
    LtfFeedback,
    Measure,
    NoteVisibility,
    ProgressNote,
    Review,
    ReviewKind,
)
from livc.tenants.cell.models import (
    CellForm,
    CellProfile,
    Participation,
    PartnerInventoryEntry,
    PartnerKind,
    Table,
    TableKind,
    TableSeat,
)
from livc.tenants.decisions.models import DecisionKind, DecisionStatus, Proposal
from livc.tenants.house_rules.models import LegalBasis
from livc.tenants.house_rules.operations import publish_draft, update_draft
from livc.tenants.meetings.models import AgendaItem, Invitee, ItemKind, Meeting, MeetingKind
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.members.operations import accept_undertaking
from livc.tenants.scenarios.models import FollowUpScenario, ScenarioMeasure
from livc.tenants.signals.models import (
    FlagLevel,
    FollowUpKind,
    InternalAssessment,
    Signal,
    SignalChannel,
    TargetGroup,
    Urgency,
)
from livc.tenants.strategy.models import EntryKind, PolicyEntry

OWN, OTHER = "demo-leuven", "demo-herko"
ALL = frozenset(Role)
STRATEGIC = frozenset({Role.MAYOR, Role.COORDINATOR, Role.POLICE_CHIEF, Role.SOCIAL_ALDERMAN, Role.SECRETARY})
EXPECTED_ROLES: dict[Action, frozenset[Role]] = {
    Action.CELL_ENTER: ALL,
    Action.PROFILE_MANAGE: ALL,
    Action.UNDERTAKING_ACCEPT: ALL,
    Action.MEMBERS_VIEW: ALL - {Role.GUEST_EXPERT},
    Action.MEMBERS_MANAGE: frozenset({Role.COORDINATOR}),
    Action.ORGANISATIONS_MANAGE: frozenset({Role.COORDINATOR}),
    Action.SSO_MANAGE: frozenset({Role.COORDINATOR}),
    Action.CELL_STRUCTURE_VIEW: ALL - {Role.GUEST_EXPERT},
    Action.CELL_STRUCTURE_MANAGE: frozenset({Role.COORDINATOR}),
    Action.HOUSE_RULES_VIEW: ALL - {Role.GUEST_EXPERT},
    Action.HOUSE_RULES_MANAGE: frozenset({Role.COORDINATOR}),
    # The world's case has the partner and the information officer in its team; its signal was
    # recorded by the partner. Everyone else at the table is refused (need-to-know).
    Action.CASE_READ: frozenset({Role.COORDINATOR, Role.PARTNER, Role.INFORMATION_OFFICER}),
    Action.CASE_WORK: frozenset({Role.COORDINATOR, Role.PARTNER, Role.INFORMATION_OFFICER}),
    Action.CASE_MANAGE: frozenset({Role.COORDINATOR}),
    Action.CASE_SETTINGS_MANAGE: frozenset({Role.COORDINATOR}),
    Action.SIGNAL_SUBMIT: ALL - {Role.GUEST_EXPERT},
    Action.SIGNAL_READ: frozenset({Role.COORDINATOR, Role.PARTNER}),
    Action.SIGNAL_WEIGH: frozenset({Role.COORDINATOR}),
    Action.PERSON_SEARCH: frozenset({Role.COORDINATOR}),
    Action.POLICE_INFO_READ: frozenset({Role.COORDINATOR, Role.INFORMATION_OFFICER}),
    # Delivering the feedback form to the LTF, printing it, recording the answer: the police member.
    Action.LTF_LIAISON: frozenset({Role.INFORMATION_OFFICER}),
    # The LTF's information cards (seed 004): read by the coordinator and the cleared information
    # officer, recorded by that information officer only.
    Action.LTF_CARD_READ: frozenset({Role.COORDINATOR, Role.INFORMATION_OFFICER}),
    Action.LTF_CARD_RECORD: frozenset({Role.INFORMATION_OFFICER}),
    Action.FEDERATION_MANAGE: frozenset({Role.COORDINATOR}),
    # The thread with another cell: the cleared information officer reaches the pages; the
    # federation lets them in a thread only when both cells agreed (tests/test_federation_cooperation.py).
    Action.FEDERATION_COOPERATE: frozenset({Role.COORDINATOR, Role.INFORMATION_OFFICER}),
    Action.SETUP_MANAGE: frozenset({Role.COORDINATOR}),
    Action.OPERATOR_ACTIONS_VIEW: frozenset({Role.COORDINATOR}),
    # The table decides together; a guest expert invited for one case takes no part.
    Action.DECISIONS_TAKE: ALL - {Role.GUEST_EXPERT},
    # The world's meeting is chaired by the coordinator and its table has no secretary: changing
    # the meeting (session, agenda, register, minutes) is theirs; the others only read it.
    Action.MEETING_ORGANISE: frozenset({Role.COORDINATOR}),
    # The strategic table's policy follow-up: its members by office and the secretary (the world's
    # strategic table seats no member). Reporting on an entry is then its owner's (the view's 403).
    Action.STRATEGY_VIEW: STRATEGIC,
    # The figures: every member of the table, each in their scope (policy.monitoring_scope).
    Action.MONITORING_VIEW: ALL - {Role.GUEST_EXPERT},
    Action.STRATEGY_WORK: STRATEGIC,
    # The record of processing: the coordinator keeps it, the mayor answers for it.
    Action.RECORD_OF_PROCESSING_VIEW: frozenset({Role.COORDINATOR, Role.MAYOR}),
}
# The operator console: support reads and retries jobs, administrators do everything.
BOTH_OPERATOR_ROLES = frozenset(OperatorRole)
EXPECTED_OPERATOR_ROLES: dict[OperatorAction, frozenset[OperatorRole]] = {
    OperatorAction.ACCOUNT: BOTH_OPERATOR_ROLES,
    OperatorAction.HEALTH_VIEW: BOTH_OPERATOR_ROLES,
    OperatorAction.TENANTS_VIEW: BOTH_OPERATOR_ROLES,
    OperatorAction.JOBS_RETRY: BOTH_OPERATOR_ROLES,
    OperatorAction.OUTBOX_VIEW: frozenset({OperatorRole.ADMINISTRATOR}),  # its mails carry sign-in links
    OperatorAction.ONBOARDING_MANAGE: frozenset({OperatorRole.ADMINISTRATOR}),
    OperatorAction.LIFECYCLE_MANAGE: frozenset({OperatorRole.ADMINISTRATOR}),
    OperatorAction.OPERATORS_MANAGE: frozenset({OperatorRole.ADMINISTRATOR}),
    OperatorAction.POLICE_ZONES_VIEW: BOTH_OPERATOR_ROLES,
    OperatorAction.POLICE_ZONES_MANAGE: frozenset({OperatorRole.ADMINISTRATOR}),
    OperatorAction.FEDERATION_BUDGETS_VIEW: BOTH_OPERATOR_ROLES,
    OperatorAction.FEDERATION_RELEASE: frozenset({OperatorRole.ADMINISTRATOR}),
    OperatorAction.PLATFORM_FIGURES_VIEW: frozenset({OperatorRole.ADMINISTRATOR}),
}
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
CSRF_FIELD = re.compile(r'name="csrf_token" value="[^"]*"')


def tenant_routes(app):
    """(rule, method, view) for every route of a cell, HEAD and OPTIONS aside."""
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("tenant."):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, app.view_functions[rule.endpoint]


def fill(rule, ids: dict[str, int]) -> str:
    """The rule's path with the cell's slug and sample values for its other arguments."""
    values = {}
    for name in rule.arguments - {"tenant_slug"}:
        values[name] = ids.get(name, "x" * 43)
    path = rule.rule.replace("<tenant_slug>", "{slug}")
    for name, value in values.items():
        path = re.sub(rf"<(?:\w+:)?{name}>", str(value), path)
    return path


@pytest.fixture
def world(app):
    cells = seed_demo_tenants(app)
    members = {role: add_member(app, cells[OWN], OWN, role) for role in Role}
    stranger = add_member(app, cells[OTHER], OTHER, Role.COORDINATOR)
    # Version 1 of the house rules, published before anyone accepts (it brings a new undertaking);
    # in a request, as the draft's guidance is written in the requester's language.
    with app.test_request_context(), tenant_context(cells[OWN]):
        coordinator = db.session.get(Membership, members[Role.COORDINATOR].membership_id)
        update_draft({"legal_basis": LegalBasis.LAW_2018}, coordinator)
        ids = {"version": publish_draft(coordinator).version}
        db.session.commit()
    with app.app_context():
        for member in [*members.values(), stranger]:
            with tenant_context(member.tenant_id):
                accept_undertaking(db.session.get(Membership, member.membership_id))
        with tenant_context(cells[OWN]):
            target_org = Organisation(name="Target organisation", kind=OrganisationKind.YOUTH_SERVICE)
            db.session.add(target_org)
            db.session.flush()
            ids["organisation_id"] = target_org.id
            db.session.add(CellProfile(form=CellForm.STRATEGIC_OPERATIONAL))
            target_table = Table(kind=TableKind.STRATEGIC, name="Target table")
            target_partner = PartnerInventoryEntry(organisation_name="Target partner", kind=PartnerKind.CAW,
                                                   participation=Participation.THINKS_ALONG)
            db.session.add_all([target_table, target_partner])
            db.session.flush()
            target_seat = TableSeat(table_id=target_table.id, participant_kind=PartnerKind.OTHER,
                                    participant_organisation="Target service")
            db.session.add(target_seat)
            db.session.flush()
            ids.update(table_id=target_table.id, seat_id=target_seat.id, partner_id=target_partner.id)
            ids.update(_case_world(members))
            ids.update(_meeting_world(members, target_table.id, ids["case_id"]))
            ids.update(_policy_world(members))
            ids.update(_scenario_world())
        db.session.commit()
    target = add_member(app, cells[OWN], OWN, Role.SECRETARY, "target@example.test")
    ids["membership_id"] = target.membership_id
    return {"cells": cells, "members": members, "stranger": stranger, "ids": ids}


def _case_world(members) -> dict[str, int]:
    """A signal recorded by the partner and a case whose team is the partner and the
    information officer, with a measure, an open review and a feedback form in preparation."""
    signal = Signal(reference="S-2026-900", channel=SignalChannel.FORM, recorded_by_id=members[Role.PARTNER].membership_id,
                    internal_assessment=InternalAssessment.DONE, urgency=Urgency.NORMAL, observation_ciphertext="")
    case = Case(code="LEU-2026-900", target_group=TargetGroup.OTHER_EXTREMISM, follow_up_kind=FollowUpKind.SOCIAL,
                flag=FlagLevel.RED, next_review_on=date.today() + timedelta(days=30))
    db.session.add_all([signal, case])
    db.session.flush()
    signal.observation = "Target observation"
    team = [CaseTeamMember(case_id=case.id, membership_id=members[role].membership_id)
            for role in (Role.PARTNER, Role.INFORMATION_OFFICER)]
    measure = Measure(case_id=case.id, organisation_id=db.session.get(Membership, members[Role.PARTNER].membership_id).organisation_id,
                      description_ciphertext="")
    review = Review(case_id=case.id, kind=ReviewKind.FOLLOW_UP, due_on=case.next_review_on)
    feedback = LtfFeedback(case_id=case.id)
    note = ProgressNote(case_id=case.id, visibility=NoteVisibility.TEAM, body_ciphertext="")
    card = LtfCard(case_id=case.id, card_date=date.today(), reference="LTF-900", threat_level=ThreatLevel.LEVEL_2,
                   erase_after=date.today() + timedelta(days=365), summary_ciphertext="")
    db.session.add_all([*team, measure, review, feedback, note, card])
    db.session.flush()
    measure.description, note.body, card.summary = "Target measure", "Target note", "Target card"
    # A withdrawn proposal: its pages answer every member of the table, and no request changes it.
    decision = Proposal(kind=DecisionKind.WEIGHING, subject_type="signal", subject_id=signal.id,
                        subject_code=signal.reference, status=DecisionStatus.WITHDRAWN,
                        proposed_by_id=members[Role.COORDINATOR].membership_id, payload_ciphertext="")
    db.session.add(decision)
    db.session.flush()
    decision.payload = {"decision": "insufficient", "flag": "green", "rationale": "Target rationale"}
    db.session.flush()
    return {"signal_id": signal.id, "case_id": case.id, "team_member_id": team[0].id, "measure_id": measure.id,
            "review_id": review.id, "feedback_id": feedback.id, "note_id": note.id, "decision_id": decision.id,
            "card_id": card.id}


def _meeting_world(members, table_id: int, case_id: int) -> dict[str, int]:
    """A planned meeting of the target table, chaired by the coordinator, every member of the table
    invited (the guest expert for its one point), the world's case on its agenda: its pages answer those who may see it, and a change
    by anyone but its organisers is refused (403)."""
    starts = date.today() + timedelta(days=60)
    meeting = Meeting(table_id=table_id, kind=MeetingKind.REGULAR, place="Target room",
                      starts_at=datetime.combine(starts, datetime.min.time()).replace(hour=14),
                      ends_at=datetime.combine(starts, datetime.min.time()).replace(hour=16),
                      chair_id=members[Role.COORDINATOR].membership_id)
    db.session.add(meeting)
    db.session.flush()
    item = AgendaItem(meeting_id=meeting.id, kind=ItemKind.OTHER, title="Target point", case_id=case_id,
                      reference="LEU-2026-900")
    db.session.add(item)
    db.session.add_all([Invitee(meeting_id=meeting.id, membership_id=member.membership_id)
                        for role, member in members.items() if role != Role.GUEST_EXPERT])
    # The guest expert is invited for the target point only: they see the meeting, never organise it.
    db.session.add(Invitee(meeting_id=meeting.id, membership_id=members[Role.GUEST_EXPERT].membership_id, item_id=item.id))
    db.session.flush()
    return {"meeting_id": meeting.id, "item_id": item.id}


def _scenario_world() -> dict[str, int]:
    """A follow-up scenario of the cell (the coordinator keeps them)."""
    scenario = FollowUpScenario(name="Target scenario", target_group=TargetGroup.FTF, measures=[
        ScenarioMeasure(description="Target typical measure", category="guidance", organisation_kind="caw", period_days=30)])
    db.session.add(scenario)
    db.session.flush()
    return {"scenario_id": scenario.id}


def _policy_world(members) -> dict[str, int]:
    """A recorded entry of the policy follow-up, owned by the coordinator."""
    entry = PolicyEntry(kind=EntryKind.PRIORITY, title="Target priority", decided_on=date.today(), year=date.today().year,
                        owner_membership_id=members[Role.COORDINATOR].membership_id, recorded_at=datetime.now())
    db.session.add(entry)
    db.session.flush()
    return {"entry_id": entry.id}


def request_as(app, client, method: str, path: str):
    headers = {"Accept": "text/html"}
    if method in UNSAFE:
        headers["X-CSRFToken"] = client.get(f"/{OWN}/api/session").get_json()["csrf_token"]
    return client.open(path, method=method, headers=headers, json={} if "/api/" in path and method in UNSAFE else None)


def sent_to_sign_in(response, slug: str) -> bool:
    if response.status_code == 401:
        return True
    return response.status_code == 302 and response.headers["Location"].startswith(f"/{slug}/sign-in")


def test_every_route_declares_a_policy_with_a_written_expectation(app):
    undeclared, unexpected = [], []
    platform_routes = [
        (rule, None, app.view_functions[rule.endpoint])
        for rule in app.url_map.iter_rules()
        if not rule.endpoint.startswith("tenant.") and rule.endpoint != "static"  # Flask's own files
    ]
    assert platform_routes, "the platform's own pages are checked too"
    for rule, _method, view in [*tenant_routes(app), *platform_routes]:
        access = getattr(view, "access", None)
        if access is None:
            undeclared.append(rule.rule)
        elif access.action is not None and access.action not in EXPECTED_ROLES | EXPECTED_OPERATOR_ROLES:
            unexpected.append(f"{rule.rule} ({access.action})")
    assert undeclared == [], "routes without guard() or public"
    assert unexpected == [], "actions without an expectation in EXPECTED_ROLES"


def test_the_authorisation_matrix(app, world):
    failures = []
    for rule, method, view in tenant_routes(app):
        action = view.access.action
        path = fill(rule, world["ids"]).format(slug=OWN)
        label = f"{method} {rule.rule}"

        anonymous = request_as(app, app.test_client(), method, path)
        if action is None:
            # (the second sign-in steps send a visitor without a first step back to it: fine;
            # a single sign-on callback without a flow under way is refused with 401 by design,
            # or 429 once the credential rate limit counted this test's earlier requests)
            if rule.endpoint == "tenant.sso_callback" and anonymous.status_code in (401, 429):
                continue
            if anonymous.status_code in (401, 403):
                failures.append(f"{label}: public, but anonymous got {anonymous.status_code}")
            continue
        if not sent_to_sign_in(anonymous, OWN):
            failures.append(f"{label}: anonymous got {anonymous.status_code}")

        stranger = app.test_client()
        give_session(app, stranger, world["stranger"])
        outsider = request_as(app, stranger, method, path)
        if not sent_to_sign_in(outsider, OWN):
            failures.append(f"{label}: another cell's coordinator got {outsider.status_code}")

        for role, member in world["members"].items():
            client = app.test_client()
            give_session(app, client, member)
            response = request_as(app, client, method, path)
            allowed = role in EXPECTED_ROLES[action]
            refused = response.status_code == 403 or sent_to_sign_in(response, OWN)
            if allowed and refused:
                failures.append(f"{label}: {role} should pass, got {response.status_code}")
            if not allowed and response.status_code != 403:
                failures.append(f"{label}: {role} should get 403, got {response.status_code}")
    assert failures == []


def test_refusals_are_audited(app, world):
    from livc.platform.audit import AuditEntry

    client = app.test_client()
    give_session(app, client, world["members"][Role.PARTNER])
    assert client.get(f"/{OWN}/sso").status_code == 403
    with app.app_context(), tenant_context(world["cells"][OWN]):
        entry = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert entry.action == "access.denied"
        assert entry.details["action"] == "sso.manage" and entry.actor == f"account:{world['members'][Role.PARTNER].account_id}"


def test_another_cells_ids_look_exactly_like_ids_that_do_not_exist(app, world):
    """A coordinator probing ids of another cell learns nothing: same status, same page."""
    with app.app_context(), tenant_context(world["cells"][OTHER]):
        foreign = {
            "membership_id": world["stranger"].membership_id,
            "organisation_id": db.session.scalar(sa.select(Organisation.id)),
        }
    missing = {"membership_id": 987654, "organisation_id": 987654}
    client = app.test_client()
    give_session(app, client, world["members"][Role.COORDINATOR])
    probed = 0
    for rule, method, _view in tenant_routes(app):
        if method != "GET" or not rule.arguments & set(foreign):
            continue
        probed += 1
        paths = [fill(rule, ids).format(slug=OWN) for ids in (foreign, missing)]
        answers = [client.get(path) for path in paths]
        assert [a.status_code for a in answers] == [404, 404], rule.rule
        # The page names its own address (language links) and request id; all else is equal.
        # (and the sign-out form's CSRF token, which carries a timestamp).
        bodies = [CSRF_FIELD.sub("", a.get_data(as_text=True).replace(a.headers["X-Request-ID"], "").replace(path, ""))
                  for a, path in zip(answers, paths, strict=True)]
        assert bodies[0] == bodies[1], rule.rule
    assert probed > 0 or not any(rule.arguments & set(foreign) for rule, *_ in tenant_routes(app))


def admin_routes(app):
    """(rule, method, view) for every route of the operator console, HEAD and OPTIONS aside."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, app.view_functions[rule.endpoint]


def test_the_operator_console_matrix(app, world):
    """Every console route x each operator role, a cell's coordinator, anonymous: cell members
    get nothing on /admin (sent to the console's sign-in like anyone), operators only what
    their role allows. The development outbox is switched on so its routes answer too."""
    from admin_helpers import add_operator, give_operator_session

    app.config["LIVC_OUTBOX_PAGE"] = True
    operators = {role: add_operator(app, role) for role in OperatorRole}
    target = add_operator(app, OperatorRole.SUPPORT, "target@operators.example.test")
    with app.app_context():  # a zone of the directory, so that its pages answer
        from livc.admin.police_zones.operations import set_zone

        set_zone({"code": "5388", "name": "Test zone", "nis_codes": ["24038", "24055"]}, actor="cli")
        db.session.commit()
    ids = {"slug": OWN, "operator_id": target.id, "name": "20260101T000000000000.eml",
           "token": "x" * 43, "code": "5388"}
    failures = []
    for rule, method, view in admin_routes(app):
        action = view.access.action
        path = fill(rule, ids)
        label = f"{method} {rule.rule}"
        headers = {"Accept": "text/html"}
        body = {} if "/api/" in path and method in UNSAFE else None

        def ask(client):
            if method in UNSAFE:  # the session API for an operator, the sign-in form for anyone else
                session = client.get("/admin/api/session")
                headers["X-CSRFToken"] = session.get_json()["csrf_token"] if session.status_code == 200 else re.search(
                    r'name="csrf_token" value="([^"]+)"', client.get("/admin/sign-in").get_data(as_text=True)).group(1)
            return client.open(path, method=method, headers=headers, json=body)

        def sent_to_console_sign_in(response):
            return response.status_code == 401 or (
                response.status_code == 302 and response.headers["Location"].startswith("/admin/sign-in"))

        anonymous = ask(app.test_client())
        if action is None:
            if anonymous.status_code in (401, 403):
                failures.append(f"{label}: public, but anonymous got {anonymous.status_code}")
            continue
        if not sent_to_console_sign_in(anonymous):
            failures.append(f"{label}: anonymous got {anonymous.status_code}")
        member = app.test_client()
        give_session(app, member, world["members"][Role.COORDINATOR])
        if not sent_to_console_sign_in(ask(member)):
            failures.append(f"{label}: a cell's coordinator was not sent to the console's sign-in")
        for role, operator in operators.items():
            client = app.test_client()
            give_operator_session(app, client, operator)
            response = ask(client)
            allowed = role in EXPECTED_OPERATOR_ROLES[action]
            if allowed and (response.status_code == 403 or sent_to_console_sign_in(response)):
                failures.append(f"{label}: {role} should pass, got {response.status_code}")
            if not allowed and response.status_code != 403:
                failures.append(f"{label}: {role} should get 403, got {response.status_code}")
    assert failures == [], "\n".join(failures)


def test_operators_get_nothing_in_a_cell(app, world):
    """An operator's session opens no cell page: every guarded cell route sends them to the
    cell's sign-in, like a stranger."""
    from admin_helpers import add_operator, give_operator_session

    client = app.test_client()
    give_operator_session(app, client, add_operator(app, OperatorRole.ADMINISTRATOR))
    for rule, method, view in tenant_routes(app):
        if view.access.action is None or method != "GET":
            continue
        response = client.get(fill(rule, world["ids"]).format(slug=OWN), headers={"Accept": "text/html"})
        assert sent_to_sign_in(response, OWN), rule.rule
