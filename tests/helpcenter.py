"""A fake Zendesk Help Center on a local Site: the article listing, incremental export and attachments shapes."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

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

        path = f"/api/v2/help_center/articles/{article_id}/attachments.json"
        self.site.handlers[path] = self._attachment_lister(article_id)

    def update(self, article_id: int, **fields) -> None:
        self.clock = max(self.clock + 1, int(time.time()))
        self.articles[article_id].update(fields, updated_at=self._time(self.clock), _changed=self.clock)

    @staticmethod
    def _time(epoch: int) -> str:
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
            return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

        return handle

    def _attachment_lister(self, article_id: int):
        def handle(query, headers):
            body = {"article_attachments": self.attachments.get(article_id, [])}
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
