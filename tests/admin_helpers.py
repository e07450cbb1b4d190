"""Helpers for tests of the operator console: operators with password and authenticator,
signed in through the real pages or given a server-side session directly."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp

from auth_helpers import PASSWORD, post_form
from livc.admin.operators.models import SESSION_KEY, Operator, OperatorRole, OperatorSession
from livc.platform.accounts import set_password
from livc.platform.crypto import new_token, token_digest
from livc.platform.db import db
from livc.platform.timeutil import utcnow


@dataclass
class ConsoleOperator:
    id: int
    email: str
    role: OperatorRole
    totp_secret: str
    password: str = PASSWORD
    codes_used: int = 0

    def fresh_code(self) -> str:
        """A code not used yet (each is accepted once; one step of drift is allowed)."""
        if self.codes_used >= 2:
            time.sleep(30 - time.time() % 30 + 0.5)
            self.codes_used = 1
        code = pyotp.TOTP(self.totp_secret).at(time.time() + 30 * self.codes_used)
        self.codes_used += 1
        return code


def add_operator(app, role: OperatorRole = OperatorRole.ADMINISTRATOR, email: str | None = None) -> ConsoleOperator:
    """An operator account with a password and an enrolled authenticator."""
    email = email or f"{role.value}@operators.example.test"
    secret = pyotp.random_base32()
    with app.app_context():
        operator = Operator(email=email, role=role, display_name=f"Test {role.value}")
        set_password(operator, PASSWORD)
        operator.totp_secret = secret
        operator.totp_enabled_at = utcnow()
        db.session.add(operator)
        db.session.commit()
        found = ConsoleOperator(operator.id, email, role, secret)
        db.session.remove()
    return found


def give_operator_session(app, client, operator: ConsoleOperator) -> None:
    """A live operator session, as signing in would leave it."""
    token = new_token()
    with app.app_context():
        row = db.session.get(Operator, operator.id)
        now = utcnow()
        db.session.add(OperatorSession(token_digest=token_digest(token), operator_id=operator.id,
                                       privilege_version=row.privilege_version, created_at=now, last_seen_at=now,
                                       expires_at=now + timedelta(hours=1)))
        db.session.commit()
        db.session.remove()
    with client.session_transaction() as flask_session:
        flask_session[SESSION_KEY] = token


def sign_in_operator(client, operator: ConsoleOperator):
    """Password, then the current TOTP code, through the console's pages."""
    first = post_form(client, "/admin/sign-in", {"email": operator.email, "password": operator.password})
    assert first.status_code == 302 and first.headers["Location"].endswith("/admin/sign-in/verify"), first.status_code
    second = post_form(client, "/admin/sign-in/verify", {"code": operator.fresh_code()})
    assert second.status_code == 302, second.get_data(as_text=True)
    return second


def operator_csrf(client) -> str:
    return client.get("/admin/api/session").get_json()["csrf_token"]
