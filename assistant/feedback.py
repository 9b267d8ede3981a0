"""Agents' ratings and the question log (SQLite or PostgreSQL), and the content gaps they reveal."""

from __future__ import annotations

import json
import logging
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from assistant.database import Database

log = logging.getLogger(__name__)

Rating = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id {pk},
    asked_at TEXT NOT NULL,
    question TEXT NOT NULL,
    normalised TEXT NOT NULL,
    language TEXT NOT NULL,
    found INTEGER NOT NULL,
    index_version TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id {pk},
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    normalised TEXT NOT NULL,
    answer TEXT NOT NULL,
    found INTEGER NOT NULL,
    index_version TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT,
    sources TEXT NOT NULL,
    answer_id TEXT
);
CREATE INDEX IF NOT EXISTS questions_not_found ON questions (found, normalised);
CREATE INDEX IF NOT EXISTS feedback_rating ON feedback (rating, normalised);
"""

# Both kinds of miss, one row per event, so a question counts once per time it failed an agent.
_GAPS = """
SELECT normalised, COUNT(*) AS total, SUM(CASE WHEN kind = 'not_found' THEN 1 ELSE 0 END),
    SUM(CASE WHEN kind = 'down' THEN 1 ELSE 0 END), MAX(at)
FROM (
    SELECT normalised, 'not_found' AS kind, asked_at AS at FROM questions WHERE found = 0
    UNION ALL
    SELECT normalised, 'down', created_at FROM feedback WHERE rating = 'down'
) AS misses
GROUP BY normalised
ORDER BY total DESC, MAX(at) DESC
LIMIT ?
"""


@dataclass
class Feedback:
    question: str
    answer: str
    found: bool
    index_version: str
    rating: Rating
    comment: str | None = None
    sources: list[str] = field(default_factory=list)
    answer_id: str | None = None  # the conversation turn rated, when the answer came from one


@dataclass
class Gap:
    """Questions the knowledge base failed, grouped by their normalised text."""

    question: str
    count: int
    not_found: int
    thumbs_down: int
    last_seen: str
    comments: list[str]


def normalise_question(text: str) -> str:
    """Case, width, punctuation and spacing do not make two questions different."""
    text = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(ch).startswith(("P", "S")) else ch for ch in text)
    return " ".join(kept.split())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class FeedbackLog:
    """One connection shared by the server's threads, serialised by a lock.

    Args:
        target: a SQLite file, or a postgresql:// URL shared by every replica.
    """

    def __init__(self, target: Path | str) -> None:
        self._lock = threading.Lock()
        self._db = Database(target)
        self.name = self._db.name
        self._db.ddl(_SCHEMA)
        # Logs made before answers had ids lack the column; add it in place.
        if "answer_id" not in self._db.columns("feedback"):
            self._db.execute("ALTER TABLE feedback ADD COLUMN answer_id TEXT")

    def record_feedback(self, feedback: Feedback) -> int:
        row = (
            _now(),
            feedback.question,
            normalise_question(feedback.question),
            feedback.answer,
            int(feedback.found),
            feedback.index_version,
            feedback.rating,
            feedback.comment or None,
            json.dumps(feedback.sources, ensure_ascii=False),
            feedback.answer_id,
        )
        with self._lock, self._db.transaction():
            (feedback_id,) = self._db.execute(
                "INSERT INTO feedback (created_at, question, normalised, answer, found, index_version,"
                " rating, comment, sources, answer_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                row,
            ).fetchone()
        return int(feedback_id)

    def record_question(self, question: str, language: str, found: bool, index_version: str) -> int | None:
        """Log one asked question; a logging failure is reported, never allowed to fail the answer."""
        question = question.strip()
        row = (_now(), question, normalise_question(question), language, int(found), index_version)
        try:
            with self._lock, self._db.transaction():
                (question_id,) = self._db.execute(
                    "INSERT INTO questions (asked_at, question, normalised, language, found, index_version)"
                    " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    row,
                ).fetchone()
        except self._db.Error as exc:
            log.warning("could not log a question to %s: %s", self.name, exc)
            return None
        return int(question_id)

    def content_gaps(self, limit: int = 50) -> list[Gap]:
        """Questions that found nothing or got a thumbs down, most frequent first."""
        with self._lock:
            rows = self._db.execute(_GAPS, (limit,)).fetchall()
            gaps = []
            for normalised, total, not_found, down, last_seen in rows:
                gaps.append(Gap(self._latest_wording(normalised), total, not_found, down, last_seen, []))
                gaps[-1].comments = [
                    c
                    for (c,) in self._db.execute(
                        "SELECT comment FROM feedback WHERE normalised = ? AND rating = 'down' AND comment IS NOT NULL"
                        " ORDER BY created_at DESC LIMIT 10",
                        (normalised,),
                    )
                ]
        return gaps

    def _latest_wording(self, normalised: str) -> str:
        row = self._db.execute(
            "SELECT question, at FROM (SELECT question, asked_at AS at FROM questions WHERE normalised = ?"
            " UNION ALL SELECT question, created_at FROM feedback WHERE normalised = ?) AS wordings"
            " ORDER BY at DESC LIMIT 1",
            (normalised, normalised),
        ).fetchone()
        return str(row[0]) if row else normalised

    def close(self) -> None:
        with self._lock:
            self._db.close()
