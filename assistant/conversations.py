"""Conversations kept server-side (SQLite or PostgreSQL): each caller's recent turns, bounded in size and age.

A conversation belongs to the caller (API key name) that started it. Another caller's id answers
exactly like an unknown one, so ids cannot be probed across keys.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.database import Database
from assistant.exceptions import AssistantError

log = logging.getLogger(__name__)
# secrets.token_urlsafe(16): 128 random bits in 22 URL-safe characters.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    {rowid}
    id TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    {rowid}
    answer_id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    asked_at DOUBLE PRECISION NOT NULL,
    question TEXT NOT NULL,
    searched_for TEXT NOT NULL,
    language TEXT NOT NULL,
    cited TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_caller ON conversations (caller, updated_at);
CREATE INDEX IF NOT EXISTS turns_conversation ON turns (conversation_id, asked_at);
"""


class InvalidConversationId(AssistantError):
    """The id is not one this server could have issued (wrong length or characters)."""

    status = 422
    code = "invalid_conversation_id"


class ConversationNotFound(AssistantError):
    """No live conversation of this caller has the id: never existed, expired, deleted or another caller's."""

    status = 404
    code = "conversation_not_found"


@dataclass(frozen=True)
class Turn:
    """One question of a conversation and what answered it; `cited` holds passage keys (source#chunk)."""

    question: str
    searched_for: str
    language: str
    cited: tuple[str, ...] = field(default_factory=tuple)
    answer_id: str = ""


def new_id() -> str:
    return secrets.token_urlsafe(16)


def check_id(value: str, what: str = "conversation_id") -> str:
    """`value` if it has the shape of an issued id; raises InvalidConversationId otherwise."""
    if not ID_PATTERN.fullmatch(value):
        raise InvalidConversationId(f"{what} must be the 22-character id a previous answer returned.")
    return value


class ConversationStore:
    """One connection (a SQLite file or a postgresql:// URL) shared by the server's threads, serialised by a lock.

    Bounds: at most `max_turns` turns per conversation (oldest dropped), `max_per_caller`
    conversations per caller (least recently used dropped) and `ttl_s` seconds since a
    conversation's last turn.
    """

    def __init__(
        self,
        target: Path | str,
        max_turns: int = 20,
        max_per_caller: int = 200,
        ttl_s: float = 86_400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_turns = max_turns
        self.max_per_caller = max_per_caller
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        # On SQLite as for the question log: an application crash loses nothing, a power cut the last turns.
        self._db = Database(target)
        self.name = self._db.name  # the SQLite file, or the database URL without its password
        self._db.ddl(_SCHEMA)

    def _live(self, caller: str, conversation_id: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM conversations WHERE id = ? AND caller = ? AND updated_at >= ?",
            (conversation_id, caller, self.clock() - self.ttl_s),
        ).fetchone()
        return row is not None

    def history(self, caller: str, conversation_id: str, limit: int | None = None) -> list[Turn]:
        """The conversation's turns, oldest first (the last `limit` when given).

        Raises:
            InvalidConversationId, ConversationNotFound.
        """
        check_id(conversation_id)
        with self._lock:
            if not self._live(caller, conversation_id):
                raise ConversationNotFound(f"There is no conversation {conversation_id}; it may have expired.")
            rows = self._db.execute(
                "SELECT question, searched_for, language, cited, answer_id FROM turns"
                " WHERE conversation_id = ? ORDER BY asked_at DESC, rowid DESC LIMIT ?",
                (conversation_id, limit if limit is not None else self.max_turns),
            ).fetchall()
        return [Turn(q, s, lang, tuple(json.loads(c)), a) for q, s, lang, c, a in reversed(rows)]

    def start(self, caller: str) -> str:
        """A new empty conversation of `caller`; drops expired ones and this caller's oldest beyond the bound."""
        conversation_id = new_id()
        now = self.clock()
        with self._lock, self._db.transaction():
            self._db.execute("DELETE FROM conversations WHERE updated_at < ?", (now - self.ttl_s,))
            self._db.execute(
                "INSERT INTO conversations (id, caller, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (conversation_id, caller, now, now),
            )
            self._db.execute(
                "DELETE FROM conversations WHERE caller = ? AND id NOT IN"
                " (SELECT id FROM conversations WHERE caller = ? ORDER BY updated_at DESC, rowid DESC LIMIT ?)",
                (caller, caller, self.max_per_caller),
            )
        return conversation_id

    def add_turn(self, caller: str, conversation_id: str, turn: Turn) -> str:
        """Append `turn` and return its new answer id; the oldest turns beyond `max_turns` are dropped.

        Raises:
            ConversationNotFound: the conversation expired or was deleted meanwhile.
        """
        answer_id = new_id()
        now = self.clock()
        with self._lock, self._db.transaction():
            if not self._live(caller, conversation_id):
                raise ConversationNotFound(f"There is no conversation {conversation_id}; it may have expired.")
            self._db.execute(
                "INSERT INTO turns (answer_id, conversation_id, asked_at, question, searched_for, language, cited)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    conversation_id,
                    now,
                    turn.question,
                    turn.searched_for,
                    turn.language,
                    json.dumps(list(turn.cited), ensure_ascii=False),
                ),
            )
            self._db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id))
            self._db.execute(
                "DELETE FROM turns WHERE conversation_id = ? AND answer_id NOT IN (SELECT answer_id FROM turns"
                " WHERE conversation_id = ? ORDER BY asked_at DESC, rowid DESC LIMIT ?)",
                (conversation_id, conversation_id, self.max_turns),
            )
        return answer_id

    def delete(self, caller: str, conversation_id: str) -> None:
        """Forget the conversation and its turns.

        Raises:
            InvalidConversationId, ConversationNotFound.
        """
        check_id(conversation_id)
        with self._lock, self._db.transaction():
            deleted = self._db.execute(
                "DELETE FROM conversations WHERE id = ? AND caller = ?", (conversation_id, caller)
            ).rowcount
        if not deleted:
            raise ConversationNotFound(f"There is no conversation {conversation_id}; it may have expired.")

    def owns_answer(self, caller: str, answer_id: str) -> bool:
        """Whether `answer_id` is a turn of one of this caller's live conversations."""
        if not ID_PATTERN.fullmatch(answer_id):
            return False
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM turns JOIN conversations ON conversations.id = turns.conversation_id"
                " WHERE answer_id = ? AND caller = ? AND updated_at >= ?",
                (answer_id, caller, self.clock() - self.ttl_s),
            ).fetchone()
        return row is not None

    def count(self, caller: str) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM conversations WHERE caller = ?", (caller,)).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
