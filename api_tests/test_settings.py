from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_console_setup():
    settings = load_settings({})
    assert settings.database_url is None
    assert settings.sms_backend == "console"
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"
    assert settings.jobs_interval_seconds == 30
    assert settings.smtp_url is None  # staff email is off until SMTP_URL is set


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"SMS_BACKEND": "carrier-pigeon"}, "SMS_BACKEND"),
        ({"SMS_BACKEND": "twilio"}, "TWILIO_ACCOUNT_SID"),
        ({"JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"JOBS_INTERVAL_SECONDS": "0"}, "JOBS_INTERVAL_SECONDS"),
        ({"SMS_RATE_PER_SECOND": "fast"}, "SMS_RATE_PER_SECOND"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"PUBLIC_BASE_URL": "ftp://x"}, "PUBLIC_BASE_URL"),
        ({"TWILIO_API_BASE_URL": "nope"}, "TWILIO_API_BASE_URL"),
        ({"SMTP_URL": "http://mail.example.org"}, "SMTP_URL"),
        ({"SMTP_URL": "smtp://"}, "SMTP_URL"),
        ({"SMTP_FROM": "not an address"}, "SMTP_FROM"),
        ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS"),
        ({"SMTP_TIMEOUT_SECONDS": "-1"}, "SMTP_TIMEOUT_SECONDS"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(env, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings(env)


def test_bad_configuration_stops_start_up_with_one_line(tmp_path):
    env = {**os.environ, "PORT": "not-a-port", "HOMEWARD_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "homeward: configuration error: PORT must be a number from 1 to 65535, got 'not-a-port'"
    ]


def test_smtp_settings_come_from_the_environment():
    settings = load_settings(
        {
            "SMTP_URL": "smtps://alerts%40trust:s3cret@mail.example.org:465",
            "SMTP_FROM": "homeward@trust.example.org",
            "SMTP_STARTTLS": "off",
            "SMTP_TIMEOUT_SECONDS": "5",
        }
    )
    assert settings.smtp_url == "smtps://alerts%40trust:s3cret@mail.example.org:465"
    assert settings.smtp_from == "homeward@trust.example.org"
    assert (settings.smtp_starttls, settings.smtp_timeout_seconds) == ("off", 5.0)
    assert load_settings({"SMTP_URL": "smtp://relay:25"}).smtp_starttls == "required"


def test_database_url_pooler_flag_is_checked_and_taken_out_before_connecting():
    from db.engine import async_url, asyncpg_dsn, behind_transaction_pooler, connect_args

    url = "postgresql://hw@pgbouncer.internal:6432/homeward?pgbouncer=transaction"
    assert load_settings({"DATABASE_URL": url}).database_url == url
    assert behind_transaction_pooler(url)
    assert async_url(url) == "postgresql+asyncpg://hw@pgbouncer.internal:6432/homeward"
    assert asyncpg_dsn(url) == "postgresql://hw@pgbouncer.internal:6432/homeward"
    pooled = connect_args(url)
    assert pooled["statement_cache_size"] == 0 and pooled["prepared_statement_cache_size"] == 0
    names = {pooled["prepared_statement_name_func"]() for _ in range(3)}
    assert len(names) == 3  # no two statements share a name
    direct = connect_args("postgresql://hw@db.internal/homeward")
    assert "statement_cache_size" not in direct
    with pytest.raises(SettingsError, match="pgbouncer="):
        load_settings({"DATABASE_URL": "postgresql://hw@db/homeward?pgbouncer=statement"})
