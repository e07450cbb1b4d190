"""Validation of tenant data: one place, every field's message at once."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates,
    validates_schema,
)

from livc.platform import registry
from livc.platform.settings import LANGUAGES
from livc.platform.tenancy import NIS_PATTERN, SLUG_PATTERN, TenantKind

# Paths the platform itself serves at the top level can never be a tenant's slug.
RESERVED_SLUGS = frozenset(
    {"admin", "api", "static", "language", "healthz", "readyz", "login", "logout", "operator",
     "federation", "custodian", "auth", "oidc", "assets", "favicon.ico", "robots.txt"}
)


class MunicipalitySchema(Schema):
    """A covered municipality: a NIS code of the registry (``livc.platform.registry``). Its stored
    name is the registry's, in the tenant's main language; a ``name`` sent along is ignored."""

    nis_code = fields.String(required=True, validate=validate.Regexp(NIS_PATTERN, error=_l("A NIS code has five digits.")))
    name = fields.String(load_default=None, validate=validate.Length(max=120))

    @validates("nis_code")
    def _in_registry(self, value: str, **_kwargs) -> None:
        if NIS_PATTERN.match(value) and registry.municipality(value) is None:
            raise ValidationError(
                _("%(code)s is not the NIS code of a Belgian municipality (2025 registry).",
                  code=value))


class TenantSchema(Schema):
    slug = fields.String(required=True, validate=validate.Regexp(
        SLUG_PATTERN, error=_l("Use lower-case letters, digits and hyphens (2 to 63 characters).")))
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = fields.Enum(TenantKind, by_value=True, required=True)
    languages = fields.List(fields.String(validate=validate.OneOf(LANGUAGES)), required=True,
                            validate=validate.Length(min=1, max=len(LANGUAGES)))
    municipalities = fields.List(fields.Nested(MunicipalitySchema), required=True,
                                 validate=validate.Length(min=1))

    @validates("slug")
    def _not_reserved(self, value: str, **_kwargs) -> None:
        if value in RESERVED_SLUGS or len(value) < 2:
            raise ValidationError(_l("This address is reserved or too short."))

    @validates_schema
    def _kind_matches_coverage(self, data: dict, **_kwargs) -> None:
        codes = [m["nis_code"] for m in data.get("municipalities", [])]
        if len(codes) != len(set(codes)):
            raise ValidationError(_l("A municipality is listed twice."), "municipalities")
        if data.get("kind") == TenantKind.MUNICIPALITY and len(codes) > 1:
            raise ValidationError(_l("A municipal cell covers exactly one municipality."), "municipalities")

    @post_load
    def _registry_names(self, data: dict, **_kwargs) -> dict:
        language = data["languages"][0]
        data["municipalities"] = [
            {"nis_code": m["nis_code"], "name": registry.municipality(m["nis_code"]).name(language)}
            for m in data["municipalities"]
        ]
        return data
