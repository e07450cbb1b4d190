"""``livc custodian``: serve the key custodian (one gunicorn process with threads) and manage
its files: the key (init, status, rotate, retire) and the clients allowed to call it. Run where
the custodian's data directory is, never by the platform's processes."""

from __future__ import annotations

import click
from gunicorn.app.base import BaseApplication

from livc.federation.custodian.service import create_custodian_app
from livc.federation.custodian.settings import (
    CustodianError,
    CustodianSettings,
    load_custodian_settings,
)
from livc.federation.custodian.storage import AuditLog, ClientRegistry, KeyStore
from livc.platform import metrics


def serve(settings: CustodianSettings, host: str | None = None, port: int | None = None, threads: int = 4) -> None:
    """Serve the custodian with gunicorn: one process (tokens live in its memory), threads."""
    existed = settings.keys_path.exists()
    KeyStore(settings.keys_path, create=settings.create_key)  # fail at start, not at the first request
    if not existed:
        click.echo(f"livc custodian: created {settings.keys_path}: a new key, epoch 1", err=True)

    measured = metrics.prepare_for_processes() if settings.metrics_port else None

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host or settings.host}:{port or settings.port}")
            self.cfg.set("workers", 1)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")
            self.cfg.set("forwarded_allow_ips", settings.forwarded_allow_ips)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 27: no runtime control
                self.cfg.set("control_socket_disable", True)
            if settings.metrics_port:  # the exporter in the master, adding up the worker's values
                self.cfg.set("when_ready", lambda _server: metrics.start_exporter(settings.metrics_port))
                self.cfg.set("child_exit", lambda _server, worker: metrics.process_ended(worker.pid))
                self.cfg.set("on_exit", lambda _server: metrics.remove_private_directory(measured))
            if settings.tls_certfile:
                self.cfg.set("certfile", str(settings.tls_certfile))
                self.cfg.set("keyfile", str(settings.tls_keyfile))

        def load(self):
            return create_custodian_app(settings)  # in the worker: no state across the fork

    Server().run()


# --- the command line: livc custodian ... ---------------------------------------------------


@click.group("custodian")
def cli() -> None:
    """The federation's key custodian: its own process and secret (settings LIVC_CUSTODIAN_*)."""


@cli.command("serve")
@click.option("--host", default=None, help="Address to listen on (default LIVC_CUSTODIAN_HOST, 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default LIVC_CUSTODIAN_PORT, 5100).")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64), help="Request threads.")
@click.option("--create-key", is_flag=True,
              help="Create the key file (epoch 1) if there is none: a first installation only "
                   "(default LIVC_CUSTODIAN_CREATE_KEY, false).")
def serve_command(host: str | None, port: int | None, threads: int, create_key: bool) -> None:
    """Serve the custodian. Without its key file it refuses to start (livc custodian init makes
    one), unless told to create it."""
    settings = load_custodian_settings({"create_key": True} if create_key else None)
    if not ClientRegistry(settings.clients_path).ids():
        click.echo("livc custodian: no registered client yet (livc custodian clients add ID)", err=True)
    serve(settings, host, port, threads)


@cli.command("init")
def init_command() -> None:
    """Create the key file (epoch 1) if there is none; change nothing otherwise."""
    settings = load_custodian_settings()
    existed = settings.keys_path.exists()
    status = KeyStore(settings.keys_path, create=True).status()
    click.echo(f"{'kept' if existed else 'created'} {settings.keys_path}: current epoch {status.current}")


@cli.command("status")
def status_command() -> None:
    """The epochs (current, active, retired) and the registered clients."""
    settings = load_custodian_settings()
    status = KeyStore(settings.keys_path).status()
    click.echo(f"key file: {settings.keys_path}")
    click.echo(f"current epoch: {status.current}")
    click.echo(f"active epochs: {', '.join(map(str, status.active))}")
    click.echo(f"retired epochs: {', '.join(map(str, status.retired)) or '-'}")
    click.echo(f"clients: {', '.join(ClientRegistry(settings.clients_path).ids()) or '-'}")


@cli.command("rotate")
def rotate_command() -> None:
    """Start a new epoch (a new secret) and make it current; older epochs stay evaluable."""
    settings = load_custodian_settings()
    keys = KeyStore(settings.keys_path)
    previous = keys.current_epoch
    epoch = keys.rotate()
    AuditLog(settings.audit_path).record("rotate", epoch=epoch, previous=previous)
    click.echo(f"epoch {epoch} is now current. Once the platform has re-enrolled every case under it,")
    click.echo(f"retire the old one: livc custodian retire {previous}")


@cli.command("retire")
@click.argument("epoch", type=click.IntRange(min=1))
def retire_command(epoch: int) -> None:
    """Delete an old epoch's secret: its tokens can never be evaluated again."""
    settings = load_custodian_settings()
    try:
        KeyStore(settings.keys_path).retire(epoch)
    except CustodianError as error:
        raise click.ClickException(str(error)) from None
    AuditLog(settings.audit_path).record("retire", epoch=epoch)
    click.echo(f"epoch {epoch} retired: its seed is deleted")


@cli.group("clients")
def clients_group() -> None:
    """The clients allowed to ask for evaluations (the platform's deployments)."""


@clients_group.command("add")
@click.argument("client_id")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from standard input instead of generating one.")
def clients_add(client_id: str, secret_stdin: bool) -> None:
    """Register CLIENT_ID (or give it a new secret) and print the secret, once."""
    settings = load_custodian_settings()
    supplied = click.get_text_stream("stdin").readline().strip() if secret_stdin else None
    try:
        secret = ClientRegistry(settings.clients_path).add(client_id, supplied)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    AuditLog(settings.audit_path).record("client_added", client=client_id)
    click.echo(f"client {client_id} registered; on the platform set LIVC_CUSTODIAN_CLIENT_ID={client_id} and")
    if supplied:
        click.echo("LIVC_CUSTODIAN_CLIENT_SECRET to the secret given (kept here only as a hash).")
    else:
        click.echo("LIVC_CUSTODIAN_CLIENT_SECRET to this secret (shown once, kept here only as a hash):")
        click.echo(secret)


@clients_group.command("remove")
@click.argument("client_id")
def clients_remove(client_id: str) -> None:
    """Remove CLIENT_ID: its tokens stop working at once."""
    settings = load_custodian_settings()
    if not ClientRegistry(settings.clients_path).remove(client_id):
        raise click.ClickException(f"no client {client_id!r}")
    AuditLog(settings.audit_path).record("client_removed", client=client_id)
    click.echo(f"client {client_id} removed")


@clients_group.command("list")
def clients_list() -> None:
    """The registered client ids."""
    for client_id in ClientRegistry(load_custodian_settings().clients_path).ids():
        click.echo(client_id)
