"""A web site: start pages or sitemaps, same-site links to a depth and page limit, robots.txt obeyed.

Every page is fetched with the ETag / Last-Modified it had, so an unchanged site answers 304s and
nothing is parsed or embedded again; the links of a 304 page are the ones remembered from its last
200. Redirects and canonical links fold a page onto one URL; 404 and 410 pages leave the index.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from ingest.sources.base import (
    ItemFailure,
    NotFound,
    Sink,
    SourceConfigError,
    SourceError,
    SourceItem,
    SourceMemory,
    SourceUnauthorized,
    SourceUnavailable,
)
from ingest.sources.config import SourceConfig
from ingest.sources.fetch import Fetcher, FetchPolicy, Response, safe_url
from ingest.sources.pages import normalize_url, read_links, site_of
from ingest.sources.robots import Robots
from ingest.sources.sitemaps import expand, looks_like_sitemap

log = logging.getLogger(__name__)
FORMATS = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.8,application/pdf;q=0.5,*/*;q=0.1"
# This many failed requests in a row, with none succeeding before, means the site is down.
DOWN_AFTER = 5


@dataclass(frozen=True)
class WebConfig:
    start: tuple[str, ...]
    max_pages: int = 500
    max_depth: int = 3
    policy: FetchPolicy = FetchPolicy()


def _format_of(response: Response) -> str | None:
    kind = (response.header("content-type") or "text/html").split(";", 1)[0].strip().lower()
    return FORMATS.get(kind)


class WebSource:
    kind = "web"

    def __init__(self, name: str, config: WebConfig, groups: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> None:
        self.name = name
        self.config = config
        self.groups = groups
        self.tags = tags
        self.sites = {site_of(url) for url in config.start}

    @classmethod
    def from_config(cls, config: SourceConfig) -> WebSource:
        options = config.options
        start = tuple(normalize_url(u) for u in options.texts("start"))
        if not start or not all(u.startswith(("http://", "https://")) for u in start):
            raise SourceConfigError(f"{options.where}: `start` must list http(s) URLs of pages or sitemaps")
        policy = FetchPolicy(
            allow_private=options.flag("allow_private", False),
            timeout_s=options.number("timeout_s", 20.0),
            max_bytes=options.integer("max_bytes", 10_000_000, minimum=1),
            delay_s=options.number("delay_s", 0.5),
        )
        web = WebConfig(start, options.integer("max_pages", 500, 1), options.integer("max_depth", 3), policy)
        options.finish()
        return cls(config.name, web, config.groups, config.tags)

    def collect(self, memory: SourceMemory, sink: Sink) -> dict[str, Any]:
        with Fetcher(self.config.policy) as fetcher:
            crawl = _Crawl(self, fetcher, memory, sink)
            crawl.run()
            log.info("%s: %d requests for %d pages", self.name, fetcher.requests, len(crawl.pages))
            return {"pages": crawl.pages, "aliases": crawl.aliases, "sitemaps": crawl.sitemaps}


class _Crawl:
    """One breadth-first crawl; `pages` becomes the state the next crawl starts from."""

    def __init__(self, source: WebSource, fetcher: Fetcher, memory: SourceMemory, sink: Sink) -> None:
        self.source, self.fetcher, self.memory, self.sink = source, fetcher, memory, sink
        self.robots = Robots(fetcher)
        self.old_pages: dict[str, dict[str, Any]] = memory.state.get("pages", {})
        self.old_aliases: dict[str, str] = memory.state.get("aliases", {})
        self.pages: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, str] = {}
        self.sitemaps: dict[str, Any] = {}
        self.seen: set[str] = set()
        self.failures_in_row = 0
        self.succeeded = False

    def run(self) -> None:
        config = self.source.config
        queue: deque[tuple[str, int]] = deque()
        for url in config.start:
            if looks_like_sitemap(url):
                urls = expand(self.fetcher, url, self.memory.state.get("sitemaps", {}), self.sitemaps)
                self.succeeded = True
                queue.extend((u, 0) for u in urls)
            else:
                queue.append((url, 0))
        fetched = 0
        while queue and fetched < config.max_pages:
            url, depth = queue.popleft()
            if url in self.seen or site_of(url) not in self.source.sites:
                continue
            self.seen.add(url)
            if not self.robots.allowed(url):
                log.info("%s: robots.txt disallows %s", self.source.name, safe_url(url))
                continue
            fetched += 1
            links = self.visit(url)
            if depth < config.max_depth:
                queue.extend((link, depth + 1) for link in links if link not in self.seen)

    def _remembered(self, url: str) -> tuple[str, dict[str, Any] | None]:
        """The page id a URL folded to last time, and that page's state if the index still holds it."""
        page_id = self.old_aliases.get(url, url)
        state = self.old_pages.get(page_id)
        if state is None or self.memory.known.get(page_id) != state.get("version"):
            return page_id, None
        return page_id, state

    def visit(self, url: str) -> list[str]:
        """Fetch one page and hand it to the sink; returns the links to follow from it."""
        page_id, old = self._remembered(url)
        try:
            validators = {page_id: (old.get("etag"), old.get("modified"))} if old else {}
            etag, modified = validators.get(page_id, (None, None))
            # The page's validators go to the URL asked for (a canonical alias shares them; a
            # redirect ignores them) and to the end of its redirect.
            response = self.fetcher.get(url, etag, modified, accept=ACCEPT, validators=validators)
            return self._handle(url, page_id, old, response)
        except SourceUnavailable as exc:
            self.failures_in_row += 1
            if not self.succeeded and self.failures_in_row >= DOWN_AFTER:
                raise SourceUnavailable(f"{self.source.name}: the site does not answer ({exc.message})") from exc
            return self._keep(page_id, old, exc)
        except SourceError as exc:
            return self._keep(page_id, old, exc)

    def _keep(self, page_id: str, old: dict[str, Any] | None, error: SourceError) -> list[str]:
        """A page that failed this time: its last good version stays, and so do its links."""
        self.sink.fail(ItemFailure(page_id, error))
        if old is None:
            return []
        self.pages[page_id] = old
        return list(old.get("links", []))

    def _handle(self, url: str, page_id: str, old: dict[str, Any] | None, response: Response) -> list[str]:
        status = response.status
        if status in (401, 403):
            raise SourceUnauthorized(f"{safe_url(url)} answered HTTP {status}")
        if status == 429 or status >= 500:
            raise SourceUnavailable(f"{safe_url(url)} answered HTTP {status}")
        self.failures_in_row, self.succeeded = 0, True
        final = normalize_url(response.url)
        if site_of(final) not in self.source.sites:
            log.info("%s: %s redirects off the site to %s; left out", self.source.name, safe_url(url), safe_url(final))
            return []
        if status == 304 and old is not None:
            self._alias(url, page_id)
            self._offer(page_id, old, None)
            return list(old.get("links", []))
        if status in (404, 410) or status >= 400:
            log.info("%s: %s is gone (HTTP %d)", self.source.name, safe_url(final), status)
            if status not in (404, 410):
                self.sink.fail(ItemFailure(final, NotFound(f"{safe_url(final)} answered HTTP {status}")))
            return []
        if status != 200:
            return []
        return self._page(url, final, response)

    def _page(self, url: str, final: str, response: Response) -> list[str]:
        suffix = _format_of(response)
        if suffix is None:
            return []
        links: list[str] = []
        page_id, noindex = final, False
        if suffix == ".html":
            found = read_links(response.body, final)
            if found.canonical and site_of(found.canonical) in self.source.sites:
                page_id = found.canonical
            links = [] if found.nofollow else [u for u in found.links if site_of(u) in self.source.sites]
            noindex = found.noindex
        self.seen.update({final, page_id})
        self._alias(url, page_id)
        self._alias(final, page_id)
        if noindex or page_id in self.pages:
            return links
        state = {
            "version": hashlib.sha256(response.body).hexdigest(),
            "etag": response.header("etag"),
            "modified": response.header("last-modified"),
            "format": suffix,
            "links": links,
        }
        self._offer(page_id, state, response.body)
        return links

    def _alias(self, url: str, page_id: str) -> None:
        if url != page_id:
            self.aliases[url] = page_id

    def _offer(self, page_id: str, state: dict[str, Any], body: bytes | None) -> None:
        if page_id in self.pages:
            return
        self.pages[page_id] = state
        source = self.source
        self.sink.add(
            SourceItem(
                id=page_id,
                version=state["version"],
                format=state.get("format", ".html"),
                url=page_id,
                content=body,
                tags=source.tags,
                groups=source.groups,
            )
        )
