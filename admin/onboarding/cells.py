"""State changes of tenants. Views and commands call these; they hold the rules."""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.admin.onboarding.schemas import TenantSchema
from livc.platform import audit
from livc.platform.db import db, tenant_context
from livc.platform.tenancy import Tenant, TenantMunicipality


def create_tenant(data: dict, *, actor: str = "system") -> Tenant:
    """Create a tenant and start its audit trail. Raises marshmallow ``ValidationError``."""
    values = TenantSchema().load(data)
    if db.session.scalar(sa.select(Tenant.id).where(Tenant.slug == values["slug"])) is not None:
        raise ValidationError({"slug": [_l("This address is already taken.")]})
    tenant = Tenant(slug=values["slug"], name=values["name"], kind=values["kind"])
    tenant.languages = values["languages"]
    tenant.municipalities = [TenantMunicipality(**m) for m in values["municipalities"]]
    db.session.add(tenant)
    db.session.flush()
    with tenant_context(tenant.id):
        audit.record(
            "tenant.created",
            actor=actor,
            subject=f"tenant:{tenant.slug}",
            details={"kind": tenant.kind.value, "municipalities": tenant.nis_codes},
        )
    return tenant
