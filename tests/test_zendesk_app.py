"""The Zendesk Support app (integrations/zendesk): its build and offline validation, and the ticket sidebar in
real Chromium under a harness page that plays Zendesk's side of the ZAF SDK's postMessage protocol."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

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

APP = Path(__file__).resolve().parents[1] / "integrations" / "zendesk"
NODE = shutil.which("node")
TIMEOUT_MS = 20_000

if NODE is None:
    pytest.skip("node is not installed; the Zendesk app is built with npm packages", allow_module_level=True)
if not (APP / "node_modules" / "@zendesk" / "zcli").is_dir():
    pytest.fail("integrations/zendesk/node_modules is missing: run `make zendesk-deps`", pytrace=False)


def build(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NODE, "scripts/build.mjs", "--out", str(out), *args], cwd=APP, capture_output=True, text=True, timeout=120
    )


def validate(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NODE, "scripts/validate.mjs", str(folder)], cwd=APP, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("zendesk") / "dist"
    done = build(out, "--domain", "127.0.0.1")
    assert done.returncode == 0, done.stderr
    return out


def test_the_build_validates_offline_and_zips_the_app_with_the_sdk_inside(tmp_path) -> None:
    out = tmp_path / "dist"
    done = build(out, "--domain", "assistant.example.com")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["location"]["support"]["ticket_sidebar"]["url"] == "assets/iframe.html"
    assert manifest["domainWhitelist"] == ["assistant.example.com"]
    key = next(p for p in manifest["parameters"] if p["name"] == "api_key")
    assert key["secure"] is True and key["scopes"] == ["header"]
    # zcli's own packager made the zip; the SDK is in it, bundled from the npm package, and nothing else loads.
    [package] = (out / "tmp").glob("app-*.zip")
    names = set(zipfile.ZipFile(package).namelist())
    assert {"manifest.json", "translations/en.json", "assets/iframe.html", "assets/zaf_sdk.js"} <= names
    assert {"assets/main.js", "assets/ticket.js", "assets/suggestions.js"} <= names
    sdk = (out / "assets" / "zaf_sdk.js").read_text()
    assert "var ZAFClient" in sdk and "iframe.handshake" in sdk
    assert "zdassets.com" not in (out / "assets" / "iframe.html").read_text()
    assert validate(out).returncode == 0


def test_the_validator_refuses_a_broken_app(built, tmp_path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(built, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["location"]["support"]["ticket_sidebar"]["url"] = "assets/missing.html"
    manifest["location"]["support"]["ticket_sidbar"] = {"url": "assets/iframe.html"}
    manifest["parameters"].append({"name": "mood", "type": "colour"})
    manifest["domainWhitelist"] = []
    (broken / "manifest.json").write_text(json.dumps(manifest))
    (broken / "translations" / "en.json").unlink()
    (broken / "assets" / "zaf_sdk.js").unlink()
    done = validate(broken)
    assert done.returncode == 1
    for expected in (
        "url assets/missing.html is not a file under assets/",
        'unknown support location "ticket_sidbar"',
        "parameter mood has type colour",
        "secure settings need the server's domain in domainWhitelist",
        "translations/en.json (the default locale) is missing",
        "assets/iframe.html loads zaf_sdk.js, which is missing",
    ):
        assert expected in done.stderr


def test_a_build_without_the_server_domain_is_refused(tmp_path) -> None:
    done = build(tmp_path / "dist")
    assert done.returncode == 2
    assert "--domain assistant.example.com" in done.stderr
    assert not (tmp_path / "dist").exists()


# ---- the sidebar in Chromium ------------------------------------------------------------------------


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
def servers(tmp_path, built) -> Iterator[dict[str, LiveServer]]:
    """The assistant, Zendesk's pages (the harness) and Zendesk's app CDN, each on its own origin."""
    started = {"assistant": knowledge_server(tmp_path), "zendesk": static_server(HARNESS), "cdn": static_server(built)}
    yield started
    for server in started.values():
        server.stop()


class Proxy:
    """Zendesk's request proxy: puts the secure setting in, and sends it only to a whitelisted domain."""

    def __init__(self, secure: dict[str, str], whitelist: list[str]) -> None:
        self.secure = secure
        self.whitelist = whitelist
        self.sent: list[dict[str, Any]] = []

    def __call__(self, options: dict[str, Any]) -> dict[str, Any]:
        headers = dict(options.get("headers") or {})
        if options.get("secure"):
            assert httpx.URL(options["url"]).host in self.whitelist
            for name, value in headers.items():
                for setting, secret in self.secure.items():
                    value = value.replace("{{setting." + setting + "}}", secret)
                headers[name] = value
        headers["Content-Type"] = options.get("contentType", "application/x-www-form-urlencoded")
        response = httpx.request(
            options.get("type", "GET"), options["url"], content=options.get("data", ""), headers=headers, timeout=30
        )
        self.sent.append({"url": options["url"], "headers": headers})
        return {"status": response.status_code, "body": response.text}


