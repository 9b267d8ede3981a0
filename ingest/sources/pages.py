"""What a crawler needs from a fetched HTML page: its same-site links, its canonical URL, whether to index it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import lxml.etree
import lxml.html

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageLinks:
    links: tuple[str, ...]
    canonical: str | None
    noindex: bool
    nofollow: bool


def normalize_url(url: str) -> str:
    """One spelling per page: no fragment, lower-case scheme and host, no default port, '/' for an empty path."""
    url, _ = urldefrag(url.strip())
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def site_of(url: str) -> str:
    """The host (with a non-default port) a URL belongs to; http and https of one host are one site."""
    return urlsplit(normalize_url(url)).netloc


def read_links(body: bytes, url: str) -> PageLinks:
    """Links, canonical URL and robots meta of an HTML page; an unparsable page has none of them."""
    try:
        root = lxml.html.fromstring(body, base_url=url)
    except (lxml.etree.ParserError, ValueError) as exc:
        log.debug("%s: no links read: %s", url, exc)
        return PageLinks((), None, False, False)
    base = next(iter(root.xpath("//base/@href")), None)
    base_url = urljoin(url, str(base)) if base else url
    robots = " ".join(str(v) for v in root.xpath("//meta[translate(@name,'ROBTS','robts')='robots']/@content")).lower()
    links = []
    for anchor in root.xpath("//a[@href]"):
        if "nofollow" in str(anchor.get("rel", "")).lower():
            continue
        target = normalize_url(urljoin(base_url, str(anchor.get("href"))))
        if target.startswith(("http://", "https://")):
            links.append(target)
    canonical = next(iter(root.xpath("//link[translate(@rel,'CANOIL','canoil')='canonical']/@href")), None)
    return PageLinks(
        tuple(dict.fromkeys(links)),
        normalize_url(urljoin(base_url, str(canonical))) if canonical else None,
        "noindex" in robots,
        "nofollow" in robots,
    )
