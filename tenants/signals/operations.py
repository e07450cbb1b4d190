"""Intake: a signal comes in. And what signals and cases share: the cell's case settings, the
references they are known by, and the encrypted identity of the person concerned.

Seed 001 and 004 set the rules this module keeps, whichever way a change comes in (page, API,
demo):

- intake is low-threshold: a partner reports through a short form, the coordinator logs what
  came by phone, e-mail or in person, and the information officer brings a referral of the
  Local Task Force. The person concerned may stay anonymous;
- a partner first assesses the signal within their own organisation (the seeds' "filter").

What the cell decides on a signal is the weighing's (:mod:`livc.tenants.cases.weighing`).
Refusals raise marshmallow's ``ValidationError`` keyed by the field at fault, all at once.
Audit entries carry references and ids, never what was observed or who it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.platform import audit
from livc.platform.db import check_version, current_tenant_id, db
from livc.platform.keys import blind_index, normalise_for_index
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.house_rules.events import rules_published
from livc.tenants.house_rules.operations import identities_kept
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.members.operations import active_members
from livc.tenants.signals.events import identity_entered
from livc.tenants.signals.mail import notify_urgent_signal
from livc.tenants.signals.models import (
    CODE_PREFIX_MAX,
    IDENTITY_FIELDS,
    CaseSettings,
    Identity,
    InternalAssessment,
    Signal,
    SignalChannel,
    SignalStatus,
    Urgency,
)
from livc.tenants.signals.registration import (
    ORAL_ONLY_KEEPS_NOTHING,
    Registration,
    change_faults,
    recording_faults,
)
from livc.tenants.signals.territory import resolve_residence

Faults = dict[str, list[Any]]

REQUIRED = _l("This field is required.")
FILTER_FIRST = _l(
    "Discuss the signal within your own organisation first (the filter of the cell's house rules); "
    "report it once your organisation finds it worrying."
)
CHANNEL_NOT_YOURS = _l("Your role cannot record a signal received this way.")
CONTACT_REQUIRED = _l("Write down who reported it and how to reach them.")
UNTIL_BEFORE_FROM = _l("The last day cannot be before the first day.")
IN_FUTURE = _l("This date is in the future.")
UNKNOWN_ORGANISATION = _l("Choose an organisation of the cell.")


def raise_faults(faults: Faults) -> None:
    if faults:
        raise ValidationError({field: [str(m) for m in messages] for field, messages in faults.items()})


def add_fault(faults: Faults, field: str, message: Any) -> None:
    faults.setdefault(field, []).append(message)


def coerce(values: Mapping[str, Any], **enums: type) -> dict[str, Any]:
    """``values`` with the named fields as members of their enums (schemas give members
    already; scripts and tests may pass plain values). An unknown value is a field fault."""
    coerced, faults = dict(values), {}
    for name, enum_type in enums.items():
        value = coerced.get(name)
        if value is None or isinstance(value, enum_type):
            continue
        try:
            coerced[name] = enum_type(value)
        except ValueError:
            add_fault(faults, name, _l("Choose one of the options."))
    raise_faults(faults)
    return coerced


# --- settings and references ------------------------------------------------------------------


def default_prefix(tenant: Tenant) -> str:
    letters = "".join(char for char in tenant.slug.upper() if char.isalpha())
    letters = letters.removeprefix("DEMO") or letters
    return (letters[:3] or "LIV")[:CODE_PREFIX_MAX]


def case_settings(*, lock: bool = False) -> CaseSettings:
    """The cell's case settings, created with defaults the first time."""
    query = sa.select(CaseSettings)
    if lock:  # and read as committed now, not as loaded earlier in the request
        query = query.with_for_update().execution_options(populate_existing=True)
    settings = db.session.scalar(query)
    if settings is None:
        tenant = db.session.get(Tenant, current_tenant_id())
        settings = CaseSettings(code_prefix=default_prefix(tenant))
        db.session.add(settings)
        db.session.flush()
    return settings


