"""The side panel and the manage page in headless Chromium, against the real app on a loopback port."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.api import create_app
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import Settings
from tests.conftest import CORPUS
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
RETURN_QUESTION = "How many days do I have to return an item?"
THAI_QUESTION = "การจัดส่งช่วงสงกรานต์ล่าช้ากี่วัน"
TIMEOUT_MS = 15_000
# An ingest through the manage page parses and embeds in a background job: slower on a loaded CI machine.
INGEST_TIMEOUT_MS = 60_000

if not CHROMIUM.exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM}; run `make browser-deps`", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed; pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def serve(tmp_path) -> Iterator[Callable[[KnowledgeService], LiveServer]]:
    servers: list[LiveServer] = []

    def start(service: KnowledgeService) -> LiveServer:
        settings = Settings(cache_dir=tmp_path / "browser-cache", max_question_chars=500)
        servers.append(LiveServer(create_app(service, settings)))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()
        server.app.state.ingest.wait(30)


@pytest.fixture
def server(serve, service) -> LiveServer:
    return serve(service)


@pytest.fixture
def panel(browser, server, request):
    """A fresh browser context at the side panel's usual width (400 px)."""
    context = browser.new_context(
        viewport={"width": 400, "height": 900},
        base_url=server.url,
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Failed requests are asserted where they matter; any other console error is a bug.
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.goto("/")
    yield page
    context.close()
    assert errors == [], f"the page logged errors: {errors}"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def ask(page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    # Asking marks the page busy at once (in the key handler), so this waits for this question's answer.
    page.wait_for_selector("body:not(.is-busy)", state="attached")
    page.wait_for_selector("#result:not([hidden])")


def test_answer_shows_markers_and_highlighted_citations(panel) -> None:
    ask(panel, RETURN_QUESTION)
    answer = panel.inner_text("#answer")
    assert "within 30 days of delivery for a full refund." in answer and "[1]" in answer
    markers = panel.locator("#answer a.marker")
    assert markers.count() >= 1 and markers.first.get_attribute("href") == "#cite-1"
    card = panel.locator("#cite-1")
    assert "Returns policy" in card.locator("h3").inner_text()
    assert "30 days" in card.locator("mark").inner_text()
    assert card.locator("a.open-link").get_attribute("target") == "_blank"
    assert panel.locator("#not-found").is_hidden() and panel.locator("#copy").is_visible()
    screenshot(panel, "panel-400-answer")


def test_clicking_a_marker_focuses_its_card(panel) -> None:
    ask(panel, RETURN_QUESTION)
    panel.click("#answer a.marker >> nth=0")
    assert panel.evaluate("document.activeElement.id") == "cite-1"
    # Keyboard users reach the marker with Tab and follow it with Enter.
    panel.focus("#question")
    panel.evaluate("document.querySelector('#cite-1').blur()")
    panel.focus("#answer a.marker >> nth=0")
    panel.keyboard.press("Enter")
    assert panel.evaluate("document.activeElement.id") == "cite-1"


def test_source_link_opens_the_passage_in_a_new_tab(panel) -> None:
    ask(panel, RETURN_QUESTION)
    with panel.context.expect_page() as opened:
        panel.click("#cite-1 a.open-link")
    page = opened.value
    page.wait_for_load_state()
    status = page.evaluate("performance.getEntriesByType('navigation')[0].responseStatus")
    assert status == 200
    target = page.url.split("#", 1)[1]
    assert target.startswith("chunk-")
    assert "within 30 days of delivery" in page.inner_text(f"#{target}")
    screenshot(page, "source-view")
    page.close()


def test_copy_answer_gives_plain_text_with_sources(panel) -> None:
    ask(panel, RETURN_QUESTION)
    panel.click("#copy")
    panel.wait_for_selector("#copy-status:has-text('Copied')")
    copied = panel.evaluate("navigator.clipboard.readText()")
    assert copied == panel.get_attribute("#copy", "data-copied")
    answer, sources = copied.split("\n\nSources:\n")
    assert answer == panel.inner_text("#answer")
    assert sources.splitlines()[0].startswith("[1] Returns policy, ") and sources.splitlines()[0].endswith(
        " — returns.md"
    )
    assert "<" not in copied


def test_thumbs_down_with_a_comment_is_stored(panel, server) -> None:
    ask(panel, RETURN_QUESTION)
    panel.click("#thumb-down")
    assert panel.get_attribute("#thumb-down", "aria-pressed") == "true"
    assert panel.evaluate("document.activeElement.id") == "comment"
    panel.fill("#comment", "Opened items are not covered here.")
    screenshot(panel, "panel-400-feedback")
    panel.click("#send-feedback")
    panel.wait_for_selector("#feedback-status:has-text('Thanks')")
    with sqlite3.connect(server.app.state.feedback.name) as db:
        stored = db.execute("SELECT question, rating, comment, sources FROM feedback").fetchall()
    assert stored == [(RETURN_QUESTION, "down", "Opened items are not covered here.", '["returns.md"]')]
    gaps = panel.request.get("/v1/manage/gaps").json()["gaps"]
    assert gaps[0]["question"] == RETURN_QUESTION and gaps[0]["comments"] == ["Opened items are not covered here."]


def test_thumbs_up_is_sent_in_one_click(panel, server) -> None:
    ask(panel, RETURN_QUESTION)
    panel.click("#thumb-up")
    panel.wait_for_selector("#feedback-status:has-text('Thanks')")
    with sqlite3.connect(server.app.state.feedback.name) as db:
        assert db.execute("SELECT rating, comment FROM feedback").fetchall() == [("up", None)]


def test_not_found_state_still_shows_related_passages(browser, serve, service, store, embedder) -> None:
    strict = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.99))
    strict.load()
    server = serve(strict)
    context = browser.new_context(viewport={"width": 400, "height": 900}, base_url=server.url)
    page = context.new_page()
    page.goto("/")
    ask(page, RETURN_QUESTION)
    assert page.locator("#not-found").is_visible()
    assert "Not found in the knowledge base" in page.inner_text("#not-found")
    assert page.text_content("#sources-heading") == "Related passages"
    assert page.locator("#citations .card").count() >= 1
    assert "within 30 days of delivery" in page.inner_text("#citations")
    assert page.locator("#copy").is_hidden() and page.locator("#answer").is_hidden()
    # The service's own words for "not found", in the question's language.
    assert page.text_content("#not-found-message").strip()
    screenshot(page, "panel-400-not-found")
    context.close()


