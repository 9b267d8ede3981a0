"""A web source against a real HTTP server on 127.0.0.1: sitemap, robots.txt, ETags, redirects, vanished pages."""

from __future__ import annotations

import pytest

from ingest.sources.base import SourceConfigError
from ingest.sources.config import parse_sources
from ingest.sources.fetch import FetchPolicy
from ingest.sources.registry import build_sources
from ingest.sources.web import WebConfig, WebSource
from ingest.sync import sync_sources
from tests.http_site import Site


def page(title: str, body: str, links: tuple[str, ...] = (), extra_head: str = "", lang: str = "en") -> str:
    anchors = "".join(f'<li><a href="{href}">{href}</a></li>' for href in links)
    return (
        f'<!doctype html><html lang="{lang}"><head><title>{title}</title>{extra_head}</head><body>'
        f"<nav><ul>{anchors}</ul></nav><main><h1>{title}</h1>{body}</main>"
        "<footer>Nordvik Home · all rights reserved</footer></body></html>"
    )


RETURNS = "<p>You can return any item within 30 days of delivery for a full refund.</p>"
SHIPPING = "<p>Toimitamme tilaukset Postin noutopisteisiin 2–4 arkipäivässä.</p>"
PAYMENTS = "<p>Akceptujemy płatności BLIK, karty płatnicze oraz przelewy.</p>"
GIFT = "<p>Gift cards are valid for 24 months from the date of purchase.</p>"


def sitemap(base: str, paths: list[str]) -> str:
    urls = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


@pytest.fixture
def site():
    with Site() as site:
        site.file("/robots.txt", b"User-agent: *\nDisallow: /private/\n", "text/plain")
        site.file("/sitemap.xml", sitemap(site.url, ["/", "/returns", "/toimitus"]).encode(), "application/xml")
        links = ("/payments", "/private/salaries", "/old-gift-cards")
        site.html("/", page("Help centre", "<p>Welcome to the Nordvik help centre.</p>", links))
        site.html("/returns", page("Returns policy", RETURNS, ("/",)))
        site.html("/toimitus", page("Toimitusehdot", SHIPPING, lang="fi"))
        # Two spellings of one page: a tracking query that names the clean URL as canonical.
        canonical = f'<link rel="canonical" href="{site.url}/payments">'
        site.html("/payments", page("Płatności", PAYMENTS, ("/payments?utm=nav",), canonical, lang="pl"))
        site.redirect("/old-gift-cards", "/gift-cards")
        site.html("/gift-cards", page("Gift cards", GIFT))
        site.html("/private/salaries", page("Salaries", "<p>Secret.</p>"))
        yield site


def web_source(site: Site, **overrides) -> WebSource:
    config = WebConfig(
        start=(f"{site.url}/sitemap.xml",),
        max_pages=overrides.pop("max_pages", 50),
        max_depth=overrides.pop("max_depth", 2),
        policy=FetchPolicy(allow_private=True, timeout_s=5, delay_s=0),
    )
    return WebSource("site", config, groups=overrides.pop("groups", ()), tags=("web",))


def sync(source, store, embedder, cache):
    report = sync_sources([source], store, embedder, cache)
    return report, report.sources[0]


def test_first_crawl_follows_sitemap_and_links_obeys_robots_and_folds_redirects(site, store, embedder, cache) -> None:
    report, web = sync(web_source(site), store, embedder, cache)
    base = site.url
    assert sorted(web.added) == sorted(f"{base}{p}" for p in ["/", "/returns", "/toimitus", "/payments", "/gift-cards"])
    assert web.failed == [] and web.error is None and web.items == 5
    # robots.txt is obeyed: the disallowed page is never requested.
    assert not any(p.startswith("/private/") for p in site.paths())
    index = store.load()
    docs = index.manifest.documents
    gift = docs["site/127.0.0.1:" + base.rsplit(":", 1)[1] + "/gift-cards"]
    assert gift.url == f"{base}/gift-cards" and gift.title == "Gift cards" and gift.origin == "site"
    assert gift.tags == ["web"]
    texts = {c.url: c.text for c in index.chunks.values()}
    assert "30 days of delivery" in texts[f"{base}/returns"]
    # Main content only: navigation and footer stay out of the passages.
    assert not any("all rights reserved" in t for t in texts.values())
    assert {d.language for d in docs.values()} >= {"en", "fi", "pl"}
    assert report.index_version == store.current_version()


