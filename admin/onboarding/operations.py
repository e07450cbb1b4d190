"""Onboarding a municipality, an intermunicipal cell or a police zone, and its progress.

:func:`onboard` is the one way a tenant is onboarded, for the console's form, its JSON API and
``livc tenant create``: the tenant (kind, municipalities of the registry, address, working
languages), optionally the cell's OpenID Connect provider, and a single-use invitation mailed
to the first coordinator. It either does all of it in the caller's transaction or raises
marshmallow's ``ValidationError`` with every field at fault; the mail is handed to its job only
when the transaction commits.

A municipality already covered by another tenant (active or suspended) is refused for a
municipal cell; an intermunicipal or zonal cell may overlap only when the operator explicitly
confirms, after a warning that names the other tenant.

:func:`progress` is what the operator sees of a cell after onboarding: steps done, with dates,
never content (counts and booleans read inside the tenant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import selectinload

from livc.admin.onboarding.cells import create_tenant
from livc.admin.onboarding.models import ORGANISATION_DEFAULT, TenantSetup
from livc.admin.onboarding.schemas import TenantSchema
from livc.admin.operators.models import OperatorAuditEntry
from livc.admin.operators.operations import record_action
from livc.platform import audit, registry
from livc.platform.accounts import NAME_MAX, get_or_create_account
from livc.platform.db import db, tenant_context
from livc.platform.forms import REQUIRED, email_field, field_messages, text_field
from livc.platform.mail import render_mail, send_mail
from livc.platform.paging import BadPage, Key, Page, PageArgs, PageQuery, keyset_page
from livc.platform.roles import OrganisationKind, Role
from livc.platform.settings import LANGUAGES
from livc.platform.tenancy import NIS_PATTERN, Tenant, TenantKind, TenantMunicipality, TenantStatus
from livc.platform.timeutil import utcnow
from livc.tenants.cell.models import CellProfile, Table
from livc.tenants.cell.operations import composition_problems, legal_minimum_problems
from livc.tenants.house_rules.models import HouseRules
from livc.tenants.members.models import Invitation, Membership, MembershipStatus, Organisation
from livc.tenants.members.operations import create_invitation
from livc.tenants.members.sso import save_provider
from livc.tenants.members.sso_views import SsoSettingsSchema, setting_errors

# --- messages -------------------------------------------------------------------------------

UNKNOWN_NIS = _l("%(code)s is not the NIS code of a Belgian municipality (2025 registry).")
NIS_REQUIRED = _l("Choose the municipalities the cell covers.")
ONE_MUNICIPALITY = _l("A municipal cell covers exactly one municipality.")
INTERMUNICIPAL_NEEDS_TWO = _l("An intermunicipal cell covers at least two municipalities.")
COVERED_MUNICIPAL = _l("%(municipality)s is already covered by the cell %(cell)s (%(slug)s). A municipality has one municipal cell.")
COVERED_WARNING = _l(
    "%(municipality)s is already covered by the cell %(cell)s (%(slug)s). Confirm the overlap if this is an agreed "
    "intermunicipal or zonal arrangement."
)
UNKNOWN_ZONE = _l("This police zone is not in the registry: list its municipalities instead.")
ZONE_ONLY = _l("Only a zonal cell has a police zone.")
LANGUAGE_NOT_WORKING = _l("Choose one of the cell's working languages.")
SSO_INCOMPLETE = _l("Give the provider's issuer, client id, client secret and button label, or none of them.")
NOT_PENDING = _l("The first coordinator has already accepted the invitation.")
SLUG_TAKEN = _l("This address is already taken.")


def _codes(value: str | list) -> list[str]:
    """NIS codes from a list, or from text separated by commas or spaces (the form's field)."""
    items = value if isinstance(value, list) else str(value).replace(",", " ").split()
    return [str(item).strip() for item in items if str(item).strip()]


class CodesField(fields.Field):
    """A list of NIS codes, sent as a JSON list, as repeated form fields, or as text."""

    def _deserialize(self, value, attr, data, **kwargs):
        codes = _codes(value)
        bad = [code for code in codes if not NIS_PATTERN.match(code)]
        if bad:
            raise ValidationError(_l("A NIS code has five digits."))
        return codes


class OnboardingSchema(Schema):
    """What the operator gives to onboard a cell (the form, the API and the command alike)."""

    name = text_field(200)
    slug = text_field(63)
    kind = fields.Enum(TenantKind, by_value=True, required=True, error_messages=REQUIRED)
    nis_codes = CodesField(load_default=list)
    police_zone = fields.String(load_default=None, validate=validate.Length(max=10))
    languages = fields.List(fields.String(validate=validate.OneOf(LANGUAGES)), required=True, error_messages=REQUIRED,
                            validate=validate.Length(min=1, max=len(LANGUAGES)))
    coordinator_email = email_field()
    coordinator_name = text_field(NAME_MAX, required=False, load_default="")
    organisation_name = text_field(120, required=False, load_default="")
    invitation_language = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES))
    confirm_overlap = fields.Boolean(load_default=False)
    sso_issuer = fields.String(load_default="", validate=validate.Length(max=300))
    sso_client_id = fields.String(load_default="", validate=validate.Length(max=255))
    sso_client_secret = fields.String(load_default="", validate=validate.Length(max=500))
    sso_label = fields.String(load_default="", validate=validate.Length(max=80))

    @validates_schema
    def _consistent(self, data: dict, **_kwargs) -> None:
        errors: dict[str, list] = {}
        language = data.get("invitation_language")
        if language and data.get("languages") and language not in data["languages"]:
            errors["invitation_language"] = [LANGUAGE_NOT_WORKING]
        sso = [data.get(name) for name in ("sso_issuer", "sso_client_id", "sso_client_secret", "sso_label")]
        if any(sso) and not all(sso):
            errors["sso_issuer"] = [SSO_INCOMPLETE]
        if data.get("police_zone") and data.get("kind") not in (None, TenantKind.POLICE_ZONE):
            errors["police_zone"] = [ZONE_ONLY]
        if errors:
            raise ValidationError(errors)


