"""Member management: pages for the coordinator and the same operations as a JSON API.

Views only parse and answer. The rules live in the operations of :mod:`livc.tenants.members`,
whose field-level refusals become a 422 page that keeps what was typed, or a 422 JSON body
naming the fields. Memberships and organisations are loaded inside the cell, so another
cell's ids answer exactly like ids that do not exist.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, g, jsonify, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate
from werkzeug.exceptions import NotFound

from livc.platform import registry
from livc.platform.api import load_body
from livc.platform.db import db
from livc.platform.forms import apply_or_422, every_field, render_form, submit_form
from livc.platform.i18n import LANGUAGE_NAMES
from livc.platform.openapi import documented
from livc.platform.paging import Page, PageQuery, offset_page, offset_urls, page_answer, page_args
from livc.platform.policy import Action, decide
from livc.platform.roles import ORGANISATION_KIND_LABELS, ROLE_LABELS
from livc.tenants.access import guard
from livc.tenants.members.models import STATUS_LABELS, Membership, MembershipStatus, Organisation
from livc.tenants.members.operations import (
    change_membership,
    create_organisation,
    end_membership,
    invite_member,
    members_query,
    organisation_list,
    rename_organisation,
    resend_invitation,
)
from livc.tenants.members.schemas import (
    InviteSchema,
    MemberChangeSchema,
    MemberOut,
    MeOut,
    OrganisationOut,
    OrganisationRenameSchema,
    OrganisationSchema,
    ResendSchema,
    field_messages,
)
from livc.tenants.web import blueprint

CONFIRM_END = _l("Tick the box to confirm.")


class MemberPageQuery(PageQuery):
    """The members are paged by number (a short list): ``?page=`` and ``?per_page=``."""

    page = fields.Integer(validate=validate.Range(1, 999_999_999), metadata={"description": "The page number, from 1."})

    class Meta:
        exclude = ("after", "before")


def _membership(membership_id: int) -> Membership:
    membership = db.session.scalar(sa.select(Membership).where(Membership.id == membership_id))
    if membership is None:
        raise NotFound()
    return membership


def _organisation(organisation_id: int) -> Organisation:
    organisation = db.session.scalar(sa.select(Organisation).where(Organisation.id == organisation_id))
    if organisation is None:
        raise NotFound()
    return organisation


def _may_manage() -> bool:
    return bool(decide(g.person, Action.MEMBERS_MANAGE))


def _municipalities() -> list[tuple[str, str]]:
    """The cell's municipalities a mayor may stand for: only in a cell of several."""
    covered = g.tenant.municipalities
    return [(m.nis_code, m.local_name) for m in covered] if len(covered) > 1 else []


def _form_context(**extra: Any) -> dict:
    """The choices every member form offers."""
    return {
        "municipalities": _municipalities(),
        "roles": [(role.value, label) for role, label in ROLE_LABELS.items()],
        "organisations": [(o.id, o.name) for o in organisation_list()],
        "languages": [(code, LANGUAGE_NAMES[code]) for code in g.tenant.languages],
        "status_labels": STATUS_LABELS,
        **extra,
    }





# --- pages: members -------------------------------------------------------------------------


@blueprint.get("/members")
@guard(Action.MEMBERS_VIEW)
def members():
    manage = _may_manage()
    page = _members_page(manage)
    previous_url, next_url = offset_urls(page)
    return render_form(
        "tenants/members.html", members=page.items, manage=manage, status_labels=STATUS_LABELS,
        several=bool(_municipalities()), municipality_name=registry.name_of, previous_url=previous_url,
        next_url=next_url, total=page.total,
    )


def _members_page(manage: bool) -> Page:
    """The page of members asked for (``?page=``, ``?per_page=``). A cell's members are a short
    list (a table of some tens of seats), so it is paged by number, with its total."""
    return offset_page(members_query(include_ended=manage), page_args(request.args))


