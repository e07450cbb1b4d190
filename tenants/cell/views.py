"""The cell's organisation: one page for the members of the table, forms and an API to manage it.

Views only parse and answer. The rules live in :mod:`livc.tenants.cell`; a refusal becomes a 422
page that keeps what was typed and shows each field's message, or a 422 JSON body naming the
fields. Rows are loaded inside the cell, so another cell's ids answer like ids that do not exist.

Removed tables, seats and inventory entries stay loadable by the guard, so access is decided
before anything else (someone without the right gets 403 whether or not a row was removed);
whoever has the right then gets 404 for a removed row, as for one that never existed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import NotFound

from livc.platform.api import load_body
from livc.platform.db import db
from livc.platform.forms import apply_or_422, every_field, render_form, submit_form
from livc.platform.openapi import documented
from livc.platform.policy import Action, decide
from livc.tenants.access import guard
from livc.tenants.cell.models import (
    CELL_FORM_LABELS,
    PARTICIPATION_LABELS,
    PARTNER_KIND_LABELS,
    TABLE_KIND_LABELS,
    CellProfile,
    PartnerInventoryEntry,
    Table,
    TableSeat,
)
from livc.tenants.cell.operations import (
    add_partner,
    add_seat,
    cell_profile,
    change_colour,
    change_partner,
    change_profile,
    change_table,
    composition_problems,
    create_table,
    inventory_kinds_offered,
    legal_minimum_problems,
    live_tables,
    new_table_fault,
    official_candidates,
    participant_kinds_offered,
    partner_inventory,
    remove_partner,
    remove_seat,
    remove_table,
    seat_candidates,
    table_kinds_offered,
    table_problems,
)
from livc.tenants.cell.schemas import (
    ColourSchema,
    LegalMinimumOut,
    MunicipalityOut,
    PartnerOut,
    PartnerSchema,
    ProfileOut,
    ProfileSchema,
    SeatOut,
    SeatSchema,
    StructureAnswer,
    TableOut,
    TableSchema,
)
from livc.tenants.web import blueprint

CONFIRM = _l("Tick the box to confirm.")


# --- loading ---------------------------------------------------------------------------------


def _load(model, row_id: int):
    row = db.session.scalar(sa.select(model).where(model.id == row_id))
    if row is None:
        raise NotFound()
    return row


def _table(table_id: int) -> Table:
    return _load(Table, table_id)


def _seat(seat_id: int) -> TableSeat:
    return _load(TableSeat, seat_id)


def _partner(partner_id: int) -> PartnerInventoryEntry:
    return _load(PartnerInventoryEntry, partner_id)


def _live(row):
    """``row`` unless it was removed: then 404, as for a row that never existed."""
    if row.removed:
        raise NotFound()
    return row


# --- shared ----------------------------------------------------------------------------------


def _may_manage() -> bool:
    return bool(decide(g.person, Action.CELL_STRUCTURE_MANAGE))




def _labels() -> dict:
    return {
        "form_labels": CELL_FORM_LABELS,
        "table_kind_labels": TABLE_KIND_LABELS,
        "partner_kind_labels": PARTNER_KIND_LABELS,
        "participation_labels": PARTICIPATION_LABELS,
    }


def _choices(labels: dict, offered=None) -> list[tuple[str, Any]]:
    """The options of a select, in ``offered``'s order when given (only what the rules accept)."""
    keys = labels if offered is None else offered
    return [(key.value, labels[key]) for key in keys]


def _people(members) -> list[tuple[int, str]]:
    return [(m.id, f"{m.account.label} ({m.organisation.name})") for m in members]


# --- the page --------------------------------------------------------------------------------


@blueprint.get("/organisation")
@guard(Action.CELL_STRUCTURE_VIEW)
def cell_structure():
    return render_template(
        "tenants/cell_structure.html",
        profile=cell_profile(),
        tables=live_tables(),
        table_problems=table_problems,
        missing=legal_minimum_problems(),
        composition=composition_problems(),
        partners=partner_inventory(),
        manage=_may_manage(),
        no_new_table=new_table_fault(),
        **_labels(),
    )


