"""Fuzzing the JSON API against its OpenAPI document with schemathesis, in-process (WSGI).

Used by ``tests/test_api_fuzz.py`` (a bounded run in ``make test``) and ``scripts/fuzz-api.py``
(the longer run). Each operation gets ``examples`` generated requests, sent with a signed-in
test client (it keeps the session cookie) and the CSRF header; each answer is checked: no 5xx,
a declared status, a body of the declared shape. Failures are collected, not raised at the
first, so one run names every operation at fault.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from schemathesis.transport.wsgi import WSGI_TRANSPORT

#: ``not_a_server_error`` is checked by hand: 503 (no database, no Redis) is a declared answer.
CHECKS = [status_code_conformance, response_schema_conformance]

#: Operations that would end the fuzzing client's own session or rights, or reach the network.
SESSION_ENDERS = {
    ("DELETE", "/{tenant_slug}/api/session"),
    ("PUT", "/{tenant_slug}/api/profile/password"),
    ("PATCH", "/{tenant_slug}/api/members/{membership_id}"),  # may take one's own role
    ("DELETE", "/{tenant_slug}/api/members/{membership_id}"),  # may end one's own seat
    ("PUT", "/{tenant_slug}/api/sso"),  # asks the (random) issuer for its configuration
}


@dataclass
class Run:
    calls: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict = field(default_factory=dict)  # "METHOD path" -> first failure seen

    def summary(self) -> str:
        lines = [f"{self.calls} calls; statuses: {dict(sorted(self.statuses.items()))}"]
        lines += [f"{operation}: {failure}" for operation, failure in sorted(self.failures.items())]
        return "\n".join(lines)


def cell_document(document: dict, slug: str, *, console: bool) -> dict:
    """The document with the cell fixed at ``slug`` (only its API, or only the console's)."""
    fixed = copy.deepcopy(document)
    paths = {}
    for path, item in fixed["paths"].items():
        if path.startswith("/admin/") != console:
            continue
        item["parameters"] = [p for p in item.get("parameters", []) if p["name"] != "tenant_slug"]
        paths[path.replace("{tenant_slug}", slug)] = item
    fixed["paths"] = paths
    return fixed


def fuzz(app, client, document: dict, *, slug: str, console: bool, headers: dict, examples: int,
         run: Run | None = None, skip: set = frozenset()) -> Run:
    """Send ``examples`` generated requests to each operation, checking every answer."""
    run = run or Run()
    schema = schemathesis.openapi.from_dict(cell_document(document, slug, console=console))
    skipped = {(method, path.replace("{tenant_slug}", slug)) for method, path in SESSION_ENDERS | set(skip)}
    for result in schema.get_all_operations():
        operation = result.ok()
        name = f"{operation.method.upper()} {operation.path}"
        if (operation.method.upper(), operation.path) in skipped:
            continue

        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        @given(case=operation.as_strategy())
        def send(case):
            # Sent by the test client itself: it keeps the session cookie as a browser would.
            response = client.open(**WSGI_TRANSPORT.serialize_case(case, headers=headers))
            run.calls += 1
            run.statuses[response.status_code] += 1
            if response.status_code >= 500 and response.status_code != 503:
                run.failures.setdefault(name, f"{response.status_code} server error")
                return
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as failure:
                lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
                run.failures.setdefault(name, f"{response.status_code} {' / '.join(lines[1:4])[:400]}")

        send()
    return run
