"""WSGI entry point for gunicorn: ``gunicorn livc.app.wsgi:app``."""

from livc.app.factory import create_app
from livc.platform.settings import ConfigurationError

try:
    app = create_app()
except ConfigurationError as error:
    raise SystemExit(f"livc: configuration error: {error}") from None
