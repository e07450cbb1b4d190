"""What the figures keep of records that retention erased, and the cell's consent to count in the
platform's figures.

A record about a person (a signal, a case with its measures, reviews and feedback forms) counts in
the figures while it exists, from its own rows. When retention erases it, its countable facts are
moved here first (:mod:`livc.tenants.monitoring.ledger`): a figure, a month, a municipality of
residence, a category and, for measures, the organisation; never a code, an id of a record, or a
date finer than the month. History survives retention; no one can be found in it.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from livc.platform.db import Id, TenantScoped, db
from livc.platform.timeutil import utcnow


class KeptCount(TenantScoped, db.Model):
    """Anonymous counts left by erased records, one row per figure, month, place and category."""

    __tablename__ = "monitoring_kept_counts"
    __table_args__ = (
        sa.UniqueConstraint("tenant_id", "figure", "month", "municipality", "category", "organisation_id",
                            name="uq_monitoring_kept_counts_fact"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    figure: Mapped[str] = mapped_column(sa.String(40))
    month: Mapped[date]  # the first day of the month
    municipality: Mapped[str] = mapped_column(sa.String(5), default="")  # NIS code, "" when not recorded
    category: Mapped[str] = mapped_column(sa.String(120))  # one leaf per breakdown, joined by "|"
    organisation_id: Mapped[int | None] = mapped_column(
        Id, sa.ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    count: Mapped[int] = mapped_column(default=0)


class FiguresConsent(TenantScoped, db.Model):
    """The cell's decision to count in the platform-wide figures (anonymous, suppressed sums)."""

    __tablename__ = "monitoring_consents"
    __table_args__ = (sa.UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform_figures: Mapped[bool] = mapped_column(default=False)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
