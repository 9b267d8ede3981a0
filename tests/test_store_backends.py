"""Each backend runs the shared contract (tests/store_contract.py), plus what is particular to it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from assistant.components import build_sync_options
from assistant.settings import Settings
from ingest.embedding_cache import EmbeddingCache
from ingest.store import segment_vectors
from ingest.store.backends import (
    UnknownBackend,
    create_keyword_index,
    create_vector_index,
    load_indexes,
    load_keyword_index,
    load_vector_index,
)
from ingest.store.base import Connection, KeywordIndex, VectorIndex
from ingest.store.faiss_index import FaissParams
from ingest.store.layout import IndexFormatMismatch, IndexStore
from ingest.store.manifest import SegmentRecord
from ingest.store.qdrant_index import close_clients
from ingest.sync import sync_folder
from tests.fakes import FakeEmbedder
from tests.store_contract import KeywordIndexContract, VectorIndexContract, clustered_vectors

# Approximate from the first vector on, probing 3 of the 7 lists its first 300 vectors train, so the
# whole contract runs against IVF and a search skips most lists.
IVF = {"approximate_above": 0, "min_probes": 3, "probe_share": 0.1}


class TestExactFaiss(VectorIndexContract):
    def make(self, dim: int) -> VectorIndex:
        return create_vector_index(dim)

    def load(self, index: VectorIndex, folder: Path) -> VectorIndex:
        return load_vector_index(folder, index.describe())


class TestApproximateFaiss(TestExactFaiss):
    recall = 0.95
    n = 600

    def make(self, dim: int) -> VectorIndex:
        return create_vector_index(dim, params=IVF)


class TestQdrantLocal(VectorIndexContract):
    """Qdrant's local mode: the client code a server runs through, on a storage in the test's folder."""

    @pytest.fixture(autouse=True)
    def _connection(self, tmp_path: Path):  # type: ignore[no-untyped-def]
        self.connection = Connection(tmp_path / "qdrant-root")
        yield
        close_clients()

    def make(self, dim: int) -> VectorIndex:
        return create_vector_index(dim, "qdrant", connection=self.connection)

    def load(self, index: VectorIndex, folder: Path) -> VectorIndex:
        return load_vector_index(folder, index.describe(), self.connection)


class TestBm25(KeywordIndexContract):
    def make(self) -> KeywordIndex:
        return create_keyword_index()

    def load(self, index: KeywordIndex, folder: Path) -> KeywordIndex:
        return load_keyword_index(folder, index.describe())


def test_the_index_turns_approximate_past_the_threshold_and_back_when_it_shrinks() -> None:
    ids, vectors = clustered_vectors(400, 16)
    index = create_vector_index(16, params={"approximate_above": 300})
    index.add(ids[:250], vectors[:250])
    assert index.describe()["kind"] == "flat"
    index.add(ids[250:], vectors[250:])
    described = index.describe()
    assert described["kind"] == "ivf" and described["params"]["approximate_above"] == 300
    # 400 vectors train 400 // 39 lists; every one is probed, as fewer than 48 exist.
    assert (described["nlist"], described["nprobe"], described["trained_for"]) == (10, 10, 390)
    assert index.count() == 400
    assert np.allclose(index.vectors(ids[:2]), vectors[:2], atol=1e-6)
    index.remove(ids[:50])
    assert index.describe()["kind"] == "ivf" and index.count() == 350
    index.remove(ids[50:200])
    assert index.describe()["kind"] == "flat" and index.count() == 200
    assert np.allclose(index.vectors(ids[200:202]), vectors[200:202], atol=1e-6)


def test_only_the_exact_index_is_rebuilt_from_segment_rows_and_it_searches_as_before(tmp_path: Path) -> None:
    """Flat FAISS is its rows, so versions keep them in segments; IVF's trained lists and Qdrant's server do not."""
    ids, vectors = clustered_vectors(300, 16)
    exact, approximate = create_vector_index(16), create_vector_index(16, params=IVF)
    approximate.add(ids, vectors)
    qdrant = create_vector_index(16, "qdrant", connection=Connection(tmp_path / "qdrant-root"))
    try:
        assert exact.rows_in_segments and not approximate.rows_in_segments and not qdrant.rows_in_segments
    finally:
        close_clients()
    exact.add(ids, vectors)
    exact.remove(ids[:40])
    # Two segments, the first with a deletion list of its first 40 rows.
    records = []
    for name, part in (("old", slice(0, 200)), ("new", slice(200, 300))):
        (tmp_path / name).mkdir()
        segment_vectors.save(tmp_path / name, ids[part], vectors[part])
        records.append(SegmentRecord(name, len(ids[part]), {}, {}))
    held = {"old": ids[40:200], "new": ids[200:]}
    rebuilt = segment_vectors.rebuild(exact.describe(), 16, tmp_path, records, held)
    assert rebuilt.rows_in_segments and rebuilt.describe() == exact.describe() and rebuilt.count() == 260
    for row in (0, 45, 250):
        found, scores = rebuilt.search(vectors[row], 20)
        expected, expected_scores = exact.search(vectors[row], 20)
        assert list(found) == list(expected) and np.allclose(scores, expected_scores, atol=1e-6)
    # A passage the version holds but no segment has a vector for is an error, not a silent miss.
    lacking = {"old": np.append(ids[40:200], 7), "new": ids[200:]}
    with pytest.raises(ValueError, match="260 vectors of the version's 261 passages"):
        segment_vectors.rebuild(exact.describe(), 16, tmp_path, records, lacking)


def test_lists_are_trained_again_only_once_the_collection_outgrows_them() -> None:
    """Adding assigns to the trained lists; at 4x the size they were sized for, they are retrained."""
    ids, vectors = clustered_vectors(2000, 16)
    index = create_vector_index(16, params={"approximate_above": 100})
    index.add(ids[:400], vectors[:400])
    assert index.describe()["nlist"] == 10
    index.add(ids[400:1500], vectors[400:1500])
    assert index.describe()["nlist"] == 10 and index.count() == 1500
    index.remove(ids[:300])
    assert index.describe()["nlist"] == 10
    index.add(ids[1500:], vectors[1500:])
    described = index.describe()
    assert described["nlist"] == 1700 // 39 and index.count() == 1700
    assert np.allclose(index.vectors(ids[[300, 1999]]), vectors[[300, 1999]], atol=1e-6)
    found, _ = index.search(vectors[0], 50)
    assert not set(found) & set(ids[:300])


def test_a_restrictive_group_loses_nothing_allowed_against_exact() -> None:
    """About 1% of passages allowed: every query returns exactly what brute force over them returns."""
    ids, vectors = clustered_vectors(20_000, 32, seed=3)
    rng = np.random.default_rng(5)
    allowed = np.sort(rng.choice(ids, 200, replace=False))
    approximate = create_vector_index(32, params={"approximate_above": 1000})
    approximate.add(ids, vectors)
    assert approximate.describe()["kind"] == "ivf"
    inside = vectors[np.searchsorted(ids, allowed)]
    for query in vectors[rng.integers(0, len(ids), 20)]:
        found, scores = approximate.search(query, 10, allowed=allowed)
        expected = allowed[np.argsort(-(inside @ query))[:10]]
        assert list(found) == list(expected)
        assert np.allclose(scores, np.sort(inside @ query)[::-1][:10], atol=1e-5)


@pytest.mark.parametrize("every", [3, 40])
def test_a_filter_inside_the_ivf_search_keeps_recall_and_never_leaks(every: int) -> None:
    """A third, and 2.5%, of passages allowed, both searched inside IVF (the exact limit is lowered)."""
    ids, vectors = clustered_vectors(8000, 32, seed=4)
    allowed = ids[::every]
    index = create_vector_index(32, params={"approximate_above": 100, "exact_filter_below": 100})
    index.add(ids, vectors)
    assert index.describe()["nprobe"] < index.describe()["nlist"]
    inside = vectors[::every]
    recalls = []
    for query in vectors[1::97]:
        found, _ = index.search(query, 10, allowed=allowed)
        assert len(found) == 10 and set(found) <= set(allowed)
        recalls.append(len(set(found) & set(allowed[np.argsort(-(inside @ query))[:10]])) / 10)
    assert np.mean(recalls) >= 0.98


def test_a_version_built_with_hnsw_loads_and_searches_as_this_build_makes_it(tmp_path: Path) -> None:
    """Before IVF the approximate kind was HNSW; such a version is rebuilt from its vectors on load."""
    ids, vectors = clustered_vectors(300, 16)
    graph = faiss.IndexIDMap2(faiss.IndexHNSWFlat(16, 16, faiss.METRIC_INNER_PRODUCT))
    graph.add_with_ids(vectors, ids)
    faiss.write_index(graph, str(tmp_path / "vectors.faiss"))
    loaded = load_vector_index(tmp_path, {"name": "faiss", "kind": "hnsw", "params": {"hnsw_above": 100}})
    assert loaded.describe()["kind"] == "flat" and loaded.count() == 300
    found, _ = loaded.search(vectors[7], 5)
    assert list(found) == list(ids[np.argsort(-(vectors @ vectors[7]))[:5]])


def test_unknown_backend_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(UnknownBackend, match="annoy"):
        create_vector_index(8, name="annoy")
    with pytest.raises(UnknownBackend, match="known: faiss"):
        load_indexes(tmp_path, {"vectors": {"name": "annoy"}})


def test_faiss_searches_on_one_thread_in_every_request_thread() -> None:
    """OpenMP's thread count is per thread: it must be set where the search runs, not once at start-up.

    With two OpenMP threads FAISS waited for the embedding runtime's threads after every question
    (a 144-passage search took 4.6-8 ms instead of 0.15 ms: docs/benchmarks.md, Query latency).
    """
    ids, vectors = clustered_vectors(200, 16)
    index = create_vector_index(16)
    index.add(ids, vectors)
    seen: list[int] = []

    def request() -> None:
        index.search(vectors[0], 5)
        seen.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=request)
    worker.start()
    worker.join()
    assert seen == [1]


def test_the_manifest_records_the_backends_and_old_manifests_load_with_the_defaults(
    corpus: Path, store: IndexStore, embedder: FakeEmbedder, cache: EmbeddingCache
) -> None:
    sync_folder(corpus, store, embedder, cache)
    loaded = store.load()
    backends = loaded.manifest.backends
    assert backends["vectors"]["name"] == "faiss" and backends["vectors"]["kind"] == "flat"
    assert backends["vectors"]["params"]["approximate_above"] == FaissParams().approximate_above
    assert backends["keywords"] == {"name": "bm25", "params": {"k1": 1.2, "b": 0.75}}
    # A version written before manifests named their backends.
    path = store.versions / loaded.version / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["backends"]
    path.write_text(json.dumps(data), encoding="utf-8")
    old = store.load()
    assert old.manifest.backends == {}
    assert old.vectors.count() == loaded.vectors.count() > 0
    query = loaded.vectors.vectors(np.array(sorted(loaded.chunks)[:1]))[0]
    assert list(old.vectors.search(query, 3)[0]) == list(loaded.vectors.search(query, 3)[0])
    assert list(old.keywords.search(["returns"], 3)[0]) == list(loaded.keywords.search(["returns"], 3)[0])


def test_the_threshold_setting_makes_an_ingested_index_approximate_and_it_loads_as_built(
    corpus: Path, store: IndexStore, embedder: FakeEmbedder, cache: EmbeddingCache
) -> None:
    settings = Settings(vector_approximate_above=2)
    sync_folder(corpus, store, embedder, cache, build_sync_options(settings))
    loaded = store.load()
    assert loaded.manifest.backends["vectors"]["kind"] == "ivf"
    assert loaded.manifest.backends["vectors"]["params"]["approximate_above"] == 2
    assert loaded.vectors.describe() == loaded.manifest.backends["vectors"]
    some = np.array(sorted(loaded.chunks)[:3])
    found, _ = loaded.vectors.search(loaded.vectors.vectors(some)[0], 3, allowed=some)
    assert found[0] == some[0] and set(found) == set(some)
    assert Settings().vector_approximate_above == FaissParams().approximate_above


def test_a_changed_threshold_setting_rebuilds_an_unchanged_index_as_it_says_without_embedding(
    corpus: Path, store: IndexStore, embedder: FakeEmbedder, cache: EmbeddingCache
) -> None:
    first = sync_folder(corpus, store, embedder, cache, build_sync_options(Settings()))
    assert store.load().manifest.backends["vectors"]["kind"] == "flat"
    embedded = len(embedder.embedded)
    lowered = sync_folder(corpus, store, embedder, cache, build_sync_options(Settings(vector_approximate_above=2)))
    assert lowered.index_version != first.index_version and lowered.embedded == 0
    assert len(embedder.embedded) == embedded
    loaded = store.load()
    vectors = loaded.manifest.backends["vectors"]
    assert vectors["kind"] == "ivf" and vectors["params"]["approximate_above"] == 2
    assert loaded.vectors.count() == len(loaded.chunks)
    query = loaded.vectors.vectors(np.array(sorted(loaded.chunks)[:1]))[0]
    assert loaded.vectors.search(query, 1)[0][0] == sorted(loaded.chunks)[0]
    again = sync_folder(corpus, store, embedder, cache, build_sync_options(Settings(vector_approximate_above=2)))
    assert again.index_version == lowered.index_version  # nothing changed: nothing published
    sync_folder(corpus, store, embedder, cache, build_sync_options(Settings()))
    assert store.load().manifest.backends["vectors"]["kind"] == "flat"


def test_a_version_built_by_a_backend_this_build_lacks_is_refused_with_a_clear_error(
    corpus: Path, store: IndexStore, embedder: FakeEmbedder, cache: EmbeddingCache
) -> None:
    sync_folder(corpus, store, embedder, cache)
    path = store.versions / str(store.current_version()) / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["backends"]["vectors"]["name"] = "milvus"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexFormatMismatch, match="unknown index backend 'milvus'"):
        store.load()
