"""Exact inner-product vector search with FAISS (IndexIDMap2 over IndexFlatIP)."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

FILE = "vectors.faiss"


class FaissVectorIndex:
    """Flat index: exact results, fine to a few hundred thousand chunks on one machine."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        total = self.count()
        if total == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # One query gains nothing from a second OpenMP thread (200k flat vectors: 27 ms on one, 42 ms
        # on two), and right after a question the embedding runtime's threads still hold the cores:
        # with two, FAISS waited for them and a 144-passage search took 4.6-8 ms instead of 0.15 ms
        # (benchmarks/query_latency.py). The setting is per calling thread in OpenMP, hence here.
        faiss.omp_set_num_threads(1)
        params = None
        if allowed is not None:
            # Filter inside the search, so k results come from the allowed set, not after it.
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            k = min(k, len(allowed))
        scores, ids = self._index.search(query, min(k, total), params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return (
            np.vstack([self._index.reconstruct(int(i)) for i in ids])
            if len(ids)
            else np.zeros((0, self.dim), dtype=np.float32)
        )

    def count(self) -> int:
        return int(self._index.ntotal)

    def save(self, folder: Path) -> list[Path]:
        path = folder / FILE
        faiss.write_index(self._index, str(path))
        return [path]

    @classmethod
    def load(cls, folder: Path) -> FaissVectorIndex:
        index = faiss.read_index(str(folder / FILE))
        return cls(index.d, index)
