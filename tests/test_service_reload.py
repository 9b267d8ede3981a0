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
    report = sync_folder(corpus, store, embedder, embedder.model_id, cache)
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
    report = sync_folder(corpus, store, embedder, embedder.model_id, cache)
    (store.versions / report.index_version / "chunks.jsonl").write_text("corrupted\n")
    for _ in range(50):
        assert service.retriever().index.version == before
        time.sleep(0.01)
    assert service.last_error and "checksum" in service.last_error


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_repeated_loads_do_not_leak_files_or_threads(service, store, embedder) -> None:
    for _ in range(3):
        KnowledgeService(store, embedder, embedder.model_id, ServiceConfig(0.4)).load()
    fds, threads = _open_fds(), threading.active_count()
    for _ in range(50):
        fresh = KnowledgeService(store, embedder, embedder.model_id, ServiceConfig(0.4))
        fresh.load()
        fresh.search("returns", 3)
    assert _open_fds() <= fds
    assert threading.active_count() <= threads
