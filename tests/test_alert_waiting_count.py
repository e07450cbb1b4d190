"""The match alerts page says how many alerts wait for the cell over all its alerts, not the page
shown (issue 20): a later page of closed alerts does not claim that nothing waits."""

from __future__ import annotations

import re
from datetime import timedelta

from test_federation_pages import AMRANI_H, AMRANI_L, link_cells, open_person
from test_list_cost import next_link, signed_in

from case_helpers import HERKO, LEUVEN, ready_cell
from conftest import seed_demo_tenants
from livc.federation.models import AlertState, MatchAlert, SideStatus
from livc.platform.db import db
from livc.platform.timeutil import utcnow

EN = {"Accept-Language": "en"}


def copy_alerts(app, how_many: int, *, confirmed: bool, minutes_ago: int) -> None:
    """Copies of the cells' real alert, older than it: open and new on both sides, or confirmed."""
    with app.app_context():
        real = db.session.scalar(db.select(MatchAlert).order_by(MatchAlert.id))
        copied = {column.key: getattr(real, column.key) for column in MatchAlert.__table__.columns
                  if column.key not in ("id", "version_a", "version_b")}
        for number in range(how_many):
            status = SideStatus.CONFIRMED if confirmed else SideStatus.NEW
            db.session.add(MatchAlert(**{
                **copied, "version_a": f"copy-{minutes_ago}-{number}", "version_b": f"copy-{minutes_ago}-{number}",
                "created_at": utcnow() - timedelta(minutes=minutes_ago + number),
                "state": AlertState.CONFIRMED if confirmed else AlertState.OPEN,
                "status_a": status, "status_b": status,
                "shared_reference": f"F-{minutes_ago}-{number}" if confirmed else None,
                "confirmed_at": utcnow() if confirmed else None,
            }))
        db.session.commit()
        db.session.remove()


def test_a_later_page_still_says_how_many_alerts_wait_for_the_cell(sqlite_app):
    app = sqlite_app
    tenants = seed_demo_tenants(app)
    leuven, herko = ready_cell(app, tenants[LEUVEN], LEUVEN), ready_cell(app, tenants[HERKO], HERKO)
    link_cells(app, leuven, herko)
    open_person(app, leuven, AMRANI_L)  # Leuven's case first: Leuven hears of the alert first
    open_person(app, herko, AMRANI_H)
    copy_alerts(app, 2, confirmed=False, minutes_ago=1)   # with the real one: 3 waiting, newest
    copy_alerts(app, 3, confirmed=True, minutes_ago=60)   # older, confirmed by both
    client = signed_in(app, leuven.coordinator)

    first = client.get(f"/{LEUVEN}/federation/alerts?per_page=3", headers=EN).get_data(as_text=True)
    assert 'data-waiting="3"' in first
    assert len(re.findall(r'class="federation-alert" id="alert-\d+"', first.split("waiting-alerts", 1)[1]
                          .split("</ul>", 1)[0])) == 3
    assert "No alert waits for you." not in first and "waiting-elsewhere" not in first

    second = client.get(next_link("alerts", first), headers=EN).get_data(as_text=True)
    assert "waiting-alerts" not in second  # this page holds only confirmed alerts
    assert "No alert waits for you." not in second
    assert 'data-waiting="3"' in second
    assert "3 alerts wait for you in all; the others are on other pages of the list." in second

    with app.app_context():  # once every alert is confirmed here, no page says one waits
        for alert in db.session.scalars(db.select(MatchAlert).where(MatchAlert.state == AlertState.OPEN)):
            setattr(alert, f"status_{alert.side(leuven.tenant_id)}", SideStatus.CONFIRMED)
        db.session.commit()
        db.session.remove()
    again = client.get(f"/{LEUVEN}/federation/alerts?per_page=3", headers=EN).get_data(as_text=True)
    assert "No alert waits for you." in again and "data-waiting" not in again
