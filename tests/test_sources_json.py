"""JSON/CSV record sources: an HTTP listing with pages, the example exports, and bad records skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.sources.base import SourceConfigError
from ingest.sources.config import parse_sources, read_sources
from ingest.sources.registry import build_sources, load_sources
from ingest.sync import sync_sources
from tests.http_site import Site

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def hubspot_page(results: list[dict], after: str | None, base: str) -> bytes:
    body: dict = {"total": 3, "results": results}
    if after:
        body["paging"] = {"next": {"after": after, "link": f"{base}/crm/v3/objects/kb?after={after}"}}
    return json.dumps(body).encode()


ARTICLES = [
    {
        "id": "501",
        "properties": {
            "title": "Gift card balance",
            "body": "<p>Agents can check a gift card balance in the back office under Payments.</p>",
            "url": "https://kb.nordvik.example/501",
            "audience": ["agents"],
        },
        "updatedAt": "2026-03-01T10:00:00Z",
    },
    {
        "id": "502",
        "properties": {
            "title": "Zwrot za przesyłkę",
            "body": "<p>Koszt odesłania zwrotu pokrywa klient, chyba że towar jest wadliwy.</p>",
            "url": "https://kb.nordvik.example/502",
        },
        "updatedAt": "2026-03-02T10:00:00Z",
    },
    {"id": "503", "properties": {"title": "Broken record without a body"}, "updatedAt": "2026-03-03T10:00:00Z"},
]


@pytest.fixture
def crm(monkeypatch):
    monkeypatch.setenv("CRM_TOKEN", "crm-token-456")
    with Site() as site:
        pages = {None: (ARTICLES[:2], "p2"), "p2": (ARTICLES[2:], None)}

        def listing(query, headers):
            if headers.get("authorization") != "Bearer crm-token-456":
                return 401, {"Content-Type": "application/json"}, b'{"message": "no"}'
            results, after = pages[query.get("after", [None])[0]]
            return 200, {"Content-Type": "application/json"}, hubspot_page(results, after, site.url)

        site.handlers["/crm/v3/objects/kb"] = listing
        yield site


def crm_sources(site: Site) -> str:
    return f"""
    [[source]]
    name = "crm"
    kind = "json"
    url = "{site.url}/crm/v3/objects/kb"
    records = "results"
    next = "paging.next.link"
    text_format = "html"
    token_env = "CRM_TOKEN"
    allow_private = true
    tags = ["crm"]

    [source.fields]
    id = "id"
    title = "properties.title"
    text = "properties.body"
    url = "properties.url"
    updated = "updatedAt"
    groups = "properties.audience"
    """


def test_an_http_listing_is_paged_mapped_and_bad_records_skipped(crm, store, embedder, cache) -> None:
    sources = [c.source for c in build_sources(parse_sources(crm_sources(crm)))]
    report = sync_sources(sources, store, embedder, cache)
    (part,) = report.sources
    assert part.added == ["501", "502"]
    assert [(f.source, f.reason) for f in part.failed] == [("503", "unreadable")]
    docs = store.load().manifest.documents
    assert docs["crm/501"].groups == ["agents"] and docs["crm/501"].tags == ["crm"]
    assert docs["crm/502"].groups == [] and docs["crm/502"].url == "https://kb.nordvik.example/502"
    assert docs["crm/502"].language == "pl" and docs["crm/502"].title == "Zwrot za przesyłkę"
    assert [p.split("?")[-1] for p in crm.paths()] == ["/crm/v3/objects/kb", "after=p2"]

    embedder.embedded.clear()
    ARTICLES[1]["properties"]["body"] = "<p>Koszt odesłania zwrotu pokrywa sklep.</p>"
    ARTICLES[1]["updatedAt"] = "2026-03-09T10:00:00Z"
    try:
        part = sync_sources(sources, store, embedder, cache).sources[0]
    finally:
        ARTICLES[1]["updatedAt"] = "2026-03-02T10:00:00Z"
    assert part.updated == ["502"] and part.unchanged == ["501"]
    assert all("pokrywa sklep" in t for t in embedder.embedded)


def test_the_example_exports_load_with_the_example_sources_file(store, embedder, cache) -> None:
    configured = {c.name: c for c in load_sources(EXAMPLES / "sources.toml")}
    assert set(configured) == {"handbook", "help-site", "zendesk", "salesforce-kb", "hubspot-kb"}
    chosen = [configured["salesforce-kb"].source, configured["hubspot-kb"].source]
    report = sync_sources(chosen, store, embedder, cache)
    salesforce, hubspot = report.sources
    # The draft article is filtered out by `only = { PublishStatus = "Online" }`.
    assert sorted(salesforce.added) == ["ka05g000000NvA1AAK", "ka05g000000NvA2AAK", "ka05g000000NvA3AAK"]
    assert sorted(hubspot.added) == ["71234501", "71234502", "71234503"]
    docs = store.load().manifest.documents
    kettle = docs["salesforce-kb/ka05g000000NvA1AAK"]
    assert kettle.url == "https://nordvik.my.site.com/s/article/reklamacja-uszkodzonego-czajnika"
    assert kettle.groups == ["agents"] and docs["salesforce-kb/ka05g000000NvA2AAK"].groups == ["agents", "supervisors"]
    assert docs["hubspot-kb/71234501"].tags == ["dostawa", "polska"]
    assert docs["hubspot-kb/71234502"].language == "fi"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('text = "properties.body"', ""), "needs `id` and `text`"),
        (('updated = "updatedAt"', 'updatd = "updatedAt"'), "unknown: updatd"),
        (('text_format = "html"', 'text_format = "rtf"'), "text_format"),
        (('records = "results"', 'records = ["results"]'), "must be a string"),
    ],
)
def test_bad_mappings_are_refused_with_a_reason(crm, change, message) -> None:
    with pytest.raises(SourceConfigError, match=message):
        build_sources(parse_sources(crm_sources(crm).replace(*change)))


def test_every_sources_file_error_names_the_source(tmp_path) -> None:
    cases = {
        'name = "Bad Name"\nkind = "web"\nstart = ["https://a.example/"]': "name must be",
        'name = "a"\nkind = "ftp"': "kind 'ftp'",
        'name = "a"\nkind = "folder"\npath = "."\nschedule = "sometimes"': "schedule 'sometimes'",
        'name = "a"\nkind = "folder"\npath = "."\ngroups = "agents"': "`groups` must be a list",
    }
    for body, message in cases.items():
        path = tmp_path / "sources.toml"
        path.write_text(f"[[source]]\n{body}\n")
        with pytest.raises(SourceConfigError, match=message):
            build_sources(read_sources(path))
    path.write_text('[[source]]\nname = "a"\nkind = "folder"\npath = "."\n' * 2)
    with pytest.raises(SourceConfigError, match="two sources"):
        read_sources(path)
