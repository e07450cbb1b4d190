"""Member management in a cell: invitations, role changes, ending seats, organisations, the API.

Runs on SQLite and PostgreSQL. Members are made by ``auth_helpers.add_member`` and sign in
through the real pages; the coordinator works through the same pages and API a person uses.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date, timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from auth_helpers import PASSWORD, add_member, csrf_token, post_form, sign_in
from livc.platform.accounts import Account
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.sessions import AuthSession
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Invitation, Membership, MembershipStatus, Organisation

LEUVEN, HERKO = "demo-leuven", "demo-herko"
EN = {"Accept-Language": "en"}
SECRETS = ("password_hash", "totp_secret", "token", "token_digest", "code_digest")


# --- helpers --------------------------------------------------------------------------------


def text(response) -> str:
    return response.get_data(as_text=True)


def audit_entries(app, tenant_id: int, action: str | None = None) -> list[AuditEntry]:
    with app.app_context(), tenant_context(tenant_id):
        query = sa.select(AuditEntry).order_by(AuditEntry.seq)
        if action:
            query = query.where(AuditEntry.action == action)
        entries = db.session.scalars(query).all()
        db.session.expunge_all()
        db.session.remove()
    return entries


def outbox(app) -> list[str]:
    """The mails written to the development outbox, decoded: recipient, subject and body."""
    folder = app.extensions["livc.settings"].data_dir / "mail"
    mails = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        mails.append(f"To: {message['To']}\nSubject: {message['Subject']}\n\n{message.get_content()}")
    return mails


def organisation_id(app, tenant_id: int, name: str) -> int:
    with app.app_context(), tenant_context(tenant_id):
        found = db.session.scalar(sa.select(Organisation.id).where(Organisation.name == name))
        db.session.remove()
    return found


def add_organisation(app, tenant_id: int, name: str, kind: str) -> int:
    from livc.platform.roles import OrganisationKind

    with app.app_context(), tenant_context(tenant_id):
        organisation = Organisation(name=name, kind=OrganisationKind(kind))
        db.session.add(organisation)
        db.session.commit()
        found = organisation.id
        db.session.remove()
    return found


def membership(app, tenant_id: int, membership_id: int) -> Membership:
    with app.app_context(), tenant_context(tenant_id):
        found = db.session.get(Membership, membership_id)
        db.session.expunge_all()
        db.session.remove()
    return found


def counts(app, tenant_id: int) -> tuple[int, int, int]:
    """Accounts, memberships and invitations: to show a refused request saved nothing."""
    with app.app_context(), tenant_context(tenant_id):
        result = tuple(
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Account, Membership, Invitation)
        )
        db.session.remove()
    return result


def session_token(client) -> str:
    with client.session_transaction() as flask_session:
        return flask_session["auth"][LEUVEN]


def api_headers(client) -> dict:
    """What a script using the API sends: JSON, and the CSRF token of the signed-in session."""
    return {"X-CSRFToken": csrf_token(client, f"/{LEUVEN}/profile"), **EN}


def invite_form(org_id: int, **overrides) -> dict:
    data = {"email": "nina.nieuw@example.test", "display_name": "Nina Nieuw", "role": "partner", "organisation_id": str(org_id)}
    data.update(overrides)
    return data


def comparable(response, path: str) -> str:
    """The body without what differs by nature: the request id, the address asked for (the
    language switch links back to it) and the sign-out form's CSRF token (it carries a time)."""
    body = text(response).replace(response.headers["X-Request-ID"], "")
    body = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', body)
    return body.replace(path, "PATH").replace(quote(path, safe=""), "PATH")


# --- invitations ----------------------------------------------------------------------------


