"""Zendesk Help Center source against a server speaking the Help Center API's shapes on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace

import pytest

from ingest.sources.fetch import FetchPolicy
from ingest.sources.zendesk import ZendeskConfig, ZendeskSource
from ingest.sync import sync_sources
from tests.helpcenter import TOKEN, HelpCenter
from tests.http_site import Site


@pytest.fixture
def help_center(monkeypatch):
    monkeypatch.setenv("ZENDESK_TOKEN", TOKEN)
    with Site() as site:
        center = HelpCenter(site)
        center.add(101, "fi", "Palautusohje", "<p>Voit palauttaa tuotteen 30 päivän kuluessa toimituksesta.</p>")
        center.add(102, "fi", "Toimitusajat", "<p>Toimitamme tilaukset 2–4 arkipäivässä.</p>")
        center.add(103, "fi", "Lahjakortit", "<p>Lahjakortti on voimassa 24 kuukautta.</p>", labels=["lahjakortti"])
        center.add(201, "pl", "Płatności BLIK", "<p>Akceptujemy płatności BLIK oraz przelewy.</p>")
        center.add(301, "th", "การคืนสินค้า", "<p>ลูกค้าสามารถคืนสินค้าได้ภายใน 30 วัน</p>")
        center.add(401, "en-us", "Warranty", "<p>Every Nordvik kettle has a warranty of 24 months.</p>")
        center.add(402, "en-us", "Internal draft", "<p>Not ready.</p>", draft=True)
        center.attachments[401] = [
            {
                "id": 9001,
                "article_id": 401,
                "file_name": "warranty-terms.txt",
                "content_type": "text/plain",
                "content_url": f"{site.url}/hc/article_attachments/9001/warranty-terms.txt",
                "size": 64,
                "inline": False,
            },
            {"id": 9002, "file_name": "logo.png", "content_url": f"{site.url}/logo.png", "size": 5, "inline": True},
        ]
        site.file(
            "/hc/article_attachments/9001/warranty-terms.txt",
            b"The warranty does not cover descaling damage to kettles.",
            "text/plain",
        )
        yield center


def source(center: HelpCenter, **changes) -> ZendeskSource:
    config = ZendeskConfig(
        url=center.site.url,
        locales=("fi", "pl", "th", "en-us"),
        email="kb@nordvik.example",
        token_env="ZENDESK_TOKEN",
        policy=FetchPolicy(allow_private=True, timeout_s=5),
    )
    return ZendeskSource("helpcenter", replace(config, **changes), groups=("agents",))


def run(zendesk, store, embedder, cache):
    report = sync_sources([zendesk], store, embedder, cache)
    return report, report.sources[0]


def test_full_listing_pages_through_every_locale(help_center, store, embedder, cache) -> None:
    _, part = run(source(help_center), store, embedder, cache)
    assert sorted(part.added) == [
        "en-us/401",
        "en-us/401/attachments/9001",
        "fi/101",
        "fi/102",
        "fi/103",
        "pl/201",
        "th/301",
    ]
    # Two pages of Finnish articles were read by following next_page.
    assert [p for p in help_center.site.paths() if "/fi/" in p] == [
        "/api/v2/help_center/fi/articles.json?per_page=100",
        "/api/v2/help_center/fi/articles.json?page=2&per_page=2",
    ]
    docs = store.load().manifest.documents
    record = docs["helpcenter/fi/103"]
    assert record.url == "https://nordvik.zendesk.example/hc/fi/articles/103" and record.title == "Lahjakortit"
    assert record.groups == ["agents"] and record.tags == ["lahjakortti"] and record.language == "fi"
    assert docs["helpcenter/th/301"].language == "th"
    attachment = docs["helpcenter/en-us/401/attachments/9001"]
    assert attachment.url.endswith("/warranty-terms.txt")


def test_incremental_run_fetches_only_what_changed(help_center, store, embedder, cache) -> None:
    run(source(help_center), store, embedder, cache)
    embedder.embedded.clear()
    help_center.site.hits.clear()
    help_center.update(102, body="<p>Toimitamme tilaukset 1–3 arkipäivässä.</p>")
    _, part = run(source(help_center), store, embedder, cache)
    assert part.updated == ["fi/102"] and part.removed == [] and part.added == []
    assert len(part.unchanged) == 6
    assert help_center.incremental_calls and not any("/fi/articles.json" in p for p in help_center.site.paths())
    assert embedder.embedded and all("1–3 arkipäivässä" in t for t in embedder.embedded)
    texts = [c.text for c in store.load().chunks.values() if c.source == "helpcenter/fi/102"]
    assert texts == ["Toimitamme tilaukset 1–3 arkipäivässä."]


def test_drafts_leave_at_once_and_deleted_articles_at_the_next_full_list(help_center, store, embedder, cache) -> None:
    run(source(help_center), store, embedder, cache)
    help_center.update(103, draft=True)
    del help_center.articles[201]
    _, part = run(source(help_center), store, embedder, cache)
    assert part.removed == ["fi/103"]
    _, part = run(source(help_center, full_every_s=0), store, embedder, cache)
    assert part.removed == ["pl/201"]
    assert "helpcenter/pl/201" not in store.load().manifest.documents


def test_a_rejected_token_keeps_the_last_good_articles_and_never_logs_it(
    help_center, store, embedder, cache, caplog
) -> None:
    first, _ = run(source(help_center), store, embedder, cache)
    help_center.auth_ok = False
    with caplog.at_level(logging.DEBUG):
        report, part = run(source(help_center), store, embedder, cache)
    assert part.error is not None and part.error.reason == "unauthorized"
    assert report.index_version == first.index_version and part.items == 7
    assert TOKEN not in caplog.text and base64.b64encode(TOKEN.encode()).decode() not in caplog.text


def test_a_missing_token_variable_is_reported(help_center, store, embedder, cache, monkeypatch) -> None:
    monkeypatch.delenv("ZENDESK_TOKEN")
    _, part = run(source(help_center), store, embedder, cache)
    assert part.error is not None and part.error.reason == "unauthorized" and "ZENDESK_TOKEN" in part.error.message
