"""A cell's set-up record: which onboarding and set-up steps are done, as dates only."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from livc.platform.db import Id, TenantScoped, db
from livc.platform.timeutil import utcnow

ORGANISATION_DEFAULT = {"nl": "Preventiedienst", "fr": "Service de prévention", "en": "Prevention service"}


class TenantSetup(TenantScoped, db.Model):
    """How a tenant was onboarded, and when its coordinator finished the set-up wizard."""

    __tablename__ = "tenant_setups"

    tenant_id: Mapped[int] = mapped_column(Id, sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    onboarded_by: Mapped[str] = mapped_column(sa.String(120))
    onboarded_at: Mapped[datetime] = mapped_column(default=utcnow)
    police_zone: Mapped[str | None] = mapped_column(sa.String(10))
    finished_at: Mapped[datetime | None]
