"""Inner-product vector search with FAISS: exact (flat) for small collections, HNSW past a size threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from assistant import defaults

FILE = "vectors.faiss"
NAME = "faiss"


@dataclass(frozen=True)
class FaissParams:
    """When the index turns approximate, and how.

    hnsw_above: past this many vectors the flat index becomes HNSW (the `vector_hnsw_above` setting,
        whose default is this one).
    m, ef_construction, ef_search: HNSW graph degree, build beam and search beam
        (docs/benchmarks.md, Approximate search: recall@10 against exact at these values).
    exact_filter_below: a filter allowing at most this many ids is searched exactly over just those
        vectors, because a graph walk that may only stop on 1% of nodes can miss allowed neighbours.
    """

    hnsw_above: int = defaults.VECTOR_HNSW_ABOVE
    m: int = 32
    ef_construction: int = 80
    ef_search: int = 256
    exact_filter_below: int = 20_000

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FaissParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in (data or {}).items() if k in known})


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


class FaissVectorIndex:
    """Exact below `hnsw_above` vectors, HNSW above; filters always apply before top-k.

    HNSW cannot delete, so a removal rebuilds the graph from the vectors kept (a deletion mask would
    leave dead nodes that a re-added chunk id would duplicate); rebuilds cost build time, not recall.
    """

    def __init__(self, dim: int, params: FaissParams | None = None, index: faiss.Index | None = None) -> None:
        self._dim = dim
        self.params = params or FaissParams()
        # Always an IndexIDMap2 (ids and reconstruction); typed loosely, as the stubs lack its members.
        self._index: Any = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(faiss.downcast_index(self._index.index), faiss.IndexHNSW) else "flat"

    def _build(self, ids: np.ndarray, vectors: np.ndarray) -> Any:
        if len(ids) > self.params.hnsw_above:
            graph = faiss.IndexHNSWFlat(self._dim, self.params.m, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = self.params.ef_construction
            index = faiss.IndexIDMap2(graph)
        else:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(self._dim))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
        return index

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        return ids, self._index.index.reconstruct_n(0, self.count())

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.kind == "flat" and self.count() + len(ids) > self.params.hnsw_above:
            old_ids, old_vectors = self._all()
            self._index = self._build(np.concatenate([old_ids, ids]), np.vstack([old_vectors, vectors]))
        else:
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
            return
        all_ids, vectors = self._all()
        keep = ~np.isin(all_ids, ids)
        if not keep.all():
            self._index = self._build(all_ids[keep], vectors[keep])

    def label(self, ids: np.ndarray, labels: Sequence[Mapping[str, Any]]) -> None:
        """Filters reach FAISS as id lists (`allowed`), so there is nothing to attach."""

    def fork(self, version: str) -> FaissVectorIndex:
        """This index itself: it lives in the ingest's memory, and the live version's file is never rewritten."""
        return self

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        total = self.count()
        if total == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return _empty()
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # One query gains nothing from a second OpenMP thread (200k flat vectors: 27 ms on one, 42 ms
        # on two), and right after a question the embedding runtime's threads still hold the cores:
        # with two, FAISS waited for them and a 144-passage search took 4.6-8 ms instead of 0.15 ms
        # (benchmarks/query_latency.py). The setting is per calling thread in OpenMP, hence here.
        faiss.omp_set_num_threads(1)
        hnsw = self.kind == "hnsw"
        if hnsw and allowed is not None and len(allowed) <= self.params.exact_filter_below:
            return self._exact_within(query[0], k, np.asarray(allowed, dtype=np.int64))
        params: Any = None
        selector = None
        if allowed is not None:
            # Filter inside the search, so k results come from the allowed set, not after it.
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            k = min(k, len(allowed))
        if hnsw:
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
            # A walk that may only stop on a share f of nodes meets about ef*f allowed ones: widen it.
            widened = k * total // len(allowed) if allowed is not None else 0
            params.efSearch = max(self.params.ef_search, k, min(widened, 4096))
            if selector is not None:
                params.sel = selector
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, ids = self._index.search(query, min(k, total), params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def _exact_within(self, query: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over the allowed vectors only: exact, and cheap because they are few."""
        present = np.unique(allowed)
        try:
            vectors = self.vectors(present)
        except RuntimeError:
            # An allowed id the index lacks (not a normal query): drop it, at the cost of a scan.
            present = present[np.isin(present, faiss.vector_to_array(self._index.id_map))]
            vectors = self.vectors(present)
        if not len(present):
            return _empty()
        scores = vectors @ query
        top = np.argsort(-scores, kind="stable")[:k]
        return present[top], scores[top].astype(np.float32)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self._dim), dtype=np.float32)
        keys = np.ascontiguousarray(ids, dtype=np.int64)
        return self._index.reconstruct_batch(keys)

    def count(self) -> int:
        return int(self._index.ntotal)

    def describe(self) -> dict[str, Any]:
        return {"name": NAME, "kind": self.kind, "params": asdict(self.params)}

    def save(self, folder: Path) -> list[Path]:
        path = folder / FILE
        faiss.write_index(self._index, str(path))
        return [path]

    @classmethod
    def load(cls, folder: Path, params: Mapping[str, Any] | None = None, connection: object = None) -> FaissVectorIndex:
        index = faiss.read_index(str(folder / FILE))
        loaded = cls(index.d, FaissParams.from_dict(params), index)
        if loaded.kind == "hnsw":
            graph: Any = faiss.downcast_index(loaded._index.index)
            graph.hnsw.efSearch = loaded.params.ef_search
        return loaded