@dataclass(frozen=True)
class Onboarded:
    tenant: Tenant
    coordinator_email: str
    overlaps: list[str]  # slugs of other tenants covering one of its municipalities (confirmed)


def _coverage(values: dict) -> tuple[list[str], str | None]:
    """The NIS codes the new cell covers, and the police zone when the registry knows it."""
    codes = list(dict.fromkeys(values["nis_codes"]))
    zone_code = (values.get("police_zone") or "").strip() or None
    if values["kind"] == TenantKind.POLICE_ZONE and zone_code:
        zone = registry.police_zone(zone_code)
        if zone is not None:
            return list(zone.nis_codes), zone.code
        if not codes:
            raise ValidationError({"police_zone": [UNKNOWN_ZONE]})
    errors: dict[str, list] = {}
    unknown = [code for code in codes if registry.municipality(code) is None]
    if not codes:
        errors["nis_codes"] = [NIS_REQUIRED]
    elif unknown:
        errors["nis_codes"] = [str(UNKNOWN_NIS % {"code": code}) for code in unknown]
    elif values["kind"] == TenantKind.MUNICIPALITY and len(codes) != 1:
        errors["nis_codes"] = [ONE_MUNICIPALITY]
    elif values["kind"] == TenantKind.INTERMUNICIPAL and len(codes) < 2:
        errors["nis_codes"] = [INTERMUNICIPAL_NEEDS_TWO]
    if errors:
        raise ValidationError(errors)
    return codes, zone_code


def covering_tenants(nis_codes: list[str]) -> list[tuple[str, Tenant]]:
    """(NIS code, tenant) for every municipality already covered by a tenant still on the platform."""
    rows = db.session.execute(
        sa.select(TenantMunicipality.nis_code, Tenant)
        .join(Tenant, Tenant.id == TenantMunicipality.tenant_id)
        .where(TenantMunicipality.nis_code.in_(nis_codes), Tenant.status != TenantStatus.OFFBOARDED)
        .order_by(TenantMunicipality.nis_code, Tenant.slug)
    ).all()
    return [(code, tenant) for code, tenant in rows]


def _check_overlap(kind: TenantKind, codes: list[str], confirmed: bool, language: str) -> list[str]:
    covered = covering_tenants(codes)
    if not covered:
        return []
    def name(code: str) -> str:
        return registry.municipality(code).name(language)
    if kind == TenantKind.MUNICIPALITY:
        raise ValidationError({"nis_codes": [
            str(COVERED_MUNICIPAL % {"municipality": name(code), "cell": tenant.name, "slug": tenant.slug})
            for code, tenant in covered
        ]})
    if not confirmed:
        raise ValidationError({"confirm_overlap": [
            str(COVERED_WARNING % {"municipality": name(code), "cell": tenant.name, "slug": tenant.slug})
            for code, tenant in covered
        ]})
    return sorted({tenant.slug for _code, tenant in covered})


