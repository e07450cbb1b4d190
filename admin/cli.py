"""``livc tenant ...``, ``livc operator ...`` and ``livc police-zone ...``: the operator's actions, scriptable.

Onboarding commands live here, lifecycle commands in ``admin/lifecycle_cli.py``, on the same
groups. Each command is one transaction; a refusal prints one line and exits non-zero, changing
nothing. The actor in the audit trails is ``cli`` (someone with a shell on the server).
"""

from __future__ import annotations

import sys
from functools import wraps

import click
import sqlalchemy as sa
from flask_babel import force_locale
from marshmallow import ValidationError

from livc.admin.lifecycle import cli as lifecycle_cli
from livc.admin.onboarding.operations import onboard, progress, resend_invitation, tenant_list
from livc.admin.operators.models import OperatorAuditEntry, OperatorRole
from livc.admin.operators.operations import (
    OperatorProblem,
    create_operator,
    disable_operator,
    find_operator,
    operator_list,
    verify_operator_trail,
)
from livc.admin.police_zones.operations import remove_zone, set_zone
from livc.platform.commands import with_app
from livc.platform.db import db
from livc.platform.police_zones import zones
from livc.platform.tenancy import find_tenant

ACTOR = "cli"


@click.group("tenant")
def tenant_group() -> None:
    """Tenants (cells): onboarding and lifecycle, as the platform operator."""


for _command in lifecycle_cli.COMMANDS:  # suspend, reactivate, offboard, offboarding(-resume)
    tenant_group.add_command(_command)


@click.group("operator")
def operator_group() -> None:
    """Operator accounts of the platform's console."""


@click.group("police-zone")
def police_zone_group() -> None:
    """The police-zone directory the platform's administrators maintain (until the registry has zones)."""


def _one_line(error: ValidationError) -> str:
    messages = error.normalized_messages()
    return "; ".join(f"{field}: {' '.join(str(m) for m in (found if isinstance(found, list) else [found]))}"
                     for field, found in messages.items())


def _with_app(command):
    """Run inside the app and a request context (links are built on ``LIVC_PUBLIC_URL``),
    with the command's own messages in English."""



    @wraps(command)
    def in_request(app, *args, **kwargs):
        with app.test_request_context(base_url=app.extensions["livc.settings"].base_url), force_locale("en"):
            return command(app, *args, **kwargs)

    return with_app(in_request)


@tenant_group.command("create")
@click.option("--slug", required=True, help="The cell's address (/SLUG/).")
@click.option("--name", required=True, help="The cell's name.")
@click.option("--kind", required=True, type=click.Choice(["municipality", "intermunicipal", "police_zone"]))
@click.option("--nis", "nis_codes", multiple=True, help="NIS code of a municipality covered (repeat).")
@click.option("--police-zone", default=None, help="Police zone number (zonal cell), when the registry knows it.")
@click.option("--language", "languages", multiple=True, default=("nl",), show_default=True,
              type=click.Choice(["nl", "fr", "en"]), help="Working language (repeat; the first is the main one).")
@click.option("--coordinator", "coordinator_email", required=True, help="E-mail address of the first coordinator.")
@click.option("--coordinator-name", default="", help="Their name (optional).")
@click.option("--organisation", "organisation_name", default="", help="Their organisation (default: the prevention service).")
@click.option("--confirm-overlap", is_flag=True, help="Allow municipalities another cell covers (intermunicipal or zonal).")
@click.option("--sso-issuer", default="", help="The cell's OpenID Connect issuer (optional).")
@click.option("--sso-client-id", default="")
@click.option("--sso-client-secret", default="", envvar="LIVC_ONBOARD_SSO_CLIENT_SECRET",
              help="Or set LIVC_ONBOARD_SSO_CLIENT_SECRET (keeps it out of the shell history).")
@click.option("--sso-label", default="")
@_with_app
def tenant_create(app, **options) -> None:
    """Onboard a cell and mail the single-use invitation to its first coordinator."""

    data = {key: value for key, value in options.items() if value not in ("", None)}
    data["nis_codes"] = list(options["nis_codes"])
    data["languages"] = list(options["languages"])
    try:
        done = onboard(data, actor=ACTOR)
    except ValidationError as error:
        db.session.rollback()
        raise click.ClickException(_one_line(error)) from None
    slug, email, overlaps = done.tenant.slug, done.coordinator_email, done.overlaps
    db.session.commit()  # the invitation's mail job is handed over now
    click.echo(f"onboarded {slug}: invitation mailed to {email}"
               + (f" (overlap confirmed with {', '.join(overlaps)})" if overlaps else ""))


