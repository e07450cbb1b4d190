"""The application factory: settings first, then extensions in a fixed order, then the web."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader

# Importing a models module registers its tables (Alembic's environment imports this module for
# the whole metadata); importing a view module puts its routes on its blueprint.
from livc.admin import api as admin_api  # noqa: F401
from livc.admin.figures import views as platform_figure_views  # noqa: F401
from livc.admin.health import (
    budget_views,  # noqa: F401
    outbox_views,  # noqa: F401
)
from livc.admin.health import views as health_views  # noqa: F401
from livc.admin.lifecycle import models as lifecycle_models  # noqa: F401
from livc.admin.lifecycle import views as lifecycle_views  # noqa: F401
from livc.admin.onboarding import models as onboarding_models  # noqa: F401
from livc.admin.onboarding import setup_views  # noqa: F401
from livc.admin.onboarding import views as onboarding_views  # noqa: F401
from livc.admin.operators import cell_views as operator_cell_views  # noqa: F401
from livc.admin.operators import models as operator_models  # noqa: F401
from livc.admin.operators import sign_in_views as operator_sign_in_views  # noqa: F401
from livc.admin.operators import views as operator_views  # noqa: F401
from livc.admin.police_zones import views as police_zone_views  # noqa: F401
from livc.admin.web import blueprint as admin_blueprint
from livc.federation import alerts as federation_alerts
from livc.federation import cooperation_views  # noqa: F401
from livc.federation import models as federation_models  # noqa: F401
from livc.federation import subscribers as federation_subscribers
from livc.federation import views as federation_views  # noqa: F401
from livc.platform import accounts, audit, i18n, jobs, keys, openapi, police_zones, sessions, tenancy, web  # noqa: F401
from livc.platform.db import db
from livc.platform.logs import configure_logging
from livc.platform.settings import Settings, load_settings
from livc.tenants.cases import api as case_api  # noqa: F401
from livc.tenants.cases import feedback_views, ltf_card_views, search_views, weighing_views  # noqa: F401
from livc.tenants.cases import models as case_models  # noqa: F401
from livc.tenants.cases import views as case_views  # noqa: F401
from livc.tenants.cell import models as cell_models  # noqa: F401
from livc.tenants.cell import views as cell_views  # noqa: F401
from livc.tenants.decisions import api as decision_api  # noqa: F401
from livc.tenants.decisions import models as decision_models  # noqa: F401
from livc.tenants.decisions import views as decision_views  # noqa: F401
from livc.tenants.home import views as home_views  # noqa: F401
from livc.tenants.house_rules import models as house_rules_models  # noqa: F401
from livc.tenants.house_rules import views as house_rules_views  # noqa: F401
from livc.tenants.meetings import api as meeting_api  # noqa: F401
from livc.tenants.meetings import models as meeting_models  # noqa: F401
from livc.tenants.meetings import views as meeting_views  # noqa: F401
from livc.tenants.members import models as member_models  # noqa: F401
from livc.tenants.members import sign_in_api, sign_in_views, sso, sso_views  # noqa: F401
from livc.tenants.members import views as member_views  # noqa: F401
from livc.tenants.monitoring import api as monitoring_api  # noqa: F401
from livc.tenants.monitoring import consent_views as monitoring_consent_views  # noqa: F401
from livc.tenants.monitoring import facts as monitoring_facts
from livc.tenants.monitoring import ledger as monitoring_ledger
from livc.tenants.monitoring import models as monitoring_models  # noqa: F401
from livc.tenants.monitoring import views as monitoring_views  # noqa: F401
from livc.tenants.register import views as register_views  # noqa: F401
from livc.tenants.retention import views as retention_views  # noqa: F401
from livc.tenants.scenarios import api as scenarios_api  # noqa: F401
from livc.tenants.scenarios import models as scenarios_models  # noqa: F401
from livc.tenants.scenarios import views as scenarios_views  # noqa: F401
from livc.tenants.signals import models as signal_models  # noqa: F401
from livc.tenants.signals import views as signal_views  # noqa: F401
from livc.tenants.strategy import api as strategy_api  # noqa: F401
from livc.tenants.strategy import models as strategy_models  # noqa: F401
from livc.tenants.strategy import views as strategy_views  # noqa: F401
from livc.tenants.web import blueprint as tenants_blueprint


def template_folders() -> list[Path]:
    """The ``templates/`` folder beside every livc module imported above: each domain keeps its
    pages and mails beside its code; their names (``tenants/case_page.html``) stay global."""
    folders = {
        Path(module.__file__).parent / "templates"
        for name, module in list(sys.modules.items())
        if name.startswith("livc.") and getattr(module, "__file__", None)
    }
    return sorted(folder for folder in folders if folder.is_dir())


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides ``LIVC_*`` settings by name (``{"env": "test"}``).

    Raises :class:`~livc.platform.settings.ConfigurationError` naming the variable at fault.
    """
    settings = load_settings(config)
    configure_logging(settings.log_level)
    # The kernel's folder is the app's root: its templates, static files and translations.
    app = Flask("livc", root_path=str(web.ROOT), instance_path=str(settings.data_dir.resolve()))
    app.extensions["livc.settings"] = settings
    app.config.update(_flask_config(settings))
    settings.prepare_data_dir()

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    i18n.init_app(app)
    web.init_app(app)
    # The design system's macros (govuk-frontend-jinja) under their own prefix, then livc's pages.
    app.jinja_loader = ChoiceLoader(
        [PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})]
        + [FileSystemLoader(str(folder)) for folder in template_folders()]
    )
    federation_subscribers.connect()
    monitoring_ledger.connect()
    if federation_alerts.confirmations not in monitoring_facts.ALERT_CONFIRMATIONS:
        monitoring_facts.ALERT_CONFIRMATIONS.append(federation_alerts.confirmations)
    app.register_blueprint(tenants_blueprint)
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