def _checked(data: dict[str, Any]) -> tuple[dict, dict, list[str], str | None, list[str], dict | None]:
    """Every rule of onboarding checked before anything is written; every field's fault at once."""
    errors: dict[str, list] = {}

    def collect(error: ValidationError) -> None:
        for key, messages in error.normalized_messages().items():
            key = "nis_codes" if key == "municipalities" else key
            found = messages if isinstance(messages, list) else [messages]
            errors.setdefault(key, []).extend(str(m) for m in found)

    try:
        values = OnboardingSchema().load(data)
    except ValidationError as error:
        collect(error)
        values = error.valid_data or {}
    codes, zone, tenant_values, overlaps, sso_values = [], None, {}, [], None
    if "kind" in values and "nis_codes" not in errors:
        try:
            codes, zone = _coverage({"nis_codes": [], **values})
        except ValidationError as error:
            collect(error)
    if not errors:
        try:
            tenant_values = TenantSchema().load({
                "slug": values["slug"], "name": values["name"], "kind": values["kind"].value,
                "languages": values["languages"], "municipalities": [{"nis_code": code} for code in codes],
            })
        except ValidationError as error:
            collect(error)
    slug = values.get("slug") if "slug" not in errors else None
    if slug and db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == slug)) is not None:
        errors["slug"] = [str(SLUG_TAKEN)]
    if codes and "nis_codes" not in errors:
        try:
            overlaps = _check_overlap(values["kind"], codes, values.get("confirm_overlap", False),
                                      (values.get("languages") or ["nl"])[0])
        except ValidationError as error:
            collect(error)
    if not errors:
        try:
            sso_values = _sso_values(values)
        except ValidationError as error:
            collect(error)
    if errors:
        raise ValidationError(errors)
    return values, tenant_values, codes, zone, overlaps, sso_values


def onboard(data: dict[str, Any], *, actor: str) -> Onboarded:
    """Onboard a cell and invite its first coordinator; all or nothing (``ValidationError``)."""
    values, tenant_values, codes, zone, overlaps, sso_values = _checked(data)
    language = values["languages"][0]


    tenant = create_tenant(tenant_values, actor=actor)
    with tenant_context(tenant.id):
        db.session.add(TenantSetup(tenant_id=tenant.id, onboarded_by=actor, police_zone=zone))
        if sso_values is not None:
            save_provider(sso_values)
        organisation = Organisation(
            name=values["organisation_name"] or ORGANISATION_DEFAULT.get(language, ORGANISATION_DEFAULT["en"]),
            kind=OrganisationKind.MUNICIPAL_SERVICE,
        )
        db.session.add(organisation)
        account = get_or_create_account(values["coordinator_email"], values["coordinator_name"])
        membership = Membership(account=account, organisation=organisation, role=Role.COORDINATOR,
                                status=MembershipStatus.INVITED, privilege_version=1)
        db.session.add(membership)
        db.session.flush()
        _mail_invitation(tenant, membership, values.get("invitation_language") or language, actor)
    record_action(
        "tenant.onboarded", actor=actor, tenant=tenant, subject=f"tenant:{tenant.slug}",
        details={"kind": tenant.kind.value, "municipalities": codes, "police_zone": zone, "languages": tenant.languages,
                 "overlaps_confirmed": overlaps, "sso": sso_values is not None, "coordinator": f"membership:{membership.id}"},
    )
    return Onboarded(tenant, account.email, overlaps)


def _sso_values(values: dict) -> dict | None:
    """The provider settings for :func:`livc.tenants.members.sso.save_provider`, checked as the cell's
    own settings page checks them (the address, then the provider's discovery document)."""
    if not values["sso_issuer"]:
        return None

    raw = {"issuer": values["sso_issuer"], "client_id": values["sso_client_id"], "client_secret": values["sso_client_secret"],
           "label": values["sso_label"], "enabled": "yes", "link_by_email": "no"}
    try:
        settings = SsoSettingsSchema().load(raw)
    except ValidationError as error:
        raise ValidationError({f"sso_{key}": value for key, value in field_messages(error).items()}) from None
    errors = setting_errors(settings)
    if errors:
        raise ValidationError({f"sso_{key}": value for key, value in errors.items()})
    return settings


def _invitation_link(tenant: Tenant, token: str) -> str:
    if has_request_context():
        return url_for("tenant.invitation", tenant_slug=tenant.slug, token=token, _external=True)
    return f"{current_app.extensions['livc.settings'].base_url}/{tenant.slug}/invitation/{token}"