def next_reference(kind: str) -> str:
    """The next case code (``GNT-2026-007``) or signal reference (``S-2026-014``).

    The counter is raised in the database, in one ``UPDATE ... RETURNING``: the row stays locked
    until the transaction ends, and the number is read from the row as it is then, never from
    settings loaded earlier in the request. Two requests never get the same number, on
    PostgreSQL or SQLite, and a new year starts both counters at 1.
    """
    settings = case_settings()  # created with defaults the first time
    year = utcnow().year
    new_year = CaseSettings.code_year != year
    taken = CaseSettings.next_case_number if kind == "case" else CaseSettings.next_signal_number
    other = CaseSettings.next_signal_number if kind == "case" else CaseSettings.next_case_number
    row = db.session.execute(
        sa.update(CaseSettings)
        .values({
            CaseSettings.code_year: year,
            taken: sa.case((new_year, 2), else_=taken + 1),
            other: sa.case((new_year, 1), else_=other),
        })
        .returning(CaseSettings.code_prefix, taken)
        .execution_options(synchronize_session=False)
    ).one()
    prefix, number = row[0], row[1] - 1
    db.session.expire(settings, ["code_year", "next_case_number", "next_signal_number"])
    if kind == "case":
        return f"{prefix}-{year}-{number:03d}"
    return f"S-{year}-{number:03d}"


SETTINGS_FIELDS = (
    "code_prefix", "flag_green_criteria", "flag_yellow_criteria", "flag_red_criteria", "flag_black_criteria",
    "review_interval_days", "reviews_after_closure", "review_months_after_closure", "retention_months_closed",
    "retention_months_signals",
)
CRITERIA_FIELDS = ("flag_green_criteria", "flag_yellow_criteria", "flag_red_criteria", "flag_black_criteria")
RETENTION_BEFORE_REVIEW = _l("Closed cases would be erased before their last review after closure.")


def change_settings(changes: Mapping[str, Any]) -> list[str]:
    """Change the cell's case settings; returns the names of the fields that changed.

    Criteria left empty fall back to the standard text. Closed cases are kept at least until
    their last review after closure. A new code prefix applies to cases opened from now on.
    """
    settings = case_settings(lock=True)
    new = {name: changes[name] for name in SETTINGS_FIELDS if name in changes and (changes[name] is not None or name in CRITERIA_FIELDS)}
    for name in CRITERIA_FIELDS:
        if name in new:
            new[name] = (new[name] or "").strip() or None
    if "review_months_after_closure" in new:
        months = sorted({int(part) for part in new["review_months_after_closure"].split(",") if part.strip()})
        new["review_months_after_closure"] = ",".join(str(month) for month in months if month > 0)
    months = [int(part) for part in new.get("review_months_after_closure", settings.review_months_after_closure).split(",") if part]
    keep = new.get("retention_months_closed", settings.retention_months_closed)
    with_reviews = new.get("reviews_after_closure", settings.reviews_after_closure)
    if with_reviews and months and keep < max(months):
        raise_faults({"retention_months_closed": [RETENTION_BEFORE_REVIEW]})
    check_version(settings, changes.get("version"), new)
    changed = [name for name, value in new.items() if getattr(settings, name) != value]
    for name in changed:
        setattr(settings, name, new[name])
    if changed:
        settings.updated_at = utcnow()
        audit.record("case_settings.changed", details={"fields": changed})
    return changed


# --- identities -------------------------------------------------------------------------------


def identity_values(values: Mapping[str, Any]) -> dict[str, str | None]:
    """The identity fields among ``values`` (dates as ISO text), empty ones as None."""
    found = {}
    for name in IDENTITY_FIELDS:
        if name in values:
            value = values[name]
            if isinstance(value, date):
                value = value.isoformat()
            found[name] = (value or "").strip() or None
    return found


