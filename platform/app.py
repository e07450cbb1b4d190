"""The application factory: settings first, then extensions in a fixed order, then the web."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask

from livc.platform import i18n, web
from livc.platform.db import db
from livc.platform.logs import configure_logging
from livc.platform.settings import Settings, load_settings


def import_models() -> None:
    """Import every module that defines models, so metadata (and Alembic) sees them all."""
    import livc.admin.onboarding  # noqa: F401
    import livc.admin.operators  # noqa: F401
    import livc.admin.lifecycle  # noqa: F401
    import livc.admin.police_zones  # noqa: F401
    import livc.federation.models  # noqa: F401
    import livc.platform.accounts  # noqa: F401
    import livc.platform.audit  # noqa: F401
    import livc.platform.keys  # noqa: F401
    import livc.platform.sessions  # noqa: F401
    import livc.platform.sso  # noqa: F401
    import livc.tenants.case_models  # noqa: F401
    import livc.tenants.cell  # noqa: F401
    import livc.tenants.house_rules  # noqa: F401
    import livc.tenants.members  # noqa: F401
    import livc.tenants.models  # noqa: F401


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides ``LIVC_*`` settings by name (``{"env": "test"}``).

    Raises :class:`~livc.platform.settings.ConfigurationError` naming the variable at fault.
    """
    settings = load_settings(config)
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_path=str(settings.data_dir.resolve()))
    app.extensions["livc.settings"] = settings
    app.config.update(_flask_config(settings))
    settings.prepare_data_dir()

    import_models()
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    i18n.init_app(app)
    web.init_app(app)

    from livc.tenants import (  # noqa: F401  (routes on the tenant blueprint)
        auth_api, auth_views, case_api, case_views, cell_views, federation_views, house_rules_views, member_views,
        signal_views, sso_views,
    )
    from livc.tenants import operator_actions_views, setup_views  # noqa: F401  (the console's cell pages)
    from livc.tenants.views import blueprint as tenants_blueprint

    app.register_blueprint(tenants_blueprint)
    from livc.admin import (  # noqa: F401  (routes on the admin blueprint)
        api as admin_api, health_views, onboarding_views, operator_views, outbox_views,
    )
    from livc.admin import lifecycle_views  # noqa: F401  (the lifecycle's console pages and download page)
    from livc.admin import police_zone_views  # noqa: F401  (the police-zone directory's pages)
    from livc.admin.web import blueprint as admin_blueprint

    app.register_blueprint(admin_blueprint)
    logging.getLogger(__name__).debug("livc app created (%s)", settings.env)
    return app


def _flask_config(settings: Settings) -> dict:
    return {
        "SECRET_KEY": settings.flask_secret_key(),
        "SQLALCHEMY_DATABASE_URI": settings.sqlalchemy_url,
        # Statement parameters never appear in error messages or logs: they may hold
        # personal data.
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(settings),
        "MAX_CONTENT_LENGTH": settings.max_content_length,
        "MAX_FORM_MEMORY_SIZE": settings.max_content_length,
        "SESSION_COOKIE_SECURE": settings.production,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "livc_session",
        # CSRF tokens live as long as the sign-in session may; the session's own time-outs apply.
        "WTF_CSRF_TIME_LIMIT": settings.session_absolute_hours * 3600,
        "WTF_CSRF_SSL_STRICT": True,
        "PREFERRED_URL_SCHEME": "https" if settings.production else "http",
        "TESTING": settings.env == "test",
    }


def _engine_options(settings: Settings) -> dict:
    options = {"hide_parameters": True, "pool_pre_ping": True}
    if settings.sqlalchemy_url.startswith("postgresql"):
        options.update(pool_size=settings.database_pool_size, max_overflow=settings.database_pool_size)
    return options


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
