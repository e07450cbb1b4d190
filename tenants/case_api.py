"""(being written)"""

from livc.tenants.views import blueprint  # noqa: F401
