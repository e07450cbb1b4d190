"""The ``livc`` command: demo, serve, migrate, worker, cron, retention, audit and job tools."""

from __future__ import annotations

import os
import sys
import time

import click
import pyotp
import sqlalchemy as sa
from gunicorn.app.base import BaseApplication
from gunicorn.http import wsgi as gunicorn_wsgi
from rq.job import JobStatus
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler

from livc.admin.cli import operator_group, police_zone_group, tenant_group
from livc.app.demo import (
    DEMO_PASSWORD,
    DEMO_REFUSED,
    demo_account,
    demo_logins,
    demo_operator,
    seed_demo,
)
from livc.app.factory import create_app
from livc.app.periodic import PERIODIC
from livc.federation.cli import federation_group
from livc.federation.custodian.cli import cli as custodian_cli
from livc.platform import metrics, migrating
from livc.platform.audit import verify_chain
from livc.platform.commands import remember_factory, with_app
from livc.platform.db import db, tenant_context
from livc.platform.failed_jobs import failed_jobs, retry_failed
from livc.platform.jobs import QUEUES, enqueue, ping, queue, run_relay, run_worker
from livc.platform.logs import never_log_tracebacks
from livc.platform.schedule import build_scheduler
from livc.platform.settings import ConfigurationError, load_settings
from livc.platform.tenancy import Tenant, TenantStatus
from livc.tenants.cases import tallies as case_tallies
from livc.tenants.retention.operations import apply_retention


def main() -> None:
    # Whatever the command creates (the embedded database, the outbox's mails, keys) is the
    # process user's alone, even under a permissive login umask such as 022.
    os.umask(0o077)
    never_log_tracebacks()
    try:
        cli(standalone_mode=True)
    except ConfigurationError as error:
        click.echo(f"livc: configuration error: {error}", err=True)
        sys.exit(2)


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """livc: the platform for local integrated security cells (LIVC-R)."""
    remember_factory(ctx, create_app)


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default LIVC_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default LIVC_PORT, 5000).")
@click.option("--no-serve", is_flag=True, help="Prepare the database and demo cells, then stop.")
def demo(host: str | None, port: int | None, no_serve: bool) -> None:
    """Create or reuse the embedded database, migrate it, seed two demo cells and serve them."""

    # Demo accounts share a published password: seeded only where development is said
    # explicitly (make demo does), never into a database whose deployment forgot LIVC_ENV.
    settings = load_settings()
    if not settings.explicit_development:
        raise click.ClickException(DEMO_REFUSED)
    migrating.upgrade(settings)
    app = create_app()
    host, port = host or settings.host, port or settings.port
    with app.app_context():
        tenants = seed_demo()
        click.echo("livc demo: two neighbouring demo cells (all content is fake):")
        for tenant in tenants:
            click.echo(f"  {tenant.name}: http://{host}:{port}/{tenant.slug}/sign-in")
        click.echo("  each with signals and cases at every stage, about invented people")
        click.echo(f"  database: {settings.sqlalchemy_url if settings.database_url is None else 'LIVC_DATABASE_URL'}")
        click.echo("  jobs: inline (no Redis configured)" if settings.jobs_inline else "  jobs: Redis")
        click.echo(f"  mail: written to {settings.data_dir / 'mail'}" if settings.smtp_url is None else "  mail: SMTP")
        _print_demo_logins()
    if not no_serve:
        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True,
                request_handler=_QuietRequestHandler)


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler without its ``Server: Werkzeug/<version> Python/<version>``
    banner: it tells an attacker which server and versions to look up."""

    def send_response(self, code, message=None):
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())


def _without_gunicorn_banner() -> None:
    """gunicorn writes ``Server: gunicorn`` into every answer and has no setting against it:
    its response's default headers are taken without that line."""
    if getattr(gunicorn_wsgi.Response.default_headers, "livc_quiet", False):
        return
    original = gunicorn_wsgi.Response.default_headers

    def default_headers(self):
        return [line for line in original(self) if not line.lower().startswith("server:")]

    default_headers.livc_quiet = True
    gunicorn_wsgi.Response.default_headers = default_headers


