"""The longer fuzzing run of the JSON API against its OpenAPI document (about 10,000 calls).

    .venv/bin/python scripts/fuzz-api.py [--examples 40]

Builds a fresh app on SQLite in a temporary folder, seeds the demo cells and a ready cell
(tests/case_helpers.py), signs in a coordinator, a partner and an administrator, and sends
``--examples`` generated requests per operation and person (tests/fuzz_support.py). Prints
the counts by status and every operation whose answers broke the document; exits 1 if any did.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fuzz_support import Run, fuzz  # noqa: E402

from admin_helpers import add_operator, give_operator_session  # noqa: E402
from auth_helpers import sign_in  # noqa: E402
from case_helpers import ready_cell  # noqa: E402
from conftest import make_app, seed_demo_tenants  # noqa: E402
from livc.platform import migrating  # noqa: E402
from livc.platform.settings import load_settings  # noqa: E402

SLUG = "demo-leuven"
EN = {"Accept-Language": "en"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40, help="requests per operation and person")
    examples = parser.parse_args().examples
    folder = Path(tempfile.mkdtemp(prefix="livc-fuzz-"))
    try:
        (folder / "data").mkdir()
        migrating.upgrade(load_settings({"data_dir": str(folder / "data")}))
        app = make_app(folder)
        cells = seed_demo_tenants(app)
        cell = ready_cell(app, cells[SLUG], SLUG)
        run = Run()
        # Everyone signs in first: the fuzzing of the sign-in itself soon meets the rate limit.
        signed_in = []
        for member in (cell.coordinator, cell.partner):
            client = app.test_client()
            sign_in(client, member)
            signed_in.append((client, client.get(f"/{SLUG}/api/session").get_json()["csrf_token"]))
        document = app.test_client().get("/api/openapi.json").get_json()
        for client, token in signed_in:
            fuzz(app, client, document, slug=SLUG, console=False, headers={"X-CSRFToken": token, **EN},
                 examples=examples, run=run)
        console = app.test_client()
        give_operator_session(app, console, add_operator(app))
        token = console.get("/admin/api/session").get_json()["csrf_token"]
        fuzz(app, console, document, slug=SLUG, console=True, headers={"X-CSRFToken": token, **EN},
             examples=examples * 3, run=run)
        print(run.summary())
        return 1 if run.failures else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
