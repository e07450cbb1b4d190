"""Who sits in a cell: organisations, memberships with a role, invitations, the secrecy undertaking.

A membership ties a global account to one cell, with one role and the organisation the person
represents at the table. The rules of later issues read the organisation's kind (police,
school, ...), the role, and the information officer's security clearance.

The operations at the end of this module are the only way members and organisations change:
web pages and the JSON API both call them, so a rule (the last coordinator stays, an
information officer sits for the police, a guest expert's seat ends) holds whichever way in.
A broken rule raises marshmallow's ``ValidationError`` keyed by the form field at fault, which
both show next to that field. Audit entries name memberships by id and roles, never people.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import g, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.orm import contains_eager, joinedload

from livc.platform import audit, sessions
from livc.platform.accounts import Account, find_account, get_or_create_account
from livc.platform.crypto import new_token, token_digest
from livc.platform.db import current_tenant_id, db
from livc.platform.mail import render_mail, send_mail
from livc.platform.roles import ROLE_LABELS, OrganisationKind, Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.members.models import (
    GUEST_EXPERT_MAX_DAYS,
    INVITATION_LIFETIME,
    Invitation,
    Membership,
    MembershipStatus,
    Organisation,
    Undertaking,
    UndertakingAcceptance,
)

# --- operations ------------------------------------------------------------------------------


def current_undertaking() -> Undertaking:
    """The cell's current undertaking; a cell that wrote none has the standard one, version 1."""
    latest = db.session.execute(sa.select(Undertaking).order_by(Undertaking.version.desc()).limit(1)).scalar()
    if latest is None:
        latest = Undertaking(version=1, text=None)
        db.session.add(latest)
        db.session.flush()
    return latest


def standard_undertaking(cell_name: str) -> list:
    """The platform's secrecy undertaking, as the undertaking page shows it when a cell has no
    text of its own (same messages, so the same translations)."""
    return [
        _l(
            "I take part in the local integrated security cell of %(cell)s to detect radicalisation early and "
            "to follow people with a personal, mainly social trajectory.",
            cell=cell_name,
        ),
        _l(
            "What is shared in the cell is shared under article 458ter of the Criminal Code. I keep it secret, "
            "also towards my own organisation, except where the cell agreed otherwise."
        ),
        _l(
            "I only look at the cases I need for my task in the cell, I share information only for the purpose "
            "of the cell, and I know that every access to case content is recorded."
        ),
        _l("I do not make lists, copies or exports of the people discussed."),
    ]


def publish_undertaking(text: str | None) -> Undertaking:
    """A new version: every member accepts it again before reaching case content."""
    version = current_undertaking().version + 1
    undertaking = Undertaking(version=version, text=text)
    db.session.add(undertaking)
    db.session.flush()
    return undertaking


def has_accepted_current(membership: Membership) -> bool:
    """Has ``membership`` accepted the cell's current undertaking (version 1, the standard one,
    while the cell published none)? One statement: it is asked on every content page."""
    latest = (sa.select(Undertaking.version).where(Undertaking.tenant_id == membership.tenant_id)
              .order_by(Undertaking.version.desc()).limit(1).scalar_subquery())
    return (
        db.session.execute(
            sa.select(UndertakingAcceptance.id).where(
                UndertakingAcceptance.membership_id == membership.id,
                UndertakingAcceptance.version == sa.func.coalesce(latest, 1),
            )
        ).first()
        is not None
    )


def accept_undertaking(membership: Membership) -> int:
    version = current_undertaking().version
    if not has_accepted_current(membership):
        db.session.add(UndertakingAcceptance(membership_id=membership.id, version=version))
        db.session.flush()
    return version


def membership_of(account_id: int) -> Membership | None:
    """The account's membership in the current cell, whatever its status."""
    return db.session.execute(sa.select(Membership).where(Membership.account_id == account_id)).scalar_one_or_none()


def create_invitation(membership: Membership, created_by: str) -> str:
    """Revoke the membership's open invitations and issue a new one; returns the token."""
    now = utcnow()
    for old in db.session.execute(
        sa.select(Invitation).where(Invitation.membership_id == membership.id, Invitation.used_at.is_(None))
    ).scalars():
        old.revoked_at = old.revoked_at or now
    token = new_token()
    db.session.add(
        Invitation(
            token_digest=token_digest(token),
            membership_id=membership.id,
            created_by=created_by,
            expires_at=now + INVITATION_LIFETIME,
        )
    )
    db.session.flush()
    return token


