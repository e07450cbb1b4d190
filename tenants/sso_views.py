"""Single sign-on pages of a cell (placeholder until the SSO work lands)."""

from __future__ import annotations

from flask import g, render_template

from livc.platform.policy import Action
from livc.tenants.access import guard
from livc.tenants.views import blueprint


@blueprint.get("/sso")
@guard(Action.SSO_MANAGE)
def sso_settings():
    return render_template("tenants/home.html", tenant=g.tenant, membership=g.membership, links=[], kind_label="")