def test_the_coordinator_invites_a_partner_who_accepts_and_is_asked_for_an_authenticator(app, cells, coordinator, coordinator_client):
    client = coordinator_client
    added = post_form(client, f"/{LEUVEN}/organisations", {"name": "CAW Oost-Brabant", "kind": "caw"})
    assert added.status_code == 302
    org = organisation_id(app, cells[LEUVEN], "CAW Oost-Brabant")

    response = post_form(client, f"/{LEUVEN}/members/invite", invite_form(org), headers=EN)
    assert response.status_code == 302 and response.headers["Location"] == f"/{LEUVEN}/members"

    mails = outbox(app)
    assert len(mails) == 1
    mail = mails[0]
    assert "To: nina.nieuw@example.test" in mail
    links = re.findall(r"https?://\S+", mail)
    assert len(links) == 1 and re.fullmatch(rf"http://localhost/{LEUVEN}/invitation/[A-Za-z0-9_-]+", links[0])
    # Nothing but the invitation itself.
    for other in (coordinator.email, "Nina Nieuw", "CAW Oost-Brabant", PASSWORD):
        assert other not in mail

    listing = text(client.get(f"/{LEUVEN}/members", headers=EN))
    assert "Nina Nieuw" in listing and "Invited" in listing

    invitee = app.test_client()
    path = links[0].removeprefix("http://localhost")
    assert invitee.get(path).status_code == 200
    accepted = post_form(invitee, path, {"display_name": "Nina Nieuw", "password": PASSWORD, "password_repeat": PASSWORD})
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/sign-in/authenticator")
    assert invitee.get(accepted.headers["Location"]).status_code == 200

    reused = app.test_client().get(path, headers=EN)
    assert reused.status_code == 410 and "no longer valid" in text(reused)

    invited = audit_entries(app, cells[LEUVEN], "member.invited")
    assert len(invited) == 1 and invited[0].details["role"] == "partner"
    assert invited[0].details["language"] == "nl"  # the cell's first working language
    assert "nina" not in str(invited[0].details).lower()  # ids and roles only, never people
    assert audit_entries(app, cells[LEUVEN], "member.joined")


def test_an_expired_invitation_link_is_refused_and_a_resent_link_replaces_the_old_one(app, cells, coordinator_client):
    client = coordinator_client
    org = organisation_id(app, cells[LEUVEN], "Test municipal_service")
    post_form(client, f"/{LEUVEN}/members/invite", invite_form(org))
    with app.app_context(), tenant_context(cells[LEUVEN]):
        invitation = db.session.scalar(sa.select(Invitation))
        membership_id = invitation.membership_id
        invitation.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()
    first = re.search(r"http://localhost(\S+)", outbox(app)[0]).group(1)
    assert app.test_client().get(first).status_code == 410

    resent = post_form(client, f"/{LEUVEN}/members/{membership_id}/resend", {"language": "en"},
                       form_path=f"/{LEUVEN}/members/{membership_id}")
    assert resent.status_code == 302
    mails = outbox(app)
    assert len(mails) == 2
    second = re.search(r"http://localhost(\S+)", mails[1]).group(1)
    assert second != first and app.test_client().get(second).status_code == 200
    assert audit_entries(app, cells[LEUVEN], "member.invitation_resent")[-1].details == {"language": "en"}


def test_a_person_with_a_seat_cannot_be_invited_twice_but_an_ended_seat_can_be_given_back(app, cells, coordinator_client, partner):
    org = organisation_id(app, cells[LEUVEN], "Test clb")
    again = post_form(coordinator_client, f"/{LEUVEN}/members/invite", invite_form(org, email=partner.email.upper()), headers=EN)
    assert again.status_code == 422
    assert "already a member of the cell or has an open invitation" in text(again)

    ended = post_form(coordinator_client, f"/{LEUVEN}/members/{partner.membership_id}/end", {"confirm": "yes"})
    assert ended.status_code == 302
    back = post_form(coordinator_client, f"/{LEUVEN}/members/invite", invite_form(org, email=partner.email, role="secretary"))
    assert back.status_code == 302
    seat = membership(app, cells[LEUVEN], partner.membership_id)
    assert seat.status == MembershipStatus.INVITED and seat.role == Role.SECRETARY and seat.ended_at is None
    assert audit_entries(app, cells[LEUVEN], "member.invited")[-1].details["returning"] is True