@blueprint.route("/organisation/profile", methods=["GET", "POST"])
@guard(Action.CELL_STRUCTURE_MANAGE)
def cell_profile_edit():
    context = {
        "profile": cell_profile(),
        "forms": _choices(CELL_FORM_LABELS),
        "officials": _people(official_candidates()),
    }
    if request.method == "GET":
        return render_form("tenants/cell_profile.html", **context)
    schema = ProfileSchema()
    _, errors = submit_form(schema, lambda values: change_profile(every_field(values, schema)))
    if errors:
        return render_form("tenants/cell_profile.html", 422, errors, **context)
    flash(_l("The form of the cell and its appointed official were saved."), "info")
    return redirect(url_for("tenant.cell_structure"))


@blueprint.route("/organisation/colour", methods=["GET", "POST"])
@guard(Action.CELL_STRUCTURE_MANAGE)
def cell_colour():
    """The cell's own colour on its pages (the header's band, the dashboards' cards)."""
    if request.method == "GET":
        return render_form("tenants/cell_colour.html")
    schema = ColourSchema()
    _, errors = submit_form(schema, lambda values: change_colour(None if values.get("reset") else values.get("colour")))
    if errors:
        return render_form("tenants/cell_colour.html", 422, errors)
    flash(_l("The cell's colour was saved."), "info")
    return redirect(url_for("tenant.cell_structure"))


# --- pages: tables and seats -----------------------------------------------------------------


def _table_context(table: Table | None, failed: str | None = None) -> dict:
    members = _people(seat_candidates())
    return {
        "table": table,
        "failed": failed,
        "kinds": _choices(TABLE_KIND_LABELS, table_kinds_offered(table)),
        "no_new_table": new_table_fault() if table is None else None,
        "members": members,
        "participant_kinds": _choices(PARTNER_KIND_LABELS, participant_kinds_offered(table)) if table is not None else [],
        "problems": table_problems(table) if table is not None else [],
        **_labels(),
    }


@blueprint.route("/organisation/tables/new", methods=["GET", "POST"])
@guard(Action.CELL_STRUCTURE_MANAGE)
def cell_table_new():
    if request.method == "GET":
        return render_form("tenants/cell_table.html", **_table_context(None))
    table, errors = submit_form(TableSchema(), lambda values: create_table(**values))
    if errors:
        return render_form("tenants/cell_table.html", 422, errors, **_table_context(None, "table"))
    flash(_l("The table was added. Seat its members now."), "info")
    return redirect(url_for("tenant.cell_table_edit", table_id=table.id))


@blueprint.route("/organisation/tables/<int:table_id>", methods=["GET", "POST"])
@guard(Action.CELL_STRUCTURE_MANAGE, load=_table)
def cell_table_edit(table_id: int):
    table = _live(g.resource)
    if request.method == "GET":
        return render_form("tenants/cell_table.html", **_table_context(table))
    schema = TableSchema()
    _, errors = submit_form(schema, lambda values: change_table(table, every_field(values, schema)))
    if errors:
        return render_form("tenants/cell_table.html", 422, errors, **_table_context(table, "table"))
    flash(_l("The table was saved."), "info")
    return redirect(url_for("tenant.cell_structure"))


@blueprint.post("/organisation/tables/<int:table_id>/seats")
@guard(Action.CELL_STRUCTURE_MANAGE, load=_table)
def cell_seat_add(table_id: int):
    table = _live(g.resource)
    _, errors = submit_form(SeatSchema(), lambda values: add_seat(table, **values))
    if errors:
        return render_form("tenants/cell_table.html", 422, errors, **_table_context(table, "seat"))
    flash(_l("The seat was added."), "info")
    return redirect(url_for("tenant.cell_table_edit", table_id=table.id))


@blueprint.post("/organisation/seats/<int:seat_id>/remove")
@guard(Action.CELL_STRUCTURE_MANAGE, load=_seat)
def cell_seat_remove(seat_id: int):
    seat = _live(g.resource)
    remove_seat(seat)
    flash(_l("The seat was removed."), "info")
    return redirect(url_for("tenant.cell_table_edit", table_id=seat.table_id))


@blueprint.post("/organisation/tables/<int:table_id>/remove")
@guard(Action.CELL_STRUCTURE_MANAGE, load=_table)
def cell_table_remove(table_id: int):
    table = _live(g.resource)
    if request.form.get("confirm") != "yes":
        return render_form("tenants/cell_table.html", 422, {"confirm": [str(CONFIRM)]}, **_table_context(table, "remove"))
    remove_table(table)
    flash(_l("The table was removed."), "info")
    return redirect(url_for("tenant.cell_structure"))


