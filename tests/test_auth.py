"""API keys and roles, per-group document visibility, rate limits, body size, timeouts and start-up safety."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant import cli
from assistant.api import create_app
from assistant.auth import InsecureSettings, check_security, hash_key
from assistant.limits import RateLimiter
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import ApiKey, Settings
from ingest.sync import sync_folder
from tests.conftest import write_corpus

CANARY = "CANARY-HR-7731"
RESTRICTED = "hr/bonus-policy.md"
RESTRICTED_TEXT = (
    f"# Bonus policy {CANARY}\n\n"
    f"## Refund bonus\n\nStaff who handle returns get a refund bonus of 300 euros, code {CANARY}. "
    "The bonus is paid within 30 days of the return."
)
KEYS = {
    "public-agent": ("agent-key-public-0123456789", "agent", []),
    "finance-agent": ("agent-key-finance-0123456789", "agent", ["finance"]),
    "hr-agent": ("agent-key-hr-0123456789abcdef", "agent", ["hr"]),
    "boss": ("manager-key-0123456789abcdef", "manager", []),
}
OUTSIDERS = ["public-agent", "finance-agent"]
QUESTIONS = [
    "How big is the refund bonus for staff who handle returns?",
    CANARY,
    "bonus policy",
    "How many days do I have to return an item?",
]


def api_keys() -> list[ApiKey]:
    return [ApiKey(name=n, sha256=hash_key(k), role=r, groups=g) for n, (k, r, g) in KEYS.items()]  # type: ignore[arg-type]


def auth(name: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[name][0]}


@pytest.fixture
def secure_service(tmp_path: Path, embedder, cache) -> KnowledgeService:
    """The tiny corpus plus one document restricted to the hr group."""
    root = write_corpus(tmp_path / "kb")
    (root / "hr").mkdir()
    (root / RESTRICTED).write_text(RESTRICTED_TEXT, encoding="utf-8")
    (root / f"{RESTRICTED}.meta.json").write_text(json.dumps({"groups": ["hr"]}), encoding="utf-8")
    from ingest.store.layout import IndexStore

    store = IndexStore(tmp_path / "secure-index")
    sync_folder(root, store, embedder, cache)
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
    service.load()
    return service


@pytest.fixture
def make_client(secure_service, tmp_path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        options: dict[str, Any] = {"api_keys": api_keys(), "cache_dir": tmp_path / "c", **overrides}
        client = TestClient(create_app(secure_service, Settings(**options)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def secure(make_client) -> TestClient:
    return make_client()


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["code"] == code and error["message"]
    return error


# --- who may call what -------------------------------------------------------------------------

PROTECTED = [
    ("post", "/v1/ask", {"question": "refund"}),
    ("post", "/v1/ask/stream", {"question": "refund"}),
    ("post", "/v1/search", {"query": "refund"}),
    ("post", "/v1/suggest", {"subject": "", "messages": [{"author": "customer", "text": "Is the refund free?"}]}),
    ("post", "/v1/feedback", {"question": "q", "answer": "a", "found": True, "index_version": "v", "rating": "up"}),
    ("get", "/v1/view/returns.md", None),
    ("get", "/v1/documents/returns.md", None),
    ("get", "/v1/manage/documents", None),
    ("get", "/v1/manage/failures", None),
    ("get", "/v1/manage/gaps", None),
    ("get", "/v1/manage/ingest", None),
    ("post", "/v1/manage/ingest", None),
]


def call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str] | None = None):
    if method == "post":
        return client.post(path, json=body, headers=headers)
    return client.get(path, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_data_route_needs_a_key(secure, method, path, body) -> None:
    error = assert_error(call(secure, method, path, body), 401, "missing_api_key")
    assert "X-API-Key" in error["message"]
    assert_error(call(secure, method, path, body, {"X-API-Key": "not-a-real-key-000000"}), 401, "unknown_api_key")


@pytest.mark.parametrize("path", ["/", "/manage", "/static/app.js", "/healthz", "/readyz", "/docs"])
def test_pages_and_health_stay_open(secure, path) -> None:
    assert secure.get(path).status_code == 200


def test_bearer_and_x_api_key_headers_both_work(secure) -> None:
    key = KEYS["public-agent"][0]
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}, {"authorization": f"bearer {key}"}):
        assert secure.post("/v1/search", json={"query": "refund"}, headers=headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), [r for r in PROTECTED if r[1].startswith("/v1/manage")])
def test_agents_get_403_on_manage_routes_and_managers_get_in(secure, method, path, body) -> None:
    error = assert_error(call(secure, method, path, body, auth("hr-agent")), 403, "forbidden")
    assert "manager" in error["message"]
    assert call(secure, method, path, body, auth("boss")).status_code in (200, 202)


def test_agents_use_query_feedback_and_document_routes(secure) -> None:
    for method, path, body in PROTECTED:
        if not path.startswith("/v1/manage"):
            assert call(secure, method, path, body, auth("public-agent")).status_code in (200, 201), path


def test_a_raw_key_in_a_cookie_no_longer_authorises_anything(secure) -> None:
    """The panel used to write the key into a script-readable cookie; only the session cookie counts now."""
    secure.cookies.set("assistant_key", KEYS["public-agent"][0])
    assert_error(secure.get("/v1/view/returns.md"), 401, "missing_api_key")
    assert_error(secure.get("/v1/documents/returns.md"), 401, "missing_api_key")
    assert_error(secure.post("/v1/ask", json={"question": "refund"}), 401, "missing_api_key")


def test_without_keys_in_development_everything_is_open_with_a_warning(secure_service, tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="assistant.auth"):
        app = create_app(secure_service, Settings(cache_dir=tmp_path / "c"))
    assert any("No API keys are configured" in r.getMessage() for r in caplog.records)
    with TestClient(app) as client:
        assert client.get("/v1/manage/documents").status_code == 200
        # Without keys nobody is restricted: the hr document is visible (development only).
        assert client.get(f"/v1/view/{RESTRICTED}").status_code == 200


# --- restricted documents never reach an outsider ----------------------------------------------


def sse_answer(text: str) -> dict[str, Any]:
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: answer")
    return json.loads(last.split("data: ", 1)[1])


def responses_for(client: TestClient, who: str) -> list[str]:
    """Every query and document response body this caller can get about the restricted topic."""
    headers = auth(who)
    bodies = []
    for question in QUESTIONS:
        for top_k in (5, 20):
            ask = client.post("/v1/ask", json={"question": question, "top_k": top_k}, headers=headers)
            search = client.post("/v1/search", json={"query": question, "top_k": top_k}, headers=headers)
            stream = client.post("/v1/ask/stream", json={"question": question, "top_k": top_k}, headers=headers)
            assert ask.status_code == search.status_code == stream.status_code == 200
            # An answer echoes the caller's own question as searched_for; that is not a leak.
            echo = f'"searched_for":{json.dumps(question)}'
            bodies += [ask.text.replace(echo, ""), search.text, stream.text.replace(echo, "")]
    for path in (f"/v1/view/{RESTRICTED}", f"/v1/documents/{RESTRICTED}"):
        bodies.append(client.get(path, headers=headers).text)
    return bodies


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_restricted_passages_never_reach_an_outsider(secure, outsider) -> None:
    bodies = responses_for(secure, outsider)
    leaked = [b for b in bodies if CANARY in b or "bonus-policy" in b.replace(f"called {RESTRICTED}", "")]
    assert leaked == []
    headers = auth(outsider)
    for question in QUESTIONS:
        ask = secure.post("/v1/ask", json={"question": question, "top_k": 20}, headers=headers).json()
        shown = ask["citations"] + ask["related"]
        assert all(item["source"] != RESTRICTED for item in shown)
        assert CANARY not in ask["answer"]
        stream = sse_answer(secure.post("/v1/ask/stream", json={"question": question}, headers=headers).text)
        assert all(item["source"] != RESTRICTED for item in stream["citations"] + stream["related"])
        hits = secure.post("/v1/search", json={"query": question, "top_k": 20}, headers=headers).json()["hits"]
        assert all(hit["source"] != RESTRICTED for hit in hits)
    # The restricted topic itself is simply not found, as if the document did not exist.
    only_there = secure.post("/v1/ask", json={"question": CANARY}, headers=headers).json()
    assert only_there["found"] is False and only_there["citations"] == []


@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_a_restricted_document_404s_exactly_like_a_missing_one(secure, outsider) -> None:
    for route in ("/v1/view/", "/v1/documents/"):
        restricted = secure.get(route + RESTRICTED, headers=auth(outsider))
        missing = secure.get(route + "hr/no-such-file.md", headers=auth(outsider))
        assert restricted.status_code == missing.status_code == 404
        assert restricted.json()["error"]["code"] == missing.json()["error"]["code"] == "document_not_found"
        assert restricted.json()["error"]["message"].replace(RESTRICTED, "X") == missing.json()["error"][
            "message"
        ].replace("hr/no-such-file.md", "X")


def test_hit_counts_for_an_outsider_are_those_of_the_public_documents(secure, secure_service) -> None:
    public_chunks = [c for c in secure_service.retriever().index.chunks.values() if c.source != RESTRICTED]
    body = {"query": "refund bonus returns days", "top_k": 50}
    outsider = secure.post("/v1/search", json=body, headers=auth("public-agent")).json()["hits"]
    insider = secure.post("/v1/search", json=body, headers=auth("hr-agent")).json()["hits"]
    assert len(outsider) <= len(public_chunks) < len(insider)
    assert {h["source"] for h in insider} - {h["source"] for h in outsider} == {RESTRICTED}


@pytest.mark.parametrize("insider", ["hr-agent", "boss"])
def test_group_members_and_managers_see_the_restricted_document(secure, insider) -> None:
    headers = auth(insider)
    hits = secure.post("/v1/search", json={"query": CANARY, "top_k": 3}, headers=headers).json()["hits"]
    assert hits[0]["source"] == RESTRICTED and CANARY in hits[0]["text"]
    assert CANARY in secure.get(f"/v1/view/{RESTRICTED}", headers=headers).text
    ask = secure.post("/v1/ask", json={"question": QUESTIONS[0]}, headers=headers).json()
    assert ask["found"] and ask["citations"][0]["source"] == RESTRICTED


# --- rate limit, body size, timeout ------------------------------------------------------------


def test_rate_limiter_refills_evenly() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    assert all(limiter.take("a") == 0.0 for _ in range(60))
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") == 0.0  # buckets are per key
    now[0] += 1.0
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0


def test_rate_limit_is_per_key_with_429_and_retry_after(make_client) -> None:
    client = make_client(rate_limit_per_minute=3)
    for _ in range(3):
        assert client.post("/v1/search", json={"query": "refund"}, headers=auth("public-agent")).status_code == 200
    limited = client.post("/v1/search", json={"query": "refund"}, headers=auth("public-agent"))
    assert_error(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    assert client.post("/v1/search", json={"query": "refund"}, headers=auth("hr-agent")).status_code == 200


def test_oversized_bodies_get_413_declared_or_streamed(make_client) -> None:
    client = make_client(max_request_bytes=2000)
    body = json.dumps({"question": "refund " * 1000})
    headers = {**auth("public-agent"), "Content-Type": "application/json"}
    error = assert_error(client.post("/v1/ask", content=body, headers=headers), 413, "request_too_large")
    assert "2,000 bytes" in error["message"]

    def chunked() -> Iterator[bytes]:
        for n in range(0, len(body), 500):
            yield body[n : n + 500].encode()

    assert_error(client.post("/v1/ask", content=chunked(), headers=headers), 413, "request_too_large")
    small = json.dumps({"question": "refund"})
    assert client.post("/v1/ask", content=iter([small.encode()]), headers=headers).status_code == 200


def test_uploads_may_be_larger_than_the_json_limit(make_client) -> None:
    client = make_client(max_request_bytes=2000, max_file_bytes=10_000)
    files = [("files", ("big.txt", b"Parcel lockers are emptied daily. " * 200, "text/plain"))]
    assert client.post("/v1/manage/upload", files=files, headers=auth("boss")).status_code == 201


def test_slow_queries_get_503_instead_of_hanging(make_client, secure_service, monkeypatch) -> None:
    client = make_client(request_timeout_s=0.3)
    real_search = secure_service.search

    def slow(*args: Any, **kwargs: Any):
        time.sleep(1.5)
        return real_search(*args, **kwargs)

    monkeypatch.setattr(secure_service, "search", slow)
    started = time.perf_counter()
    error = assert_error(client.post("/v1/search", json={"query": "refund"}, headers=auth("boss")), 503, "timeout")
    assert time.perf_counter() - started < 1.2 and "0.3 s" in error["message"]


# --- start-up safety and key hashing ------------------------------------------------------------


@pytest.mark.parametrize("weak", ["changeme", "secret", "", "CHANGEME", "password"])
def test_production_refuses_default_keys(weak) -> None:
    key = ApiKey(name="ops", sha256=hash_key(weak), role="manager")
    with pytest.raises(InsecureSettings, match="well-known default"):
        check_security(Settings(environment="production", api_keys=[key]))


def test_production_refuses_to_start_without_keys(secure_service, tmp_path) -> None:
    with pytest.raises(InsecureSettings, match="ASSISTANT_API_KEYS"):
        create_app(secure_service, Settings(environment="production", cache_dir=tmp_path / "c"))
    ok = Settings(environment="production", api_keys=api_keys(), cache_dir=tmp_path / "c")
    assert check_security(ok) == []
    create_app(secure_service, ok)


def test_serve_exits_2_with_the_reason_in_production_without_keys(tmp_path, capsys) -> None:
    settings = Settings(environment="production", index_dir=tmp_path / "none")
    assert cli.main(["serve"], settings=settings) == 2
    assert "no API keys are configured" in capsys.readouterr().err


def test_duplicate_key_names_are_refused() -> None:
    keys = [ApiKey(name="a", sha256="0" * 64, role="agent"), ApiKey(name="a", sha256="1" * 64, role="agent")]
    with pytest.raises(InsecureSettings, match="unique"):
        check_security(Settings(api_keys=keys))


def test_keys_are_read_from_the_environment_as_json(monkeypatch) -> None:
    entry = {"name": "alice", "sha256": hash_key("x" * 20).upper(), "role": "agent", "groups": ["hr"]}
    monkeypatch.setenv("ASSISTANT_API_KEYS", json.dumps([entry]))
    key = Settings().api_keys[0]
    assert (key.name, key.sha256, key.groups) == ("alice", hash_key("x" * 20), ["hr"])
    monkeypatch.setenv("ASSISTANT_API_KEYS", json.dumps([{**entry, "sha256": "abc"}]))
    with pytest.raises(ValueError, match="64 hex"):
        Settings()


def test_hash_key_generate_makes_an_entry_that_authenticates(secure_service, tmp_path, capsys) -> None:
    code = cli.main(["hash-key", "--generate", "--name", "alice", "--role", "agent", "--group", "hr"])
    captured = capsys.readouterr()
    assert code == 0
    entry = json.loads(captured.out)
    key = captured.err.rsplit(": ", 1)[1].strip()
    assert entry == {"name": "alice", "sha256": hash_key(key), "role": "agent", "groups": ["hr"]}
    settings = Settings(api_keys=[ApiKey(**entry)], cache_dir=tmp_path / "c")
    with TestClient(create_app(secure_service, settings)) as client:
        hits = client.post("/v1/search", json={"query": CANARY}, headers={"X-API-Key": key}).json()["hits"]
        assert hits[0]["source"] == RESTRICTED


def test_hash_key_reads_stdin_and_refuses_weak_keys(monkeypatch, capsys) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-key-for-bob\n"))
    assert cli.main(["hash-key", "--name", "bob", "--role", "manager"]) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == hash_key("a-long-enough-key-for-bob")
    monkeypatch.setattr("sys.stdin", io.StringIO("changeme\n"))
    assert cli.main(["hash-key", "--name", "bob"]) == 2
    assert "well-known default" in capsys.readouterr().err


def test_every_api_key_field_is_documented() -> None:
    # Settings' own fields are checked in test_settings.py.
    missing = [name for name, field in ApiKey.model_fields.items() if not field.description]
    assert missing == []