def test_narrow_panel_has_no_horizontal_scrollbar(browser, server) -> None:
    context = browser.new_context(viewport={"width": 380, "height": 800}, base_url=server.url)
    page = context.new_page()
    page.goto("/")
    for question in (RETURN_QUESTION, THAI_QUESTION, "BLIK płatności zwrot pieniędzy"):
        ask(page, question)
        assert page.evaluate("document.documentElement.scrollWidth") <= 380, question
    page.goto("/manage")
    page.wait_for_selector("#documents tbody tr")
    assert page.evaluate("document.documentElement.scrollWidth") <= 380
    screenshot(page, "manage-380")
    context.close()


def test_thai_passages_render_with_their_language(panel) -> None:
    ask(panel, THAI_QUESTION)
    card = panel.locator("#citations .card").first
    passage = card.locator(".passage")
    assert passage.get_attribute("lang") == "th"
    assert "ในช่วงเทศกาลสงกรานต์ การจัดส่งอาจล่าช้าสามถึงห้าวันทำการ" in passage.inner_text()
    # Thai text is laid out with a real Thai font, not boxes: glyph widths differ from a missing-glyph box.
    assert "สงกรานต์" in panel.inner_text("#answer") or "สงกรานต์" in passage.inner_text()
    line_height = panel.evaluate("parseFloat(getComputedStyle(document.querySelector('.passage[lang=th]')).lineHeight)")
    assert line_height >= 1.7 * 14
    screenshot(panel, "panel-400-thai")


def test_full_width_layout(browser, server) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=server.url)
    page = context.new_page()
    page.goto("/")
    ask(page, RETURN_QUESTION)
    answer_box = page.locator(".answer-column").bounding_box()
    sources_box = page.locator(".sources-column").bounding_box()
    assert sources_box["x"] > answer_box["x"] + answer_box["width"] - 1
    screenshot(page, "panel-1280-answer")
    context.close()


def test_recent_questions_are_kept_and_asked_again(panel) -> None:
    ask(panel, RETURN_QUESTION)
    panel.reload()
    recent = panel.locator("#recent-list button", has_text=RETURN_QUESTION)
    assert recent.count() == 1
    recent.click()
    panel.wait_for_selector("#answer:has-text('30 days')")
    assert panel.input_value("#question") == RETURN_QUESTION