# --- pages: the partner inventory ------------------------------------------------------------


def _partner_context(entry: PartnerInventoryEntry | None, failed: str | None = None) -> dict:
    return {
        "entry": entry,
        "failed": failed,
        "kinds": _choices(PARTNER_KIND_LABELS, inventory_kinds_offered()),
        "levels": _choices(PARTICIPATION_LABELS),
    }


@blueprint.route("/organisation/partners/new", methods=["GET", "POST"])
@guard(Action.CELL_STRUCTURE_MANAGE)
def cell_partner_new():
    if request.method == "GET":
        return render_form("tenants/cell_partner.html", **_partner_context(None))
    _, errors = submit_form(PartnerSchema(), lambda values: add_partner(**values))
    if errors:
        return render_form("tenants/cell_partner.html", 422, errors, **_partner_context(None, "partner"))
    flash(_l("The partner was added to the inventory."), "info")
    return redirect(url_for("tenant.cell_structure"))


@blueprint.route("/organisation/partners/<int:partner_id>", methods=["GET", "POST"])
@guard(Action.CELL_STRUCTURE_MANAGE, load=_partner)
def cell_partner_edit(partner_id: int):
    entry = _live(g.resource)
    if request.method == "GET":
        return render_form("tenants/cell_partner.html", **_partner_context(entry))
    schema = PartnerSchema()
    _, errors = submit_form(schema, lambda values: change_partner(entry, every_field(values, schema)))
    if errors:
        return render_form("tenants/cell_partner.html", 422, errors, **_partner_context(entry, "partner"))
    flash(_l("The inventory was saved."), "info")
    return redirect(url_for("tenant.cell_structure"))


@blueprint.post("/organisation/partners/<int:partner_id>/remove")
@guard(Action.CELL_STRUCTURE_MANAGE, load=_partner)
def cell_partner_remove(partner_id: int):
    entry = _live(g.resource)
    if request.form.get("confirm") != "yes":
        return render_form("tenants/cell_partner.html", 422, {"confirm": [str(CONFIRM)]}, **_partner_context(entry, "remove"))
    remove_partner(entry)
    flash(_l("The partner was removed from the inventory."), "info")
    return redirect(url_for("tenant.cell_structure"))


# --- JSON API --------------------------------------------------------------------------------


def _profile_json():
    return jsonify(profile=ProfileOut().dump(cell_profile() or CellProfile()))


def _table_json(table: Table, status: int = 200):
    response = jsonify(table=TableOut().dump(table))
    if status == 201:
        response.headers["Location"] = url_for("tenant.api_cell_table", table_id=table.id)
    return response, status


def _seat_json(seat: TableSeat, status: int = 200):
    response = jsonify(seat=SeatOut().dump(seat))
    if status == 201:
        response.headers["Location"] = url_for("tenant.api_cell_seat", seat_id=seat.id)
    return response, status


def _partner_json(entry: PartnerInventoryEntry, status: int = 200):
    response = jsonify(partner=PartnerOut().dump(entry))
    if status == 201:
        response.headers["Location"] = url_for("tenant.api_cell_partner", partner_id=entry.id)
    return response, status


