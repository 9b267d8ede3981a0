"""From a sources file to Source objects: one builder per kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.sources.base import Source, SourceConfigError
from ingest.sources.config import Schedule, SourceConfig, read_sources
from ingest.sources.folder import FolderSource
from ingest.sources.json_records import RecordsSource
from ingest.sources.web import WebSource
from ingest.sources.zendesk import ZendeskSource

BUILDERS: dict[str, Callable[[SourceConfig], Source]] = {
    "folder": FolderSource.from_config,
    "web": WebSource.from_config,
    "zendesk": ZendeskSource.from_config,
    "json": RecordsSource.from_config,
}


@dataclass(frozen=True)
class Configured:
    """A source ready to sync, with the schedule `assistant serve` runs it on."""

    source: Source
    schedule: Schedule

    @property
    def name(self) -> str:
        return self.source.name


def build_sources(configs: list[SourceConfig]) -> list[Configured]:
    return [Configured(BUILDERS[c.kind](c), c.schedule) for c in configs]


def load_sources(path: Path) -> list[Configured]:
    """Every source of a sources file, each checked; raises SourceConfigError naming what is wrong."""
    return build_sources(read_sources(path))


def pick(sources: list[Configured], name: str | None) -> list[Configured]:
    """All sources, or the one called `name`."""
    if name is None:
        return sources
    chosen = [s for s in sources if s.name == name]
    if not chosen:
        known = ", ".join(s.name for s in sources) or "none"
        raise SourceConfigError(f"no source is called {name!r} (configured: {known})")
    return chosen
