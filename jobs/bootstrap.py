"""Start-up shared by every command: settings, logs, the database (embedded or not), secrets."""

from __future__ import annotations

import logging
from dataclasses import replace

from db import migrate
from db.embedded import start_embedded
from service.logging_setup import configure_logging
from service.settings import Settings, load_jwt_secret, load_settings

log = logging.getLogger("homeward.bootstrap")


def prepare(*, run_migrations: bool) -> Settings:
    """Settings with a reachable database URL and a JWT secret; migrations applied if asked.

    The embedded database is always migrated: it belongs to this process's data folder.
    """
    settings = load_settings()
    configure_logging(settings.log_level)
    if settings.database_url is None:
        url = start_embedded(settings.data_dir)
        settings = replace(settings.with_database(url), embedded_database=True)
        run_migrations = True
        log.info("embedded PostgreSQL ready")
    if not settings.jwt_secret:
        settings = replace(settings, jwt_secret=load_jwt_secret(settings.data_dir))
    if run_migrations:
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url)
        log.info("migrations applied")
    return settings
