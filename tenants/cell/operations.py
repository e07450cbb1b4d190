"""The cell's organisation (*organisatie van de LIVC-R*): its form, tables, seats and partners.

A cell takes one of four forms (seed 001, "Mogelijkheid 1-4"): one integrated table; a
strategic and an operational table; a main table that sets up case teams; or a zonal cell of a
police zone with case teams. Each table has a chair, a secretary and seats. A seat is held by a
member of the cell or by an outside participant who is no livc user (the public prosecutor at
the strategic table, a head of service...), recorded by organisation and capacity, never by
name. The partner inventory lists the organisations the cell works with and how far each takes
part (*meewerken, meedenken, meeweten*).

The hard rules of the circular of 22 May 2018 (seed 004) hold here, whichever way a change
comes in:

- the police never chair a table ("het kan niet dat een LIVC-R wordt voorgezeten door de lokale
  politie"): the operational table is chaired by the official the mayor appointed;
- the public prosecutor sits at the strategic table only, at the prosecutor's own decision;
- intelligence and security services have no seat at all ("hebben geen plaats in een LIVC-R"):
  the information officer links the cell to them through the Local Task Force;
- the police coordinate nothing: no member of the police (the chief, the information officer or
  another police member) is a coordinator or the appointed official
  (:mod:`livc.tenants.members` refuses the police coordinator);
- the cell opens cases only once the legal minimum is present, its fixed participants
  (*vaste deelnemers*): the mayor (of each municipality) or the official the mayor appointed,
  the information officer with a valid security clearance (the police chief does not stand in),
  and the alderman for social affairs or their mandatee.

Cells that broke a rule before it was enforced are not changed: :func:`composition_problems`
says what to put right, on the coordinator's set-up page and the operator's progress.

A refusal raises marshmallow's ``ValidationError`` keyed by the form field at fault, all faults
at once, like :mod:`livc.tenants.members`. Tables, seats and inventory entries are removed by
marking them (``removed_at``): what later issues record (meetings, attendance) can still refer
to a table as it was, and audit subjects stay resolvable. Audit entries carry ids only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from marshmallow import ValidationError
from sqlalchemy.orm import joinedload, selectinload

from livc.platform import audit
from livc.platform.db import current_tenant_id, db
from livc.platform.roles import OrganisationKind, Role
from livc.platform.tenancy import Tenant, TenantKind
from livc.platform.timeutil import utcnow
from livc.tenants.cell.models import (
    POLICE_ROLES,
    TABLE_KINDS_BY_FORM,
    CellForm,
    CellProfile,
    Faults,
    Participation,
    PartnerInventoryEntry,
    PartnerKind,
    Table,
    TableKind,
    TableSeat,
    serves_as_operational,
)
from livc.tenants.members.models import Membership, MembershipStatus
from livc.tenants.members.operations import member_list

# --- messages --------------------------------------------------------------------------------

FIELD_REQUIRED = _l("This field is required.")
FORM_REQUIRED = _l("Choose the form of the cell first.")
ZONAL_ONLY_FOR_ZONE = _l("A zonal cell is the cell of a police zone for all its municipalities; this cell is not a police zone's.")
KIND_NOT_IN_FORM = _l("This kind of table does not belong to the form of the cell.")
INTEGRATED_ONE_TABLE = _l("An integrated cell works at a single table, and the cell has it already.")
INTEGRATED_TOO_MANY = _l("An integrated cell works at a single table: remove the other tables first.")
TABLE_NAME_TAKEN = _l("The cell already has a table with this name.")
UNKNOWN_MEMBER = _l("Choose a member of the cell.")
MEMBER_ENDED = _l("This person is no longer a member of the cell.")
GUEST_NOT_AT_TABLE = _l("A guest expert is invited for one case: add them to that case's team, not to a table.")
POLICE_CHAIRS_OPERATIONAL = _l(
    "The police may not chair the operational table: the official appointed by the mayor chairs it, "
    "in close consultation with the information officer (circular of 22 May 2018, seed 004)."
)
POLICE_CHAIRS_STRATEGIC = _l(
    "The police may not chair a table of the cell: the mayor leads the strategic table (circular of 22 May "
    "2018, seed 004)."
)
POLICE_OFFICIAL = _l(
    "A member of the police cannot be the appointed official: the mayor appoints an official who works in "
    "close consultation with the information officer (circular of 22 May 2018, seed 004)."
)
POLICE_COORDINATOR_IN_PLACE = _l(
    "A coordinator of the cell sits for the police: the police never lead the cell. Give the coordination to "
    "an official of the municipality and change this member's role (circular of 22 May 2018, seed 004)."
)
PROSECUTOR_STRATEGIC_ONLY = _l(
    "The public prosecutor never sits at the operational table: only at the strategic table, "
    "at the prosecutor's own decision."
)
INTELLIGENCE_NO_SEAT = _l(
    "Intelligence and security services have no place in the cell: the information officer links "
    "the cell to them through the Local Task Force."
)
MEMBER_OR_PARTICIPANT = _l("Choose a member of the cell or describe an outside participant, not both.")
SEAT_HOLDER_REQUIRED = _l("Choose a member of the cell or describe an outside participant.")
ALREADY_SEATED = _l("This member already sits at this table.")
OFFICIAL_NOT_COORDINATOR = _l("The appointed official is a cell coordinator: choose a coordinator of the cell.")
PARTNER_LISTED = _l("The inventory already lists this organisation.")

MINIMUM_MAYOR_OR_OFFICIAL = _l(
    "Neither the mayor nor an official appointed by the mayor takes part: the mayor joins the cell, or an active "
    "cell coordinator is appointed as the official (circular of 22 May 2018, seed 004)."
)


def _minimum_mayor_of(municipalities: list[str]) -> LazyString:
    return _l(
        "No official appointed by the mayors, and no active member stands as mayor for: %(municipalities)s "
        "(circular of 22 May 2018, seed 004).",
        municipalities=", ".join(municipalities),
    )


MINIMUM_INFORMATION_OFFICER = _l(
    "No information officer with a valid security clearance is an active member of the cell; the police chief "
    "does not stand in for them (circular of 22 May 2018, seed 004)."
)
MINIMUM_ALDERMAN = _l(
    "Neither the alderman for social affairs nor their mandatee is an active member of the cell (circular of "
    "22 May 2018, seed 004)."
)


def _tables_do_not_fit(names: list[str]) -> LazyString:
    return _l("These tables do not belong to this form: %(tables)s. Change their kind or remove them first.",
              tables=", ".join(names))


# --- reading ---------------------------------------------------------------------------------


def cell_profile() -> CellProfile | None:
    return db.session.scalar(sa.select(CellProfile))


def live_tables() -> list[Table]:
    """The cell's tables (removed ones aside), strategic first, each with its people loaded."""
    order = sa.case({TableKind.STRATEGIC: 0, TableKind.OPERATIONAL: 1, TableKind.MAIN: 1}, value=Table.kind)
    member = (joinedload(Membership.account), joinedload(Membership.organisation))
    query = (
        sa.select(Table)
        .where(Table.removed_at.is_(None))
        .order_by(order, sa.func.lower(Table.name), Table.id)
        .options(
            joinedload(Table.chair).options(*member),
            joinedload(Table.secretary).options(*member),
            selectinload(Table.seats).joinedload(TableSeat.membership).options(*member),
        )
    )
    return list(db.session.scalars(query).unique())


