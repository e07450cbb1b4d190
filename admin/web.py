"""The operator console's blueprint: every operator page and the operator JSON API hang here.

Console modules (onboarding, lifecycle, health...) add their routes to ``blueprint`` and are
imported by ``livc.platform.app.create_app``. Nothing on this blueprint may return case,
signal, meeting or identity content (``tests`` walk every route to prove it).
"""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
