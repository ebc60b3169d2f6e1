"""A real uvicorn server on a loopback port, in a thread, for tests that speak plain HTTP."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from litestar import Litestar


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    app: Litestar
    port: int = field(default_factory=free_port)
    # Further uvicorn options, e.g. `jobs.cli.uvicorn_options` to run it as `serve` does.
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        options: dict[str, Any] = {"log_config": None, "access_log": False, **self.options}
        options.update(host="127.0.0.1", port=self.port, lifespan="on")
        config = uvicorn.Config(self.app, **options)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
