"""Zendesk Help Center source against a server speaking the Help Center API's shapes on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import replace

import pytest

from ingest.sources.fetch import FetchPolicy
from ingest.sources.zendesk import ZendeskConfig, ZendeskSource
from ingest.sync import sync_sources
from tests.http_site import Site

TOKEN = "zd-secret-token-123"


class HelpCenter:
    """Articles per locale, listed 2 per page; an incremental export; attachments; Basic token auth."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.articles: dict[int, dict] = {}
        self.attachments: dict[int, list[dict]] = {}
        # Articles written over the past day; edits made during the test happen now.
        self.clock = int(time.time()) - 86_400
        self.incremental_calls: list[int] = []
        self.auth_ok = True
        for locale in ("fi", "pl", "th", "en-us"):
            site.handlers[f"/api/v2/help_center/{locale}/articles.json"] = self._lister(locale)
        site.handlers["/api/v2/help_center/incremental/articles"] = self._incremental

    def add(self, article_id: int, locale: str, title: str, body: str, **fields) -> None:
        self.clock += 100
        self.articles[article_id] = {
            "id": article_id,
            "locale": locale,
            "title": title,
            "body": body,
            "html_url": f"https://nordvik.zendesk.example/hc/{locale}/articles/{article_id}",
            "section_id": fields.pop("section_id", 7),
            "draft": False,
            "outdated": False,
            "label_names": fields.pop("labels", []),
            "updated_at": self._time(self.clock),
            "edited_at": self._time(self.clock),
            "_changed": self.clock,
            **fields,
        }

    def update(self, article_id: int, **fields) -> None:
        self.clock = max(self.clock + 1, int(time.time()))
        self.articles[article_id].update(fields, updated_at=self._time(self.clock), _changed=self.clock)

    @staticmethod
    def _time(epoch: int) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _authorized(self, headers: dict[str, str]) -> bool:
        expected = "Basic " + base64.b64encode(f"kb@nordvik.example/token:{TOKEN}".encode()).decode()
        return self.auth_ok and headers.get("authorization") == expected

    @staticmethod
    def _public(article: dict) -> dict:
        return {k: v for k, v in article.items() if not k.startswith("_")}

    def _lister(self, locale: str):
        def handle(query, headers):
            page = int(query.get("page", ["1"])[0])
            per_page = 2
            mine = [a for a in sorted(self.articles.values(), key=lambda a: a["id"]) if a["locale"] == locale]
            chunk = mine[(page - 1) * per_page : page * per_page]
            more = page * per_page < len(mine)
            base = f"{self.site.url}/api/v2/help_center/{locale}/articles.json"
            body = {
                "articles": [self._public(a) for a in chunk],
                "count": len(mine),
                "page": page,
                "per_page": per_page,
                "page_count": max(1, -(-len(mine) // per_page)),
                "next_page": f"{base}?page={page + 1}&per_page={per_page}" if more else None,
                "previous_page": None,
            }
            for article in chunk:
                if article["id"] in self.attachments:
                    path = f"/api/v2/help_center/articles/{article['id']}/attachments.json"
                    self.site.handlers[path] = self._attachment_lister(article["id"])
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

        return handle

    def _attachment_lister(self, article_id: int):
        def handle(query, headers):
            body = {"article_attachments": self.attachments[article_id]}
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

        return handle

    def _incremental(self, query, headers):
        if not self._authorized(headers):
            return 401, {"Content-Type": "application/json"}, b'{"error": "Couldn\'t authenticate you"}'
        start = int(query["start_time"][0])
        self.incremental_calls.append(start)
        changed = sorted((a for a in self.articles.values() if a["_changed"] >= start), key=lambda a: a["_changed"])
        end = changed[-1]["_changed"] if changed else start
        body = {
            "articles": [self._public(a) for a in changed],
            "count": len(changed),
            "end_time": end,
            "next_page": None,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


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
    report = sync_sources([zendesk], store, embedder, embedder.model_id, cache)
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
