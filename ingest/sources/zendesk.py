"""Zendesk Help Center articles in the configured locales, with their attachments, each opening at its html_url.

A full listing (`/api/v2/help_center/{locale}/articles.json`, paged by `next_page`) runs on the first
sync and every `full_every_hours`; it is what notices deleted and archived articles, which simply no
longer appear. In between, with credentials, the incremental export
(`/api/v2/help_center/incremental/articles?start_time=`) returns only what changed since the last run.
"""

from __future__ import annotations

import base64
import html
import logging
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode, urlsplit

from ingest.sources.base import (
    BadResponse,
    ItemFailure,
    Sink,
    SourceConfigError,
    SourceError,
    SourceItem,
    SourceMemory,
    SourceUnavailable,
)
from ingest.sources.config import SourceConfig, env_secret
from ingest.sources.fetch import Fetcher, FetchPolicy, get_json, safe_url

log = logging.getLogger(__name__)
MAX_PAGES = 1000  # of any one listing: a server whose next_page never ends cannot hold a sync forever
ATTACHMENT_FORMATS = (".pdf", ".docx", ".txt", ".md", ".html", ".htm")
# Changes made during a listing must be seen by the next incremental run: start it a little earlier.
CURSOR_MARGIN_S = 60


@dataclass(frozen=True)
class ZendeskConfig:
    url: str
    locales: tuple[str, ...]
    sections: tuple[str, ...] = ()
    attachments: bool = True
    full_every_s: float = 86400.0
    email: str | None = None
    token_env: str | None = None
    policy: FetchPolicy = FetchPolicy()


def article_html(article: dict[str, Any]) -> bytes:
    """The article as a page for the HTML loader: its title, then its body in <main>."""
    title = html.escape(str(article.get("title") or ""))
    locale = html.escape(str(article.get("locale") or ""))
    body = str(article.get("body") or "")
    return f'<html lang="{locale}"><head><title>{title}</title></head><body><main>{body}</main></body></html>'.encode()