def partner_inventory() -> list[PartnerInventoryEntry]:
    """The inventory, those who work along first, then by name."""
    order = sa.case({level: rank for rank, level in enumerate(Participation)}, value=PartnerInventoryEntry.participation)
    return list(
        db.session.scalars(
            sa.select(PartnerInventoryEntry)
            .where(PartnerInventoryEntry.removed_at.is_(None))
            .order_by(order, sa.func.lower(PartnerInventoryEntry.organisation_name))
        )
    )


def seat_candidates() -> list[Membership]:
    """Members who may sit at, chair or take the minutes of a table: not ended, no guest experts."""
    return [m for m in member_list(include_ended=False) if m.role != Role.GUEST_EXPERT]


def official_candidates() -> list[Membership]:
    return [m for m in member_list(include_ended=False) if m.role == Role.COORDINATOR]


def sits_for_police(membership: Membership) -> bool:
    """Does this member sit for the police, by organisation or by role?"""
    return membership.organisation.kind == OrganisationKind.POLICE or membership.role in POLICE_ROLES


# --- the legal minimum -----------------------------------------------------------------------


def legal_minimum_problems() -> list[LazyString]:
    """What the law still requires before the cell may open cases (empty: nothing).

    The circular of 22 May 2018 (seed 004) names the fixed participants: "de burgemeester en/of
    de aangestelde medewerker belast met het dossier radicalisering, de information-officer, de
    schepen van sociale zaken of zijn gemandateerde". So: the official the mayor appointed, or
    else the mayor (of each municipality, in a cell of several); an information officer with a
    valid security clearance; the alderman for social affairs or their mandatee. Only active,
    usable memberships count: an invitation not yet accepted is nobody yet.
    """
    present = [
        m
        for m in db.session.scalars(
            sa.select(Membership)
            .where(
                Membership.status == MembershipStatus.ACTIVE,
                sa.or_(Membership.role.in_([Role.MAYOR, Role.INFORMATION_OFFICER, Role.SOCIAL_ALDERMAN]),
                       Membership.social_mandatee.is_(True)),
            )
            .options(joinedload(Membership.account))
        )
        if m.usable
    ]
    problems = []
    if not _official_in_office(cell_profile()):
        covered = db.session.get(Tenant, current_tenant_id()).municipalities
        if len(covered) > 1:
            standing = {m.municipality_nis for m in present if m.role == Role.MAYOR}
            missing = [municipality.local_name for municipality in covered if municipality.nis_code not in standing]
            if missing:
                problems.append(_minimum_mayor_of(missing))
        elif not any(m.role == Role.MAYOR for m in present):
            problems.append(MINIMUM_MAYOR_OR_OFFICIAL)
    if not any(m.role == Role.INFORMATION_OFFICER and m.clearance_valid for m in present):
        problems.append(MINIMUM_INFORMATION_OFFICER)
    if not any(m.role == Role.SOCIAL_ALDERMAN or m.social_mandatee for m in present):
        problems.append(MINIMUM_ALDERMAN)
    return problems


