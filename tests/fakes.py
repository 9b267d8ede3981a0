"""A deterministic embedder for unit tests: hashed bag of analysed words, so shared words mean similarity."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from ingest.analyzer import analyze
from ingest.embedder import normalise, rough_token_count


def _word_vector(word: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class FakeEmbedder:
    """Same interface as SentenceTransformerEmbedder; counts every text it embeds."""

    def __init__(self, dim: int = 256, model_id: str = "fake-embedder") -> None:
        self.dim = dim
        self.model_id = model_id
        self.embedded: list[str] = []

    def _embed(self, text: str) -> np.ndarray:
        words = analyze(text, "en") or ["<empty>"]
        return np.sum([_word_vector(w, self.dim) for w in words], axis=0)

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        self.embedded.extend(texts)
        if progress is not None:
            progress(len(texts))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.vstack([self._embed(t) for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return normalise(self._embed(text)[None, :])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self.embed_query(t) for t in texts])

    def count_tokens(self, text: str) -> int:
        return rough_token_count(text)


def unit_vector(dim: int, *parts: tuple[int, float]) -> np.ndarray:
    """A unit vector with the given (axis, weight) parts, for collections whose geometry a test sets."""
    vector = np.zeros(dim, dtype=np.float32)
    for axis, value in parts:
        vector[axis] = value
    return normalise(vector[None, :])[0]


class TableEmbedder:
    """Vectors looked up in a table: passages by their first paragraph, sentences and questions by their text.

    Anything not in the table gets the last axis, so it is near nothing a test placed.
    """

    model_id = "table-embedder"

    def __init__(self, vectors: dict[str, np.ndarray], dim: int) -> None:
        self.vectors, self.dim = vectors, dim

    def _vector(self, text: str) -> np.ndarray:
        return self.vectors.get(text.split("\n\n")[0], np.eye(self.dim, dtype=np.float32)[self.dim - 1])

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        return np.vstack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.vstack([self._vector(t) for t in texts])

    def count_tokens(self, text: str) -> int:
        return rough_token_count(text)
