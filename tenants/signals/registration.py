"""The bringing partner's consent (*toestemming van de aanbrengende partner*): whether what a
partner brings to the cell is registered, or shared orally only.

Seed 001, the house rules' chapter on information management: information discussed in the
cell "kan enkel met de toestemming van de aanbrengende partner worden geregistreerd". Every
piece of information a partner brings carries that partner's choice: a signal's observation, a
progress note on a case, the contribution of an agenda item in a meeting's minutes.

- ``registered``: its content is kept, encrypted as every content is;
- ``oral_only``: its content is not stored at all (no ciphertext): only that it was discussed
  is kept (who brought it, when, on what), and the pages say "shared orally, not registered".

The choice is the bringer's. Whoever records on behalf of another partner (the coordinator, a
meeting's secretary) records at most that it was shared orally; nobody else registers it in
their place. The bringer may change the choice later: to oral only erases the stored content,
to registered needs the content then. Each change is audited by the domain that keeps the
record, with ids and the two choices, never the content.

The signals, cases and meetings domains use these rules; they sit above this module.
"""

from __future__ import annotations

import enum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import mapped_column

from livc.platform.db import value_enum


class Registration(enum.StrEnum):
    REGISTERED = "registered"
    ORAL_ONLY = "oral_only"


REGISTRATION_LABELS = {
    Registration.REGISTERED: _l("Registered: what is brought is recorded"),
    Registration.ORAL_ONLY: _l("Shared orally only: only that it was discussed is kept"),
}
ORAL_ONLY_SHOWN = _l("Shared orally, not registered")

NOT_THE_BRINGER = _l(
    "Only the partner who brought this information registers it: the cell registers information "
    "only with the consent of the partner who brought it (house rules, seed 001). Record that it "
    "was shared orally; they may register it themselves."
)
CHOICE_NOT_YOURS = _l(
    "Only the partner who brought this information changes whether it is registered (house "
    "rules, seed 001: registered only with the consent of the partner who brought it)."
)
ORAL_ONLY_KEEPS_NOTHING = _l(
    "Shared orally only: nothing of what was said is kept. Leave this empty, or choose to register it."
)
CONTENT_TO_REGISTER = _l("Write down what is registered.")
SAME_CHOICE = _l("This is the choice already.")


def registration_column():
    """The bringer's choice; what existed before the choice was registered."""
    return mapped_column(value_enum(Registration), default=Registration.REGISTERED,
                         server_default=Registration.REGISTERED.value)


def oral_only(record: Any) -> bool:
    return getattr(record, "registration", None) == Registration.ORAL_ONLY


def recording_faults(*, actor_id: int, bringer_id: int | None, registration: Registration | None,
                     content: str | None, content_field: str) -> dict[str, list[Any]]:
    """What is wrong with recording a piece of information brought by ``bringer_id`` (None: the
    actor brings it), as ``registration``, with ``content`` (stripped text or None)."""
    faults: dict[str, list[Any]] = {}
    registration = registration or Registration.REGISTERED
    if registration == Registration.REGISTERED:
        if bringer_id is not None and bringer_id != actor_id:
            faults.setdefault("registration", []).append(NOT_THE_BRINGER)
    elif content:
        faults.setdefault(content_field, []).append(ORAL_ONLY_KEEPS_NOTHING)
    return faults


def change_faults(*, actor_id: int, bringer_id: int | None, current: Registration, new: Registration | None,
                  content: str | None, content_field: str) -> dict[str, list[Any]]:
    """What is wrong with the bringer changing their choice from ``current`` to ``new``."""
    faults: dict[str, list[Any]] = {}
    if bringer_id != actor_id:
        faults.setdefault("registration", []).append(CHOICE_NOT_YOURS)
        return faults
    if new is None:
        faults.setdefault("registration", []).append(_l("This field is required."))
    elif new == current:
        faults.setdefault("registration", []).append(SAME_CHOICE)
    elif new == Registration.REGISTERED and not content:
        faults.setdefault(content_field, []).append(CONTENT_TO_REGISTER)
    elif new == Registration.ORAL_ONLY and content:
        faults.setdefault(content_field, []).append(ORAL_ONLY_KEEPS_NOTHING)
    return faults