class ZendeskSource:
    kind = "zendesk"

    def __init__(
        self, name: str, config: ZendeskConfig, groups: tuple[str, ...] = (), tags: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.config = config
        self.groups = groups
        self.tags = tags

    @classmethod
    def from_config(cls, config: SourceConfig) -> ZendeskSource:
        options = config.options
        url = options.text("url", "")
        subdomain = options.text("subdomain", "")
        if bool(url) == bool(subdomain):
            raise SourceConfigError(f"{options.where}: give either `subdomain` or `url` (the Help Center's address)")
        url = (url or f"https://{subdomain}.zendesk.com").rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise SourceConfigError(f"{options.where}: `url` must start with https://")
        policy = FetchPolicy(
            allow_private=options.flag("allow_private", False),
            timeout_s=options.number("timeout_s", 30.0),
            max_bytes=options.integer("max_bytes", 20_000_000, minimum=1),
            delay_s=options.number("delay_s", 0.2),
        )
        zendesk = ZendeskConfig(
            url=url,
            locales=options.texts("locales", ("en-us",)),
            sections=options.ids("sections"),
            attachments=options.flag("attachments", True),
            full_every_s=options.number("full_every_hours", 24.0) * 3600,
            email=options.text("email", None),
            token_env=options.text("token_env", None),
            policy=policy,
        )
        options.finish()
        if not zendesk.locales:
            raise SourceConfigError(f"{options.where}: `locales` must name at least one locale")
        return cls(config.name, zendesk, config.groups, config.tags)

    def _headers(self) -> dict[str, str]:
        config = self.config
        if not config.token_env:
            return {}
        token = env_secret(config.token_env, f"source {self.name!r}")
        if config.email:
            # Zendesk API token authentication: "{email}/token:{token}", Basic.
            pair = base64.b64encode(f"{config.email}/token:{token}".encode()).decode()
            return {"Authorization": f"Basic {pair}"}
        return {"Authorization": f"Bearer {token}"}

    def collect(self, memory: SourceMemory, sink: Sink) -> dict[str, Any]:
        config, state = self.config, memory.state
        started = time.time()
        previous: dict[str, dict[str, Any]] = state.get("articles", {})
        articles = dict(previous)
        cursor = state.get("cursor")
        full = (
            not config.token_env
            or cursor is None
            or started - float(state.get("full_at", 0)) >= config.full_every_s
            or not all(k in memory.known for k in previous)
        )
        with Fetcher(config.policy, self._headers(), credentials_for=config.url) as fetcher:
            if full:
                changed = self._full_listing(fetcher)
                articles = {}
                cursor = int(started) - CURSOR_MARGIN_S
            else:
                changed, cursor = self._incremental(fetcher, int(cursor or 0))
            for item_id, article in changed.items():
                if article.get("draft") or (config.sections and str(article.get("section_id")) not in config.sections):
                    articles.pop(item_id, None)
                    continue
                articles[item_id] = {
                    "version": str(article.get("updated_at")),
                    "title": article.get("title"),
                    "url": article.get("html_url"),
                    "locale": article.get("locale"),
                    "labels": list(article.get("label_names") or []),
                    "attachments": previous.get(item_id, {}).get("attachments", []),
                }
            sink.expect(len(articles))
            for item_id, entry in sorted(articles.items()):
                fresh = changed.get(item_id)
                self._offer(fetcher, sink, item_id, entry, fresh, memory)
        new_state = {"cursor": cursor, "articles": articles}
        new_state["full_at"] = started if full else state.get("full_at", started)
        return new_state

    def _pages(self, fetcher: Fetcher, url: str) -> Any:
        """Each page of a listing, following `next_page` on the same server."""
        origin = urlsplit(self.config.url)[:2]
        seen = set()
        for _ in range(MAX_PAGES):
            if url in seen:
                return
            seen.add(url)
            page = get_json(fetcher, url)
            if not isinstance(page, dict) or not isinstance(page.get("articles", []), list):
                raise BadResponse(f"{safe_url(url)} is not a Help Center article listing")
            yield page
            following = page.get("next_page")
            if not following or page.get("end_of_stream"):
                return
            if urlsplit(str(following))[:2] != origin:
                raise BadResponse(f"{safe_url(url)} points its next page at another server")
            url = str(following)
        raise SourceUnavailable(f"{safe_url(url)} has more than {MAX_PAGES} pages")

    def _full_listing(self, fetcher: Fetcher) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for locale in self.config.locales:
            url = f"{self.config.url}/api/v2/help_center/{locale}/articles.json?per_page=100"
            for page in self._pages(fetcher, url):
                for article in page.get("articles", []):
                    found[f"{article.get('locale') or locale}/{article['id']}"] = article
        return found

    def _incremental(self, fetcher: Fetcher, cursor: int) -> tuple[dict[str, dict[str, Any]], int]:
        query = urlencode({"start_time": cursor})
        url = f"{self.config.url}/api/v2/help_center/incremental/articles?{query}"
        found: dict[str, dict[str, Any]] = {}
        end = cursor
        for page in self._pages(fetcher, url):
            for article in page.get("articles", []):
                if article.get("locale") in self.config.locales:
                    found[f"{article['locale']}/{article['id']}"] = article
            if isinstance(page.get("end_time"), int):
                end = max(end, page["end_time"])
        return found, end

    def _offer(
        self,
        fetcher: Fetcher,
        sink: Sink,
        item_id: str,
        entry: dict[str, Any],
        fresh: dict[str, Any] | None,
        memory: SourceMemory,
    ) -> None:
        tags = tuple(dict.fromkeys([*self.tags, *entry["labels"]]))
        changed = fresh is not None and memory.known.get(item_id) != entry["version"]
        sink.add(
            SourceItem(
                id=item_id,
                version=entry["version"],
                format=".html",
                title=entry["title"],
                url=entry["url"],
                content=article_html(fresh) if fresh is not None else None,
                tags=tags,
                groups=self.groups,
            )
        )
        if not self.config.attachments:
            return
        if changed and fresh is not None:
            try:
                entry["attachments"] = self._attachments(fetcher, fresh)
            except SourceError as exc:
                sink.fail(ItemFailure(f"{item_id}/attachments", exc))
        for attachment in entry["attachments"]:
            self._offer_attachment(fetcher, sink, item_id, attachment, tags, memory)

    def _attachments(self, fetcher: Fetcher, article: dict[str, Any]) -> list[dict[str, Any]]:
        url = f"{self.config.url}/api/v2/help_center/articles/{article['id']}/attachments.json"
        listed = get_json(fetcher, url).get("article_attachments", [])
        kept = []
        for attachment in listed:
            name = str(attachment.get("file_name") or "")
            if attachment.get("inline") or PurePosixPath(name).suffix.lower() not in ATTACHMENT_FORMATS:
                continue
            kept.append(
                {
                    "id": str(attachment["id"]),
                    "name": name,
                    "url": attachment.get("content_url"),
                    "version": f"{attachment['id']}:{attachment.get('size')}",
                }
            )
        return kept

    def _offer_attachment(
        self,
        fetcher: Fetcher,
        sink: Sink,
        article_id: str,
        attachment: dict[str, Any],
        tags: tuple[str, ...],
        memory: SourceMemory,
    ) -> None:
        item_id = f"{article_id}/attachments/{attachment['id']}"
        content = None
        if memory.known.get(item_id) != attachment["version"]:
            try:
                response = fetcher.get(str(attachment["url"]))
                if response.status != 200:
                    raise SourceUnavailable(f"{safe_url(str(attachment['url']))} answered HTTP {response.status}")
                content = response.body
            except SourceError as exc:
                sink.fail(ItemFailure(item_id, exc))
                return
        sink.add(
            SourceItem(
                id=item_id,
                version=attachment["version"],
                format=PurePosixPath(attachment["name"]).suffix.lower(),
                title=attachment["name"],
                url=attachment["url"],
                content=content,
                tags=tags,
                groups=self.groups,
            )
        )
