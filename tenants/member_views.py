"""Member management by the coordinator (placeholder)."""

from __future__ import annotations

from flask import g, render_template

from livc.platform.policy import Action
from livc.tenants.access import guard
from livc.tenants.views import blueprint


@blueprint.get("/members")
@guard(Action.MEMBERS_VIEW)
def members():
    return render_template("tenants/home.html", tenant=g.tenant, membership=g.membership, links=[], kind_label="")


@blueprint.get("/organisations")
@guard(Action.ORGANISATIONS_MANAGE)
def organisations():
    return render_template("tenants/home.html", tenant=g.tenant, membership=g.membership, links=[], kind_label="")
