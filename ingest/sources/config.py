"""The sources file: one `[[source]]` TOML table per source, checked strictly so a typo cannot widen access."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.sources.base import SourceConfigError, SourceUnauthorized

KINDS = ("folder", "web", "zendesk", "json")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_EVERY = re.compile(r"every\s+(\d+)\s*([smhd])", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MISSING = object()


@dataclass(frozen=True)
class Schedule:
    """When `assistant serve` syncs a source: every N seconds, on a cron expression, or only by hand."""

    every_s: int | None = None
    cron: str | None = None

    @property
    def manual(self) -> bool:
        return self.every_s is None and self.cron is None

    def __str__(self) -> str:
        if self.every_s is not None:
            return f"every {self.every_s} s"
        return self.cron or "manual"


def parse_schedule(text: str, where: str) -> Schedule:
    """'every 30m' / 'every 6h' / 'every 1d', a five-field cron expression, or 'manual'."""
    text = text.strip()
    if text in ("", "manual"):
        return Schedule()
    match = _EVERY.fullmatch(text)
    if match:
        seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
        if seconds < 1:
            raise SourceConfigError(f"{where}: schedule {text!r} must be at least one second")
        return Schedule(every_s=seconds)
    if len(text.split()) == 5:
        return Schedule(cron=text)
    raise SourceConfigError(
        f"{where}: schedule {text!r} is not 'every 30m', a cron expression like '0 3 * * *' or 'manual'"
    )


class Options:
    """A source's kind-specific keys, read with a type each; unknown keys are an error (see finish)."""

    def __init__(self, where: str, table: dict[str, Any]) -> None:
        self.where = where
        self._table = table
        self._used: set[str] = set()

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], label: str) -> Any:
        self._used.add(key)
        if key not in self._table:
            if default is _MISSING:
                raise SourceConfigError(f"{self.where}: `{key}` is required")
            return default
        value = self._table[key]
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise SourceConfigError(f"{self.where}: `{key}` must be {label}, not {value!r}")
        return value

    def text(self, key: str, default: Any = _MISSING) -> Any:
        return self._get(key, default, (str,), "a string")

    def integer(self, key: str, default: Any = _MISSING, minimum: int = 0) -> Any:
        value = self._get(key, default, (int,), "a whole number")
        if isinstance(value, int) and value < minimum:
            raise SourceConfigError(f"{self.where}: `{key}` must be at least {minimum}")
        return value

    def number(self, key: str, default: Any = _MISSING) -> float:
        value = self._get(key, default, (int, float), "a number")
        if value < 0:
            raise SourceConfigError(f"{self.where}: `{key}` must not be negative")
        return float(value)

    def flag(self, key: str, default: bool) -> bool:
        return bool(self._get(key, default, (bool,), "true or false"))

    def texts(self, key: str, default: Any = _MISSING) -> tuple[str, ...]:
        value = self._get(key, default, (list, tuple), "a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise SourceConfigError(f"{self.where}: `{key}` must be a list of strings")
        return tuple(value)

    def ids(self, key: str) -> tuple[str, ...]:
        """A list of ids written as numbers or strings (Zendesk section ids are numbers)."""
        value = self._get(key, (), (list, tuple), "a list of ids")
        if not all(isinstance(v, int | str) and not isinstance(v, bool) for v in value):
            raise SourceConfigError(f"{self.where}: `{key}` must be a list of ids")
        return tuple(str(v) for v in value)

    def mapping(self, key: str, default: Any = _MISSING) -> dict[str, str]:
        value = self._get(key, default, (dict,), "a table of strings")
        if not all(isinstance(v, str) for v in value.values()):
            raise SourceConfigError(f"{self.where}: `{key}` must be a table of strings")
        return dict(value)

    def finish(self) -> None:
        unknown = sorted(set(self._table) - self._used)
        if unknown:
            raise SourceConfigError(f"{self.where}: unknown key {', '.join(unknown)}")


@dataclass
class SourceConfig:
    """The keys every kind has; `options` holds the kind's own, read by the kind's module."""

    name: str
    kind: str
    groups: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    schedule: Schedule = field(default_factory=Schedule)
    options: Options = field(default_factory=lambda: Options("", {}))
    base_dir: Path = Path(".")  # relative paths in the file are relative to the file


def parse_sources(text: str, base_dir: Path = Path(".")) -> list[SourceConfig]:
    """Every `[[source]]` table of a sources file.

    Raises:
        SourceConfigError: naming the source and key that is wrong.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourceConfigError(f"the sources file is not valid TOML: {exc}") from exc
    extra = sorted(set(data) - {"source"})
    if extra:
        raise SourceConfigError(f"the sources file has unknown top-level key {', '.join(extra)}; use [[source]] tables")
    tables = data.get("source", [])
    if not isinstance(tables, list):
        raise SourceConfigError("`source` must be [[source]] tables")
    configs, names = [], set()
    for position, table in enumerate(tables, start=1):
        where = f"source #{position}"
        options = Options(where, dict(table))
        name = options.text("name")
        where = options.where = f"source {name!r}"
        if not _NAME.fullmatch(name):
            raise SourceConfigError(
                f"{where}: name must be lower-case letters, digits, '-' or '_' (it prefixes documents)"
            )
        if name in names:
            raise SourceConfigError(f"{where}: two sources have this name")
        names.add(name)
        kind = options.text("kind")
        if kind not in KINDS:
            raise SourceConfigError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        schedule = parse_schedule(options.text("schedule", "manual"), where)
        groups, tags = options.texts("groups", ()), options.texts("tags", ())
        configs.append(SourceConfig(name, kind, groups, tags, schedule, options, base_dir))
    return configs


def read_sources(path: Path) -> list[SourceConfig]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceConfigError(f"the sources file {path} could not be read: {exc.strerror or exc}") from exc
    return parse_sources(text, path.resolve().parent)


def env_secret(variable: str, where: str) -> str:
    """A credential from the environment; the sources file names the variable, never the secret."""
    value = os.environ.get(variable, "")
    if not value:
        raise SourceUnauthorized(f"{where}: the environment variable {variable} (token_env) is not set")
    return value