def test_a_person_known_in_another_cell_keeps_one_account_and_their_own_name(app, cells, coordinator_client):
    elsewhere = add_member(app, cells[HERKO], HERKO, Role.PARTNER)
    org = organisation_id(app, cells[LEUVEN], "Test municipal_service")
    response = post_form(coordinator_client, f"/{LEUVEN}/members/invite",
                         invite_form(org, email=elsewhere.email, display_name="Another Name"))
    assert response.status_code == 302
    with app.app_context(), tenant_context(cells[LEUVEN]):
        seat = db.session.scalar(sa.select(Membership).where(Membership.account_id == elsewhere.account_id))
        assert seat is not None and seat.status == MembershipStatus.INVITED
        assert seat.account.display_name == "Test partner"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)
                                 .where(Account.email == elsewhere.email)) == 1
        db.session.remove()
    # Their seat in the other cell is untouched.
    assert membership(app, cells[HERKO], elsewhere.membership_id).status == MembershipStatus.ACTIVE


# --- role changes and ending a seat ---------------------------------------------------------


def test_changing_a_role_rotates_the_members_session_and_is_audited(app, cells, coordinator_client, partner):
    member_client = app.test_client()
    sign_in(member_client, partner)
    before = session_token(member_client)
    stolen = member_client.get_cookie("livc_session").value

    org = organisation_id(app, cells[LEUVEN], "Test clb")
    changed = post_form(coordinator_client, f"/{LEUVEN}/members/{partner.membership_id}",
                        {"role": "secretary", "organisation_id": str(org)})
    assert changed.status_code == 302

    assert member_client.get(f"/{LEUVEN}/home").status_code == 200
    assert session_token(member_client) != before
    thief = app.test_client()
    thief.set_cookie("livc_session", stolen, domain="localhost")
    assert thief.get(f"/{LEUVEN}/home").status_code == 302  # the old identifier is gone

    entry = audit_entries(app, cells[LEUVEN], "member.role_changed")[-1]
    assert entry.subject == f"membership:{partner.membership_id}"
    assert entry.details == {"old_role": "partner", "new_role": "secretary"}
    assert membership(app, cells[LEUVEN], partner.membership_id).privilege_version == 2


def test_ending_a_membership_ends_that_persons_sessions(app, cells, coordinator_client, partner):
    member_client = app.test_client()
    sign_in(member_client, partner)
    assert member_client.get(f"/{LEUVEN}/home").status_code == 200

    path = f"/{LEUVEN}/members/{partner.membership_id}/end"
    unconfirmed = post_form(coordinator_client, path, {}, headers=EN)
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in text(unconfirmed)
    assert post_form(coordinator_client, path, {"confirm": "yes"}).status_code == 302

    response = member_client.get(f"/{LEUVEN}/home")
    assert response.status_code == 302 and response.headers["Location"].startswith(f"/{LEUVEN}/sign-in")
    with app.app_context(), tenant_context(cells[LEUVEN]):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuthSession)
                                 .where(AuthSession.account_id == partner.account_id)) == 0
        db.session.remove()
    seat = membership(app, cells[LEUVEN], partner.membership_id)
    assert seat.status == MembershipStatus.ENDED and seat.ended_at is not None
    entry = audit_entries(app, cells[LEUVEN], "member.removed")[-1]
    assert entry.details == {"role": "partner", "sessions_ended": 1, "own": False}
    # They cannot sign in again either.
    assert post_form(app.test_client(), f"/{LEUVEN}/sign-in", {"email": partner.email, "password": PASSWORD}).status_code == 401


