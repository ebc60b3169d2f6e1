"""A PgBouncer in transaction pooling mode on a loopback port, in front of the tests' PostgreSQL
(the embedded one or TEST_DATABASE_URL's), started and stopped by the tests themselves.

Debian's package provides the binary (installed by `api_tests.debian` when missing). Clients
reach any database of the upstream server by name through it, with the URL flag that tells
Homeward it is behind a transaction pooler (`db.engine.POOLER_PARAM`)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from db.engine import POOLER_PARAM

PGBOUNCER = "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgBouncer:
    """`url(database)` is the pooled address of one upstream database."""

    def __init__(self, upstream_admin_url: str, *, pool_size: int = 20) -> None:
        upstream = make_url(upstream_admin_url)
        self._user = upstream.username or "postgres"
        # A Unix socket directory comes as ?host=/dir; otherwise a TCP host and port.
        host = upstream.query.get("host")
        self._upstream_host = str(host if isinstance(host, str) else upstream.host or "127.0.0.1")
        self._upstream_port = upstream.port or 5432
        self._password = upstream.password or ""
        self._pool_size = pool_size
        self.port = _free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="homeward-pgbouncer-"))
        self._process: subprocess.Popen[bytes] | None = None

    def _write_config(self) -> Path:
        password = f" password={self._password}" if self._password else ""
        # Only the settings that matter here; the rest are PgBouncer's defaults.
        ini = self._dir / "pgbouncer.ini"
        ini.write_text(
            "[databases]\n"
            f"* = host={self._upstream_host} port={self._upstream_port}{password}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            f"unix_socket_dir = {self._dir}\n"
            "auth_type = trust\n"
            f"admin_users = {self._user}\n"
            f"auth_file = {self._dir / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self._pool_size}\n"
            "max_client_conn = 1000\n"
            # Homeward sets TimeZone at connect; PgBouncer tracks it per client. Anything else
            # a client sends at start-up that PgBouncer does not track is refused, loudly.
            "ignore_startup_parameters = extra_float_digits\n"
            "server_reset_query =\n"
            "log_connections = 0\n"
            "log_disconnections = 0\n"
        )
        (self._dir / "userlist.txt").write_text(f'"{self._user}" ""\n')
        return ini

    def start(self) -> PgBouncer:
        ini = self._write_config()
        command = [PGBOUNCER, str(ini)]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root; it drops to this user after reading its files:
            # the owner of the upstream's socket directory (the embedded server's own user),
            # who may reach the socket, or else postgres / nobody for a TCP upstream.
            user = self._socket_owner() or ("postgres" if _has_user("postgres") else "nobody")
            os.chmod(self._dir, 0o755)
            for path in self._dir.iterdir():
                os.chmod(path, 0o644)
            shutil.chown(self._dir, user=user)
            command[1:1] = ["-u", user]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                raise RuntimeError(f"pgbouncer exited at start: {err.strip()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("pgbouncer did not start listening")

    def _socket_owner(self) -> str | None:
        if not self._upstream_host.startswith("/"):
            return None
        return pwd.getpwuid(os.stat(self._upstream_host).st_uid).pw_name

    def url(self, database: str) -> str:
        return (
            f"postgresql://{self._user}@127.0.0.1:{self.port}/{database}?{POOLER_PARAM}=transaction"
        )

    def admin_url(self) -> str:
        """PgBouncer's own console (SHOW POOLS, SHOW CONFIG...), reached without the flag."""
        return f"postgresql://{self._user}@127.0.0.1:{self.port}/pgbouncer"

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
