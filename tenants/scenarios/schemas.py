"""What the scenario forms and the JSON API accept.

A scenario and a plan are lists of rows: the API sends ``measures`` as a list of objects, the
pages send ``measures.<row>.<field>`` inputs. Both are read field by field here, leniently: a
value that cannot be read is a fault keyed ``measures.<row>.<field>`` and is left out, so that the
operations (:mod:`livc.tenants.scenarios.operations`) report it with every other fault at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields

from livc.platform.roles import OrganisationKind
from livc.tenants.cases.schemas import measure_category
from livc.tenants.members.schemas import FieldSchema
from livc.tenants.scenarios.models import PERIOD_MAX_DAYS
from livc.tenants.signals.models import TargetGroup
from livc.tenants.signals.operations import Faults
from livc.tenants.signals.schemas import choice, day, organisation_id, text

ROWS_MAX = 50
A_LIST = _l("Send a list of measures.")
AN_OBJECT = _l("Send each measure as an object.")
WHOLE_DAYS = _l("A whole number of days.")


class ScenarioSchema(FieldSchema):
    name = text()
    target_group = choice(TargetGroup)


class ScenarioMeasureSchema(FieldSchema):
    description = text()
    category = measure_category()
    organisation_kind = choice(OrganisationKind)
    period_days = fields.Integer(strict=False, allow_none=True, error_messages={"invalid": WHOLE_DAYS},
                                 metadata={"max": PERIOD_MAX_DAYS})


class PlanMeasureSchema(FieldSchema):
    description = text()
    category = measure_category()
    organisation_id = organisation_id()
    due_on = day()


def _lenient(schema: Schema, raw: Mapping[str, Any], prefix: str = "") -> tuple[dict, Faults]:
    """The readable values of ``raw`` and the faults of the others, keyed ``prefix + field``."""
    raw = {name: value for name, value in raw.items() if name in schema.fields and value not in ("", None)}
    try:
        return schema.load(raw), {}
    except ValidationError as error:
        messages = error.normalized_messages()
        valid = error.valid_data if isinstance(error.valid_data, dict) else {}
        faults = {prefix + name: (found if isinstance(found, list) else [found]) for name, found in messages.items()}
        return {name: value for name, value in valid.items() if name not in messages}, faults


def read_rows(rows: Any, schema: Schema) -> tuple[list[dict], Faults]:
    """A list of rows (from JSON) read with ``schema``: their values and faults."""
    if not isinstance(rows, list) or len(rows) > ROWS_MAX:
        return [], {"measures": [A_LIST]}
    values, faults = [], {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            faults[f"measures.{index}"] = [AN_OBJECT]
            values.append({})
            continue
        value, found = _lenient(schema, row, f"measures.{index}.")
        values.append(value)
        faults.update(found)
    return values, faults


ROW_FIELD = re.compile(r"^measures\.(\d{1,2})\.([a-z_]+)$")


def rows_from_form(form: Mapping[str, str], schema: Schema, *, kept_only: bool = False) -> tuple[list[dict], Faults, list[dict]]:
    """The rows a page sent as ``measures.<row>.<field>`` inputs: blank rows and, with
    ``kept_only``, rows whose ``measures.<row>.keep`` box is not ticked, are left out (renumbered).
    Returns the values, the faults and the rows as typed (to show the form again)."""
    by_row: dict[int, dict[str, str]] = {}
    for name, value in form.items():
        found = ROW_FIELD.match(name)
        if found:
            by_row.setdefault(int(found.group(1)), {})[found.group(2)] = value.strip()
    typed, sent = [], []
    for index in sorted(by_row):
        row = by_row[index]
        if kept_only and row.get("keep") != "yes":
            continue
        if not any(value for name, value in row.items() if name in schema.fields):
            continue
        sent.append(row)
    values, faults = [], {}
    for index, row in enumerate(sent):
        value, found = _lenient(schema, row, f"measures.{index}.")
        values.append(value)
        faults.update(found)
        typed.append(row)
    return values, faults, typed


def read_scenario(raw: Mapping[str, Any]) -> tuple[dict, Faults]:
    """A scenario's name and target group (the rows are read apart)."""
    return _lenient(ScenarioSchema(), raw)
