"""The Chrome extension (integrations/chrome-extension) loaded unpacked in Chromium, against the real app."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.api import create_app
from assistant.auth import key_entry
from assistant.settings import ApiKey, Settings
from tests.live_server import CHROMIUM, CHROMIUM_ARGS, LiveServer

pytestmark = pytest.mark.browser

EXTENSION = Path(__file__).resolve().parents[1] / "integrations" / "chrome-extension"
AGENT_KEY = "agent-key-for-the-extension-test"
TIMEOUT_MS = 20_000

if not CHROMIUM.exists():
    pytest.skip(f"Chromium is not installed at {CHROMIUM}; run `make browser-deps`", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed; pip install -e '.[dev]'")


@pytest.fixture
def server(service, tmp_path) -> Iterator[LiveServer]:
    keys = [ApiKey(**key_entry(AGENT_KEY, "helpdesk", "agent", []))]  # type: ignore[arg-type]
    live = LiveServer(create_app(service, Settings(cache_dir=tmp_path / "cache", api_keys=keys)))
    yield live
    live.stop()


@pytest.fixture
def extension(server, tmp_path) -> Iterator[tuple[object, str]]:
    """Chromium with the unpacked extension, granted the test server as an operator's managed build is."""
    unpacked = tmp_path / "extension"
    shutil.copytree(EXTENSION, unpacked)
    manifest = json.loads((unpacked / "manifest.json").read_text())
    manifest["host_permissions"] = [f"{server.url}/*"]
    (unpacked / "manifest.json").write_text(json.dumps(manifest))
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            headless=False,
            args=[*CHROMIUM_ARGS, f"--disable-extensions-except={unpacked}", f"--load-extension={unpacked}"],
        )
        context.set_default_timeout(TIMEOUT_MS)
        worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
        extension_id = worker.url.split("/")[2]
        yield context, extension_id
        context.close()


def save_options(context, extension_id: str, server_url: str, key: str):
    page = context.new_page()
    page.goto(f"chrome-extension://{extension_id}/options.html")
    page.wait_for_selector("#options-form[data-ready='true']", state="attached")
    page.fill("#server", server_url)
    page.fill("#key", key)
    page.click("#save")
    page.wait_for_selector("#status:has-text('Saved.')")
    return page


def open_panel(context, extension_id: str):
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"chrome-extension://{extension_id}/sidepanel.html")
    page.wait_for_selector("body[data-ready='true']", state="attached")
    return page, errors


def wait_for_answer(page) -> None:
    page.wait_for_selector("#result:not([hidden]), #error:not([hidden])")
    page.wait_for_selector("body:not(.is-busy)", state="attached")


def test_the_side_panel_asks_the_configured_server_with_the_key(extension, server) -> None:
    context, extension_id = extension
    options = save_options(context, extension_id, server.url + "/", AGENT_KEY)
    # The key is in the extension's private storage, normalised server URL beside it.
    stored = options.evaluate("chrome.storage.local.get(null)")
    assert stored == {"server": server.url, "key": AGENT_KEY}
    options.reload()
    options.wait_for_selector("#options-form[data-ready='true']", state="attached")
    assert options.input_value("#server") == server.url

    panel, errors = open_panel(context, extension_id)
    panel.fill("#question", "How many days do I have to return an item?")
    panel.press("#question", "Enter")
    wait_for_answer(panel)
    assert panel.locator("#error").is_hidden(), panel.inner_text("#error")
    assert "within 30 days of delivery" in panel.inner_text("#answer")
    assert panel.locator("#answer a.marker").first.get_attribute("href") == "#cite-1"
    card = panel.locator("#cite-1")
    assert "Returns policy" in card.locator("h3").inner_text()
    assert "30 days" in card.locator("blockquote").inner_text()
    assert card.locator("a.open-link").get_attribute("href").startswith(server.url + "/v1/view/returns.md")
    assert errors == []


def test_a_wrong_key_is_reported_and_points_to_the_options(extension, server) -> None:
    context, extension_id = extension
    save_options(context, extension_id, server.url, "not-the-right-key-at-all")
    panel, _ = open_panel(context, extension_id)
    panel.fill("#question", "How many days do I have to return an item?")
    panel.press("#question", "Enter")
    wait_for_answer(panel)
    assert "The API key is not valid" in panel.inner_text("#error")
    assert panel.locator("#setup").is_visible() and panel.locator("#result").is_hidden()


def test_without_a_server_the_panel_asks_for_the_options(extension) -> None:
    context, extension_id = extension
    panel, _ = open_panel(context, extension_id)
    panel.fill("#question", "How many days do I have to return an item?")
    panel.press("#question", "Enter")
    panel.wait_for_selector("#setup:not([hidden])")
    assert panel.locator("#result").is_hidden()


def test_options_refuse_an_address_that_is_not_a_web_url(extension) -> None:
    context, extension_id = extension
    page = context.new_page()
    page.goto(f"chrome-extension://{extension_id}/options.html")
    page.wait_for_selector("#options-form[data-ready='true']", state="attached")
    page.evaluate("document.querySelector('#server').type = 'text'")
    page.fill("#server", "javascript:alert(1)")
    page.click("#save")
    page.wait_for_selector("#status:has-text('starting with https://')")
    assert page.evaluate("chrome.storage.local.get(null)") == {}


def _worker(context):
    return context.service_workers[0]


def test_the_context_menu_question_reaches_an_open_panel(extension, server) -> None:
    context, extension_id = extension
    save_options(context, extension_id, server.url, AGENT_KEY)
    panel, errors = open_panel(context, extension_id)
    worker = _worker(context)
    # The menu item exists: updating an unknown id would reject.
    worker.evaluate("chrome.contextMenus.update('ask-knowledge-base', {})")
    handled = worker.evaluate(
        """async () => {
            const [tab] = await chrome.tabs.query({});
            return self.askFromSelection(
                {menuItemId: 'ask-knowledge-base', selectionText: '  How many days do I have to return an item? '},
                tab);
        }"""
    )
    assert handled is True
    panel.wait_for_selector("#result:not([hidden])")
    wait_for_answer(panel)
    assert panel.input_value("#question") == "How many days do I have to return an item?"
    assert "within 30 days of delivery" in panel.inner_text("#answer")
    # The question was taken: a panel opened later does not ask it again.
    assert worker.evaluate("chrome.storage.session.get(null)") == {}
    assert errors == []


def test_the_context_menu_question_waits_for_the_panel_to_open(extension, server) -> None:
    context, extension_id = extension
    save_options(context, extension_id, server.url, AGENT_KEY)
    worker = _worker(context)
    ignored = worker.evaluate("self.askFromSelection({menuItemId: 'something-else', selectionText: 'x'}, undefined)")
    assert ignored is False
    worker.evaluate(
        "self.askFromSelection("
        "{menuItemId: 'ask-knowledge-base', selectionText: 'Ile trwa zwrot pieniędzy?'}, undefined)"
    )
    panel, _ = open_panel(context, extension_id)
    panel.wait_for_selector("#result:not([hidden])")
    wait_for_answer(panel)
    assert panel.input_value("#question") == "Ile trwa zwrot pieniędzy?"
    assert "5 dni roboczych" in panel.inner_text("#result")