def test_the_last_coordinator_can_neither_be_removed_nor_step_down(app, cells, coordinator, coordinator_client):
    own = f"/{LEUVEN}/members/{coordinator.membership_id}"
    removed = post_form(coordinator_client, f"{own}/end", {"confirm": "yes"}, headers=EN)
    assert removed.status_code == 422 and "at least one active coordinator" in text(removed)
    org = organisation_id(app, cells[LEUVEN], "Test municipal_service")
    demoted = post_form(coordinator_client, own, {"role": "partner", "organisation_id": str(org)}, headers=EN)
    assert demoted.status_code == 422 and "at least one active coordinator" in text(demoted)
    assert membership(app, cells[LEUVEN], coordinator.membership_id).status == MembershipStatus.ACTIVE

    # With a second coordinator, one may leave: their own session ends with it.
    add_member(app, cells[LEUVEN], LEUVEN, Role.COORDINATOR, "second.coordinator@example.test")
    assert post_form(coordinator_client, f"{own}/end", {"confirm": "yes"}).status_code == 302
    assert coordinator_client.get(f"/{LEUVEN}/members").status_code == 302
    assert audit_entries(app, cells[LEUVEN], "member.removed")[-1].details["own"] is True


# --- who may do what ------------------------------------------------------------------------


def test_a_partner_sees_the_members_but_is_refused_every_management_page_and_the_refusal_is_audited(app, cells, coordinator, partner):
    client = app.test_client()
    sign_in(client, partner)
    listing = client.get(f"/{LEUVEN}/members", headers=EN)
    assert listing.status_code == 200
    assert "Test coordinator" in text(listing)
    assert "Invite a member" not in text(listing) and coordinator.email not in text(listing)

    for path in ("/members/invite", f"/members/{coordinator.membership_id}", f"/members/{coordinator.membership_id}/end", "/organisations"):
        assert client.get(f"/{LEUVEN}{path}").status_code == 403, path
    token = csrf_token(client, f"/{LEUVEN}/profile")
    refused = client.post(f"/{LEUVEN}/api/members", json={"email": "x@example.test"}, headers={"X-CSRFToken": token})
    assert refused.status_code == 403 and refused.get_json()["error"]["status"] == 403

    denied = audit_entries(app, cells[LEUVEN], "access.denied")
    assert len(denied) == 5
    assert {entry.details["action"] for entry in denied} == {"members.manage", "organisations.manage"}
    assert f"membership:{coordinator.membership_id}" in {entry.subject for entry in denied}
    # The API shows the table without e-mail addresses to those who do not manage it.
    members = client.get(f"/{LEUVEN}/api/members").get_json()["members"]
    assert members and all("email" not in member for member in members)


def test_a_guest_expert_cannot_see_the_member_list(app, cells, coordinator):
    guest = add_member(app, cells[LEUVEN], LEUVEN, Role.GUEST_EXPERT)
    client = app.test_client()
    sign_in(client, guest)
    assert client.get(f"/{LEUVEN}/members").status_code == 403
    assert client.get(f"/{LEUVEN}/api/members").status_code == 403
    assert client.get(f"/{LEUVEN}/api/members/{coordinator.membership_id}").status_code == 403
    assert client.get(f"/{LEUVEN}/api/me").get_json()["me"]["role"] == "guest_expert"
    assert audit_entries(app, cells[LEUVEN], "access.denied")[-1].details["reason"].startswith("guest experts")


def test_another_cells_ids_answer_exactly_like_ids_that_do_not_exist(app, cells, coordinator_client):
    stranger = add_member(app, cells[HERKO], HERKO, Role.PARTNER)
    herko_org = organisation_id(app, cells[HERKO], "Test clb")
    missing = 987654
    for template in ("/members/{}", "/members/{}/end", "/api/members/{}", "/organisations/{}"):
        foreign_id = herko_org if "organisations" in template else stranger.membership_id
        foreign_path, absent_path = (f"/{LEUVEN}{template.format(number)}" for number in (foreign_id, missing))
        foreign = coordinator_client.get(foreign_path, headers=EN)
        absent = coordinator_client.get(absent_path, headers=EN)
        assert foreign.status_code == absent.status_code == 404, template
        assert comparable(foreign, foreign_path) == comparable(absent, absent_path)
    headers = api_headers(coordinator_client)
    for method in ("patch", "delete"):
        foreign_path, absent_path = (f"/{LEUVEN}/api/members/{number}" for number in (stranger.membership_id, missing))
        foreign = getattr(coordinator_client, method)(foreign_path, json={}, headers=headers)
        absent = getattr(coordinator_client, method)(absent_path, json={}, headers=headers)
        assert foreign.status_code == absent.status_code == 404
        assert comparable(foreign, foreign_path) == comparable(absent, absent_path)
    assert membership(app, cells[HERKO], stranger.membership_id).status == MembershipStatus.ACTIVE


