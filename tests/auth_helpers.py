"""Helpers for tests that need members: create them, sign them in the way a person does.

``add_member`` writes an account with a password and an enrolled authenticator, an
organisation and an active membership in a cell. ``sign_in`` goes through the real pages
(password, then the current TOTP code, then the secrecy undertaking when asked), so every
test that signs in also exercises the sign-in path.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, timedelta

import pyotp
import sqlalchemy as sa

from livc.platform.accounts import get_or_create_account, set_password
from livc.platform.crypto import new_token, token_digest
from livc.platform.db import db, tenant_context
from livc.platform.roles import OrganisationKind, Role
from livc.platform.sessions import SESSION_KEY, AuthSession
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import Membership, MembershipStatus, Organisation

PASSWORD = "correct horse battery staple"
ROLE_ORGANISATION = {
    Role.MAYOR: OrganisationKind.MUNICIPAL_SERVICE,
    Role.COORDINATOR: OrganisationKind.MUNICIPAL_SERVICE,
    Role.INFORMATION_OFFICER: OrganisationKind.POLICE,
    Role.POLICE_CHIEF: OrganisationKind.POLICE,
    Role.SOCIAL_ALDERMAN: OrganisationKind.MUNICIPAL_SERVICE,
    Role.PARTNER: OrganisationKind.CLB,
    Role.SECRETARY: OrganisationKind.MUNICIPAL_SERVICE,
    Role.GUEST_EXPERT: OrganisationKind.OTHER,
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Member:
    email: str
    password: str
    totp_secret: str
    tenant_slug: str
    tenant_id: int
    account_id: int
    membership_id: int
    role: Role
    codes_used: int = 0

    def code(self, offset_steps: int = 0) -> str:
        return pyotp.TOTP(self.totp_secret).at(time.time() + 30 * offset_steps)

    def fresh_code(self) -> str:
        """A code not used yet: each is accepted once, so a second sign-in takes the next step
        (one step of clock drift is allowed); a third within the same 30 s must wait."""
        if self.codes_used >= 2:
            time.sleep(30 - time.time() % 30 + 0.5)
            self.codes_used = 1
        code = self.code(self.codes_used)
        self.codes_used += 1
        return code


def add_member(app, tenant_id: int, slug: str, role: Role, email: str | None = None, *,
               status: MembershipStatus = MembershipStatus.ACTIVE) -> Member:
    """An account with password and authenticator, and a membership with ``role`` in the cell."""
    email = email or f"{role.value}.{slug}@example.test"
    secret = pyotp.random_base32()
    with app.app_context():
        account = get_or_create_account(email, f"Test {role.value}")
        set_password(account, PASSWORD)
        account.totp_secret = secret
        account.totp_enabled_at = utcnow()
        with tenant_context(tenant_id):
            kind = ROLE_ORGANISATION[role]
            name = f"Test {kind.value}"
            organisation = db.session.scalar(sa.select(Organisation).where(Organisation.name == name))
            if organisation is None:
                organisation = Organisation(name=name, kind=kind)
                db.session.add(organisation)
                db.session.flush()
            membership = Membership(
                account_id=account.id, organisation_id=organisation.id, role=role, status=status,
                clearance_expires_on=date.today() + timedelta(days=365) if role == Role.INFORMATION_OFFICER else None,
                expires_at=utcnow() + timedelta(days=30) if role == Role.GUEST_EXPERT else None,
            )
            db.session.add(membership)
            db.session.flush()
            member = Member(email, PASSWORD, secret, slug, tenant_id, account.id, membership.id, role)
        db.session.commit()
        db.session.remove()
    return member


def csrf_token(client, path: str) -> str:
    """The CSRF token of the form on ``path`` (as a browser gets it)."""
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no form with a CSRF token on {path}"
    return match.group(1)


def post_form(client, path: str, data: dict, *, form_path: str | None = None, **kwargs):
    """POST ``data`` to ``path`` with the CSRF token of the form page (``form_path``, default ``path``)."""
    token = csrf_token(client, form_path or path)
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def sign_in(client, member: Member, *, accept_undertaking: bool = True):
    """Password, then the authenticator code; accept the secrecy undertaking when asked."""
    slug = member.tenant_slug
    first = post_form(client, f"/{slug}/sign-in", {"email": member.email, "password": member.password})
    assert first.status_code == 302 and first.headers["Location"].endswith("/sign-in/verify"), first.status_code
    second = post_form(client, f"/{slug}/sign-in/verify", {"code": member.fresh_code()})
    assert second.status_code == 302, second.get_data(as_text=True)
    if accept_undertaking:
        page = client.get(f"/{slug}/undertaking")
        if b'name="accept"' in page.data:
            done = post_form(client, f"/{slug}/undertaking", {"accept": "yes"})
            assert done.status_code == 302
    return second


def give_session(app, client, member) -> None:
    """A live server-side session for ``member``, as signing in would leave it."""
    token = new_token()
    with app.app_context(), tenant_context(member.tenant_id):
        membership = db.session.get(Membership, member.membership_id)
        now = utcnow()
        db.session.add(AuthSession(
            token_digest=token_digest(token), account_id=member.account_id, membership_id=member.membership_id,
            privilege_version=membership.privilege_version, method="password",
            created_at=now, last_seen_at=now, expires_at=now + timedelta(hours=1),
        ))
        db.session.commit()
    with client.session_transaction() as flask_session:
        flask_session[SESSION_KEY] = {member.tenant_slug: token}


class MemberApi:
    """A member's JSON client: a session of its own and its CSRF token in every request."""

    def __init__(self, app, member, language: str = "en"):
        self.client = app.test_client()
        give_session(app, self.client, member)
        token = self.client.get(f"/{member.tenant_slug}/api/session").get_json()["csrf_token"]
        self.headers = {"X-CSRFToken": token, "Accept-Language": language}

    def send(self, method: str, path: str, body=None, **kwargs):
        return self.client.open(path, method=method, json=body, headers=self.headers, **kwargs)