def _print_demo_logins() -> None:
    click.echo("")
    click.echo(f"Demo logins (DEMO ONLY; password for all: {DEMO_PASSWORD}).")
    click.echo("Add the authenticator key to an app (FreeOTP, Google or Microsoft Authenticator),")
    click.echo("or print the current code with: livc demo-code EMAIL")
    for login in demo_logins():
        click.echo(f"  {login.tenant_slug:12} {login.role.value:20} {login.email:45} key {login.totp_secret}")
    operator = demo_operator()
    if operator is not None:
        click.echo(f"  {'console':12} {'operator (/admin/)':20} {operator.email:45} key {operator.totp_secret}")


@cli.command("demo-code")
@click.argument("email")
def demo_code(email: str) -> None:
    """Print the current authenticator code of a demo login (demo accounts only)."""


    settings = load_settings()
    if settings.production:
        raise click.ClickException("the demo never runs in production (LIVC_ENV=production)")
    app = create_app()
    with app.app_context():
        account = demo_account(email)
        if account is None or not account.has_totp:
            raise click.ClickException("not a demo login (see the list livc demo prints)")
        click.echo(pyotp.TOTP(account.totp_secret).now())




@cli.command()
@click.option("--host", default=None, help="Address to listen on (default LIVC_HOST).")
@click.option("--port", default=None, type=int, help="Port (default LIVC_PORT).")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the web app with gunicorn (production). Run ``livc migrate`` first."""


    settings = load_settings()
    app = create_app()
    measured = metrics.prepare_for_processes() if settings.metrics_port else None

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host or settings.host}:{port or settings.port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            # The same proxies the app believes for the client address (see client_address).
            self.cfg.set("forwarded_allow_ips", settings.forwarded_allow_ips)
            # gunicorn 25+ opens a control socket, by default in $XDG_RUNTIME_DIR or ~/.gunicorn,
            # one path shared by every instance of the user: none (the orchestrator supervises).
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)
            if measured:  # the exporter in the master, adding up the workers' values
                self.cfg.set("when_ready", lambda _server: _export_metrics(settings))
                self.cfg.set("child_exit", lambda _server, worker: metrics.process_ended(worker.pid))
                self.cfg.set("on_exit", lambda _server: metrics.remove_private_directory(measured))

        def load(self):
            return app

    _without_gunicorn_banner()
    Server().run()


def _export_metrics(settings) -> None:
    metrics.start_exporter(settings.metrics_port, redis_url=settings.redis_url, queue_prefix=settings.queue_prefix,
                           queues=QUEUES, database_url=settings.sqlalchemy_url)


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest version (runs as LIVC_MIGRATE_DATABASE_URL)."""

    migrating.upgrade(load_settings())
    click.echo("livc: database is up to date")


@cli.command()
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run a job worker on QUEUES (default: all queues)."""

    app = create_app()
    if app.extensions["livc.settings"].jobs_inline:
        raise click.ClickException("LIVC_REDIS_URL is not set: jobs run inline, there is nothing to work on")
    unknown = [name for name in queues if name not in QUEUES]
    if unknown:
        raise click.BadParameter(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(QUEUES)}")
    settings = app.extensions["livc.settings"]
    if settings.metrics_port:  # job durations are timed in this process, alerts in work horses
        measured = metrics.prepare_for_processes()
        _export_metrics(settings)
    try:
        run_worker(app, list(queues or QUEUES), burst=burst)
    finally:
        if settings.metrics_port:
            metrics.remove_private_directory(measured)


@cli.command()
@click.option("--interval", default=5.0, show_default=True, help="Seconds between two looks at the outbox.")
@click.option("--once", is_flag=True, help="Relay what is due once, then stop.")
def relay(interval: float, once: bool) -> None:
    """Hand the job outbox's due jobs to Redis (run one or more next to the workers)."""

    app = create_app()
    if app.extensions["livc.settings"].jobs_inline:
        raise click.ClickException("LIVC_REDIS_URL is not set: jobs run inline, there is no outbox to relay")
    relayed = run_relay(app, interval=interval, once=once)
    if once:
        click.echo(f"{relayed} job(s) relayed")