def find_invitation(token: str) -> Invitation | None:
    """The invitation for ``token`` in the current cell, used or not (callers check ``open``)."""
    return db.session.execute(
        sa.select(Invitation).where(Invitation.token_digest == token_digest(token[:100]))
    ).scalar_one_or_none()


# --- member management ------------------------------------------------------------------------

ALREADY_MEMBER = _l("This person is already a member of the cell or has an open invitation.")
UNKNOWN_ORGANISATION = _l("Choose an organisation of the cell.")
OFFICER_FOR_POLICE = _l("The information officer sits for the local police: choose a police organisation.")
MANDATEE_NOT_POLICE = _l(
    "The mandatee stands in for the alderman for social affairs: not the alderman themselves, a guest expert "
    "or a member of the police (circular of 22 May 2018, seed 004)."
)
MANDATEE_ROLES_EXCLUDED = frozenset({Role.SOCIAL_ALDERMAN, Role.GUEST_EXPERT, Role.INFORMATION_OFFICER, Role.POLICE_CHIEF})
POLICE_COORDINATOR = _l(
    "A member of the police cannot coordinate the cell: the police never lead it, the official appointed by "
    "the mayor does (circular of 22 May 2018, seed 004)."
)
CLEARANCE_ONLY_OFFICER = _l("A security clearance is recorded for the information officer only.")
GUEST_END_REQUIRED = _l("A guest expert is invited for a limited time: give the last day.")
GUEST_END_RANGE = _l("Choose a last day from today to at most one year ahead.")
END_ONLY_GUEST = _l("Only guest experts have a last day.")
LAST_COORDINATOR = _l("The cell needs at least one active coordinator. Appoint another coordinator first.")
MEMBERSHIP_ENDED = _l("This membership has ended. Invite the person again instead.")
NOT_INVITED = _l("Only a pending invitation can be sent again.")
LANGUAGE_NOT_OFFERED = _l("Choose one of the cell's working languages.")
ORGANISATION_NAME_TAKEN = _l("The cell already has an organisation with this name.")
NAME_REQUIRED = _l("This field is required.")
MAYOR_MUNICIPALITY_REQUIRED = _l("The cell covers several municipalities: choose the one this mayor stands for.")
MUNICIPALITY_NOT_OURS = _l("Choose one of the cell's municipalities.")
MUNICIPALITY_ONLY_MAYOR = _l("Only a mayor stands for a municipality of the cell.")
MUNICIPALITY_ONLY_SEVERAL = _l("A mayor stands for a municipality only in a cell of several municipalities.")


def _mayor_taken(name: str):
    return _l("%(municipality)s has a mayor in the cell already (active or invited).", municipality=name)

_STATUS_ORDER = {"active": 0, "expired": 1, "invited": 2, "ended": 3}


def members_query(*, include_ended: bool) -> sa.Select:
    """The cell's members, active first (then expired guest experts, invited, ended), by name,
    sorted in the query so a page of them is one query; ended seats only for those who manage
    them."""
    expired = sa.and_(Membership.status == MembershipStatus.ACTIVE, Membership.expires_at.is_not(None),
                      Membership.expires_at <= utcnow())
    status_order = sa.case(
        (expired, _STATUS_ORDER["expired"]),
        *((Membership.status == status, _STATUS_ORDER[status.value]) for status in MembershipStatus),
        else_=len(_STATUS_ORDER),
    )
    label = sa.func.lower(sa.func.coalesce(sa.func.nullif(Account.display_name, ""), Account.email))
    query = (
        sa.select(Membership)
        .join(Account, Account.id == Membership.account_id)
        .options(contains_eager(Membership.account), joinedload(Membership.organisation))
        .order_by(status_order, label, Membership.id)
    )
    if not include_ended:
        query = query.where(Membership.status != MembershipStatus.ENDED)
    return query


def member_list(*, include_ended: bool) -> list[Membership]:
    """Every member of :func:`members_query` (forms' choices; the member list pages them)."""
    return list(db.session.scalars(members_query(include_ended=include_ended)))


