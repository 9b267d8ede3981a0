"""Every HTTP route and error case, over the tiny corpus with the fake embedder."""

from __future__ import annotations

import pytest

ITEM_KEYS = {"n", "source", "title", "page", "section", "language", "text", "highlight", "score", "url"}


def test_ask_returns_a_cited_answer_built_from_document_sentences(client) -> None:
    response = client.post("/v1/ask", json={"question": "How many days do I have to return an item?"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "answer",
        "found",
        "language",
        "citations",
        "related",
        "index_version",
        "timings_ms",
        "conversation_id",
        "answer_id",
        "searched_for",
    }
    assert body["searched_for"] == "How many days do I have to return an item?"
    assert body["found"] is True and body["language"] == "en"
    first = body["citations"][0]
    assert set(first) == ITEM_KEYS
    assert first["source"] == "returns.md" and first["n"] == 1
    start, end = first["highlight"]
    assert "30 days" in first["text"][start:end]
    # Every answer sentence is a document sentence followed by its citation marker.
    assert "within 30 days of delivery for a full refund. [1]" in body["answer"]
    assert body["answer"].replace(" [1]", "") in first["text"]
    assert {"embedding", "dense_search", "keyword_search", "fusion", "answer"} <= set(body["timings_ms"])


def test_search_returns_ranked_hits(client) -> None:
    body = client.post("/v1/search", json={"query": "BLIK płatności", "top_k": 3}).json()
    assert body["hits"][0]["source"] == "platnosci.md"
    assert len(body["hits"]) <= 3
    assert [h["n"] for h in body["hits"]] == list(range(1, len(body["hits"]) + 1))


def test_filters_restrict_hits(client) -> None:
    body = client.post("/v1/search", json={"query": "days", "filters": {"languages": ["fi"]}}).json()
    assert body["hits"] and {h["language"] for h in body["hits"]} == {"fi"}
    body = client.post("/v1/search", json={"query": "days", "filters": {"source_prefix": "plat"}}).json()
    assert {h["source"] for h in body["hits"]} == {"platnosci.md"}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"question": ""}, "empty_question"),
        ({"question": "   "}, "empty_question"),
        ({"question": "x" * 501}, "question_too_long"),
        ({"question": "ok", "top_k": 0}, "top_k_out_of_range"),
        ({"question": "ok", "top_k": 21}, "top_k_out_of_range"),
        ({"question": "ok", "top_k": "many"}, "invalid_request"),
        ({"question": "ok", "unknown": 1}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_bad_requests_get_422_in_the_common_shape(client, payload, code) -> None:
    response = client.post("/v1/ask", json=payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code and error["status"] == 422 and error["message"]


def test_malformed_json_is_a_4xx_not_a_500(client) -> None:
    response = client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_unknown_route_uses_the_common_error_shape(client) -> None:
    response = client.get("/v1/nope")
    assert response.status_code == 404 and response.json()["error"]["status"] == 404


def test_documents_open_at_the_cited_place(client) -> None:
    citation = client.post("/v1/ask", json={"question": "return item 30 days"}).json()["citations"][0]
    assert citation["url"].startswith("/v1/view/returns.md#chunk-")
    page = client.get(citation["url"].split("#")[0])
    assert page.status_code == 200 and citation["url"].split("#")[1] in page.text
    original = client.get("/v1/documents/returns.md")
    assert original.status_code == 200 and original.text.startswith("# Returns policy")


@pytest.mark.parametrize("source", ["nope.md", "../etc/passwd", "%2e%2e/%2e%2e/etc/passwd"])
def test_only_indexed_documents_are_served(client, source) -> None:
    assert client.get(f"/v1/documents/{source}").status_code == 404


def test_health_readiness_and_metrics(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["index_version"]
    assert "chunks" not in ready  # open route: no counts that would include restricted documents
    client.post("/v1/ask", json={"question": "refund"})
    metrics = client.get("/metrics").text
    assert 'assistant_requests_total{route="/v1/ask",status="200"}' in metrics


def test_openapi_docs_are_served(client) -> None:
    assert client.get("/docs").status_code == 200
    assert "/v1/ask" in client.get("/openapi.json").json()["paths"]


def test_readiness_names_the_embedding_runtime_once_the_model_is_loaded(service, client) -> None:
    """An operator can see whether the ONNX runtime is in use or the torch fallback was taken."""
    from ingest.embedder import LazyEmbedder

    loaded = service.embedder
    service.embedder = LazyEmbedder(lambda: loaded, loaded.model_id)
    assert "embedding_backend" not in client.get("/readyz").json()
    loaded.backend = "torch"
    service.embedder.loaded.embed_query("warm")
    assert client.get("/readyz").json()["embedding_backend"] == "torch"


def test_a_model_mismatch_found_at_first_load_is_a_503_not_a_500(corpus, store, embedder, cache) -> None:
    """An index built with another model answers 503 with what to do, on every route that needs it."""
    from fastapi.testclient import TestClient

    from assistant.api import create_app
    from assistant.service import KnowledgeService, ServiceConfig
    from assistant.settings import Settings
    from ingest.sync import sync_folder
    from tests.fakes import FakeEmbedder

    sync_folder(corpus, store, embedder, cache)
    # Not loaded: the mismatch is found by the first request, as after a model setting change.
    other = KnowledgeService(store, FakeEmbedder(embedder.dim, "another-model"), ServiceConfig(min_dense_score=0.4))
    with TestClient(create_app(other, Settings())) as client:
        for response in (
            client.post("/v1/search", json={"query": "refund"}),
            client.post("/v1/ask", json={"question": "refund"}),
            client.get("/v1/view/returns.md"),
        ):
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == "model_mismatch"
            assert "fake-embedder" in error["message"] and "another-model" in error["message"]


def test_every_error_the_assistant_raises_on_purpose_shares_one_base() -> None:
    from assistant.auth import InsecureSettings
    from assistant.errors import ApiError
    from assistant.exceptions import AssistantError
    from assistant.retriever import ModelMismatch
    from assistant.uploads import UploadRejected
    from eval.beir import BeirError
    from eval.sets import EvalSetError
    from eval.workbench import TargetError
    from ingest.errors import IngestError
    from ingest.store.layout import IndexError_

    for kind in (ApiError, InsecureSettings, ModelMismatch, UploadRejected, IndexError_, IngestError):
        assert issubclass(kind, AssistantError), kind
    for kind in (BeirError, EvalSetError, TargetError):
        assert issubclass(kind, AssistantError) and issubclass(kind, ValueError), kind
    assert (ModelMismatch("x").status, IndexError_("x").status) == (503, 503)
    assert ApiError(429, "rate_limited", "slow down").status == 429