def test_an_organisation_of_another_cell_cannot_be_given_to_a_member(app, cells, coordinator_client):
    add_member(app, cells[HERKO], HERKO, Role.PARTNER)
    herko_org = organisation_id(app, cells[HERKO], "Test clb")
    response = post_form(coordinator_client, f"/{LEUVEN}/members/invite", invite_form(herko_org), headers=EN)
    assert response.status_code == 422 and "Choose an organisation of the cell." in text(response)


# --- bad input ------------------------------------------------------------------------------


def test_bad_fields_get_field_messages_keep_what_was_typed_and_save_nothing(app, cells, coordinator_client):
    org = organisation_id(app, cells[LEUVEN], "Test municipal_service")
    before = counts(app, cells[LEUVEN])
    long_name = "Nina " + "n" * 130
    response = post_form(coordinator_client, f"/{LEUVEN}/members/invite",
                         invite_form(org, email="not-an-address", display_name=long_name, role="emperor"), headers=EN)
    assert response.status_code == 422
    page = text(response)
    assert "Enter a valid e-mail address." in page
    assert "At most 120 characters." in page
    assert "Choose one of the roles." in page
    assert 'value="not-an-address"' in page and f'value="{long_name}"' in page
    assert counts(app, cells[LEUVEN]) == before and outbox(app) == []


@pytest.mark.parametrize("fields, field, message", [
    ({"role": "information_officer"}, "organisation_id", "choose a police organisation"),
    ({"clearance_expires_on": "2030-01-01"}, "clearance_expires_on", "for the information officer only"),
    ({"role": "guest_expert"}, "expires_on", "give the last day"),
    ({"role": "guest_expert", "expires_on": (date.today() + timedelta(days=400)).isoformat()}, "expires_on", "at most one year"),
    ({"expires_on": (date.today() + timedelta(days=10)).isoformat()}, "expires_on", "Only guest experts"),
    ({"expires_on": "tomorrow"}, "expires_on", "Enter a date as YYYY-MM-DD."),
], ids=["officer-not-police", "clearance-not-officer", "guest-without-end", "guest-too-long", "end-not-guest", "bad-date"])
def test_the_rules_of_a_seat_are_answered_field_by_field(app, cells, coordinator_client, fields, field, message):
    org = organisation_id(app, cells[LEUVEN], "Test municipal_service")
    before = counts(app, cells[LEUVEN])
    response = post_form(coordinator_client, f"/{LEUVEN}/members/invite", invite_form(org, **fields), headers=EN)
    assert response.status_code == 422
    assert re.search(rf'id="e-{field}">(?:<span class="govuk-visually-hidden">[^<]*</span>\s*)?[^<]*{re.escape(message)}', text(response)), text(response)
    assert counts(app, cells[LEUVEN]) == before


def test_an_information_officer_may_be_invited_without_a_clearance_which_then_shows_as_not_valid(app, cells, coordinator_client):
    police = add_organisation(app, cells[LEUVEN], "Politiezone Leuven", "police")
    response = post_form(coordinator_client, f"/{LEUVEN}/members/invite",
                         invite_form(police, email="ines@example.test", display_name="Ines", role="information_officer"))
    assert response.status_code == 302
    assert "no valid clearance" in text(coordinator_client.get(f"/{LEUVEN}/members", headers=EN))


