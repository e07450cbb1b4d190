"""Every page the demo reaches, for each role, in a real browser at a phone's width (360 px) and a
desktop's (1280 px): no sideways scrolling, a navigation landmark leading to the role's main
pages, and no violation of any axe-core rule (npm axe-core, run in the page); and no sideways
scrolling at 320 px either (400% zoom of a 1280 px window).

The tour follows links only (GET; nothing is submitted, nobody signs out), one page per kind of
address (one case page stands for all), from the role's start page (tests/tour.py).
"""

from __future__ import annotations

import pytest
from tour import sign_in_as, tour

from browser_support import (
    REPO,
    WatchedPage,
    browser,  # noqa: F401 - the fixture
    start_demo,
)

pytestmark = pytest.mark.browser

AXE = REPO / "platform" / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (1280, 360)
REFLOW = 320
CELL = "demo-leuven"

#: Each demo role, with the main pages its menu must lead to (the menu's labels, in English).
ROLES = {
    "coordinator": ("Home", "Signals", "Cases", "Meetings", "Decisions", "Policy", "Figures", "The cell", "Members"),
    "mayor": ("Home", "Cases", "Meetings", "Policy", "Figures", "The cell", "Members"),
    "information_officer": ("Home", "Cases", "Meetings", "Members"),
    "police_chief": ("Home", "Cases", "Meetings"),
    "social_alderman": ("Home", "Cases", "Meetings"),
    "partner": ("Home", "Signals", "Cases", "Meetings", "Figures"),
    "secretary": ("Home", "Cases", "Meetings"),
    "guest_expert": ("Home",),
    "operator": ("Console", "Tenants", "Platform health", "Operator audit trail"),
}

#: What a page is checked for, in the page: its width against the window's, the menu's links,
#: and axe-core's verdict (every rule axe runs by default, best practices included).
CHECK = """async () => {
  const root = document.documentElement;
  const menu = document.querySelector(".govuk-service-navigation nav");
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return {
    scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    menu: menu ? [...menu.querySelectorAll("a")].map((a) => a.textContent.trim()) : null,
    violations: result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    })),
  };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_demo(tmp_path_factory.mktemp("shell-demo"))
    yield running
    running.stop()


def _problems(path: str, width: int, found: dict, expected_menu: tuple[str, ...]) -> list[str]:
    problems = []
    if found["scrollWidth"] > found["clientWidth"]:
        problems.append(f"{path} at {width} px scrolls sideways: {found['scrollWidth']} px wide")
    if found["menu"] is None:
        problems.append(f"{path} at {width} px has no navigation landmark with the main menu")
    elif missing := [label for label in expected_menu if label not in found["menu"]]:
        problems.append(f"{path} at {width} px: the menu misses {missing} (has {found['menu']})")
    for violation in found["violations"]:
        problems.append(f"{path} at {width} px: axe {violation['id']} ({violation['impact']}): "
                        f"{violation['help']} at {violation['targets']}")
    return problems


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_reflows_has_a_menu_and_passes_axe(browser, server, role):  # noqa: F811
    assert AXE.exists(), "axe-core is installed by scripts/build-frontend.sh (make install)"
    context = browser.new_context(locale="en-BE", viewport={"width": WIDTHS[0], "height": 900})
    context.set_default_timeout(30_000)
    context.add_init_script(path=str(AXE))  # runs before the page's own scripts, whatever its CSP
    page = WatchedPage(context.new_page())
    try:
        start = sign_in_as(page, server, CELL, role)
        scope = "/admin/" if role == "operator" else f"/{CELL}/"
        problems, visited = [], []
        for path, status in tour(page, server, start, scope):
            visited.append(path)
            if status >= 400:
                problems.append(f"{path} answered {status}")
                continue
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                found = page.evaluate(CHECK)
                problems += _problems(path, width, found, ROLES[role])
            # 320 CSS px: what 400% zoom of a 1280 px window leaves (WCAG 1.4.10), reflow only
            page.set_viewport_size({"width": REFLOW, "height": 900})
            wide = page.evaluate("() => document.documentElement.scrollWidth")
            if wide > REFLOW:
                problems.append(f"{path} at {REFLOW} px scrolls sideways: {wide} px wide")
            page.set_viewport_size({"width": WIDTHS[0], "height": 900})
        page.assert_clean()
    finally:
        context.close()
    assert len(visited) >= len(ROLES[role]), f"the tour as {role} reached only {visited}"
    assert not problems, f"{len(problems)} problems as {role} over {len(visited)} pages:\n" + "\n".join(problems)


def test_the_landing_page_and_public_pages_pass_too(browser, server):  # noqa: F811
    """A visitor (not signed in): the start page finds a cell, and the footer's pages."""
    context = browser.new_context(locale="en-BE", viewport={"width": WIDTHS[0], "height": 900})
    context.add_init_script(path=str(AXE))
    page = WatchedPage(context.new_page())
    problems = []
    try:
        for path in ("/", "/?q=Leuven", "/accessibility", "/privacy", f"/{CELL}/", f"/{CELL}/sign-in"):
            page.goto(server.url(path))
            page.wait_for_load_state("networkidle")
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 900})
                found = page.evaluate(CHECK)
                found["menu"] = found["menu"] or []  # a visitor has no menu
                problems += _problems(path, width, found, ())
        page.goto(server.url("/?q=leuven"))
        assert page.get_by_role("link", name="Sign in to DEMO LIVC-R Leuven").count() == 1
        page.assert_clean()
    finally:
        context.close()
    assert not problems, "\n".join(problems)

