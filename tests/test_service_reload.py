"""A running service switches to a new index version without a restart, failed requests or leaks."""

from __future__ import annotations

import os
import threading
import time

from assistant.service import KnowledgeService, ServiceConfig
from ingest.sync import sync_folder


def wait_for_version(service: KnowledgeService, version: str, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if service.retriever().index.version == version:
            return
        time.sleep(0.02)
    raise AssertionError(f"service never switched to {version}")


def test_new_version_is_picked_up_while_requests_keep_succeeding(service, corpus, store, embedder, cache) -> None:
    before = service.retriever().index.version
    errors: list[BaseException] = []
    versions: set[str] = set()
    stop = threading.Event()

    def ask_in_a_loop() -> None:
        while not stop.is_set():
            try:
                _, version = service.search("returns within 30 days", 5)
                versions.add(version)
            except BaseException as exc:  # noqa: BLE001 - the test counts every failure
                errors.append(exc)

    worker = threading.Thread(target=ask_in_a_loop)
    worker.start()
    (corpus / "new.md").write_text("# Gift wrapping\n\nGift wrapping costs 5 euros per parcel.")
    report = sync_folder(corpus, store, embedder, cache)
    wait_for_version(service, report.index_version)
    time.sleep(0.2)
    stop.set()
    worker.join()
    assert errors == []
    assert versions == {before, report.index_version}
    hits, _ = service.search("gift wrapping price", 3)
    assert hits.hits[0].chunk.source == "new.md"


def test_unloadable_new_version_keeps_the_old_one_serving(service, corpus, store, embedder, cache) -> None:
    before = service.retriever().index.version
    (corpus / "new.md").write_text("# New\n\nSomething new about parcels.")
    report = sync_folder(corpus, store, embedder, cache)
    # The passages the new version added are in the segment it wrote.
    (store.segments / report.index_version / "chunks.jsonl").write_text("corrupted\n")
    for _ in range(50):
        assert service.retriever().index.version == before
        time.sleep(0.01)
    assert service.last_error and "checksum" in service.last_error


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_repeated_loads_do_not_leak_files_or_threads(service, store, embedder) -> None:
    for _ in range(3):
        KnowledgeService(store, embedder, ServiceConfig(0.4)).load()
    fds, threads = _open_fds(), threading.active_count()
    for _ in range(50):
        fresh = KnowledgeService(store, embedder, ServiceConfig(0.4))
        fresh.load()
        fresh.search("returns", 3)
    assert _open_fds() <= fds
    assert threading.active_count() <= threads


def test_http_requests_at_a_steady_rate_never_fail_during_reindexes(client, service, corpus, store, embedder, cache):
    published = [service.retriever().index.version]
    outcomes: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def ask_steadily() -> None:
        while not stop.is_set():
            response = client.post("/v1/ask", json={"question": "returns within 30 days"})
            outcomes.append((response.status_code, response.json().get("index_version")))
            time.sleep(0.01)

    worker = threading.Thread(target=ask_steadily)
    worker.start()
    for n in range(3):
        time.sleep(0.3)
        (corpus / f"new{n}.md").write_text(f"# Gift wrapping {n}\n\nGift wrapping style {n} costs {n + 5} euros.")
        report = sync_folder(corpus, store, embedder, cache)
        wait_for_version(service, report.index_version)
        published.append(report.index_version)
    time.sleep(0.3)
    stop.set()
    worker.join()
    assert [o for o in outcomes if o[0] != 200] == []
    versions = [v for _, v in outcomes]
    assert set(versions) <= set(published) and published[-1] in versions
    # Every response names its version, and versions only move forward.
    order = [published.index(v) for v in versions]
    assert order == sorted(order) and len(outcomes) > 50
    print(f"\nrequests during 3 re-indexes: {len(outcomes)}, failed: 0, versions seen: {len(set(versions))}")


def test_opening_and_closing_the_app_does_not_leak_files_or_threads(service, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from assistant.api import create_app
    from assistant.settings import Settings

    settings = Settings(cache_dir=tmp_path / "c", feedback_db=tmp_path / "feedback.sqlite")

    def cycle() -> None:
        with TestClient(create_app(service, settings)) as client:
            assert client.post("/v1/ask", json={"question": "returns within 30 days"}).status_code == 200

    for _ in range(3):
        cycle()
    fds, threads = _open_fds(), threading.active_count()
    for _ in range(30):
        cycle()
    assert _open_fds() <= fds
    assert threading.active_count() <= threads


def test_warm_up_prepares_every_configured_language_without_calling_the_llm(corpus, store, embedder, cache) -> None:
    """The first Polish or Thai question after start must not wait for its stemmer or segmenter to load."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from ingest import analyzer
    from ingest.language import detect_language

    class FailingModel(FakeListChatModel):
        def _call(self, *args: object, **kwargs: object) -> str:
            raise AssertionError("warm-up must not spend an LLM call")

    class RecordingEmbedder(type(embedder)):  # type: ignore[misc]
        questions: list[str] = []

        def embed_queries(self, texts):  # type: ignore[no-untyped-def]
            self.questions.extend(texts)
            return super().embed_queries(texts)

        def embed_query(self, text):  # type: ignore[no-untyped-def]
            self.questions.append(text)
            return super().embed_query(text)

    recording = RecordingEmbedder()
    sync_folder(corpus, store, recording, cache)
    config = ServiceConfig(min_dense_score=0.4, languages=("en", "fi", "pl", "th"), query_batch_size=1)
    service = KnowledgeService(store, recording, config, FailingModel(responses=["unused"]))
    analyzer._polish.cache_clear()
    analyzer._thai_stopwords.cache_clear()

    service.warm_up()

    assert {detect_language(q) for q in recording.questions} == {"en", "fi", "pl", "th"}
    assert analyzer._polish.cache_info().currsize == 1
    assert analyzer._thai_stopwords.cache_info().currsize == 1


def test_the_first_question_after_a_reload_finds_the_keyword_matrix_built(
    service, corpus, store, embedder, cache, monkeypatch
) -> None:
    from ingest.store.bm25_index import BM25Index

    (corpus / "new.md").write_text("# Gift wrapping\n\nGift wrapping costs 5 euros per parcel.")
    report = sync_folder(corpus, store, embedder, cache)
    wait_for_version(service, report.index_version)
    swapped = service.retriever().index.keywords
    assert isinstance(swapped, BM25Index) and swapped.warmed
    # From here on, any build of the scoring matrix would happen inside a question.
    builds: list[int] = []
    original = BM25Index._build

    def counting(self: BM25Index):  # type: ignore[no-untyped-def]
        builds.append(1)
        return original(self)

    monkeypatch.setattr(BM25Index, "_build", counting)
    hits, version = service.search("gift wrapping price", 3)
    assert version == report.index_version and hits.hits[0].chunk.source == "new.md"
    assert builds == []