def test_a_post_without_csrf_token_is_refused_and_changes_nothing(app, cells, coordinator_client, partner):
    org = organisation_id(app, cells[LEUVEN], "Test municipal_service")
    before = counts(app, cells[LEUVEN])
    form = coordinator_client.post(f"/{LEUVEN}/members/invite", data=invite_form(org), headers=EN)
    assert form.status_code == 400 and "did not come from this site" in text(form)
    api = coordinator_client.post(f"/{LEUVEN}/api/members", json={"email": "x@example.test", "role": "partner",
                                                                  "organisation_id": org})
    assert api.status_code == 400 and api.get_json()["error"]["status"] == 400
    ended = coordinator_client.delete(f"/{LEUVEN}/api/members/{partner.membership_id}")
    assert ended.status_code == 400
    assert counts(app, cells[LEUVEN]) == before and outbox(app) == []
    assert membership(app, cells[LEUVEN], partner.membership_id).status == MembershipStatus.ACTIVE
    assert len(audit_entries(app, cells[LEUVEN], "access.csrf_refused")) == 3


# --- organisations --------------------------------------------------------------------------


def test_organisations_are_added_and_renamed_with_unique_names(app, cells, coordinator_client):
    client = coordinator_client
    assert post_form(client, f"/{LEUVEN}/organisations", {"name": "  CLB   Leuven ", "kind": "clb"}).status_code == 302
    org = organisation_id(app, cells[LEUVEN], "CLB Leuven")
    assert org is not None

    twice = post_form(client, f"/{LEUVEN}/organisations", {"name": "clb leuven", "kind": "school"}, headers=EN)
    assert twice.status_code == 422 and "already has an organisation with this name" in text(twice)
    bad = post_form(client, f"/{LEUVEN}/organisations", {"name": "x" * 121, "kind": "bakery"}, headers=EN)
    assert bad.status_code == 422
    assert "Between 1 and 120 characters." in text(bad) and "Choose one of the kinds of organisation." in text(bad)
    assert 'value="' + "x" * 121 + '"' in text(bad)

    path = f"/{LEUVEN}/organisations/{org}"
    assert post_form(client, path, {"name": "CLB GO! Leuven"}).status_code == 302
    assert "CLB GO! Leuven" in text(client.get(f"/{LEUVEN}/organisations"))
    actions = [entry.action for entry in audit_entries(app, cells[LEUVEN])]
    assert "organisation.created" in actions and "organisation.renamed" in actions


# --- the JSON API ---------------------------------------------------------------------------


def test_the_api_needs_a_signed_in_member(app, cells):
    response = app.test_client().get(f"/{LEUVEN}/api/members")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "sign_in_required"
    assert app.test_client().get(f"/{LEUVEN}/api/me").status_code == 401