def open_ticket(browser, servers, comments, settings=None, secure=None):
    context = browser.new_context(viewport={"width": 900, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    proxy = Proxy(secure if secure is not None else {"api_key": AGENT_KEY}, ["127.0.0.1"])
    page.expose_function("zendeskProxy", proxy)
    page.goto(servers["zendesk"].url + "/zendesk.html")
    page.wait_for_selector("body[data-ready='true']", state="attached")
    default_settings = {"title": "Assistant", "server_url": servers["assistant"].url}
    config = {
        "appUrl": servers["cdn"].url + "/assets/iframe.html",
        "settings": settings if settings is not None else default_settings,
        "ticket": {"ticket.subject": "Returns and a kettle", "ticket.comments": comments},
    }
    page.evaluate("config => window.harness.start(config)", config)
    frame = page.frame_locator("#app")
    frame.locator("body[data-state='done'], body[data-state='error']").wait_for(state="attached")
    return page, frame, proxy, errors


EMAIL_HTML = "<p>" + CUSTOMER_EMAIL.replace("\n", "<br>") + "</p>"
COMMENTS = [
    {"id": 1, "value": EMAIL_HTML, "author": {"role": "end-user", "name": "Anna"}},
    {"id": 2, "value": f"<p>{NOTE_QUESTION}</p>", "public": False, "author": {"role": "agent", "name": "Ben"}},
    {"id": 3, "value": "<p>Thanks Anna, looking into it.</p>", "author": {"role": "admin", "name": "Cleo"}},
]


@pytest.mark.browser
def test_the_sidebar_suggests_as_the_ticket_opens_and_inserts_the_draft(browser, servers) -> None:
    page, frame, proxy, errors = open_ticket(browser, servers, COMMENTS)
    assert frame.locator("#error").is_hidden(), frame.locator("#error").inner_text()
    questions = frame.locator("#questions > li")
    assert [questions.nth(i).locator("h2").inner_text() for i in range(questions.count())] == [
        RETURN_QUESTION,
        MISSING_QUESTION,
        KETTLE_QUESTION,
    ]
    assert "within 30 days of delivery" in questions.nth(0).locator(".answer").inner_text()
    assert "Returns policy" in questions.nth(0).locator(".card h3").inner_text()
    assert questions.nth(1).locator(".not-found").inner_text() == "Not found in the knowledge base."
    # The kettle passage's markup is text on the page: no element made from it, no script run.
    quote = questions.nth(2).locator(".card blockquote").inner_text()
    assert '<img src=x onerror="window.__pwned=1">' in quote and "<script>window.__pwned=2</script>" in quote
    assert frame.locator("#questions img, #questions script").count() == 0
    app = page.frame(url=lambda url: url.startswith(servers["cdn"].url))
    assert app.evaluate("window.__pwned === undefined")

    # The browser sent the placeholder; only the proxy put the key in. The note stayed out of the ticket.
    [request] = page.evaluate("window.harness.requests")
    assert request["url"] == servers["assistant"].url + "/v1/suggest"
    assert request["secure"] is True and request["headers"] == {"Authorization": "Bearer {{setting.api_key}}"}
    ticket = json.loads(request["data"])
    assert ticket["subject"] == "Returns and a kettle"
    assert [m["author"] for m in ticket["messages"]] == ["customer", "agent"]
    assert ticket["messages"][0]["text"].startswith(f"Hello,\n\n{RETURN_QUESTION}")
    assert NOTE_QUESTION not in json.dumps(ticket)
    assert proxy.sent[0]["headers"]["Authorization"] == f"Bearer {AGENT_KEY}"

    draft = frame.locator("#draft-text").inner_text()
    frame.locator("#insert-draft").click()
    frame.locator("#inserted:not([hidden])").wait_for()
    [inserted] = page.evaluate("window.harness.inserts")
    # ticket.editor.insert reads HTML: the draft's words arrive escaped, paragraph by paragraph.
    assert inserted.startswith("<p>You can return any item within 30 days of delivery")
    assert "&lt;img src=x onerror=&quot;window.__pwned=1&quot;&gt;" in inserted and "<img" not in inserted
    assert "<p>Sources:<br>[1] Returns policy" in inserted
    assert draft.startswith("You can return any item within 30 days")
    assert errors == []


@pytest.mark.browser
def test_a_refused_key_is_reported_in_the_sidebar(browser, servers) -> None:
    _, frame, _, _ = open_ticket(browser, servers, COMMENTS, secure={"api_key": "not-the-right-key-at-all"})
    error = frame.locator("#error").inner_text()
    assert "The API key is not valid" in error and "(check the app's API key)" in error
    assert frame.locator("#result").is_hidden()


@pytest.mark.browser
def test_without_a_server_url_the_sidebar_asks_for_it(browser, servers) -> None:
    page, frame, _, _ = open_ticket(browser, servers, COMMENTS, settings={"title": "Assistant", "server_url": ""})
    assert "Set the assistant server URL" in frame.locator("#error").inner_text()
    assert page.evaluate("window.harness.requests") == []
