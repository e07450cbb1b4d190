"""House rules pages and JSON API: members of the table read them, coordinators write them.

Views only parse and answer; the rules (one draft, frozen versions, what publishing needs, the
new undertaking that comes with it) live in :mod:`livc.tenants.house_rules`. Publishing from
the edit form first saves and checks the draft, then asks for confirmation on a page of its
own: every member will have to accept the rules again. A refusal answers 422 field by field,
and since a refused request is rolled back, nothing typed is saved half-way, while the form
shows it again.
"""

from __future__ import annotations

from typing import Any

from flask import flash, g, jsonify, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import NotFound

from livc.platform.api import load_body
from livc.platform.db import EditConflict
from livc.platform.forms import (
    apply_or_422,
    conflict_messages,
    edit_version,
    form_status,
    form_values,
    render_form,
)
from livc.platform.inputs import date_field
from livc.platform.openapi import documented
from livc.platform.policy import Action, decide
from livc.tenants.access import guard
from livc.tenants.house_rules.models import (
    CHAPTER_KEYS,
    CHAPTER_MAX,
    CHAPTERS,
    CONSENT_REFERENCE_MAX,
    LEGAL_BASIS_LABELS,
    STATUS_LABELS,
    HouseRules,
    HouseRulesStatus,
    LegalBasis,
)
from livc.tenants.house_rules.operations import (
    NO_DRAFT,
    acceptance,
    check_publishable,
    current_draft,
    discard_draft,
    find_version,
    publication_faults,
    publish_draft,
    published_versions,
    rules_in_force,
    start_draft,
    update_draft,
)
from livc.tenants.members.schemas import DATE_ERRORS, FieldSchema, field_messages
from livc.tenants.web import blueprint

CONFIRM = _l("Tick the box to confirm.")
AT_MOST = _l("At most {max} characters.")
# How the publication page names a field that keeps the draft from being published.
FIELD_LABELS = {
    **{chapter.key: chapter.title for chapter in CHAPTERS},
    "legal_basis": _l("Legal basis"),
    "consent_reference": _l("Reference of the prosecutor's consent"),
    "consent_date": _l("Date of the consent"),
}

IDENTITY_OPTIONS = [
    ("true", _l("Kept, encrypted: a member may show a case's identity, each time audited")),
    ("false", _l("Not kept: entered once, turned into the cell's look-up indexes and the federation's "
                 "tokens, never stored; the case lives by its code")),
]

# --- what is accepted and answered -------------------------------------------------------------

# One schema for the edit form and the API: a draft may leave any field empty (None clears it).
DraftSchema = FieldSchema.from_dict(
    {
        **{
            key: fields.String(allow_none=True, validate=validate.Length(max=CHAPTER_MAX, error=AT_MOST))
            for key in CHAPTER_KEYS
        },
        "legal_basis": fields.Enum(
            LegalBasis, by_value=True, allow_none=True,
            error_messages={"unknown": _l("Choose one of the legal bases.")},
        ),
        "consent_reference": fields.String(
            allow_none=True, validate=validate.Length(max=CONSENT_REFERENCE_MAX, error=AT_MOST)
        ),
        "consent_date": date_field(allow_none=True, errors=DATE_ERRORS),
        # Data minimisation (issue 18): left out or None, unchanged.
        "identities_kept": fields.Boolean(allow_none=True, error_messages={"invalid": _l("Choose one of the options.")}),
        # The draft's edit version read (``version`` is the rules' own number): an older one answers 409.
        "edit_version": edit_version(),
    },
    name="DraftSchema",
)


class VersionOut(Schema):
    """A version as lists show it."""

    version = fields.Integer()
    status = fields.Enum(HouseRulesStatus, by_value=True)
    status_label = fields.Function(lambda rules: str(STATUS_LABELS[rules.status]))
    published_at = fields.DateTime(allow_none=True)
    undertaking_version = fields.Integer(allow_none=True)


HouseRulesOut = VersionOut.from_dict(
    {
        "legal_basis": fields.Enum(LegalBasis, by_value=True, allow_none=True),
        "legal_basis_label": fields.Function(
            lambda rules: str(LEGAL_BASIS_LABELS[rules.legal_basis]) if rules.legal_basis else None
        ),
        "consent_reference": fields.String(allow_none=True),
        "consent_date": fields.Date(allow_none=True),
        "identities_kept": fields.Boolean(),
        **{key: fields.String(allow_none=True) for key in CHAPTER_KEYS},
        "drafted_by": fields.Integer(attribute="drafted_by_id", allow_none=True),
        "published_by": fields.Integer(attribute="published_by_id", allow_none=True),
        "updated_at": fields.DateTime(),
        "edit_version": fields.Integer(metadata={"description": "Send it back with a change of the draft: a change made meanwhile answers 409."}),
    },
    name="HouseRulesOut",
)




