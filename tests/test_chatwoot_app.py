"""The Chatwoot dashboard app (integrations/chatwoot, served at /apps/chatwoot/): its framing rules, and the
page in real Chromium under a harness that plays Chatwoot's dashboard frame with the documented appContext."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.settings import Settings
from tests.helpdesk_apps import (
    AGENT_KEY,
    CUSTOMER_EMAIL,
    HARNESS,
    KETTLE_QUESTION,
    MISSING_QUESTION,
    NOTE_QUESTION,
    RETURN_QUESTION,
    knowledge_server,
    static_server,
)
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer

TIMEOUT_MS = 20_000
CHATWOOT = "https://chat.example.com"


def test_the_app_page_may_be_framed_by_configured_origins_only(service, tmp_path) -> None:
    configured = create_app(service, Settings(cache_dir=tmp_path / "a", frame_ancestors=[CHATWOOT]))
    with TestClient(configured) as client:
        page = client.get("/apps/chatwoot/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert page.headers["content-security-policy"].endswith(f"frame-ancestors {CHATWOOT}")
        assert "x-frame-options" not in page.headers
        assert client.get("/apps/chatwoot/suggestions.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/apps/chatwoot/conversation.js").status_code == 200
        for name in ("web.py", "..%2Fweb.py", "index.json", "ticket.js"):
            assert client.get(f"/apps/chatwoot/{name}").json()["error"]["status"] == 404
    with TestClient(create_app(service, Settings(cache_dir=tmp_path / "b"))) as client:
        page = client.get("/apps/chatwoot/")
        assert page.headers["content-security-policy"].endswith("frame-ancestors 'none'")
        assert page.headers["x-frame-options"] == "DENY"


def test_no_origin_gets_cross_origin_access_to_the_api(service, tmp_path) -> None:
    app = create_app(service, Settings(cache_dir=tmp_path / "a", frame_ancestors=[CHATWOOT]))
    with TestClient(app) as client:
        preflight = client.options(
            "/v1/suggest",
            headers={"Origin": CHATWOOT, "Access-Control-Request-Method": "POST"},
        )
        answer = client.post("/v1/suggest", json={"messages": []}, headers={"Origin": CHATWOOT})
    # Framing is allowed; reading the API from that origin is not: the app page calls it same-origin.
    for response in (preflight, answer):
        assert not any(name.startswith("access-control-") for name in response.headers)


# ---- the page in Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM}; run `make browser-deps`")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def chatwoot() -> Iterator[LiveServer]:
    """Chatwoot's dashboard, played by the harness, on its own origin."""
    server = static_server(HARNESS)
    yield server
    server.stop()


@pytest.fixture
def assistant(tmp_path, chatwoot) -> Iterator[LiveServer]:
    server = knowledge_server(tmp_path, frame_ancestors=[chatwoot.url])
    yield server
    server.stop()


def message(n: int, content: Any, message_type: int, private: bool = False) -> dict[str, Any]:
    return {"id": n, "content": content, "message_type": message_type, "private": private, "created_at": 1_700_000 + n}


# Chatwoot's currentChat: incoming 0, outgoing 1, activity 2; private notes are outgoing with private true.
CONVERSATION = {
    "id": 41,
    "additional_attributes": {"mail_subject": "Returns and a kettle"},
    "messages": [
        message(1, "Conversation was opened by Anna", 2),
        message(2, CUSTOMER_EMAIL, 0),
        message(3, NOTE_QUESTION, 1, private=True),
        message(4, None, 0),
        message(5, "Thanks Anna, looking into it.", 1),
    ],
}
CONTEXT = {
    "conversation": CONVERSATION,
    "contact": {"id": 7, "name": "Anna"},
    "currentAgent": {"id": 3, "name": "Cleo", "email": "cleo@example.com"},
}


def open_conversation(browser, chatwoot, assistant, context):
    browser_context = browser.new_context(
        viewport={"width": 900, "height": 1100}, permissions=["clipboard-read", "clipboard-write"]
    )
    browser_context.set_default_timeout(TIMEOUT_MS)
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/v1/suggest") else None)
    page.goto(chatwoot.url + "/chatwoot.html")
    page.wait_for_selector("body[data-ready='true']", state="attached")
    page.evaluate(
        "config => window.harness.start(config)", {"appUrl": assistant.url + "/apps/chatwoot/", "context": context}
    )
    return page, page.frame_locator("#app"), sent, errors


def enter_key(frame, key: str) -> None:
    frame.locator("#key-form:not([hidden])").wait_for()
    frame.locator("#key").fill(key)
    frame.locator("#key-form button").click()