def active_members(role: Role | None = None) -> list[Membership]:
    """The members who can act now (active, not expired, account not disabled), by id;
    only those of ``role`` when given."""
    query = sa.select(Membership).where(Membership.status == MembershipStatus.ACTIVE).order_by(Membership.id)
    if role is not None:
        query = query.where(Membership.role == role)
    return [membership for membership in db.session.scalars(query) if membership.usable]


def organisation_list() -> list[Organisation]:
    return list(db.session.scalars(sa.select(Organisation).order_by(sa.func.lower(Organisation.name))))


def _organisation(organisation_id: int) -> Organisation:
    """The cell's organisation ``organisation_id`` (another cell's ids are simply not found)."""
    organisation = db.session.scalar(sa.select(Organisation).where(Organisation.id == organisation_id))
    if organisation is None:
        raise ValidationError({"organisation_id": [UNKNOWN_ORGANISATION]})
    return organisation


def _last_day(day: date | None) -> datetime | None:
    """A guest expert's seat lasts through the whole of its last day (UTC)."""
    return datetime.combine(day, time(23, 59, 59)) if day is not None else None


def _check_seat(role: Role, organisation: Organisation, clearance_expires_on: date | None, expires_on: date | None,
                municipality_nis: str | None = None, seat: Membership | None = None, social_mandatee: bool = False) -> None:
    """The rules a seat at the table must meet, whether new or changed: all faults at once."""
    errors: dict[str, list] = _municipality_faults(role, municipality_nis, seat)
    if social_mandatee and (role in MANDATEE_ROLES_EXCLUDED or organisation.kind == OrganisationKind.POLICE):
        errors["social_mandatee"] = [MANDATEE_NOT_POLICE]
    if role == Role.COORDINATOR and organisation.kind == OrganisationKind.POLICE:
        errors["role"] = [POLICE_COORDINATOR]
    if role == Role.INFORMATION_OFFICER and organisation.kind != OrganisationKind.POLICE:
        errors["organisation_id"] = [OFFICER_FOR_POLICE]
    if clearance_expires_on is not None and role != Role.INFORMATION_OFFICER:
        errors["clearance_expires_on"] = [CLEARANCE_ONLY_OFFICER]
    today = utcnow().date()
    if role == Role.GUEST_EXPERT:
        if expires_on is None:
            errors["expires_on"] = [GUEST_END_REQUIRED]
        elif not today <= expires_on <= today + timedelta(days=GUEST_EXPERT_MAX_DAYS):
            errors["expires_on"] = [GUEST_END_RANGE]
    elif expires_on is not None:
        errors["expires_on"] = [END_ONLY_GUEST]
    if errors:
        raise ValidationError(errors)


def _municipality_faults(role: Role, nis_code: str | None, seat: Membership | None = None) -> dict[str, list]:
    """In a cell of several municipalities each mayor stands for one of them, and one mayor for
    each (seed 004: every municipality's mayor is responsible for its residents); a cell of one
    municipality has no such choice."""
    covered = db.session.get(Tenant, current_tenant_id()).municipalities
    if nis_code is None:
        if role == Role.MAYOR and len(covered) > 1:
            return {"municipality_nis": [MAYOR_MUNICIPALITY_REQUIRED]}
        return {}
    if role != Role.MAYOR:
        return {"municipality_nis": [MUNICIPALITY_ONLY_MAYOR]}
    if len(covered) <= 1:
        return {"municipality_nis": [MUNICIPALITY_ONLY_SEVERAL]}
    names = {municipality.nis_code: municipality.local_name for municipality in covered}
    if nis_code not in names:
        return {"municipality_nis": [MUNICIPALITY_NOT_OURS]}
    taken = sa.select(Membership.id).where(
        Membership.role == Role.MAYOR, Membership.municipality_nis == nis_code,
        Membership.status.in_([MembershipStatus.ACTIVE, MembershipStatus.INVITED]),
    )
    if seat is not None and seat.id is not None:
        taken = taken.where(Membership.id != seat.id)
    if db.session.scalar(taken.limit(1)) is not None:
        return {"municipality_nis": [_mayor_taken(names[nis_code])]}
    return {}