class PendingMemberOut(Schema):
    membership_id = fields.Integer()
    display_name = fields.String()


class AcceptanceOut(Schema):
    undertaking_version = fields.Integer(allow_none=True)
    accepted = fields.Integer()
    members = fields.Integer()
    pending = fields.List(fields.Nested(PendingMemberOut), metadata={
        "description": "Members who have not accepted yet: for those who write the rules only."})


class HouseRulesAnswer(Schema):
    house_rules = fields.Nested(HouseRulesOut, allow_none=True)


class HouseRulesOverviewAnswer(HouseRulesAnswer):
    """The rules in force (``null`` before the first publication), the published versions, and
    for those who write the rules, the draft (``null`` when there is none)."""

    versions = fields.List(fields.Nested(VersionOut))
    acceptance = fields.Nested(AcceptanceOut)
    draft = fields.Nested(HouseRulesOut, allow_none=True)


# --- helpers ----------------------------------------------------------------------------------


def _may_manage() -> bool:
    return bool(decide(g.person, Action.HOUSE_RULES_MANAGE))


def _version(version: int) -> HouseRules:
    """A version of this cell's rules; a draft only for those who write it."""
    rules = find_version(version)
    if rules is None or (rules.status == HouseRulesStatus.DRAFT and not _may_manage()):
        raise NotFound()
    return rules


def _published_version(version: int) -> HouseRules:
    rules = find_version(version)
    if rules is None or rules.status == HouseRulesStatus.DRAFT:
        raise NotFound()
    return rules


def _draft_changes(values: dict) -> dict:
    """Every field of the edit form: a field left empty is cleared."""
    return {name: values.get(name) for name in DraftSchema().fields}


def _form_context(draft: HouseRules, **extra: Any) -> dict:
    return {
        "draft": draft,
        "chapters": CHAPTERS,
        "legal_bases": list(LEGAL_BASIS_LABELS.items()),
        "chapter_max": CHAPTER_MAX,
        "consent_reference_max": CONSENT_REFERENCE_MAX,
        "identity_options": IDENTITY_OPTIONS,
        **extra,
    }


def _no_draft():
    flash(NO_DRAFT, "warning")
    return redirect(url_for("tenant.house_rules"))



# --- pages ------------------------------------------------------------------------------------


@blueprint.get("/house-rules")
@guard(Action.HOUSE_RULES_VIEW)
def house_rules():
    manage = _may_manage()
    return render_form(
        "tenants/house_rules.html",
        rules=rules_in_force(),
        earlier=[rules for rules in published_versions() if rules.status == HouseRulesStatus.SUPERSEDED],
        draft=current_draft() if manage else None,
        acceptance=acceptance(),
        manage=manage,
        legal_basis_labels=LEGAL_BASIS_LABELS,
    )


@blueprint.get("/house-rules/<int:version>")
@guard(Action.HOUSE_RULES_VIEW, load=_published_version)
def house_rules_version(version: int):
    return render_form(
        "tenants/house_rules_version.html", rules=g.resource, legal_basis_labels=LEGAL_BASIS_LABELS,
        status_labels=STATUS_LABELS,
    )


@blueprint.post("/house-rules/draft/start")
@guard(Action.HOUSE_RULES_MANAGE)
def house_rules_start():
    start_draft(g.membership)
    return redirect(url_for("tenant.house_rules_draft"))


@blueprint.route("/house-rules/draft", methods=["GET", "POST"])
@guard(Action.HOUSE_RULES_MANAGE)
def house_rules_draft():
    draft = current_draft()
    if draft is None:
        return _no_draft()
    if request.method == "GET":
        return render_form("tenants/house_rules_draft.html", **_form_context(draft))
    publishing = request.form.get("action") == "publish"
    values, errors = form_values(DraftSchema())
    if not errors:
        try:
            update_draft(_draft_changes(values), g.membership)
            if publishing:
                check_publishable(draft)
        except ValidationError as error:
            errors = field_messages(error)
        except EditConflict as conflict:
            errors = conflict_messages(conflict)
    if errors:
        return render_form("tenants/house_rules_draft.html", form_status(errors), errors, **_form_context(draft))
    if publishing:
        return redirect(url_for("tenant.house_rules_publish"))
    flash(_l("The draft was saved. Members see it once it is published."), "info")
    return redirect(url_for("tenant.house_rules_draft"))


