"""The cell's house rules (*huisreglement*): versioned chapters, a legal basis, and the gate.

Seed 001 advises every cell to agree on house rules, so that partners trust that what they
share will not be misused, in five chapters: general; composition and operation (with a
clause on inviting experts who are not members, for one case); place and date of the
meetings; minutes; information management (what is shared with whom, registered only with the
consent of the partner who brought it, when the repressive partners step in). Article 458ter
of the Criminal Code (seed 002) lets professionals bound by secrecy share in the cell only if
the consultation rests on a law or on the public prosecutor's consent, and if participants,
purpose and modalities are fixed beforehand: the house rules fix them and record the basis.

Versions: at most one draft at a time. Publishing freezes a version for good (a change starts a
new draft, copied from it) and supersedes the one before. Publishing also publishes a new
version of the secrecy undertaking of :mod:`livc.tenants.members` whose text is these rules:
the undertaking's version number is the gate of :func:`livc.tenants.access.guard`, so every
member reads and accepts the new rules before reaching case content again.

As in :mod:`livc.tenants.members`, a broken rule raises marshmallow's ``ValidationError`` keyed
by the form field at fault, all faults at once; audit entries carry version numbers only.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.dialects import postgresql, sqlite

from livc.platform import audit
from livc.platform.db import check_version, current_tenant_id, db, locked
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.house_rules.events import rules_published
from livc.tenants.house_rules.models import (
    CHAPTER_KEYS,
    CHAPTERS,
    CONSENT_FIELDS,
    Acceptance,
    Faults,
    HouseRules,
    HouseRulesStatus,
    LegalBasis,
)
from livc.tenants.members.models import Membership, UndertakingAcceptance
from livc.tenants.members.operations import (
    current_undertaking,
    member_list,
    publish_undertaking,
    standard_undertaking,
)

# --- messages --------------------------------------------------------------------------------

CHAPTER_REQUIRED = _l("Write this chapter before publishing.")
LEGAL_BASIS_REQUIRED = _l("Choose the legal basis of the case consultation.")
CONSENT_REFERENCE_REQUIRED = _l("Give the reference of the public prosecutor's consent.")
CONSENT_DATE_REQUIRED = _l("Give the date of the public prosecutor's consent.")
CONSENT_DATE_FUTURE = _l("The date of the consent cannot lie in the future.")
NO_DRAFT = _l("There is no draft of the house rules. Start one first.")


# --- reading ---------------------------------------------------------------------------------


def rules_in_force() -> HouseRules | None:
    return db.session.scalar(sa.select(HouseRules).where(HouseRules.status == HouseRulesStatus.PUBLISHED))


def identities_kept() -> tuple[bool, int | None]:
    """Whether the cell keeps the identities of the people concerned (the rules in force say;
    kept until rules say otherwise), and the version of the rules that says so (or None)."""
    rules = rules_in_force()
    return (True, None) if rules is None else (rules.identities_kept, rules.version)


def current_draft() -> HouseRules | None:
    return db.session.scalar(sa.select(HouseRules).where(HouseRules.status == HouseRulesStatus.DRAFT))


def find_version(version: int) -> HouseRules | None:
    """Version ``version`` of this cell's rules, whatever its status (another cell's: None)."""
    return db.session.scalar(sa.select(HouseRules).where(HouseRules.version == version))


def published_versions() -> list[HouseRules]:
    """Every version published so far, the newest (the one in force) first."""
    return list(
        db.session.scalars(
            sa.select(HouseRules)
            .where(HouseRules.status != HouseRulesStatus.DRAFT)
            .order_by(HouseRules.version.desc())
        )
    )


def acceptance() -> Acceptance:
    """Who of the members with an active seat accepted the current undertaking, and who not yet.

    Invited and ended seats, and guest experts whose time is up, are nobody at the table now.
    """
    version = current_undertaking().version
    accepted_ids = set(
        db.session.scalars(
            sa.select(UndertakingAcceptance.membership_id).where(UndertakingAcceptance.version == version)
        )
    )
    seated = [m for m in member_list(include_ended=False) if m.seat_status == "active"]
    return Acceptance(
        undertaking_version=version,
        accepted=[m for m in seated if m.id in accepted_ids],
        pending=[m for m in seated if m.id not in accepted_ids],
    )


def publication_faults(rules: HouseRules) -> Faults:
    """What keeps ``rules`` from being published, by field (empty: nothing).

    Article 458ter wants participants, purpose and modalities fixed beforehand and a legal
    basis: every chapter is written, and a prosecutor's consent is identified by reference and
    date, so that it can be shown.
    """
    faults: Faults = {key: [CHAPTER_REQUIRED] for key in CHAPTER_KEYS if not getattr(rules, key)}
    if rules.legal_basis is None:
        faults["legal_basis"] = [LEGAL_BASIS_REQUIRED]
    elif rules.legal_basis == LegalBasis.PROSECUTOR_CONSENT:
        if not rules.consent_reference:
            faults["consent_reference"] = [CONSENT_REFERENCE_REQUIRED]
        if rules.consent_date is None:
            faults["consent_date"] = [CONSENT_DATE_REQUIRED]
    return faults


def check_publishable(rules: HouseRules) -> None:
    """Raise the publication faults of ``rules``, all at once, if there are any."""
    faults = publication_faults(rules)
    if faults:
        raise ValidationError(faults)


# --- the text members accept -------------------------------------------------------------------


def legal_basis_text(rules: HouseRules) -> str:
    if rules.legal_basis == LegalBasis.PROSECUTOR_CONSENT:
        return str(
            _l(
                "Legal basis: the consent of the public prosecutor (reference %(reference)s, %(date)s).",
                reference=rules.consent_reference,
                date=format_date(rules.consent_date, "long"),
            )
        )
    return str(_l("Legal basis: the law of 30 July 2018 on the local integrated security cells."))


def undertaking_text(rules: HouseRules, cell_name: str) -> str:
    """The text of the undertaking version that comes with ``rules``.

    The undertaking page shows a cell's own text paragraph by paragraph (blank lines), and
    otherwise only the platform's standard text: so the text holds the rules, their legal basis
    and the standard secrecy undertaking, each line of a chapter as a paragraph of its own. It
    is written in the language of the coordinator who publishes, the language the chapters
    were written in.
    """
    paragraphs = [str(_l("House rules, version %(version)s", version=rules.version)), legal_basis_text(rules)]
    for number, (chapter, text) in enumerate(rules.chapters, start=1):
        paragraphs.append(f"{number}. {chapter.title}")
        paragraphs.extend(line for line in (text or "").split("\n") if line.strip())
    paragraphs.append(str(_l("Secrecy undertaking")))
    paragraphs.extend(str(paragraph) for paragraph in standard_undertaking(cell_name))
    return "\n\n".join(paragraphs)


# --- operations ------------------------------------------------------------------------------


def _tidy_text(text: str | None) -> str | None:
    """One kind of line break, no trailing spaces, at most one blank line; empty is None."""
    lines = [line.rstrip() for line in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return tidy or None


def _subject(rules: HouseRules) -> str:
    """Named as access refusals name a loaded resource: ``houserules:12``."""
    return f"houserules:{rules.id}"


def _cell_name() -> str:
    return db.session.get(Tenant, current_tenant_id()).name


def start_draft(actor: Membership) -> HouseRules:
    """The draft being written, started now if there is none.

    A new draft copies the version in force (a published version is never edited), or, for a
    cell's first rules, starts from seed 001's guidance in the coordinator's language.
    """
    draft = current_draft()
    if draft is not None:
        return draft
    in_force = rules_in_force()
    latest = db.session.scalar(sa.select(sa.func.max(HouseRules.version))) or 0
    now = utcnow()
    values: dict[str, Any] = {
        "tenant_id": current_tenant_id(), "version": latest + 1, "status": HouseRulesStatus.DRAFT.value,
        "drafted_by_id": actor.id, "created_at": now, "updated_at": now,
    }
    if in_force is not None:
        for name in (*CHAPTER_KEYS, "legal_basis", *CONSENT_FIELDS, "identities_kept"):
            value = getattr(in_force, name)
            values[name] = value.value if isinstance(value, enum.Enum) else value
    else:
        for chapter in CHAPTERS:
            values[chapter.key] = str(chapter.template)
    # Two coordinators starting a draft at once: the second insert does nothing (one draft per
    # cell, one number per version) and both carry on with the draft that won.
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = HouseRules.__table__
    inserted = db.session.execute(insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)).first()
    draft = current_draft()
    if inserted is None:
        return draft
    audit.record(
        "house_rules.draft_started",
        subject=_subject(draft),
        details={"version": draft.version, "from_version": in_force.version if in_force is not None else None},
    )
    return draft


def update_draft(changes: Mapping[str, Any], actor: Membership) -> list[str]:
    """Change the draft's chapters (``CHAPTER_KEYS``), ``legal_basis``, ``consent_reference`` or
    ``consent_date``; returns the names of what changed. No draft yet: one is started.

    ``changes`` holds only what is to change; None empties a field. A draft may be incomplete:
    completeness is checked when publishing. The consent's reference and date belong to the
    prosecutor's consent and are dropped with any other basis.
    """
    draft = locked(start_draft(actor))
    new: dict[str, Any] = {key: _tidy_text(changes[key]) for key in CHAPTER_KEYS if key in changes}
    new["legal_basis"] = changes.get("legal_basis", draft.legal_basis)
    if changes.get("identities_kept") is not None:
        new["identities_kept"] = bool(changes["identities_kept"])
    if new["legal_basis"] == LegalBasis.PROSECUTOR_CONSENT:
        reference = changes.get("consent_reference", draft.consent_reference)
        new["consent_reference"] = " ".join((reference or "").split()) or None
        new["consent_date"] = changes.get("consent_date", draft.consent_date)
    else:
        new["consent_reference"] = new["consent_date"] = None
    if new["consent_date"] is not None and new["consent_date"] > utcnow().date():
        raise ValidationError({"consent_date": [CONSENT_DATE_FUTURE]})
    check_version(draft, changes.get("edit_version"), new)
    changed = [name for name, value in new.items() if getattr(draft, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(draft, name, new[name])
    draft.updated_at = utcnow()
    audit.record(
        "house_rules.draft_changed", subject=_subject(draft), details={"version": draft.version, "fields": changed}
    )
    return changed


def _locked_draft() -> HouseRules:
    """The draft, its row locked (PostgreSQL): two coordinators cannot both publish or discard it."""
    draft = db.session.scalar(
        sa.select(HouseRules)
        .where(HouseRules.status == HouseRulesStatus.DRAFT)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if draft is None:
        raise ValidationError(NO_DRAFT)
    return draft


def publish_draft(actor: Membership) -> HouseRules:
    """Put the draft in force: it supersedes the version before and can no longer change.

    A new undertaking version comes with it, so every member (the publisher too) accepts the
    new rules before reaching case content again.
    """
    draft = _locked_draft()
    check_publishable(draft)
    previous = rules_in_force()
    if previous is not None:
        previous.status = HouseRulesStatus.SUPERSEDED
    undertaking = publish_undertaking(undertaking_text(draft, _cell_name()))
    draft.status = HouseRulesStatus.PUBLISHED
    draft.published_at = undertaking.published_at
    draft.published_by_id = actor.id
    draft.undertaking_version = undertaking.version
    db.session.flush()
    audit.record(
        "house_rules.published",
        subject=_subject(draft),
        details={
            "version": draft.version,
            "undertaking_version": undertaking.version,
            "superseded_version": previous.version if previous is not None else None,
        },
    )
    rules_published.send(draft, previous=previous)
    return draft


def discard_draft() -> int:
    """Throw the draft away (the version in force stays); returns the discarded version number."""
    draft = _locked_draft()
    version, subject = draft.version, _subject(draft)
    db.session.delete(draft)
    db.session.flush()
    audit.record("house_rules.draft_discarded", subject=subject, details={"version": version})
    return version
