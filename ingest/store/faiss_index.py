"""Inner-product vector search with FAISS: exact (flat) for small collections, IVF past a size threshold."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from faiss.contrib.inspect_tools import get_invlist

from assistant import defaults

FILE = "vectors.faiss"
NAME = "faiss"
# Faiss warns below 39 training points per list; 40 per list trains the lists on a sample, not the collection.
TRAIN_PER_LIST = 40
MIN_PER_LIST = 39
# Lists are re-trained once the collection holds this many times the passages they were sized for.
RETRAIN_GROWTH = 4


@dataclass(frozen=True)
class FaissParams:
    """When the index turns approximate, and how it searches.

    approximate_above: past this many vectors the flat index becomes IVF (the `vector_approximate_above`
        setting, whose default is this one).
    probe_share, min_probes: a search visits this share of the inverted lists, and at least this many:
        1% kept p50 under 10 ms at 1M, and real questions (SciFact's, over its passages alone and among
        18,624 other real vectors) needed 60-80 probes for recall@10 0.98 at 255 and 676 lists; 96 probes
        cost 6.9 ms p50 at 1M synthetic vectors under load (docs/benchmarks.md, Approximate search).
    exact_filter_below: a filter allowing at most this many ids visits every list, which is exact over
        just those vectors, because lists probed for the whole collection may hold few of a small group's
        neighbours.
    """

    approximate_above: int = defaults.VECTOR_APPROXIMATE_ABOVE
    probe_share: float = 0.01
    min_probes: int = 96
    exact_filter_below: int = 20_000

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> FaissParams:
        casts = {f.name: float if isinstance(f.default, float) else int for f in fields(cls)}
        values: dict[str, Any] = {k: casts[k](v) for k, v in (data or {}).items() if k in casts}
        return cls(**values)


def list_count(n: int) -> int:
    """4·√n inverted lists, but never fewer than 39 training points per list."""
    return max(1, min(round(4 * math.sqrt(n)), n // MIN_PER_LIST))


def sized_for(nlist: int) -> int:
    """The collection size `list_count` gives `nlist` lists for (its inverse)."""
    return max(MIN_PER_LIST * nlist, nlist * nlist // 16)


def probe_count(nlist: int, params: FaissParams) -> int:
    """Lists a search visits: a share of them, so recall holds as the lists multiply with the collection."""
    return min(nlist, max(params.min_probes, math.ceil(nlist * params.probe_share)))


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


def _flat(dim: int) -> Any:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


class FaissVectorIndex:
    """Exact below `approximate_above` vectors, IVF above; filters always apply before top-k.

    IVF keeps the chunk ids itself and removes them in place; adding assigns new vectors to the trained
    lists, and only a collection grown to 4x the size its lists were sized for is trained again.
    """

    def __init__(self, dim: int, params: FaissParams | None = None, index: faiss.Index | None = None) -> None:
        self._dim = dim
        self.params = params or FaissParams()
        # An IndexIDMap2 over a flat index, or an IndexIVFFlat holding the ids; typed loosely, as the
        # stubs lack their members.
        self._index: Any = index if index is not None else _flat(dim)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def rows_in_segments(self) -> bool:
        """An exact index is its rows; IVF's lists are trained over all of them, so it saves its own file."""
        return self.kind == "flat"

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    def _build(self, ids: np.ndarray, vectors: np.ndarray) -> Any:
        if len(ids) <= self.params.approximate_above:
            index = _flat(self._dim)
            if len(ids):
                index.add_with_ids(vectors, ids)
            return index
        nlist = list_count(len(ids))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self._dim), self._dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = min(len(ids), TRAIN_PER_LIST * nlist)
        rows = np.sort(np.random.default_rng(0).choice(len(ids), sample, replace=False))
        index.train(vectors[rows])
        # A hash table from chunk id to list entry: reconstruction by id, and removal without a scan.
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
        index.add_with_ids(vectors, ids)
        index.nprobe = probe_count(nlist, self.params)
        return index

    def _all(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "flat":
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            return ids, self._index.index.reconstruct_n(0, self.count())
        id_parts, vector_parts = [], []
        for number in range(self._index.nlist):
            ids, codes = get_invlist(self._index.invlists, number)
            id_parts.append(ids)
            vector_parts.append(codes.view(np.float32).reshape(-1, self._dim))
        return np.concatenate(id_parts), np.vstack(vector_parts)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        total = self.count() + len(ids)
        outgrown = self.kind == "ivf" and total > RETRAIN_GROWTH * sized_for(self._index.nlist)
        if (self.kind == "flat" and total > self.params.approximate_above) or outgrown:
            old_ids, old_vectors = self._all()
            self._index = self._build(np.concatenate([old_ids, ids]), np.vstack([old_vectors, vectors]))
        else:
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.asarray(ids, dtype=np.int64)
        if self.kind == "flat":
            self._index.remove_ids(faiss.IDSelectorBatch(ids))
            return
        # The id hash table removes only by an explicit id array, in time proportional to the ids.
        self._index.remove_ids(faiss.IDSelectorArray(ids))
        if self.count() <= self.params.approximate_above:
            self._index = self._build(*self._all())

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
        params: Any = None
        selector = None
        if allowed is not None:
            # Filter inside the search, so k results come from the allowed set, not after it.
            selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            k = min(k, len(allowed))
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=self._probes(allowed))  # type: ignore[call-arg]
            if selector is not None:
                params.sel = selector
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, ids = self._index.search(query, min(k, total), params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def search_many(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        total = self.count()
        if total == 0 or k <= 0 or not len(queries):
            return [_empty() for _ in range(len(queries))]
        params: Any = None
        if self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=self._probes(None))  # type: ignore[call-arg]
        batch = np.ascontiguousarray(queries.reshape(len(queries), -1), dtype=np.float32)
        scores, ids = self._index.search(batch, min(k, total), params=params)
        return [
            (row_ids[row_ids >= 0], row_scores[row_ids >= 0]) for row_ids, row_scores in zip(ids, scores, strict=True)
        ]

    def _probes(self, allowed: np.ndarray | None) -> int:
        """Lists to visit: every list for a small filter, which makes the search exact within it (and
        reads the allowed vectors in place: 4-5x faster than gathering them by id), more for a broad one."""
        nlist = int(self._index.nlist)
        probes = probe_count(nlist, self.params)
        if allowed is None:
            return probes
        if len(allowed) <= self.params.exact_filter_below:
            return nlist
        # The allowed top k lie among the collection's top k/f (f: share allowed), spread over about
        # 1/f times the lists: probe that many, as far as every list.
        return min(nlist, math.ceil(probes * self.count() / len(allowed)))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self._dim), dtype=np.float32)
        keys = np.ascontiguousarray(ids, dtype=np.int64)
        return self._index.reconstruct_batch(keys)

    def count(self) -> int:
        return int(self._index.ntotal)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"name": NAME, "kind": self.kind, "params": asdict(self.params)}
        if self.kind == "ivf":
            nlist = int(self._index.nlist)
            described.update(nlist=nlist, nprobe=probe_count(nlist, self.params), trained_for=sized_for(nlist))
        return described

    def save(self, folder: Path) -> list[Path]:
        path = folder / FILE
        faiss.write_index(self._index, str(path))
        return [path]

    @classmethod
    def load(cls, folder: Path, params: Mapping[str, Any] | None = None, connection: object = None) -> FaissVectorIndex:
        index = faiss.read_index(str(folder / FILE))
        loaded = cls(index.d, FaissParams.from_dict(params), index)
        if loaded.kind == "ivf":
            loaded._index.nprobe = probe_count(loaded._index.nlist, loaded.params)
        elif not isinstance(faiss.downcast_index(loaded._index.index), faiss.IndexFlat):
            # A version built before IVF replaced HNSW: rebuilt once from its vectors, as this build makes it.
            loaded._index = loaded._build(*loaded._all())
        return loaded
