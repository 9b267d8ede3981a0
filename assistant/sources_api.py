"""Manager routes under /v1/manage/sources (list, run now) and the per-source Prometheus metrics."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import APIRouter, FastAPI
from fastapi.params import Depends
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from assistant.errors import ApiError
from assistant.schemas import ErrorOut, FailureOut, SourceOut, SourceRunOut, SourcesOut
from assistant.service import KnowledgeService
from assistant.settings import Settings
from assistant.source_jobs import SourceRunner

ERRORS: dict[int | str, dict[str, object]] = {code: {"model": ErrorOut} for code in (404, 409)}


def _items_by_source(service: KnowledgeService) -> dict[str, int]:
    manifest = service.store.current_manifest()
    counts: dict[str, int] = {}
    for record in manifest.documents.values() if manifest else []:
        if record.origin:
            counts[record.origin] = counts.get(record.origin, 0) + 1
    return counts


def source_list(runner: SourceRunner) -> SourcesOut:
    runs, items = runner.last_runs(), _items_by_source(runner.service)
    running = runner.running
    out = []
    for configured in runner.configured:
        name = configured.name
        last = runs.get(name)
        state = "running" if running and name in running.split(", ") else (last["outcome"] if last else "never")
        out.append(
            SourceOut(
                name=name,
                kind=configured.source.kind,
                schedule=str(configured.schedule),
                next_run=runner.next_run(name),
                state=state,
                items=items.get(name, 0),
                last_run=SourceRunOut.model_validate(last) if last else None,
                failures=[FailureOut(**f) for f in (last or {}).get("failures", [])],
            )
        )
    return SourcesOut(running=running, sources=out)


def sources_router(runner: SourceRunner, dependencies: Sequence[Depends] = ()) -> APIRouter:
    router = APIRouter(prefix="/v1/manage/sources", tags=["manage"], dependencies=list(dependencies), responses=ERRORS)

    @router.get("", response_model=SourcesOut, summary="Configured sources: status, last run, counts, next run")
    def sources() -> SourcesOut:
        return source_list(runner)

    @router.post("/{name}/run", status_code=202, response_model=SourcesOut, summary="Sync one source now")
    def run_now(name: str) -> SourcesOut:
        if name not in runner.names:
            raise ApiError(404, "unknown_source", f"No source is called {name}; the sources file names them.")
        if not runner.start(name):
            raise ApiError(
                409, "sync_running", f"A sync of {runner.running or 'a source'} is running; try again later."
            )
        return source_list(runner)

    return router


class SourceMetrics:
    """Read at scrape time from the index and the run log: items, failures and duration per source."""

    def __init__(self, runner: SourceRunner) -> None:
        self.runner = runner

    def collect(self) -> Iterator[Metric]:
        runner = self.runner
        items = GaugeMetricFamily(
            "assistant_source_items", "Documents of each source in the live index", labels=["source"]
        )
        failures = GaugeMetricFamily(
            "assistant_source_failures",
            "Items the source's last sync could not read (plus 1 when the whole source failed)",
            labels=["source"],
        )
        seconds = GaugeMetricFamily(
            "assistant_source_sync_seconds", "Duration of the source's last sync", labels=["source"]
        )
        runs = CounterMetricFamily(
            "assistant_source_syncs", "Syncs since start, by outcome", labels=["source", "outcome"]
        )
        counts, last_runs = _items_by_source(runner.service), runner.last_runs()
        for name in runner.names:
            items.add_metric([name], counts.get(name, 0))
            last = last_runs.get(name)
            if last:
                failures.add_metric([name], int(last["failed"]) + (1 if last["error"] else 0))
                seconds.add_metric([name], float(last["seconds"]))
        for (name, outcome), count in sorted(runner.runs.items()):
            runs.add_metric([name, outcome], count)
        yield from (items, failures, seconds, runs)


def install_sources(
    app: FastAPI,
    service: KnowledgeService,
    settings: Settings,
    registry: CollectorRegistry,
    dependencies: Sequence[Depends],
) -> SourceRunner:
    """Routes, metrics and the runner (app.state.sources); `assistant serve` starts its schedules.

    Raises:
        SourceConfigError: the configured sources file is wrong.
    """
    runner = SourceRunner.from_settings(service, settings)
    app.state.sources = runner
    app.include_router(sources_router(runner, dependencies))
    registry.register(SourceMetrics(runner))  # type: ignore[arg-type]
    return runner
