"""Folder sources beside `assistant ingest FOLDER`: each owns its documents, and neither removes the other's."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import Settings
from ingest.sources.folder import FolderSource
from ingest.sync import sync_folder, sync_sources
from tests.conftest import CORPUS, write_corpus

WARRANTY = "# Warranty\n\nEvery Nordvik kettle has a warranty of 24 months; descaling damage is not covered."


def test_a_folder_source_and_an_ingested_folder_keep_each_others_documents(
    corpus, store, embedder, cache, tmp_path
) -> None:
    handbook = write_corpus(
        tmp_path / "handbook",
        {"warranty.md": WARRANTY, "internal/escalation.md": "# Escalate\n\nCall the duty manager."},
    )
    (handbook / "internal/escalation.md.meta.json").write_text('{"groups": ["leads"]}')
    sync_folder(corpus, store, embedder, cache)
    source = FolderSource("handbook", handbook, tags=("handbook",))
    report = sync_sources([source], store, embedder, cache)
    assert sorted(report.sources[0].added) == ["internal/escalation.md", "warranty.md"]
    again = sync_folder(corpus, store, embedder, cache)
    assert again.removed == [] and sorted(again.unchanged) == sorted(CORPUS)
    docs = store.load().manifest.documents
    assert set(docs) == set(CORPUS) | {"handbook/warranty.md", "handbook/internal/escalation.md"}
    assert docs["handbook/internal/escalation.md"].groups == ["leads"]
    assert docs["handbook/warranty.md"].tags == ["handbook"]

    (corpus / "returns.md").unlink()
    assert sync_folder(corpus, store, embedder, cache).removed == ["returns.md"]
    (handbook / "warranty.md").unlink()
    part = sync_sources([source], store, embedder, cache).sources[0]
    assert part.removed == ["warranty.md"]
    assert "toimitus.md" in store.load().manifest.documents

    # Syncing every configured source drops the documents of a source no longer configured.
    report = sync_sources([], store, embedder, cache, configured=[])
    assert [(s.name, s.removed) for s in report.sources] == [("handbook", ["internal/escalation.md"])]
    assert all(not r.origin for r in store.load().manifest.documents.values())


def test_a_folder_source_document_opens_from_its_own_folder(store, embedder, cache, tmp_path) -> None:
    handbook = write_corpus(tmp_path / "handbook", {"warranty.md": WARRANTY})
    sync_sources([FolderSource("handbook", handbook)], store, embedder, cache)
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.3))
    with TestClient(create_app(service, Settings(cache_dir=tmp_path / "c"))) as client:
        response = client.get("/v1/documents/handbook/warranty.md")
        assert response.status_code == 200 and response.text == WARRANTY
        # No folder was ingested: upload and re-index have nothing to work on, and say so.
        reindex = client.post("/v1/manage/ingest")
        assert reindex.status_code == 409 and reindex.json()["error"]["code"] == "no_folder"
