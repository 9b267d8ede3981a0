"""Each passage's sentences with their own vectors, so an answer quotes (and highlights) what answers by meaning.

A Polish question shares no words with the Finnish sentence that answers it; the sentence's vector
does share its meaning. Vectors are stored as float16 (half the memory; cosine error ~1e-3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from ingest.documents import Chunk
from ingest.sentences import heading_spans, sentence_spans

FILE = "sentences.npz"
# Shorter spans ("Yes.", a bullet's label) never answer a question on their own.
MIN_SENTENCE_CHARS = 8


def quotable_spans(text: str) -> list[tuple[int, int]]:
    """The sentence spans of a passage worth embedding and quoting.

    Headings and questions are left out: they restate a question's topic, so by meaning they score
    as high as the sentence that answers it ("Requesting a full tax invoice" above the steps, an FAQ's
    "Can I change my order?" above its answer), and quoting them answers nothing.
    """
    headings = heading_spans(text)
    return [
        (s, e)
        for s, e in sentence_spans(text)
        if e - s >= MIN_SENTENCE_CHARS
        and not text[s:e].rstrip().endswith("?")
        and not any(hs <= s and e <= he for hs, he in headings)
    ]


class SentenceIndex:
    """Sentence spans (offsets into a passage's text) and vectors, grouped by passage id."""

    def __init__(self, dim: int, rows: dict[int, tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.dim = dim
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = rows or {}

    def of(self, chunk_int: int) -> tuple[np.ndarray, np.ndarray]:
        """(spans (n, 2) int32, vectors (n, dim) float32) of one passage; empty when unknown."""
        found = self._rows.get(chunk_int)
        if found is None:
            return np.zeros((0, 2), dtype=np.int32), np.zeros((0, self.dim), dtype=np.float32)
        spans, vectors = found
        return spans, vectors.astype(np.float32)

    def add(self, chunk_ints: Sequence[int], spans: Sequence[np.ndarray], vectors: Sequence[np.ndarray]) -> None:
        for chunk_int, s, v in zip(chunk_ints, spans, vectors, strict=True):
            self._rows[int(chunk_int)] = (np.asarray(s, dtype=np.int32), np.asarray(v, dtype=np.float16))

    def keep_only(self, chunk_ints: Iterable[int]) -> None:
        wanted = set(chunk_ints)
        self._rows = {k: v for k, v in self._rows.items() if k in wanted}

    def count(self) -> int:
        return sum(len(s) for s, _ in self._rows.values())

    def save(self, folder: Path) -> list[Path]:
        ids = np.array(sorted(self._rows), dtype=np.int64)
        counts = np.array([len(self._rows[i][0]) for i in ids], dtype=np.int64)
        spans = [self._rows[i][0] for i in ids]
        vectors = [self._rows[i][1] for i in ids]
        path = folder / FILE
        with path.open("wb") as handle:
            np.savez(
                handle,
                dim=np.array([self.dim]),
                ids=ids,
                counts=counts,
                spans=np.vstack(spans) if spans else np.zeros((0, 2), dtype=np.int32),
                vectors=np.vstack(vectors) if vectors else np.zeros((0, self.dim), dtype=np.float16),
            )
        return [path]

    @classmethod
    def load(cls, folder: Path) -> SentenceIndex:
        with np.load(folder / FILE) as data:
            dim = int(data["dim"][0])
            ids, counts, spans, vectors = data["ids"], data["counts"], data["spans"], data["vectors"]
        bounds = np.concatenate([[0], np.cumsum(counts)])
        rows = {
            int(chunk_int): (spans[bounds[i] : bounds[i + 1]], vectors[bounds[i] : bounds[i + 1]])
            for i, chunk_int in enumerate(ids)
        }
        return cls(dim, rows)


def embed_sentences(
    chunks: Sequence[Chunk], embed: Callable[[list[str]], np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Spans and vectors of every quotable sentence of `chunks`, embedded in one call to `embed`."""
    per_chunk = [quotable_spans(c.text) for c in chunks]
    texts = [c.text[s:e] for c, spans in zip(chunks, per_chunk, strict=True) for s, e in spans]
    vectors = embed(texts)
    out_spans, out_vectors, row = [], [], 0
    for spans in per_chunk:
        out_spans.append(np.array(spans, dtype=np.int32).reshape(-1, 2))
        out_vectors.append(vectors[row : row + len(spans)])
        row += len(spans)
    return out_spans, out_vectors
