"""Match alerts as each cell sees them, and the steps its coordinator takes.

No oracle (``THREAT_MODEL.md``, "Probing"): **the cell whose case was enrolled earlier hears
first.** An alert is made when a new enrolment matches an earlier one; only the earlier side
(``earlier_side``) sees it, is mailed and has it in its audit trail. The newer side sees nothing
at all (not listed, not found, no mail, no audit entry) until the earlier side judged it worth
checking (acknowledged) or confirmed it: then it is *disclosed* (``disclosed_at``), mailed and
audited in the newer cell. A dismissal by the earlier side closes it untold. So a cell that
enters guesses learns of a match only once the cell that really follows the person chose to
tell it, and that cell sees the pattern: an alert whose newer case is closed or erased within
the probing window stays listed for it, saying so (``newer_left``).

An alert shows the other cell, its strength in words (:func:`strength_of`) and the cell's own
case (its own data); never a score, never which kinds of data agreed (kept in the platform's
row for audit and evaluation only), never anything of the other case. Each side moves from new
to acknowledged to confirmed, or dismisses the pair as two different people (then that pair
never alerts again unless an identity changes). When both confirmed, each side sees the other
cell's coordinators (name and e-mail) and a shared reference. Every step is audited in the
acting cell's trail.
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
from livc.platform import audit, metrics
from livc.platform.db import current_tenant_id, db, tenant_context
from livc.platform.jobs import task
from livc.platform.mail import render_mail, send_mail
from livc.platform.paging import Key, Page, PageArgs, keyset_page
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.cases.reading import case_codes
from livc.tenants.members.reading import Contact, coordinator_contacts

# One answer for an alert that does not exist, belongs to other cells, or is not yet this
# cell's to see: anything else would tell a newer cell that an alert waits (an oracle).
NO_ALERT = _l(
    "There is no such alert for your cell. An alert reaches the cell of the newer case only once "
    "the cell that enrolled its case earlier judged it worth checking."
)
ALERT_CLOSED = _l("This alert is no longer open.")

STRENGTHS = ("very_strong", "strong", "possible")
STRENGTH_LABELS = {
    "very_strong": _l("very strong"),
    "strong": _l("strong"),
    "possible": _l("possible"),
}
VERY_STRONG_SCORE, STRONG_SCORE = 20.0, 6.0  # a whole name with a full date (or nn); match_keys.THRESHOLD
LEFT_LABELS = {"closed": _l("closed"), "erased": _l("erased")}


def strength_of(score: float, agreeing) -> str:
    """An alert's strength in words, the only measure a cell sees: "very_strong" (the national
    number, or name and full date agreeing in nearly every way), "strong" (the decision rule's
    threshold) or "possible" (below it: a weak, sole-candidate alert)."""
    if "nn" in set(agreeing) or score >= VERY_STRONG_SCORE:
        return "very_strong"
    if score >= STRONG_SCORE:
        return "strong"
    return "possible"


@dataclass(frozen=True)
class AlertView:
    """One alert as one cell sees it."""

    id: int
    other_cell_id: int
    other_cell: str  # the other cell's name
    strength: str  # "very_strong", "strong" or "possible" (strength_of); never the score
    status: SideStatus  # this side's
    other_status: SideStatus
    state: AlertState
    created_at: datetime
    case_id: int | None  # this cell's own case
    case_code: str | None
    heard_first: bool = False  # this cell's case was enrolled earlier: it heard first
    disclosed: bool = False  # the newer cell sees it too
    newer_left: str | None = None  # to the earlier side: the newer case "closed" or "erased" soon after
    newer_left_days: int | None = None  # ... this many days after the alert
    # Which kinds of data agreed, and which one side lacked: never shown to a cell (THREAT_MODEL.md,
    # "Probing"); kept empty so no page can show them. The platform's row keeps them for audit.
    agreeing: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    confirmed_at: datetime | None = None
    shared_reference: str | None = None  # only once both confirmed
    contacts: tuple[Contact, ...] = field(default_factory=tuple)  # the other cell's coordinators

    @property
    def strength_label(self) -> str:
        return str(STRENGTH_LABELS[self.strength])

    @property
    def newer_left_label(self) -> str | None:
        return str(LEFT_LABELS[self.newer_left]) if self.newer_left else None


def _seen_by(tenant_id: int):
    """The alerts cell ``tenant_id`` may see: those where it is the earlier side, and those
    disclosed to it as the newer side."""
    told = MatchAlert.disclosed_at.is_not(None)
    return sa.or_(
        sa.and_(MatchAlert.tenant_a_id == tenant_id, sa.or_(MatchAlert.earlier_side == "a", told)),
        sa.and_(MatchAlert.tenant_b_id == tenant_id, sa.or_(MatchAlert.earlier_side == "b", told)),
    )


def _alerts_query(tenant_id: int) -> sa.Select:
    return sa.select(MatchAlert).where(_seen_by(tenant_id))


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


@dataclass
class _OtherCells:
    """The other cells' names and coordinators, read once per cell for a list of alerts (not once
    per alert)."""

    names: dict[int, str] = field(default_factory=dict)
    contacts: dict[int, tuple[Contact, ...]] = field(default_factory=dict)

    def name(self, cell_id: int) -> str:
        if cell_id not in self.names:
            self.names[cell_id] = db.session.get(Tenant, cell_id).name
        return self.names[cell_id]

    def contacts_of(self, cell_id: int) -> tuple[Contact, ...]:
        if cell_id not in self.contacts:
            self.contacts[cell_id] = contacts_in(cell_id)
        return self.contacts[cell_id]


def _view(alert: MatchAlert, tenant_id: int, own_cases: dict[int, tuple[int, str]] | None = None,
          others: _OtherCells | None = None) -> AlertView:
    side = alert.side(tenant_id)
    other_side = "b" if side == "a" else "a"
    other_cell_id = getattr(alert, f"tenant_{other_side}_id")
    if own_cases is None:
        own_cases = _own_cases([alert], tenant_id)
    others = others or _OtherCells()
    case_id, case_code = own_cases.get(alert.id, (None, None))
    confirmed = alert.state == AlertState.CONFIRMED
    heard_first = side == alert.earlier_side
    left = alert.newer_left if heard_first and alert.newer_left_at is not None else None
    return AlertView(
        id=alert.id,
        other_cell_id=other_cell_id,
        other_cell=others.name(other_cell_id),
        strength=strength_of(alert.score, alert.agreeing_types),
        status=getattr(alert, f"status_{side}"),
        other_status=getattr(alert, f"status_{other_side}"),
        state=alert.state,
        created_at=alert.created_at,
        case_id=case_id,
        case_code=case_code,
        heard_first=heard_first,
        disclosed=alert.disclosed_at is not None,
        newer_left=left,
        newer_left_days=(alert.newer_left_at - alert.created_at).days if left else None,
        confirmed_at=alert.confirmed_at if confirmed else None,
        shared_reference=alert.shared_reference if confirmed else None,
        contacts=others.contacts_of(other_cell_id) if confirmed else (),
    )


def alerts_for(tenant_id: int, *, include_withdrawn: bool = False) -> list[AlertView]:
    """The cell's alerts, newest first (call inside the cell's tenant context). Without
    ``include_withdrawn``, withdrawn alerts are left out, except, for the earlier side, those
    withdrawn because the newer case left soon after (a probing pattern, shown to the probed)."""
    query = _listed(tenant_id, include_withdrawn)
    alerts = db.session.scalars(query.order_by(MatchAlert.created_at.desc(), MatchAlert.id.desc())).all()
    return _views(alerts, tenant_id)


#: The alerts' order, newest first (``ix_match_alerts_created``).
ALERT_ORDER = (Key(MatchAlert.created_at, descending=True), Key(MatchAlert.id, descending=True))


def alerts_page(tenant_id: int, args: PageArgs) -> Page:
    """One page of the cell's alerts, withdrawn ones included, newest first: their views as
    :func:`alerts_for` gives them, at the same cost for any number of alerts."""
    page = keyset_page(_listed(tenant_id, include_withdrawn=True), ALERT_ORDER, args, scope="federation.alerts")
    page.items = _views(page.items, tenant_id)
    return page


def waiting_count(tenant_id: int) -> int:
    """How many of the cell's alerts wait for its step (open, not confirmed by it yet), over all
    its alerts and not only a page of them: one ``COUNT`` in the database."""
    if current_tenant_id() != tenant_id:
        raise FederationError(NO_ALERT)
    not_confirmed_here = sa.or_(
        sa.and_(MatchAlert.tenant_a_id == tenant_id, MatchAlert.status_a != SideStatus.CONFIRMED),
        sa.and_(MatchAlert.tenant_b_id == tenant_id, MatchAlert.status_b != SideStatus.CONFIRMED),
    )
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(MatchAlert)
        .where(_seen_by(tenant_id), MatchAlert.state == AlertState.OPEN, not_confirmed_here)
    ) or 0


def _views(alerts, tenant_id: int) -> list[AlertView]:
    own_cases = _own_cases(alerts, tenant_id)
    others = _OtherCells()
    return [_view(alert, tenant_id, own_cases, others) for alert in alerts]


def _listed(tenant_id: int, include_withdrawn: bool) -> sa.Select:
    if current_tenant_id() != tenant_id:
        raise FederationError(NO_ALERT)
    query = _alerts_query(tenant_id)
    if not include_withdrawn:
        left_early = sa.and_(
            MatchAlert.newer_left_at.is_not(None),
            sa.or_(
                sa.and_(MatchAlert.tenant_a_id == tenant_id, MatchAlert.earlier_side == "a"),
                sa.and_(MatchAlert.tenant_b_id == tenant_id, MatchAlert.earlier_side == "b"),
            ),
        )
        query = query.where(sa.or_(MatchAlert.state != AlertState.WITHDRAWN, left_early))
    return query


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


def _disclose(alert: MatchAlert) -> None:
    """The earlier side judged the alert worth checking: the newer side may see it now (listed,
    mailed, in its audit trail)."""
    if alert.disclosed_at is not None:
        return
    alert.disclosed_at = utcnow()
    newer_tenant = getattr(alert, f"tenant_{alert.newer_side}_id")
    audit_in(newer_tenant, "federation.alert_created", subject=f"alert:{alert.id}",
             details={"alert_id": alert.id, "strength": strength_of(alert.score, alert.agreeing_types)})
    db.session.flush()
    notify_alert(alert.id)  # mails handed over when this transaction commits


def acknowledge(tenant_id: int, alert_id: int, actor) -> AlertView:
    """The earlier side: worth checking (the newer side is told); the newer side: seen."""
    alert, side = _step(tenant_id, alert_id, actor)
    if getattr(alert, f"status_{side}") == SideStatus.NEW:
        setattr(alert, f"status_{side}", SideStatus.ACKNOWLEDGED)
        _record(alert, "federation.alert_acknowledged", actor)
    if side == alert.earlier_side:
        _disclose(alert)
    return _view(alert, tenant_id)


def confirm(tenant_id: int, alert_id: int, actor) -> AlertView:
    """This side believes it is the same person; once both sides do, contact opens. The newer
    side can act only once the alert was disclosed to it (before, it is not found: ``NO_ALERT``)."""
    alert, side = _step(tenant_id, alert_id, actor)
    other_side = "b" if side == "a" else "a"
    if getattr(alert, f"status_{side}") != SideStatus.CONFIRMED:
        setattr(alert, f"status_{side}", SideStatus.CONFIRMED)
        both = getattr(alert, f"status_{other_side}") == SideStatus.CONFIRMED
        if both:
            alert.state, alert.confirmed_at = AlertState.CONFIRMED, utcnow()
            alert.shared_reference = f"FED-{secrets.token_hex(4).upper()}"
        _record(alert, "federation.alert_confirmed", actor, both=both)
    if side == alert.earlier_side:
        _disclose(alert)
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
    created = db.session.execute(statement).scalar()
    if created is not None:
        metrics.alert_created()
    return created


def create_alert(link_id: int, low: FederationEnrolment, high: FederationEnrolment, decided: float,
                 types, unknown, *, newer: FederationEnrolment | None = None) -> int | None:
    """Record the alert on a pair of enrolments (``low`` has the lower id; ``newer`` is the one
    being matched, the other one was enrolled earlier), audit it in the earlier cell alone and
    hand its mail over; the new alert's id, or None when the same link, pair and identity
    versions already have one. The newer cell hears of it only when it is disclosed. Without
    ``newer``, the enrolment requested later (``high``) is taken for the newer one."""
    newer = newer or high
    if newer.id not in (low.id, high.id):
        raise ValueError("newer must be one of the pair")
    earlier = high if newer.id == low.id else low
    earlier_side = "a" if earlier.id == low.id else "b"
    now = utcnow()
    alert_id = _insert_alert({
        "link_id": link_id, "enrolment_a_id": low.id, "enrolment_b_id": high.id,
        "tenant_a_id": low.tenant_id, "tenant_b_id": high.tenant_id,
        "version_a": low.identity_version, "version_b": high.identity_version,
        "score": decided, "agreeing": ",".join(sorted(types)), "unknown": ",".join(sorted(unknown)),
        "status_a": SideStatus.NEW, "status_b": SideStatus.NEW, "state": AlertState.OPEN, "created_at": now, "updated_at": now,
        "earlier_side": earlier_side,
    })
    if alert_id is None:
        return None
    details = {"alert_id": alert_id, "strength": strength_of(decided, types)}
    audit_in(earlier.tenant_id, "federation.alert_created", subject=f"alert:{alert_id}", details=details)
    notify_alert(alert_id)  # mails handed over when this transaction commits
    return alert_id


def alerts_link(tenant) -> str:
    base = current_app.extensions["livc.settings"].base_url.rstrip("/")
    return f"{base}/{tenant.slug}/federation/alerts"


@task(queue="federation")
def notify_alert(alert_id: int) -> int:
    """Mail the cells' coordinators about an alert, once per side (platform-level job): the
    earlier side's from its creation, the newer side's once it is disclosed.
    ``notified_*_at`` is set in the transaction that hands the mails over."""

    alert = db.session.scalar(sa.select(MatchAlert).where(MatchAlert.id == alert_id).with_for_update())
    if alert is None or alert.state != AlertState.OPEN:
        return 0
    sent = 0
    for side, other_side in (("a", "b"), ("b", "a")):
        if getattr(alert, f"notified_{side}_at") is not None:
            continue
        if side != alert.earlier_side and alert.disclosed_at is None:
            continue  # the newer side is told only once the earlier one judged it worth checking
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


def withdraw_alerts(alert_ids) -> int:
    """Withdraw open alerts before anyone decided on them, as taking a case out of the index
    does (no mail, no audit entry): a weak alert that a newcomer competes with. How many were
    withdrawn."""
    now = utcnow()
    withdrawn = db.session.execute(
        sa.update(MatchAlert)
        .where(MatchAlert.id.in_(list(alert_ids)), MatchAlert.state == AlertState.OPEN)
        .values(state=AlertState.WITHDRAWN, withdrawn_at=now, updated_at=now)
    ).rowcount
    return withdrawn


def confirmations(tenant_id: int) -> list[tuple[datetime, int | None]]:
    """When each of the cell's alerts was confirmed by both cells, with the cell's own case (None
    once erased): what the cell's anonymous figures count (``livc.tenants.monitoring``)."""
    return [(alert.confirmed_at, alert.case_id) for alert in alerts_for(tenant_id, include_withdrawn=True)
            if alert.confirmed_at is not None]
