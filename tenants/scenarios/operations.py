"""Follow-up scenarios: the cell's standardised ways of following up a target group, and starting
a case's follow-up plan from one.

The rules:

- every target group has a default scenario, written once per cell when the cell has none for
  it (in the cell's first working language); a scenario the coordinator removed is kept as
  removed, so the default does not come back;
- a scenario has a name, a target group and between one and :data:`MEASURES_MAX` typical
  measures, each with what is done (plain text: never about a person), its category, the kind
  of partner organisation and a default period in days;
- managing the scenarios is the coordinator's (``Action.CASE_SETTINGS_MANAGE``), like the cell's
  other case settings: the joint decisions of :mod:`livc.tenants.decisions` are about cases,
  signals and the strategic table, and have no kind for the cell's ways of working yet;
- starting a plan from a scenario proposes its measures: what is done and the category as the
  scenario says, an organisation of the cell of the scenario's kind if there is one, the due
  date today plus the default period. The case team adapts the rows, leaves some out, and saves
  them at once: every row is checked before any is added, so a refusal adds none.

Every change is audited with ids and field names, never with the text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from livc.platform import audit
from livc.platform.db import current_tenant_id, db
from livc.platform.roles import OrganisationKind
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases.models import Case, Measure, MeasureCategory
from livc.tenants.cases.operations import add_measure, measure_faults, subject_of
from livc.tenants.members.models import Membership, Organisation
from livc.tenants.scenarios.models import (
    DESCRIPTION_MAX,
    MEASURES_MAX,
    NAME_MAX,
    PERIOD_MAX_DAYS,
    FollowUpScenario,
    ScenarioMeasure,
)
from livc.tenants.signals.models import TARGET_GROUP_LABELS, TargetGroup
from livc.tenants.signals.operations import REQUIRED, Faults, add_fault

Row = dict[str, Any]

NO_MEASURES = _l("A scenario has at least one typical measure.")
TOO_MANY_MEASURES = _l("A scenario has at most %(count)s typical measures.", count=MEASURES_MAX)
TOO_LONG = _l("At most %(count)s characters.")
PERIOD_RANGE = _l("A period of 1 to %(days)s days.", days=PERIOD_MAX_DAYS)
NOTHING_PROPOSED = _l("Keep at least one measure of the plan.")
NOT_A_SCENARIO = _l("Choose a scenario of the cell.")

DEFAULT_NAME = _l("Standard follow-up: %(group)s")
_A = MeasureCategory
_K = OrganisationKind
#: The default scenario of each target group (seeds 000, 001 and 004): a combination of guidance,
#: care, administrative, police and judicial measures, with the partners the seeds name.
DEFAULTS: dict[TargetGroup, tuple[tuple[Any, MeasureCategory, OrganisationKind, int], ...]] = {
    TargetGroup.FTF: (
        (_l("Establish presence or absence and follow up with the Local Task Force"), _A.POLICE, _K.POLICE, 14),
        (_l("Follow up the administrative measures (travel documents, population register)"),
         _A.ADMINISTRATIVE, _K.MUNICIPAL_SERVICE, 30),
        (_l("Guidance towards reintegration by a trusted person"), _A.GUIDANCE, _K.CAW, 60),
        (_l("A route to work or training"), _A.WORK, _K.VDAB, 90),
    ),
    TargetGroup.HTF: (
        (_l("Police follow-up agreed with the Local Task Force"), _A.POLICE, _K.POLICE, 30),
        (_l("Individual guidance by a trusted person"), _A.GUIDANCE, _K.CAW, 30),
        (_l("Psychological support or therapy"), _A.CARE, _K.HOSPITAL, 60),
        (_l("A route to work or training"), _A.WORK, _K.VDAB, 90),
    ),
    TargetGroup.HATE_PROPAGANDIST: (
        (_l("Follow up the administrative measures of the mayor"), _A.ADMINISTRATIVE, _K.MUNICIPAL_SERVICE, 30),
        (_l("Police follow-up agreed with the Local Task Force"), _A.POLICE, _K.POLICE, 30),
        (_l("Follow up the judicial conditions with the justice house"), _A.JUDICIAL_PENAL, _K.JUSTICE_HOUSE, 60),
    ),
    TargetGroup.CHILD_OF_FTF_HTF: (
        (_l("Support of the family in bringing up the child"), _A.CARE, _K.OCMW, 30),
        (_l("Pupil guidance at school"), _A.EDUCATION, _K.CLB, 30),
        (_l("A leisure activity through the youth service"), _A.GUIDANCE, _K.YOUTH_SERVICE, 60),
    ),
    TargetGroup.OTHER_EXTREMISM: (
        (_l("Individual guidance by a trusted person"), _A.GUIDANCE, _K.CAW, 30),
        (_l("Pupil guidance or a route to training"), _A.EDUCATION, _K.CLB, 60),
        (_l("Support in finding stable housing"), _A.HOUSING, _K.OCMW, 60),
    ),
}


def _today() -> date:
    return utcnow().date()


def _subject(scenario: FollowUpScenario) -> str:
    return f"scenario:{scenario.id}"


# --- reading -----------------------------------------------------------------------------------


def ensure_default_scenarios() -> int:
    """Write the default scenario of every target group for which the cell never had one (in the
    cell's first working language); the number written."""
    known = set(db.session.scalars(sa.select(FollowUpScenario.target_group).distinct()))
    missing = [group for group in TargetGroup if group not in known]
    if not missing:
        return 0
    tenant = db.session.get(Tenant, current_tenant_id())
    with force_locale(tenant.languages[0] if tenant is not None and tenant.languages else "nl"):
        for group in missing:
            scenario = FollowUpScenario(name=str(DEFAULT_NAME % {"group": TARGET_GROUP_LABELS[group]}),
                                        target_group=group, is_default=True)
            scenario.measures = [
                ScenarioMeasure(position=position, description=str(text), category=category,
                                organisation_kind=kind, period_days=days)
                for position, (text, category, kind, days) in enumerate(DEFAULTS[group])
            ]
            db.session.add(scenario)
    db.session.flush()
    for scenario in db.session.scalars(sa.select(FollowUpScenario).where(FollowUpScenario.target_group.in_(missing))):
        audit.record("scenario.seeded", subject=_subject(scenario), details={"target_group": scenario.target_group.value})
    return len(missing)


def scenarios(target_group: TargetGroup | None = None) -> list[FollowUpScenario]:
    """The cell's scenarios (not removed), by target group then name."""
    query = sa.select(FollowUpScenario).where(FollowUpScenario.removed_at.is_(None))
    if target_group is not None:
        query = query.where(FollowUpScenario.target_group == target_group)
    order = {group: index for index, group in enumerate(TargetGroup)}
    return sorted(db.session.scalars(query), key=lambda s: (order[s.target_group], s.name.lower(), s.id))


def find_scenario(scenario_id: int) -> FollowUpScenario | None:
    scenario = db.session.get(FollowUpScenario, scenario_id)
    return scenario if scenario is not None and not scenario.removed else None


def scenarios_for_case(case: Case) -> list[FollowUpScenario]:
    """The scenarios to start the case's plan from: its target group's first."""
    return sorted(scenarios(), key=lambda s: s.target_group != case.target_group)


# --- managing the scenarios ----------------------------------------------------------------------


def _text_fault(faults: Faults, name: str, value: str | None, limit: int) -> None:
    if not (value or "").strip():
        add_fault(faults, name, REQUIRED)
    elif len(value.strip()) > limit:
        add_fault(faults, name, TOO_LONG % {"count": limit})


def _scenario_faults(values: Mapping[str, Any], faults: Faults) -> Faults:
    """Every fault of a scenario's values at once (``faults``: those found reading the input)."""
    faults = {name: list(messages) for name, messages in faults.items()}
    if "name" not in faults:
        _text_fault(faults, "name", values.get("name"), NAME_MAX)
    if "target_group" not in faults and values.get("target_group") is None:
        add_fault(faults, "target_group", REQUIRED)
    rows = values.get("measures") or []
    if not rows and not any(name.startswith("measures.") for name in faults):
        add_fault(faults, "measures", NO_MEASURES)
    if len(rows) > MEASURES_MAX:
        add_fault(faults, "measures", TOO_MANY_MEASURES)
    for index, row in enumerate(rows):
        prefix = f"measures.{index}."
        if prefix + "description" not in faults:
            _text_fault(faults, prefix + "description", row.get("description"), DESCRIPTION_MAX)
        for name in ("category", "organisation_kind"):
            if prefix + name not in faults and row.get(name) in (None, MeasureCategory.NOT_RECORDED):
                add_fault(faults, prefix + name, REQUIRED)
        days = row.get("period_days")
        if prefix + "period_days" not in faults:
            if days is None:
                add_fault(faults, prefix + "period_days", REQUIRED)
            elif not 1 <= days <= PERIOD_MAX_DAYS:
                add_fault(faults, prefix + "period_days", PERIOD_RANGE)
    return faults


def _raise(faults: Faults) -> None:
    if faults:
        raise ValidationError({name: [str(message) for message in messages] for name, messages in faults.items()})


def _write(scenario: FollowUpScenario, values: Mapping[str, Any]) -> None:
    scenario.name = values["name"].strip()
    scenario.target_group = TargetGroup(values["target_group"])
    scenario.measures = [
        ScenarioMeasure(position=position, description=row["description"].strip(),
                        category=MeasureCategory(row["category"]), organisation_kind=OrganisationKind(row["organisation_kind"]),
                        period_days=row["period_days"])
        for position, row in enumerate(values["measures"])
    ]
    scenario.updated_at = utcnow()


def create_scenario(actor: Membership, values: Mapping[str, Any], faults: Faults | None = None) -> FollowUpScenario:
    _raise(_scenario_faults(values, faults or {}))
    scenario = FollowUpScenario(created_by_id=actor.id)
    _write(scenario, values)
    db.session.add(scenario)
    db.session.flush()
    audit.record("scenario.created", subject=_subject(scenario),
                 details={"target_group": scenario.target_group.value, "measures": len(scenario.measures)})
    return scenario


def change_scenario(scenario: FollowUpScenario, actor: Membership, values: Mapping[str, Any],
                    faults: Faults | None = None) -> FollowUpScenario:
    """Replace the scenario's name, target group and measures (fields not sent stay as they are)."""
    merged = {
        "name": scenario.name, "target_group": scenario.target_group,
        "measures": [{"description": m.description, "category": m.category, "organisation_kind": m.organisation_kind,
                      "period_days": m.period_days} for m in scenario.measures],
        **values,
    }
    _raise(_scenario_faults(merged, faults or {}))
    _write(scenario, merged)
    audit.record("scenario.changed", subject=_subject(scenario),
                 details={"fields": sorted(values), "measures": len(scenario.measures), "by": actor.id})
    return scenario


def remove_scenario(scenario: FollowUpScenario, actor: Membership) -> None:
    """Removed, not deleted: the default of its target group is not written again."""
    scenario.removed_at = utcnow()
    audit.record("scenario.removed", subject=_subject(scenario),
                 details={"target_group": scenario.target_group.value, "by": actor.id})


# --- starting a plan from a scenario ----------------------------------------------------------------


def organisation_of_kind(kind: OrganisationKind) -> Organisation | None:
    """The cell's organisation of ``kind`` (the first by name), if it has one."""
    return db.session.scalars(
        sa.select(Organisation).where(Organisation.kind == kind).order_by(sa.func.lower(Organisation.name))
    ).first()


def proposed_measures(scenario: FollowUpScenario, today: date | None = None) -> list[Row]:
    """The scenario's measures as rows of a plan to adapt: description, category, an organisation
    of the cell of the scenario's kind (None when the cell has none), due today + the period."""
    today = today or _today()
    rows = []
    for measure in scenario.measures:
        organisation = organisation_of_kind(measure.organisation_kind)
        rows.append({
            "description": measure.description,
            "category": measure.category,
            "organisation_id": organisation.id if organisation is not None else None,
            "organisation_kind": measure.organisation_kind,
            "due_on": today + timedelta(days=measure.period_days),
        })
    return rows


def start_plan(case: Case, actor: Membership, rows: Sequence[Mapping[str, Any]], faults: Faults | None = None,
               scenario: FollowUpScenario | None = None) -> list[Measure]:
    """Add the adapted rows to the case's plan at once; every row is checked before any is added.
    Faults are keyed ``measures.<row>.<field>`` (``faults``: those found reading the input)."""
    faults = {name: list(messages) for name, messages in (faults or {}).items()}
    if not rows and not faults:
        add_fault(faults, "measures", NOTHING_PROPOSED)
    for index, row in enumerate(rows):
        for name, messages in measure_faults(case, row).items():
            key = name if name == "_schema" else f"measures.{index}.{name}"
            if key not in faults:
                for message in messages:
                    add_fault(faults, key, message)
    _raise(faults)
    added = [add_measure(case, actor, row) for row in rows]
    audit.record("case.plan_from_scenario", subject=subject_of(case),
                 details={"scenario_id": scenario.id if scenario is not None else None,
                          "measure_ids": [measure.id for measure in added]})
    return added
