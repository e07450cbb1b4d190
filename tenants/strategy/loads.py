"""What a policy follow-up address names, for ``guard(..., load=...)`` by the pages, the API and
the menu: the strategic table (the policy's resource: who has a seat at it).

An entry's loader answers 404 for an id that does not exist or belongs to another cell (the ORM
and row-level security hide it), before the policy is asked, so probing ids teaches nothing;
the entry is put in ``g.entry``.
"""

from __future__ import annotations

from flask import g
from werkzeug.exceptions import NotFound

from livc.tenants.strategy.operations import StrategicTable, find_entry, strategic_table


def load_strategic_table() -> StrategicTable:
    return strategic_table()


def load_entry(entry_id: int) -> StrategicTable:
    entry = find_entry(entry_id)
    if entry is None:
        raise NotFound()
    g.entry = entry
    return strategic_table(audit_subject=f"policy_entry:{entry.id}")