def test_keyboard_shift_enter_adds_a_line_and_tab_reaches_ask(panel) -> None:
    panel.focus("#question")
    panel.keyboard.type("first line")
    panel.keyboard.press("Shift+Enter")
    panel.keyboard.type("second line")
    assert panel.input_value("#question") == "first line\nsecond line"
    assert panel.locator("#result").is_hidden()
    panel.keyboard.press("Tab")
    assert panel.evaluate("document.activeElement.id") == "ask-button"


def test_api_errors_are_shown_in_plain_words(panel) -> None:
    panel.fill("#question", "x" * 600)
    panel.click("#ask-button")
    panel.wait_for_selector("#error:not([hidden])")
    assert panel.inner_text("#error") == "The question has 600 characters; the limit is 500."


def test_manage_page_uploads_and_reindexes(browser, server) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 900}, base_url=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/manage")
    page.wait_for_selector("#documents tbody tr")
    listed = page.locator("#documents tbody tr td:first-child").all_inner_texts()
    assert listed == sorted(CORPUS)

    page.set_input_files(
        "#files",
        files=[{"name": "warranty.md", "mimeType": "text/markdown", "buffer": b"# Warranty\n\nKettles: 24 months."}],
    )
    page.click("#upload-button")
    page.wait_for_selector("#upload-status:has-text('Uploaded warranty.md')")
    page.click("#reindex")
    page.wait_for_selector("#ingest-state[data-state='done']", timeout=INGEST_TIMEOUT_MS)
    page.locator("#documents tbody td:first-child a", has_text="warranty.md").wait_for()
    assert "1 added" in page.inner_text("#ingest-report")
    assert page.inner_text("#count-files") == f"{len(CORPUS) + 1} / {len(CORPUS) + 1}"
    screenshot(page, "manage")
    context.close()
    assert errors == []


def test_the_panel_sends_the_key_it_is_given_and_opens_documents_with_it(browser, service, tmp_path) -> None:
    from assistant.auth import hash_key
    from assistant.settings import ApiKey

    key = "panel-test-agent-key-0123456789"
    settings = Settings(
        cache_dir=tmp_path / "key-cache", api_keys=[ApiKey(name="panel", sha256=hash_key(key), role="agent")]
    )
    app = create_app(service, settings)

    @app.middleware("http")
    async def slow_sign_in(request, call_next):  # type: ignore[no-untyped-def]
        # A slow sign-in: the question below is asked while it is still in flight, as a fast agent would.
        if request.method == "POST" and request.url.path == "/v1/session":
            await asyncio.sleep(0.5)
        return await call_next(request)

    live = LiveServer(app)
    context = browser.new_context(viewport={"width": 400, "height": 900}, base_url=live.url)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        page.goto("/")
        page.fill("#question", RETURN_QUESTION)
        page.press("#question", "Enter")
        page.wait_for_selector("#error:not([hidden])")
        assert "API key" in page.inner_text("#error")
        assert page.evaluate("document.querySelector('#key-box').open")
        screenshot(page, "panel-400-key")
        page.fill("#api-key", key)
        page.click("#key-form button[type=submit]")
        ask(page, RETURN_QUESTION)
        assert "[1]" in page.inner_text("#answer")
        with context.expect_page() as opened:
            page.click("#cite-1 a.open-link")
        view = opened.value
        view.wait_for_load_state()
        assert view.evaluate("performance.getEntriesByType('navigation')[0].responseStatus") == 200
        view.close()
        # An agent key does not open the manage page's data; the page says why.
        page.goto("/manage")
        page.wait_for_selector("#error:not([hidden])")
        assert "manager" in page.inner_text("#error")
        # A key given as ?key= signs the browser in and is removed from the address bar.
        page.goto(f"/?key={key}&q=refund")
        page.wait_for_selector("#result:not([hidden])")
        assert "key=" not in page.url and "q=refund" in page.url
    finally:
        context.close()
        live.stop()