IDENTITY_CIPHERTEXTS = tuple(f"{name}_ciphertext" for name in IDENTITY_FIELDS)
NOT_KEPT = _l(
    "The identity is not shown: the cell chose not to keep the identities of the people concerned "
    "(house rules, version %(version)s). The case is known by its code; \"is this person known "
    "here?\" still answers."
)


def not_kept_reason() -> str | None:
    """Why no identity can be shown in this cell (a translated sentence), or None when the cell
    keeps identities (the house rules in force decide)."""
    kept, version = identities_kept()
    return None if kept else str(NOT_KEPT % {"version": version})


def write_identity(identity: Identity | None, values: Mapping[str, str | None]) -> Identity | None:
    """Create or change an identity; the name's extra blind indexes follow the fields.

    When the cell does not keep identities (house rules), the values entered become the blind
    indexes and, for the federation, its tokens (:data:`identity_entered`), and nothing else:
    no ciphertext. What was entered before cannot be read back, so a change is a new entry,
    whole: a field not given is then unknown."""
    if not identities_kept()[0]:
        return _index_only(identity, values)
    if identity is None:
        if not any(values.values()):
            return None
        identity = Identity()
        db.session.add(identity)
        db.session.flush()  # the record's key scope needs its id
    for name, value in values.items():
        setattr(identity, name, value)
    given, family = identity.given_names or "", identity.family_name or ""
    both = given and family and normalise_for_index(given + family)
    identity.full_name_index = blind_index(given + family, "full_name") if both else None
    identity.reversed_name_index = blind_index(family + given, "full_name") if both else None
    identity.updated_at = utcnow()
    return identity


def _index_only(identity: Identity | None, values: Mapping[str, str | None]) -> Identity | None:
    """The identity as a cell that does not keep identities holds it: blind indexes only."""
    if identity is None:
        if not any(values.values()):
            return None
        identity = Identity()
        db.session.add(identity)
        db.session.flush()
    given, family = values.get("given_names") or "", values.get("family_name") or ""
    number = values.get("national_number") or ""
    for column in IDENTITY_CIPHERTEXTS:
        setattr(identity, column, None)

    def index(value: str, field: str) -> str | None:
        return blind_index(value, field) if normalise_for_index(value) else None

    both = given and family and normalise_for_index(given + family)
    identity.family_name_index = index(family, "family_name")
    identity.national_number_index = index(number, "national_number")
    identity.full_name_index = blind_index(given + family, "full_name") if both else None
    identity.reversed_name_index = blind_index(family + given, "full_name") if both else None
    identity.updated_at = utcnow()
    identity_entered.send(identity, values={name: values.get(name) for name in IDENTITY_FIELDS})
    return identity


def _rules_published(rules, previous=None, **_details) -> None:
    """Rules that stop keeping identities erase those kept so far, in the same transaction:
    their ciphertexts go, their blind indexes stay ("is this person known here?" still answers).
    Audited with the count and the version."""
    was_kept = previous is None or previous.identities_kept
    if rules.identities_kept or not was_kept:
        return
    kept = sa.or_(*(getattr(Identity, column).is_not(None) for column in IDENTITY_CIPHERTEXTS))
    erased = db.session.execute(
        sa.update(Identity).where(Identity.tenant_id == current_tenant_id(), kept).values(**{column: None for column in IDENTITY_CIPHERTEXTS}, updated_at=utcnow())
    ).rowcount
    audit.record("identities.erased_by_house_rules", subject=f"houserules:{rules.id}",
                 details={"version": rules.version, "identities": erased})


rules_published.connect(_rules_published)


# --- intake -----------------------------------------------------------------------------------

CHANNELS_BY_ROLE = {
    Role.COORDINATOR: (SignalChannel.FORM, SignalChannel.PHONE, SignalChannel.EMAIL, SignalChannel.IN_PERSON),
    Role.INFORMATION_OFFICER: (SignalChannel.FORM, SignalChannel.LTF_REFERRAL),
}


