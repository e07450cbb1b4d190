"""Fault rehearsal: the production shape on this machine, a scripted day of two linked cells'
work over HTTP, and its parts killed and restarted on the way. Then it counts what was expected
against what was delivered.

    bash scripts/rehearsal.sh              # or: .venv/bin/python benchmarks/rehearsal.py
    bash scripts/rehearsal.sh --check      # exit 1 unless 0 lost, 0 duplicated, no 5xx but 503

The shape: a PostgreSQL cluster of its own (``initdb`` + ``pg_ctl`` on a free port in a
temporary directory; as root through ``runuser -u postgres``), a Redis server of its own on a free
port (append-only file on, as production must have it), the key custodian (``livc custodian
serve``, its own key and client), ``livc serve`` (gunicorn, 2 workers), ``livc worker`` (all
queues), ``livc cron`` and ``livc relay`` (the job outbox handed to Redis). The app runs as an
ordinary role under row-level security. The services run with ``LIVC_ENV=development`` (set
explicitly): the same request path as production, errors answered by the app's handlers rather
than propagated as under ``test``, with no SMTP and plain-HTTP cookies: each delivered mail is
an ``.eml`` file under the data directory, which is what is counted. (The cells are prepared
in-process beforehand with the test helpers, under ``LIVC_ENV=test``.)

The day, in six rounds (calm; the worker killed; Redis killed; the custodian killed; PostgreSQL
stopped in immediate mode; calm again, after each was restarted): in each round and each cell,
the coordinator invites a member (a mail), a partner asks for a password reset (a mail), the
partner records two signals (one about a person the other cell also records in that round),
the coordinator proposes to open a case for each and the partner confirms: the case opens,
its enrolment in the federation follows by a job, and the shared person makes a match alert
between the two cells (the coordinator of the cell whose case was enrolled first is mailed). The component stays down while the round
runs and is restarted after it.

Counted at the end (after waiting, bounded, for the jobs to settle): invitation, reset and
alert mails; enrolments; match alerts; audit entries of the cases opened and the resets asked
for: expected (from the answers the day got) against delivered, lost and duplicated; and the
answers 5xx other than 503 (a 503 is the honest answer while a part is down).
"""

from __future__ import annotations

import argparse
import email
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import requests
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import web_load  # noqa: E402  (this folder)

