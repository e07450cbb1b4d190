"""The rules of an operator's sign-in: password, then a TOTP code (or a recovery code), always.

The same rules as a cell member's local sign-in (:mod:`livc.tenants.members.signing`), on the
operator realm's own accounts, throttle and audit trail: one message for every failure, an
unknown address hashed like a known one, a lock-out after repeated failures.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from livc.admin.operators import operations as operators
from livc.admin.operators.models import THROTTLE_REALM, Operator
from livc.admin.operators.operations import find_operator
from livc.platform.accounts import (
    check_password,
    check_second_factor,
    clear_failures,
    note_failure,
    refused_as_demo,
    throttle_state,
)
from livc.platform.web import after_refusal
from livc.tenants.members.signing import CODE_FAILED, Refused, locked

SIGN_IN_FAILED = _l("The e-mail address or password is wrong, or this account has no access to the console.")


def _refuse_failure(email: str, action: str, operator: Operator | None, reason: str, field: str, message):
    subject = f"operator:{operator.id}" if operator is not None else None
    after_refusal(lambda: (
        note_failure(email, THROTTLE_REALM),
        operators.record_action(action, actor="anonymous", subject=subject, details={"reason": reason}),
    ))
    raise Refused(401, field, message)


def _not_locked(email: str) -> None:
    state = throttle_state(email, THROTTLE_REALM)
    if state.locked:
        after_refusal(lambda: operators.record_action("auth.sign_in_locked", actor="anonymous"))
        raise locked(state.retry_after)


def check_credentials(email: str, password: str) -> Operator:
    """The operator when ``password`` is theirs and the account is usable."""
    _not_locked(email)
    operator = find_operator(email)
    if not check_password(operator, password):  # hashes even for unknown addresses
        _refuse_failure(email, "auth.sign_in_failed", operator, "password", "form", SIGN_IN_FAILED)
    if refused_as_demo(email):
        _refuse_failure(email, "auth.sign_in_failed", operator, "demo account in production", "form", SIGN_IN_FAILED)
    return operator


def check_code(operator: Operator, code: str) -> str:
    """``"totp"`` or ``"recovery_code"``; each code works once."""
    _not_locked(operator.email)
    factor = check_second_factor(operator, code) if operator.usable else None
    if factor is None:
        _refuse_failure(operator.email, "auth.second_factor_failed", operator, "code", "code", CODE_FAILED)
    return factor


def complete_sign_in(operator: Operator, factor: str) -> None:
    operators.start_session(operator)
    clear_failures(operator.email, THROTTLE_REALM)
    operators.record_action("auth.signed_in", actor=f"operator:{operator.id}", subject=f"operator:{operator.id}",
                            details={"factor": factor})
