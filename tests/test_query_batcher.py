"""Questions asked at the same moment share one forward pass, and each caller gets its own vector."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
import pytest

from assistant.query_batcher import QueryBatcher
from tests.fakes import FakeEmbedder


class SlowEmbedder(FakeEmbedder):
    """The fake embedder with the cost profile of a model: each forward pass takes time."""

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__()
        self.passes: list[int] = []
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def _pass(self, texts: Sequence[str]) -> None:
        with self._lock:
            self.passes.append(len(texts))
        time.sleep(0.05)
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("model failed")

    def embed_query(self, text: str) -> np.ndarray:
        self._pass([text])
        return super().embed_query(text)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        self._pass(texts)
        return np.vstack([FakeEmbedder.embed_query(self, t) for t in texts])


def ask_concurrently(batcher: QueryBatcher, questions: list[str]) -> dict[str, np.ndarray | BaseException]:
    results: dict[str, np.ndarray | BaseException] = {}
    start = threading.Barrier(len(questions))

    def one(question: str) -> None:
        start.wait()
        try:
            results[question] = batcher.embed_query(question)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            results[question] = exc

    threads = [threading.Thread(target=one, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(t.is_alive() for t in threads), "a caller hung"
    return results


def test_a_lone_question_is_embedded_at_once_in_a_pass_of_its_own() -> None:
    model = SlowEmbedder()
    batcher = QueryBatcher(model, max_batch=16)
    vector = batcher.embed_query("how long is delivery?")
    assert np.allclose(vector, FakeEmbedder().embed_query("how long is delivery?"))
    assert model.passes == [1]


def test_concurrent_questions_share_passes_and_each_caller_gets_its_own_vector() -> None:
    model = SlowEmbedder()
    batcher = QueryBatcher(model, max_batch=8)
    questions = [f"question number {i} about refunds" for i in range(24)]
    results = ask_concurrently(batcher, questions)
    reference = FakeEmbedder()
    for question in questions:
        vector = results[question]
        assert isinstance(vector, np.ndarray)
        assert np.allclose(vector, reference.embed_query(question))
    assert sum(model.passes) == 24
    assert max(model.passes) <= 8
    assert len(model.passes) <= 6  # one at a time would be 24 passes


def test_a_failed_pass_reaches_every_caller_in_it_and_the_next_question_works() -> None:
    model = SlowEmbedder(fail_on="poison")
    batcher = QueryBatcher(model, max_batch=16)
    results = ask_concurrently(batcher, ["poison"] + [f"question {i}" for i in range(7)])
    failed = [q for q, r in results.items() if isinstance(r, BaseException)]
    assert "poison" in failed
    assert all(isinstance(results[q], RuntimeError) for q in failed)
    model.fail_on = None
    assert np.allclose(batcher.embed_query("after the failure"), FakeEmbedder().embed_query("after the failure"))


@pytest.mark.parametrize("size", [1, 16])
def test_the_service_answers_the_same_with_and_without_batching(corpus, store, embedder, cache, size) -> None:
    from assistant.service import KnowledgeService, ServiceConfig
    from ingest.sync import sync_folder

    sync_folder(corpus, store, embedder, cache)
    service = KnowledgeService(store, embedder, ServiceConfig(0.4, query_batch_size=size))
    hits = service.retriever().search("How many days to return an item?", 3).hits
    assert hits[0].chunk.source == "returns.md"
