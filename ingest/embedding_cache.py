"""Embeddings cached by (model, text hash) in SQLite, so no text is ever embedded twice."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ingest.embedder import Embedder


def text_key(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).hexdigest()


class EmbeddingCache:
    """A key-value store of float32 vectors. Safe to kill mid-write: SQLite commits are atomic."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for first in range(0, len(keys), 500):
            batch = list(keys[first : first + 500])
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch)
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def embed_with_cache(
    embedder: Embedder,
    cache: EmbeddingCache,
    texts: Sequence[str],
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Vectors for `texts`, embedding only the ones not cached. Returns (vectors, newly embedded)."""
    keys = [text_key(embedder.model_id, t) for t in texts]
    cached = cache.get_many(list(dict.fromkeys(keys)))
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in cached))
    # Longest first in model tokens across all slices: batches of like length pad less. Characters
    # are a poor proxy in a mixed-language corpus (a Thai and a Polish passage of the same
    # character count differ widely in tokens).
    missing.sort(key=embedder.count_tokens, reverse=True)
    if missing:
        # Commit in slices so a killed run keeps what it already paid for.
        for first in range(0, len(missing), 256):
            part = missing[first : first + 256]
            vectors = embedder.embed_documents(part, progress=progress)
            fresh = {text_key(embedder.model_id, t): v for t, v in zip(part, vectors, strict=True)}
            cache.put_many(fresh)
            cached.update(fresh)
    # The width of a cached vector, so that a lazy embedder is not loaded to learn it.
    width = len(next(iter(cached.values()))) if cached else embedder.dim
    out = np.zeros((len(texts), width), dtype=np.float32)
    for i, key in enumerate(keys):
        out[i] = cached[key]
    return out, len(missing)


def embed_queries_with_cache(embedder: Embedder, cache: EmbeddingCache, texts: Sequence[str]) -> np.ndarray:
    """Question vectors (query prompt), cached apart from passage vectors of the same text."""
    keys = [text_key(embedder.model_id, "query\x00" + t) for t in texts]
    cached = cache.get_many(list(dict.fromkeys(keys)))
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in cached))
    if missing:
        fresh = dict(
            zip(
                (text_key(embedder.model_id, "query\x00" + t) for t in missing),
                embedder.embed_queries(missing),
                strict=True,
            )
        )
        cache.put_many(fresh)
        cached.update(fresh)
    return np.vstack([cached[k] for k in keys]) if keys else np.zeros((0, embedder.dim), dtype=np.float32)
