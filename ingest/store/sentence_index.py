"""Each passage's sentences with their own vectors, so an answer quotes (and highlights) what answers by meaning.

A Polish question shares no words with the Finnish sentence that answers it; the sentence's vector
does share its meaning. Vectors are stored as float16 (half the memory; cosine error ~1e-3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from ingest.documents import Chunk
from ingest.sentences import heading_spans, sentence_spans
from ingest.store.durable import save_arrays

# Versions of index format 1 kept every passage's sentences in one file of their own folder.
LEGACY_FILE = "sentences.npz"
# A segment's sentences: which rows belong to which passage, the spans, the vectors (ingest.store.segments).
ROWS_FILE = "sentence_rows.npy"  # (passages, 3) int64: passage id, first row, end row; sorted by id
SPANS_FILE = "sentence_spans.npy"  # (rows, 2) int32
VECTORS_FILE = "sentence_vectors.npy"  # (rows, dim) float16
FILES = (ROWS_FILE, SPANS_FILE, VECTORS_FILE)
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


def _empty_ids() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


class SentenceIndex:
    """Sentence spans (offsets into a passage's text) and float16 vectors, looked up by passage id.

    Packed, not one small array per passage: each part (a segment's files, or one `add`) is one spans
    array and one vectors array, and one table sorted by passage id says where each passage's rows are.
    A part read with `mmap` stays in its files: only the rows asked for are read.
    """

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        # One row per passage, sorted by id: which part, and the passage's rows [start, end) in it.
        self._ids, self._part = _empty_ids(), np.zeros(0, dtype=np.int32)
        self._start, self._end = _empty_ids(), _empty_ids()

    def _stored(self, chunk_int: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The passage's rows as stored (float16, possibly still in a mapped file); None when unknown."""
        at = int(np.searchsorted(self._ids, chunk_int))
        if at == len(self._ids) or self._ids[at] != chunk_int:
            return None
        spans, vectors = self._parts[self._part[at]]
        start, end = self._start[at], self._end[at]
        return spans[start:end], vectors[start:end]

    def of(self, chunk_int: int) -> tuple[np.ndarray, np.ndarray]:
        """(spans (n, 2) int32, vectors (n, dim) float32) of one passage; empty when unknown."""
        found = self._stored(chunk_int)
        if found is None:
            return _no_spans(), np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(found[0]), found[1].astype(np.float32)

    def add(self, chunk_ints: Sequence[int], spans: Sequence[np.ndarray], vectors: Sequence[np.ndarray]) -> None:
        """Add passages' sentences as one new part; a passage already held gets the new rows."""
        counts = np.array([len(s) for s in spans], dtype=np.int64)
        if len(counts) != len(chunk_ints) or len(vectors) != len(chunk_ints):
            raise ValueError("one spans and one vectors array per passage")
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        packed_spans = np.vstack([np.asarray(s, dtype=np.int32).reshape(-1, 2) for s in spans] or [_no_spans()])
        packed_vectors = np.vstack(
            [np.asarray(v, dtype=np.float16).reshape(-1, self.dim) for v in vectors] or [self._no_vectors()]
        )
        self._include(np.asarray(chunk_ints, dtype=np.int64), bounds[:-1], bounds[1:], packed_spans, packed_vectors)

    def _no_vectors(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float16)

    def _include(
        self, ids: np.ndarray, starts: np.ndarray, ends: np.ndarray, spans: np.ndarray, vectors: np.ndarray
    ) -> None:
        self._parts.append((spans, vectors))
        part = np.full(len(ids), len(self._parts) - 1, dtype=np.int32)
        all_ids = np.concatenate([self._ids, ids])
        columns = [np.concatenate(pair) for pair in ((self._part, part), (self._start, starts), (self._end, ends))]
        # Sort by id; of the rows of one id the last one added wins.
        order = np.argsort(all_ids, kind="stable")
        sorted_ids = all_ids[order]
        last = np.append(sorted_ids[1:] != sorted_ids[:-1], True) if len(sorted_ids) else np.zeros(0, dtype=bool)
        keep = order[last]
        self._ids = all_ids[keep]
        self._part, self._start, self._end = (c[keep] for c in columns)

    def include(self, other: SentenceIndex) -> None:
        """Hold `other`'s passages too (their arrays are shared, not copied); on a shared id `other` wins."""
        for index, (spans, vectors) in enumerate(other._parts):
            mine = other._part == index
            self._include(other._ids[mine], other._start[mine], other._end[mine], spans, vectors)

    def keep_only(self, chunk_ints: Iterable[int]) -> None:
        """Forget every passage but these (the arrays stay; only the table shrinks)."""
        keep = np.isin(self._ids, np.fromiter(chunk_ints, dtype=np.int64))
        self._ids, self._part = self._ids[keep], self._part[keep]
        self._start, self._end = self._start[keep], self._end[keep]

    def count(self) -> int:
        return int((self._end - self._start).sum())

    def save(self, folder: Path, chunk_ints: Iterable[int] | None = None) -> list[Path]:
        """Write the sentences of `chunk_ints` (default: all held) packed into FILES under `folder`."""
        ids = self._ids if chunk_ints is None else np.unique(np.fromiter(chunk_ints, dtype=np.int64))
        spans, vectors = self.rows(ids)
        counts = np.array([len(s) for s in spans], dtype=np.int64)
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        arrays = {
            ROWS_FILE: np.stack([ids, bounds[:-1], bounds[1:]], axis=1),
            SPANS_FILE: np.vstack(spans or [_no_spans()]).astype(np.int32),
            VECTORS_FILE: np.vstack(vectors or [self._no_vectors()]).astype(np.float16),
        }
        return save_arrays(folder, arrays)

    def rows(self, chunk_ints: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The stored spans and float16 vectors of each passage (empty for unknown ones)."""
        found = [self._stored(i) or (_no_spans(), self._no_vectors()) for i in chunk_ints.tolist()]
        return [np.asarray(s) for s, _ in found], [np.asarray(v) for _, v in found]

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> SentenceIndex:
        """The sentences saved under `folder`; with `mmap` the spans and vectors stay in their files."""
        mode: Literal["r"] | None = "r" if mmap else None
        table = np.load(folder / ROWS_FILE, allow_pickle=False)
        spans = np.load(folder / SPANS_FILE, mmap_mode=mode, allow_pickle=False)
        vectors = np.load(folder / VECTORS_FILE, mmap_mode=mode, allow_pickle=False)
        index = cls(int(vectors.shape[1]))
        index._include(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy(), spans, vectors)
        return index

    @classmethod
    def load_legacy(cls, folder: Path) -> SentenceIndex:
        """A format-1 version's sentences.npz (read whole: an npz cannot be mapped)."""
        with np.load(folder / LEGACY_FILE) as data:
            dim = int(data["dim"][0])
            ids, counts, spans, vectors = data["ids"], data["counts"], data["spans"], data["vectors"]
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        index = cls(dim)
        index._include(ids.astype(np.int64), bounds[:-1], bounds[1:], spans.astype(np.int32), vectors)
        return index


def _no_spans() -> np.ndarray:
    return np.zeros((0, 2), dtype=np.int32)


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
