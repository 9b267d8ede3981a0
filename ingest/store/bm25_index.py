"""BM25 keyword index (Lucene idf) stored as a sparse term-frequency matrix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

MATRIX_FILE = "keyword.npz"
VOCAB_FILE = "keyword_vocab.json"
NAME = "bm25"


class BM25Index:
    """Incremental add/remove; scoring matrix rebuilt lazily after a change.

    A loaded index keeps its rows packed as read (CSR arrays) and splits them into per-row entries
    only when it changes: the service never changes it, and per-row arrays cost ~1 KB a passage.
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._vocab: dict[str, int] = {}
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id -> (term ids, term counts)
        self._packed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # as loaded
        self._weights: sparse.csc_matrix | None = None
        self._row_ids = np.zeros(0, dtype=np.int64)
        self._idf = np.zeros(0, dtype=np.float32)
        self._tf: sparse.csc_matrix | None = None  # raw term counts, for statistics over a subset
        self._lengths = np.zeros(0, dtype=np.float32)

    def _packed_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The loaded rows as CSR parts; once scored, read back from the term-count matrix (no third copy)."""
        if self._packed is None and not self._rows and self._tf is not None and len(self._row_ids):
            csr = self._tf.tocsr()
            csr.sort_indices()
            return self._row_ids, csr.indptr.astype(np.int64), csr.indices.astype(np.int64), csr.data
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
        self._weights = None

    def remove(self, ids: np.ndarray) -> None:
        self._unpack()
        for chunk_id in ids:
            self._rows.pop(int(chunk_id), None)
        self._weights = None

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

    def _build(self) -> sparse.csc_matrix:
        row_ids, indptr, cols, tf = self._stacked()
        summed = np.concatenate([[0.0], np.cumsum(tf, dtype=np.float64)])
        lengths = (summed[indptr[1:]] - summed[indptr[:-1]]).astype(np.float32)
        n_docs, n_terms = len(row_ids), max(len(self._vocab), 1)
        df = np.bincount(cols, minlength=n_terms).astype(np.float32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5))
        self._idf = idf
        avg = float(lengths.mean()) if n_docs else 1.0
        row_len = np.repeat(lengths, np.diff(indptr))
        weight = idf[cols] * tf * (self.k1 + 1) / (tf + self.k1 * (1 - self.b + self.b * row_len / avg))
        matrix = sparse.csr_matrix((weight, cols, indptr), shape=(n_docs, n_terms))
        self._row_ids = row_ids
        self._tf = sparse.csr_matrix((tf, cols, indptr), shape=(n_docs, n_terms)).tocsc()
        self._lengths = lengths
        # The loaded arrays are now in _tf too; _packed_rows reads them back from there when needed.
        self._packed = None
        return matrix.tocsc()

    def _ensure_built(self) -> None:
        if self._weights is None:
            self._weights = self._build()

    def warm(self) -> None:
        """Build the scoring matrix now (about 1 s per 100k passages) rather than in the first search."""
        self._ensure_built()

    @property
    def warmed(self) -> bool:
        return self._weights is not None

    def _in_collection(self, collection: np.ndarray) -> np.ndarray:
        return np.isin(self._row_ids, collection)

    def _scores_within(self, term_ids: list[int], collection: np.ndarray) -> np.ndarray:
        """BM25 with idf and average length counted over `collection` only; 0 outside it."""
        assert self._tf is not None
        inside = self._in_collection(collection)
        n_docs = int(inside.sum())
        if not n_docs:
            return np.zeros(len(self._row_ids), dtype=np.float32)
        tf = self._tf[:, term_ids].toarray()
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
        self._ensure_built()
        assert self._weights is not None
        term_ids = sorted({self._vocab[t] for t in terms if t in self._vocab})
        if not term_ids or k <= 0 or not len(self._row_ids):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if collection is None:
            scores = np.asarray(self._weights[:, term_ids].sum(axis=1)).ravel()
        else:
            scores = self._scores_within(term_ids, collection)
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
        self._ensure_built()
        unique = set(terms)
        if collection is None:
            n = max(len(self._row_ids), 1)
            idf = {t: float(self._idf[self._vocab[t]]) for t in unique if t in self._vocab}
        else:
            assert self._tf is not None
            inside = self._in_collection(collection)
            n = max(int(inside.sum()), 1)
            known = [t for t in unique if t in self._vocab]
            counts = self._tf[:, [self._vocab[t] for t in known]].toarray()[inside] if known else np.zeros((0, 0))
            df = (counts > 0).sum(axis=0)
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