def test_manage_page_lists_sources_and_syncs_one(browser, service, tmp_path) -> None:
    from tests.http_site import Site

    with Site() as site:
        site.file("/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")
        site.html("/", "<html><head><title>Kettles</title></head><body><main><p>Descale monthly.</p></main>")
        sources = tmp_path / "sources.toml"
        sources.write_text(
            f'[[source]]\nname = "help-site"\nkind = "web"\nstart = ["{site.url}/"]\nallow_private = true\n'
            'delay_s = 0\nschedule = "every 6h"\n'
        )
        settings = Settings(cache_dir=tmp_path / "browser-cache", sources_file=sources)
        server = LiveServer(create_app(service, settings))
        server.app.state.sources.start_schedules()
        context = browser.new_context(viewport={"width": 1100, "height": 900}, base_url=server.url)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto("/manage")
            page.wait_for_selector("#sources tbody tr")
            assert "Never run" in page.inner_text("#sources tbody tr")
            page.click("#sources button[data-source='help-site']")
            page.wait_for_selector("#sources [data-state='ok']")
            row = page.inner_text("#sources tbody tr")
            assert "1 added" in row and "help-site" in row
            page.locator("#documents tbody td:first-child a", has_text="help-site/").wait_for()
            screenshot(page, "manage-sources")
        finally:
            context.close()
            server.app.state.sources.stop()
            server.stop()
    assert errors == []


# --- conversations --------------------------------------------------------------------------------

FOLLOW_UP = "and if it arrived damaged?"


def test_a_follow_up_in_the_thread_shows_what_was_searched(panel, server) -> None:
    ask(panel, RETURN_QUESTION)
    assert panel.locator("#searched-for").is_hidden()
    assert panel.locator("#thread-section").is_hidden() and panel.locator("#conversation-bar").is_visible()
    ask(panel, FOLLOW_UP)
    panel.wait_for_selector(f"#current-question:has-text('{FOLLOW_UP}')")
    assert panel.inner_text("#searched-for") == f"Searched for: {RETURN_QUESTION} {FOLLOW_UP}"
    # The first turn stacks above the current answer.
    turns = panel.locator("#thread .turn")
    assert turns.count() == 1 and RETURN_QUESTION in turns.first.inner_text()
    assert "within 30 days of delivery" in turns.first.inner_text()
    assert "photo" in panel.inner_text("#answer")
    screenshot(panel, "panel-400-follow-up")
    panel.click("#thumb-up")
    panel.wait_for_selector("#feedback-status:has-text('Thanks')")
    conversations = server.app.state.conversations
    with sqlite3.connect(conversations.name) as db:
        (latest,) = db.execute("SELECT answer_id FROM turns ORDER BY asked_at DESC LIMIT 1").fetchone()
    with sqlite3.connect(server.app.state.feedback.name) as db:
        assert db.execute("SELECT question, answer_id FROM feedback").fetchall() == [(FOLLOW_UP, latest)]


def test_new_conversation_clears_the_thread_and_starts_over(panel, server) -> None:
    ask(panel, RETURN_QUESTION)
    ask(panel, FOLLOW_UP)
    assert panel.locator("#thread .turn").count() == 1
    with panel.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        panel.click("#new-conversation")
    assert deleted.value.status == 204
    assert panel.locator("#thread-section").is_hidden() and panel.locator("#result").is_hidden()
    assert panel.locator("#conversation-bar").is_hidden()
    assert panel.evaluate("document.activeElement.id") == "question"
    assert server.app.state.conversations.count("anonymous") == 0
    # The same words now start a new conversation: nothing earlier is read with them.
    ask(panel, FOLLOW_UP)
    assert panel.locator("#searched-for").is_hidden() and panel.locator("#thread .turn").count() == 0


def test_with_an_llm_the_panel_streams_answers_and_shows_the_condensed_question(browser, serve, service) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from tests.test_llm_answer import llm_service

    standalone = "How do I report an item that arrived damaged?"
    replies = [
        "You can return any item within 30 days of delivery for a full refund [1].",
        standalone,
        "If an item arrives damaged, send a photo to support@nordvik.example within 7 days [1].",
    ]
    server = serve(llm_service(service, FakeListChatModel(responses=replies)))
    context = browser.new_context(viewport={"width": 400, "height": 900}, base_url=server.url)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto("/")
    # The panel learns from the session whether answers stream; wait until it knows.
    page.wait_for_selector("#key-status:has-text('No key needed')", state="attached")
    with page.expect_request(lambda r: r.url.endswith("/v1/ask/stream")) as streamed:
        ask(page, RETURN_QUESTION)
    assert streamed.value.method == "POST"
    page.wait_for_selector("#answer:has-text('within 30 days of delivery for a full refund.')")
    ask(page, FOLLOW_UP)
    page.wait_for_selector("#searched-for:not([hidden])")
    assert page.inner_text("#searched-for") == f"Searched for: {standalone}"
    assert "send a photo" in page.inner_text("#answer")
    context.close()
