"""Eval sets as JSONL: one question per line with the quotes that answer it, validated on load."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from assistant.exceptions import AssistantError


class EvalSetError(AssistantError, ValueError):
    """A line of an eval set is not a valid question; names the file and line."""

    def __init__(self, path: Path | str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.problem = str(path), line, message


@dataclass(frozen=True)
class Relevant:
    """Evidence for an answer: a quote that must appear in a passage of `source`."""

    source: str
    quote: str


@dataclass(frozen=True)
class EvalItem:
    """One question. `relevant` is empty for questions the knowledge base cannot answer."""

    id: str
    question: str
    lang: str | None = None
    answerable: bool = True
    relevant: tuple[Relevant, ...] = field(default_factory=tuple)


def _text(data: dict[str, Any], key: str, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'"{key}" must be a non-empty string')
    return value


def _relevant(value: Any) -> tuple[Relevant, ...]:
    if not isinstance(value, list):
        raise ValueError('"relevant" must be a list of {"source", "quote"} objects')
    out = []
    for position, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ValueError(f'"relevant"[{position}] must be an object with "source" and "quote"')
        try:
            out.append(Relevant(str(_text(entry, "source")), str(_text(entry, "quote"))))
        except ValueError as exc:
            raise ValueError(f'"relevant"[{position}]: {exc}') from exc
    return tuple(out)


def parse_item(data: Any) -> EvalItem:
    """Validate one decoded line; raises ValueError with a message naming the bad field."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    item_id, question = str(_text(data, "id")), str(_text(data, "question"))
    lang = _text(data, "lang", required=False)
    answerable = data.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError('"answerable" must be true or false')
    relevant = _relevant(data.get("relevant", []))
    if answerable and not relevant:
        raise ValueError('an answerable question needs at least one "relevant" quote')
    if not answerable and relevant:
        raise ValueError('a question with "answerable": false cannot list "relevant" quotes')
    return EvalItem(item_id, question, lang, answerable, relevant)


def load_eval_set(path: Path) -> list[EvalItem]:
    """Read and validate an eval set; blank lines are skipped, ids must be unique.

    Raises:
        EvalSetError: the first malformed line, with its 1-based line number.
    """
    return read_records(path, parse_item, "the eval set holds no questions")


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


Record = TypeVar("Record", bound=_Identified)


def read_records(path: Path, parse: Callable[[Any], Record], empty: str) -> list[Record]:
    """Parse each non-blank JSON line of `path` with `parse`; ids must be unique, and there must be one.

    Raises:
        EvalSetError: the first malformed line (1-based), or `empty` (line 0) when there is none.
    """
    records: list[Record] = []
    seen: set[str] = set()
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = parse(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalSetError(path, number, f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
            except ValueError as exc:
                raise EvalSetError(path, number, str(exc)) from exc
            if record.id in seen:
                raise EvalSetError(path, number, f'duplicate id "{record.id}"')
            seen.add(record.id)
            records.append(record)
    if not records:
        raise EvalSetError(path, 0, empty)
    return records