@cli.command()
def cron() -> None:
    """Run the periodic-job scheduler (one per deployment)."""

    app = create_app()
    if app.extensions["livc.settings"].jobs_inline:
        raise click.ClickException("LIVC_REDIS_URL is not set: periodic jobs need Redis")
    build_scheduler(app, PERIODIC).start()


def _tenants(slug: str | None) -> list[Tenant]:
    """Every tenant by address, or the one at ``slug`` (refused when there is none)."""
    query = sa.select(Tenant).order_by(Tenant.slug)
    if slug:
        query = query.where(Tenant.slug == slug)
    tenants = db.session.scalars(query).all()
    if slug and not tenants:
        raise click.ClickException(f"no tenant at {slug!r}")
    return tenants


@cli.group()
def tallies() -> None:
    """The counts of cases and measures the database keeps for the dashboards."""


@tallies.command("check")
@click.option("--tenant", "slug", default=None, help="Only this tenant (its address).")
@click.option("--repair", is_flag=True, help="Write the tallies that differ again from the rows.")
@with_app
def tallies_check(app, slug: str | None, repair: bool) -> None:
    """Compare each tenant's tallies with a count of its cases and measures (they differ only
    when rows were loaded with the triggers disabled); exit status 1 when one differs and
    ``--repair`` was not given."""
    differing = 0
    for tenant in _tenants(slug):
        db.session.rollback()
        with tenant_context(tenant.id):
            found = case_tallies.drift()
            if found and repair:
                case_tallies.recount()
                db.session.commit()
        if not found:
            click.echo(f"ok        {tenant.slug}")
            continue
        click.echo(f"{'REPAIRED' if repair else 'DIFFERS '}  {tenant.slug}: {len(found)} tallies differed")
        differing += not repair
    if differing:
        sys.exit(1)


@cli.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--tenant", "slug", default=None, help="Only this tenant (its address).")
@with_app
def audit_verify(app, slug: str | None) -> None:
    """Check every tenant's hash chain; exit status 1 when one is broken."""

    broken = 0
    for tenant in _tenants(slug):
        db.session.rollback()
        with tenant_context(tenant.id):
            report = verify_chain()
        if report.intact:
            click.echo(f"ok        {tenant.slug}: {report.entries} entries, chain intact")
        else:
            broken += 1
            click.echo(f"TAMPERED  {tenant.slug}: " + "; ".join(report.problems))
    if broken:
        sys.exit(1)


@cli.command()
@click.option("--cell", "slug", default=None, help="Only this cell (its address); default every active cell.")
@click.option("--dry-run", is_flag=True, help="Only list what would be erased; change nothing.")
@with_app
def retention(app, slug: str | None, dry_run: bool) -> None:
    """Erase closed cases and signals whose retention period ended (what the nightly job does).

    Prints, per cell, the case codes and signal references erased (or, with --dry-run, that
    would be) with the day they became due, never anything about the people concerned.
    Exit status 1 when a cell could not be handled (the others are).
    """

    query = sa.select(Tenant).order_by(Tenant.slug)
    query = query.where(Tenant.slug == slug) if slug else query.where(Tenant.status == TenantStatus.ACTIVE)
    tenants = db.session.scalars(query).all()
    if slug and not tenants:
        raise click.ClickException(f"no cell at {slug!r}")
    verb = "would be erased" if dry_run else "erased"
    totals = {"case": 0, "signal": 0}
    failed = 0
    for tenant in tenants:
        tenant_slug = tenant.slug
        db.session.rollback()
        try:
            with tenant_context(tenant.id):
                due = apply_retention(dry_run=dry_run)
                if dry_run:
                    db.session.rollback()
                else:
                    db.session.commit()
        except Exception as error:  # one cell's failure must not keep the others from their erasure
            db.session.rollback()
            failed += 1
            click.echo(f"FAILED  {tenant_slug}: {type(error).__name__}, nothing erased in this cell", err=True)
            continue
        counts = {kind: sum(1 for item in due if item.kind == kind) for kind in totals}
        click.echo(f"{tenant_slug}: {counts['case']} case(s), {counts['signal']} signal(s) {verb}")
        for item in due:
            click.echo(f"  {item.kind:7} {item.reference:20} due since {item.due_on.isoformat()}")
        for kind in totals:
            totals[kind] += counts[kind]
    click.echo(f"total: {totals['case']} case(s), {totals['signal']} signal(s) {verb} in {len(tenants) - failed} cell(s)"
               + (" (dry run: nothing changed)" if dry_run else ""))
    if failed:
        sys.exit(1)