@blueprint.get("/api/organisation")
@documented(answer=StructureAnswer, summary="The cell's organisation: profile, municipalities, tables, legal minimum, partners.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_VIEW)
def api_cell_structure():
    """Everything the page shows, in one answer."""
    return jsonify(
        profile=ProfileOut().dump(cell_profile() or CellProfile()),
        municipalities=MunicipalityOut(many=True).dump(g.tenant.municipalities),
        tables=TableOut(many=True).dump(live_tables()),
        legal_minimum=LegalMinimumOut().dump({"missing": legal_minimum_problems()}),
        composition_problems=[str(problem) for problem in composition_problems()],
        partners=PartnerOut(many=True).dump(partner_inventory()),
    )


@blueprint.get("/api/organisation/legal-minimum")
@documented(answer=LegalMinimumOut, envelope="legal_minimum", summary="What the cell still misses to open cases.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_VIEW)
def api_cell_legal_minimum():
    return jsonify(legal_minimum=LegalMinimumOut().dump({"missing": legal_minimum_problems()}))


@blueprint.get("/api/organisation/profile")
@documented(answer=ProfileOut, envelope="profile", summary="The cell's profile.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_VIEW)
def api_cell_profile():
    return _profile_json()


@blueprint.patch("/api/organisation/profile")
@documented(body=ProfileSchema(partial=True), answer=ProfileOut, envelope="profile", summary="Change the cell's profile.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE)
def api_cell_profile_change():
    apply_or_422(change_profile, load_body(ProfileSchema(partial=True)))
    return _profile_json()


@blueprint.get("/api/organisation/tables")
@documented(answer=TableOut, many=True, envelope="tables", summary="The cell's tables.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_VIEW)
def api_cell_tables():
    return jsonify(tables=TableOut(many=True).dump(live_tables()))


@blueprint.post("/api/organisation/tables")
@documented(body=TableSchema, answer=TableOut, envelope="table", status=201, summary="Add a table.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE)
def api_cell_table_create():
    return _table_json(apply_or_422(create_table, **load_body(TableSchema())), 201)


@blueprint.get("/api/organisation/tables/<int:table_id>")
@documented(answer=TableOut, envelope="table", summary="A table.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_VIEW, load=_table)
def api_cell_table(table_id: int):
    return _table_json(_live(g.resource))


@blueprint.patch("/api/organisation/tables/<int:table_id>")
@documented(body=TableSchema(partial=True), answer=TableOut, envelope="table", summary="Change a table.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE, load=_table)
def api_cell_table_change(table_id: int):
    table = _live(g.resource)
    apply_or_422(change_table, table, load_body(TableSchema(partial=True)))
    return _table_json(table)


@blueprint.delete("/api/organisation/tables/<int:table_id>")
@documented(status=204, summary="Remove a table.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE, load=_table)
def api_cell_table_remove(table_id: int):
    remove_table(_live(g.resource))
    return "", 204


@blueprint.post("/api/organisation/tables/<int:table_id>/seats")
@documented(body=SeatSchema, answer=SeatOut, envelope="seat", status=201, summary="Add a seat to a table.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE, load=_table)
def api_cell_seat_add(table_id: int):
    table = _live(g.resource)
    return _seat_json(apply_or_422(add_seat, table, **load_body(SeatSchema())), 201)


@blueprint.get("/api/organisation/seats/<int:seat_id>")
@documented(answer=SeatOut, envelope="seat", summary="A seat.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_VIEW, load=_seat)
def api_cell_seat(seat_id: int):
    return _seat_json(_live(g.resource))


@blueprint.delete("/api/organisation/seats/<int:seat_id>")
@documented(status=204, summary="Remove a seat.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE, load=_seat)
def api_cell_seat_remove(seat_id: int):
    remove_seat(_live(g.resource))
    return "", 204


@blueprint.get("/api/organisation/partners")
@documented(answer=PartnerOut, many=True, envelope="partners", summary="The cell's partner inventory.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_VIEW)
def api_cell_partners():
    return jsonify(partners=PartnerOut(many=True).dump(partner_inventory()))


@blueprint.post("/api/organisation/partners")
@documented(body=PartnerSchema, answer=PartnerOut, envelope="partner", status=201, summary="Add a partner to the inventory.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE)
def api_cell_partner_add():
    return _partner_json(apply_or_422(add_partner, **load_body(PartnerSchema())), 201)


@blueprint.get("/api/organisation/partners/<int:partner_id>")
@documented(answer=PartnerOut, envelope="partner", summary="A partner of the inventory.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_VIEW, load=_partner)
def api_cell_partner(partner_id: int):
    return _partner_json(_live(g.resource))


@blueprint.patch("/api/organisation/partners/<int:partner_id>")
@documented(body=PartnerSchema(partial=True), answer=PartnerOut, envelope="partner", summary="Change a partner.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE, load=_partner)
def api_cell_partner_change(partner_id: int):
    entry = _live(g.resource)
    apply_or_422(change_partner, entry, load_body(PartnerSchema(partial=True)))
    return _partner_json(entry)


@blueprint.delete("/api/organisation/partners/<int:partner_id>")
@documented(status=204, summary="Remove a partner from the inventory.", tags=("cell",))
@guard(Action.CELL_STRUCTURE_MANAGE, load=_partner)
def api_cell_partner_remove(partner_id: int):
    remove_partner(_live(g.resource))
    return "", 204