def _mail_invitation(tenant: Tenant, membership: Membership, language: str, actor: str) -> None:
    """A fresh single-use link (7 days; older ones stop working), mailed naming the cell only."""

    token = create_invitation(membership, created_by=actor)
    subject, body = render_mail("coordinator_invitation", language, tenant=tenant, link=_invitation_link(tenant, token))
    send_mail(membership.account.email, subject, body, tenant_id=tenant.id)


def resend_invitation(tenant: Tenant, *, actor: str, language: str | None = None) -> str:
    """A new link for the first coordinator while they have not accepted; returns the address."""
    if tenant.status != TenantStatus.ACTIVE:
        raise ValidationError({"form": [_l("Invitations go out for active cells only.")]})
    language = language or tenant.languages[0]
    if language not in tenant.languages:
        raise ValidationError({"language": [LANGUAGE_NOT_WORKING]})
    with tenant_context(tenant.id):
        membership = db.session.scalar(
            sa.select(Membership).where(Membership.role == Role.COORDINATOR).order_by(Membership.id).limit(1)
        )
        if membership is None or membership.status != MembershipStatus.INVITED:
            raise ValidationError({"form": [NOT_PENDING]})
        _mail_invitation(tenant, membership, language, actor)
        email = membership.account.email
        subject = f"membership:{membership.id}"
    record_action("tenant.invitation_resent", actor=actor, tenant=tenant, subject=subject, details={"language": language})
    return email


# --- progress -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    key: str
    done: bool
    at: datetime | None = None


STEP_LABELS = {
    "onboarded": _l("Tenant created"),
    "invited": _l("First coordinator invited"),
    "accepted": _l("Invitation accepted"),
    "cell_form": _l("Form of the cell chosen"),
    "tables": _l("A table with a chair"),
    "members": _l("Members invited"),
    "house_rules": _l("House rules published"),
    "finished": _l("Set-up finished"),
}


def setup_steps() -> list[Step]:
    """The steps of the set-up wizard, read in the current tenant: done or not, and since when.

    Only existence and dates are read (the form chosen, a table with a chair, the number of
    members, the house rules' publication), never what any of them says.
    """

    profile_at = db.session.scalar(sa.select(CellProfile.created_at))
    table_at = db.session.scalar(
        sa.select(sa.func.min(Table.created_at)).where(Table.removed_at.is_(None), Table.chair_membership_id.is_not(None))
    )
    members_at = db.session.scalar(
        sa.select(sa.func.min(Membership.created_at)).where(
            Membership.role != Role.COORDINATOR, Membership.status != MembershipStatus.ENDED
        )
    )
    rules_at = db.session.scalar(sa.select(sa.func.min(HouseRules.published_at)).where(HouseRules.published_at.is_not(None)))
    return [
        Step("cell_form", profile_at is not None, profile_at),
        Step("tables", table_at is not None, table_at),
        Step("members", members_at is not None, members_at),
        Step("house_rules", rules_at is not None, rules_at),
    ]


def progress(tenant: Tenant) -> list[Step]:
    """Every onboarding step of ``tenant`` (for the operator): booleans and dates only."""
    with tenant_context(tenant.id):
        setup = db.session.get(TenantSetup, tenant.id)
        invitation = db.session.execute(
            sa.select(Invitation.created_at, Invitation.used_at)
            .join(Membership, Membership.id == Invitation.membership_id)
            .where(Membership.role == Role.COORDINATOR)
            .order_by(Invitation.id)
        ).all()
        invited_at = invitation[0].created_at if invitation else None
        accepted_at = next((row.used_at for row in invitation if row.used_at is not None), None)
        steps = [
            Step("onboarded", True, setup.onboarded_at if setup is not None else tenant.created_at),
            Step("invited", invited_at is not None, invited_at),
            Step("accepted", accepted_at is not None, accepted_at),
            *setup_steps(),
            Step("finished", setup is not None and setup.finished_at is not None, setup.finished_at if setup else None),
        ]
    return steps


def rules_to_fix(tenant: Tenant) -> list:
    """What the cell still puts right by the rules of seed 004 (a police coordinator, official or
    chair; a fixed participant missing), for the operator: the rules' messages, naming no one and
    nothing the cell wrote. The cell is never changed for it."""
    with tenant_context(tenant.id):
        return [*composition_problems(), *legal_minimum_problems()]