@blueprint.route("/members/invite", methods=["GET", "POST"])
@guard(Action.MEMBERS_MANAGE)
def member_invite():
    if request.method == "GET":
        return render_form("tenants/member_invite.html", **_form_context())
    _, errors = submit_form(InviteSchema(), lambda values: invite_member(**values, inviter=g.membership))
    if errors:
        return render_form("tenants/member_invite.html", 422, errors, **_form_context())
    flash(_l("The invitation was sent. The link works once, for seven days."), "info")
    return redirect(url_for("tenant.members"))


@blueprint.route("/members/<int:membership_id>", methods=["GET", "POST"])
@guard(Action.MEMBERS_MANAGE, load=_membership)
def member_edit(membership_id: int):
    membership = g.resource
    context = _form_context(membership=membership)
    if request.method == "GET":
        return render_form("tenants/member_edit.html", **context)
    schema = MemberChangeSchema()
    _, errors = submit_form(schema, lambda values: change_membership(membership, every_field(values, schema)))
    if errors:
        return render_form("tenants/member_edit.html", 422, errors, **context)
    flash(_l("The membership was changed."), "info")
    return redirect(url_for("tenant.members"))


@blueprint.post("/members/<int:membership_id>/resend")
@guard(Action.MEMBERS_MANAGE, load=_membership)
def member_resend(membership_id: int):
    membership = g.resource
    _, errors = submit_form(ResendSchema(), lambda values: resend_invitation(membership, g.membership, values.get("language")))
    if errors:
        return render_form("tenants/member_edit.html", 422, errors, **_form_context(membership=membership))
    flash(_l("A new invitation link was sent; the previous one no longer works."), "info")
    return redirect(url_for("tenant.member_edit", membership_id=membership.id))


@blueprint.route("/members/<int:membership_id>/end", methods=["GET", "POST"])
@guard(Action.MEMBERS_MANAGE, load=_membership)
def member_end(membership_id: int):
    membership = g.resource
    context = {"membership": membership, "own": membership.id == g.membership.id}
    if request.method == "GET":
        return render_form("tenants/member_end.html", **context)
    if request.form.get("confirm") != "yes":
        return render_form("tenants/member_end.html", 422, {"confirm": [str(CONFIRM_END)]}, **context)
    try:
        end_membership(membership, g.membership)
    except ValidationError as error:
        return render_form("tenants/member_end.html", 422, field_messages(error), **context)
    flash(_l("The membership was ended and the person's sessions in this cell were closed."), "info")
    return redirect(url_for("tenant.members"))


# --- pages: organisations -------------------------------------------------------------------


def _organisations_context() -> dict:
    return {
        "organisation_list": organisation_list(),
        "kinds": [(kind.value, label) for kind, label in ORGANISATION_KIND_LABELS.items()],
    }


@blueprint.route("/organisations", methods=["GET", "POST"])
@guard(Action.ORGANISATIONS_MANAGE)
def organisations():
    if request.method == "GET":
        return render_form("tenants/organisations.html", **_organisations_context())
    _, errors = submit_form(OrganisationSchema(), lambda values: create_organisation(values["name"], values["kind"]))
    if errors:
        return render_form("tenants/organisations.html", 422, errors, **_organisations_context())
    flash(_l("The organisation was added."), "info")
    return redirect(url_for("tenant.organisations"))


@blueprint.route("/organisations/<int:organisation_id>", methods=["GET", "POST"])
@guard(Action.ORGANISATIONS_MANAGE, load=_organisation)
def organisation_rename(organisation_id: int):
    organisation = g.resource
    if request.method == "GET":
        return render_form("tenants/organisations_rename.html", organisation=organisation)
    _, errors = submit_form(OrganisationRenameSchema(), lambda values: rename_organisation(organisation, values["name"]))
    if errors:
        return render_form("tenants/organisations_rename.html", 422, errors, organisation=organisation)
    flash(_l("The organisation was renamed."), "info")
    return redirect(url_for("tenant.organisations"))