def composition_problems() -> list[LazyString]:
    """Rules of seed 004 the cell's composition breaks now (empty: none), for the coordinator
    and the operator to see: a coordinator or the appointed official who sits for the police,
    a table chaired by the police. Set before the rules were enforced, or changed since;
    nothing is changed silently. The messages name no one."""
    problems: list[LazyString] = []
    coordinators = db.session.scalars(
        sa.select(Membership).where(Membership.role == Role.COORDINATOR, Membership.status != MembershipStatus.ENDED)
        .options(joinedload(Membership.organisation))
    )
    if any(sits_for_police(m) for m in coordinators):
        problems.append(POLICE_COORDINATOR_IN_PLACE)
    profile = cell_profile()
    official = profile.appointed_official if profile is not None else None
    if official is not None and sits_for_police(official):
        problems.append(POLICE_OFFICIAL)
    for table in live_tables():
        for fault in table_problems(table):
            if fault in (POLICE_CHAIRS_OPERATIONAL, POLICE_CHAIRS_STRATEGIC) and fault not in problems:
                problems.append(fault)
    return problems


def can_open_cases() -> bool:
    return not legal_minimum_problems()


def _official_in_office(profile: CellProfile | None) -> bool:
    official = profile.appointed_official if profile is not None else None
    return official is not None and official.role == Role.COORDINATOR and official.usable


# --- rules -----------------------------------------------------------------------------------


def _fault_of(membership_id: int, check: Callable[[Membership], LazyString | None]) -> LazyString | None:
    """Why the cell's member ``membership_id`` may not take this place, by ``check`` (None: they
    may). Another cell's ids are simply not found."""
    membership = db.session.scalar(sa.select(Membership).where(Membership.id == membership_id))
    return UNKNOWN_MEMBER if membership is None else check(membership)


def _member_fault(membership: Membership) -> LazyString | None:
    """Why this member may not take a place at a table (None: they may)."""
    if membership.status == MembershipStatus.ENDED:
        return MEMBER_ENDED
    if membership.role == Role.GUEST_EXPERT:
        return GUEST_NOT_AT_TABLE
    return None


