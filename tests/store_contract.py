"""Contract suites every vector and keyword backend must pass (Haystack's document-store mixins, ours).

A backend's test module subclasses the contract and provides `make` and `load`; nothing else.
The checks compare against references: brute-force numpy for vectors, rank_bm25 for keywords.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from ingest.embedder import normalise
from ingest.store.base import KeywordIndex, VectorIndex


def clustered_vectors(n: int, dim: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around topics (as passages are), keyed by ids that do not start at 0."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(4, n // 50), dim))
    data = centres[rng.integers(0, len(centres), n)] + 0.7 * rng.standard_normal((n, dim))
    return np.arange(1000, 1000 + n, dtype=np.int64), normalise(data.astype(np.float32))


class VectorIndexContract:
    """Behaviours of a VectorIndex; `recall` is 1.0 for exact backends, the floor for approximate ones."""

    n = 300
    dim = 16
    recall = 1.0

    def make(self, dim: int) -> VectorIndex:
        raise NotImplementedError

    def load(self, index: VectorIndex, folder: Path) -> VectorIndex:
        raise NotImplementedError

    def filled(self) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
        ids, vectors = clustered_vectors(self.n, self.dim)
        index = self.make(self.dim)
        index.add(ids[: self.n // 2], vectors[: self.n // 2])
        index.add(ids[self.n // 2 :], vectors[self.n // 2 :])  # in two batches, as re-syncs add
        return index, ids, vectors

    def test_search_matches_brute_force(self) -> None:
        index, ids, vectors = self.filled()
        hits = []
        for row in range(0, self.n, max(1, self.n // 20)):
            query = normalise((vectors[row] + 0.1)[None])[0]
            found, scores = index.search(query, 10)
            expected = ids[np.argsort(-(vectors @ query))[:10]]
            assert np.all(np.diff(scores) <= 1e-5)
            hits.append(len(set(found) & set(expected)) / 10)
        assert np.mean(hits) >= self.recall

    def test_searching_many_at_once_finds_what_each_search_finds(self) -> None:
        index, _, vectors = self.filled()
        queries = normalise(vectors[::37] + 0.1)
        many = index.search_many(queries, 10)
        assert len(many) == len(queries)
        for query, (ids, scores) in zip(queries, many, strict=True):
            one_ids, one_scores = index.search(query, 10)
            assert list(ids) == list(one_ids)
            assert np.allclose(scores, one_scores, atol=1e-5)
        assert self.make(self.dim).search_many(queries, 10)[0][0].size == 0

    def test_count_dim_and_vectors(self) -> None:
        index, ids, vectors = self.filled()
        assert index.count() == self.n
        assert index.dim == self.dim
        assert np.allclose(index.vectors(ids[[0, 7, self.n - 1]]), vectors[[0, 7, self.n - 1]], atol=1e-6)

    def test_removed_ids_are_never_found(self) -> None:
        index, ids, vectors = self.filled()
        index.remove(ids[: self.n // 2])
        assert index.count() == self.n - self.n // 2
        found, _ = index.search(vectors[0], self.n)
        assert len(found) and set(found) <= set(ids[self.n // 2 :])

    def test_filter_applies_before_top_k(self) -> None:
        index, ids, vectors = self.filled()
        allowed = ids[150:155]
        found, _ = index.search(vectors[0], 10, allowed=allowed)
        assert sorted(found) == sorted(allowed)
        assert len(index.search(vectors[0], 10, allowed=np.zeros(0, dtype=np.int64))[0]) == 0

    def test_save_load_round_trip(self, tmp_path: Path) -> None:
        index, ids, vectors = self.filled()
        index.save(tmp_path)
        loaded = self.load(index, tmp_path)
        assert loaded.count() == self.n
        assert loaded.describe() == index.describe()
        assert np.allclose(loaded.vectors(ids[:3]), vectors[:3], atol=1e-6)
        for row in (5, 50):
            assert list(loaded.search(vectors[row], 5)[0]) == list(index.search(vectors[row], 5)[0])

    def test_empty_index_returns_nothing(self) -> None:
        index = self.make(8)
        assert len(index.search(np.ones(8, dtype=np.float32) / np.sqrt(8), 5)[0]) == 0


CORPUS = [
    ["returns", "accepted", "within", "thirty", "days"],
    ["shipping", "takes", "two", "to", "four", "days"],
    ["refund", "to", "card", "within", "five", "days", "after", "return"],
    ["gift", "cards", "never", "expire"],
    ["return", "shipping", "is", "free", "for", "damaged", "items"],
    ["loyalty", "points", "expire", "after", "two", "years"],
]


def lucene_bm25_scores(corpus: list[list[str]], query: list[str]) -> np.ndarray:
    """rank_bm25's Okapi scores (k1 1.2, b 0.75) with Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5))."""
    reference = BM25Okapi(corpus, k1=1.2, b=0.75)
    for term in reference.idf:
        df = sum(term in doc for doc in corpus)
        reference.idf[term] = np.log1p((len(corpus) - df + 0.5) / (df + 0.5))
    return np.asarray(reference.get_scores(query))