@pytest.mark.browser
def test_the_app_suggests_for_the_conversation_and_copies_the_draft(browser, chatwoot, assistant) -> None:
    page, frame, sent, errors = open_conversation(browser, chatwoot, assistant, CONTEXT)
    # No key yet: the server refuses, the app asks for one, then asks again with it.
    enter_key(frame, AGENT_KEY)
    frame.locator("body[data-state='done']").wait_for(state="attached")
    assert frame.locator("#key-form").is_hidden() and frame.locator("#error").is_hidden()
    questions = frame.locator("#questions > li")
    assert [questions.nth(i).locator("h2").inner_text() for i in range(questions.count())] == [
        RETURN_QUESTION,
        MISSING_QUESTION,
        KETTLE_QUESTION,
    ]
    assert "within 30 days of delivery" in questions.nth(0).locator(".answer").inner_text()
    assert questions.nth(1).locator(".not-found").inner_text() == "Not found in the knowledge base."
    quote = questions.nth(2).locator(".card blockquote").inner_text()
    assert '<img src=x onerror="window.__pwned=1">' in quote and "<script>window.__pwned=2</script>" in quote
    assert frame.locator("#questions img, #questions script").count() == 0
    app = page.frame(url=lambda url: url.startswith(assistant.url))
    assert app.evaluate("window.__pwned === undefined")

    # The ticket: the customer's message and the agent's reply; activity, the private note and empty ones left out.
    assert sent[-1] == {
        "subject": "Returns and a kettle",
        "messages": [
            {"author": "customer", "text": CUSTOMER_EMAIL},
            {"author": "agent", "text": "Thanks Anna, looking into it."},
        ],
    }
    assert len(sent) == 2

    draft = frame.locator("#draft-text").inner_text()
    assert draft.startswith("You can return any item within 30 days") and "\nSources:\n[1] Returns policy" in draft
    frame.locator("#copy-draft").click()
    frame.locator("#copy-status:has-text('Copied.')").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == draft
    assert errors == []


@pytest.mark.browser
def test_messages_not_from_chatwoot_or_not_an_app_context_are_ignored(browser, chatwoot, assistant) -> None:
    page, frame, sent, _ = open_conversation(browser, chatwoot, assistant, None)
    frame.locator("body[data-ready='true']").wait_for(state="attached")
    app = page.main_frame.child_frames[0]
    forged = {"event": "appContext", "data": {"conversation": {"id": 9, "messages": [message(1, NOTE_QUESTION, 0)]}}}
    # Another window than the frame's parent (here the app's own), then malformed messages from the parent.
    app.evaluate("raw => window.postMessage(raw, '*')", json.dumps(forged))
    post = "raw => document.querySelector('#app').contentWindow.postMessage(raw, '*')"
    for raw in (
        "not json",
        json.dumps({"event": "other", "data": CONTEXT}),
        json.dumps({"event": "appContext"}),
        json.dumps({"event": "appContext", "data": {"conversation": {"id": 5, "messages": "<b>hi</b>"}}}),
    ):
        page.evaluate(post, raw)
    # Messages are handled in the order they were posted: the real context comes last.
    page.evaluate("context => { window.harness.context = context; window.harness.send(); }", CONTEXT)
    enter_key(frame, AGENT_KEY)
    frame.locator("body[data-state='done']").wait_for(state="attached")
    assert len(sent) == 2
    assert [m["messages"][0]["text"] for m in sent] == [CUSTOMER_EMAIL, CUSTOMER_EMAIL]
    assert NOTE_QUESTION not in frame.locator("#result").inner_text()


@pytest.mark.browser
def test_a_wrong_key_is_reported_and_can_be_replaced(browser, chatwoot, assistant) -> None:
    _, frame, _, _ = open_conversation(browser, chatwoot, assistant, CONTEXT)
    enter_key(frame, "not-the-right-key-at-all")
    frame.locator("body[data-state='error']").wait_for(state="attached")
    assert "The API key is not valid" in frame.locator("#error").inner_text()
    enter_key(frame, AGENT_KEY)
    frame.locator("body[data-state='done']").wait_for(state="attached")
    assert frame.locator("#questions > li").count() == 3


@pytest.mark.browser
def test_an_unconfigured_origin_can_neither_frame_the_app_nor_read_the_api(browser, tmp_path, chatwoot) -> None:
    assistant = knowledge_server(tmp_path, frame_ancestors=[CHATWOOT])
    try:
        page, _, sent, _ = open_conversation(browser, chatwoot, assistant, CONTEXT)
        # The frame's load event fires for the error page Chromium shows in place of a refused frame.
        page.wait_for_function("window.harness.loads >= 1")
        [app] = page.main_frame.child_frames
        assert app.url.startswith("chrome-error://")
        assert page.evaluate("window.harness.fetches") == 0 and sent == []
        outcome = page.evaluate(
            """async ([url, key]) => {
                try {
                    await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json',
                        Authorization: 'Bearer ' + key}, body: JSON.stringify({messages: []})});
                    return 'read';
                } catch (error) { return error.name; }
            }""",
            [assistant.url + "/v1/suggest", AGENT_KEY],
        )
        assert outcome == "TypeError"
    finally:
        assistant.stop()
