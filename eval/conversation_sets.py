"""Conversation sets as JSONL: one dialogue per line, gold quotes per turn, validated on load.

A line: {"id", "lang"?, "split"?: "tune"|"holdout", "turns": [{"question", "relevant": [{"source",
"quote"}], "lang"?, "topic_switch"?: true}, ...]}. Each turn is checked like a line of a question
set (eval.sets), so gold matching is the same; `topic_switch` marks a later turn that starts a new
topic, where the history must be ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eval.sets import EvalItem, parse_item, read_records

Split = Literal["tune", "holdout"]
MAX_TURNS = 10


@dataclass(frozen=True)
class DialogueTurn:
    item: EvalItem  # id "<dialogue id>#<turn number from 1>"
    topic_switch: bool = False


@dataclass(frozen=True)
class Dialogue:
    id: str
    lang: str | None
    split: Split
    turns: tuple[DialogueTurn, ...]


def is_conversation_set(path: Path) -> bool:
    """Whether the .jsonl file's first dialogue has "turns" (a conversation set, not a question set)."""
    with Path(path).open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    data = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(data, dict) and "turns" in data
    return False


def parse_dialogue(data: Any) -> Dialogue:
    """Validate one decoded line; raises ValueError naming the bad field."""
    if not isinstance(data, dict):
        raise ValueError("each line must be a JSON object")
    dialogue_id = data.get("id")
    if not isinstance(dialogue_id, str) or not dialogue_id.strip():
        raise ValueError('"id" must be a non-empty string')
    lang = data.get("lang")
    split = data.get("split", "tune")
    if split not in ("tune", "holdout"):
        raise ValueError('"split" must be "tune" or "holdout"')
    turns = data.get("turns")
    if not isinstance(turns, list) or not 1 <= len(turns) <= MAX_TURNS:
        raise ValueError(f'"turns" must be a list of 1 to {MAX_TURNS} turns')
    parsed = []
    for number, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise ValueError(f'"turns"[{number - 1}] must be an object')
        switch = turn.get("topic_switch", False)
        if not isinstance(switch, bool) or (switch and number == 1):
            raise ValueError(f'"turns"[{number - 1}].topic_switch must be true or false, and only on a later turn')
        fields = {k: v for k, v in turn.items() if k != "topic_switch"}
        try:
            item = parse_item({"id": f"{dialogue_id}#{number}", "lang": fields.pop("lang", lang), **fields})
        except ValueError as exc:
            raise ValueError(f'"turns"[{number - 1}]: {exc}') from exc
        if not item.answerable:
            raise ValueError(f'"turns"[{number - 1}]: every turn needs gold ("relevant" quotes)')
        parsed.append(DialogueTurn(item, switch))
    return Dialogue(dialogue_id, lang if isinstance(lang, str) else None, split, tuple(parsed))


def load_conversation_set(path: Path) -> list[Dialogue]:
    """Read and validate a conversation set; ids must be unique.

    Raises:
        EvalSetError: the first malformed line, with its 1-based line number.
    """
    return read_records(path, parse_dialogue, "the conversation set holds no dialogues")
