"""Re-index the served folder in a background thread, one run at a time, with progress a page can poll."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from assistant.components import build_cache, build_sync_options
from assistant.service import KnowledgeService
from assistant.settings import Settings
from ingest.sync import sync_folder

log = logging.getLogger(__name__)

State = Literal["idle", "running", "done", "failed"]
STAGES = ("files", "chunks", "embedding")


class StageProgress:
    """The `Progress` of ingest.sync, readable from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages = {stage: [0, 0] for stage in STAGES}

    def begin(self, stage: str, total: int) -> None:
        with self._lock:
            self._stages[stage] = [0, total]

    def advance(self, stage: str, n: int = 1) -> None:
        with self._lock:
            self._stages.setdefault(stage, [0, 0])[0] += n

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {stage: {"done": done, "total": total} for stage, (done, total) in self._stages.items()}


@dataclass
class IngestStatus:
    state: State
    stages: dict[str, dict[str, int]]
    report: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class _Run:
    state: State = "idle"
    progress: StageProgress = field(default_factory=StageProgress)
    report: dict[str, Any] | None = None
    error: str | None = None


class IngestJob:
    """Runs `sync_folder` over the served index with the service's own embedder."""

    def __init__(self, service: KnowledgeService, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self._lock = threading.Lock()
        self._run = _Run()
        self._thread: threading.Thread | None = None

    def start(self, root: Path) -> bool:
        """Start a re-index of `root`; False if one is already running."""
        with self._lock:
            if self._run.state == "running":
                return False
            self._run = run = _Run(state="running")
            self._thread = threading.Thread(target=self._work, args=(root, run), name="reindex", daemon=True)
            self._thread.start()
        return True

    def status(self) -> IngestStatus:
        with self._lock:
            run = self._run
            return IngestStatus(run.state, run.progress.snapshot(), run.report, run.error)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current run ends (for shutdown and tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _work(self, root: Path, run: _Run) -> None:
        service, settings = self.service, self.settings
        cache = None
        try:
            cache = build_cache(settings)
            report = sync_folder(
                root,
                service.store,
                service.embedder,
                cache,
                build_sync_options(settings),
                run.progress,
            )
            # Start loading the new version now, not on the next agent's request.
            service.retriever()
            outcome: tuple[State, dict[str, Any] | None, str | None] = ("done", report.to_dict(), None)
            log.info("re-index of %s published %s", root, report.index_version)
        except Exception as exc:  # noqa: BLE001 - the page shows why; the served version stays as it was
            log.exception("re-index of %s failed", root)
            outcome = ("failed", None, str(exc) or type(exc).__name__)
        finally:
            if cache is not None:
                cache.close()
        with self._lock:
            run.state, run.report, run.error = outcome