def _chair_fault(kind: TableKind, chair: Membership) -> LazyString | None:
    """The police never chair (seed 004): not the operational table, not the cell at all."""
    fault = _member_fault(chair)
    if fault is None and sits_for_police(chair):
        return POLICE_CHAIRS_OPERATIONAL if serves_as_operational(kind) else POLICE_CHAIRS_STRATEGIC
    return fault


def _participant_fault(kind: TableKind, participant: PartnerKind) -> LazyString | None:
    """Where the services of the Local Task Force may sit: the prosecutor at the strategic
    table only, intelligence services nowhere (seed 004)."""
    if participant == PartnerKind.INTELLIGENCE_SERVICE:
        return INTELLIGENCE_NO_SEAT
    if participant == PartnerKind.PUBLIC_PROSECUTOR and kind != TableKind.STRATEGIC:
        return PROSECUTOR_STRATEGIC_ONLY
    return None


def _people_faults(kind: TableKind, chair_id: int | None, secretary_id: int | None) -> Faults:
    """The chair's and the secretary's faults for a table of ``kind``, by form field."""
    errors: Faults = {}
    if chair_id is not None and (fault := _fault_of(chair_id, partial(_chair_fault, kind))):
        errors["chair_membership_id"] = [fault]
    if secretary_id is not None and (fault := _fault_of(secretary_id, _member_fault)):
        errors["secretary_membership_id"] = [fault]
    return errors


def _seated_fault(kind: TableKind, table: Table) -> LazyString | None:
    """Would everyone seated at ``table`` still be in their place at a table of ``kind``?"""
    for seat in table.seats:
        if seat.participant_kind is not None and (fault := _participant_fault(kind, seat.participant_kind)):
            return fault
    return None


def table_problems(table: Table) -> list[LazyString]:
    """Rules a table breaks now because a member changed since (a chair who joined the police,
    a secretary whose seat ended): shown on the page so the coordinator puts it right."""
    faults = _people_faults(table.kind, table.chair_membership_id, table.secretary_membership_id)
    return [fault for messages in faults.values() for fault in messages]


def new_table_fault() -> LazyString | None:
    """Why the cell cannot add a table now, whatever its kind (None: it can)."""
    profile = cell_profile()
    if profile is None:
        return FORM_REQUIRED
    if profile.form == CellForm.INTEGRATED and live_tables():
        return INTEGRATED_ONE_TABLE
    return None


def _kind_fault(kind: TableKind, creating: bool) -> LazyString | None:
    profile = cell_profile()
    if profile is None:
        return FORM_REQUIRED
    if kind not in TABLE_KINDS_BY_FORM[profile.form]:
        return KIND_NOT_IN_FORM
    return new_table_fault() if creating else None


def table_kinds_offered(table: Table | None = None) -> list[TableKind]:
    """The kinds of table a form offers: only those the rules accept, so that its default is one.

    For a new table, the kinds of the cell's form, the working table (operational or main, the
    mandatory one) first unless the cell has it already; none when no table can be added. For a
    table, the kinds it may change to with everyone seated at it (the prosecutor keeps a table
    strategic), its own first.
    """
    profile = cell_profile()
    kinds = list(TABLE_KINDS_BY_FORM[profile.form]) if profile is not None else []
    if table is None:
        if new_table_fault() is not None:
            return []
        present = {existing.kind for existing in live_tables()}
        return sorted(kinds, key=lambda kind: (kind in present, not serves_as_operational(kind)))
    others = [kind for kind in kinds if kind != table.kind and _seated_fault(kind, table) is None]
    return [table.kind, *others]


def participant_kinds_offered(table: Table) -> list[PartnerKind]:
    """The kinds of outside participant who may sit at ``table``: never an intelligence service,
    the public prosecutor at the strategic table only."""
    return [kind for kind in PartnerKind if _participant_fault(table.kind, kind) is None]


def inventory_kinds_offered() -> list[PartnerKind]:
    """The kinds of organisation the partner inventory lists: every one but the intelligence
    services, which have no place in the cell."""
    return [kind for kind in PartnerKind if _inventory_kind_fault(kind) is None]


