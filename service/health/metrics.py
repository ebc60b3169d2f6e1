"""The sweeps' figures as Prometheus metrics, read from the database (so they cover every
worker, and the API can serve them too). The API refreshes them on each scrape; the worker
refreshes them on its own tick."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncSession

from service.health.sweeps import Backlog, JobsHealth, backlog, jobs_health
from service.identity.principal_cache import PrincipalCache


class SweepCollector(Collector):
    def __init__(self) -> None:
        self._health: JobsHealth | None = None
        self._backlog: Backlog | None = None

    async def refresh(self, session: AsyncSession, now: datetime, interval_seconds: float) -> None:
        self._health = await jobs_health(session, now, interval_seconds)
        self._backlog = await backlog(session, now)

    def collect(self) -> Iterator[Metric]:
        health, waiting = self._health, self._backlog
        if health is None or waiting is None:
            return
        last = GaugeMetricFamily(
            "homeward_sweep_last_success_timestamp_seconds",
            "When each sweep last completed (Unix time; 0: never)",
            labels=["sweep"],
        )
        stale = GaugeMetricFamily(
            "homeward_sweep_stale", "1 when a sweep is late by a few intervals", labels=["sweep"]
        )
        items = CounterMetricFamily(
            "homeward_sweep_items_handled",
            "Items handled by each sweep, all workers",
            labels=["sweep"],
        )
        errors = CounterMetricFamily(
            "homeward_sweep_item_errors",
            "Items that failed in each sweep, all workers",
            labels=["sweep"],
        )
        aside = GaugeMetricFamily(
            "homeward_sweep_items_set_aside",
            "Rows each sweep has set aside after repeated failures",
            labels=["sweep"],
        )
        for s in health.sweeps:
            at = s.last_succeeded_at.timestamp() if s.last_succeeded_at else 0.0
            last.add_metric([s.name], at)
            stale.add_metric([s.name], 1.0 if s.stale else 0.0)
            items.add_metric([s.name], s.items_handled)
            errors.add_metric([s.name], s.item_failures)
            aside.add_metric([s.name], s.set_aside)
        yield from (last, stale, items, errors, aside)
        yield GaugeMetricFamily(
            "homeward_outbox_oldest_due_age_seconds",
            "How long the oldest due queued text has waited (0: none waiting)",
            value=waiting.oldest_due_outbox_seconds or 0.0,
        )
        yield GaugeMetricFamily(
            "homeward_escalation_oldest_overdue_age_seconds",
            "How long the oldest open escalation has been past its acknowledge deadline (0: none)",
            value=waiting.oldest_overdue_escalation_seconds or 0.0,
        )


def sweep_collector(registry: CollectorRegistry) -> SweepCollector:
    collector = SweepCollector()
    registry.register(collector)
    return collector


class PrincipalCacheCollector(Collector):
    """This API process's principal cache: whether it may serve (its listener is connected)
    and how often it spared the principal query."""

    def __init__(self, cache: PrincipalCache) -> None:
        self._cache = cache

    def collect(self) -> Iterator[Metric]:
        cache = self._cache
        yield GaugeMetricFamily(
            "homeward_principal_cache_listening",
            "1 while the principal cache hears changes (its LISTEN connection is up) and serves",
            value=1.0 if cache.listening else 0.0,
        )
        lookups = CounterMetricFamily(
            "homeward_principal_cache_lookups",
            "Principal lookups while listening, by result (hit: no principal query)",
            labels=["result"],
        )
        lookups.add_metric(["hit"], cache.hits)
        lookups.add_metric(["miss"], cache.misses)
        yield lookups
        yield GaugeMetricFamily(
            "homeward_principal_cache_entries",
            "Tokens the principal cache holds now",
            value=cache.size,
        )


def principal_cache_collector(registry: CollectorRegistry, cache: PrincipalCache) -> None:
    registry.register(PrincipalCacheCollector(cache))
