"""Settings: nothing to configure in development, one clear line for a wrong production setting."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from livc.platform.settings import ConfigurationError, load_settings

MASTER_KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()
PRODUCTION = {
    "env": "production",
    "secret_key": "p" * 40,
    "master_key": MASTER_KEY,
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
    assert settings.master_key_bytes() == bytes(range(32))


def test_the_master_key_is_generated_once_in_development_and_never_shown(tmp_path):
    settings = load_settings({"data_dir": str(tmp_path / "data")})
    key = settings.master_key_bytes()
    assert len(key) == 32 and key != bytes(32)
    assert load_settings({"data_dir": str(tmp_path / "data")}).master_key_bytes() == key  # kept between starts
    key_file = tmp_path / "data" / "master_key"
    assert oct(key_file.stat().st_mode)[-3:] == "600"
    # no temporary left (the embedded database is created private beside it)
    assert sorted(path.name for path in key_file.parent.iterdir()) == ["livc.sqlite", "master_key"]
    # Apart from the cookie secret: a new LIVC_SECRET_KEY leaves the master key as it was.
    assert load_settings({"data_dir": str(tmp_path / "data"), "secret_key": "n" * 40}).master_key_bytes() == key
    configured = load_settings({**PRODUCTION, "master_key": MASTER_KEY.rstrip("=")})  # padding optional
    assert configured.master_key_bytes() == bytes(range(32))
    assert MASTER_KEY not in repr(configured) and MASTER_KEY.rstrip("=") not in repr(configured)


def test_a_malformed_master_key_is_refused_in_development_too(tmp_path):
    with pytest.raises(ConfigurationError) as raised:
        load_settings({"data_dir": str(tmp_path), "master_key": "not-a-key"})
    assert str(raised.value) == "LIVC_MASTER_KEY: must be urlsafe base64 of 32 random bytes"


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"secret_key": None}, "LIVC_SECRET_KEY"),
        ({"secret_key": "short"}, "LIVC_SECRET_KEY"),
        ({"master_key": None}, "LIVC_MASTER_KEY"),
        ({"master_key": ""}, "LIVC_MASTER_KEY"),
        ({"master_key": base64.urlsafe_b64encode(b"k" * 16).decode()}, "LIVC_MASTER_KEY"),  # 128 bits
        ({"master_key": base64.urlsafe_b64encode(b"k" * 33).decode()}, "LIVC_MASTER_KEY"),
        ({"master_key": "hunter2" * 7}, "LIVC_MASTER_KEY"),  # 49 characters, not 32 bytes
        ({"master_key": MASTER_KEY[:-2] + "!="}, "LIVC_MASTER_KEY"),  # outside the alphabet
        ({"master_key": base64.b64encode(b"\xfb" * 32).decode()}, "LIVC_MASTER_KEY"),  # "+/": not urlsafe
        ({"master_key": MASTER_KEY[:-2] + "B="}, "LIVC_MASTER_KEY"),  # stray bits in the last character
        ({"master_key": "p" * 40}, "LIVC_MASTER_KEY"),
        ({"master_key": MASTER_KEY, "secret_key": MASTER_KEY}, "LIVC_MASTER_KEY"),  # one leak, both keys
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
    assert "\n" not in message and "hunter2" not in message and MASTER_KEY not in message


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
