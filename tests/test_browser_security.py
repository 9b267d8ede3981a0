"""Hostile documents opened every way an agent can, in real Chromium: no script runs, and the key stays unreadable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.api import create_app
from assistant.auth import hash_key
from assistant.service import KnowledgeService, ServiceConfig
from assistant.sessions import SESSION_COOKIE
from assistant.settings import ApiKey, Settings
from ingest.store.layout import IndexStore
from ingest.sync import sync_folder
from tests.conftest import write_corpus
from tests.hostile import BEACON, HOSTILE_FILES, HTML_VECTORS, OLD_KEY_STORAGE, PWNED
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer

pytestmark = pytest.mark.browser

KEY = "hostile-documents-agent-key-0123456789"
MANAGER_KEY = "hostile-documents-manager-key-0123456789"
TIMEOUT_MS = 15_000
# An ingest through the manage page parses and embeds in a background job: slower on a loaded CI machine.
INGEST_TIMEOUT_MS = 60_000
# Long enough for a zero-second meta refresh, an image's onerror and a beacon to have happened.
SETTLE_S = 0.7
# One question per hostile document, each asked in the panel to reach its "Open document" link.
QUESTIONS = {
    "hostile.html": "How long do refunds for a hostile kettle take?",
    "refresh.html": "How do I descale the hostile kettle with citric acid?",
    "raw-html.md": "How long is the hostile kettle warranty?",
    "sniff.txt": "How much are kettle lids for the hostile kettle?",
}
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"

if not CHROMIUM.exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM}; run `make browser-deps`", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed; pip install -e '.[dev]'")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live(tmp_path, embedder, cache) -> Iterator[LiveServer]:
    """The tiny corpus plus the hostile documents, served with one agent key, as in production."""
    root = write_corpus(write_corpus(tmp_path / "kb"), HOSTILE_FILES)
    store = IndexStore(tmp_path / "index")
    assert sync_folder(root, store, embedder, cache).failed == []
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.2))
    service.load()
    keys = [
        ApiKey(name="agent", sha256=hash_key(KEY), role="agent"),
        ApiKey(name="manager", sha256=hash_key(MANAGER_KEY), role="manager"),
    ]
    server = LiveServer(create_app(service, Settings(cache_dir=tmp_path / "c", api_keys=keys)))
    yield server
    server.stop()
    server.app.state.ingest.wait(30)


class Watch:
    """Every request a page makes to /beacon/, and the hostile files served as plain HTML under /control/."""

    def __init__(self, context: Any) -> None:
        self.beacons: list[str] = []
        context.on("request", lambda request: self.beacons.append(request.url) if BEACON in request.url else None)
        # The control: the same bytes as a page on our origin with no protection at all.
        context.route("**/control/*", self._control)

    @staticmethod
    def _control(route: Any) -> None:
        body = HOSTILE_FILES.get(route.request.url.rsplit("/", 1)[1])
        if body is None:  # e.g. the Markdown's <img src=x>
            route.fulfill(status=404, body="")
        else:
            route.fulfill(status=200, content_type="text/html", body=body)


@pytest.fixture
def context(browser, live) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 400, "height": 900}, base_url=live.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.watch = Watch(context)
    yield context
    context.close()


def sign_in(page: Any, key: str = KEY, name: str = "agent") -> None:
    """The normal way: the panel's key box, once."""
    page.goto("/")
    page.click("#key-box summary")
    page.fill("#api-key", key)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector(f"#key-status:has-text('Signed in as {name}')", state="attached")


def ran(page: Any) -> list[str]:
    """The vectors that ran in this page: its title and its global, read from outside the page's own scripts."""
    title = page.title()
    marked = page.evaluate("window.__pwned || []")
    return sorted(set(marked) | ({title.removeprefix(f"{PWNED}-")} if title.startswith(PWNED) else set()))


