"""BM25 keyword index (Lucene idf) stored as sparse term counts, weighted per query term at search time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

MATRIX_FILE = "keyword.npz"
VOCAB_FILE = "keyword_vocab.json"
NAME = "bm25"


def _narrow(counts: np.ndarray) -> np.ndarray:
    """`counts` in the narrowest unsigned type that holds them exactly (one byte a count in practice)."""
    top = counts.max() if len(counts) else 0
    for dtype in (np.uint8, np.uint16, np.uint32):
        if top <= np.iinfo(dtype).max:
            narrow = counts.astype(dtype)
            return narrow if np.array_equal(narrow, counts) else counts.astype(np.float32)
    return counts.astype(np.float32)


def _row_sums(indptr: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each row's total count (its length in tokens), as float32; 0 for an empty row."""
    lengths = np.zeros(len(indptr) - 1, dtype=np.float32)
    filled = np.flatnonzero(np.diff(indptr))
    if len(filled):
        lengths[filled] = np.add.reduceat(counts, indptr[filled], dtype=np.float64)
    return lengths


@dataclass(frozen=True)
class Postings:
    """Each term's rows (ascending positions) and counts there: all a built index keeps per entry.

    Five bytes an entry (int32 row, one-byte count); the BM25 weights are computed for a query's
    terms only, rather than held for every entry beside the counts (twice the memory, for scores
    that cost one pass over the query terms' entries to recompute).
    """

    starts: np.ndarray  # int64, one more than terms: term t's entries are starts[t]:starts[t + 1]
    rows: np.ndarray  # int32 row positions
    counts: np.ndarray  # _narrow() term counts
    n_rows: int

    @classmethod
    def from_rows(cls, indptr: np.ndarray, cols: np.ndarray, counts: np.ndarray, n_terms: int) -> Postings:
        by_term = sparse.csr_matrix((_narrow(counts), cols, indptr), shape=(len(indptr) - 1, n_terms)).tocsc()
        return cls(
            by_term.indptr.astype(np.int64), by_term.indices.astype(np.int32, copy=False), by_term.data, len(indptr) - 1
        )

    def column(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        """(row positions, float32 counts) of one term."""
        lo, hi = self.starts[term], self.starts[term + 1]
        return self.rows[lo:hi], self.counts[lo:hi].astype(np.float32)

    def dense(self, term_ids: list[int]) -> np.ndarray:
        """Counts of `term_ids` in every row, shape (rows, terms), float32."""
        out = np.zeros((self.n_rows, len(term_ids)), dtype=np.float32)
        for j, term in enumerate(term_ids):
            rows, counts = self.column(term)
            out[rows, j] = counts
        return out

    def to_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Back to rows, as saved: (indptr int64, term ids int64, float32 counts), term ids ascending per row."""
        shape = (self.n_rows, len(self.starts) - 1)
        by_row = sparse.csc_matrix((self.counts, self.rows, self.starts), shape=shape).tocsr()
        by_row.sort_indices()
        return by_row.indptr.astype(np.int64), by_row.indices.astype(np.int64), by_row.data.astype(np.float32)


class BM25Index:
    """Incremental add/remove; postings rebuilt lazily after a change.

    A loaded index keeps its rows packed as read (CSR arrays) and splits them into per-row entries
    only when it changes: the service never changes it, and per-row arrays cost ~1 KB a passage.
    Once built, the postings are the only copy of the term data (rows are read back from them).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._vocab: dict[str, int] = {}
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (term ids, term counts)
        self._packed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # as loaded
        self._postings: Postings | None = None
        self._row_ids = np.zeros(0, dtype=np.int64)
        self._idf = np.zeros(0, dtype=np.float32)
        self._lengths = np.zeros(0, dtype=np.float32)
        self._norm: np.ndarray = np.zeros(0, dtype=np.float32)  # k1 * (1 - b + b * length / average length), per row

    def _packed_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The loaded rows as CSR parts; once built, read back from the postings (no second copy)."""
        if self._packed is None and not self._rows and self._postings is not None and len(self._row_ids):
            return (self._row_ids, *self._postings.to_rows())
        return self._packed

    def _unpack(self) -> None:
        self._packed = self._packed_rows()
        if self._packed is not None:
            row_ids, indptr, cols, tf = self._packed
            for row, chunk_id in enumerate(row_ids):
                lo, hi = indptr[row], indptr[row + 1]
                self._rows[int(chunk_id)] = (cols[lo:hi], tf[lo:hi])
            self._packed = None

    def add(self, ids: np.ndarray, terms: list[list[str]]) -> None:
        self._unpack()
        for chunk_id, tokens in zip(ids, terms, strict=True):
            term_ids = np.array([self._vocab.setdefault(t, len(self._vocab)) for t in tokens], dtype=np.int64)
            unique, counts = np.unique(term_ids, return_counts=True)
            self._rows[int(chunk_id)] = (unique, counts.astype(np.float32))
        self._postings = None

    def remove(self, ids: np.ndarray) -> None:
        self._unpack()
        for chunk_id in ids:
            self._rows.pop(int(chunk_id), None)
        self._postings = None

    def count(self) -> int:
        packed = self._packed_rows()
        return len(packed[0]) if packed is not None else len(self._rows)

    def _stacked(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All rows as CSR parts: (row ids, indptr, term ids, term counts)."""
        packed = self._packed_rows()
        if packed is not None:
            return packed
        row_ids = np.fromiter(self._rows.keys(), dtype=np.int64, count=len(self._rows))
        entries = [self._rows[int(i)] for i in row_ids]
        indptr = np.zeros(len(entries) + 1, dtype=np.int64)
        indptr[1:] = np.cumsum([len(t) for t, _ in entries])
        cols = np.concatenate([t for t, _ in entries]) if entries else np.zeros(0, dtype=np.int64)
        tf = np.concatenate([c for _, c in entries]) if entries else np.zeros(0, dtype=np.float32)
        return row_ids, indptr, cols, tf

    def _build(self) -> Postings:
        row_ids, indptr, cols, tf = self._stacked()
        lengths = _row_sums(indptr, tf)
        n_docs, n_terms = len(row_ids), max(len(self._vocab), 1)
        df = np.bincount(cols, minlength=n_terms).astype(np.float32)
        self._idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if n_docs else 1.0
        self._norm = self.k1 * (1 - self.b + self.b * lengths / avg)
        self._row_ids, self._lengths = row_ids, lengths
        postings = Postings.from_rows(indptr, cols, tf, n_terms)
        # The loaded arrays are now in the postings; _packed_rows reads them back from there when needed.
        self._packed = None
        return postings

    def _ensure_built(self) -> Postings:
        if self._postings is None:
            self._postings = self._build()
        return self._postings

    def warm(self) -> None:
        """Build the postings now (about 1 s per 100k passages) rather than in the first search."""
        self._ensure_built()

    @property
    def warmed(self) -> bool:
        return self._postings is not None

    def _in_collection(self, collection: np.ndarray) -> np.ndarray:
        return np.isin(self._row_ids, collection)

    def _scores(self, postings: Postings, term_ids: list[int]) -> np.ndarray:
        """BM25 of every row over the whole index, float32 as if summed from a float32 weight matrix.

        The query terms' entries are weighted in one pass and summed by a sparse product, which adds
        them term by term in `term_ids` order: the same float32 sums as a stored weight matrix gave.
        """
        spans = [(postings.starts[t], postings.starts[t + 1]) for t in term_ids]
        rows = np.concatenate([postings.rows[lo:hi] for lo, hi in spans])
        tf = np.concatenate([postings.counts[lo:hi] for lo, hi in spans], dtype=np.float32)
        sizes = np.array([hi - lo for lo, hi in spans], dtype=np.int32)
        weights = np.repeat(self._idf[term_ids], sizes)
        weights *= tf
        weights *= self.k1 + 1
        tf += self._norm[rows]
        weights /= tf
        starts = np.zeros(len(term_ids) + 1, dtype=np.int32)
        np.cumsum(sizes, out=starts[1:])
        by_term = sparse.csc_matrix((weights, rows, starts), shape=(len(self._row_ids), len(term_ids)), copy=False)
        return np.asarray(by_term @ np.ones(len(term_ids), dtype=np.float32), dtype=np.float32)

    def _scores_within(self, postings: Postings, term_ids: list[int], collection: np.ndarray) -> np.ndarray:
        """BM25 with idf and average length counted over `collection` only; 0 outside it."""
        inside = self._in_collection(collection)
        n_docs = int(inside.sum())
        if not n_docs:
            return np.zeros(len(self._row_ids), dtype=np.float32)
        tf = postings.dense(term_ids)
        tf[~inside] = 0.0
        df = (tf > 0).sum(axis=0)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        avg = float(self._lengths[inside].mean())
        norm = self.k1 * (1 - self.b + self.b * self._lengths / avg)
        weights = idf * tf * (self.k1 + 1) / (tf + norm[:, None])
        return np.asarray(weights.sum(axis=1), dtype=np.float32)

    def search(
        self, terms: list[str], k: int, allowed: np.ndarray | None = None, collection: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top `k` ids among `allowed` (all when None).

        `collection` is the set of ids the caller may know about at all: idf and average length are
        counted over it, so documents hidden from a caller do not shift the caller's scores.
        """
        postings = self._ensure_built()
        term_ids = sorted({self._vocab[t] for t in terms if t in self._vocab})
        if not term_ids or k <= 0 or not len(self._row_ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if collection is None:
            scores = self._scores(postings, term_ids)
        else:
            scores = self._scores_within(postings, term_ids, collection)
        if allowed is not None:
            scores = np.where(np.isin(self._row_ids, allowed), scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return self._row_ids[order], scores[order].astype(np.float32)

    def max_score(self, terms: list[str], collection: np.ndarray | None = None) -> float:
        """The score of a passage of average length holding each query term once: the sum of idfs.

        Terms the index has never seen count at the highest idf, so a question in a language the
        corpus lacks has a large maximum and its stray matches a small share of it. With
        `collection`, idfs are counted over those ids only (as in `search`).
        """
        postings = self._ensure_built()
        unique = set(terms)
        if collection is None:
            n = max(len(self._row_ids), 1)
            idf = {t: float(self._idf[self._vocab[t]]) for t in unique if t in self._vocab}
        else:
            inside = self._in_collection(collection)
            n = max(int(inside.sum()), 1)
            known = [t for t in unique if t in self._vocab]
            df = [int(inside[postings.column(self._vocab[t])[0]].sum()) for t in known]
            idf = {t: float(np.log1p((n - d + 0.5) / (d + 0.5))) for t, d in zip(known, df, strict=True) if d > 0}
        rare = float(np.log1p((n - 1 + 0.5) / 1.5))
        return float(sum(idf.get(t, rare) for t in unique))

    def describe(self) -> dict[str, Any]:
        return {"name": NAME, "params": {"k1": self.k1, "b": self.b}}

    def save(self, folder: Path) -> list[Path]:
        row_ids, indptr, cols, tf = self._stacked()
        matrix_path, vocab_path = folder / MATRIX_FILE, folder / VOCAB_FILE
        with matrix_path.open("wb") as handle:
            np.savez(handle, row_ids=row_ids, indptr=indptr, cols=cols, tf=tf, params=np.array([self.k1, self.b]))
        terms = sorted(self._vocab, key=self._vocab.__getitem__)
        vocab_path.write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        return [matrix_path, vocab_path]

    @classmethod
    def load(cls, folder: Path, params: Mapping[str, Any] | None = None) -> BM25Index:
        """k1 and b are read from the file itself; `params` is accepted for the common loader shape."""
        with np.load(folder / MATRIX_FILE) as data:
            k1, b = (float(x) for x in data["params"])
            index = cls(k1, b)
            index._packed = (data["row_ids"], data["indptr"], data["cols"], data["tf"])
        terms = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        index._vocab = {t: i for i, t in enumerate(terms)}
        return index
