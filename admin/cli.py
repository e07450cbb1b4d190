"""``livc tenant ...`` and ``livc operator ...``: the operator's actions, scriptable.

Onboarding commands and lifecycle commands (``admin/lifecycle_cli.py``) attach to these groups.
"""

from __future__ import annotations

import click


@click.group("tenant")
def tenant_group() -> None:
    """Tenants (cells): onboarding and lifecycle, as the platform operator."""


@click.group("operator")
def operator_group() -> None:
    """Operator accounts of the platform's console."""