def click_javascript_link(page: Any) -> None:
    """A real mouse click on the document's javascript: link, if it has one."""
    box = page.evaluate(
        "(() => { const a = document.getElementById('jslink'); if (!a) return null;"
        " const r = a.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    if box:
        page.mouse.click(*box)


def inspect(page: Any, expected_path: str) -> list[str]:
    """After the page settles: what ran in it, and whether it moved the tab elsewhere (a refresh)."""
    click_javascript_link(page)
    time.sleep(SETTLE_S)
    moved = [f"navigated to {page.url}"] if not page.url.split("#")[0].endswith(expected_path) else []
    return ran(page) + moved


def card_for(page: Any, source: str) -> Any:
    card = page.locator("article.card", has=page.locator(".source", has_text=source)).first
    if not card.is_visible() and page.locator("#more").is_visible():
        page.click("#more-summary")
    return card


def test_the_hostile_documents_do_run_when_served_as_plain_pages(context) -> None:
    """The control: without the protection every payload fires, so the checks below can see a script run."""
    page = context.new_page()
    sign_in(page)
    page.goto("/control/hostile.html")
    # The srcdoc frame marks its own window, not this one: its beacon below shows that it ran.
    assert set(inspect(page, "/control/hostile.html")) >= set(HTML_VECTORS) - {"srcdoc"}
    for name in ("raw-html.md", "sniff.txt"):
        page.goto(f"/control/{name}")
        assert ran(page), name
    page.goto("/control/refresh.html")
    page.wait_for_url("**/beacon/refresh")
    vectors = {url.split(BEACON)[1].split("?")[0] for url in context.watch.beacons}
    assert vectors >= set(HTML_VECTORS) | {"refresh", "markdown-script", "markdown-onerror", "text-script"}
    # Even a script that does run on our origin finds no key and no session in what it can read.
    assert all(f"{SESSION_COOKIE}=" not in url and KEY not in url for url in context.watch.beacons)


def test_no_script_runs_however_an_agent_opens_a_hostile_document(context, capsys) -> None:
    panel = context.new_page()
    sign_in(panel)
    opened: list[tuple[str, str, list[str]]] = []
    statuses: list[int] = []

    def record(way: str, page: Any, path: str) -> None:
        statuses.append(page.evaluate("performance.getEntriesByType('navigation')[0].responseStatus"))
        opened.append((way, path, inspect(page, path)))

    for source, question in QUESTIONS.items():
        # 1. "Open document" on the citation card opens the passage viewer in a new tab.
        panel.fill("#question", question)
        panel.press("#question", "Enter")
        panel.wait_for_selector("body:not(.is-busy)", state="attached")
        panel.wait_for_selector("#result:not([hidden])")
        with context.expect_page() as new_tab:
            card_for(panel, source).locator("a.open-link").click()
        view = new_tab.value
        view.wait_for_load_state()
        record("open document", view, f"/v1/view/{source}")
        # 2. The viewer's "Open the original file" link, in the same tab.
        view.click("a[href^='/v1/documents/']")
        view.wait_for_load_state()
        record("original from the viewer", view, f"/v1/documents/{source}")
        view.close()
        # 3. Both addresses typed or pasted directly.
        for path in (f"/v1/documents/{source}", f"/v1/view/{source}"):
            direct = context.new_page()
            direct.goto(path)
            record("direct URL", direct, path)
            if source == "hostile.html" and path.startswith("/v1/documents/"):
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                direct.screenshot(path=str(SCREENSHOTS / "hostile-original.png"), full_page=True)
            direct.close()

    runs = [(way, path, vectors) for way, path, vectors in opened if vectors]
    with capsys.disabled():
        print(f"\nhostile documents opened: {len(opened)}, scripts run: {len(runs) + len(context.watch.beacons)}")
    # Every opening really showed the document (200 with the session cookie), and nothing in it ran.
    assert statuses == [200] * len(opened) and len(opened) == 4 * len(QUESTIONS)
    assert runs == [] and context.watch.beacons == []


def test_a_cited_pdf_still_opens_in_the_viewer_at_its_page(browser, tmp_path, embedder, cache) -> None:
    from tests.documents import make_pdf

    root = write_corpus(tmp_path / "kb", {"manual.pdf": make_pdf(["Unpack the kettle.", "Descale it monthly."])})
    store = IndexStore(tmp_path / "index")
    sync_folder(root, store, embedder, cache)
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.2))
    service.load()
    server = LiveServer(create_app(service, Settings(cache_dir=tmp_path / "c")))
    context = browser.new_context(base_url=server.url, accept_downloads=True)
    try:
        downloads: list[Any] = []
        page = context.new_page()
        page.on("download", lambda download: downloads.append(download))
        response = page.goto("/v1/documents/manual.pdf#page=2")
        assert response.status == 200
        # Under the same sandbox policy as every original (checked on the wire in test_documents.py).
        assert page.request.get("/v1/documents/manual.pdf").headers["content-security-policy"].startswith("sandbox")
        time.sleep(SETTLE_S)
        # Shown in the browser's PDF viewer, not downloaded.
        assert page.evaluate("document.contentType") == "application/pdf" and downloads == []
        assert page.url.endswith("#page=2")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "pdf-page-2.png"))
    finally:
        context.close()
        server.stop()


