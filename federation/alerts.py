"""Match alerts as each cell sees them, and the steps its coordinator takes.

An alert shows the other cell, the score and the key types that agreed, and the cell's own
case (it is the cell's own data); never anything of the other case. Each side moves from new to
acknowledged to confirmed, or dismisses the pair as two different people (then that pair
never alerts again unless an identity changes). When both confirmed, each side sees the other
cell's coordinators (name and e-mail) and a shared reference. Every step is audited in the
acting cell's trail; the coordinators of both cells get one e-mail per new alert, naming the
cells only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.dialects import postgresql, sqlite

from livc.federation.links import FederationError, audit_in, check_coordinator
from livc.federation.models import (
    AlertState,
    CaseFederation,
    DismissedPair,
    FederationEnrolment,
    MatchAlert,
    SideStatus,
)
from livc.platform import audit
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.jobs import task
from livc.platform.mail import render_mail, send_mail
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases.reading import case_codes
from livc.tenants.members.reading import Contact, coordinator_contacts

NO_ALERT = _l("There is no such alert.")
ALERT_CLOSED = _l("This alert is no longer open.")


@dataclass(frozen=True)
class AlertView:
    """One alert as one cell sees it."""

    id: int
    other_cell_id: int
    other_cell: str  # the other cell's name
    score: float
    agreeing: tuple[str, ...]
    unknown: tuple[str, ...]
    status: SideStatus  # this side's
    other_status: SideStatus
    state: AlertState
    created_at: datetime
    case_id: int | None  # this cell's own case
    case_code: str | None
    shared_reference: str | None = None  # only once both confirmed
    contacts: tuple[Contact, ...] = field(default_factory=tuple)  # the other cell's coordinators


def _alerts_query(tenant_id: int) -> sa.Select:
    return sa.select(MatchAlert).where(sa.or_(MatchAlert.tenant_a_id == tenant_id, MatchAlert.tenant_b_id == tenant_id))


def contacts_in(tenant_id: int) -> tuple[Contact, ...]:
    """The coordinators of cell ``tenant_id`` (name and e-mail), read in that cell."""
    with tenant_context(tenant_id):
        return coordinator_contacts()


def _own_cases(alerts: list[MatchAlert], tenant_id: int) -> dict[int, tuple[int, str]]:
    """Alert id -> (case id, code) of the cell's own case in each alert still in the cell:
    two queries for any number of alerts (the ref mapping, then the codes)."""
    enrolment_ids = {alert.id: getattr(alert, f"enrolment_{alert.side(tenant_id)}_id") for alert in alerts}
    if not enrolment_ids:
        return {}
    case_ids = dict(db.session.execute(
        sa.select(FederationEnrolment.id, CaseFederation.case_id)
        .join(CaseFederation, CaseFederation.ref == FederationEnrolment.ref)
        .where(FederationEnrolment.id.in_(set(enrolment_ids.values())))
    ).all())
    codes = case_codes(case_ids.values())
    found = {}
    for alert_id, enrolment_id in enrolment_ids.items():
        case_id = case_ids.get(enrolment_id)
        if case_id in codes:
            found[alert_id] = (case_id, codes[case_id])
    return found


def _view(alert: MatchAlert, tenant_id: int, own_cases: dict[int, tuple[int, str]] | None = None) -> AlertView:
    side = alert.side(tenant_id)
    other_side = "b" if side == "a" else "a"
    other_cell_id = getattr(alert, f"tenant_{other_side}_id")
    if own_cases is None:
        own_cases = _own_cases([alert], tenant_id)
    case_id, case_code = own_cases.get(alert.id, (None, None))
    confirmed = alert.state == AlertState.CONFIRMED
    return AlertView(
        id=alert.id,
        other_cell_id=other_cell_id,
        other_cell=db.session.get(Tenant, other_cell_id).name,
        score=alert.score,
        agreeing=alert.agreeing_types,
        unknown=tuple(item for item in alert.unknown.split(",") if item),
        status=getattr(alert, f"status_{side}"),
        other_status=getattr(alert, f"status_{other_side}"),
        state=alert.state,
        created_at=alert.created_at,
        case_id=case_id,
        case_code=case_code,
        shared_reference=alert.shared_reference if confirmed else None,
        contacts=contacts_in(other_cell_id) if confirmed else (),
    )


def alerts_for(tenant_id: int, *, include_withdrawn: bool = False) -> list[AlertView]:
    """The cell's alerts, newest first (call inside the cell's tenant context)."""
    if current_tenant_id() != tenant_id:
        raise FederationError(NO_ALERT)
    query = _alerts_query(tenant_id)
    if not include_withdrawn:
        query = query.where(MatchAlert.state != AlertState.WITHDRAWN)
    alerts = db.session.scalars(query.order_by(MatchAlert.created_at.desc(), MatchAlert.id.desc())).all()
    own_cases = _own_cases(alerts, tenant_id)
    return [_view(alert, tenant_id, own_cases) for alert in alerts]


def alert_for(tenant_id: int, alert_id: int) -> AlertView | None:
    alert = _find(tenant_id, alert_id, lock=False)
    return _view(alert, tenant_id) if alert is not None else None


def _find(tenant_id: int, alert_id: int, lock: bool = True) -> MatchAlert | None:
    query = _alerts_query(tenant_id).where(MatchAlert.id == alert_id)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def _step(tenant_id: int, alert_id: int, actor) -> tuple[MatchAlert, str]:
    check_coordinator(actor, tenant_id)
    alert = _find(tenant_id, alert_id)
    if alert is None:
        raise FederationError(NO_ALERT)
    if alert.state != AlertState.OPEN:
        raise FederationError(ALERT_CLOSED)
    return alert, alert.side(tenant_id)


def _record(alert: MatchAlert, action: str, actor, **details) -> None:
    alert.updated_at = utcnow()
    audit.record(action, subject=f"alert:{alert.id}", details={"membership_id": actor.id, **details})


def acknowledge(tenant_id: int, alert_id: int, actor) -> AlertView:
    alert, side = _step(tenant_id, alert_id, actor)
    if getattr(alert, f"status_{side}") == SideStatus.NEW:
        setattr(alert, f"status_{side}", SideStatus.ACKNOWLEDGED)
        _record(alert, "federation.alert_acknowledged", actor)
    return _view(alert, tenant_id)


def confirm(tenant_id: int, alert_id: int, actor) -> AlertView:
    """This side believes it is the same person; once both sides do, contact opens."""
    alert, side = _step(tenant_id, alert_id, actor)
    other_side = "b" if side == "a" else "a"
    if getattr(alert, f"status_{side}") != SideStatus.CONFIRMED:
        setattr(alert, f"status_{side}", SideStatus.CONFIRMED)
        both = getattr(alert, f"status_{other_side}") == SideStatus.CONFIRMED
        if both:
            alert.state, alert.confirmed_at = AlertState.CONFIRMED, utcnow()
            alert.shared_reference = f"FED-{secrets.token_hex(4).upper()}"
        _record(alert, "federation.alert_confirmed", actor, both=both)
    db.session.flush()
    return _view(alert, tenant_id)


def dismiss(tenant_id: int, alert_id: int, actor) -> AlertView:
    """Two different people: the alert closes and the pair never alerts again, unless an
    identity changes."""
    alert, side = _step(tenant_id, alert_id, actor)
    now = utcnow()
    setattr(alert, f"status_{side}", SideStatus.DISMISSED)
    alert.state, alert.dismissed_at = AlertState.DISMISSED, now
    low = db.session.get(FederationEnrolment, alert.enrolment_a_id)
    high = db.session.get(FederationEnrolment, alert.enrolment_b_id)
    exists = db.session.scalar(sa.select(DismissedPair.id).where(
        DismissedPair.ref_low == low.ref, DismissedPair.ref_high == high.ref,
        DismissedPair.version_low == alert.version_a, DismissedPair.version_high == alert.version_b,
    ))
    if exists is None:
        db.session.add(DismissedPair(
            ref_low=low.ref, ref_high=high.ref, version_low=alert.version_a, version_high=alert.version_b, dismissed_at=now
        ))
    _record(alert, "federation.alert_dismissed", actor)
    db.session.flush()
    return _view(alert, tenant_id)


def _insert_alert(values: dict) -> int | None:
    """Insert unless the same link, pair and identity versions already have an alert; the new
    id, or None."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(MatchAlert).values(**values)
        .on_conflict_do_nothing(index_elements=["link_id", "enrolment_a_id", "enrolment_b_id", "version_a", "version_b"])
        .returning(MatchAlert.id)
    )
    return db.session.execute(statement).scalar()


