"""Lifecycle commands on ``livc tenant``: suspend, reactivate, offboard."""

from __future__ import annotations

from livc.admin.cli import tenant_group  # noqa: F401  (commands attach to this group)