def test_the_api_lists_invites_changes_and_ends_members_without_secrets(app, cells, coordinator, coordinator_client, partner):
    client = coordinator_client
    headers = api_headers(client)
    listing = client.get(f"/{LEUVEN}/api/members")
    assert listing.status_code == 200
    body = text(listing)
    assert not any(secret in body for secret in SECRETS)
    emails = {member["email"] for member in listing.get_json()["members"]}
    assert emails == {coordinator.email, partner.email}

    org = client.post(f"/{LEUVEN}/api/organisations", json={"name": "OCMW Leuven", "kind": "ocmw"}, headers=headers)
    assert org.status_code == 201
    org_id = org.get_json()["organisation"]["id"]
    invited = client.post(f"/{LEUVEN}/api/members", headers=headers, json={
        "email": "Omar.OCMW@example.test", "display_name": "Omar", "role": "partner", "organisation_id": org_id, "language": "en"})
    assert invited.status_code == 201, text(invited)
    member = invited.get_json()["member"]
    assert member["email"] == "omar.ocmw@example.test" and member["status"] == "invited"
    assert member["organisation"] == {
        "id": org_id, "name": "OCMW Leuven", "kind": "ocmw", "kind_label": "Public social welfare centre (OCMW)",
    }
    assert invited.headers["Location"] == f"/{LEUVEN}/api/members/{member['id']}"
    assert not any(secret in text(invited) for secret in SECRETS)
    assert len(outbox(app)) == 1 and "To: omar.ocmw@example.test" in outbox(app)[0]

    expert_day = (date.today() + timedelta(days=30)).isoformat()
    changed = client.patch(f"/{LEUVEN}/api/members/{partner.membership_id}", headers=headers,
                           json={"role": "guest_expert", "expires_on": expert_day})
    assert changed.status_code == 200, text(changed)
    assert changed.get_json()["member"]["role"] == "guest_expert"
    assert changed.get_json()["member"]["expires_on"] == expert_day
    assert audit_entries(app, cells[LEUVEN], "member.role_changed")[-1].details == {"old_role": "partner", "new_role": "guest_expert"}
    # Back to partner: the last day goes with the role it belonged to.
    back = client.patch(f"/{LEUVEN}/api/members/{partner.membership_id}", headers=headers, json={"role": "partner"})
    assert back.status_code == 200 and back.get_json()["member"]["expires_on"] is None

    ended = client.delete(f"/{LEUVEN}/api/members/{partner.membership_id}", headers=headers)
    assert ended.status_code == 200 and ended.get_json()["member"]["status"] == "ended"
    again = client.delete(f"/{LEUVEN}/api/members/{partner.membership_id}", headers=headers)
    assert again.status_code == 422 and "_schema" in again.get_json()["error"]["fields"]


def test_the_api_answers_bad_bodies_field_by_field_and_saves_nothing(app, cells, coordinator, coordinator_client):
    client = coordinator_client
    headers = api_headers(client)
    before = counts(app, cells[LEUVEN])
    response = client.post(f"/{LEUVEN}/api/members", headers=headers, json={
        "email": "not-an-address", "display_name": "n" * 121, "role": "emperor", "organisation_id": "x"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert fields == {
        "email": ["Enter a valid e-mail address."],
        "display_name": ["At most 120 characters."],
        "role": ["Choose one of the roles."],
        "organisation_id": ["Choose an organisation of the cell."],
    }
    org = organisation_id(app, cells[LEUVEN], "Test municipal_service")
    rules = client.post(f"/{LEUVEN}/api/members", headers=headers, json={
        "email": "guest@example.test", "role": "guest_expert", "organisation_id": org, "clearance_expires_on": "2030-01-01"})
    assert rules.status_code == 422
    assert set(rules.get_json()["error"]["fields"]) == {"expires_on", "clearance_expires_on"}
    missing = client.post(f"/{LEUVEN}/api/members", headers=headers, json={})
    assert missing.status_code == 422
    assert missing.get_json()["error"]["fields"]["email"] == ["This field is required."]
    assert client.post(f"/{LEUVEN}/api/members", headers=headers, data="email=x").status_code == 415
    step_down = client.patch(f"/{LEUVEN}/api/members/{coordinator.membership_id}", headers=headers, json={"role": "partner"})
    assert step_down.status_code == 422 and "role" in step_down.get_json()["error"]["fields"]
    assert counts(app, cells[LEUVEN]) == before and outbox(app) == []


def test_api_me_shows_the_signed_in_member_and_nothing_secret(app, cells):
    officer = add_member(app, cells[LEUVEN], LEUVEN, Role.INFORMATION_OFFICER)
    client = app.test_client()
    sign_in(client, officer)
    response = client.get(f"/{LEUVEN}/api/me", headers=EN)
    me = response.get_json()["me"]
    assert me["account_id"] == officer.account_id and me["membership_id"] == officer.membership_id
    assert me["role"] == "information_officer" and me["role_label"] == "Information officer"
    assert me["clearance_valid"] is True and me["organisation"]["kind"] == "police"
    assert not any(secret in text(response) for secret in SECRETS)
    assert officer.totp_secret not in text(response)