class SetupIncomplete(ValueError):
    def __init__(self, missing: list[str]):
        super().__init__(", ".join(missing))
        self.missing = missing


def finish_setup(tenant: Tenant) -> TenantSetup:
    """The coordinator closes the wizard once every step is done (in the tenant's context)."""

    missing = [step.key for step in setup_steps() if not step.done]
    if missing:
        raise SetupIncomplete(missing)
    setup = db.session.get(TenantSetup, tenant.id)
    if setup is None:  # a cell made before the console (the demo's): set up all the same
        setup = TenantSetup(tenant_id=tenant.id, onboarded_by="system", onboarded_at=tenant.created_at)
        db.session.add(setup)
    if setup.finished_at is None:
        setup.finished_at = utcnow()
        db.session.flush()
        audit.record("setup.finished", subject=f"tenant:{tenant.slug}")
    return setup


def tenant_list() -> list[Tenant]:
    return list(db.session.scalars(sa.select(Tenant).order_by(Tenant.slug)))


# --- the console's list of tenants, a page at a time ------------------------------------------

#: The list's order: by address (unique), the id making it total all the same.
TENANT_ORDER = (Key(Tenant.slug), Key(Tenant.id))
#: Operator trail actions that send the first coordinator's invitation.
INVITING = ("tenant.onboarded", "tenant.invitation_resent")
UNKNOWN_CHOICE = _l("Choose one of the listed values.")
SEARCH_MAX = 100


class TenantListQuery(PageQuery):
    """The list's filters in the query string (``?status=active&kind=municipality&q=leuv``)."""

    status = fields.String(validate=validate.OneOf([status.value for status in TenantStatus]),
                           metadata={"description": "Only cells in this status."})
    kind = fields.String(validate=validate.OneOf([kind.value for kind in TenantKind]),
                         metadata={"description": "Only cells of this kind."})
    q = fields.String(validate=validate.Length(max=SEARCH_MAX),
                      metadata={"description": "Only cells whose name or address contains this text."})


@dataclass(frozen=True)
class TenantFilters:
    status: TenantStatus | None = None
    kind: TenantKind | None = None
    search: str = ""

    @classmethod
    def from_args(cls, args) -> "TenantFilters":
        """The filters a query string asks for; :class:`BadPage` (400) for a value not offered."""
        values = {}
        for name, enum_class in (("status", TenantStatus), ("kind", TenantKind)):
            raw = (args.get(name) or "").strip()
            if raw and raw not in enum_class._value2member_map_:
                raise BadPage(UNKNOWN_CHOICE, name)
            values[name] = enum_class(raw) if raw else None
        return cls(values["status"], values["kind"], (args.get("q") or "").strip()[:SEARCH_MAX])


def tenant_page(args: PageArgs, filters: TenantFilters = TenantFilters()) -> Page[Tenant]:
    """One page of the console's tenants, filtered and ordered in the query.

    Its cost does not grow with the number of tenants: the page's tenants, their municipalities
    (one more query) and :func:`invitations_sent` (one more). Each listed tenant's onboarding
    :func:`progress` lives in the cell's own rows, which row-level security shows only inside
    that cell's context: the pages read it for the page's tenants alone, a cost bounded by the
    page's size (at most ``per_page`` contexts), never by the number of tenants.
    """
    query = sa.select(Tenant).options(selectinload(Tenant.municipalities))
    if filters.status is not None:
        query = query.where(Tenant.status == filters.status)
    if filters.kind is not None:
        query = query.where(Tenant.kind == filters.kind)
    if filters.search:
        needle = filters.search.lower()
        query = query.where(sa.or_(sa.func.lower(Tenant.name).contains(needle, autoescape=True),
                                   Tenant.slug.contains(needle, autoescape=True)))
    return keyset_page(query, TENANT_ORDER, args, scope="console_tenants")


def invitations_sent(tenants: list[Tenant]) -> dict[str, datetime]:
    """When each tenant's first coordinator was last sent an invitation, from the operator trail
    (a platform record): one query for the whole page, by slug."""
    slugs = [tenant.slug for tenant in tenants]
    if not slugs:
        return {}
    rows = db.session.execute(
        sa.select(OperatorAuditEntry.tenant_slug, sa.func.max(OperatorAuditEntry.at))
        .where(OperatorAuditEntry.tenant_slug.in_(slugs), OperatorAuditEntry.action.in_(INVITING))
        .group_by(OperatorAuditEntry.tenant_slug)
    ).all()
    return {slug: at for slug, at in rows}
