"""The command line as a newcomer uses it: real processes, real ports, the embedded database."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from api_tests import builders

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if proc.info.get("name") == "postgres" and str(data_dir) in cmdline:
            found.append(proc)
    return found


def _start_serve(data_dir: Path, port: int, log: Path) -> subprocess.Popen[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "JWT_SECRET", "SMS_BACKEND"}
    }
    env.update(
        {
            "HOMEWARD_DATA_DIR": str(data_dir),
            "PORT": str(port),
            "JOBS_INTERVAL_SECONDS": "1",
            # The first admin here uses the API only; two-step sign-in has its own tests.
            "HOMEWARD_REQUIRE_TOTP": "off",
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        # No controlling terminal, as under a service manager or a container runtime.
        start_new_session=True,
    )


def _wait_ready(port: int, proc: subprocess.Popen[str], log: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited early:\n" + log.read_text()[-3000:]
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
            if response.status_code == 200 and response.json()["jobs"]:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("not ready within 60 s")


def _stop(proc: subprocess.Popen[str], sig: signal.Signals = signal.SIGINT) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return out


@pytest.fixture
def serve_dir() -> Iterator[Path]:
    # Outside pytest's tmp tree, which is reset to 0700 (the embedded server runs as its own user).
    base = Path(tempfile.mkdtemp(prefix="homeward-serve-"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def test_serve_first_start_keeps_the_admin_password_out_of_the_log_and_forces_a_change(
    serve_dir,
):
    tmp_path = serve_dir
    data_dir = (tmp_path / "data").resolve()
    port = _free_port()
    base = f"http://127.0.0.1:{port}/api/v1"
    new_password = "the admin's own passphrase"

    log = tmp_path / "serve.log"
    first = _start_serve(data_dir, port, log)
    try:
        ready = _wait_ready(port, first, log)
        assert "heartbeat" in [j["name"] for j in ready["jobs"]]
        wrong = httpx.post(
            f"{base}/auth/login",
            json={"email": "admin@homeward.local", "password": "definitely wrong"},
        )
        assert wrong.status_code == 401
        # No terminal: the password is in a file only this user may read, named on stdout.
        written = data_dir / "first_admin_password"
        assert written.stat().st_mode & 0o777 == 0o600
        password = written.read_text().strip()
        assert len(password) >= 12
        signed_in = httpx.post(
            f"{base}/auth/login", json={"email": "admin@homeward.local", "password": password}
        )
        assert signed_in.status_code == 200
        assert signed_in.json()["must_change_password"] is True
        headers = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        assert httpx.get(f"{base}/wards", headers=headers).status_code == 403
        changed = httpx.post(
            f"{base}/me/password",
            headers=headers,
            json={"current_password": password, "new_password": new_password},
        )
        assert changed.status_code == 200
    finally:
        output = _stop(first)
    assert first.returncode == 0
    assert str(written) in output
    # ... beside the address of the workspace, where people sign in.
    assert f"Workspace: http://127.0.0.1:{port}/board" in output
    # Neither stdout nor the JSON log on stderr ever carries the password.
    assert password not in output
    assert password not in log.read_text()
    assert not _postgres_processes(data_dir), "Ctrl-C must leave no PostgreSQL running"

    second = _start_serve(data_dir, port, log)
    try:
        _wait_ready(port, second, log)
        login = httpx.post(
            f"{base}/auth/login",
            json={"email": "admin@homeward.local", "password": new_password},
        )
        assert login.status_code == 200
        assert login.json()["must_change_password"] is False
    finally:
        output = _stop(second, signal.SIGTERM)  # as a container runtime stops it
    assert second.returncode == 0
    assert "First start" not in output
    assert not written.exists(), "the written password is removed once it has been changed"
    assert not _postgres_processes(data_dir)


async def test_create_user_reads_the_password_from_stdin(database_url, client, db):
    ward = await builders.ward(db)
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": "j" * 40}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.cli",
            "create-user",
            "--email",
            "cli.nurse@example.org",
            "--role",
            "ward_staff",
            "--ward-id",
            str(ward.id),
        ],
        input="a password from stdin\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "a password from stdin" not in result.stdout + result.stderr

    login = await client.post(
        "/api/v1/auth/login",
        json={"email": "cli.nurse@example.org", "password": "a password from stdin"},
    )
    assert login.status_code == 200
    assert login.json()["user"]["ward_id"] == str(ward.id)


async def test_create_user_refuses_a_bad_role_setup_with_one_line(database_url):
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_SECRET": "j" * 40}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.cli",
            "create-user",
            "--email",
            "x@example.org",
            "--role",
            "ward_staff",
        ],
        input="a password from stdin\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("homeward: ward_id")