def create_alert(link_id: int, low: FederationEnrolment, high: FederationEnrolment, decided: float,
                 types, unknown) -> int | None:
    """Record the alert on a pair of enrolments (``low`` has the lower id), audit it in both
    cells and hand its mails over; the new alert's id, or None when the same link, pair and
    identity versions already have one."""
    now = utcnow()
    alert_id = _insert_alert({
        "link_id": link_id, "enrolment_a_id": low.id, "enrolment_b_id": high.id,
        "tenant_a_id": low.tenant_id, "tenant_b_id": high.tenant_id,
        "version_a": low.identity_version, "version_b": high.identity_version,
        "score": decided, "agreeing": ",".join(sorted(types)), "unknown": ",".join(sorted(unknown)),
        "status_a": SideStatus.NEW, "status_b": SideStatus.NEW, "state": AlertState.OPEN, "created_at": now, "updated_at": now,
    })
    if alert_id is None:
        return None
    details = {"alert_id": alert_id, "score": decided, "agreeing": sorted(types)}
    audit_in(low.tenant_id, "federation.alert_created", subject=f"alert:{alert_id}", details=details)
    audit_in(high.tenant_id, "federation.alert_created", subject=f"alert:{alert_id}", details=details)
    notify_alert(alert_id)  # mails handed over when this transaction commits
    return alert_id


def alerts_link(tenant) -> str:
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/{tenant.slug}/federation/alerts"


@task(queue="federation")
def notify_alert(alert_id: int) -> int:
    """Mail both cells' coordinators about a new alert, once per side (platform-level job):
    ``notified_*_at`` is set in the transaction that hands the mails over."""

    alert = db.session.scalar(sa.select(MatchAlert).where(MatchAlert.id == alert_id).with_for_update())
    if alert is None or alert.state != AlertState.OPEN:
        return 0
    sent = 0
    for side, other_side in (("a", "b"), ("b", "a")):
        if getattr(alert, f"notified_{side}_at") is not None:
            continue
        tenant = db.session.get(Tenant, getattr(alert, f"tenant_{side}_id"))
        other = db.session.get(Tenant, getattr(alert, f"tenant_{other_side}_id"))
        with tenant_context(tenant.id):
            subject, body = render_mail(
                "federation_alert", tenant.languages[0], tenant=tenant, other=other.name, link=alerts_link(tenant)
            )
            recipients = coordinator_contacts()
            for contact in recipients:
                send_mail(contact.email, subject, body, tenant_id=tenant.id)
            sent += len(recipients)
            audit.record("federation.alert_notified", subject=f"alert:{alert.id}", details={"recipients": len(recipients)})
        setattr(alert, f"notified_{side}_at", utcnow())
    return sent
