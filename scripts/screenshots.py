"""Screenshots of the coordinator's dashboard, a case page and the operator console, at a phone's
width (360 px) and a desktop's (1280 px), into docs/screenshots/ (shown in the README).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--language en]

Starts its own `livc demo` (a fresh embedded database) and Debian's chromium, as the browser
tests do (tests/browser_support.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from tour import first_case_url, sign_in_operator_demo  # noqa: E402

from browser_support import CHROMIUM, CHROMIUM_ARGS, sign_in_demo, start_demo  # noqa: E402

WIDTHS = {"phone": 360, "desktop": 1280}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshots"))
    parser.add_argument("--language", default="en")
    arguments = parser.parse_args()
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        server = start_demo(Path(folder))
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            member = browser.new_context(viewport={"width": 1280, "height": 900}, locale=f"{arguments.language}-BE")
            page = member.new_page()
            sign_in_demo(page, server, "demo-leuven", "coordinator")
            case_url = first_case_url(page, server, "demo-leuven")
            operator = browser.new_context(viewport={"width": 1280, "height": 900}, locale=f"{arguments.language}-BE")
            console = operator.new_page()
            sign_in_operator_demo(console, server)
            for name, width in WIDTHS.items():
                for shown, address, file in ((page, server.url("/demo-leuven/home"), "dashboard"), (page, case_url, "case"),
                                             (console, server.url("/admin/"), "console")):
                    shown.set_viewport_size({"width": width, "height": 900})
                    shown.goto(address)
                    shown.wait_for_load_state("networkidle")
                    shown.screenshot(path=str(out / f"{file}-{name}.png"), full_page=True)
        finally:
            browser.close()
            server.stop()
    for path in sorted(out.glob("*.png")):
        print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)


if __name__ == "__main__":
    main()