def _is_last_coordinator(membership: Membership) -> bool:
    """Would the cell be left without an active coordinator if this seat stopped being one?

    The other coordinators' rows are locked (PostgreSQL) so that two coordinators removing
    each other at the same moment cannot both succeed.
    """
    if membership.role != Role.COORDINATOR or membership.status != MembershipStatus.ACTIVE:
        return False
    others = db.session.scalars(
        sa.select(Membership.id)
        .where(
            Membership.role == Role.COORDINATOR,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.id != membership.id,
        )
        .with_for_update()
    ).all()
    return not others


def _mail_language(language: str | None) -> str:
    offered = g.tenant.languages
    if language is None:
        return offered[0]
    if language not in offered:
        raise ValidationError({"language": [LANGUAGE_NOT_OFFERED]})
    return language


def _send_invitation(membership: Membership, inviter: Membership, language: str) -> None:
    """Issue a fresh single-use link (older ones stop working) and mail it in ``language``."""
    token = create_invitation(membership, created_by=f"account:{inviter.account_id}")
    link = url_for("tenant.invitation", token=token, _external=True)
    subject, body = render_mail(
        "invitation", language, tenant=g.tenant, inviter=inviter.account.label, role=ROLE_LABELS[membership.role], link=link
    )
    send_mail(membership.account.email, subject, body, tenant_id=g.tenant.id)


def invite_member(
    *,
    email: str,
    role: Role,
    organisation_id: int,
    inviter: Membership,
    display_name: str = "",
    clearance_expires_on: date | None = None,
    expires_on: date | None = None,
    language: str | None = None,
    municipality_nis: str | None = None,
) -> Membership:
    """Give a person a seat, pending until they accept the mailed link.

    The account is global: a person already known elsewhere keeps their account and name. A
    person whose seat here ended gets that seat back (one row per person and cell), with a new
    privilege version so nothing from before carries over.
    """
    organisation = _organisation(organisation_id)
    account = find_account(email)
    membership = membership_of(account.id) if account is not None else None
    municipality_nis = (municipality_nis or "").strip() or None
    _check_seat(role, organisation, clearance_expires_on, expires_on, municipality_nis, membership)
    language = _mail_language(language)
    if membership is not None and membership.status != MembershipStatus.ENDED:
        raise ValidationError({"email": [ALREADY_MEMBER]})
    # An account known elsewhere keeps its own name: the inviter's goes on the seat only.
    account = account or get_or_create_account(email, display_name or "")
    returning = membership is not None
    if membership is None:
        membership = Membership(account=account, status=MembershipStatus.INVITED, privilege_version=1)
        db.session.add(membership)
    else:
        membership.status = MembershipStatus.INVITED
        membership.ended_at = None
        membership.privilege_version += 1
    membership.role = role
    membership.invited_name = (display_name or "").strip()
    membership.organisation = organisation
    membership.clearance_expires_on = clearance_expires_on
    membership.expires_at = _last_day(expires_on)
    membership.municipality_nis = municipality_nis
    db.session.flush()
    _send_invitation(membership, inviter, language)
    audit.record(
        "member.invited",
        subject=f"membership:{membership.id}",
        details={"role": role.value, "organisation": organisation.id, "returning": returning, "language": language,
                 **({"municipality_nis": municipality_nis} if municipality_nis else {})},
    )
    return membership


def resend_invitation(membership: Membership, inviter: Membership, language: str | None = None) -> None:
    """A new link for a pending invitation (the previous link stops working)."""
    if membership.status != MembershipStatus.INVITED:
        raise ValidationError(NOT_INVITED)
    language = _mail_language(language)
    _send_invitation(membership, inviter, language)
    audit.record("member.invitation_resent", subject=f"membership:{membership.id}", details={"language": language})


