"""Touring the demo in a real browser: signing in as each demo role (members and the operator),
and walking every page a role can reach by following its links (GET only, nothing submitted),
one page per kind of address. Used by tests/test_browser_shell.py and scripts/screenshots.py."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urldefrag, urlsplit

from browser_support import Server, sign_in_demo

#: Addresses a tour never follows: they sign out, download, change state or leave the site.
NEVER_FOLLOW = re.compile(
    r"/sign-out|/logout|/language/|\.ics($|\?)|/calendar|/export|/download|/print|\.pdf($|\?)|\.csv($|\?)|/static/|/api/|/theme\.css"
)
#: A page's kind: its path with every number (an id) replaced, so one case page stands for all.
_NUMBER = re.compile(r"/\d+(?=/|$)")


def kind_of(path: str) -> str:
    return _NUMBER.sub("/<id>", path)


def operator_login(output: str) -> tuple[str, str, str]:
    password = re.search(r"password for all: (\S+)\)", output).group(1)
    line = re.search(r"^\s+console\s+operator \(/admin/\)\s+(\S+)\s+key ([A-Z2-7]+)$", output, re.MULTILINE)
    return line.group(1), password, line.group(2)


def sign_in_operator_demo(page, server: Server) -> None:
    """Sign the demo operator in at /admin/ (labels in English: an English-speaking browser)."""
    import pyotp

    email, password, key = operator_login(server.output())
    page.goto(server.url("/admin/sign-in"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/admin/sign-in/verify$"))
    page.get_by_label("Code").fill(pyotp.TOTP(key).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url("/admin/"))
    page.wait_for_load_state("networkidle")


def sign_in_as(page, server: Server, cell: str, role: str) -> str:
    """Sign in as a demo role (``operator`` for the console); the role's start address."""
    if role == "operator":
        sign_in_operator_demo(page, server)
        return server.url("/admin/")
    sign_in_demo(page, server, cell, role)
    return server.url(f"/{cell}/home")


def first_case_url(page, server: Server, cell: str) -> str:
    """The address of the first case listed on the cell's cases page."""
    page.goto(server.url(f"/{cell}/cases"))
    link = page.locator("main a[href*='/cases/']").first
    return server.url(link.get_attribute("href"))


def links_on(page, server: Server, scope: str) -> list[str]:
    """Same-site addresses linked from the page's main content and navigation, under ``scope``."""
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
    found = []
    for href in hrefs:
        address, _ = urldefrag(href)
        parts = urlsplit(address)
        if parts.scheme or parts.netloc or not parts.path.startswith(scope) or NEVER_FOLLOW.search(address):
            continue
        found.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return found


def tour(page, server: Server, start: str, scope: str, limit: int = 120):
    """Yield every page reachable from ``start`` under ``scope`` by links, one per kind of
    address, after it loaded: (path, status)."""
    seen_kinds: set[str] = set()
    queue = deque([urlsplit(start).path])
    while queue and len(seen_kinds) < limit:
        path = queue.popleft()
        kind = kind_of(path.split("?")[0])
        if kind in seen_kinds:
            continue
        seen_kinds.add(kind)
        response = page.goto(server.url(path))
        page.wait_for_load_state("networkidle")
        yield path, response.status if response else 0
        queue.extend(link for link in links_on(page, server, scope) if kind_of(link.split("?")[0]) not in seen_kinds)