BIN = Path(sys.executable).parent
ROUNDS = ("calm", "worker killed", "Redis killed", "custodian killed", "PostgreSQL stopped", "calm again")
TIMEOUT = 60


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise SystemExit("initdb not found (install PostgreSQL's server package)")
    return Path(initdb).parent


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Postgres:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port, self.bin = folder, port, _pg_bin()

    def _run(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *args]),
                       check=True, stdout=subprocess.DEVNULL, timeout=120)

    def init(self) -> None:
        self.folder.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(_as_postgres([str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-A", "trust",
                                     "-U", "postgres", "--no-sync"]), check=True, stdout=subprocess.DEVNULL, timeout=120)

    def start(self) -> None:
        self._run("-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "-l", str(self.folder / "log"), "-w", "start")

    def kill(self) -> None:
        self._run("-m", "immediate", "stop")

    restart = start


class Process:
    """A server we started (its own process group), killed with SIGKILL and started again."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, command, env, log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    restart = start

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, sig)  # the whole group: gunicorn's and RQ's children too
            self.process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


def wait_for(what: str, probe, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except Exception:  # anything a probe of a starting server raises
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


# --- the cells --------------------------------------------------------------------------------------


def prepare_cells(app) -> dict[str, object]:
    """Two cells ready for casework (tests/case_helpers.ready_cell), linked for the federation."""
    from case_helpers import ready_cell
    from livc.admin.onboarding.cells import create_tenant
    from livc.federation.linking import agree_link, request_link
    from livc.platform.db import db, tenant_context
    from livc.tenants.members.models import Membership

    cells = {}
    with app.app_context():
        for slug, nis, name in (("rehearsal-a", "24062", "Leuven"), ("rehearsal-b", "24038", "Herent")):
            tenant = create_tenant({"slug": slug, "name": f"Rehearsal {slug}", "kind": "municipality",
                                    "languages": ["nl", "en"], "municipalities": [{"nis_code": nis, "name": name}]},
                                   actor="system:rehearsal")
            db.session.commit()
            cells[slug] = tenant.id
        db.session.remove()
    ready = {slug: ready_cell(app, tenant_id, slug) for slug, tenant_id in cells.items()}
    a, b = ready["rehearsal-a"], ready["rehearsal-b"]
    with app.test_request_context():
        with tenant_context(a.tenant_id):
            request_link(a.tenant_id, b.tenant_id, db.session.get(Membership, a.coordinator.membership_id))
        with tenant_context(b.tenant_id):
            agree_link(b.tenant_id, a.tenant_id, db.session.get(Membership, b.coordinator.membership_id))
        db.session.commit()
        db.session.remove()
    return ready


class Client:
    """A member's JSON client over HTTP; every answer's status is kept."""

    def __init__(self, base: str, slug: str, statuses: Counter, member=None) -> None:
        self.base, self.slug, self.statuses = base, slug, statuses
        self.http = requests.Session()
        self.token = ""
        self.member = member

    def call(self, method: str, path: str, body: dict | None = None) -> requests.Response | None:
        try:
            if not self.token:
                first = self.http.get(f"{self.base}/{self.slug}/api/session", timeout=TIMEOUT)
                if first.status_code != 200:  # e.g. 503 while PostgreSQL is down: counted as such
                    self.statuses[first.status_code] += 1
                    return None
                self.token = first.json()["csrf_token"]
            answer = self.http.request(method, f"{self.base}/{self.slug}/api{path}", json=body, timeout=TIMEOUT,
                                       headers={"X-CSRFToken": self.token, "Accept-Language": "en"})
        except (requests.RequestException, ValueError, KeyError):
            self.statuses["no answer"] += 1
            self.token = ""
            return None
        self.statuses[answer.status_code] += 1
        if answer.status_code == 201 and path == "/session":
            self.token = answer.json()["csrf_token"]
        return answer

    def sign_in(self) -> bool:
        member = self.member
        answer = self.call("POST", "/session", {"email": member.email, "password": member.password,
                                                "code": member.fresh_code()})
        return answer is not None and answer.status_code == 201


def person(round_index: int, shared: bool, slug: str) -> dict:
    """An invented person: the shared one is the same in both cells in a round."""
    tag = f"{round_index}" if shared else f"{round_index}{slug[-1]}"
    return {"given_names": ["Amira", "Bram", "Chloé", "Dries", "Elif", "Femke"][round_index % 6],
            "family_name": f"Testpersoon{'Gedeeld' if shared else 'Eigen'}{tag.upper()}",
            "date_of_birth": (date(2001, 1, 1) + timedelta(days=97 * round_index + (0 if shared else 31 * (slug[-1] == 'b') + 7))).isoformat()}


def work_round(round_index: int, cells, organisations, clients, expected: Counter, invitees: list[str],
               partner_mails: Counter) -> None:
    for slug, cell in cells.items():
        coordinator, partner = clients[slug]
        for client in (coordinator, partner):  # a lost session (never expected) is signed in again
            me = client.call("GET", "/me")
            if me is not None and me.status_code == 401:
                client.sign_in()
        invitee = f"invitee.{round_index}.{slug}@example.test"
        invited = coordinator.call("POST", "/members", {"email": invitee, "role": "partner",
                                                        "organisation_id": organisations[slug]})
        if invited is not None and invited.status_code == 201:
            expected["invitation mails"] += 1
            invitees.append(invitee)
        anonymous = Client(coordinator.base, slug, coordinator.statuses)
        reset = anonymous.call("POST", "/password-reset", {"email": cell.social.email})
        if reset is not None and reset.status_code == 202:
            expected["reset mails"] += 1
            expected["audit: auth.password_reset_requested"] += 1
            partner_mails[cell.social.email] += 1
        for shared in (True, False):
            created = partner.call("POST", "/signals", {
                "observation": "Shared a video glorifying an attack in a class chat.", "internal_assessment": "done",
                "urgency": "soon", **person(round_index, shared, slug)})
            if created is None or created.status_code != 201:
                continue
            signal_id = created.json()["signal"]["id"]
            weighed = coordinator.call("POST", f"/signals/{signal_id}/weighing", {
                "flag": "red", "decision": "open_case", "target_group": "other_extremism", "follow_up_kind": "social",
                "facts": [{"fact": "propaganda", "description": "An attack video shared in a class chat."}],
                "team_ids": [cell.partner.membership_id]})
            if weighed is None or weighed.status_code != 202:
                continue
            confirmed = partner.call("POST", f"/decisions/{weighed.json()['decision']['id']}/confirm")
            if confirmed is not None and confirmed.status_code == 200:
                expected["enrolments"] += 1
                expected["audit: case.opened"] += 1
                expected[f"opened {round_index} {'shared' if shared else 'own'} {slug}"] += 1


# --- counting ------------------------------------------------------------------------------------------


def delivered_mails(folder: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        message = email.message_from_bytes(path.read_bytes())
        found.append((str(message["To"]), str(message["Subject"])))
    return found


def count(admin_url: str, data_dir: Path, cells, invitees: list[str], partner_mails: Counter) -> Counter:
    got = Counter()
    mails = delivered_mails(data_dir / "mail")
    per_recipient = Counter(to for to, _ in mails)
    coordinators = {cell.coordinator.email for cell in cells.values()}
    got["invitation mails"] = sum(min(1, per_recipient[to]) for to in invitees)
    got["invitation mails duplicated"] = sum(max(0, per_recipient[to] - 1) for to in invitees)
    got["reset mails"] = sum(min(n, per_recipient[to]) for to, n in partner_mails.items())
    got["reset mails duplicated"] = sum(max(0, per_recipient[to] - n) for to, n in partner_mails.items())
    got["alert mails"] = sum(per_recipient[to] for to in coordinators)
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        got["enrolments"] = connection.scalar(sa.text("SELECT count(*) FROM federation_enrolments WHERE status = 'enrolled'"))
        got["enrolments (all)"] = connection.scalar(sa.text("SELECT count(*) FROM federation_enrolments"))
        got["enrolments pending"] = connection.scalar(
            sa.text("SELECT count(*) FROM federation_enrolments WHERE status = 'pending'"))
        got["match alerts"] = connection.scalar(sa.text("SELECT count(*) FROM match_alerts"))
        for action in ("case.opened", "auth.password_reset_requested"):
            got[f"audit: {action}"] = connection.scalar(
                sa.text("SELECT count(*) FROM audit_entries WHERE action = :a"), {"a": action})
    engine.dispose()
    return got


def settled(admin_url: str, data_dir: Path, quiet: float = 15) -> bool:
    """No enrolment pending and no new mail for ``quiet`` seconds."""
    engine = sa.create_engine(admin_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            pending = connection.scalar(sa.text("SELECT count(*) FROM federation_enrolments WHERE status = 'pending'"))
    finally:
        engine.dispose()
    folder = data_dir / "mail"
    newest = max((path.stat().st_mtime for path in folder.glob("*.eml")), default=0) if folder.exists() else 0
    return pending == 0 and time.time() - newest > quiet


# --- the run -------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settle", type=float, default=240, help="seconds to wait for jobs to settle at the end")
    parser.add_argument("--check", action="store_true", help="exit 1 unless 0 lost, 0 duplicated, no 5xx but 503")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, mails)")
    args = parser.parse_args(argv)

    top = Path(tempfile.mkdtemp(prefix="livc-rehearsal-"))
    top.chmod(0o755)
    pg = Postgres(top / "pg", web_load.free_port())
    processes: list[Process] = []
    try:
        pg.init()
        pg.start()
        admin_dsn = f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres"
        with web_load.fresh_database(admin_dsn) as urls:
            return rehearse(args, top, pg, urls, processes)
    finally:
        for process in reversed(processes):
            process.stop()
        try:
            pg.kill()
        except subprocess.CalledProcessError as error:
            print(f"pg_ctl stop failed ({error.returncode}); stop the cluster in {top / 'pg'} by hand")
        if args.keep:
            print(f"kept {top}")
        else:
            shutil.rmtree(top, ignore_errors=True)


def rehearse(args, top: Path, pg: Postgres, urls: dict[str, str], processes: list[Process]) -> int:
    data_dir = top / "data"
    redis_port, custodian_port, port = web_load.free_port(), web_load.free_port(), web_load.free_port()
    base = f"http://127.0.0.1:{port}"
    clean = {name: value for name, value in os.environ.items() if not name.startswith("LIVC_")}
    custodian_env = {**clean, "LIVC_CUSTODIAN_DATA_DIR": str(top / "custodian"),
                     "LIVC_CUSTODIAN_ENROLMENTS_PER_WEEK": "1000"}
    secret = "rehearsal-client-secret-" + os.urandom(8).hex()
    subprocess.run([str(BIN / "livc"), "custodian", "init"], env=custodian_env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(BIN / "livc"), "custodian", "clients", "add", "rehearsal", "--secret-stdin"], env=custodian_env,
                   input=secret + "\n", text=True, check=True, stdout=subprocess.DEVNULL)
    env = {**clean, **web_load.app_environment(urls, data_dir),
           "LIVC_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
           "LIVC_CUSTODIAN_URL": f"http://127.0.0.1:{custodian_port}",
           "LIVC_CUSTODIAN_CLIENT_ID": "rehearsal", "LIVC_CUSTODIAN_CLIENT_SECRET": secret,
           "LIVC_FEDERATION_ENROLMENTS_PER_WEEK": "1000", "LIVC_PUBLIC_URL": base}
    (top / "redis").mkdir()
    redis = Process("Redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(top / "redis"),
                              "--appendonly", "yes", "--save", ""], env, top / "redis.log")
    custodian = Process("custodian", [str(BIN / "livc"), "custodian", "serve", "--port", str(custodian_port)],
                        custodian_env, top / "custodian.log")
    for process in (redis, custodian):
        process.start()
        processes.append(process)
    wait_for("the custodian", lambda: requests.get(f"http://127.0.0.1:{custodian_port}/healthz", timeout=5).ok)

    os.environ.update(env)
    from livc.app.factory import create_app
    from livc.platform.db import db, tenant_context
    from livc.tenants.members.models import Membership

    app = create_app()
    cells = prepare_cells(app)
    organisations = {}
    with app.app_context():
        for slug, cell in cells.items():
            with tenant_context(cell.tenant_id):
                organisations[slug] = db.session.get(Membership, cell.partner.membership_id).organisation_id
        db.session.remove()
        db.engine.dispose()

    served = {**env, "LIVC_ENV": "development"}  # not "test": Flask would propagate errors past the handlers
    serve = Process("web", [str(BIN / "livc"), "serve", "--port", str(port), "--workers", "2"], served, top / "serve.log")
    worker = Process("worker", [str(BIN / "livc"), "worker"], served, top / "worker.log")
    cron = Process("cron", [str(BIN / "livc"), "cron"], served, top / "cron.log")
    relay = Process("relay", [str(BIN / "livc"), "relay"], served, top / "relay.log")
    for process in (serve, worker, cron, relay):
        process.start()
        processes.append(process)
    wait_for("livc serve", lambda: requests.get(f"{base}/rehearsal-a/api/session", timeout=5).ok)

    statuses: Counter = Counter()
    clients = {slug: (Client(base, slug, statuses, cell.coordinator), Client(base, slug, statuses, cell.partner))
               for slug, cell in cells.items()}
    for pair in clients.values():
        for client in pair:
            if not client.sign_in():
                raise RuntimeError(f"{client.member.email} could not sign in")
    expected: Counter = Counter()
    invitees: list[str] = []
    partner_mails: Counter = Counter()
    broken = {"worker killed": worker, "Redis killed": redis, "custodian killed": custodian, "PostgreSQL stopped": pg}
    outages: dict[str, Counter] = {}
    for index, name in enumerate(ROUNDS):
        part = broken.get(name)
        if part is not None:
            part.kill()
        before = Counter(statuses)
        started = time.monotonic()
        work_round(index, cells, organisations, clients, expected, invitees, partner_mails)
        outages[name] = statuses - before
        if part is not None:
            part.restart()
        print(f"round {index + 1} ({name}): {time.monotonic() - started:.0f} s, answers "
              + ", ".join(f"{status}: {n}" for status, n in sorted(outages[name].items(), key=str)), flush=True)
        if name == "PostgreSQL stopped":
            wait_for("livc serve after PostgreSQL", lambda: requests.get(f"{base}/rehearsal-a/api/session", timeout=5).ok)

    shared_rounds = {key.split()[1] for key in expected if key.startswith("opened ") and " shared " in key}
    expected["match alerts"] = sum(
        1 for r in shared_rounds
        if expected[f"opened {r} shared rehearsal-a"] and expected[f"opened {r} shared rehearsal-b"])
    # Only the cell whose case was enrolled earlier is told, and mailed (federation/alerts.py).
    expected["alert mails"] = expected["match alerts"]
    # The superuser reads the app's database, beside row-level security.
    superuser = sa.make_url(urls["bare"]).set(database=sa.make_url(urls["app"]).database).render_as_string(hide_password=False)
    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline and not settled(superuser, data_dir):
        time.sleep(2)
    got = count(superuser, data_dir, cells, invitees, partner_mails)
    return report(expected, got, statuses, outages, args.check)


def report(expected: Counter, got: Counter, statuses: Counter, outages: dict[str, Counter], check: bool) -> int:
    print()
    print(f"{'what':<40}{'expected':>10}{'delivered':>11}{'lost':>7}{'duplicated':>12}")
    lost_total = duplicated_total = 0
    for what in ("invitation mails", "reset mails", "alert mails", "enrolments", "match alerts",
                 "audit: case.opened", "audit: auth.password_reset_requested"):
        want, have = expected[what], got[what]
        duplicated = got[f"{what} duplicated"] if f"{what} duplicated" in got else max(0, have - want)
        lost = max(0, want - min(have, want))
        lost_total += lost
        duplicated_total += duplicated
        print(f"{what:<40}{want:>10}{have:>11}{lost:>7}{duplicated:>12}")
    print(f"{'enrolments in any state':<40}{'':>10}{got['enrolments (all)']:>11}")
    print(f"{'enrolments still pending at the end':<40}{'':>10}{got['enrolments pending']:>11}"
          "  (counted as lost above; the federation sweep re-sends them after 5 minutes, every 10)")
    bad = {status: n for status, n in statuses.items() if isinstance(status, int) and status >= 500 and status != 503}
    print()
    print("answers over the day: " + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items(), key=str)))
    print(f"5xx other than 503: {sum(bad.values())}" + (f" ({bad})" if bad else ""))
    ok = lost_total == 0 and duplicated_total == 0 and not bad
    print(f"\nlost {lost_total}, duplicated {duplicated_total}: {'as required' if ok else 'NOT as required'}")
    return 1 if check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
