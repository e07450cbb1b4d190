"""Settings: nothing to configure in development, one clear line for a wrong production setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from livc.platform.settings import ConfigurationError, load_settings

PRODUCTION = {
    "env": "production",
    "secret_key": "p" * 40,
    "database_url": "postgresql://livc_app:pw@db.internal/livc",
    "redis_url": "redis://redis.internal:6379/0",
    "public_url": "https://livc.example.be",
    "smtp_url": "smtp://mailer:pw@smtp.internal:587",
}


def test_development_needs_no_configuration(tmp_path):
    settings = load_settings({"data_dir": str(tmp_path)})
    assert settings.env == "development"
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path.resolve()}/livc.sqlite"
    assert settings.jobs_inline
    assert settings.default_locale == "nl"
    key = settings.flask_secret_key()
    assert len(key) >= 32 and settings.flask_secret_key() == key  # kept between starts
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


def test_a_complete_production_configuration_is_accepted():
    settings = load_settings(PRODUCTION)
    assert settings.production and not settings.jobs_inline
    assert settings.sqlalchemy_url.startswith("postgresql+psycopg://")


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"secret_key": None}, "LIVC_SECRET_KEY"),
        ({"secret_key": "short"}, "LIVC_SECRET_KEY"),
        ({"database_url": None}, "LIVC_DATABASE_URL"),
        ({"database_url": "sqlite:///prod.db"}, "LIVC_DATABASE_URL"),
        ({"database_url": "mysql://u:hunter2@h/db"}, "LIVC_DATABASE_URL"),
        ({"redis_url": None}, "LIVC_REDIS_URL"),
        ({"redis_url": "http://cache"}, "LIVC_REDIS_URL"),
        ({"port": "eighty"}, "LIVC_PORT"),
        ({"default_locale": "de"}, "LIVC_DEFAULT_LOCALE"),
        ({"public_url": None}, "LIVC_PUBLIC_URL"),
        ({"public_url": "http://livc.example.be"}, "LIVC_PUBLIC_URL"),
        ({"smtp_url": None}, "LIVC_SMTP_URL"),
        ({"smtp_url": "mailto:someone"}, "LIVC_SMTP_URL"),
        ({"session_idle_minutes": "0"}, "LIVC_SESSION_IDLE_MINUTES"),
    ],
)
def test_a_wrong_production_setting_is_named(change, variable):
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**PRODUCTION, **change})
    message = str(raised.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message and "hunter2" not in message


def test_the_command_stops_with_one_line_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVC_")}
    env |= {"LIVC_ENV": "production", "LIVC_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "livc"), "migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "livc: configuration error: LIVC_SECRET_KEY: required in production, at least 32 characters"
    ]