def _inventory_kind_fault(kind: PartnerKind) -> LazyString | None:
    return INTELLIGENCE_NO_SEAT if kind == PartnerKind.INTELLIGENCE_SERVICE else None


def _form_fault(form: CellForm) -> LazyString | None:
    if form == CellForm.ZONAL_WITH_CASE_TEAMS and db.session.get(Tenant, current_tenant_id()).kind != TenantKind.POLICE_ZONE:
        return ZONAL_ONLY_FOR_ZONE
    tables = live_tables()
    misfits = [table.name for table in tables if table.kind not in TABLE_KINDS_BY_FORM[form]]
    if misfits:
        return _tables_do_not_fit(misfits)
    if form == CellForm.INTEGRATED and len(tables) > 1:
        return INTEGRATED_TOO_MANY
    return None


def _raise(errors: Faults) -> None:
    if errors:
        raise ValidationError(errors)


def _tidy(text: str | None) -> str | None:
    """Spaces folded, and empty text as None (optional fields)."""
    text = " ".join((text or "").split())
    return text or None


def _subject(row: Any) -> str:
    """Audit subjects are named as access refusals name them: ``table:12``, ``tableseat:3``."""
    return f"{type(row).__name__.lower()}:{row.id}"


def _changed(row: Any, new: Mapping[str, Any]) -> list[str]:
    return [name for name, value in new.items() if getattr(row, name) != value]


# --- the profile -----------------------------------------------------------------------------


def _official_fault(official: Membership) -> LazyString | None:
    if official.status == MembershipStatus.ENDED:
        return MEMBER_ENDED
    if sits_for_police(official):
        return POLICE_OFFICIAL
    if official.role != Role.COORDINATOR:
        return OFFICIAL_NOT_COORDINATOR
    return None


def change_profile(changes: Mapping[str, Any]) -> list[str]:
    """Set the form of the cell and/or its appointed official; returns what changed.

    ``changes`` holds what is to change (``form``, ``appointed_official_id``; None clears the
    official). The profile is made on the first change, which must name a form.
    """
    profile = cell_profile()
    form = changes.get("form", profile.form if profile else None)
    official_id = changes.get("appointed_official_id", profile.appointed_official_id if profile else None)
    errors: Faults = {}
    if form is None:
        errors["form"] = [FORM_REQUIRED]
    elif (fault := _form_fault(form)) is not None:
        errors["form"] = [fault]
    if official_id is not None and (fault := _fault_of(official_id, _official_fault)):
        errors["appointed_official_id"] = [fault]
    _raise(errors)
    profile = profile or CellProfile()  # added below, once it has its form
    new = {"form": form, "appointed_official_id": official_id}
    changed = _changed(profile, new)
    if not changed:
        return []
    profile.form, profile.appointed_official_id = form, official_id
    profile.updated_at = utcnow()
    db.session.add(profile)
    db.session.flush()
    db.session.expire(profile, ["appointed_official"])
    audit.record(
        "cell.profile_changed",
        subject=_subject(profile),
        details={"fields": changed, "form": form.value, "appointed_official": official_id},
    )
    return changed


# --- the cell's colour ----------------------------------------------------------------------

#: WCAG 2.1 1.4.11 (non-text contrast): the band and the cards' edges must stand out from white.
COLOUR_CONTRAST_MIN = 3.0


def contrast_with_white(colour: str) -> float:
    """The contrast ratio (WCAG 2.1) of a "#rrggbb" colour against white."""

    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(colour[index:index + 2]) for index in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def change_colour(colour: str | None) -> bool:
    """Set the cell's own colour (a design token of its pages), or back to the platform's with
    None; returns whether it changed. Refused when it would not stand out from white."""
    if colour is not None and (ratio := contrast_with_white(colour)) < COLOUR_CONTRAST_MIN:
        raise ValidationError({"colour": [_l(
            "Choose a darker colour: it must stand out from white at least 3 to 1, and this one does %(ratio)s to 1.",
            ratio=f"{ratio:.1f}")]})
    tenant = db.session.get(Tenant, current_tenant_id())
    colour = colour.lower() if colour else None
    if tenant.colour == colour:
        return False
    tenant.colour = colour
    audit.record("cell.colour_changed", subject=f"tenant:{tenant.id}", details={"colour": colour})
    return True