@blueprint.route("/house-rules/draft/publish", methods=["GET", "POST"])
@guard(Action.HOUSE_RULES_MANAGE)
def house_rules_publish():
    draft = current_draft()
    if draft is None:
        return _no_draft()
    faults = {field: [str(m) for m in messages] for field, messages in publication_faults(draft).items()}
    context = {"draft": draft, "faults": faults, "field_labels": FIELD_LABELS, "legal_basis_labels": LEGAL_BASIS_LABELS}
    if request.method == "GET":
        return render_form("tenants/house_rules_publish.html", **context)
    if request.form.get("confirm") != "yes":
        return render_form("tenants/house_rules_publish.html", 422, {"confirm": [str(CONFIRM)]}, **context)
    try:
        published = publish_draft(g.membership)
    except ValidationError as error:
        return render_form("tenants/house_rules_publish.html", 422, field_messages(error), **context)
    flash(
        _l(
            "Version %(version)s of the house rules is in force. "
            "Every member accepts it before reaching case content again.",
            version=published.version,
        ),
        "info",
    )
    return redirect(url_for("tenant.house_rules"))


@blueprint.route("/house-rules/draft/discard", methods=["GET", "POST"])
@guard(Action.HOUSE_RULES_MANAGE)
def house_rules_discard():
    draft = current_draft()
    if draft is None:
        return _no_draft()
    if request.method == "GET":
        return render_form("tenants/house_rules_discard.html", draft=draft)
    if request.form.get("confirm") != "yes":
        return render_form("tenants/house_rules_discard.html", 422, {"confirm": [str(CONFIRM)]}, draft=draft)
    discard_draft()
    flash(_l("The draft was discarded. The house rules in force did not change."), "info")
    return redirect(url_for("tenant.house_rules"))


# --- JSON API ---------------------------------------------------------------------------------


def _rules_json(rules: HouseRules | None) -> dict | None:
    return HouseRulesOut().dump(rules) if rules is not None else None


@blueprint.get("/api/house-rules")
@documented(answer=HouseRulesOverviewAnswer, summary="The house rules in force, the published versions and their acceptance.", tags=("house_rules",))
@guard(Action.HOUSE_RULES_VIEW)
def api_house_rules():
    """The rules in force, every published version, and how many members accepted them.

    Those who write the rules also get the draft and the names of members who have not
    accepted yet (member data: it tells them whom to remind).
    """
    manage = _may_manage()
    accepted = acceptance()
    body = {
        "house_rules": _rules_json(rules_in_force()),
        "versions": VersionOut(many=True).dump(published_versions()),
        "acceptance": {
            "undertaking_version": accepted.undertaking_version,
            "accepted": len(accepted.accepted),
            "members": len(accepted.accepted) + len(accepted.pending),
        },
    }
    if manage:
        body["draft"] = _rules_json(current_draft())
        body["acceptance"]["pending"] = [
            {"membership_id": m.id, "display_name": m.account.display_name} for m in accepted.pending
        ]
    return jsonify(body)


@blueprint.get("/api/house-rules/<int:version>")
@documented(answer=HouseRulesAnswer, summary="A version of the house rules.", tags=("house_rules",))
@guard(Action.HOUSE_RULES_VIEW, load=_version)
def api_house_rules_version(version: int):
    return jsonify(house_rules=_rules_json(g.resource))


@blueprint.put("/api/house-rules/draft")
@documented(body=DraftSchema, answer=HouseRulesAnswer, summary="Change the draft of the house rules.", tags=("house_rules",))
@guard(Action.HOUSE_RULES_MANAGE)
def api_house_rules_draft():
    """Change the draft (starting one, copied from the version in force, if there is none):
    only the fields sent change."""
    values = load_body(DraftSchema())
    apply_or_422(update_draft, values, g.membership)
    return jsonify(house_rules=_rules_json(current_draft()))


@blueprint.delete("/api/house-rules/draft")
@documented(status=204, errors=(422,), summary="Discard the draft.", tags=("house_rules",))
@guard(Action.HOUSE_RULES_MANAGE)
def api_house_rules_discard():
    apply_or_422(discard_draft)
    return "", 204


@blueprint.post("/api/house-rules/publish")
@documented(answer=HouseRulesAnswer, errors=(422,), summary="Publish the draft.", tags=("house_rules",))
@guard(Action.HOUSE_RULES_MANAGE)
def api_house_rules_publish():
    published = apply_or_422(publish_draft, g.membership)
    response = jsonify(house_rules=_rules_json(published))
    response.headers["Location"] = url_for("tenant.api_house_rules_version", version=published.version)
    return response
