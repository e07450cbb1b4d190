"""The figures' pages (issue 17): a chart and tables per figure with small counts hidden, each
reader's scope, bad queries answered on the page, the annual report (PDF) and the CSV, and the
mayor's key figures on their home page."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from test_monitoring import EN, demo_member, signed_in

from livc.app.demo import seed_demo
from livc.platform.audit import AuditEntry
from livc.platform.db import db, tenant_context
from livc.platform.policy import Action, decide
from livc.platform.roles import Role
from livc.platform.tenancy import Tenant
from livc.platform.timeutil import utcnow
from livc.tenants.access import person_for
from livc.tenants.cases.models import Case
from livc.tenants.members.models import Membership
from livc.tenants.monitoring.charts import figure_chart
from livc.tenants.monitoring.figures import FIGURES_BY_KEY, FigureView, Period, Row, Shown, Table
from livc.tenants.monitoring.reading import figures_in, scope_for
from livc.tenants.monitoring.report import printed_report
from livc.tenants.monitoring.suppression import Hidden
from livc.tenants.monitoring.views import policy_follow_up
from livc.tenants.strategy.operations import recorded_entries, strategic_table

LEUVEN, HERKO = "demo-leuven", "demo-herko"
KORTENBERG, HERENT = "24055", "24038"


@pytest.fixture
def demo(app) -> dict[str, int]:
    """Both demo cells with their members (as tests/test_monitoring.py seeds them)."""
    with app.app_context():
        tenants = {tenant.slug: tenant.id for tenant in seed_demo(with_members=True)}
        db.session.remove()
    return tenants


def page_of(client, address: str):
    answer = client.get(address, headers=EN)
    return answer, answer.get_data(as_text=True)


def sections(page: str) -> list[str]:
    return re.findall(r'<section class="figures-section" id="figure-([a-z_]+)"', page)


def rows_of(page: str, table: str) -> list[str]:
    found = re.search(rf'<table [^>]*data-table="{table}".*?</table>', page, re.S)
    assert found, f"no table {table}"
    return re.findall(r'data-row="([^"]+)"', found.group(0))


def audited(app, tenant_id: int, action: str) -> list[dict]:
    with app.app_context(), tenant_context(tenant_id):
        return [entry.details for entry in db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action))]


def demo_case_codes(app, tenant_id: int) -> list[str]:
    with app.app_context(), tenant_context(tenant_id):
        return list(db.session.scalars(sa.select(Case.code)))


# --- the page ------------------------------------------------------------------------------------


def test_the_mayor_sees_a_chart_and_tables_for_each_figure_with_small_counts_hidden(app, client, demo):
    mayor = demo_member(app, demo, LEUVEN, Role.MAYOR)
    answer, page = page_of(signed_in(app, client, mayor), f"/{LEUVEN}/figures")

    assert answer.status_code == 200
    assert answer.headers["Cache-Control"].startswith("no-store")
    assert sections(page)[0] == "cases_active"  # what the cell follows today comes first
    assert set(sections(page)) >= {"signals_received", "cases_opened", "cases_closed", "measures_planned", "meetings"}
    assert "&lt; 5" in page and "fewer than 5, zero included" in page
    assert rows_of(page, "signals_received-channel")[-1] == "all"  # the total last
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    assert charts, "no chart"
    for chart in charts:  # the CSP: no script, no inline style; a name and a description
        assert "<script" not in chart and "<style" not in chart and "style=" not in chart
        assert 'role="img"' in chart and "<title " in chart and "<desc " in chart
    assert re.search(r'aria-describedby="chart-meetings-desc table-meetings-kind"', page)
    assert re.search(r'<a class="govuk-service-navigation__link" href="/demo-leuven/figures" aria-current="page"', page)
    assert not any(code in page for code in demo_case_codes(app, demo[LEUVEN]))
    assert audited(app, demo[LEUVEN], "monitoring.read")[-1] == {"period": str(date.today().year), "scope": "cell"}


def test_a_count_hidden_in_the_table_is_not_drawn_and_the_chart_says_so(app):
    figure = FIGURES_BY_KEY["signals_received"]
    columns = ["2026-01", "2026-02", "2026-Q1", "2026"]
    rows = [
        Row("email", "By e-mail", [Shown(7), Shown(None, Hidden.SMALL), Shown(9), Shown(9)]),
        Row("phone", "By phone", [Shown(None, Hidden.COMPLEMENT), Shown(6), Shown(8), Shown(8)]),
        Row("all", "Total", [Shown(8), Shown(9), Shown(17), Shown(17)], total=True),
    ]
    shown = FigureView(figure, [Table("t", "How the signal came in", "channel", columns, columns, rows)])
    with app.test_request_context(headers=EN):
        chart = str(figure_chart(shown, Period(2026), chart_id="c", table_id="t"))
        hidden_everywhere = FigureView(figure, [Table("t", "Channel", "channel", columns, columns, [
            Row("email", "By e-mail", [Shown(None, Hidden.SMALL)] * 4)])])
        nothing = str(figure_chart(hidden_everywhere, Period(2026), chart_id="c", table_id="t"))

    assert len(re.findall(r'<rect [^>]*class="rect reactive', chart)) == 2  # 7 and 6; never the hidden ones
    assert "(fewer than 5) or “×”" in chart and "are not drawn" in chart
    assert "<svg" not in nothing and "no count of this period is large enough" in nothing


def test_a_partner_sees_the_measures_of_their_own_organisation_only(app, client, demo):
    partner = demo_member(app, demo, LEUVEN, Role.PARTNER)
    answer, page = page_of(signed_in(app, client, partner), f"/{LEUVEN}/figures")

    assert answer.status_code == 200
    assert sections(page) == ["measures_planned", "measures_done", "measures_late"]
    assert "You see the figures of the measures your organisation carries (CLB (DEMO)) only" in page
    assert "Cases followed now" not in page and "Signals received" not in page
    assert 'name="breakdown"' not in page and 'name="municipality"' not in page


def test_a_guest_expert_sees_no_figures_and_no_menu_item(app, client, demo):
    guest = signed_in(app, client, demo_member(app, demo, LEUVEN, Role.GUEST_EXPERT))
    assert guest.get(f"/{LEUVEN}/figures").status_code == 403
    assert guest.get(f"/{LEUVEN}/figures/figures.csv").status_code == 403
    assert guest.get(f"/{LEUVEN}/figures/report.pdf").status_code == 403
    assert f'href="/{LEUVEN}/figures"' not in guest.get(f"/{LEUVEN}/home", headers=EN).get_data(as_text=True)


def test_a_period_that_cannot_be_shown_is_refused_on_the_page_with_what_was_typed(app, client, demo):
    mayor = signed_in(app, client, demo_member(app, demo, LEUVEN, Role.MAYOR))

    answer, page = page_of(mayor, f"/{LEUVEN}/figures?period=2026-13")
    assert answer.status_code == 400
    assert "govuk-error-summary" in page and 'href="#f-period"' in page
    assert "Give a year (2026), a quarter (2026-Q2) or a month (2026-05)." in page
    assert 'value="2026-13"' in page and 'aria-invalid="true"' in page
    assert not sections(page)

    answer, page = page_of(mayor, f"/{LEUVEN}/figures?period={utcnow().year + 1}")
    assert answer.status_code == 400
    assert "This period has not begun yet: choose one up to today." in page

    answer, page = page_of(mayor, f"/{LEUVEN}/figures?breakdown=person")
    assert answer.status_code == 400 and "Break the figures down by category, municipality or organisation." in page


def test_a_quarter_shows_its_months_and_one_figure_can_be_asked_for(app, client, demo):
    mayor = signed_in(app, client, demo_member(app, demo, LEUVEN, Role.MAYOR))
    year = utcnow().year
    answer, page = page_of(mayor, f"/{LEUVEN}/figures?period={year}-Q1&figure=cases_opened")

    assert answer.status_code == 200
    assert sections(page) == ["cases_active", "cases_opened"]
    head = re.search(r'data-table="cases_opened-target_group".*?</thead>', page, re.S).group(0)
    assert re.findall(r"numeric\">([^<]+)</th>", head) == [f"Jan {year}", f"Feb {year}", f"Mar {year}", f"Q1 {year}"]
    assert "Annual report" not in page  # the report is of a whole year


# --- a cell of several municipalities -------------------------------------------------------------


def test_a_mayor_of_a_zonal_cell_sees_their_municipality_and_the_cells_total(app, client, demo):
    mayor = signed_in(app, client, demo_member(app, demo, HERKO, Role.MAYOR, "kortenberg"))
    answer, page = page_of(mayor, f"/{HERKO}/figures?figure=signals_received")

    assert answer.status_code == 200
    assert "The figures of Kortenberg, with the total of the whole cell." in page
    assert rows_of(page, "signals_received-municipality") == [KORTENBERG, "cell"]  # never Herent's row
    assert rows_of(page, "active-cell") == ["cell"]
    assert 'name="municipality"' not in page

    answer, page = page_of(mayor, f"/{HERKO}/figures?municipality={HERENT}")
    assert answer.status_code == 403
    assert "You see the figures of your own municipality only." in page and "govuk-error-summary" in page
    assert not sections(page)
    assert mayor.get(f"/{HERKO}/figures/figures.csv?municipality={HERENT}").status_code == 403


def test_the_coordinator_of_a_zonal_cell_chooses_a_municipality(app, client, demo):
    coordinator = signed_in(app, client, demo_member(app, demo, HERKO, Role.COORDINATOR))
    _answer, page = page_of(coordinator, f"/{HERKO}/figures?figure=cases_opened")
    assert re.search(rf'<select [^>]*name="municipality".*?value="{HERENT}">Herent.*?value="{KORTENBERG}">Kortenberg',
                     page, re.S)
    assert rows_of(page, "cases_opened-municipality")[:2] == [HERENT, KORTENBERG]

    answer, page = page_of(coordinator, f"/{HERKO}/figures?figure=cases_opened&municipality={HERENT}")
    assert answer.status_code == 200
    assert "The figures of Herent, with the total of the whole cell." in page
    assert rows_of(page, "cases_opened-municipality") == [HERENT, "cell"]
    assert f'<option value="{HERENT}" selected>' in page


# --- the annual report and the CSV -----------------------------------------------------------------


def test_the_annual_report_is_a_pdf_for_the_council_without_a_case_code_or_a_name(app, client, demo):
    mayor = demo_member(app, demo, LEUVEN, Role.MAYOR)
    year = utcnow().year
    answer = signed_in(app, client, mayor).get(f"/{LEUVEN}/figures/report.pdf?period={year}")

    assert answer.status_code == 200
    assert answer.data.startswith(b"%PDF")
    assert answer.headers["Content-Type"] == "application/pdf"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="figures-{LEUVEN}-{year}.pdf"'
    assert answer.headers["Cache-Control"].startswith("no-store")
    assert audited(app, demo[LEUVEN], "monitoring.report")[-1] == {"period": str(year), "scope": "cell"}
    for language in ("nl", "fr", "de"):  # dates, labels and accents in the reader's language
        printed = client.get(f"/{LEUVEN}/figures/report.pdf", headers={"Accept-Language": language})
        assert printed.status_code == 200 and printed.data.startswith(b"%PDF"), language

    # What goes on paper (the PDF's text is compressed): the quarters and the year, the policy
    # follow-up of the year, hidden counts as on the page, and no code or member's name.
    with app.test_request_context(headers=EN), tenant_context(demo[LEUVEN]):
        tenant = db.session.get(Tenant, demo[LEUVEN])
        person = person_for(db.session.get(Membership, mayor.membership_id))
        entries = recorded_entries(year=year)
        report = printed_report(figures_in(scope_for(person, tenant), tenant, Period(year)), tenant.name, entries)
        names = [m.account.label for m in db.session.scalars(sa.select(Membership))]
        codes = list(db.session.scalars(sa.select(Case.code)))
    words = [report.title, report.cell, *report.cover, *report.key, report.policy_heading]
    for figure in report.figures:
        words += [figure.title, figure.description]
        for table in figure.tables:
            words += [table.caption, *table.header]
            for label, values, _total in table.rows:
                words += [label, *values]
    for entry in report.policy:
        words += [entry.title, entry.line, entry.text]
    text = "\n".join(words)
    assert report.figures[1].tables[0].header[1:] == [f"Q{q} {year}" for q in range(1, 5)] + [str(year)]
    assert "< 5" in text and entries and all(entry.title in text for entry in entries)
    assert not [code for code in codes if code in text]
    assert not [name for name in names if name in text]


def test_the_report_covers_a_whole_year_and_a_partners_holds_their_measures_only(app, client, demo):
    mayor = signed_in(app, client, demo_member(app, demo, LEUVEN, Role.MAYOR))
    answer, page = page_of(mayor, f"/{LEUVEN}/figures/report.pdf?period={utcnow().year}-Q1")
    assert answer.status_code == 400
    assert "The annual report covers a whole year: give a year (2026)." in page

    partner = demo_member(app, demo, LEUVEN, Role.PARTNER)
    with app.test_request_context(headers=EN), tenant_context(demo[LEUVEN]):
        person = person_for(db.session.get(Membership, partner.membership_id))
        tenant = db.session.get(Tenant, demo[LEUVEN])
        found = figures_in(scope_for(person, tenant), tenant, Period(utcnow().year))
        report = printed_report(found, tenant.name, None, organisation="CLB (DEMO)")
    assert [figure.title for figure in report.figures] == ["Measures planned", "Measures done", "Measures late"]
    assert "The figures of the measures carried by CLB (DEMO) only." in report.cover
    answer = signed_in(app, app.test_client(), partner).get(f"/{LEUVEN}/figures/report.pdf")
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF")


def test_the_policy_follow_up_goes_in_the_report_of_whoever_may_read_it_only(app, demo):
    outside = demo_member(app, demo, HERKO, Role.INFORMATION_OFFICER)
    mayor = demo_member(app, demo, HERKO, Role.MAYOR)
    year = utcnow().year
    with app.test_request_context(headers=EN), tenant_context(demo[HERKO]):
        not_at_the_table = person_for(db.session.get(Membership, outside.membership_id))
        assert not decide(not_at_the_table, Action.STRATEGY_VIEW, strategic_table())
        assert policy_follow_up(not_at_the_table, year) is None
        at_the_table = person_for(db.session.get(Membership, mayor.membership_id))
        assert policy_follow_up(at_the_table, year) == recorded_entries(year=year)


def test_the_csv_holds_every_shown_number_for_a_belgian_excel(app, client, demo):
    mayor = demo_member(app, demo, LEUVEN, Role.MAYOR)
    year = utcnow().year
    answer = signed_in(app, client, mayor).get(f"/{LEUVEN}/figures/figures.csv?period={year}-Q1", headers=EN)

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == f'attachment; filename="figures-{LEUVEN}-{year}-Q1.csv"'
    assert answer.data.startswith("\ufeff".encode())
    lines = answer.data.decode("utf-8-sig").splitlines()
    assert lines[0] == "Figure;Figure key;Table;Table key;Row;Row key;Period;Period key;Shown value"
    fields = [line.split(";") for line in lines[1:]]
    assert all(len(line) == 9 for line in fields)
    assert {line[7] for line in fields if line[1] == "cases_opened"} == {f"{year}-0{m}" for m in (1, 2, 3)} | {f"{year}-Q1"}
    values = {line[8] for line in fields if line[1] != "meetings"}
    assert "< 5" in values
    assert all(value in ("< 5", "×") or int(value) >= 5 for value in values)
    assert not any(code in answer.data.decode() for code in demo_case_codes(app, demo[LEUVEN]))
    assert audited(app, demo[LEUVEN], "monitoring.export")[-1] == {"period": f"{year}-Q1", "scope": "cell"}


# --- the mayor's home page ---------------------------------------------------------------------------


def test_the_mayors_home_shows_the_years_key_figures_hidden_as_on_the_figures_page(app, client, demo):
    mayor = signed_in(app, client, demo_member(app, demo, HERKO, Role.MAYOR, "kortenberg"))
    page = mayor.get(f"/{HERKO}/home", headers=EN).get_data(as_text=True)
    card = re.search(r'<section class="dash figures wide".*?</section>', page, re.S).group(0)
    year = utcnow().year

    assert re.findall(r'data-figure="([a-z_]+)"', card) == ["signals_received", "cases_opened", "cases_closed",
                                                            "cases_active"]
    assert f"signals received in {year}" in card and "cases followed now" in card
    assert "The figures of Kortenberg, where you are mayor." in card
    shown = re.findall(r'<span class="figure">(.*?)</span> ', card)
    assert all(value == "&lt; 5" or "×" in value or int(value) >= 5 for value in shown)
    assert f'href="/{HERKO}/figures"' in card
    assert not any(code in page for code in demo_case_codes(app, demo[HERKO]))
