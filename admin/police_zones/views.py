"""The console's police-zone directory: ``/admin/police-zones``.

Support reads it; administrators add, change and remove zones (``livc.platform.police_zones``). A
zone's municipalities are typed as NIS codes of the registry; bad input answers 422 with every
field's message and what was typed kept.
"""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from werkzeug.exceptions import NotFound

from livc.admin.access import actor, operator_guard
from livc.admin.police_zones import operations as zone_operations
from livc.admin.web import blueprint
from livc.platform import police_zones, registry
from livc.platform.forms import field_messages
from livc.platform.policy import OperatorAction, decide

NO_SUCH_ZONE = _l("There is no police zone with this code in the directory.")


def load_zone(code: str) -> police_zones.PoliceZone:
    zone = police_zones.find_zone(code)
    if zone is None:
        raise NotFound(NO_SUCH_ZONE)
    return zone


def _page(zone: police_zones.PoliceZone | None = None, status: int = 200, errors: dict | None = None):
    """The directory, with the form to add a zone or to change ``zone``."""
    if request.method == "POST":
        typed = {name: request.form.get(name, "") for name in ("code", "name", "nis_codes", "move")}
    elif zone is not None:
        typed = {"code": zone.code, "name": zone.name, "nis_codes": " ".join(zone.nis_codes)}
    else:
        typed = {}
    return render_template(
        "admin/police_zones.html", zones=police_zones.zones(), zone=zone, errors=errors or {}, typed=typed,
        municipality=registry.municipality,
        may_manage=decide(g.operator_person, OperatorAction.POLICE_ZONES_MANAGE),
    ), status


def _save(code: str, zone: police_zones.PoliceZone | None):
    form = request.form
    data = {"code": code.strip(), "name": form.get("name", "").strip(), "nis_codes": form.get("nis_codes", ""),
            "move": form.get("move") == "yes"}
    try:
        saved = zone_operations.set_zone(data, actor=actor())
    except ValidationError as error:
        return _page(zone, 422, field_messages(error))
    flash(_l("The police zone %(code)s %(name)s is in the directory with %(count)s municipalities.",
             code=saved.code, name=saved.name, count=len(saved.nis_codes)), "info")
    return redirect(url_for("admin.police_zones_page"))


@blueprint.get("/police-zones")
@operator_guard(OperatorAction.POLICE_ZONES_VIEW)
def police_zones_page():
    return _page()


@blueprint.post("/police-zones")
@operator_guard(OperatorAction.POLICE_ZONES_MANAGE)
def police_zone_add():
    return _save(request.form.get("code", ""), None)


@blueprint.get("/police-zones/<code>")
@operator_guard(OperatorAction.POLICE_ZONES_VIEW, load=load_zone)
def police_zone_page(code: str):
    return _page(g.resource)


# Changes are decided before the zone is looked up: who may not change zones learns nothing.
@blueprint.post("/police-zones/<code>")
@operator_guard(OperatorAction.POLICE_ZONES_MANAGE)
def police_zone_edit(code: str):
    zone = load_zone(code)
    return _save(zone.code, zone)


@blueprint.post("/police-zones/<code>/remove")
@operator_guard(OperatorAction.POLICE_ZONES_MANAGE)
def police_zone_remove(code: str):
    zone = load_zone(code)
    label = f"{zone.code} {zone.name}"
    zone_operations.remove_zone(zone.code, actor=actor())
    flash(_l("The police zone %(zone)s is no longer in the directory.", zone=label), "info")
    return redirect(url_for("admin.police_zones_page"))
