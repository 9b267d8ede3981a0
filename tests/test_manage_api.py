"""Knowledge-manager endpoints: documents, failures, uploads and a background re-index the service then serves."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.settings import Settings
from tests.conftest import CORPUS

WARRANTY = (
    "# Warranty\n\n## Coverage\n\nEvery Nordvik kettle has a warranty of 24 months. "
    "Descaling damage is not covered by the kettle warranty."
)


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture
def manage(service, tmp_path):
    """A client whose re-index writes its embedding cache under tmp_path, with a small upload limit."""
    settings = Settings(cache_dir=tmp_path / "manage-cache", max_file_bytes=2000)
    with TestClient(create_app(service, settings)) as client:
        yield client
        client.app.state.ingest.wait(30)


def finished(client) -> dict | None:
    status = client.get("/v1/manage/ingest").json()
    return status if status["state"] in ("done", "failed") else None


def upload(client, *files: tuple[str, bytes]):
    return client.post("/v1/manage/upload", files=[("files", (name, data, "text/plain")) for name, data in files])


def test_documents_list_the_live_manifest(manage) -> None:
    body = manage.get("/v1/manage/documents").json()
    assert [d["source"] for d in body["documents"]] == sorted(CORPUS)
    returns = next(d for d in body["documents"] if d["source"] == "returns.md")
    assert returns["title"] == "Returns policy" and returns["language"] == "en" and returns["chunks"] >= 1
    assert set(returns) == {"source", "title", "language", "chunks", "bytes", "indexed_at", "tags"}
    assert body["index_version"] == manage.get("/readyz").json()["index_version"]
    assert manage.get("/v1/manage/failures").json()["failures"] == []


def test_upload_then_reindex_serves_the_new_document(manage, corpus: Path) -> None:
    before = manage.get("/readyz").json()["index_version"]
    response = upload(manage, ("warranty.md", WARRANTY.encode()))
    assert response.status_code == 201
    assert response.json() == {"saved": [{"source": "warranty.md", "bytes": len(WARRANTY.encode()), "replaced": False}]}
    assert (corpus / "warranty.md").read_text(encoding="utf-8") == WARRANTY
    assert manage.get("/v1/manage/ingest").json()["state"] == "idle"

    started = manage.post("/v1/manage/ingest")
    assert started.status_code == 202 and started.json()["state"] in ("running", "done")
    status = wait_for(lambda: finished(manage))
    assert status["state"] == "done" and status["error"] is None
    assert status["stages"]["files"] == {"done": len(CORPUS) + 1, "total": len(CORPUS) + 1}
    assert status["stages"]["embedding"]["done"] == status["stages"]["embedding"]["total"] >= 1
    report = status["report"]
    assert report["added"] == ["warranty.md"] and sorted(report["unchanged"]) == sorted(CORPUS)
    assert report["index_version"] != before

    def served() -> bool:
        hits = manage.post("/v1/search", json={"query": "kettle warranty descaling", "top_k": 3}).json()
        return hits["index_version"] == report["index_version"] and hits["hits"][0]["source"] == "warranty.md"

    wait_for(served)
    sources = [d["source"] for d in manage.get("/v1/manage/documents").json()["documents"]]
    assert "warranty.md" in sources


def test_unreadable_uploads_show_up_as_failures(manage) -> None:
    assert upload(manage, ("broken.pdf", b"%PDF-1.7 truncated")).status_code == 201
    manage.post("/v1/manage/ingest")
    assert wait_for(lambda: finished(manage))["state"] == "done"
    failures = manage.get("/v1/manage/failures").json()["failures"]
    assert [f["source"] for f in failures] == ["broken.pdf"]
    assert failures[0]["reason"] and failures[0]["message"]


def test_uploading_an_existing_name_replaces_it(manage, corpus: Path) -> None:
    response = upload(manage, ("returns.md", b"# Returns\n\nNew text."))
    assert response.json()["saved"][0]["replaced"] is True
    assert (corpus / "returns.md").read_bytes() == b"# Returns\n\nNew text."


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("../evil.md", b"x", 422, "bad_file_name"),
        ("sub/evil.md", b"x", 422, "bad_file_name"),
        ("sub\\evil.md", b"x", 422, "bad_file_name"),
        ("..", b"x", 422, "bad_file_name"),
        ("/etc/evil.md", b"x", 422, "bad_file_name"),
        ("C:evil.md", b"x", 422, "bad_file_name"),
        ("CON.md", b"x", 422, "bad_file_name"),
        ("com1.txt", b"x", 422, "bad_file_name"),
        ("x" * 300 + ".md", b"x", 422, "bad_file_name"),
        (".hidden.md", b"x", 422, "bad_file_name"),
        ("notes.exe", b"x", 415, "unsupported_format"),
        ("README", b"x", 415, "unsupported_format"),
        ("big.txt", b"x" * 2001, 413, "file_too_large"),
    ],
)
def test_bad_uploads_are_rejected_and_nothing_is_written(manage, corpus: Path, name, data, status, code) -> None:
    before = sorted(p.relative_to(corpus) for p in corpus.rglob("*"))
    response = upload(manage, ("fine.md", b"# Fine"), (name, data))
    assert response.status_code == status
    error = response.json()["error"]
    assert error == {"status": status, "code": code, "message": error["message"]} and error["message"]
    assert sorted(p.relative_to(corpus) for p in corpus.rglob("*")) == before
    assert not (corpus.parent / "evil.md").exists()


def test_an_upload_needs_files(manage) -> None:
    response = manage.post("/v1/manage/upload", data={"note": "no files"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


def test_a_second_reindex_while_one_runs_gets_409(manage, service) -> None:
    upload(manage, ("warranty.md", WARRANTY.encode()))
    release, entered = threading.Event(), threading.Event()
    embed = service.embedder.embed_documents

    def slow_embed(texts, progress=None):
        entered.set()
        release.wait(30)
        return embed(texts, progress)

    service.embedder.embed_documents = slow_embed
    try:
        assert manage.post("/v1/manage/ingest").status_code == 202
        assert entered.wait(30)
        running = manage.get("/v1/manage/ingest").json()
        assert running["state"] == "running" and running["stages"]["files"]["done"] == len(CORPUS) + 1
        second = manage.post("/v1/manage/ingest")
        assert second.status_code == 409 and second.json()["error"]["code"] == "ingest_running"
    finally:
        release.set()
    assert wait_for(lambda: finished(manage))["state"] == "done"
    assert manage.post("/v1/manage/ingest").status_code == 202


def test_a_failed_reindex_reports_why_and_keeps_serving(manage, service) -> None:
    with service.store.lock():
        manage.post("/v1/manage/ingest")
        status = wait_for(lambda: finished(manage))
    assert status["state"] == "failed" and "another ingest" in status["error"] and status["report"] is None
    assert manage.post("/v1/ask", json={"question": "return item 30 days"}).json()["found"] is True


def test_manage_needs_an_ingested_folder(tmp_path, embedder) -> None:
    from assistant.service import KnowledgeService, ServiceConfig
    from ingest.store.layout import IndexStore

    empty = KnowledgeService(IndexStore(tmp_path / "none"), embedder, ServiceConfig(0.2))
    with TestClient(create_app(empty, Settings(cache_dir=tmp_path / "c"))) as client:
        assert client.get("/v1/manage/documents").json() == {"index_version": None, "documents": []}
        response = upload(client, ("a.md", b"# A"))
        assert response.status_code == 409 and response.json()["error"]["code"] == "no_index"
        assert client.post("/v1/manage/ingest").status_code == 409
