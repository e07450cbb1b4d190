"""The cell's navigation: the service navigation a member sees at the top of every page (by what
their role may do), the pages of the cell grouped under "The cell", and the header's account
links. Pages say nothing of it; the blueprint's context processor fills the shell
(``platform/templates/base.html``)."""

from __future__ import annotations

from flask import Response, current_app, g, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from livc.platform.policy import Action, decide, public
from livc.platform.tenancy import COLOUR
from livc.tenants.strategy.loads import load_strategic_table
from livc.tenants.web import blueprint

#: The main menu: (action needed, endpoint, label, endpoint prefixes that belong to the item).
MAIN_MENU = (
    (Action.CELL_ENTER, "tenant.home", _l("Home"), ("tenant.home",)),
    (Action.SIGNAL_SUBMIT, "tenant.signals", _l("Signals"), ("tenant.signal", "tenant.person_search")),
    (Action.CELL_ENTER, "tenant.cases", _l("Cases"), ("tenant.case", "tenant.ltf_")),
    (Action.CELL_ENTER, "tenant.meetings", _l("Meetings"), ("tenant.meeting",)),
    (Action.DECISIONS_TAKE, "tenant.decisions", _l("Decisions"), ("tenant.decision",)),
    (Action.STRATEGY_VIEW, "tenant.strategy", _l("Policy"), ("tenant.strategy",)),
    (Action.MONITORING_VIEW, "tenant.figures", _l("Figures"), ("tenant.figures",)),
    (Action.CELL_STRUCTURE_VIEW, "tenant.cell_structure", _l("The cell"),
     ("tenant.cell", "tenant.house_rules", "tenant.federation", "tenant.retention", "tenant.case_settings",
      "tenant.organisations", "tenant.sso", "tenant.operator_actions", "tenant.setup", "tenant.signal_settings",
      "tenant.record_of_processing")),
    (Action.MEMBERS_VIEW, "tenant.members", _l("Members"), ("tenant.member", "tenant.invit")),
)

#: Every page a member may reach, for the home page's list and the cell's own page.
CELL_PAGES = (
    (Action.SETUP_MANAGE, "tenant.setup", _l("Set-up of the cell")),
    (Action.SIGNAL_SUBMIT, "tenant.signal_new", _l("Report a signal")),
    (Action.SIGNAL_SUBMIT, "tenant.signals", _l("Signals")),
    (Action.CELL_ENTER, "tenant.cases", _l("Cases")),
    (Action.CELL_ENTER, "tenant.meetings", _l("Meetings")),
    (Action.DECISIONS_TAKE, "tenant.decisions", _l("Decisions waiting for confirmation")),
    (Action.STRATEGY_VIEW, "tenant.strategy", _l("Policy follow-up of the strategic table")),
    (Action.MONITORING_VIEW, "tenant.figures", _l("Figures of the cell")),
    (Action.POLICE_INFO_READ, "tenant.ltf_feedback_inbox", _l("Feedback forms for the Local Task Force")),
    (Action.LTF_CARD_READ, "tenant.ltf_cards", _l("LTF information cards")),
    (Action.PERSON_SEARCH, "tenant.person_search", _l("Is this person known to the cell?")),
    (Action.CASE_SETTINGS_MANAGE, "tenant.case_settings", _l("Case settings")),
    (Action.CASE_SETTINGS_MANAGE, "tenant.retention", _l("Retention and erasure")),
    (Action.CASE_SETTINGS_MANAGE, "tenant.scenarios_list", _l("Follow-up scenarios")),
    (Action.FEDERATION_MANAGE, "tenant.federation", _l("Links with other cells")),
    (Action.CELL_STRUCTURE_VIEW, "tenant.cell_structure", _l("Organisation of the cell")),
    (Action.HOUSE_RULES_VIEW, "tenant.house_rules", _l("House rules")),
    (Action.RECORD_OF_PROCESSING_VIEW, "tenant.record_of_processing_page", _l("Record of processing and DPIA")),
    (Action.MEMBERS_VIEW, "tenant.members", _l("Members of the cell")),
    (Action.ORGANISATIONS_MANAGE, "tenant.organisations", _l("Organisations at the table")),
    (Action.SSO_MANAGE, "tenant.sso_settings", _l("Single sign-on")),
    (Action.OPERATOR_ACTIONS_VIEW, "tenant.operator_actions", _l("Actions of the platform operator")),
    (Action.PROFILE_MANAGE, "tenant.profile", _l("Your profile and sign-in")),
)


#: What the policy decides an item on, where it needs a resource: the strategic table's seats.
#: The resource can only grant here (a seat at the table lets a member in; the roles at the
#: table are let in whatever its seats), so the policy is asked without it first and the
#: resource is read only for those that answer refuses: most members' pages skip its queries.
MENU_RESOURCES = {Action.STRATEGY_VIEW: load_strategic_table}


def _may(action: Action) -> bool:
    load = MENU_RESOURCES.get(action)
    if decide(g.person, action, None):
        return True
    return load is not None and bool(decide(g.person, action, load()))


def cell_pages() -> list[tuple[str, str]]:
    """(address, label) of every page the signed-in member may reach."""
    return [(url_for(endpoint), str(label)) for action, endpoint, label in CELL_PAGES if _may(action)]


def main_menu() -> list[dict]:
    """The service navigation's items for the signed-in member, the current one marked."""
    endpoint = request.endpoint or ""
    items, marked = [], False
    for action, target, label, prefixes in MAIN_MENU:
        if not _may(action):
            continue
        current = not marked and any(endpoint.startswith(prefix) for prefix in prefixes)
        # "tenant.case_settings" belongs to the cell, not to the cases: the most specific wins
        if current and target == "tenant.cases" and endpoint.startswith("tenant.case_settings"):
            current = False
        marked = marked or current
        items.append({"href": url_for(target), "text": str(label), "active": current, "current": endpoint == target})
    return items


@blueprint.context_processor
def _shell() -> dict:
    tenant = g.get("tenant")
    shell = {"cell_theme_url": url_for("tenant.theme") if tenant is not None and tenant.colour else None}
    if g.get("person") is None or g.get("membership") is None:
        return {**shell, "home_url": url_for("tenant.landing") if tenant is not None else None,
                "home_label": tenant.name if tenant is not None else "", "home_endpoints": ("tenant.landing",)}
    return {
        **shell,
        "service_navigation": main_menu(),
        "home_url": url_for("tenant.home"),
        "home_label": _l("Home"),
        "home_endpoints": ("tenant.home",),
        "account_label": g.membership.account.label,
        "account_url": url_for("tenant.profile"),
        "sign_out_url": url_for("tenant.sign_out"),
    }


@blueprint.get("/theme.css")
@public
def theme() -> Response:
    """The cell's design tokens: its colour, for the header's band and the dashboards' accents
    (a stylesheet of its own, as the CSP allows no inline style)."""
    colour = g.tenant.colour if g.tenant.colour and COLOUR.match(g.tenant.colour) else None
    body = f":root {{ --livc-cell-colour: {colour}; }}\n" if colour else "/* the platform's own colours */\n"
    response = Response(body, mimetype="text/css")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@blueprint.get("/<path:unknown>")
@public
def not_found(unknown: str):
    """An address in a cell that leads nowhere: the cell's own not-found page, with its menu for a
    signed-in member and a way back to the cell's home (not the platform's start page). An
    address that exists for another method is answered 405 with the methods it takes."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _values = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != request.endpoint:
            allowed.append(method)
    if allowed:
        raise MethodNotAllowed(valid_methods=allowed)
    raise NotFound()