def change_membership(membership: Membership, changes: Mapping[str, Any]) -> list[str]:
    """Change role, organisation, clearance, last day or a mayor's municipality; returns the
    names of what changed.

    ``changes`` holds only what is to change (``role``, ``organisation_id``,
    ``clearance_expires_on``, ``expires_on``, ``municipality_nis``). A clearance, last day or
    municipality that no longer fits the new role is dropped unless given. Any change raises the
    privilege version: the member's open sessions get a new identifier on their next request.
    """
    if membership.status == MembershipStatus.ENDED:
        raise ValidationError(MEMBERSHIP_ENDED)
    role = changes.get("role", membership.role)
    organisation = _organisation(changes["organisation_id"]) if "organisation_id" in changes else membership.organisation
    clearance = changes.get(
        "clearance_expires_on", membership.clearance_expires_on if role == Role.INFORMATION_OFFICER else None
    )
    expires_on = changes.get("expires_on", membership.expires_on if role == Role.GUEST_EXPERT else None)
    municipality = changes.get("municipality_nis", membership.municipality_nis if role == Role.MAYOR else None)
    municipality = (municipality or "").strip() or None
    mandatee = bool(changes.get("social_mandatee", membership.social_mandatee))
    _check_seat(role, organisation, clearance, expires_on, municipality, membership, mandatee)
    if role != Role.COORDINATOR and _is_last_coordinator(membership):
        raise ValidationError({"role": [LAST_COORDINATOR]})
    new = {"role": role, "organisation_id": organisation.id, "clearance_expires_on": clearance, "expires_on": expires_on,
           "municipality_nis": municipality, "social_mandatee": mandatee}
    changed = [name for name, value in new.items() if getattr(membership, name) != value]
    if not changed:
        return []
    old_role = membership.role
    membership.role = role
    membership.organisation = organisation
    membership.clearance_expires_on = clearance
    membership.municipality_nis = municipality
    membership.social_mandatee = mandatee
    if "expires_on" in changed:
        membership.expires_at = _last_day(expires_on)
    membership.privilege_version += 1
    subject = f"membership:{membership.id}"
    if "role" in changed:
        audit.record("member.role_changed", subject=subject, details={"old_role": old_role.value, "new_role": role.value})
    others = [name for name in changed if name != "role"]
    if others:
        audit.record("member.changed", subject=subject, details={"fields": others, "organisation": organisation.id})
    return changed


def end_membership(membership: Membership, actor: Membership) -> int:
    """End a seat: open invitations are revoked and the person's sessions here end at once.

    Returns the number of sessions ended. The last active coordinator cannot be removed,
    not even by themselves: the cell would have nobody left to manage it.
    """
    if membership.status == MembershipStatus.ENDED:
        raise ValidationError(MEMBERSHIP_ENDED)
    if _is_last_coordinator(membership):
        raise ValidationError(LAST_COORDINATOR)
    now = utcnow()
    membership.status = MembershipStatus.ENDED
    membership.ended_at = now
    membership.privilege_version += 1
    for invitation in db.session.scalars(
        sa.select(Invitation).where(
            Invitation.membership_id == membership.id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None)
        )
    ):
        invitation.revoked_at = now
    ended = sessions.end_all_for(membership.account_id)
    audit.record(
        "member.removed",
        subject=f"membership:{membership.id}",
        details={"role": membership.role.value, "sessions_ended": ended, "own": membership.id == actor.id},
    )
    return ended


# --- organisations ----------------------------------------------------------------------------


def _organisation_name(name: str, keep: Organisation | None = None) -> str:
    """``name`` tidied, or a field error when empty or already used in the cell (any case)."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": [NAME_REQUIRED]})
    # SQLite's lower() folds ASCII only: the exact name is compared too (found by fuzzing: "Ä" twice).
    query = sa.select(Organisation.id).where(
        sa.or_(Organisation.name == name, sa.func.lower(Organisation.name) == name.lower()))
    if keep is not None:
        query = query.where(Organisation.id != keep.id)
    if db.session.scalar(query) is not None:
        raise ValidationError({"name": [ORGANISATION_NAME_TAKEN]})
    return name


def create_organisation(name: str, kind: OrganisationKind) -> Organisation:
    organisation = Organisation(name=_organisation_name(name), kind=kind)
    db.session.add(organisation)
    db.session.flush()
    audit.record("organisation.created", subject=f"organisation:{organisation.id}", details={"kind": kind.value})
    return organisation


def rename_organisation(organisation: Organisation, name: str) -> None:
    """A new name only: the kind stays, since rules (the information officer's seat) rest on it."""
    name = _organisation_name(name, keep=organisation)
    if name != organisation.name:
        organisation.name = name
        audit.record("organisation.renamed", subject=f"organisation:{organisation.id}")
