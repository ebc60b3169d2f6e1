"""The `homeward` command: the process entry point, so it may wire service and jobs together."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from service.principal import ROLES
from service.settings import Settings, SettingsError


def _fail(message: str) -> None:
    print(f"homeward: {message}", file=sys.stderr)
    raise SystemExit(2)


def _prepare(run_migrations: bool) -> Settings:
    from jobs.bootstrap import prepare

    try:
        return prepare(run_migrations=run_migrations)
    except SettingsError as exc:
        _fail(f"configuration error: {exc}")
        raise  # unreachable; keeps type checkers content


def _serve_http(settings: Settings, with_worker: bool) -> None:
    import uvicorn

    from jobs.first_run import ensure_first_admin, workspace_url
    from jobs.runner import JobMetrics
    from jobs.worker import Worker
    from service.app import create_app
    from service.clock import SystemClock
    from service.http.state import AppResources

    if settings.embedded_database:
        asyncio.run(ensure_first_admin(settings))

    hooks = []
    if with_worker:

        @asynccontextmanager
        async def worker_hook(res: AppResources) -> AsyncIterator[None]:
            # One process: the worker's figures join the API's /metrics.
            worker = Worker(
                res.sessionmaker,
                res.clock,
                settings.jobs_interval_seconds,
                extras=res.extras,
                metrics=JobMetrics(registry=res.extras["metrics_registry"]),
            )
            worker.start()
            try:
                yield
            finally:
                await worker.stop()

        hooks.append(worker_hook)

    app = create_app(settings, clock=SystemClock(), lifespan_hooks=hooks)
    print(
        f"Homeward listening on http://{settings.host}:{settings.port} (API docs at /docs)\n"
        f"Workspace: {workspace_url(settings)}",
        flush=True,
    )
    # uvicorn re-raises the stop signal once it has shut down; a plain SIGTERM would then
    # end the process without running exit handlers, leaving the embedded PostgreSQL up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Everything built so far (modules, the app, its routes and compiled statements) lives as
    # long as the process: moved out of the collector's reach, it is no longer re-scanned by
    # every full collection that request garbage triggers (about 10% of a patient read's CPU,
    # bench/api_read.py).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, **uvicorn_options(settings))


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How `serve` and `api` run uvicorn (tests start their live servers the same way)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        # Off: uvicorn would trust X-Forwarded-For from any loopback peer. The app reads it
        # only from TRUSTED_PROXIES (service.http.forwarded).
        "proxy_headers": False,
        "server_header": False,
        "timeout_graceful_shutdown": 20,
    }


def _run_worker(settings: Settings) -> None:
    from prometheus_client import start_http_server

    from db.engine import make_engine, make_sessionmaker
    from jobs.runner import JobMetrics
    from jobs.worker import Worker
    from service.clock import SystemClock
    from service.conversation.delivery import DELIVERY_HOOKS, STAFF_EMAIL_HOOKS
    from service.conversation.spool import SPOOL_KEY, InboundSpool
    from service.email.channel import EMAIL_CHANNEL_KEY, build_email_channel
    from service.health.metrics import sweep_collector
    from service.paging.channels import configure_staff_channels
    from service.sms.backends import open_channel
    from service.sms.gateway import CHANNEL_KEY

    async def main() -> None:
        assert settings.database_url is not None
        engine = make_engine(settings.database_url, pool_size=5)
        metrics = collector = None
        if settings.worker_metrics_port is not None:
            metrics = JobMetrics()
            collector = sweep_collector(metrics.registry)
            try:
                start_http_server(
                    settings.worker_metrics_port, addr=settings.host, registry=metrics.registry
                )
            except OSError as exc:
                _fail(f"cannot serve metrics on port {settings.worker_metrics_port}: {exc}")
        configure_staff_channels(settings)
        email_channel = build_email_channel(settings, STAFF_EMAIL_HOOKS)
        async with open_channel(settings, DELIVERY_HOOKS) as channel:
            # A worker sharing an API host's data folder replays that host's spool.
            extras: dict[str, object] = {
                CHANNEL_KEY: channel,
                SPOOL_KEY: InboundSpool.for_settings(settings),
            }
            if email_channel is not None:
                extras[EMAIL_CHANNEL_KEY] = email_channel
            worker = Worker(
                make_sessionmaker(engine),
                SystemClock(),
                settings.jobs_interval_seconds,
                extras=extras,
                metrics=metrics,
                collector=collector,
            )
            await _until_signalled(worker)
        await engine.dispose()

    async def _until_signalled(worker: Worker) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        worker.start()
        print("Homeward worker running; Ctrl-C to stop", flush=True)
        await stop.wait()
        await worker.stop()

    asyncio.run(main())


def _create_user(settings: Settings, args: argparse.Namespace) -> None:
    from jobs.first_run import create_user_from_cli

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user_id = asyncio.run(
            create_user_from_cli(
                settings,
                email=args.email,
                role=args.role,
                password=password,
                ward_id=args.ward_id,
                agency_id=args.agency_id,
                full_name=args.full_name,
            )
        )
    except ValueError as exc:
        _fail(str(exc))
        return
    print(user_id)


def _seed_demo(settings: Settings) -> None:
    from jobs.demo import seed_demo
    from service.paging.channels import configure_staff_channels

    # The demo raises escalations, so its alerts link to this deployment's board.
    configure_staff_channels(settings)
    asyncio.run(seed_demo(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homeward", description="Homeward service")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="API and job worker in one process (migrates first)")
    sub.add_parser("api", help="the HTTP API alone")
    sub.add_parser("worker", help="the job worker alone")
    sub.add_parser("migrate", help="apply database migrations")
    create = sub.add_parser("create-user", help="create a user; the password is read from stdin")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--ward-id")
    create.add_argument("--agency-id")
    create.add_argument("--full-name")
    sub.add_parser(
        "seed-demo", help="two demo wards with staff, an agency and months of patient history"
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    command = args.command
    if command == "serve":
        _serve_http(_prepare(run_migrations=True), with_worker=True)
    elif command == "api":
        _serve_http(_prepare(run_migrations=False), with_worker=False)
    elif command == "worker":
        _run_worker(_prepare(run_migrations=False))
    elif command == "migrate":
        _prepare(run_migrations=True)
        print("migrations applied")
    elif command == "create-user":
        _create_user(_prepare(run_migrations=False), args)
    elif command == "seed-demo":
        _seed_demo(_prepare(run_migrations=False))


if __name__ == "__main__":
    main()