def test_after_signing_in_no_script_can_read_the_key_or_the_session(context) -> None:
    page = context.new_page()
    page.goto("/")
    # What an earlier panel left behind: the raw key in localStorage and in a script-written cookie.
    page.evaluate(
        f"localStorage.setItem('{OLD_KEY_STORAGE}', '{KEY}');"
        f"document.cookie = 'assistant_key={KEY}; path=/v1/; SameSite=Strict'"
    )
    sign_in(page)
    session = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
    assert session["httpOnly"] is True and session["sameSite"] == "Strict" and session["path"] == "/v1/"
    readable = page.evaluate(
        "JSON.stringify([document.cookie, Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert KEY not in readable and session["value"] not in readable and SESSION_COOKIE not in readable
    assert page.input_value("#api-key") == ""
    assert all(c["name"] != "assistant_key" for c in context.cookies())
    # The session is what authorises: asking works without the key anywhere in the page.
    page.fill("#question", "How many days do I have to return an item?")
    page.press("#question", "Enter")
    page.wait_for_selector("#answer:has-text('30 days')")
    # Signing out clears the cookie; the next question is refused and the key box opens.
    page.click("#key-box summary")
    page.click("#sign-out")
    page.wait_for_selector("#key-status:has-text('Not signed in')", state="attached")
    assert all(c["name"] != SESSION_COOKIE for c in context.cookies())
    page.fill("#question", "How many days do I have to return an item?")
    page.press("#question", "Enter")
    page.wait_for_selector("#error:not([hidden])")
    assert "API key" in page.inner_text("#error")


def test_a_cross_site_form_cannot_use_the_session_and_a_request_without_the_token_is_refused(context, live) -> None:
    """A manager signed in; a page on another site posts a form that would start a re-index."""
    page = context.new_page()
    sign_in(page, MANAGER_KEY, "manager")
    attack = (
        f"<form id=f method=post action='{live.url}/v1/manage/ingest'></form>"
        "<script>document.getElementById('f').submit()</script>"
    )
    context.route(
        "http://attacker.test/**", lambda route: route.fulfill(status=200, content_type="text/html", body=attack)
    )
    page.goto("http://attacker.test/win-a-kettle")
    page.wait_for_url(f"{live.url}/v1/manage/ingest")
    # SameSite=Strict: the cookie did not travel with the cross-site post.
    assert "missing_api_key" in page.content()
    # From our own origin but without the token (what a forged same-site request would look like).
    page.goto("/")
    status = page.evaluate("fetch('/v1/manage/ingest', {method: 'POST'}).then((r) => r.status)")
    assert status == 403 and live.app.state.ingest.status().state == "idle"
    # The manage page itself sends the token and starts it.
    page.goto("/manage")
    page.click("#reindex")
    page.wait_for_selector("#ingest-state[data-state='done']", timeout=INGEST_TIMEOUT_MS)


def test_the_api_docs_run_offline_under_their_strict_policy(context, live) -> None:
    """Swagger UI from local files: it renders, "Try it out" works, and the browser reports no CSP violation."""
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    outside: list[str] = []
    page.on("request", lambda request: None if request.url.startswith(live.url) else outside.append(request.url))
    sign_in(page)
    page.goto("/docs")
    page.locator("#operations-default-healthz_healthz_get").click()
    page.click("button.try-out__btn")
    page.click("button.execute")
    page.wait_for_selector(".live-responses-table .response-col_status:has-text('200')")
    # A POST through the session: docs.js adds the CSRF token, or this would be a 403.
    search = page.locator("#operations-default-search_v1_search_post")
    search.locator(".opblock-summary").click()
    search.locator("button.try-out__btn").click()
    search.locator("button.execute").click()
    search.locator(".live-responses-table .response-col_status:has-text('200')").wait_for()
    assert page.locator(".opblock").count() >= 10
    assert problems == [] and outside == []