def channels_for(role: Role) -> tuple[SignalChannel, ...]:
    return CHANNELS_BY_ROLE.get(role, (SignalChannel.FORM,))


def _intake_faults(actor: Membership, values: Mapping[str, Any]) -> Faults:
    faults: Faults = {}
    channel = values.get("channel") or SignalChannel.FORM
    if channel not in channels_for(actor.role):
        add_fault(faults, "channel", CHANNEL_NOT_YOURS)
    registration = values.get("registration") or Registration.REGISTERED
    observation = (values.get("observation") or "").strip() or None
    for name, messages in recording_faults(actor_id=actor.id, bringer_id=None, registration=registration,
                                           content=observation, content_field="observation").items():
        faults.setdefault(name, []).extend(messages)
    if registration == Registration.REGISTERED and not observation:
        add_fault(faults, "observation", REQUIRED)
    if registration == Registration.ORAL_ONLY and (values.get("assessment_note") or "").strip():
        add_fault(faults, "assessment_note", ORAL_ONLY_KEEPS_NOTHING)
    assessment = values.get("internal_assessment")
    if assessment is None:
        add_fault(faults, "internal_assessment", REQUIRED)
    elif channel == SignalChannel.FORM and assessment != InternalAssessment.DONE:
        add_fault(faults, "internal_assessment", FILTER_FIRST)
    if values.get("urgency") is None:
        add_fault(faults, "urgency", REQUIRED)
    if channel in (SignalChannel.PHONE, SignalChannel.EMAIL, SignalChannel.IN_PERSON) and not (
        values.get("reporter_contact") or ""
    ).strip():
        add_fault(faults, "reporter_contact", CONTACT_REQUIRED)
    first, last, today = values.get("observed_from"), values.get("observed_until"), utcnow().date()
    for field, day in (("observed_from", first), ("observed_until", last)):
        if day is not None and day > today:
            add_fault(faults, field, IN_FUTURE)
    if first and last and last < first:
        add_fault(faults, "observed_until", UNTIL_BEFORE_FROM)
    organisation_id = values.get("reporter_organisation_id")
    if organisation_id is not None and db.session.get(Organisation, organisation_id) is None:
        add_fault(faults, "reporter_organisation_id", UNKNOWN_ORGANISATION)
    return faults


def submit_signal(actor: Membership, values: Mapping[str, Any]) -> Signal:
    """Record a signal. A partner's own report names their organisation; the coordinator may
    name the reporting organisation of a call or mail. Where the person lives may be told, in
    the cell's territory or outside it, or not yet known."""
    values = coerce(values, channel=SignalChannel, internal_assessment=InternalAssessment, urgency=Urgency,
                    registration=Registration)
    faults = _intake_faults(actor, values)
    _given, residence = resolve_residence(values, faults)
    raise_faults(faults)
    channel = values.get("channel") or SignalChannel.FORM
    organisation_id = actor.organisation_id if channel in (SignalChannel.FORM, SignalChannel.LTF_REFERRAL) else None
    signal = Signal(
        reference=next_reference("signal"),
        channel=channel,
        recorded_by_id=actor.id,
        reporter_organisation_id=values.get("reporter_organisation_id") or organisation_id,
        internal_assessment=values["internal_assessment"],
        urgency=values.get("urgency") or Urgency.NORMAL,
        observed_from=values.get("observed_from"),
        observed_until=values.get("observed_until"),
        residence_nis=residence,
        registration=values.get("registration") or Registration.REGISTERED,
        observation_ciphertext=None,
    )
    db.session.add(signal)
    db.session.flush()
    signal.reporter_contact = (values.get("reporter_contact") or "").strip() or None
    if signal.registration == Registration.REGISTERED:  # oral only: no content, not even encrypted
        signal.observation = values["observation"].strip()
        signal.assessment_note = (values.get("assessment_note") or "").strip() or None
    identity = write_identity(None, identity_values(values))
    signal.identity_id = identity.id if identity is not None else None
    if signal.urgency == Urgency.URGENT:
        notify_urgent_signal(signal, active_coordinators())
    audit.record(
        "signal.recorded",
        subject=f"signal:{signal.reference}",
        details={"channel": signal.channel.value, "urgency": signal.urgency.value, "anonymous": identity is None,
                 "registration": signal.registration.value},
    )
    return signal


