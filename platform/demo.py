"""Two neighbouring demo cells with synthetic, clearly fake content.

The municipalities are real (so federation suggestions make sense later); everything said
about them in the demo is invented.
"""

from __future__ import annotations

from livc.platform.db import db
from livc.tenants.models import Tenant
from livc.tenants.operations import create_tenant, find_tenant

DEMO_TENANTS = (
    {
        "slug": "demo-leuven",
        "name": "DEMO LIVC-R Leuven",
        "kind": "municipality",
        "languages": ["nl", "en"],
        "municipalities": [{"nis_code": "24062", "name": "Leuven"}],
    },
    {
        "slug": "demo-herko",
        "name": "DEMO zonale LIVC-R politiezone Herent-Kortenberg",
        "kind": "police_zone",
        "languages": ["nl", "fr", "en"],
        "municipalities": [
            {"nis_code": "24038", "name": "Herent"},
            {"nis_code": "24055", "name": "Kortenberg"},
        ],
    },
)


def seed_demo() -> list[Tenant]:
    """Create the demo cells that do not exist yet; return all of them."""
    tenants = []
    for data in DEMO_TENANTS:
        tenant = find_tenant(data["slug"]) or create_tenant(data, actor="system:demo")
        tenants.append(tenant)
    db.session.commit()
    return tenants
