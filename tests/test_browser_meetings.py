"""Issue 14's first "done when", in a real browser: the cell's table meets end to end.

The coordinator (who chairs the demo cell's table) plans a meeting, takes up the agenda the
platform proposes and adds a point of their own, opens the session, keeps the attendance register
(the mayor excused, every other member present) and registers an occasional attendee (only once
the undertaking is confirmed signed). In the meeting they weigh a new signal ("decided in the
meeting now in session": the case opens at once, the decision is listed as taken in a meeting,
and who took part are the members present), hold the review of an open case and change its team
in the meeting (the case page's "Decisions of the cell" says it was taken in a meeting), write
the minutes of every point, one of them "not for the minutes", and close the session. The next
meeting, planned and opened, approves those minutes; a change from a page opened before the
approval is refused with the rule, and a dated addendum is added. Finally the police chief, in
no case team, opens the first meeting in a browser of their own: the case's point shows its code
and title, never its summary nor its decisions.

The world is ``livc demo`` (a ready cell, a table with a seat per member, new signals, an open
case with a review due), in a server of this module's own; before it serves, every member of the
Leuven cell accepts the undertaking the demo renewed (a member registered present must have
accepted the current one: the demo leaves that to each member's next sign-in). Everything the
meeting does goes through the pages, in English.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, datetime, time, timedelta

import pytest
from babel.dates import format_date, format_time

from browser_support import (  # noqa: F401
    Server,
    WatchedPage,
    browser,
    clean_env,
    console_script,
    open_page,
    sign_in_demo,
    start_demo,
)

pytestmark = pytest.mark.browser

LEUVEN = "demo-leuven"
# A loaded CI machine is slow, not stuck: every wait is on a condition, with a generous limit.
WAIT = 180_000  # ms
SETUP_TIMEOUT = 600  # s

PLACE = "Town hall, meeting room 2 (test)"
OFF_RECORD_TITLE = "Confidential explanation by a partner"
OFF_RECORD_SAID = "The partner explained something that must not be kept (fictional test)."
REVIEW_SUMMARY = "Review held: the plan goes on; the social alderman's office joins the team (fictional test)."
LOCKED_CHANGE = "A change after the approval (fictional test)."
ADDENDUM = "Correction: the review was held with the CLB present (fictional test)."
OCCASIONAL = ("Youssef Youthworker (test)", "Youth service (test)", "Street worker, for the neighbourhood point")

# Run in the demo's database before it serves: the members accept the current undertaking, and
# the world the test relies on is read (a signal to weigh, a case whose review is due, the table).
SEED = r"""
import json
from datetime import date, timedelta

import sqlalchemy as sa

from livc.app.factory import create_app
from livc.platform.db import db, tenant_context
from livc.platform.roles import Role
from livc.platform.tenancy import find_tenant
from livc.tenants.cases.models import Case, CaseStatus, Review
from livc.tenants.cell.models import Table
from livc.tenants.decisions.models import DecisionKind
from livc.tenants.decisions.operations import open_proposal_about
from livc.tenants.members.models import Membership
from livc.tenants.members.operations import accept_undertaking
from livc.tenants.signals.models import Signal, SignalStatus