@cli.group()
def jobs() -> None:
    """Background jobs: failures, retries, diagnostics."""


def _require_redis(app) -> None:
    if app.extensions["livc.settings"].jobs_inline:
        raise click.ClickException("LIVC_REDIS_URL is not set: jobs run inline and are not kept")


@jobs.command("failed")
@with_app
def jobs_failed(app) -> None:
    """List failed jobs (after their retries) on every queue."""

    _require_redis(app)
    found = failed_jobs()
    for job in found:
        failed = f"{job.failed_at:%Y-%m-%d %H:%M}" if job.failed_at else "?"
        click.echo(f"{job.id}  {job.queue}  {job.task}  tenant={job.tenant_id}  failed={failed}  {job.error}")
    click.echo(f"{len(found)} failed job(s)")


@jobs.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed job.")
@with_app
def jobs_retry(app, job_ids: tuple[str, ...], retry_all: bool) -> None:
    """Put failed jobs back on their queue."""

    _require_redis(app)
    if not job_ids and not retry_all:
        raise click.UsageError("name job ids, or --all")
    try:
        retried = retry_failed(None if retry_all else set(job_ids))
    except HTTPException as refusal:  # Redis out of reach: said plainly, no traceback
        raise click.ClickException(str(refusal.description)) from None
    click.echo(f"{len(retried)} job(s) put back on their queue")
    unknown = [job_id for job_id in job_ids if job_id not in retried]
    if unknown:
        raise click.ClickException(f"not among the failed jobs: {', '.join(unknown)}")


@jobs.command("ping")
@click.option("--timeout", default=30, show_default=True, help="Seconds to wait for a worker.")
@with_app
def jobs_ping(app, timeout: int) -> None:
    """Check that a worker picks up and runs jobs."""



    _require_redis(app)
    enqueued = enqueue(ping, tenant_id=None)
    job = queue(ping.task.queue).fetch_job(enqueued.job_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = job.get_status(refresh=True)
        if status == JobStatus.FINISHED:
            click.echo(f"worker answered: {job.return_value(refresh=True)}")
            return
        if status == JobStatus.FAILED:
            raise click.ClickException(f"a worker ran the job and it failed (livc jobs failed: {job.id})")
        time.sleep(0.2)
    job.delete()  # a worker that starts later must not answer nobody
    raise click.ClickException(f"no worker ran the job within {timeout} s")


@cli.command("custodian", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def custodian(args: tuple[str, ...]) -> None:
    """The federation's key custodian, its own service: serve, status, rotate, retire, clients."""
    code = custodian_cli.main(list(args), prog_name="livc custodian", standalone_mode=False)
    if isinstance(code, int) and code:  # --help and the like end with an exit code
        sys.exit(code)


# The command groups of the layers below, gathered here.
for group in (federation_group, tenant_group, operator_group, police_zone_group):
    cli.add_command(group)

if __name__ == "__main__":  # python -m livc.app.cli
    main()
