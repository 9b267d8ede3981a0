"""A corrupt live index at start-up: fall back to the newest loadable version, or refuse with a clear error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant import cli, components
from assistant.api import create_app
from assistant.service import KnowledgeService, NoLoadableIndex, ServiceConfig
from assistant.settings import Settings
from ingest.store.layout import IndexCorrupt, IndexStore
from ingest.sync import sync_folder

SEGMENT_FILES = {
    "chunks.jsonl",
    "sentence_rows.npy",
    "sentence_spans.npy",
    "sentence_vectors.npy",
    "passage_ids.npy",
    "passage_vectors.npy",
}


def corrupt(store: IndexStore, version: str, name: str = "passage_vectors.npy") -> None:
    """Flip a byte of a checksummed file; cut the manifest (which holds the checksums) in half.

    Passages, sentences and (flat FAISS) passage vectors live in segments: their files are those of the
    segment `version` wrote.
    """
    path = (store.segments if name in SEGMENT_FILES else store.versions) / version / name
    data = bytearray(path.read_bytes())
    if name == "manifest.json":
        path.write_bytes(bytes(data[: len(data) // 2]))
        return
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def two_versions(corpus: Path, store: IndexStore, embedder, cache) -> tuple[str, str]:
    first = sync_folder(corpus, store, embedder, cache).index_version
    (corpus / "gift.md").write_text("# Gift wrapping\n\nGift wrapping costs 5 euros per parcel.", encoding="utf-8")
    second = sync_folder(corpus, store, embedder, cache).index_version
    assert store.current_version() == second != first
    return first, second


def fresh(store: IndexStore, embedder) -> KnowledgeService:
    return KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))


@pytest.mark.parametrize(
    "damaged", ["passage_vectors.npy", "chunks.jsonl", "sentence_vectors.npy", "keyword.npz", "manifest.json"]
)
def test_a_corrupt_live_version_falls_back_to_the_previous_one(corpus, store, embedder, cache, caplog, damaged) -> None:
    first, second = two_versions(corpus, store, embedder, cache)
    corrupt(store, second, damaged)
    service = fresh(store, embedder)
    with caplog.at_level(logging.ERROR, logger="assistant.service"):
        service.load()
    assert service.retriever().index.version == first
    assert service.last_error and second in service.last_error and f"earlier version {first}" in service.last_error
    assert any(second in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    # Requests keep working on the old version, and readiness says what happened.
    with TestClient(create_app(service, Settings())) as client:
        assert client.post("/v1/search", json={"query": "refund"}).json()["index_version"] == first
        ready = client.get("/readyz").json()
        assert ready["index_version"] == first and "earlier version" in ready["error"]


def test_with_no_loadable_version_start_up_fails_with_a_human_error(corpus, store, embedder, cache) -> None:
    first, second = two_versions(corpus, store, embedder, cache)
    # The first version's own file: the segments' files are shared by both versions.
    corrupt(store, first, "keyword.npz")
    corrupt(store, second, "chunks.jsonl")
    with pytest.raises(NoLoadableIndex) as info:
        fresh(store, embedder).load()
    message = str(info.value)
    assert isinstance(info.value, IndexCorrupt)
    assert "chunks.jsonl" in message and second in message and "assistant ingest" in message


def test_serve_exits_2_naming_the_corrupt_file(corpus, store, embedder, cache, monkeypatch, capsys) -> None:
    sync_folder(corpus, store, embedder, cache)
    corrupt(store, str(store.current_version()))
    monkeypatch.setattr(components, "build_embedder", lambda settings: embedder)
    assert cli.main(["serve", "--index", str(store.root)], settings=Settings()) == 2
    err = capsys.readouterr().err
    assert "passage_vectors.npy" in err and "assistant ingest" in err


def test_the_next_ingest_rebuilds_a_corrupt_index_and_the_service_moves_on(corpus, store, embedder, cache) -> None:
    first, second = two_versions(corpus, store, embedder, cache)
    corrupt(store, second)
    service = fresh(store, embedder)
    service.load()
    assert service.retriever().index.version == first
    report = sync_folder(corpus, store, embedder, cache)
    assert sorted(report.added) == sorted(p.name for p in corpus.iterdir()) and report.complete
    rebuilt = store.load()
    assert rebuilt.vectors.count() == rebuilt.keywords.count() == len(rebuilt.chunks)
    from tests.test_service_reload import wait_for_version

    wait_for_version(service, report.index_version)
    assert service.search("gift wrapping", 1)[0].hits[0].chunk.source == "gift.md"


def test_a_corrupt_shared_segment_is_caught_in_every_version_and_the_next_ingest_rebuilds(
    corpus, store, embedder, cache
) -> None:
    first, second = two_versions(corpus, store, embedder, cache)
    # The second version wrote only the new file's passages; the first one's segment serves both.
    assert [s.name for s in store.load(second).manifest.segments] == [first, second]
    corrupt(store, first, "sentence_vectors.npy")
    for version in (first, second):
        with pytest.raises(IndexCorrupt, match=f"segments/{first}/sentence_vectors.npy of version {version}"):
            store.load(version)
    with pytest.raises(NoLoadableIndex):
        fresh(store, embedder).load()
    report = sync_folder(corpus, store, embedder, cache)
    assert sorted(report.added) == sorted(p.name for p in corpus.iterdir()) and report.complete
    rebuilt = store.load()
    assert [s.name for s in rebuilt.manifest.segments] == [report.index_version]
    assert rebuilt.sentences.count() > 0 and len(rebuilt.chunks) == rebuilt.vectors.count()
    assert fresh(store, embedder).search("gift wrapping", 1)[0].hits[0].chunk.source == "gift.md"
