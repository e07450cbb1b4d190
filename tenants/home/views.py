"""The cell's landing page (public) and the member's home page: their role's dashboard
(:mod:`livc.tenants.home.boards`) and links to every page the member may reach."""

from __future__ import annotations

from flask import g, render_template

from livc.platform.policy import Action, public
from livc.tenants.access import guard
from livc.tenants.cases.models import CaseStage
from livc.tenants.decisions.models import DECISION_KIND_LABELS
from livc.tenants.home.boards import board_for
from livc.tenants.home.dashboard import LABELS
from livc.tenants.meetings.cadence import CADENCE_LABELS
from livc.tenants.navigation import cell_pages
from livc.tenants.signals.views import case_url
from livc.tenants.web import KIND_LABELS, blueprint


@blueprint.get("/")
@public
def landing():
    return render_template("tenants/landing.html", tenant=g.tenant, kind_label=KIND_LABELS[g.tenant.kind])


@blueprint.get("/home")
@guard(Action.CELL_ENTER)
def home():
    """The member's dashboard: what waits for them, card by card (and what the parts above the
    cell's work contribute, :mod:`livc.tenants.panels`), and the pages they may reach."""
    board = board_for(g.person, g.membership)
    return render_template(
        "tenants/home.html", tenant=g.tenant, membership=g.membership, links=cell_pages(),
        kind_label=KIND_LABELS[g.tenant.kind], board=board, today=board.today, case_url=case_url,
        labels={**LABELS, "cadence": CADENCE_LABELS, "decision_kind": DECISION_KIND_LABELS}, open_stages=[stage for stage in CaseStage if stage != CaseStage.CLOSED],
        closed_stage=CaseStage.CLOSED,
    )
