"""Browser sessions: a key entered once becomes an HttpOnly cookie; CSRF token, sign-out, expiry, key headers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.auth import hash_key
from assistant.sessions import SESSION_COOKIE, SessionStore
from assistant.settings import ApiKey, Settings
from tests.conftest import write_corpus

RESTRICTED = "hr/bonus-policy.md"
KEYS = {
    "public-agent": ("session-agent-key-0123456789", "agent", []),
    "hr-agent": ("session-hr-agent-key-0123456789", "agent", ["hr"]),
    "boss": ("session-manager-key-0123456789", "manager", []),
}
FEEDBACK = {"question": "q", "answer": "a", "found": True, "index_version": "v", "rating": "up"}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The tiny corpus plus one document only the hr group may see."""
    root = write_corpus(tmp_path / "kb")
    (root / "hr").mkdir()
    (root / RESTRICTED).write_text("# Bonus policy\n\nThe refund bonus is 300 euros.", encoding="utf-8")
    (root / f"{RESTRICTED}.meta.json").write_text(json.dumps({"groups": ["hr"]}), encoding="utf-8")
    return root


@pytest.fixture
def make_client(service, tmp_path) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(base_url: str = "http://testserver", **overrides: Any) -> TestClient:
        keys = [ApiKey(name=n, sha256=hash_key(k), role=r, groups=g) for n, (k, r, g) in KEYS.items()]  # type: ignore[arg-type]
        options: dict[str, Any] = {"api_keys": keys, "cache_dir": tmp_path / "c", **overrides}
        client = TestClient(create_app(service, Settings(**options)), base_url=base_url)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def sign_in(client: TestClient, who: str) -> dict[str, Any]:
    response = client.post("/v1/session", json={"key": KEYS[who][0]})
    assert response.status_code == 200, response.text
    return response.json()


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_sign_in_sets_an_httponly_strict_cookie_that_is_not_the_key(client) -> None:
    response = client.post("/v1/session", json={"key": KEYS["hr-agent"][0]})
    body = response.json()
    assert body["signed_in"] is True and body["name"] == "hr-agent" and body["role"] == "agent"
    assert body["csrf_token"] and body["expires_at"]
    cookie = response.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert cookie.startswith(f"{SESSION_COOKIE}=") and {"httponly", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and "path=/v1/" in cookie.lower()
    # Plain http (a developer's loopback): a Secure cookie would never come back.
    assert "secure" not in attributes
    assert KEYS["hr-agent"][0] not in cookie and KEYS["hr-agent"][0] not in response.text


def test_over_https_the_cookie_is_secure(make_client) -> None:
    cookie = make_client(base_url="https://testserver").post("/v1/session", json={"key": KEYS["boss"][0]})
    assert "secure" in {part.strip().lower() for part in cookie.headers["set-cookie"].split(";")}


def test_the_session_opens_documents_and_reads_without_a_token(client) -> None:
    sign_in(client, "public-agent")
    assert client.get("/v1/view/returns.md").status_code == 200
    assert client.get("/v1/documents/returns.md").status_code == 200
    assert client.get("/v1/session").json()["name"] == "public-agent"


@pytest.mark.parametrize(
    ("path", "body"),
    [("/v1/ask", {"question": "refund"}), ("/v1/search", {"query": "refund"}), ("/v1/feedback", FEEDBACK)],
)
def test_a_state_changing_request_with_the_cookie_needs_the_csrf_token(client, path, body) -> None:
    token = sign_in(client, "public-agent")["csrf_token"]
    assert client.post(path, json=body).status_code == 403
    assert error_code(client.post(path, json=body)) == "csrf_failed"
    assert error_code(client.post(path, json=body, headers={"X-CSRF-Token": token[:-1] + "x"})) == "csrf_failed"
    assert client.post(path, json=body, headers={"X-CSRF-Token": token}).status_code in (200, 201)


def test_a_manager_session_manages_only_with_the_token(client) -> None:
    token = sign_in(client, "boss")["csrf_token"]
    assert client.get("/v1/manage/documents").status_code == 200
    assert error_code(client.post("/v1/manage/ingest")) == "csrf_failed"
    assert client.post("/v1/manage/ingest", headers={"X-CSRF-Token": token}).status_code == 202
    client.app.state.ingest.wait(30)


def test_a_session_carries_its_keys_role_and_groups(make_client) -> None:
    outsider, insider = make_client(), make_client()
    token = sign_in(outsider, "public-agent")["csrf_token"]
    sign_in(insider, "hr-agent")
    assert outsider.get(f"/v1/view/{RESTRICTED}").status_code == 404
    assert insider.get(f"/v1/view/{RESTRICTED}").status_code == 200
    forbidden = outsider.get("/v1/manage/documents")
    assert forbidden.status_code == 403 and error_code(forbidden) == "forbidden"
    hits = outsider.post("/v1/search", json={"query": "refund bonus"}, headers={"X-CSRF-Token": token}).json()
    assert all(hit["source"] != RESTRICTED for hit in hits["hits"])


def test_a_wrong_key_signs_nobody_in(client) -> None:
    response = client.post("/v1/session", json={"key": "not-a-configured-key-000"})
    assert response.status_code == 401 and error_code(response) == "unknown_api_key"
    assert "set-cookie" not in response.headers
    assert client.get("/v1/session").json() == {
        "signed_in": False,
        "keys_required": True,
        "name": None,
        "role": None,
        "expires_at": None,
        "csrf_token": None,
        "llm_answers": False,
    }


def test_sign_out_needs_the_token_then_ends_the_session_for_good(client) -> None:
    token = sign_in(client, "public-agent")["csrf_token"]
    stolen = client.cookies[SESSION_COOKIE]
    assert error_code(client.delete("/v1/session")) == "csrf_failed"
    assert client.get("/v1/view/returns.md").status_code == 200
    response = client.delete("/v1/session", headers={"X-CSRF-Token": token})
    assert response.status_code == 200 and response.json()["signed_in"] is False
    assert "max-age=0" in response.headers["set-cookie"].lower()
    assert SESSION_COOKIE not in client.cookies
    # Replaying the old cookie value after sign-out gets nothing.
    client.cookies.set(SESSION_COOKIE, stolen)
    replay = client.get("/v1/view/returns.md")
    assert replay.status_code == 401 and error_code(replay) == "session_expired"


def test_sessions_expire_after_their_lifetime(client) -> None:
    lifetime = client.app.state.settings.session_lifetime_s
    response = client.post("/v1/session", json={"key": KEYS["public-agent"][0]})
    assert f"max-age={lifetime}" in response.headers["set-cookie"].lower()
    sessions = client.app.state.auth.sessions
    started = sessions.clock()
    sessions.clock = lambda: started + lifetime - 1
    assert client.get("/v1/documents/returns.md").status_code == 200
    sessions.clock = lambda: started + lifetime + 1
    expired = client.get("/v1/documents/returns.md")
    assert expired.status_code == 401 and error_code(expired) == "session_expired"
    assert client.get("/v1/session").json()["signed_in"] is False


def test_the_lifetime_is_a_setting(make_client) -> None:
    client = make_client(session_lifetime_s=600)
    assert "max-age=600" in client.post("/v1/session", json={"key": KEYS["boss"][0]}).headers["set-cookie"].lower()


def test_signing_in_again_replaces_the_old_session(client) -> None:
    sign_in(client, "public-agent")
    first = client.cookies[SESSION_COOKIE]
    sign_in(client, "hr-agent")
    assert client.cookies[SESSION_COOKIE] != first
    assert client.get("/v1/session").json()["name"] == "hr-agent"
    client.cookies.set(SESSION_COOKIE, first)
    assert client.get("/v1/session").json()["signed_in"] is False


def test_a_session_whose_key_is_no_longer_configured_stops_working(client) -> None:
    token, _ = client.app.state.auth.sessions.create(hash_key("a-key-that-was-removed-0123"))
    client.cookies.set(SESSION_COOKIE, token)
    assert error_code(client.get("/v1/view/returns.md")) == "session_expired"


def test_api_clients_keep_their_key_headers_without_csrf(client) -> None:
    key = KEYS["public-agent"][0]
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        assert client.post("/v1/search", json={"query": "refund"}, headers=headers).status_code == 200
    # A header key wins over a session: the caller is the key's holder.
    sign_in(client, "boss")
    forbidden = client.get("/v1/manage/documents", headers={"X-API-Key": key})
    assert forbidden.status_code == 403


def test_without_keys_there_is_nothing_to_sign_in_to(service, tmp_path) -> None:
    with TestClient(create_app(service, Settings(cache_dir=tmp_path / "c"))) as client:
        assert client.get("/v1/session").json()["keys_required"] is False
        response = client.post("/v1/session", json={"key": "anything-at-all-0123"})
        assert response.status_code == 409 and error_code(response) == "no_keys_configured"


def test_the_store_is_bounded_and_drops_the_soonest_to_expire() -> None:
    now = [1000.0]
    store = SessionStore(60, clock=lambda: now[0], max_sessions=3)
    tokens = []
    for _ in range(3):
        tokens.append(store.create("a" * 64)[0])
        now[0] += 1
    newest = store.create("b" * 64)[0]
    assert len(store) == 3 and store.get(tokens[0]) is None and store.get(newest) is not None
    now[0] += 61
    assert store.get(newest) is None
    store.create("c" * 64)
    assert len(store) == 1  # expired ones are purged on the next sign-in
