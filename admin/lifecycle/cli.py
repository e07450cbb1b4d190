"""Lifecycle commands (``livc.admin.cli`` puts them on ``livc tenant``): suspend, reactivate, offboard, and an offboarding's
progress and resumption. The actor in the audit trails is ``cli``.

Each command is one transaction: it commits on success (the offboarding's jobs start then) and
changes nothing on a refusal, which prints one line and exits non-zero.
"""

from __future__ import annotations

import click
from marshmallow import ValidationError

from livc.admin.lifecycle import models as lifecycle_models
from livc.admin.lifecycle import operations as lifecycle
from livc.platform.commands import with_app
from livc.platform.db import db

ACTOR = "cli"


def _refusal(error: ValidationError) -> click.ClickException:
    messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
    return click.ClickException(" ".join(str(message) for field in messages.values() for message in field))


def _run(action):
    """Run ``action(tenant)`` for the slug in one transaction; a refusal rolls it back."""

    def run(slug: str):
        try:
            result = action(lifecycle_models.tenant_by_slug(slug))
        except ValidationError as error:
            db.session.rollback()
            raise _refusal(error) from None
        db.session.commit()
        return result

    return run


@click.command("suspend")
@click.argument("slug")
@click.option("--reason", required=True, help="Why the cell is suspended (kept in the audit trails).")
@with_app
def suspend_command(app, slug: str, reason: str) -> None:
    """Suspend a cell: members cannot sign in, sessions end, jobs wait; the data stays."""

    ended = _run(lambda tenant: lifecycle.suspend(tenant, ACTOR, reason))(slug)
    click.echo(f"{slug}: suspended, {ended} session(s) ended")


@click.command("reactivate")
@click.argument("slug")
@with_app
def reactivate_command(app, slug: str) -> None:
    """Reactivate a suspended cell; the jobs that waited run now."""

    resumed = _run(lambda tenant: lifecycle.reactivate(tenant, ACTOR))(slug)
    click.echo(f"{slug}: active again, {resumed} paused job(s) resumed")


@click.command("offboard")
@click.argument("slug")
@click.option("--recipient", required=True, metavar="EMAIL",
              help="The municipality's designated person: the only one who gets the export's link.")
@with_app
def offboard_command(app, slug: str, recipient: str) -> None:
    """Offboard a cell: suspend, export (mailed to RECIPIENT, once), crypto-shred, verify."""

    _run(lambda tenant: lifecycle.start_offboarding(tenant, ACTOR, recipient))(slug)
    click.echo(f"{slug}: offboarding started; follow it with: livc tenant offboarding {slug}")
    _print_progress(slug)


@click.command("offboarding")
@click.argument("slug")
@with_app
def offboarding_command(app, slug: str) -> None:
    """Show an offboarding's steps and its verification report."""
    _print_progress(slug)


@click.command("offboarding-resume")
@click.argument("slug")
@with_app
def offboarding_resume_command(app, slug: str) -> None:
    """Resume a failed offboarding from the step that failed."""

    _run(lambda tenant: lifecycle.resume_offboarding(tenant, ACTOR))(slug)
    click.echo(f"{slug}: offboarding resumed")
    _print_progress(slug)


def _print_progress(slug: str) -> None:
    db.session.rollback()  # a fresh look: what the jobs committed meanwhile
    try:
        tenant = lifecycle_models.tenant_by_slug(slug)
    except ValidationError as error:
        raise _refusal(error) from None
    state = lifecycle.progress(tenant.id)
    if state is None:
        raise click.ClickException(lifecycle_models.text(lifecycle.NOT_OFFBOARDING))
    click.echo(f"offboarding of {state['tenant']}: {state['state']}")
    for step in state["steps"]:
        counts = ", ".join(f"{key} {value}" for key, value in step["counts"].items() if not isinstance(value, dict))
        error = f" ({step['error']})" if step["error"] else ""
        click.echo(f"  {step['name']:<8} {step['state']:<8}{error}  {counts}".rstrip())
    export = state["export"]
    if export is not None:
        click.echo(f"  export: {export['state']}, for {export['recipient']}, link valid until "
                   f"{export['expires_at']:%Y-%m-%d %H:%M} UTC")
    report = state["report"]
    if report is not None:
        click.echo(f"  verification: {'passed' if report['passed'] else 'FAILED'}")
        for check in report["checks"]:
            click.echo(f"    {'ok  ' if check['passed'] else 'FAIL'} {check['check']}")
    if state["resumable"]:
        click.echo(f"  resume with: livc tenant offboarding-resume {slug}")


#: What ``livc tenant`` gains from the lifecycle.
COMMANDS = (suspend_command, reactivate_command, offboard_command, offboarding_command, offboarding_resume_command)