# --- tables ----------------------------------------------------------------------------------


def _table_name_taken(name: str, keep: Table | None) -> bool:
    query = sa.select(Table.id).where(Table.removed_at.is_(None), sa.func.lower(Table.name) == name.lower())
    if keep is not None:
        query = query.where(Table.id != keep.id)
    return db.session.scalar(query) is not None


def _check_table(table: Table | None, values: Mapping[str, Any]) -> None:
    """The table as it would be (new when ``table`` is None) meets every rule, or nothing happens."""
    kind = values["kind"]
    errors: Faults = {}
    fault = _kind_fault(kind, creating=table is None)
    if fault is None and table is not None:
        fault = _seated_fault(kind, table)
    if fault is not None:
        errors["kind"] = [fault]
    if not values["name"]:
        errors["name"] = [FIELD_REQUIRED]
    elif _table_name_taken(values["name"], keep=table):
        errors["name"] = [TABLE_NAME_TAKEN]
    errors.update(_people_faults(kind, values["chair_membership_id"], values["secretary_membership_id"]))
    _raise(errors)


def _table_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": values["kind"],
        "name": _tidy(values.get("name")) or "",
        "chair_membership_id": values.get("chair_membership_id"),
        "secretary_membership_id": values.get("secretary_membership_id"),
        "cadence": _tidy(values.get("cadence")),
    }


def create_table(**values: Any) -> Table:
    """A new table of a kind the cell's form has: ``kind``, ``name``, optional
    ``chair_membership_id``, ``secretary_membership_id`` and ``cadence``."""
    new = _table_values(values)
    _check_table(None, new)
    table = Table(**new)
    db.session.add(table)
    db.session.flush()
    audit.record(
        "cell.table_created",
        subject=_subject(table),
        details={"kind": table.kind.value, "chair": table.chair_membership_id, "secretary": table.secretary_membership_id},
    )
    return table


def change_table(table: Table, changes: Mapping[str, Any]) -> list[str]:
    """Change kind, name, chair, secretary or cadence; returns the names of what changed.

    ``changes`` holds what is to change (None clears the chair, secretary or cadence).
    """
    current = {name: getattr(table, name) for name in ("kind", "name", "chair_membership_id", "secretary_membership_id", "cadence")}
    new = _table_values({**current, **changes})
    _check_table(table, new)
    changed = _changed(table, new)
    if not changed:
        return []
    for name in changed:
        setattr(table, name, new[name])
    table.updated_at = utcnow()
    db.session.flush()
    db.session.expire(table, ["chair", "secretary"])
    audit.record(
        "cell.table_changed",
        subject=_subject(table),
        details={"fields": changed, "chair": table.chair_membership_id, "secretary": table.secretary_membership_id},
    )
    return changed


def remove_table(table: Table) -> None:
    """The table stops; it is kept, marked removed, for what refers to it."""
    table.removed_at = utcnow()
    audit.record("cell.table_removed", subject=_subject(table), details={"kind": table.kind.value})


# --- seats -----------------------------------------------------------------------------------


def _seat_of(table: Table, membership_id: int) -> TableSeat | None:
    """This member's seat at the table, removed or not (one row per member and table)."""
    return db.session.scalar(
        sa.select(TableSeat).where(TableSeat.table_id == table.id, TableSeat.membership_id == membership_id)
    )


def _seat_faults(table: Table, membership_id: int | None, kind: PartnerKind | None, organisation: str | None) -> Faults:
    if membership_id is not None:
        if kind is not None or organisation is not None:
            return {"membership_id": [MEMBER_OR_PARTICIPANT]}
        fault = _fault_of(membership_id, _member_fault)
        seat = _seat_of(table, membership_id) if fault is None else None
        if seat is not None and seat.removed_at is None:
            fault = ALREADY_SEATED
        return {"membership_id": [fault]} if fault is not None else {}
    if kind is None and organisation is None:
        return {"membership_id": [SEAT_HOLDER_REQUIRED]}
    errors: Faults = {}
    fault = FIELD_REQUIRED if kind is None else _participant_fault(table.kind, kind)
    if fault is not None:
        errors["participant_kind"] = [fault]
    if organisation is None:
        errors["participant_organisation"] = [FIELD_REQUIRED]
    return errors


