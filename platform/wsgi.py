"""WSGI entry point for gunicorn: ``gunicorn livc.platform.wsgi:app``."""

from livc.platform.app import create_app
from livc.platform.settings import ConfigurationError

try:
    app = create_app()
except ConfigurationError as error:
    raise SystemExit(f"livc: configuration error: {error}") from None
