"""The ``livc`` command: demo, serve, migrate, worker, cron, audit and job tools."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps

import click
import sqlalchemy as sa

from livc.platform.settings import ConfigurationError, load_settings


def main() -> None:
    try:
        cli(standalone_mode=True)
    except ConfigurationError as error:
        click.echo(f"livc: configuration error: {error}", err=True)
        sys.exit(2)


@click.group()
def cli() -> None:
    """livc: the platform for local integrated security cells (LIVC-R)."""


def with_app(command: Callable) -> Callable:
    """Run the command inside an app context; the app is passed as the first argument."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        from livc.platform.app import create_app

        app = create_app()
        with app.app_context():
            return command(app, *args, **kwargs)

    return wrapper


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default LIVC_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default LIVC_PORT, 5000).")
@click.option("--no-serve", is_flag=True, help="Prepare the database and demo cells, then stop.")
def demo(host: str | None, port: int | None, no_serve: bool) -> None:
    """Create or reuse the embedded database, migrate it, seed two demo cells and serve them."""
    from livc.platform import migrating
    from livc.platform.app import create_app
    from livc.platform.demo import seed_demo

    settings = load_settings()
    migrating.upgrade(settings)
    app = create_app()
    host, port = host or settings.host, port or settings.port
    with app.app_context():
        tenants = seed_demo()
        click.echo("livc demo: two neighbouring demo cells (all content is fake):")
        for tenant in tenants:
            click.echo(f"  {tenant.name}: http://{host}:{port}/{tenant.slug}/")
        click.echo(f"  database: {settings.sqlalchemy_url if settings.database_url is None else 'LIVC_DATABASE_URL'}")
        click.echo("  jobs: inline (no Redis configured)" if settings.jobs_inline else "  jobs: Redis")
    if not no_serve:
        app.run(host=host, port=port, debug=False, use_reloader=False, threaded=True)


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default LIVC_HOST).")
@click.option("--port", default=None, type=int, help="Port (default LIVC_PORT).")
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the web app with gunicorn (production). Run ``livc migrate`` first."""
    from gunicorn.app.base import BaseApplication

    from livc.platform.app import create_app

    settings = load_settings()
    app = create_app()

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host or settings.host}:{port or settings.port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            self.cfg.set("forwarded_allow_ips", "*")

        def load(self):
            return app

    Server().run()


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest version (runs as LIVC_MIGRATE_DATABASE_URL)."""
    from livc.platform import migrating

    migrating.upgrade(load_settings())
    click.echo("livc: database is up to date")


@cli.command()
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run a job worker on QUEUES (default: all queues)."""
    from livc.platform.app import create_app
    from livc.platform.jobs import QUEUES, run_worker

    app = create_app()
    if app.extensions["livc.settings"].jobs_inline:
        raise click.ClickException("LIVC_REDIS_URL is not set: jobs run inline, there is nothing to work on")
    unknown = [name for name in queues if name not in QUEUES]
    if unknown:
        raise click.BadParameter(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(QUEUES)}")
    run_worker(app, list(queues or QUEUES), burst=burst)


@cli.command()
def cron() -> None:
    """Run the periodic-job scheduler (one per deployment)."""
    from livc.platform.app import create_app
    from livc.platform.schedule import build_scheduler

    app = create_app()
    if app.extensions["livc.settings"].jobs_inline:
        raise click.ClickException("LIVC_REDIS_URL is not set: periodic jobs need Redis")
    build_scheduler(app).start()


@cli.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@click.option("--tenant", "slug", default=None, help="Only this tenant (its address).")
@with_app
def audit_verify(app, slug: str | None) -> None:
    """Check every tenant's hash chain; exit status 1 when one is broken."""
    from livc.platform.audit import verify_chain
    from livc.platform.db import db, tenant_context
    from livc.tenants.models import Tenant

    query = sa.select(Tenant).order_by(Tenant.slug)
    if slug:
        query = query.where(Tenant.slug == slug)
    tenants = db.session.scalars(query).all()
    if slug and not tenants:
        raise click.ClickException(f"no tenant at {slug!r}")
    broken = 0
    for tenant in tenants:
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
    from rq.job import Job

    from livc.platform.jobs import QUEUES, queue

    _require_redis(app)
    count = 0
    for name in QUEUES:
        q = queue(name)
        registry = q.failed_job_registry
        for job in Job.fetch_many(registry.get_job_ids(), connection=q.connection):
            if job is None:
                continue
            count += 1
            error = (job.exc_info or "").strip().splitlines()[-1:] or ["?"]
            error_type = error[0].split(":", 1)[0]
            click.echo(
                f"{job.id}  {name}  {job.meta.get('task', job.description)}  "
                f"tenant={job.meta.get('tenant_id')}  failed={job.ended_at:%Y-%m-%d %H:%M}  {error_type}"
            )
    click.echo(f"{count} failed job(s)")


@jobs.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed job.")
@with_app
def jobs_retry(app, job_ids: tuple[str, ...], retry_all: bool) -> None:
    """Put failed jobs back on their queue."""
    from livc.platform.jobs import QUEUES, queue

    _require_redis(app)
    if not job_ids and not retry_all:
        raise click.UsageError("name job ids, or --all")
    retried = 0
    for name in QUEUES:
        registry = queue(name).failed_job_registry
        for job_id in registry.get_job_ids():
            if retry_all or job_id in job_ids:
                registry.requeue(job_id)
                retried += 1
    click.echo(f"{retried} job(s) put back on their queue")


@jobs.command("ping")
@click.option("--timeout", default=30, show_default=True, help="Seconds to wait for a worker.")
@with_app
def jobs_ping(app, timeout: int) -> None:
    """Check that a worker picks up and runs jobs."""
    import time

    from livc.platform.jobs import enqueue, ping, queue

    _require_redis(app)
    enqueued = enqueue(ping, tenant_id=None)
    job = queue(ping.task.queue).fetch_job(enqueued.job_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.get_status(refresh=True) == "finished":
            click.echo(f"worker answered: {job.return_value()}")
            return
        time.sleep(0.2)
    raise click.ClickException(f"no worker ran the job within {timeout} s")
