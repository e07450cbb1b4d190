"""Speed of the federation path: OPRF tokens per second per core, and the time to enrol one case
and match it against one million enrolled tokens. Prints figures; never a timed test.

    .venv/bin/python benchmarks/federation_speed.py [--dsn postgresql://postgres@127.0.0.1:5432/test]
                                                    [--rows 1000000] [--no-sqlite]

1. Tokens per second on one core through the real OPRF path (``oprf.blind``, the custodian's
   ``oprf.blind_evaluate``, ``oprf.finalize``), the custodian in process; also each side alone.
2. One million random tokens in a table shaped like the production index
   (``federation_tokens``: enrolment, tenant, epoch, key_type, a 64-byte token; index on
   (epoch, key_type, token)), in PostgreSQL (a dedicated schema, dropped afterwards) and in
   SQLite (a temporary file). Then, per case: its match keys -> tokens (the OPRF path) -> one
   indexed lookup query for all its tokens (match), and the same tokens inserted (enrol). The
   query plan is printed to show that the index is used.
3. **The live path, the target**: a throw-away PostgreSQL database migrated like production, a
   cell linked to 20 others holding about one million enrolled tokens (the match keys of a
   synthetic Belgian population, benchmarks/synthetic_belgians.py, so that common names share
   tokens as they do in life), and per case: its tokens through the OPRF (the custodian in
   process), then production's own :func:`.enrolment.store_tokens` and
   :func:`.matching.match_enrolment` (the candidates query, the second query for a sole
   candidate, withdrawals, alerts) and the commit. TARGET: enrol and match one case under
   20 ms (median). The index's tokens are keyed HMACs of the match keys (64 bytes, as the OPRF's):
   equal keys give equal tokens as through the OPRF, and a million OPRF evaluations would take
   minutes; the measured cases' own tokens are stored the same way, after their OPRF tokens are
   timed.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from livc.federation import oprf
from livc.federation.linkage import Record, ephemeral_custodian, tokens_for
from livc.federation.match_keys import BATCH_TYPES, WEIGHTS, identity_keys, key_class

KEY_TYPES = sorted(set(WEIGHTS) - BATCH_TYPES)  # the types an enrolled case has tokens of
EPOCH = 1
SCHEMA = "livc_bench_speed"

CASES = [
    ("Mohammed", "El Amrani", "1990-03-07"), ("Jan", "Peeters", "1985-11-02"),
    ("Ayşe", "Yılmaz", "2001-05-19"), ("Ramzan", "Kadyrov", "1976-10-05"),
    ("Jean-Pierre", "Mbuyi", "1969-01-30"), ("Chloé", "Dubois", "1993-07-11"),
    ("Youssef", "Ben Ali", "2004-02-08"), ("Sofie", "Van den Berghe", "1999-12-24"),
]


def tokens_per_second(n: int = 2000) -> None:
    values = [f"name_dob:speed test {i}|1990-01-01".encode() for i in range(n)]
    secret = oprf.random_key()
    started = time.perf_counter()
    blinded = [oprf.blind(v) for v in values]
    t_blind = time.perf_counter() - started
    started = time.perf_counter()
    evaluated = [oprf.blind_evaluate(secret, b.element) for b in blinded]
    t_eval = time.perf_counter() - started
    started = time.perf_counter()
    tokens = [oprf.finalize(v, b, e) for v, b, e in zip(values, blinded, evaluated)]
    t_final = time.perf_counter() - started
    assert tokens[0] == oprf.evaluate(secret, values[0])
    total = t_blind + t_eval + t_final
    print(f"OPRF, one core, {n} tokens: {n / total:,.0f} tokens/s end to end "
          f"({total / n * 1e3:.3f} ms a token: blind {t_blind / n * 1e3:.3f}, "
          f"custodian evaluate {t_eval / n * 1e3:.3f}, finalize {t_final / n * 1e3:.3f})")
    print(f"  platform side alone (blind + finalize): {n / (t_blind + t_final):,.0f} tokens/s; "
          f"custodian alone (evaluate): {n / t_eval:,.0f} tokens/s")
    keys = [identity_keys(Record.from_fields("x", *case).identity) for case in CASES]
    per_case = statistics.mean(len(k) for k in keys)
    print(f"  a case has {per_case:.1f} match keys on average (names + full date): "
          f"about {n / total / per_case:,.0f} cases/s a core")


def case_tokens(case: tuple[str, str, str], evaluate_blinded) -> list[tuple[str, bytes]]:
    record = Record.from_fields("case", *case)
    (tokens,) = tokens_for([record], evaluate_blinded)
    return [(key_class(key_type), token) for key_type, token in tokens.items()]


def random_rows(rows: int, seed: int = 1):
    rng = random.Random(seed)
    per_enrolment = 13
    for i in range(rows):
        yield (i // per_enrolment, 1 + (i // per_enrolment) % 20, EPOCH, rng.choice(KEY_TYPES),
               os.urandom(64))


def report(label: str, seconds: list[float]) -> None:
    print(f"  {label}: median {statistics.median(seconds) * 1e3:.2f} ms, "
          f"min {min(seconds) * 1e3:.2f} ms, max {max(seconds) * 1e3:.2f} ms over {len(seconds)} cases")


def bench_postgres(dsn: str, rows: int, rounds: int) -> None:
    try:
        import psycopg
    except ImportError:
        print("PostgreSQL: psycopg not installed, skipped")
        return
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except Exception as error:  # noqa: BLE001 - tell and go on
        print(f"PostgreSQL: cannot connect ({error.__class__.__name__}), skipped")
        return
    table = f"{SCHEMA}.federation_tokens"
    try:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"""CREATE TABLE {table} (
            id bigserial PRIMARY KEY, enrolment_id bigint NOT NULL, tenant_id integer NOT NULL,
            epoch integer NOT NULL, key_type varchar(20) NOT NULL, token bytea NOT NULL)""")
        started = time.perf_counter()
        copy_sql = f"COPY {table} (enrolment_id, tenant_id, epoch, key_type, token) FROM STDIN"
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in random_rows(rows):
                copy.write_row(row)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(f"CREATE INDEX ix_bench_lookup ON {table} (epoch, key_type, token)")
        conn.execute(f"ANALYZE {table}")
        indexed = time.perf_counter() - started
        size = conn.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))").fetchone()[0]
        version = conn.execute("SHOW server_version").fetchone()[0]
        print(f"PostgreSQL {version}: {rows:,} tokens loaded in {loaded:.1f} s, indexed in "
              f"{indexed:.1f} s, table + indexes {size}")

        evaluate_blinded = ephemeral_custodian()
        # one enrolled person who is the case (the lookup finds them), the rest random
        planted = case_tokens(CASES[0], evaluate_blinded)
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO {table} (enrolment_id, tenant_id, epoch, key_type, token) "
                            f"VALUES (%s, %s, %s, %s, %s)",
                            [(10**9, 99, EPOCH, kt, tok) for kt, tok in planted])
        lookup = (f"SELECT enrolment_id, key_type FROM {table} WHERE epoch = %s AND "
                  f"(key_type, token) IN (SELECT * FROM unnest(%s::varchar[], %s::bytea[]))")

        def match(case):
            tokens = case_tokens(case, evaluate_blinded)
            found = conn.execute(lookup, (EPOCH, [k for k, _ in tokens], [t for _, t in tokens])).fetchall()
            return tokens, found

        tokens, found = match(CASES[0])
        assert len(found) == len(planted), (len(found), len(planted))
        plan = conn.execute("EXPLAIN " + lookup,
                            (EPOCH, [k for k, _ in tokens], [t for _, t in tokens])).fetchall()
        print("  EXPLAIN of the lookup:")
        for (line,) in plan:
            print("    " + line)
        match_times, token_times, query_times, enrol_times = [], [], [], []
        for r in range(rounds):
            case = CASES[r % len(CASES)]
            started = time.perf_counter()
            tokens = case_tokens(case, evaluate_blinded)
            middle = time.perf_counter()
            conn.execute(lookup, (EPOCH, [k for k, _ in tokens], [t for _, t in tokens])).fetchall()
            done = time.perf_counter()
            token_times.append(middle - started)
            query_times.append(done - middle)
            match_times.append(done - started)
            started = time.perf_counter()
            tokens = case_tokens(case, evaluate_blinded)
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {table} (enrolment_id, tenant_id, epoch, key_type, token) "
                    f"VALUES (%s, %s, %s, %s, %s)",
                    [(2 * 10**9 + r, 98, EPOCH, kt, tok) for kt, tok in tokens])
            enrol_times.append(time.perf_counter() - started)
        print(f"  one case against {rows:,} enrolled tokens ({len(tokens)} tokens a case):")
        report("match = tokens + lookup", match_times)
        report("  of which tokens (keys, blind, evaluate, finalize)", token_times)
        report("  of which the indexed lookup query", query_times)
        report("enrol = tokens + insert + commit", enrol_times)
    finally:
        conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.close()


def bench_sqlite(rows: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="livc-speed-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "tokens.db")
        conn.execute("""CREATE TABLE federation_tokens (id INTEGER PRIMARY KEY,
            enrolment_id INTEGER NOT NULL, tenant_id INTEGER NOT NULL, epoch INTEGER NOT NULL,
            key_type VARCHAR(20) NOT NULL, token BLOB NOT NULL)""")
        started = time.perf_counter()
        conn.executemany("INSERT INTO federation_tokens (enrolment_id, tenant_id, epoch, key_type, token) "
                         "VALUES (?, ?, ?, ?, ?)", random_rows(rows))
        conn.commit()
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute("CREATE INDEX ix_lookup ON federation_tokens (epoch, key_type, token)")
        conn.execute("ANALYZE")
        indexed = time.perf_counter() - started
        print(f"SQLite {sqlite3.sqlite_version}: {rows:,} tokens loaded in {loaded:.1f} s, "
              f"indexed in {indexed:.1f} s, file {os.path.getsize(Path(tmp) / 'tokens.db') / 2**20:.0f} MiB")
        evaluate_blinded = ephemeral_custodian()
        planted = case_tokens(CASES[0], evaluate_blinded)
        conn.executemany("INSERT INTO federation_tokens (enrolment_id, tenant_id, epoch, key_type, token) "
                         "VALUES (?, ?, ?, ?, ?)", [(10**9, 99, EPOCH, kt, tok) for kt, tok in planted])
        conn.commit()

        def lookup(tokens):
            where = " OR ".join(["(key_type = ? AND token = ?)"] * len(tokens))
            sql = f"SELECT enrolment_id, key_type FROM federation_tokens WHERE epoch = ? AND ({where})"
            return sql, [EPOCH] + [x for pair in tokens for x in pair]

        tokens = case_tokens(CASES[0], evaluate_blinded)
        sql, params = lookup(tokens)
        assert len(conn.execute(sql, params).fetchall()) == len(planted)
        print("  EXPLAIN QUERY PLAN of the lookup (distinct lines, with their count):")
        plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
        for line in dict.fromkeys(plan):
            if not line.startswith("INDEX "):
                print(f"    {line}  (x{plan.count(line)})")
        match_times, query_times, enrol_times = [], [], []
        for r in range(rounds):
            case = CASES[r % len(CASES)]
            started = time.perf_counter()
            tokens = case_tokens(case, evaluate_blinded)
            middle = time.perf_counter()
            sql, params = lookup(tokens)
            conn.execute(sql, params).fetchall()
            done = time.perf_counter()
            query_times.append(done - middle)
            match_times.append(done - started)
            started = time.perf_counter()
            tokens = case_tokens(case, evaluate_blinded)
            conn.executemany("INSERT INTO federation_tokens (enrolment_id, tenant_id, epoch, key_type, token) "
                             "VALUES (?, ?, ?, ?, ?)", [(2 * 10**9 + r, 98, EPOCH, kt, tok) for kt, tok in tokens])
            conn.commit()
            enrol_times.append(time.perf_counter() - started)
        print(f"  one case against {rows:,} enrolled tokens:")
        report("match = tokens + lookup", match_times)
        report("  of which the indexed lookup query", query_times)
        report("enrol = tokens + insert + commit", enrol_times)
        conn.close()


TARGET_MS = 20.0
LINKED_CELLS = 20


def bench_live(dsn: str, rows: int, rounds: int) -> bool | None:
    """Production's enrolment and matching of one case against ``rows`` enrolled tokens in a
    throw-away PostgreSQL database (created and dropped here); PASS/FAIL against
    :data:`TARGET_MS`."""
    import uuid

    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from livc.app.factory import create_app
    from livc.platform import migrating
    from livc.platform.db import db
    from livc.platform.settings import load_settings

    admin_url = make_url(dsn).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as error:
        print(f"live path: PostgreSQL not reachable ({error.__class__.__name__}), skipped")
        return None
    name = f"livc_bench_live_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory(prefix="livc-speed-live-") as tmp:
            settings = {"env": "test", "data_dir": tmp, "database_url": url, "migrate_database_url": url,
                        "secret_key": "speed-" + "x" * 40, "redis_url": "", "smtp_url": "",
                        "custodian_url": "", "public_url": ""}
            migrating.upgrade(load_settings(settings))
            app = create_app(settings)
            with app.app_context():
                try:
                    return _live(rows, rounds)
                finally:
                    db.session.remove()
                    db.engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def _live(rows: int, rounds: int) -> bool:
    import hashlib
    import hmac

    import sqlalchemy as sa

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import synthetic_belgians

    from livc.federation import matching
    from livc.federation.enrolment import store_tokens
    from livc.federation.match_keys import KEY_SCHEME, Identity
    from livc.federation.models import FederationEnrolment, FederationLink
    from livc.platform.db import db
    from livc.platform.tenancy import Tenant, TenantKind
    from livc.platform.timeutil import utcnow

    secret = os.urandom(32)

    def token(key: bytes) -> bytes:
        return hmac.new(secret, key, hashlib.sha512).digest()

    started = time.perf_counter()
    cells = [Tenant(slug=f"cell{i}", name=f"CELL {i}", kind=TenantKind.MUNICIPALITY)
             for i in range(LINKED_CELLS + 1)]
    db.session.add_all(cells)
    db.session.flush()
    now = utcnow()
    home, others = cells[0], cells[1:]
    db.session.add_all([FederationLink(cell_a_id=home.id, cell_b_id=other.id, requested_by_id=home.id,
                                       requested_at=now, a_agreed_at=now, b_agreed_at=now) for other in others])
    db.session.commit()
    # the index: people of a synthetic population enrolled in the 20 linked cells up to `rows`
    # tokens; the measured cases are the other register of the same population (some of them
    # the same people written otherwise, look-alikes, strangers)
    people, measured, _, _ = synthetic_belgians.generate(size=max(rows // 20, rounds * 2), seed=11)
    enrolments, token_rows = [], []
    for number, row in enumerate(people, start=1):
        if len(token_rows) >= rows:
            break
        identity = Identity.parse(row["given_names"], row["family_name"], row["date_of_birth"],
                                  row["national_number"] or None)
        tenant = others[number % LINKED_CELLS].id
        enrolments.append({"id": number, "tenant_id": tenant, "ref": f"bench-{number}", "epoch": EPOCH,
                           "key_scheme": KEY_SCHEME, "identity_version": "bench", "known": ",".join(sorted(identity.known)),
                           "status": "enrolled", "requested_at": now, "updated_at": now, "enrolled_at": now})
        keys = dict.fromkeys((key_class(key_type), key) for key_type, key in identity_keys(identity).items())
        token_rows += [(number, tenant, EPOCH, key_type, token(key)) for key_type, key in keys]  # as store_tokens
    db.session.execute(sa.insert(FederationEnrolment.__table__), enrolments)
    db.session.commit()
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(
            "COPY federation_tokens (enrolment_id, tenant_id, epoch, key_type, token) FROM STDIN"
        ) as copy:
            for token_row in token_rows:
                copy.write_row(token_row)
        raw.commit()
    finally:
        raw.close()
    db.session.execute(sa.text("SELECT setval(pg_get_serial_sequence('federation_enrolments', 'id'), "
                               "(SELECT max(id) FROM federation_enrolments))"))
    db.session.commit()
    db.session.execute(sa.text("ANALYZE"))
    db.session.commit()
    size = db.session.scalar(sa.text("SELECT pg_size_pretty(pg_total_relation_size('federation_tokens'))"))
    print(f"live path on PostgreSQL: {len(token_rows):,} tokens of {len(enrolments):,} enrolled cases in "
          f"{LINKED_CELLS} cells linked to the home cell, loaded in {time.perf_counter() - started:.1f} s; "
          f"federation_tokens and its indexes {size}")

    evaluate_blinded = ephemeral_custodian()
    second = {"queries": 0}
    sole_candidate_of = matching._sole_candidate_of

    def counted(*args, **kwargs):
        second["queries"] += 1
        return sole_candidate_of(*args, **kwargs)

    matching._sole_candidate_of = counted
    cases = [Record.from_fields(row["id"], row["given_names"], row["family_name"], row["date_of_birth"],
                                row["national_number"]) for row in measured[:rounds]]
    oprf_times, db_times, totals, alerts = [], [], [], 0
    store_times, match_times, commit_times = [], [], []
    try:
        for position, case in enumerate(cases):
            started = time.perf_counter()
            tokens_for([case], evaluate_blinded)  # what the OPRF costs a case (custodian in process)
            middle = time.perf_counter()
            keys = identity_keys(case.identity)
            enrolment = FederationEnrolment(tenant_id=home.id, ref=f"case-{position}")
            db.session.add(enrolment)
            db.session.flush()
            store_tokens(enrolment, case.identity, {kt: token(k) for kt, k in keys.items()}, EPOCH, "bench")
            stored = time.perf_counter()
            alerts += matching.match_enrolment(enrolment.id)
            matched = time.perf_counter()
            db.session.commit()
            done = time.perf_counter()
            oprf_times.append(middle - started)
            store_times.append(stored - middle)
            match_times.append(matched - stored)
            commit_times.append(done - matched)
            db_times.append(done - middle)
            totals.append(done - started)
    finally:
        matching._sole_candidate_of = sole_candidate_of
    print(f"  {len(cases)} cases enrolled in the home cell and matched: {alerts} alerts, "
          f"{second['queries']} second queries (a sole candidate's own candidates)")
    report("tokens through the OPRF (keys, blind, evaluate, finalize)", oprf_times)
    report("store_tokens + match_enrolment + commit", db_times)
    report("  of which store_tokens (the enrolment row and its tokens)", store_times)
    report("  of which match_enrolment (queries, alerts, their audit and mails)", match_times)
    report("  of which the commit", commit_times)
    report("enrol and match, in all", totals)
    me = db.session.scalar(sa.select(FederationEnrolment.id).where(FederationEnrolment.ref == "case-0"))
    query = matching.candidates_query(me, [cell.id for cell in others])
    compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    print("  EXPLAIN ANALYZE of the candidates query (the first case):")
    for (line,) in db.session.execute(sa.text(f"EXPLAIN ANALYZE {compiled}")):
        print("    " + line)
    trips = []
    for _ in range(50):
        started = time.perf_counter()
        db.session.execute(sa.text("SELECT 1")).scalar()
        trips.append(time.perf_counter() - started)
    report("for scale, one round trip to the database (SELECT 1) on this machine now", trips)
    median = statistics.median(totals) * 1e3
    ok = median < TARGET_MS
    print(f"TARGET enrol and match one case against {len(token_rows):,} tokens on PostgreSQL under "
          f"{TARGET_MS:g} ms (median): {'PASS' if ok else 'FAIL'} ({median:.1f} ms; the database's part "
          f"{statistics.median(db_times) * 1e3:.1f} ms)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", default=os.environ.get(
        "LIVC_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=2000, help="tokens for the tokens/s figure")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--only-live", action="store_true", help="only the live path (the target)")
    args = parser.parse_args()
    print(f"livc federation speed benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"python {sys.version.split()[0]}")
    if not args.only_live:
        tokens_per_second(args.tokens)
        if not args.no_postgres:
            bench_postgres(args.dsn, args.rows, args.rounds)
        if not args.no_sqlite:
            bench_sqlite(args.rows, args.rounds)
    if not args.no_postgres:
        bench_live(args.dsn, args.rows, args.rounds)


if __name__ == "__main__":
    main()
