"""Follow-up scenarios (*gestandaardiseerde scenario's inzake trajectopvolging*), as stored.

Seeds 001 and 004 ask the operational table to develop "proactieve, preventieve, curatieve en
reactieve gestandaardiseerde scenario's inzake trajectopvolging van casussen en dit per
doelgroep": a cell keeps, per target group, scenarios of typical measures, each with the
category of the measure, the kind of partner organisation that usually carries it and a default
period. Starting a follow-up plan from a scenario proposes its measures; the case team adapts
them (:mod:`livc.tenants.scenarios.operations`).

A scenario is the cell's way of working, not case content: plain text, never about a person.
A removed scenario is kept as removed, so that the default of its target group is not written
again behind the coordinator's back.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from livc.platform.db import Id, TenantScoped, db, value_enum
from livc.platform.roles import OrganisationKind
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import MeasureCategory
from livc.tenants.signals.models import TargetGroup

NAME_MAX = 200
DESCRIPTION_MAX = 500
PERIOD_MAX_DAYS = 730  # two years: a plan is reviewed long before
MEASURES_MAX = 20


def _membership_column() -> Mapped[int | None]:
    return mapped_column(Id, sa.ForeignKey("memberships.id", ondelete="SET NULL"), index=True)


class FollowUpScenario(TenantScoped, db.Model):
    """A scenario of the cell for one target group: a name and its typical measures."""

    __tablename__ = "follow_up_scenarios"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    target_group: Mapped[TargetGroup] = mapped_column(value_enum(TargetGroup), index=True)
    is_default: Mapped[bool] = mapped_column(default=False)  # the platform's default, as first written
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = _membership_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]

    measures: Mapped[list[ScenarioMeasure]] = relationship(
        order_by="ScenarioMeasure.position, ScenarioMeasure.id", cascade="all, delete-orphan"
    )

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


class ScenarioMeasure(TenantScoped, db.Model):
    """A typical measure of a scenario: what is done (plain text), its category, the kind of
    partner organisation that usually carries it and the default period in days."""

    __tablename__ = "scenario_measures"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scenario_id: Mapped[int] = mapped_column(
        Id, sa.ForeignKey("follow_up_scenarios.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    description: Mapped[str] = mapped_column(sa.String(DESCRIPTION_MAX))
    category: Mapped[MeasureCategory] = mapped_column(value_enum(MeasureCategory))
    organisation_kind: Mapped[OrganisationKind] = mapped_column(value_enum(OrganisationKind))
    period_days: Mapped[int]
