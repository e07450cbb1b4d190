"""Load benchmark of a coordinator's pages on PostgreSQL, with gunicorn as ``livc serve`` runs it.

    .venv/bin/python benchmarks/web_load.py                       # 10, 1,000, 10,000, 50,000 cases
    .venv/bin/python benchmarks/web_load.py --sizes 10,1000       # quicker
    .venv/bin/python benchmarks/web_load.py --check               # exit 1 when a target is not met

What it does, in one run:

1. Creates a fresh database the way the test suite does (``tests/conftest.py``): an owner role
   runs the migrations, the app connects as an ordinary role under row-level security.
2. Seeds one cell per size (``bench-10``, ``bench-1000``, ...) with a coordinator and that many
   cases, in bulk SQL inside the cell's tenant context (no HTTP flows): per case an identity,
   the signal that opened it and its weighing, the case (about a third closed, with closure
   reason and erasure date), two measures at different statuses, one review (held or due,
   after closure for closed cases), and 5 % extra signals still to weigh. Free texts are
   encrypted under each record's own data key, as the app stores them.
3. Starts ``livc serve`` (gunicorn, ``--workers``) on a free loopback port and, beside it, a
   bare Flask + Flask-SQLAlchemy page listing 50 rows of one table (``bare_app`` below) served
   by gunicorn with the same worker settings.
4. Signs the coordinator of each cell in through the JSON API (password + authenticator code,
   then the secrecy undertaking), and sends a fixed number of GET requests per page from a
   few client threads (one shared session, like a person with several tabs): requests/s,
   p50/p95 latency, bytes, non-200 answers.
5. Counts the SQL statements of each page once, in-process (the same app and database, a
   SQLAlchemy ``before_cursor_execute`` counter around one test-client request): every
   statement the request sends, session look-up included.
6. Prints a table and the targets, met / NOT met: statements per page the same at every size
   (at most 2 apart), page time (p50) at the largest size within 1.5x of the smallest, and the
   case list's throughput at least a quarter of the bare page's.

Needs PostgreSQL (a superuser URL: ``--dsn`` or ``LIVC_BENCH_DSN``, default
``postgresql://postgres@127.0.0.1:5432/test``); the database it creates is dropped at the end
(``--keep`` keeps it). No Redis: nothing on these pages enqueues a job.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyotp
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
DEFAULT_DSN = os.environ.get("LIVC_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/test")
OWNER_ROLE, APP_ROLE = "livc_bench_owner", "livc_bench_app"
PASSWORD = "correct horse battery staple"
DEFAULT_PAGES = (
    "/home", "/cases", "/signals", "/retention",
    "/api/cases", "/api/signals", "/api/dashboard",
)
CASE_LIST = "/cases"
BARE = "bare page (50 rows)"
STATEMENT_SLACK = 2
TIME_RATIO = 1.5
THROUGHPUT_SHARE = 0.25
# Invented names only (never real people's data in a benchmark).
GIVEN = ("Amira", "Bram", "Chloé", "Dries", "Elif", "Femke", "Goran", "Hind", "Ilias", "Jana")
FAMILY = ("Aerts", "Benali", "Claes", "Dumont", "El Idrissi", "Fontaine", "Goossens", "Hermans")


# --- the database ---------------------------------------------------------------------------------


def _normalised(url: str) -> sa.URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@contextmanager
def fresh_database(admin_dsn: str, *, keep: bool = False, reuse: tuple[str, str] | None = None) -> Iterator[dict[str, str]]:
    """A new migrated database (owner URL, app URL under RLS) and a bare one (superuser URL).

    ``reuse`` (owner URL, app URL): an existing migrated database instead (the smoke test's);
    only the bare database is created then, and only it is dropped."""
    from livc.platform import migrating
    from livc.platform.settings import load_settings

    admin_url = _normalised(admin_dsn)
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"livc_bench_{uuid.uuid4().hex[:10]}"
    if reuse is not None:
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}_bare"))
        try:
            yield {"owner": reuse[0], "app": reuse[1],
                   "bare": admin_url.set(database=f"{name}_bare").render_as_string(hide_password=False)}
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}_bare WITH (FORCE)"))
            admin.dispose()
        return
    with admin.connect() as connection:
        for role in (OWNER_ROLE, APP_ROLE):
            if not connection.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}):
                connection.execute(sa.text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS"))
        connection.execute(sa.text(f"CREATE DATABASE {name} OWNER {OWNER_ROLE}"))
        connection.execute(sa.text(f"REVOKE ALL ON DATABASE {name} FROM PUBLIC"))
        connection.execute(sa.text(f"GRANT CONNECT ON DATABASE {name} TO {APP_ROLE}"))
        connection.execute(sa.text(f"CREATE DATABASE {name}_bare"))
    urls = {
        "owner": admin_url.set(database=name, username=OWNER_ROLE, password=None).render_as_string(hide_password=False),
        "app": admin_url.set(database=name, username=APP_ROLE, password=None).render_as_string(hide_password=False),
        "bare": admin_url.set(database=f"{name}_bare").render_as_string(hide_password=False),
    }
    try:
        migrating.upgrade(load_settings({"database_url": urls["app"], "migrate_database_url": urls["owner"]}))
        yield urls
    finally:
        if keep:
            print(f"kept databases {name} and {name}_bare")
        else:
            with admin.connect() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}_bare WITH (FORCE)"))
        admin.dispose()


def app_environment(urls: dict[str, str], data_dir: Path) -> dict[str, str]:
    """The ``LIVC_*`` settings both the served app and the in-process one run with.

    ``test``, not ``production``: production insists on an https public URL (secure cookies a
    plain-http loopback client would not send back) and SMTP; the request path is the same."""
    return {
        "LIVC_ENV": "test",
        "LIVC_DATABASE_URL": urls["app"],
        "LIVC_MIGRATE_DATABASE_URL": urls["owner"],
        "LIVC_SECRET_KEY": "bench-" + "s" * 40,
        "LIVC_MASTER_KEY": base64.urlsafe_b64encode(bytes(range(32))).decode(),
        "LIVC_DATA_DIR": str(data_dir),
        "LIVC_LOG_LEVEL": "WARNING",
        # Many sign-ins from one address in a few seconds are the benchmark, not an attack.
        "LIVC_SIGN_IN_FAILURES_ALLOWED": "100",
    }


# --- seeding ------------------------------------------------------------------------------------------


@dataclass
class Cell:
    size: int
    slug: str
    tenant_id: int
    email: str
    totp_secret: str
    codes_used: int = 0

    def code(self) -> str:
        """A code not used yet (each is accepted once; one step of drift is allowed)."""
        if self.codes_used >= 2:
            time.sleep(30 - time.time() % 30 + 0.5)
            self.codes_used = 0
        code = pyotp.TOTP(self.totp_secret).at(time.time() + 30 * self.codes_used)
        self.codes_used += 1
        return code


class _Sealer:
    """Encrypts free texts under a record's own data key as :mod:`livc.platform.keys` does,
    but in bulk: the keys are made here and their wrapped rows inserted in one statement."""

    def __init__(self, tenant_id: int) -> None:
        from livc.platform import keys

        self.keys, self.tenant_id = keys, tenant_id
        self.rows: list[dict] = []
        self.created = datetime.now(timezone.utc)

    def scope(self, scope: str):
        keys = self.keys
        key = os.urandom(keys.KEY_BYTES)
        wrapped, key_id = keys._wrap(key, self.tenant_id, scope)
        self.rows.append({
            "tenant_id": self.tenant_id, "scope": scope, "wrapped_key": wrapped, "wrapping": keys.WRAPPING,
            "master_key_id": key_id, "created_at": self.created,
        })
        cipher = AESGCM(keys._subkey(key, "encryption"))
        aad = keys._aad(self.tenant_id, scope)

        def seal(value: str) -> str:
            nonce = os.urandom(keys.NONCE_BYTES)
            sealed = cipher.encrypt(nonce, value.encode(), aad)
            return keys.TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

        return seal


def _ids(table: str, count: int) -> list[int]:
    from livc.platform.db import db

    if count == 0:
        return []
    return list(db.session.scalars(
        sa.text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)"),
        {"n": count},
    ))


def create_cell(size: int, suffix: str | None = None) -> Cell:
    """A cell ``bench-<size>`` with a coordinator (password and authenticator enrolled)."""
    from livc.admin.onboarding.cells import create_tenant
    from livc.platform.accounts import get_or_create_account, set_password
    from livc.platform.db import db, tenant_context
    from livc.platform.roles import OrganisationKind, Role
    from livc.platform.timeutil import utcnow
    from livc.tenants.members.models import Membership, MembershipStatus, Organisation

    slug = f"bench-{size}" if suffix is None else f"bench-{size}-{suffix}"
    tenant = create_tenant({
        "slug": slug, "name": f"Benchmark cell of {size} cases", "kind": "municipality",
        "languages": ["nl", "en"], "municipalities": [{"nis_code": "24062", "name": "Leuven"}],
    }, actor="system:benchmark")
    email = f"coordinator.{slug}@example.test"
    secret = pyotp.random_base32()
    account = get_or_create_account(email, "Benchmark coordinator")
    set_password(account, PASSWORD)
    account.totp_secret, account.totp_enabled_at = secret, utcnow()
    with tenant_context(tenant.id):
        organisation = Organisation(name="Benchmark municipal service", kind=OrganisationKind.MUNICIPAL_SERVICE)
        db.session.add(organisation)
        db.session.flush()
        db.session.add(Membership(account_id=account.id, organisation_id=organisation.id,
                                  role=Role.COORDINATOR, status=MembershipStatus.ACTIVE))
        db.session.flush()
    cell = Cell(size, slug, tenant.id, email, secret)
    db.session.commit()
    return cell


def seed_cases(cell: Cell, *, chunk: int = 5000, seed: int = 2026) -> None:
    """``cell.size`` realistic cases in bulk INSERTs inside the cell's tenant context."""
    from livc.platform.db import db, tenant_context
    from livc.platform.keys import DataKey, blind_index
    from livc.tenants.cases import models as cases
    from livc.tenants.members.models import Membership, Organisation
    from livc.tenants.signals import models as signals

    rng = random.Random(seed + cell.size)
    now = datetime.now(timezone.utc)
    today = now.date()
    with tenant_context(cell.tenant_id):
        coordinator = db.session.scalar(sa.select(Membership.id))
        organisation = db.session.scalar(sa.select(Organisation.id))
        family_index = {name: blind_index(name, "family_name") for name in FAMILY}
        done = 0
        while done < cell.size:
            count = min(chunk, cell.size - done)
            extra = max(1, count // 20)
            identity_ids, case_ids = _ids("identities", count), _ids("cases", count)
            signal_ids = _ids("signals", count + extra)
            sealer = _Sealer(cell.tenant_id)
            rows: dict[str, list[dict]] = {name: [] for name in ("identities", "cases", "signals", "weighings", "measures", "reviews")}
            for n in range(count):
                number = done + n + 1
                identity_id, case_id, signal_id = identity_ids[n], case_ids[n], signal_ids[n]
                family, given = rng.choice(FAMILY), rng.choice(GIVEN)
                seal = sealer.scope(f"identity:{identity_id}")
                rows["identities"].append({
                    "id": identity_id, "tenant_id": cell.tenant_id, "given_names_ciphertext": seal(given),
                    "family_name_ciphertext": seal(family), "family_name_index": family_index[family],
                    "created_at": now, "updated_at": now,
                })
                opened = now - timedelta(days=rng.randint(1, 1500))
                closed = rng.random() < 0.35
                flag = rng.choice(list(signals.FlagLevel))
                seal = sealer.scope(f"signal:{signal_id}")
                rows["signals"].append({
                    "id": signal_id, "tenant_id": cell.tenant_id, "reference": f"S-{opened.year}-{number:06d}",
                    "channel": rng.choice(list(signals.SignalChannel)), "recorded_by_id": coordinator,
                    "reporter_organisation_id": organisation, "internal_assessment": signals.InternalAssessment.DONE,
                    "urgency": rng.choice(list(signals.Urgency)), "status": signals.SignalStatus.CASE_OPENED,
                    "identity_id": identity_id, "case_id": case_id, "residence_nis": "24062",
                    "received_at": opened - timedelta(days=7), "decided_at": opened,
                    "observation_ciphertext": seal("Concerning statements observed at school."),
                })
                rows["weighings"].append({
                    "tenant_id": cell.tenant_id, "signal_id": signal_id, "flag": flag,
                    "decision": signals.WeighingDecision.OPEN_CASE, "case_id": case_id,
                    "recorded_by_id": coordinator, "decided_at": opened,
                })
                seal = sealer.scope(f"case:{case_id}")
                held = rng.random() < 0.5  # the case's one review (below)
                # As the app keeps it (migration 0032): closed with a review after closure to
                # hold, closed, or open with its two measures.
                base_stage = (("closed" if held else "aftercare") if closed else "follow_up")
                rows["cases"].append({
                    "id": case_id, "tenant_id": cell.tenant_id, "code": f"BEN-{opened.year}-{number:06d}",
                    "status": cases.CaseStatus.CLOSED if closed else cases.CaseStatus.OPEN,
                    "identity_id": identity_id, "target_group": rng.choice(list(signals.TargetGroup)),
                    "approached_for_other_problem": rng.random() < 0.2,
                    "follow_up_kind": rng.choice(list(signals.FollowUpKind)), "flag": flag, "residence_nis": "24062",
                    "opened_at": opened, "opened_by_id": coordinator,
                    "next_review_on": None if closed else today + timedelta(days=rng.randint(-20, 90)),
                    "closed_at": opened + timedelta(days=200) if closed else None,
                    "closed_by_id": coordinator if closed else None,
                    "closure_reason": rng.choice(list(cases.ClosureReason)) if closed else None,
                    "erase_after": (opened + timedelta(days=200 + 5 * 365)).date() if closed else None,
                    "updated_at": opened, "goal_ciphertext": seal("Keep the young person in school and at work."),
                    "base_stage": base_stage,
                })
                for m in range(2):
                    status = (cases.MeasureStatus.DONE if closed
                              else rng.choice(list(cases.MeasureStatus)))
                    rows["measures"].append({
                        "tenant_id": cell.tenant_id, "case_id": case_id, "organisation_id": organisation,
                        "due_on": today + timedelta(days=rng.randint(-60, 120)), "status": status,
                        "category": rng.choice(cases.CHOSEN_MEASURE_CATEGORIES), "created_at": opened,
                        "created_by_id": coordinator, "updated_at": opened,
                        "description_ciphertext": seal(f"Measure {m + 1}: guidance by the youth service."),
                    })
                rows["reviews"].append({
                    "tenant_id": cell.tenant_id, "case_id": case_id,
                    "kind": cases.ReviewKind.AFTER_CLOSURE if closed else cases.ReviewKind.FOLLOW_UP,
                    "due_on": today + timedelta(days=rng.randint(-30, 180)),
                    "held_on": today - timedelta(days=rng.randint(1, 30)) if held else None,
                    "held_by_id": coordinator if held else None,
                    "outcome": (cases.ReviewOutcome.NO_CONCERN if closed else cases.ReviewOutcome.CONTINUE) if held else None,
                    "created_at": opened,
                })
            for n in range(extra):  # signals still to weigh
                signal_id = signal_ids[count + n]
                seal = sealer.scope(f"signal:{signal_id}")
                rows["signals"].append({
                    "id": signal_id, "tenant_id": cell.tenant_id, "reference": f"S-N-{done + n + 1:06d}",
                    "channel": signals.SignalChannel.EMAIL, "recorded_by_id": coordinator,
                    "reporter_organisation_id": organisation, "internal_assessment": signals.InternalAssessment.NOT_DONE,
                    "urgency": signals.Urgency.NORMAL, "status": signals.SignalStatus.NEW, "identity_id": None,
                    "case_id": None, "residence_nis": "24062", "received_at": now - timedelta(days=rng.randint(0, 20)),
                    "decided_at": None, "observation_ciphertext": seal("A teacher reports a change of behaviour."),
                })
            session = db.session
            session.execute(sa.insert(DataKey.__table__), sealer.rows)
            session.execute(sa.insert(signals.Identity.__table__), rows["identities"])
            session.execute(sa.insert(cases.Case.__table__), rows["cases"])
            session.execute(sa.insert(signals.Signal.__table__), rows["signals"])
            session.execute(sa.insert(signals.Weighing.__table__), rows["weighings"])
            session.execute(sa.insert(cases.Measure.__table__), rows["measures"])
            session.execute(sa.insert(cases.Review.__table__), rows["reviews"])
            session.commit()
            done += count
    analyse()


def analyse() -> None:
    """Vacuum and refresh the planner's statistics, as autovacuum soon does after such a bulk
    insert (since PostgreSQL 13 inserts alone start it): as the tables' owner (the app's ordinary
    role may not; its ``ANALYZE`` skipped them, and the planner guessed a cell of 50,000 cases
    held about a hundred). The vacuum marks the pages visible, so that index-only scans stay
    index-only, as they are on a database that has been running."""
    owner = os.environ.get("LIVC_MIGRATE_DATABASE_URL")
    if not owner:
        return
    engine = sa.create_engine(_normalised(owner), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("VACUUM (ANALYZE)"))
    finally:
        engine.dispose()


def seed(app, sizes: list[int], suffix: str | None = None) -> list[Cell]:
    from livc.platform.db import db

    cells = []
    with app.app_context():
        for size in sizes:
            started = time.perf_counter()
            cell = create_cell(size, suffix)
            seed_cases(cell)
            cells.append(cell)
            print(f"seeded {cell.slug}: {size} cases in {time.perf_counter() - started:.1f} s", flush=True)
        db.session.remove()
    return cells


# --- the bare page ------------------------------------------------------------------------------------


def bare_app():
    """Flask + Flask-SQLAlchemy, one table, one page listing 50 rows (``LIVC_BENCH_BARE_URL``)."""
    from flask import Flask, render_template_string
    from flask_sqlalchemy import SQLAlchemy

    app = Flask("bare")
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["LIVC_BENCH_BARE_URL"]
    bare_db = SQLAlchemy(app)
    rows = sa.Table(
        "bare_rows", bare_db.metadata,
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("code", sa.String(30)),
        sa.Column("status", sa.String(10)), sa.Column("opened_at", sa.DateTime(timezone=True)),
    )
    @app.get("/")
    def listing():
        found = bare_db.session.execute(sa.select(rows).order_by(rows.c.id.desc()).limit(50)).all()
        return render_template_string(
            "<!doctype html><title>rows</title><table>{% for row in rows %}<tr><td>{{ row.code }}</td>"
            "<td>{{ row.status }}</td><td>{{ row.opened_at }}</td></tr>{% endfor %}</table>",
            rows=found,
        )

    return app


def seed_bare(url: str, count: int = 10_000) -> None:
    engine = sa.create_engine(_normalised(url), poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text(
            "CREATE TABLE bare_rows (id serial PRIMARY KEY, code varchar(30), status varchar(10), opened_at timestamptz)"
        ))
        connection.execute(sa.text(
            "INSERT INTO bare_rows (code, status, opened_at) SELECT 'BEN-' || n, "
            "CASE WHEN n % 3 = 0 THEN 'closed' ELSE 'open' END, now() - n * interval '1 hour' "
            "FROM generate_series(1, :n) n"
        ), {"n": count})
        connection.execute(sa.text("ANALYZE bare_rows"))
    engine.dispose()


# --- servers ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A server subprocess in its own process group, its output in ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(process: subprocess.Popen, probe: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            last = log.read_text(errors="replace").splitlines()[-5:]
            raise RuntimeError(f"{process.args[0]} exited ({process.returncode}); its log ends:\n" + "\n".join(last))
        try:
            if requests.get(probe, timeout=5).status_code < 500:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{probe} did not answer within {timeout:.0f} s; see {log}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    """gunicorn's quick shutdown (SIGINT), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- measuring ------------------------------------------------------------------------------------------


@dataclass
class Figures:
    label: str
    size: int | None
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    bytes: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    statements: int | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def api_sign_in(session: requests.Session, base: str, cell: Cell) -> None:
    """Password and code through ``POST /api/session``, then the undertaking when asked."""
    token = session.get(f"{base}/{cell.slug}/api/session", timeout=60).json()["csrf_token"]
    answer = session.post(f"{base}/{cell.slug}/api/session", headers={"X-CSRFToken": token}, timeout=60,
                          json={"email": cell.email, "password": PASSWORD, "code": cell.code()})
    if answer.status_code != 201:
        raise RuntimeError(f"sign-in to {cell.slug} answered {answer.status_code}")
    token = answer.json()["csrf_token"]
    if not session.get(f"{base}/{cell.slug}/api/undertaking", timeout=60).json().get("accepted"):
        accepted = session.post(f"{base}/{cell.slug}/api/undertaking", headers={"X-CSRFToken": token},
                                json={"accept": True}, timeout=60)
        if accepted.status_code >= 300:
            raise RuntimeError(f"the undertaking of {cell.slug} answered {accepted.status_code}")


def hammer(url: str, cookies, figures: Figures, total: int, clients: int, timeout: float) -> Figures:
    """``total`` GETs of ``url`` from ``clients`` threads, each with its own connection."""
    lock = threading.Lock()
    remaining = [total]
    local = threading.local()

    def one() -> None:
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
                session.cookies.update(cookies)
            started = time.perf_counter()
            try:
                answer = session.get(url, timeout=timeout, allow_redirects=False)
                status, size = answer.status_code, len(answer.content)
            except requests.RequestException:
                status, size = 0, 0  # 0: no answer within the time-out
            elapsed = time.perf_counter() - started
            with lock:
                figures.latencies.append(elapsed)
                figures.bytes = max(figures.bytes, size)
                if status != 200:
                    figures.errors[status] = figures.errors.get(status, 0) + 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for worker in [pool.submit(one) for _ in range(clients)]:
            worker.result()
    figures.seconds = time.perf_counter() - started
    figures.requests = total
    return figures


def count_statements(app, cell: Cell, pages: list[str]) -> dict[str, int]:
    """The SQL statements each page sends, counted in-process (one request per page)."""
    from livc.platform.db import db

    counted = {"n": 0}

    def count(*_args) -> None:
        counted["n"] += 1

    client = app.test_client()
    token = client.get(f"/{cell.slug}/api/session").get_json()["csrf_token"]
    answer = client.post(f"/{cell.slug}/api/session", headers={"X-CSRFToken": token},
                         json={"email": cell.email, "password": PASSWORD, "code": cell.code()})
    if answer.status_code != 201:
        raise RuntimeError(f"in-process sign-in to {cell.slug} answered {answer.status_code}")
    token = answer.get_json()["csrf_token"]
    if not client.get(f"/{cell.slug}/api/undertaking").get_json().get("accepted"):
        client.post(f"/{cell.slug}/api/undertaking", headers={"X-CSRFToken": token}, json={"accept": True})
    result = {}
    with app.app_context():
        engine = db.engine
    for page in pages:
        client.get(f"/{cell.slug}{page}")  # warm: caches, compiled statements
        counted["n"] = 0
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            status = client.get(f"/{cell.slug}{page}").status_code
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        result[page] = counted["n"] if status == 200 else -status
    return result


# --- report ------------------------------------------------------------------------------------------------


def report(rows: list[Figures], sizes: list[int], pages: list[str]) -> bool:
    print()
    header = f"{'page':<22}{'cases':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'KB':>8}{'SQL':>7}  non-200"
    print(header)
    print("-" * len(header))
    for row in rows:
        errors = ", ".join(f"{status or 'time-out'}: {n}" for status, n in sorted(row.errors.items())) or "-"
        statements = "-" if row.statements is None else str(row.statements)
        print(f"{row.label:<22}{'' if row.size is None else row.size:>8}{row.rate:>9.1f}"
              f"{row.quantile(0.5) * 1000:>9.0f}{row.quantile(0.95) * 1000:>9.0f}{row.bytes / 1024:>8.0f}"
              f"{statements:>7}  {errors}")
    print()
    by = {(row.label, row.size): row for row in rows}
    small, large = min(sizes), max(sizes)
    met = True

    def verdict(ok: bool, text: str) -> None:
        nonlocal met
        met = met and ok
        print(f"  {'met    ' if ok else 'NOT met'}  {text}")

    print("targets")
    for page in pages:
        counts = [by[(page, size)].statements for size in sizes]
        ok = all(c is not None and c >= 0 for c in counts) and max(counts) - min(counts) <= STATEMENT_SLACK
        verdict(ok, f"{page}: SQL statements per page independent of the cases ({' / '.join(map(str, counts))})")
    for page in pages:
        a, b = by[(page, small)], by[(page, large)]
        ratio = b.quantile(0.5) / a.quantile(0.5)
        ok = ratio <= TIME_RATIO and not a.errors and not b.errors
        verdict(ok, f"{page}: p50 at {large} cases {ratio:.2f}x of {small} cases (<= {TIME_RATIO}x, all 200)")
    bare = by[(BARE, None)]
    case_list = by[(CASE_LIST, large)]
    share = case_list.rate / bare.rate if bare.rate else 0.0
    verdict(share >= THROUGHPUT_SHARE and not case_list.errors,
            f"{CASE_LIST} at {large} cases: {case_list.rate:.1f} req/s = {share:.2f} of the bare page's "
            f"{bare.rate:.1f} (>= {THROUGHPUT_SHARE})")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=DEFAULT_DSN, help="PostgreSQL superuser URL")
    parser.add_argument("--sizes", default="10,1000,10000,50000", help="cases per cell, comma-separated")
    parser.add_argument("--requests", type=int, default=40, help="requests per page and size")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (livc serve's default)")
    parser.add_argument("--pages", default=",".join(DEFAULT_PAGES), help="paths under /<cell>, comma-separated")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a client waits for one answer")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the servers' logs")
    parser.add_argument("--owner-url", help="an existing migrated database (owner role) instead of a new one")
    parser.add_argument("--app-url", help="with --owner-url: the app's ordinary role on it")
    args = parser.parse_args(argv)
    sizes = sorted({int(size.replace("_", "")) for size in args.sizes.split(",")})
    pages = [page.strip() for page in args.pages.split(",") if page.strip()]
    if CASE_LIST not in pages:
        pages.insert(0, CASE_LIST)

    from livc.app.factory import create_app

    workdir = Path(tempfile.mkdtemp(prefix="livc-web-load-"))
    try:
        reuse = (args.owner_url, args.app_url) if args.owner_url and args.app_url else None
        with fresh_database(args.dsn, keep=args.keep, reuse=reuse) as urls:
            env = {**{k: v for k, v in os.environ.items() if not k.startswith("LIVC_")},
                   **app_environment(urls, workdir / "data")}
            os.environ.update(env)
            app = create_app()
            cells = seed(app, sizes, uuid.uuid4().hex[:6] if reuse else None)
            seed_bare(urls["bare"])
            statements = {cell.size: count_statements(app, cell, pages) for cell in cells}
            with app.app_context():
                from livc.platform.db import db

                db.session.remove()
                db.engine.dispose()
            rows = run_servers(args, env, urls, cells, pages, statements, workdir)
            met = report(rows, sizes, pages)
    finally:
        if args.keep:
            print(f"kept the servers' logs in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'all targets met' if met else 'targets NOT met'}")
    return 1 if args.check and not met else 0


def run_servers(args, env, urls, cells, pages, statements, workdir: Path) -> list[Figures]:
    livc = Path(sys.executable).with_name("livc")
    port, bare_port = free_port(), free_port()
    base, bare_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    bare_env = {**env, "LIVC_BENCH_BARE_URL": urls["bare"]}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    rows = []
    served = start([str(livc), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
                   env, workdir / "serve.log")
    bare = start([str(gunicorn), "--workers", str(args.workers), "--bind", f"127.0.0.1:{bare_port}",
                  "--access-logfile", "-", "--chdir", str(HERE), "web_load:bare_app()"], bare_env, workdir / "bare.log")
    try:
        wait_ready(served, f"{base}/{cells[0].slug}/api/session", workdir / "serve.log")
        wait_ready(bare, f"{bare_base}/", workdir / "bare.log")
        for cell in cells:
            session = requests.Session()
            api_sign_in(session, base, cell)
            for page in pages:
                url = f"{base}/{cell.slug}{page}"
                hammer(url, session.cookies, Figures("warm-up", None), min(4, args.requests), 1, args.timeout)
                figures = hammer(url, session.cookies, Figures(page, cell.size), args.requests, args.clients, args.timeout)
                figures.statements = statements[cell.size][page]
                rows.append(figures)
                print(f"  {cell.slug}{page}: {figures.rate:.1f} req/s", flush=True)
        hammer(f"{bare_base}/", {}, Figures("warm-up", None), min(4, args.requests), 1, args.timeout)
        rows.append(hammer(f"{bare_base}/", {}, Figures(BARE, None), args.requests, args.clients, args.timeout))
    finally:
        stop(served)
        stop(bare)
    return rows


if __name__ == "__main__":
    sys.exit(main())