# --- JSON API -------------------------------------------------------------------------------


def _member_json(membership: Membership, status: int = 200):
    schema = MemberOut() if _may_manage() else MemberOut(exclude=("email",))
    return jsonify(member=schema.dump(membership)), status


@blueprint.get("/api/members")
@documented(answer=MemberOut, many=True, envelope="members", query=MemberPageQuery, paged=True,
            summary="The cell's members (e-mail addresses and ended seats for those who manage members), a page at a time.")
@guard(Action.MEMBERS_VIEW)
def api_members():
    manage = _may_manage()
    schema = MemberOut(many=True) if manage else MemberOut(many=True, exclude=("email",))
    page = _members_page(manage)
    return jsonify(**page_answer(page, "members", schema.dump(page.items)))


@blueprint.post("/api/members")
@documented(body=InviteSchema, answer=MemberOut, envelope="member", status=201, summary="Invite a member.")
@guard(Action.MEMBERS_MANAGE)
def api_member_invite():
    values = load_body(InviteSchema())
    membership = apply_or_422(invite_member, **values, inviter=g.membership)
    response, status = _member_json(membership, 201)
    response.headers["Location"] = url_for("tenant.api_member", membership_id=membership.id)
    return response, status


@blueprint.get("/api/members/<int:membership_id>")
@documented(answer=MemberOut, envelope="member")
@guard(Action.MEMBERS_VIEW, load=_membership)
def api_member(membership_id: int):
    # Ended seats are for those who manage members, as in the list.
    if g.resource.status == MembershipStatus.ENDED and not _may_manage():
        raise NotFound()
    return _member_json(g.resource)


@blueprint.patch("/api/members/<int:membership_id>")
@documented(body=MemberChangeSchema(partial=True), answer=MemberOut, envelope="member", summary="Change a seat: role, organisation, dates.")
@guard(Action.MEMBERS_MANAGE, load=_membership)
def api_member_change(membership_id: int):
    values = load_body(MemberChangeSchema(partial=True))
    apply_or_422(change_membership, g.resource, values)
    return _member_json(g.resource)


@blueprint.delete("/api/members/<int:membership_id>")
@documented(answer=MemberOut, envelope="member", summary="End a seat.")
@guard(Action.MEMBERS_MANAGE, load=_membership)
def api_member_end(membership_id: int):
    apply_or_422(end_membership, g.resource, g.membership)
    return _member_json(g.resource)


@blueprint.get("/api/organisations")
@documented(answer=OrganisationOut, many=True, envelope="organisations")
@guard(Action.ORGANISATIONS_MANAGE)
def api_organisations():
    return jsonify(organisations=OrganisationOut(many=True).dump(organisation_list()))


@blueprint.post("/api/organisations")
@documented(body=OrganisationSchema, answer=OrganisationOut, envelope="organisation", status=201)
@guard(Action.ORGANISATIONS_MANAGE)
def api_organisation_create():
    values = load_body(OrganisationSchema())
    organisation = apply_or_422(create_organisation, values["name"], values["kind"])
    response = jsonify(organisation=OrganisationOut().dump(organisation))
    response.headers["Location"] = url_for("tenant.api_organisations")
    return response, 201


@blueprint.patch("/api/organisations/<int:organisation_id>")
@documented(body=OrganisationRenameSchema, answer=OrganisationOut, envelope="organisation")
@guard(Action.ORGANISATIONS_MANAGE, load=_organisation)
def api_organisation_rename(organisation_id: int):
    values = load_body(OrganisationRenameSchema())
    apply_or_422(rename_organisation, g.resource, values["name"])
    return jsonify(organisation=OrganisationOut().dump(g.resource))


@blueprint.get("/api/me")
@documented(answer=MeOut, envelope="me", summary="The signed-in member.")
@guard(Action.PROFILE_MANAGE)
def api_me():
    return jsonify(me=MeOut().dump(g.membership))