app = create_app()
with app.app_context():
    tenant = find_tenant("demo-leuven")
    with tenant_context(tenant.id):
        members = {m.role: m for m in db.session.scalars(sa.select(Membership).order_by(Membership.id))}
        for membership in members.values():
            accept_undertaking(membership)
        outsider = members[Role.POLICE_CHIEF]
        signal = next(
            s for s in db.session.scalars(
                sa.select(Signal).where(Signal.status == SignalStatus.NEW).order_by(Signal.received_at))
            if open_proposal_about(DecisionKind.WEIGHING, "signal", s.id) is None and s.recorded_by_id != outsider.id
        )
        tomorrow = date.today() + timedelta(days=1)
        case = next(
            c for c in db.session.scalars(
                sa.select(Case).join(Review, Review.case_id == Case.id)
                .where(Case.status == CaseStatus.OPEN, Review.held_on.is_(None), Review.due_on <= tomorrow)
                .order_by(Case.code))
            if outsider.id not in c.team_membership_ids and members[Role.SOCIAL_ALDERMAN].id not in c.team_membership_ids
        )
        table = db.session.scalars(sa.select(Table).where(Table.removed_at.is_(None)).order_by(Table.id)).first()
        world = {
            "signal": signal.reference, "case": case.code, "table": table.name,
            "names": {role.value: m.account.label for role, m in members.items()},
        }
    db.session.commit()
    print("WORLD " + json.dumps(world))
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """``livc demo`` seeded, the undertaking accepted, then served: (server, what it holds)."""
    folder = tmp_path_factory.mktemp("demo-meetings")
    env = clean_env(data_dir=str(folder / "data"), env="development")
    for args in ([str(console_script("livc")), "demo", "--no-serve"], [sys.executable, "-c", SEED]):
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=SETUP_TIMEOUT, check=False)
        if done.returncode != 0:
            pytest.fail(f"{args[:2]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    facts = json.loads(re.search(r"^WORLD (.*)$", done.stdout, re.MULTILINE).group(1))
    server = start_demo(folder)
    yield server, facts
    server.stop()


# --- helpers ---------------------------------------------------------------------------------------


def patient(page) -> None:
    page.context.set_default_timeout(WAIT)
    page.context.set_default_navigation_timeout(WAIT)


def submit(page, control, url: str | re.Pattern | None = None) -> None:
    """Click ``control`` and wait for the page it leads to (the same address too: a redirect
    back to the page is a new page), and everything that page loads."""
    with page.expect_navigation(timeout=WAIT):
        control.click()
    if url is not None:
        page.wait_for_url(url)
    page.wait_for_load_state("networkidle")


def go(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")


def flash_text(page) -> str:
    return " ".join(page.locator("p.flash").all_inner_texts())


def main_text(page) -> str:
    return page.locator("main").inner_text()


def local(day: date, hour: int) -> str:
    """A day and hour as a datetime-local field takes it (Belgian time)."""
    return datetime.combine(day, time(hour, 0)).strftime("%Y-%m-%dT%H:%M")


def shown(day: date, hour: int) -> str:
    """The same, as the pages of an English-speaking browser show it (Babel's medium date and
    short time; the narrow space before AM/PM read as a space)."""
    return f"{format_date(day, 'medium', locale='en')} {format_time(time(hour, 0), 'short', locale='en')}".replace("\u202f", " ")


def meeting_nav(page):
    return page.get_by_role("navigation", name="This meeting")


def plan_meeting(page, server: Server, table: str, day: date) -> str:
    """From the home page: plan a regular meeting of ``table`` on ``day``, 09:00 to 11:00;
    the address of its page."""
    go(page, server.url(f"/{LEUVEN}/home"))
    page.get_by_role("navigation", name="Pages of the cell").get_by_role("link", name="Meetings", exact=True).click()
    page.wait_for_url(re.compile(r"/meetings$"))
    page.get_by_role("link", name="Plan a meeting").click()
    page.wait_for_url(re.compile(r"/meetings/new$"))
    page.get_by_label("Table", exact=True).select_option(label=table)
    page.get_by_label("Kind of meeting").select_option(label="Regular meeting")
    page.get_by_label("Starts (Belgian time)").fill(local(day, 9))
    page.get_by_label("Ends (Belgian time)").fill(local(day, 11))
    page.get_by_label("Place", exact=True).fill(PLACE)
    submit(page, page.get_by_role("button", name="Plan the meeting and invite"), re.compile(r"/meetings/\d+$"))
    assert "The meeting is planned and its invitations are sent." in flash_text(page)
    assert page.locator("h1").inner_text().replace("\u202f", " ") == f"{table}, {shown(day, 9)}"
    assert page.locator("dd.meeting-status").inner_text() == "Planned"
    return page.url


def open_session(page) -> None:
    submit(page, meeting_nav(page).get_by_role("link", name="Meeting", exact=True), re.compile(r"/meetings/\d+$"))
    submit(page, page.get_by_role("button", name="Open the meeting (in session)"))
    assert "The meeting is in session: decisions may be taken in it." in flash_text(page)
    assert page.locator("dd.meeting-status").inner_text() == "In session"


def keep_register(page, present: list[str], excused: str | None = None) -> None:
    """On the meeting's attendance register: ``excused`` excused, the others present; saved."""
    meeting_nav(page).get_by_role("link", name="Attendance register").click()
    page.wait_for_url(re.compile(r"/meetings/\d+/attendance$"))
    for name in [*present, *([excused] if excused else [])]:
        page.get_by_role("combobox", name=f"Attendance {name}", exact=True).select_option(
            label="Excused" if name == excused else "Present")
    submit(page, page.get_by_role("button", name="Save the register"))
    assert "The attendance register is saved." in flash_text(page)


def decisions_row(page, kind: str):
    """The row of the case page's "Decisions of the cell" for a decision of ``kind``."""
    section = page.locator("section#decisions")
    assert section.get_by_role("heading", name="Decisions of the cell").count() == 1
    row = section.locator("table.case-decisions tbody tr", has_text=kind)
    assert row.count() == 1, section.inner_text()
    return row


def minutes_section(page, text: str):
    section = page.locator("section.minutes-item", has_text=text)
    assert section.count() == 1, f"no single point with {text!r} in the minutes"
    return section


# --- the test ----------------------------------------------------------------------------------


def test_a_meeting_end_to_end_with_minutes_approved_at_the_next(world, browser):  # noqa: F811
    server, facts = world
    names = facts["names"]
    signal_ref, case_code, table = facts["signal"], facts["case"], facts["table"]
    excused, outsider = names["mayor"], names["police_chief"]
    present = [name for role, name in names.items() if role not in ("mayor", "guest_expert")]
    first_day, next_day = date.today() + timedelta(days=1), date.today() + timedelta(days=2)

    with open_page(browser, locale="en-GB", screenshot_name="meeting-coordinator") as chair:
        patient(chair)
        sign_in_demo(chair, server, LEUVEN, "coordinator")

        # 1. The coordinator plans the table's meeting and takes up the agenda the platform
        #    proposes (the signal to weigh and the review due among it), then adds a point.
        first_url = plan_meeting(chair, server, table, first_day)
        first_title = chair.locator("h1").inner_text()
        meeting_nav(chair).get_by_role("link", name="Agenda", exact=True).click()
        chair.wait_for_url(re.compile(r"/meetings/\d+/agenda$"))
        assert "The agenda is empty." in main_text(chair)
        proposed = chair.locator("ul.suggestions")
        assert proposed.get_by_role("checkbox", name=f"Signal to weigh {signal_ref}").is_checked()
        assert proposed.get_by_role("checkbox", name=f"Review due {case_code}").is_checked()
        count = proposed.get_by_role("checkbox").count()
        submit(chair, chair.get_by_role("button", name="Put the ticked points on the agenda"))
        assert f"{count} points put on the agenda." in flash_text(chair)
        agenda = chair.locator("ol.agenda")
        assert agenda.locator("li").count() == count
        assert signal_ref in agenda.inner_text() and case_code in agenda.inner_text()
        assert "Nothing more is waiting for the table." in main_text(chair)
        chair.get_by_label("Title", exact=True).fill(OFF_RECORD_TITLE)
        submit(chair, chair.get_by_role("button", name="Add the point"))
        assert "The point is on the agenda." in flash_text(chair)
        assert chair.locator("ol.agenda li").count() == count + 1
        assert OFF_RECORD_TITLE in chair.locator("ol.agenda li").last.inner_text()
        chair.assert_clean()

        # 2. The session opens; the register: the mayor excused, every other member present.
        open_session(chair)
        keep_register(chair, present, excused)
        assert chair.locator("table.register tbody tr").count() == len(present) + 1
        assert chair.get_by_role("combobox", name=f"Attendance {excused}", exact=True).input_value() == "excused"
        assert chair.get_by_role("combobox", name=f"Attendance {outsider}", exact=True).input_value() == "present"

        # An occasional attendee: refused until the signed undertaking is confirmed.
        for label, value in zip(("Name", "Organisation", "Capacity"), OCCASIONAL, strict=True):
            chair.get_by_label(label, exact=True).fill(value)
        submit(chair, chair.get_by_role("button", name="Register the occasional attendee"))
        assert ("An occasional attendee attends only after signing the cell's secrecy undertaking: confirm that "
                "they did.") in main_text(chair)
        assert chair.get_by_label("Name", exact=True).input_value() == OCCASIONAL[0]  # kept
        assert OCCASIONAL[0] not in main_text(chair)  # in the field only: nobody is registered
        chair.assert_clean(expected_statuses=(422,))
        chair.get_by_label("They signed the cell's secrecy undertaking").check()
        submit(chair, chair.get_by_role("button", name="Register the occasional attendee"), re.compile(r"/attendance$"))
        assert "The occasional attendee is registered." in flash_text(chair)
        assert f"{OCCASIONAL[0]}, {OCCASIONAL[1]} ({OCCASIONAL[2]})" in main_text(chair)
        go(chair, first_url)
        assert (f"{len(present)} present, 1 excused, 0 absent of {len(present) + 1} invited; 1 occasional attendees"
                in chair.locator("dl.meeting-facts").inner_text())
        chair.assert_clean()

        # 3. In the meeting, the signal is weighed: decided in the meeting now in session, the
        #    case opens at once, with the members present as who took part.
        go(chair, server.url(f"/{LEUVEN}/home"))
        chair.get_by_role("link", name=signal_ref, exact=True).first.click()
        chair.wait_for_url(re.compile(r"/signals/\d+$"))
        chair.get_by_role("link", name="Weigh this signal").click()
        chair.wait_for_url(re.compile(r"/signals/\d+/weigh$"))
        chair.get_by_role("group", name="Flag").get_by_role("radio", name=re.compile(r"^Red\b")).check()
        fact = chair.get_by_role(
            "group", name="Expresses support for violence in the name of an ideology, or glorifies it")
        fact.get_by_role("checkbox").check()
        fact.get_by_label("What was observed").fill("Said at the youth centre that the attack was right (fictional test).")
        fact.get_by_label("Observed on").fill((date.today() - timedelta(days=7)).isoformat())
        chair.get_by_role("radio", name="Open a case in the cell").check()
        chair.get_by_label("Target group").select_option(label="Other violent extremism")
        chair.get_by_label("Kind of follow-up").select_option(label="Social follow-up")
        chair.get_by_role("group", name="Case team").get_by_role(
            "checkbox", name=re.compile(rf"^{re.escape(names['partner'])}")).check()
        chair.get_by_label("Rationale of the decision").fill("Concrete words, heard by two youth workers (test).")
        how = chair.get_by_role("group", name="How the cell decides")
        in_meeting = how.get_by_role("radio", name="Decided in the meeting now in session (its attendance register is the proof)")
        in_meeting.check()
        submit(chair, chair.get_by_role("button", name="Put the decision to the cell"), re.compile(r"/cases/\d+$"))
        new_code = chair.locator("h1").inner_text()
        assert re.fullmatch(r"[A-Z]+-\d{4}-\d{3}", new_code), new_code
        assert f"Case {new_code} opened on signal {signal_ref}." in flash_text(chair)
        assert names["partner"] in chair.locator("table.case-team").inner_text()
        assert f"Signal {signal_ref}" in chair.locator("section#observed").inner_text()
        # The decision was the meeting's, and the case shows it: who took part are the members
        # registered present (never the excused mayor, never names typed by one person).
        opened = decisions_row(chair, "Weighing of a signal")
        assert opened.locator("td").all_inner_texts()[1:3] == ["Taken", "Taken in a meeting"]
        assert names["partner"] in opened.inner_text()
        go(chair, server.url(f"/{LEUVEN}/decisions"))
        taken = chair.locator("section.recent-decisions li", has_text=f"Weighing of a signal: {signal_ref}")
        assert taken.count() == 1 and "Taken in a meeting" in taken.inner_text()
        go(chair, server.url(f"/{LEUVEN}/signals"))
        chair.get_by_role("link", name=signal_ref, exact=True).first.click()
        chair.wait_for_url(re.compile(r"/signals/\d+$"))
        took_part = chair.locator("section.weighing ul.participants li").all_inner_texts()
        assert sorted(re.sub(r" \([^()]*\)$", "", line) for line in took_part) == sorted(present), took_part
        chair.assert_clean()

        # 4. The case due for review: the review is held, and the meeting adds the social
        #    alderman to its team (a joint decision taken in the meeting).
        go(chair, server.url(f"/{LEUVEN}/cases"))
        chair.get_by_role("link", name=case_code, exact=True).click()
        chair.wait_for_url(re.compile(r"/cases/\d+$"))
        case_url = chair.url
        reviews = chair.locator("section#reviews")
        hold = reviews.locator("#hold-review summary")  # the form opens on demand
        assert hold.count() == 1 and hold.inner_text().startswith("Hold the review due on ")
        hold.click()
        reviews.get_by_role("group", name="Outcome").get_by_role("radio", name="Continue the plan").check()
        reviews.get_by_label("Summary of the review").fill(REVIEW_SUMMARY)
        submit(chair, reviews.get_by_role("button", name="Record the review"), re.compile(r"/cases/\d+#reviews$"))
        assert "The review was recorded; the next one is on" in flash_text(chair)
        held = chair.locator("table.case-reviews tbody tr", has_text="Continue the plan")
        today = date.today()
        assert held.count() == 1 and f"{today:%b} {today.day}, {today.year}" in held.inner_text()
        team = chair.locator("section#team")
        team.locator("#add-team-member summary").click()
        member = team.get_by_label("Member", exact=True)
        option = member.locator("option", has_text=names["social_alderman"]).first.get_attribute("value")
        member.select_option(option)
        team.get_by_role("group", name="How the cell decides").get_by_role(
            "radio", name="Decided in the meeting now in session (its attendance register is the proof)").check()
        submit(chair, team.get_by_role("button", name="Add to the team"), re.compile(r"/cases/\d+#team$"))
        assert "The team change is made." in flash_text(chair)
        assert names["social_alderman"] in chair.locator("table.case-team").inner_text()
        assert outsider not in chair.locator("table.case-team").inner_text()
        change = decisions_row(chair, "Change of a case team")
        assert change.locator("td").all_inner_texts()[1:3] == ["Taken", "Taken in a meeting"]
        chair.assert_clean()

        # 5. The minutes, point by point: a short summary each, and one point not for the minutes
        #    (what was typed there is not kept at all).
        go(chair, first_url)
        meeting_nav(chair).get_by_role("link", name="Minutes", exact=True).click()
        chair.wait_for_url(re.compile(r"/meetings/\d+/minutes$"))
        points = chair.locator("section.minutes-item")
        assert points.count() == count + 1
        for index in range(count + 1):
            point = points.nth(index)
            heading = point.get_by_role("heading").inner_text()
            item_id = point.get_attribute("data-item")
            if OFF_RECORD_TITLE in heading:
                point.get_by_label("Short summary").fill(OFF_RECORD_SAID)
                point.get_by_label("Not for the minutes: keep nothing but that the point was handled").check()
            else:
                point.get_by_label("Short summary").fill(
                    REVIEW_SUMMARY if case_code in heading and "Review due" in heading else f"Point {index + 1} handled (test).")
            submit(chair, point.get_by_role("button", name="Save this point"), re.compile(rf"/minutes#item-{item_id}$"))
            assert "The minutes of this point are saved." in flash_text(chair)
        off_record = minutes_section(chair, OFF_RECORD_TITLE)
        assert off_record.locator("p.off-the-record").inner_text() == "Handled; not for the minutes."
        assert off_record.get_by_label("Short summary").input_value() == ""
        assert OFF_RECORD_SAID not in chair.content()
        review_point = minutes_section(chair, f"Review due {case_code}")
        assert review_point.locator("p.summary").inner_text() == REVIEW_SUMMARY
        assert "Decision: Change of a case team" in review_point.inner_text()
        assert f"Decision: Weighing of a signal ({signal_ref}): Taken" in minutes_section(
            chair, f"Signal to weigh {signal_ref}").inner_text()
        chair.assert_clean()

        # 6. The session closes: the minutes wait for the next meeting.
        meeting_nav(chair).get_by_role("link", name="Meeting", exact=True).click()
        chair.wait_for_url(first_url)
        submit(chair, chair.get_by_role("button", name="Close the meeting"))
        assert "The meeting is closed; its minutes wait for the next meeting." in flash_text(chair)
        assert chair.locator("dd.meeting-status").inner_text() == "Held"
        assert "Draft, waiting for approval by the next meeting" in chair.locator("dl.meeting-facts").inner_text()
        chair.assert_clean()

        # 7. The next meeting is planned and opened; a page of the first one's minutes stays open
        #    (the secretary's, say) while the next meeting approves them.
        plan_meeting(chair, server, table, next_day)
        open_session(chair)
        keep_register(chair, [*present, excused])  # the approval is that meeting's decision
        submit(chair, meeting_nav(chair).get_by_role("link", name="Meeting", exact=True), re.compile(r"/meetings/\d+$"))
        stale = WatchedPage(chair.context.new_page())
        go(stale, first_url + "/minutes")
        assert stale.get_by_role("button", name="Save this point").count() == count + 1
        to_approve = chair.locator("section.approve-minutes")
        to_approve.get_by_role("link", name=shown(first_day, 9), exact=True).click()
        chair.wait_for_url(first_url + "/minutes")
        submit(chair, chair.get_by_role("button", name="Approve these minutes in the meeting now in session"))
        assert "The minutes are approved and locked." in flash_text(chair)
        assert chair.locator("p.minutes-state").inner_text().startswith("Approved: ")
        assert chair.get_by_role("button", name="Save this point").count() == 0
        chair.assert_clean()

        # 8. Locked: the change from the page opened before is refused with the rule, nothing
        #    changes; a correction is a dated addendum.
        stale_review = minutes_section(stale, f"Review due {case_code}")
        stale_review.get_by_label("Short summary").fill(LOCKED_CHANGE)
        submit(stale, stale_review.get_by_role("button", name="Save this point"))
        refusal = minutes_section(stale, f"Review due {case_code}").get_by_role("alert").inner_text()
        assert re.search(r"These minutes were approved on .+ and are locked: add a dated addendum to correct them\.",
                         refusal), refusal
        assert minutes_section(stale, f"Review due {case_code}").locator("p.summary").inner_text() == REVIEW_SUMMARY
        stale.assert_clean(expected_statuses=(422,))
        stale.close()
        chair.reload()
        assert LOCKED_CHANGE not in chair.content()
        chair.get_by_label("Correction (a dated addendum: approved minutes never change)").fill(ADDENDUM)
        submit(chair, chair.get_by_role("button", name="Add the addendum"), re.compile(r"/minutes#addenda$"))
        assert "The addendum is added to the minutes." in flash_text(chair)
        addendum = chair.locator("p.addendum").inner_text()
        # when it was added (Babel's medium date and short time), then what was added
        assert re.fullmatch(rf"[A-Z][a-z]{{2}} \d{{1,2}}, \d{{4}} \d{{1,2}}:\d\d\s[AP]M: {re.escape(ADDENDUM)}", addendum), addendum
        assert minutes_section(chair, f"Review due {case_code}").locator("p.summary").inner_text() == REVIEW_SUMMARY
        chair.assert_clean()

        # 9. After all this, the reviewed case still shows the meeting's decision on it.
        go(chair, case_url)
        assert decisions_row(chair, "Change of a case team").locator("td").nth(2).inner_text() == "Taken in a meeting"
        assert "Continue the plan" in chair.locator("table.case-reviews").inner_text()
        chair.assert_clean()

    # 10. The police chief, present at the meeting but in neither case's team, opens it in a
    #     browser of their own: the case's point by its code and title, never its summary.
    with open_page(browser, locale="en-GB", screenshot_name="meeting-outsider") as member:
        patient(member)
        sign_in_demo(member, server, LEUVEN, "police_chief")
        member.get_by_role("navigation", name="Pages of the cell").get_by_role("link", name="Meetings", exact=True).click()
        member.wait_for_url(re.compile(r"/meetings$"))
        assert member.get_by_role("link", name="Plan a meeting").count() == 0
        member.locator("table.past").get_by_role("link", name=first_title, exact=True).click()
        member.wait_for_url(first_url)
        point = member.locator("ol.agenda li", has_text=case_code)
        assert point.count() == 1
        assert point.get_attribute("data-sight") == "code"
        assert point.locator("span.case-code").inner_text() == case_code
        assert point.locator("span.item-kind").inner_text() == "Review due"  # its title: the kind's
        assert "(need-to-know: code and title only)" in point.inner_text()
        assert member.get_by_role("button", name="Close the meeting").count() == 0
        meeting_nav(member).get_by_role("link", name="Minutes", exact=True).click()
        member.wait_for_url(first_url + "/minutes")
        review_point = minutes_section(member, f"Review due {case_code}")
        assert review_point.get_attribute("data-sight") == "code"
        assert "Handled." in review_point.inner_text()
        assert review_point.locator("p.summary").count() == 0
        assert "Decision:" not in review_point.inner_text()
        assert minutes_section(member, f"Signal to weigh {signal_ref}").get_attribute("data-sight") == "code"
        assert minutes_section(member, OFF_RECORD_TITLE).locator("p.off-the-record").count() == 1
        html = member.content()
        for secret in (REVIEW_SUMMARY, OFF_RECORD_SAID, new_code):
            assert secret not in html, f"the member outside the team sees {secret!r}"
        assert member.get_by_role("button", name="Save this point").count() == 0
        member.assert_clean()
