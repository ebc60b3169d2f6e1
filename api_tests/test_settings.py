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
