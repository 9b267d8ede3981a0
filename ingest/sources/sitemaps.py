"""Page URLs from sitemaps (ultimate-sitemap-parser on bytes we fetched), re-read only when they changed."""

from __future__ import annotations

import gzip
import logging
import zlib
from typing import Any

from usp.objects.sitemap import AbstractIndexSitemap
from usp.tree import sitemap_from_str

from ingest.sources.base import BadResponse, ResponseTooLarge, SourceError, SourceUnavailable
from ingest.sources.fetch import Fetcher, Response, safe_url
from ingest.sources.pages import normalize_url

log = logging.getLogger(__name__)
MAX_SITEMAPS = 50  # an index of indexes is followed this far at most
XML_TYPES = ("application/xml", "text/xml", "application/gzip", "application/x-gzip")


def looks_like_sitemap(url: str, response: Response | None = None) -> bool:
    """A start URL is a sitemap when it is named like one or answers with a sitemap document."""
    path = url.lower().split("?", 1)[0]
    if path.endswith((".xml", ".xml.gz")) or path.endswith("/sitemap.txt"):
        return True
    if response is None:
        return False
    kind = (response.header("content-type") or "").split(";", 1)[0].strip().lower()
    head = response.body[:512].lstrip().lower()
    return kind in XML_TYPES and (b"<urlset" in head or b"<sitemapindex" in head or head.startswith(b"<?xml"))


def _text(body: bytes, url: str, max_bytes: int) -> str:
    if body[:2] == b"\x1f\x8b":
        # Decompress in pieces so a small .gz cannot expand past the size limit.
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, max_bytes + 1)
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise BadResponse(f"{safe_url(url)} is not a readable gzip file: {exc}") from exc
        if len(body) > max_bytes:
            raise ResponseTooLarge(f"{safe_url(url)} unpacks to more than {max_bytes / 1e6:.1f} MB")
    return body.decode("utf-8", "replace")


def expand(fetcher: Fetcher, start: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Page URLs of the sitemap at `start`, following sitemap indexes.

    `old` and `new` map each sitemap URL to {"etag", "modified", "urls"}: an unchanged sitemap
    answers 304 and its remembered URLs are used.

    Raises:
        SourceError: the start sitemap itself could not be read (the source keeps its last good pages).
    """
    pages: list[str] = []
    queue, seen = [start], set[str]()
    while queue and len(seen) < MAX_SITEMAPS:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        remembered = old.get(url)
        try:
            response = fetcher.get(
                url,
                etag=remembered.get("etag") if remembered else None,
                last_modified=remembered.get("modified") if remembered else None,
            )
            if response.status == 304 and remembered:
                entry = remembered
            elif response.status == 200:
                entry = _parse(response, url, fetcher.policy.max_bytes)
            else:
                raise SourceUnavailable(f"{safe_url(url)} answered HTTP {response.status}")
        except SourceError:
            if url == start:
                raise
            log.warning("sitemap %s could not be read; its pages are left out this time", safe_url(url))
            continue
        new[url] = entry
        pages.extend(entry["urls"])
        queue.extend(entry.get("sitemaps", []))
    return list(dict.fromkeys(pages))


def _parse(response: Response, url: str, max_bytes: int) -> dict[str, Any]:
    tree = sitemap_from_str(_text(response.body, url, max_bytes))
    sitemaps = []
    if isinstance(tree, AbstractIndexSitemap):
        sitemaps = [normalize_url(s.url) for s in tree.sub_sitemaps]
    urls = [normalize_url(page.url) for page in tree.all_pages()] if not sitemaps else []
    return {
        "etag": response.header("etag"),
        "modified": response.header("last-modified"),
        "urls": urls,
        "sitemaps": sitemaps,
    }