class KeywordIndexContract:
    """Behaviours of a KeywordIndex with BM25 semantics (Lucene idf, k1 1.2, b 0.75)."""

    def make(self) -> KeywordIndex:
        raise NotImplementedError

    def load(self, index: KeywordIndex, folder: Path) -> KeywordIndex:
        raise NotImplementedError

    def filled(self) -> KeywordIndex:
        index = self.make()
        index.add(np.arange(len(CORPUS), dtype=np.int64), CORPUS)
        return index

    @pytest.mark.parametrize("query", ["return days", "shipping", "expire cards", "free damaged return"])
    def test_ranking_agrees_with_rank_bm25(self, query: str) -> None:
        reference = BM25Okapi(CORPUS, k1=1.2, b=0.75)
        # We use Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5)); give the reference the same.
        for term in reference.idf:
            df = sum(term in doc for doc in CORPUS)
            reference.idf[term] = np.log1p((len(CORPUS) - df + 0.5) / (df + 0.5))
        expected = reference.get_scores(query.split())
        found, scores = self.filled().search(query.split(), 10)
        matching = [i for i in np.argsort(-expected, kind="stable") if expected[i] > 0]
        assert list(found) == matching
        assert np.allclose(scores, expected[matching], rtol=1e-5)

    def test_remove_filter_and_round_trip(self, tmp_path: Path) -> None:
        index = self.filled()
        index.remove(np.array([0], dtype=np.int64))
        assert index.count() == 5
        assert 0 not in index.search(["returns"], 10)[0]
        assert list(index.search(["days"], 10, allowed=np.array([2]))[0]) == [2]
        index.save(tmp_path)
        loaded = self.load(index, tmp_path)
        assert loaded.count() == 5
        assert loaded.describe() == index.describe()
        for query in (["days"], ["expire"], ["return", "free"]):
            assert list(loaded.search(query, 5)[0]) == list(index.search(query, 5)[0])

    def test_statistics_over_a_collection_equal_an_index_of_only_that_collection(self) -> None:
        index = self.filled()
        visible = np.array([1, 2, 3, 5], dtype=np.int64)
        alone = self.make()
        alone.add(visible, [CORPUS[i] for i in visible])
        for query in (["days"], ["return", "free"], ["expire", "cards", "points"]):
            ids, scores = index.search(query, 10, collection=visible)
            expected_ids, expected_scores = alone.search(query, 10)
            assert list(ids) == list(expected_ids)
            assert np.allclose(scores, expected_scores, rtol=1e-5)
            assert index.max_score(query, collection=visible) == pytest.approx(alone.max_score(query))
        # Hidden documents change nothing, even through terms only they contain.
        assert index.max_score(["returns"], collection=visible) == pytest.approx(alone.max_score(["returns"]))
        filtered, _ = index.search(["days"], 10, allowed=np.array([2]), collection=visible)
        assert list(filtered) == [2]

    def test_a_term_repeated_hundreds_of_times_ranks_as_the_reference(self) -> None:
        # Counts past 255 (a pasted log, a long table) must count in full, not wrap.
        corpus = [*CORPUS, ["refund"] * 300 + ["policy"], ["refund", "refund", "policy"] * 90]
        index = self.make()
        index.add(np.arange(len(corpus), dtype=np.int64), corpus)
        for query in (["refund"], ["refund", "policy"]):
            expected = lucene_bm25_scores(corpus, query)
            found, scores = index.search(query, 10)
            matching = [i for i in np.argsort(-expected, kind="stable") if expected[i] > 0]
            assert list(found) == matching
            assert np.allclose(scores, expected[matching], rtol=1e-5)

    def test_an_index_saved_after_searching_loads_with_the_same_scores(self, tmp_path: Path) -> None:
        index = self.filled()
        (tmp_path / "first").mkdir()
        index.save(tmp_path / "first")
        loaded = self.load(index, tmp_path / "first")
        queries = (["days"], ["return", "free"], ["expire", "cards", "points"])
        before = [loaded.search(query, 10) for query in queries]
        # Saved again once scored, as a served version is: what it writes is what it read.
        (tmp_path / "again").mkdir()
        loaded.save(tmp_path / "again")
        again = self.load(loaded, tmp_path / "again")
        visible = np.array([1, 2, 3, 5], dtype=np.int64)
        assert again.count() == index.count()
        for query, (ids, scores) in zip(queries, before, strict=True):
            found, found_scores = again.search(query, 10)
            assert list(found) == list(ids) and np.array_equal(found_scores, scores)
            assert list(again.search(query, 10, collection=visible)[0]) == list(
                index.search(query, 10, collection=visible)[0]
            )
            assert again.max_score(query, collection=visible) == pytest.approx(
                index.max_score(query, collection=visible)
            )

    def test_unknown_terms_find_nothing(self) -> None:
        assert len(self.filled().search(["zzz"], 5)[0]) == 0

    def test_a_loaded_index_changes_like_a_built_one(self, tmp_path: Path) -> None:
        index = self.filled()
        index.save(tmp_path)
        loaded = self.load(index, tmp_path)
        # Scored once before it changes, as a served version is.
        assert list(loaded.search(["days"], 10)[0]) == list(index.search(["days"], 10)[0])
        for changed in (index, loaded):
            changed.remove(np.array([1], dtype=np.int64))
            changed.add(np.array([42], dtype=np.int64), [["zebra", "return"]])
        assert loaded.count() == index.count() == 6
        for query in (["zebra"], ["return", "free"], ["days"]):
            ids, scores = loaded.search(query, 10)
            expected_ids, expected_scores = index.search(query, 10)
            assert list(ids) == list(expected_ids) and np.allclose(scores, expected_scores)
        assert 1 not in loaded.search(["days"], 10)[0]

    def test_warm_index_ranks_as_a_cold_one_and_after_a_change(self) -> None:
        cold, warm = self.filled(), self.filled()
        warm.warm()
        for query in (["days"], ["return", "free"]):
            assert list(warm.search(query, 5)[0]) == list(cold.search(query, 5)[0])
        # A change after warming is still seen by the next search.
        warm.add(np.array([99], dtype=np.int64), [["zebra"]])
        warm.warm()
        assert list(warm.search(["zebra"], 5)[0]) == [99]
