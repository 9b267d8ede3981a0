"""The static pages: served with a strict content policy, and nothing outside assistant/web."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(("path", "kind"), [("/", "text/html"), ("/manage", "text/html")])
def test_pages_are_served_with_a_content_security_policy(client, path, kind) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "https://" not in response.text and "http://" not in response.text


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("app.js", "text/javascript"),
        ("manage.js", "text/javascript"),
        ("common.js", "text/javascript"),
        ("app.css", "text/css"),
    ],
)
def test_assets_are_served_with_their_type(client, name, kind) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
    # No network at run time: every import and stylesheet is our own.
    assert "https://" not in response.text and "http://" not in response.text


@pytest.mark.parametrize("name", ["nope.js", "..%2fweb.py", "..%2f..%2fpyproject.toml", "%2e%2e", "index"])
def test_nothing_else_is_served_from_static(client, name) -> None:
    response = client.get(f"/static/{name}")
    assert response.status_code == 404 and response.json()["error"]["status"] == 404
