"""One suite every vector and keyword backend must pass, checked against reference implementations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from ingest.embedder import normalise
from ingest.store.bm25_index import BM25Index
from ingest.store.faiss_index import FaissVectorIndex

VECTOR_BACKENDS = {"faiss-flat": lambda dim: FaissVectorIndex(dim)}
VECTOR_LOADERS = {"faiss-flat": FaissVectorIndex.load}
KEYWORD_BACKENDS = {"bm25": BM25Index}


@pytest.fixture(params=sorted(VECTOR_BACKENDS))
def vector_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _data(n: int = 200, dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return np.arange(1000, 1000 + n, dtype=np.int64), normalise(rng.standard_normal((n, dim)))


def test_vector_search_matches_brute_force(vector_backend: str) -> None:
    ids, vectors = _data()
    index = VECTOR_BACKENDS[vector_backend](16)
    index.add(ids, vectors)
    query = vectors[3] + 0.1
    found, scores = index.search(normalise(query[None])[0], 10)
    expected = np.argsort(-(vectors @ normalise(query[None])[0]))[:10]
    assert list(found) == list(ids[expected])
    assert np.all(np.diff(scores) <= 1e-6)


def test_vector_remove_and_filter(vector_backend: str) -> None:
    ids, vectors = _data()
    index = VECTOR_BACKENDS[vector_backend](16)
    index.add(ids, vectors)
    index.remove(ids[:100])
    assert index.count() == 100
    found, _ = index.search(vectors[0], 200)
    assert set(found) <= set(ids[100:])
    allowed = ids[150:155]
    found, _ = index.search(vectors[0], 10, allowed=allowed)
    assert sorted(found) == sorted(allowed)


def test_vector_save_load_round_trip(vector_backend: str, tmp_path: Path) -> None:
    ids, vectors = _data()
    index = VECTOR_BACKENDS[vector_backend](16)
    index.add(ids, vectors)
    index.save(tmp_path)
    loaded = VECTOR_LOADERS[vector_backend](tmp_path)
    assert loaded.count() == 200
    assert np.allclose(loaded.vectors(ids[:3]), vectors[:3], atol=1e-6)
    assert list(loaded.search(vectors[5], 3)[0]) == list(index.search(vectors[5], 3)[0])


def test_empty_vector_index_returns_nothing(vector_backend: str) -> None:
    index = VECTOR_BACKENDS[vector_backend](8)
    assert len(index.search(np.ones(8, dtype=np.float32), 5)[0]) == 0


CORPUS = [
    ["returns", "accepted", "within", "thirty", "days"],
    ["shipping", "takes", "two", "to", "four", "days"],
    ["refund", "to", "card", "within", "five", "days", "after", "return"],
    ["gift", "cards", "never", "expire"],
    ["return", "shipping", "is", "free", "for", "damaged", "items"],
    ["loyalty", "points", "expire", "after", "two", "years"],
]


@pytest.fixture(params=sorted(KEYWORD_BACKENDS))
def keyword_index(request: pytest.FixtureRequest) -> BM25Index:
    index = KEYWORD_BACKENDS[request.param]()
    index.add(np.arange(len(CORPUS), dtype=np.int64), CORPUS)
    return index


@pytest.mark.parametrize("query", ["return days", "shipping", "expire cards", "free damaged return"])
def test_bm25_ranking_agrees_with_rank_bm25(keyword_index: BM25Index, query: str) -> None:
    reference = BM25Okapi(CORPUS, k1=1.2, b=0.75)
    # We use Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5)); give the reference the same.
    for term in reference.idf:
        df = sum(term in doc for doc in CORPUS)
        reference.idf[term] = np.log1p((len(CORPUS) - df + 0.5) / (df + 0.5))
    expected = reference.get_scores(query.split())
    found, scores = keyword_index.search(query.split(), 10)
    matching = [i for i in np.argsort(-expected, kind="stable") if expected[i] > 0]
    assert list(found) == matching
    assert np.allclose(scores, expected[matching], rtol=1e-5)


def test_bm25_remove_filter_and_round_trip(keyword_index: BM25Index, tmp_path: Path) -> None:
    keyword_index.remove(np.array([0], dtype=np.int64))
    assert 0 not in keyword_index.search(["returns"], 10)[0]
    assert list(keyword_index.search(["days"], 10, allowed=np.array([2]))[0]) == [2]
    keyword_index.save(tmp_path)
    loaded = BM25Index.load(tmp_path)
    assert loaded.count() == 5
    for query in (["days"], ["expire"], ["return", "free"]):
        assert list(loaded.search(query, 5)[0]) == list(keyword_index.search(query, 5)[0])


def test_bm25_statistics_over_a_collection_equal_an_index_of_only_that_collection(keyword_index: BM25Index) -> None:
    visible = np.array([1, 2, 3, 5], dtype=np.int64)
    alone = type(keyword_index)()
    alone.add(visible, [CORPUS[i] for i in visible])
    for query in (["days"], ["return", "free"], ["expire", "cards", "points"]):
        ids, scores = keyword_index.search(query, 10, collection=visible)
        expected_ids, expected_scores = alone.search(query, 10)
        assert list(ids) == list(expected_ids)
        assert np.allclose(scores, expected_scores, rtol=1e-5)
        assert keyword_index.max_score(query, collection=visible) == pytest.approx(alone.max_score(query))
    # Hidden documents change nothing, even through terms only they contain.
    assert keyword_index.max_score(["returns"], collection=visible) == pytest.approx(alone.max_score(["returns"]))
    filtered, _ = keyword_index.search(["days"], 10, allowed=np.array([2]), collection=visible)
    assert list(filtered) == [2]


def test_bm25_unknown_terms_find_nothing(keyword_index: BM25Index) -> None:
    assert len(keyword_index.search(["zzz"], 5)[0]) == 0


def test_faiss_searches_on_one_thread_in_every_request_thread() -> None:
    """OpenMP's thread count is per thread: it must be set where the search runs, not once at start-up.

    With two OpenMP threads FAISS waited for the embedding runtime's threads after every question
    (a 144-passage search took 4.6-8 ms instead of 0.15 ms: docs/benchmarks.md, Query latency).
    """
    import threading

    import faiss

    ids, vectors = _data()
    index = FaissVectorIndex(vectors.shape[1])
    index.add(ids, vectors)
    seen: list[int] = []

    def request() -> None:
        index.search(vectors[0], 5)
        seen.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=request)
    worker.start()
    worker.join()
    assert seen == [1]
