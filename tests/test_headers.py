"""Security headers on every route: a strict CSP, nosniff, a referrer policy and framing as configured."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.settings import Settings

HELPDESK = "https://helpdesk.example.com"
PAGES = ["/", "/manage", "/docs", "/v1/view/returns.md"]
ASSETS = [
    "/static/app.js",
    "/static/common.js",
    "/static/app.css",
    "/static/view.css",
    "/static/docs.js",
    "/static/docs/swagger-ui-bundle.js",
    "/static/docs/swagger-ui.css",
]
FILES = ["/v1/documents/returns.md", "/v1/documents/toimitus.md"]
# (method, path, body, expected status): answers of every kind, errors included.
API: list[tuple[str, str, Any, int]] = [
    ("get", "/healthz", None, 200),
    ("get", "/readyz", None, 200),
    ("get", "/metrics", None, 200),
    ("get", "/openapi.json", None, 200),
    ("post", "/v1/ask", {"question": "refund"}, 200),
    ("post", "/v1/ask/stream", {"question": "refund"}, 200),
    ("post", "/v1/search", {"query": "refund"}, 200),
    ("get", "/v1/session", None, 200),
    ("get", "/v1/manage/documents", None, 200),
    ("post", "/v1/ask", {"question": ""}, 422),
    ("get", "/v1/documents/nope.md", None, 404),
    ("get", "/v1/nope", None, 404),
    ("post", "/v1/ask", {"question": "x" * 2_000_000}, 413),
]
EVERY_GET = PAGES + ASSETS + FILES


def directives(response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    parts = [p.strip() for p in policy.split(";") if p.strip()]
    return {p.split(" ", 1)[0]: (p.split(" ", 1) + [""])[1] for p in parts}


def responses(client: TestClient) -> list[Any]:
    answers = [client.get(path) for path in EVERY_GET]
    for method, path, body, status in API:
        response = client.post(path, json=body) if method == "post" else client.get(path)
        assert response.status_code == status, (path, response.text[:200])
        answers.append(response)
    return answers


def test_every_route_has_nosniff_a_referrer_policy_and_a_csp_without_inline_script_or_eval(client) -> None:
    for response in responses(client):
        where = response.url.path
        assert response.headers["x-content-type-options"] == "nosniff", where
        assert response.headers["referrer-policy"] == "same-origin", where
        policy = directives(response)
        assert "unsafe-eval" not in response.headers["content-security-policy"], where
        script = policy.get("script-src", policy.get("default-src"))
        assert script in ("'self'", "'none'"), (where, script)
        assert policy["frame-ancestors"] == "'none'" and response.headers["x-frame-options"] == "DENY", where
        assert policy.get("base-uri") == "'none'", where


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_only_from_our_own_origin(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = directives(response)
    assert "http" not in response.headers["content-security-policy"]
    assert policy.get("object-src", policy["default-src"]) in ("'none'", "'self'")
    # No CDN and no inline script: every <script> names a file of ours.
    assert not re.search(r"https?://", response.text)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text), "inline script"


def test_the_api_docs_work_offline_from_files_shipped_in_a_wheel(client) -> None:
    page = client.get("/docs").text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page):
        assert client.get(asset).status_code == 200, asset
    assert "/static/docs/swagger-ui-bundle.js" in page and "/static/docs.js" in page
    assert client.get("/static/docs/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/docs/index.html").status_code == 404
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN; /docs covers the same schema


def test_configured_origins_may_frame_every_page_and_x_frame_options_steps_aside(service, tmp_path) -> None:
    settings = Settings(cache_dir=tmp_path / "c", frame_ancestors=[HELPDESK, "https://*.support.example.org:8443"])
    with TestClient(create_app(service, settings)) as framed:
        for response in responses(framed):
            expected = f"{HELPDESK} https://*.support.example.org:8443"
            assert directives(response)["frame-ancestors"] == expected, response.url.path
            assert "x-frame-options" not in response.headers, response.url.path


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        "'none'",
        "'self'",
        "https://helpdesk.example.com/path",
        "helpdesk.example.com",
        "https://a.example.com; script-src *",
        "https://a.example.com https://b.example.com",
        "javascript:alert(1)",
        "https://a.example.com\r\nSet-Cookie: x=1",
    ],
)
def test_frame_ancestors_accepts_only_origins(bad) -> None:
    with pytest.raises(ValueError, match="frame_ancestors takes origins"):
        Settings(frame_ancestors=[bad])


def test_frame_ancestors_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ASSISTANT_FRAME_ANCESTORS", f'["{HELPDESK}/"]')
    assert Settings().frame_ancestors == [HELPDESK]