def test_unchanged_site_answers_304s_and_embeds_nothing(site, store, embedder, cache) -> None:
    first, _ = sync(web_source(site), store, embedder, cache)
    site.hits.clear()
    embedder.embedded.clear()
    report, web = sync(web_source(site), store, embedder, cache)
    assert len(web.unchanged) == 5 and web.added == web.updated == web.removed == []
    assert web.embedded == 0 and embedder.embedded == []
    assert report.index_version == first.index_version
    pages = [h for h in site.hits if h.path not in ("/robots.txt",)]
    assert pages and all(h.status in (304, 301) for h in pages)


def test_changed_vanished_and_unlisted_pages(site, store, embedder, cache) -> None:
    sync(web_source(site), store, embedder, cache)
    embedder.embedded.clear()
    site.html("/returns", page("Returns policy", RETURNS + "<p>Exchanges are free within 14 days.</p>", ("/",)))
    site.gone("/toimitus", 410)
    # The gift card page is no longer linked from anywhere.
    site.html("/", page("Help centre", "<p>Welcome to the Nordvik help centre.</p>", ("/payments",)))
    _, web = sync(web_source(site), store, embedder, cache)
    base = site.url
    assert sorted(web.updated) == [f"{base}/", f"{base}/returns"]
    assert sorted(web.removed) == [f"{base}/gift-cards", f"{base}/toimitus"]
    assert any("Exchanges are free within 14 days." in t for t in embedder.embedded)
    urls = {c.url for c in store.load().chunks.values()}
    assert urls == {f"{base}/", f"{base}/returns", f"{base}/payments"}


def test_a_site_that_is_down_keeps_its_last_good_pages(site, store, embedder, cache) -> None:
    first, _ = sync(web_source(site), store, embedder, cache)
    site.stop()
    report, web = sync(web_source(site), store, embedder, cache)
    assert web.error is not None and web.error.reason == "unavailable"
    assert len(web.unchanged) == 5 and web.removed == []
    assert report.index_version == first.index_version
    assert len(store.load().manifest.documents) == 5


def test_a_page_that_fails_keeps_its_last_version_and_its_links(site, store, embedder, cache) -> None:
    sync(web_source(site), store, embedder, cache)
    # The home page errors out: the pages only reachable through it must not be dropped.
    site.pages["/"].status = 500
    site.pages["/"].etag = False
    _, web = sync(web_source(site), store, embedder, cache)
    assert [f.source for f in web.failed] == [f"{site.url}/"] and web.failed[0].reason == "unavailable"
    assert web.removed == []
    assert web.items == 5


def test_private_addresses_are_refused_unless_allowed(site, store, embedder, cache) -> None:
    config = WebConfig(start=(f"{site.url}/",), policy=FetchPolicy(allow_private=False, delay_s=0))
    _, web = sync(WebSource("site", config), store, embedder, cache)
    assert web.error is not None and web.error.reason == "blocked_address"
    assert site.hits == []


def test_page_limit_and_depth_bound_the_crawl(site, store, embedder, cache) -> None:
    config = WebConfig(start=(f"{site.url}/",), max_pages=2, max_depth=1, policy=FetchPolicy(True, delay_s=0))
    _, web = sync(WebSource("site", config), store, embedder, cache)
    assert len(web.added) == 2


def test_web_sources_from_toml(site) -> None:
    text = f"""
    [[source]]
    name = "help-site"
    kind = "web"
    start = ["{site.url}/sitemap.xml"]
    max_pages = 20
    max_depth = 1
    allow_private = true
    delay_s = 0
    groups = ["agents"]
    schedule = "every 6h"
    """
    (configured,) = build_sources(parse_sources(text))
    assert configured.schedule.every_s == 6 * 3600
    source = configured.source
    assert isinstance(source, WebSource) and source.config.max_pages == 20 and source.config.policy.allow_private
    with pytest.raises(SourceConfigError, match="unknown key max_page"):
        build_sources(parse_sources(text.replace("max_pages", "max_page")))
    with pytest.raises(SourceConfigError, match="start"):
        build_sources(parse_sources(text.replace(f'"{site.url}/sitemap.xml"', '"ftp://example.com/"')))
