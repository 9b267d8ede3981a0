"""Sync configured sources inside `assistant serve`: on their schedules (APScheduler) or now, one sync at a time.

Syncs run in a background thread and publish a new index version, which the service swaps in
without blocking answers. Each source's last run is kept beside the index (IndexStore.source_runs),
so the manage page still knows it after a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from assistant.components import build_cache, build_sync_options
from assistant.service import KnowledgeService
from assistant.settings import Settings
from ingest.sources.base import SourceConfigError
from ingest.sources.config import Schedule
from ingest.sources.registry import Configured, load_sources
from ingest.sync import SourceReport, sync_sources

log = logging.getLogger(__name__)
MAX_FAILURES_KEPT = 100  # per source in the run log; the report has them all


def trigger_for(schedule: Schedule, name: str) -> BaseTrigger | None:
    """The APScheduler trigger of a schedule; None for a manual one. Raises SourceConfigError for a bad cron."""
    if schedule.every_s is not None:
        return IntervalTrigger(seconds=schedule.every_s)
    if schedule.cron is not None:
        try:
            return CronTrigger.from_crontab(schedule.cron, timezone=UTC)
        except ValueError as exc:
            raise SourceConfigError(
                f"source {name!r}: schedule {schedule.cron!r} is not a cron expression: {exc}"
            ) from exc
    return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_record(report: SourceReport, started: str, index_version: str, error: str | None = None) -> dict[str, Any]:
    """What the run log keeps of one source's run."""
    if error is None and report.error is not None:
        error = report.error.message
    outcome = "failed" if error else ("partial" if report.failed else "ok")
    return {
        "started_at": started,
        "finished_at": _now(),
        "seconds": round(report.seconds, 3),
        "outcome": outcome,
        "added": len(report.added),
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "removed": len(report.removed),
        "failed": len(report.failed),
        "embedded": report.embedded,
        "error": error,
        "index_version": index_version,
        "failures": [
            {"source": f.source, "reason": f.reason, "message": f.message} for f in report.failed[:MAX_FAILURES_KEPT]
        ],
    }


class SourceRunner:
    """The configured sources of one served index, their schedules, and the one sync allowed at a time."""

    def __init__(self, service: KnowledgeService, settings: Settings, configured: Sequence[Configured]) -> None:
        self.service = service
        self.settings = settings
        self.configured = list(configured)
        self.triggers = {c.name: trigger_for(c.schedule, c.name) for c in self.configured}
        self._run_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._running: str | None = None
        self._threads: list[threading.Thread] = []
        self._scheduler: BackgroundScheduler | None = None
        self.runs: dict[tuple[str, str], int] = {}  # runs by (source, outcome), for /metrics

    @classmethod
    def from_settings(cls, service: KnowledgeService, settings: Settings) -> SourceRunner:
        """Raises SourceConfigError when ASSISTANT_SOURCES_FILE is set but wrong."""
        configured = load_sources(settings.sources_file) if settings.sources_file else []
        return cls(service, settings, configured)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.configured]

    @property
    def running(self) -> str | None:
        with self._state_lock:
            return self._running

    def last_runs(self) -> dict[str, Any]:
        return self.service.store.source_runs()

    def next_run(self, name: str) -> str | None:
        scheduler = self._scheduler
        job = scheduler.get_job(name) if scheduler is not None else None
        when = getattr(job, "next_run_time", None) if job is not None else None
        return when.isoformat(timespec="seconds") if when else None

    # ---- running -------------------------------------------------------------------------------

    def run(self, names: Sequence[str] | None = None) -> list[SourceReport]:
        """Sync the named sources (default all) now, waiting for a sync already running to finish first."""
        with self._run_lock:
            return self._sync(names)

    def start(self, name: str) -> bool:
        """Sync one source in the background; False when a sync is already running."""
        if not self._run_lock.acquire(blocking=False):
            return False
        with self._state_lock:
            self._running = name
        thread = threading.Thread(target=self._work, args=([name],), name=f"sync-{name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return True

    def wait(self, timeout: float | None = None) -> None:
        """Block until background syncs started with start() end (for shutdown and tests)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def _work(self, names: list[str]) -> None:
        try:
            self._sync(names)
        finally:
            self._run_lock.release()

    def _sync(self, names: Sequence[str] | None) -> list[SourceReport]:
        chosen = [c for c in self.configured if names is None or c.name in names]
        with self._state_lock:
            self._running = ", ".join(c.name for c in chosen)
        started = _now()
        service, settings = self.service, self.settings
        cache = build_cache(settings)
        try:
            report = sync_sources(
                [c.source for c in chosen],
                service.store,
                service.embedder,
                cache,
                build_sync_options(settings),
                configured=self.names if names is None else None,
            )
            # Start loading the new version now, not on the next agent's request.
            service.retriever()
            records = {r.name: run_record(r, started, report.index_version) for r in report.sources if r.name}
            reports = report.sources
        except Exception as exc:  # noqa: BLE001 - the run log shows why; the served version stays as it was
            log.exception("sync of %s failed", ", ".join(c.name for c in chosen))
            reports = [SourceReport(c.name, c.source.kind) for c in chosen]
            message = str(exc) or type(exc).__name__
            records = {r.name: run_record(r, started, "", message) for r in reports}
        finally:
            cache.close()
            with self._state_lock:
                self._running = None
        with self._state_lock:
            runs = service.store.source_runs()
            runs.update(records)
            service.store.save_source_runs({k: v for k, v in runs.items() if k in self.names})
            for name, record in records.items():
                key = (name, str(record["outcome"]))
                self.runs[key] = self.runs.get(key, 0) + 1
        return reports

    # ---- schedules -----------------------------------------------------------------------------

    def start_schedules(self) -> None:
        """Run every scheduled source on its trigger, one at a time, in a background thread."""
        if self._scheduler is not None or not any(self.triggers.values()):
            return
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone=UTC,
        )
        for name, trigger in self.triggers.items():
            if trigger is not None:
                scheduler.add_job(self._scheduled, trigger, args=[name], id=name, name=f"sync {name}")
        scheduler.start()
        self._scheduler = scheduler
        log.info("source schedules running: %s", ", ".join(f"{n} next at {self.next_run(n)}" for n in self.triggers))

    def _scheduled(self, name: str) -> None:
        started = time.monotonic()
        self.run([name])
        log.info("scheduled sync of %s took %.1f s", name, time.monotonic() - started)

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.wait()
