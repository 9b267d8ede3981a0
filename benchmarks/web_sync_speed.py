"""Web source sync speed: a 500-page local site crawled cold, re-crawled unchanged, and with 1% of pages changed.

Usage: .venv/bin/python -m benchmarks.web_sync_speed [--pages 500] [--fake]
Serves a generated help site (sitemap, robots.txt, ETags, links between pages) from 127.0.0.1 and
times `sync_sources` with a web source against it, with the CLI's sync options and a new, empty
embedding cache. Target: the unchanged re-crawl at least 10x faster than the first crawl, with
nothing re-embedded. --fake swaps the model for a deterministic hash embedder (embedding then costs
nothing, so the first crawl is as fast as it can be and the ratio is the harshest).
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from assistant.components import build_sync_options
from assistant.settings import Settings
from benchmarks.machine import machine_info
from benchmarks.reindex_speed import Setup, fake_setup, real_setup
from ingest.embedding_cache import EmbeddingCache
from ingest.sources.fetch import FetchPolicy
from ingest.sources.web import WebConfig, WebSource
from ingest.store.layout import IndexStore
from ingest.sync import SyncOptions, sync_sources

TARGET_RATIO = 10.0
SENTENCES = [
    "You can return any item within 30 days of delivery for a full refund.",
    "Toimitamme tilaukset Postin noutopisteisiin kahdessa tai neljässä arkipäivässä.",
    "Akceptujemy płatności BLIK, karty płatnicze oraz przelewy bankowe.",
    "ในช่วงเทศกาลสงกรานต์ การจัดส่งอาจล่าช้าสามถึงห้าวันทำการ",
    "Gift cards are valid for 24 months and can be used in every Nordvik store.",
    "Reklamację uszkodzonego czajnika przyjmujemy w ciągu 24 miesięcy od zakupu.",
    "Asiakas voi perua tilauksen maksutta ennen kuin se on lähetetty varastolta.",
    "Agents should escalate a complaint to the duty manager after two failed contacts.",
]


def page_html(n: int, pages: int, revision: int) -> bytes:
    """Page n: three sections of sentences picked by n, links to the next pages and home."""
    rng = int(hashlib.sha256(str(n).encode()).hexdigest(), 16)
    sections = []
    for s in range(3):
        picked = [SENTENCES[(rng >> (4 * (s * 4 + k))) % len(SENTENCES)] for k in range(4)]
        sections.append(f"<h2>Section {s + 1} of article {n}</h2><p>Article {n}, part {s + 1}. {' '.join(picked)}</p>")
    if revision:
        sections.append(f"<p>Revised: article {n} now ships free in revision {revision}.</p>")
    links = "".join(f'<a href="/articles/{(n + k) % pages}">Article {(n + k) % pages}</a>' for k in (1, 7, 31))
    return (
        f"<!doctype html><html lang='en'><head><title>Article {n}</title></head><body>"
        f"<nav><a href='/'>Home</a>{links}</nav><main><h1>Article {n}</h1>{''.join(sections)}</main>"
        "<footer>Nordvik Home</footer></body></html>"
    ).encode()


class LocalSite:
    """The generated site on 127.0.0.1 with ETags; `revisions` changes pages while it runs."""

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.revisions: dict[int, int] = {}
        self.statuses: Counter[int] = Counter()
        self.bytes_sent = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                status, kind, body = site.answer(self.path)
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    status, body = 304, b""
                site.statuses[status] += 1
                site.bytes_sent += len(body)
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/robots.txt":
            return 200, "text/plain", b"User-agent: *\nAllow: /\n"
        if path == "/sitemap.xml":
            locs = "".join(f"<url><loc>{self.url}/articles/{n}</loc></url>" for n in range(self.pages))
            xml = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
            return 200, "application/xml", xml.encode()
        if path.startswith("/articles/") and path[10:].isdigit() and int(path[10:]) < self.pages:
            n = int(path[10:])
            return 200, "text/html; charset=utf-8", page_html(n, self.pages, self.revisions.get(n, 0))
        return 404, "text/plain", b"no such page"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Row:
    step: str
    seconds: float
    requests: int
    not_modified: int
    kilobytes: float
    changed: int
    embedded: int
    chunks: int


def _timed(step: str, site: LocalSite, source: WebSource, store: IndexStore, setup: Setup, cache, options) -> Row:
    site.statuses.clear()
    site.bytes_sent = 0
    started = time.perf_counter()
    report = sync_sources([source], store, setup.embedder, cache, options)
    seconds = time.perf_counter() - started
    part = report.sources[0]
    if part.error is not None or part.failed:
        raise SystemExit(f"{step}: the sync failed: {part.error or part.failed[:3]}")
    return Row(
        step,
        seconds,
        sum(site.statuses.values()),
        site.statuses[304],
        site.bytes_sent / 1000,
        len(part.added) + len(part.updated) + len(part.removed),
        part.embedded,
        report.chunks,
    )


def measure(pages: int, setup: Setup, options: SyncOptions, work: Path) -> list[Row]:
    site = LocalSite(pages)
    try:
        config = WebConfig(
            start=(f"{site.url}/sitemap.xml",),
            max_pages=pages,
            max_depth=1,
            policy=FetchPolicy(allow_private=True, delay_s=0),
        )
        source = WebSource("site", config)
        store = IndexStore(work / "index")
        cache = EmbeddingCache(work / "embeddings.sqlite")
        try:
            rows = [_timed("first crawl, empty index and embedding cache", site, source, store, setup, cache, options)]
            rows.append(_timed("re-crawl, site unchanged", site, source, store, setup, cache, options))
            changed = max(1, pages // 100)
            for n in range(0, pages, pages // changed)[:changed]:
                site.revisions[n] = 1
            share = changed / pages
            rows.append(
                _timed(f"re-crawl, {changed} pages changed ({share:.0%})", site, source, store, setup, cache, options)
            )
        finally:
            cache.close()
        return rows
    finally:
        site.close()


def render(rows: list[Row], pages: int) -> str:
    lines = [
        "| step | requests | 304 | KB sent | pages changed | chunks embedded | chunks in index | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.step} | {r.requests} | {r.not_modified} | {r.kilobytes:.0f} | {r.changed} | {r.embedded} "
            f"| {r.chunks} | {r.seconds:.2f} |"
        )
    first, unchanged = rows[0], rows[1]
    ratio = first.seconds / max(unchanged.seconds, 1e-9)
    met = ratio >= TARGET_RATIO and unchanged.embedded == 0
    lines += [
        "",
        f"Target: unchanged re-crawl of {pages} pages at least {TARGET_RATIO:.0f}x faster than the first crawl, "
        f"nothing re-embedded: **{'met' if met else 'NOT met'}** ({ratio:.1f}x, {unchanged.embedded} embedded).",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500, help="pages in the generated site")
    parser.add_argument("--fake", action="store_true", help="deterministic fake embedder instead of the model")
    args = parser.parse_args(argv)
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="web-sync-speed-") as tmp:
        work = Path(tmp)
        setup = (fake_setup if args.fake else real_setup)(settings, work)
        print(f"Machine: {machine_info()}  ")
        print(f"Site: {args.pages} generated pages on 127.0.0.1 (sitemap, robots.txt, ETags), no request delay  ")
        print(f"Embedder: {setup.description}; embedding cache: a new SQLite file in a temp folder\n")
        print(render(measure(args.pages, setup, build_sync_options(settings), work), args.pages))


if __name__ == "__main__":
    main()