def add_seat(
    table: Table,
    *,
    membership_id: int | None = None,
    participant_kind: PartnerKind | None = None,
    participant_organisation: str | None = None,
    capacity: str | None = None,
) -> TableSeat:
    """Seat a member, or an outside participant by kind and organisation, at ``table``.

    A member who sat here before gets their old seat back (one row per member and table).
    """
    organisation, capacity = _tidy(participant_organisation), _tidy(capacity)
    _raise(_seat_faults(table, membership_id, participant_kind, organisation))
    seat = _seat_of(table, membership_id) if membership_id is not None else None
    if seat is None:
        seat = TableSeat(table_id=table.id, membership_id=membership_id)
        db.session.add(seat)
    seat.participant_kind, seat.participant_organisation = participant_kind, organisation
    seat.capacity, seat.removed_at = capacity, None
    db.session.flush()
    db.session.expire(table, ["seats"])
    who = {"membership": membership_id} if membership_id is not None else {"participant_kind": participant_kind.value}
    audit.record("cell.seat_added", subject=_subject(seat), details={"table": table.id, **who})
    return seat


def remove_seat(seat: TableSeat) -> None:
    seat.removed_at = utcnow()
    db.session.flush()
    db.session.expire(seat.table, ["seats"])
    audit.record("cell.seat_removed", subject=_subject(seat), details={"table": seat.table_id})


# --- the partner inventory -------------------------------------------------------------------


def _partner_faults(entry: PartnerInventoryEntry | None, values: Mapping[str, Any]) -> Faults:
    errors: Faults = {}
    name = values["organisation_name"]
    query = sa.select(PartnerInventoryEntry.id).where(
        PartnerInventoryEntry.removed_at.is_(None),
        sa.func.lower(PartnerInventoryEntry.organisation_name) == name.lower(),
    )
    if entry is not None:
        query = query.where(PartnerInventoryEntry.id != entry.id)
    if not name:
        errors["organisation_name"] = [FIELD_REQUIRED]
    elif db.session.scalar(query) is not None:
        errors["organisation_name"] = [PARTNER_LISTED]
    if (fault := _inventory_kind_fault(values["kind"])) is not None:
        errors["kind"] = [fault]
    return errors


def _partner_values(values: Mapping[str, Any]) -> dict[str, Any]:
    notes = (values.get("notes") or "").strip()
    return {
        "organisation_name": _tidy(values.get("organisation_name")) or "",
        "kind": values["kind"],
        "participation": values["participation"],
        "contact_role": _tidy(values.get("contact_role")),
        "notes": notes or None,
    }


def add_partner(**values: Any) -> PartnerInventoryEntry:
    """List an organisation: ``organisation_name``, ``kind``, ``participation``, optional
    ``contact_role`` (a function, not a name) and ``notes``."""
    new = _partner_values(values)
    _raise(_partner_faults(None, new))
    entry = PartnerInventoryEntry(**new)
    db.session.add(entry)
    db.session.flush()
    audit.record(
        "cell.partner_added",
        subject=_subject(entry),
        details={"kind": entry.kind.value, "participation": entry.participation.value},
    )
    return entry


def change_partner(entry: PartnerInventoryEntry, changes: Mapping[str, Any]) -> list[str]:
    """Change an inventory entry; returns the names of what changed."""
    current = {name: getattr(entry, name) for name in ("organisation_name", "kind", "participation", "contact_role", "notes")}
    new = _partner_values({**current, **changes})
    _raise(_partner_faults(entry, new))
    changed = _changed(entry, new)
    if not changed:
        return []
    for name in changed:
        setattr(entry, name, new[name])
    entry.updated_at = utcnow()
    audit.record(
        "cell.partner_changed",
        subject=_subject(entry),
        details={"fields": changed, "participation": entry.participation.value},
    )
    return changed


def remove_partner(entry: PartnerInventoryEntry) -> None:
    entry.removed_at = utcnow()
    audit.record("cell.partner_removed", subject=_subject(entry))
