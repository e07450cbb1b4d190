"""Shared helpers of the ``livc`` command line: commands that need the app get it here.

The app itself is built by the composition root (``livc.app.cli``), which puts its factory in
the command's context when the ``livc`` group starts; commands of any layer run inside it
through :func:`with_app` without importing the layer that assembles them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import click
from flask import Flask

FACTORY = "livc.create_app"


def remember_factory(ctx: click.Context, create_app: Callable[[], Flask]) -> None:
    """Called by the root ``livc`` group: every subcommand builds its app with ``create_app``."""
    ctx.meta[FACTORY] = create_app


def current_app_factory() -> Callable[[], Flask]:
    try:
        return click.get_current_context().meta[FACTORY]
    except (RuntimeError, KeyError):
        raise click.UsageError("run this command through `livc`") from None


def with_app(command: Callable) -> Callable:
    """Run the command inside an app context; the app is passed as the first argument."""

    @wraps(command)
    def wrapper(*args, **kwargs):
        app = current_app_factory()()
        with app.app_context():
            return command(app, *args, **kwargs)

    return wrapper