@tenant_group.command("invite")
@click.argument("slug")
@click.option("--language", default=None, type=click.Choice(["nl", "fr", "en"]))
@_with_app
def tenant_invite(app, slug: str, language: str | None) -> None:
    """Mail the first coordinator a new invitation (the earlier link stops working)."""

    tenant = find_tenant(slug)
    if tenant is None:
        raise click.ClickException(f"no tenant at {slug!r}")
    try:
        email = resend_invitation(tenant, actor=ACTOR, language=language)
    except ValidationError as error:
        db.session.rollback()
        raise click.ClickException(_one_line(error)) from None
    db.session.commit()
    click.echo(f"invitation to {slug} mailed again to {email}")


@tenant_group.command("list")
@_with_app
def tenant_list_command(app) -> None:
    """Every tenant: address, kind, status, municipalities, onboarding steps done."""

    for tenant in tenant_list():
        steps = progress(tenant)
        done = sum(1 for step in steps if step.done)
        click.echo(f"{tenant.slug:24} {tenant.kind.value:15} {tenant.status.value:11} "
                   f"{','.join(tenant.nis_codes):24} set-up {done}/{len(steps)}")


@operator_group.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["support", "administrator"]))
@click.option("--name", "display_name", default="")
@_with_app
def operator_create(app, email: str, role: str, display_name: str) -> None:
    """Create an operator account and print its single-use set-up link (valid seven days)."""

    try:
        operator, link = create_operator(email, OperatorRole(role), actor=ACTOR, display_name=display_name)
    except OperatorProblem as problem:
        db.session.rollback()
        raise click.ClickException(str(problem)) from None
    db.session.commit()
    click.echo(f"operator {operator.email} ({operator.role.value}) created; set-up link, single use, valid 7 days:")
    click.echo(f"  {link}")


@operator_group.command("list")
@_with_app
def operator_list_command(app) -> None:
    """Every operator account and its state."""

    for operator in operator_list():
        state = ("disabled" if operator.disabled_at else "set-up pending" if not operator.has_password
                 else "authenticator pending" if not operator.has_totp else "active")
        click.echo(f"{operator.email:40} {operator.role.value:14} {state}")


@operator_group.command("disable")
@click.argument("email")
@_with_app
def operator_disable(app, email: str) -> None:
    """Disable an operator account; its sessions end at once."""

    operator = find_operator(email)
    if operator is None:
        raise click.ClickException(f"no operator {email!r}")
    try:
        ended = disable_operator(operator, actor=ACTOR)
    except OperatorProblem as problem:
        db.session.rollback()
        raise click.ClickException(str(problem)) from None
    db.session.commit()
    click.echo(f"operator {operator.email} disabled ({ended} session(s) ended)")


@operator_group.command("verify-trail")
@_with_app
def operator_verify_trail(app) -> None:
    """Check the operator audit trail's hash chain; exit status 1 when it is broken."""



    problems = verify_operator_trail()
    if problems:
        click.echo("TAMPERED  operator trail: " + "; ".join(problems))
        sys.exit(1)
    count = db.session.scalar(sa.select(sa.func.count()).select_from(OperatorAuditEntry))
    click.echo(f"ok        operator trail: {count} entries, chain intact")


@police_zone_group.command("set")
@click.argument("code")
@click.option("--name", required=True, help="The zone's name, as in the royal decree's annex.")
@click.option("--nis", "nis_codes", multiple=True, help="NIS code of one of its municipalities (repeat).")
@click.option("--move", is_flag=True, help="Move municipalities that are in another zone to this one.")
@_with_app
def police_zone_set(app, code: str, name: str, nis_codes: tuple[str, ...], move: bool) -> None:
    """Add the police zone CODE, or replace its name and municipalities."""

    try:
        zone = set_zone({"code": code, "name": name, "nis_codes": list(nis_codes), "move": move}, actor=ACTOR)
    except ValidationError as error:
        db.session.rollback()
        raise click.ClickException(_one_line(error)) from None
    summary = f"police zone {zone.code} {zone.name}: {len(zone.nis_codes)} municipalities"
    db.session.commit()
    click.echo(summary)


@police_zone_group.command("list")
@_with_app
def police_zone_list(app) -> None:
    """Every zone of the directory: code, number of municipalities, name, NIS codes."""

    for zone in zones():
        click.echo(f"{zone.code}  {len(zone.nis_codes):3}  {zone.name}  ({' '.join(zone.nis_codes)})")


@police_zone_group.command("remove")
@click.argument("code")
@_with_app
def police_zone_remove(app, code: str) -> None:
    """Take the police zone CODE out of the directory."""

    try:
        remove_zone(code, actor=ACTOR)
    except ValidationError as error:
        db.session.rollback()
        raise click.ClickException(_one_line(error)) from None
    db.session.commit()
    click.echo(f"police zone {code} removed")