def change_signal_registration(signal: Signal, actor: Membership, values: Mapping[str, Any]) -> Signal:
    """Whoever brought the signal (recorded it) changes their choice: oral only erases what was
    observed and the in-house assessment; registered needs the observation then (seed 001)."""
    values = coerce(values, registration=Registration)
    observation = (values.get("observation") or "").strip() or None
    raise_faults(change_faults(actor_id=actor.id, bringer_id=signal.recorded_by_id, current=signal.registration,
                               new=values.get("registration"), content=observation, content_field="observation"))
    previous, signal.registration = signal.registration, values["registration"]
    if signal.registration == Registration.ORAL_ONLY:
        signal.observation_ciphertext = signal.assessment_note_ciphertext = None
    else:
        signal.observation = observation
    db.session.flush()
    audit.record("signal.registration_changed", subject=f"signal:{signal.reference}",
                 details={"signal_id": signal.id, "from": previous.value, "to": signal.registration.value})
    return signal


def active_coordinators() -> list[Membership]:
    return active_members(Role.COORDINATOR)


def find_signal(signal_id: int) -> Signal | None:
    return db.session.get(Signal, signal_id)


#: The signals to weigh, the most urgent first, then the longest waiting.
_URGENCY_RANK = sa.case({Urgency.URGENT.value: 0, Urgency.SOON.value: 1}, value=Signal.urgency, else_=2)


def open_signals(limit: int | None = None) -> list[Signal]:
    """The signals still to weigh, the most urgent first, then the oldest (at most ``limit``:
    the first of each urgency read in order from the index ``(tenant_id, status, urgency,
    received_at, id)``, however many wait)."""
    waiting = sa.select(Signal).where(Signal.status == SignalStatus.NEW)
    if limit is not None:
        firsts = [
            waiting.with_only_columns(Signal.id).where(Signal.urgency == urgency)
            .order_by(Signal.received_at, Signal.id).limit(limit).subquery()
            for urgency in Urgency
        ]
        chosen = sa.union_all(*(sa.select(first.c.id) for first in firsts)).subquery()
        waiting = sa.select(Signal).join(chosen, chosen.c.id == Signal.id)
    query = waiting.order_by(_URGENCY_RANK, Signal.received_at, Signal.id).limit(limit)
    return list(db.session.scalars(query))


def open_signals_count() -> int:
    """How many signals wait to be weighed (the status index)."""
    return db.session.scalar(sa.select(sa.func.count(Signal.id)).where(Signal.status == SignalStatus.NEW)) or 0


def signals_query(recorded_by: int | None = None) -> sa.Select:
    """The cell's signals, or those ``recorded_by`` one membership (unordered: lists page them
    newest first on ``received_at, id``, which an index per cell supports)."""
    query = sa.select(Signal)
    return query if recorded_by is None else query.where(Signal.recorded_by_id == recorded_by)


def signals_recorded_by(membership_id: int, limit: int | None = None) -> list[Signal]:
    """The signals one member recorded, newest first (at most ``limit``)."""
    query = signals_query(membership_id).order_by(Signal.received_at.desc(), Signal.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def all_signals() -> list[Signal]:
    return list(db.session.scalars(signals_query().order_by(Signal.received_at.desc(), Signal.id.desc())))


def read_signal(signal: Signal) -> None:
    """Account for a read of a signal's content."""
    audit.record("signal.read", subject=f"signal:{signal.reference}")
