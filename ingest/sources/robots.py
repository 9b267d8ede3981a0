"""robots.txt per site (Protego): which URLs we may fetch and how long to wait between requests."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from protego import Protego

from ingest.sources.base import BlockedAddress, SourceError, SourceUnavailable
from ingest.sources.fetch import USER_AGENT, Fetcher, safe_url

log = logging.getLogger(__name__)
# A crawl-delay longer than this would stall a sync for hours; we wait this long at most.
MAX_CRAWL_DELAY_S = 30.0


class Robots:
    """Fetches each site's robots.txt once per crawl. 4xx: everything allowed; 5xx or unreachable: nothing."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._rules: dict[str, Protego | None] = {}

    def _rules_for(self, url: str) -> Protego | None:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            robots_url = origin + "/robots.txt"
            try:
                response = self.fetcher.get(robots_url)
            except BlockedAddress:
                raise
            except SourceError as exc:
                raise SourceUnavailable(f"{safe_url(robots_url)} could not be read: {exc.message}") from exc
            if response.status >= 500:
                raise SourceUnavailable(f"{safe_url(robots_url)} answered HTTP {response.status}; crawling later")
            if response.status >= 400:
                self._rules[origin] = None
            else:
                rules = Protego.parse(response.body.decode("utf-8", "replace"))
                delay = rules.crawl_delay(USER_AGENT)
                if delay:
                    self.fetcher.delay_s = max(self.fetcher.delay_s, min(float(delay), MAX_CRAWL_DELAY_S))
                self._rules[origin] = rules
        return self._rules[origin]

    def allowed(self, url: str) -> bool:
        """Raises SourceUnavailable when the site's robots.txt cannot be read (Google's rule for 5xx)."""
        rules = self._rules_for(url)
        return rules is None or bool(rules.can_fetch(url, USER_AGENT))
