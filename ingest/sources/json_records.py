"""Records from a CRM or an in-house system: a JSON or CSV listing (HTTP endpoint or file) and a field mapping.

The `[source.fields]` table names, with dotted paths into each record, the fields that give an
item's id, title, text, url, updated time, groups and tags; docs/sources.md documents each one.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from ingest.sources.base import (
    BadResponse,
    ItemFailure,
    ResponseTooLarge,
    Sink,
    SourceConfigError,
    SourceItem,
    SourceMemory,
    SourceUnavailable,
    Unreadable,
)
from ingest.sources.config import SourceConfig, env_secret
from ingest.sources.fetch import Fetcher, FetchPolicy, get_json, safe_url

log = logging.getLogger(__name__)
FIELDS = ("id", "title", "text", "url", "updated", "groups", "tags")
TEXT_FORMATS = {"html": ".html", "markdown": ".md", "text": ".txt"}
MAX_PAGES = 1000


@dataclass(frozen=True)
class RecordsConfig:
    fields: dict[str, str]
    url: str | None = None
    path: Path | None = None
    format: str = "json"  # or "csv"
    records: str = ""  # dotted path to the list of records; "" = the document itself
    next: str = ""  # dotted path to the next page's URL
    text_format: str = "text"
    url_template: str = ""
    only: dict[str, str] = field(default_factory=dict)
    token_env: str | None = None
    policy: FetchPolicy = FetchPolicy()


def dig(record: Any, path: str) -> Any:
    """record["a"]["b"] for "a.b"; None when any step is missing."""
    value = record
    for part in path.split(".") if path else []:
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _strings(value: Any) -> tuple[str, ...]:
    """A list, or a comma- or semicolon-separated string, as a tuple of names."""
    if value is None or value == "":
        return ()
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return tuple(v.strip() for v in str(value).replace(";", ",").split(",") if v.strip())


class RecordsSource:
    kind = "json"

    def __init__(
        self, name: str, config: RecordsConfig, groups: tuple[str, ...] = (), tags: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.config = config
        self.groups = groups
        self.tags = tags

    @classmethod
    def from_config(cls, config: SourceConfig) -> RecordsSource:
        options = config.options
        url, path = options.text("url", None), options.text("path", None)
        if (url is None) == (path is None):
            raise SourceConfigError(f"{options.where}: give either `url` (an HTTP endpoint) or `path` (a file)")
        fields = options.mapping("fields")
        unknown = sorted(set(fields) - set(FIELDS))
        if unknown or not {"id", "text"} <= set(fields):
            raise SourceConfigError(
                f"{options.where}: [source.fields] needs `id` and `text` and may have {', '.join(FIELDS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        default_format = "csv" if (path or url or "").lower().split("?")[0].endswith(".csv") else "json"
        records = RecordsConfig(
            fields=fields,
            url=url,
            path=(config.base_dir / Path(path).expanduser()) if path else None,
            format=options.text("format", default_format),
            records=options.text("records", ""),
            next=options.text("next", ""),
            text_format=options.text("text_format", "text"),
            url_template=options.text("url_template", ""),
            only=options.mapping("only", {}),
            token_env=options.text("token_env", None),
            policy=FetchPolicy(
                allow_private=options.flag("allow_private", False),
                timeout_s=options.number("timeout_s", 30.0),
                max_bytes=options.integer("max_bytes", 50_000_000, minimum=1),
                delay_s=options.number("delay_s", 0.0),
            ),
        )
        options.finish()
        if records.format not in ("json", "csv"):
            raise SourceConfigError(f"{options.where}: `format` must be json or csv")
        if records.text_format not in TEXT_FORMATS:
            raise SourceConfigError(f"{options.where}: `text_format` must be one of {', '.join(TEXT_FORMATS)}")
        return cls(config.name, records, config.groups, config.tags)

    def collect(self, memory: SourceMemory, sink: Sink) -> dict[str, Any]:
        for position, record in enumerate(self._records(), start=1):
            if all(str(dig(record, k)) == v for k, v in self.config.only.items()):
                self._offer(position, record, sink)
        return {}

    def _records(self) -> Iterator[Any]:
        config = self.config
        if config.path is not None:
            yield from self._parse(self._read_file(config.path), str(config.path))
            return
        assert config.url is not None
        headers = {"Authorization": f"Bearer {env_secret(config.token_env, self.name)}"} if config.token_env else {}
        origin = urlsplit(config.url)[:2]
        url, seen = config.url, set()
        with Fetcher(config.policy, headers, credentials_for=config.url) as fetcher:
            for _ in range(MAX_PAGES):
                seen.add(url)
                if config.format == "csv":
                    response = fetcher.get(url, accept="text/csv")
                    if response.status != 200:
                        raise SourceUnavailable(f"{safe_url(url)} answered HTTP {response.status}")
                    yield from self._parse(response.body, url)
                    return
                page = get_json(fetcher, url)
                yield from self._listed(page, url)
                following = dig(page, config.next) if config.next else None
                if not following:
                    return
                url = urljoin(url, str(following))
                if urlsplit(url)[:2] != origin or url in seen:
                    raise BadResponse(f"{safe_url(config.url)} points its next page at {safe_url(url)}")
        raise SourceUnavailable(f"{safe_url(config.url)} has more than {MAX_PAGES} pages")

    def _read_file(self, path: Path) -> bytes:
        try:
            if path.stat().st_size > self.config.policy.max_bytes:
                raise ResponseTooLarge(f"{path} is over the {self.config.policy.max_bytes / 1e6:.1f} MB limit")
            return path.read_bytes()
        except OSError as exc:
            raise SourceUnavailable(f"{path} could not be read: {exc.strerror or exc}") from exc

    def _parse(self, data: bytes, where: str) -> Iterator[Any]:
        if self.config.format == "csv":
            text = data.decode("utf-8-sig", "replace")
            yield from csv.DictReader(io.StringIO(text))
            return
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise BadResponse(f"{where} is not JSON: {exc}") from exc
        yield from self._listed(document, where)

    def _listed(self, document: Any, where: str) -> list[Any]:
        records = dig(document, self.config.records)
        if not isinstance(records, list):
            path = self.config.records or "the top level"
            raise BadResponse(f"{safe_url(where)}: {path} is not a list of records")
        return records

    def _offer(self, position: int, record: Any, sink: Sink) -> None:
        fields = self.config.fields
        values = {name: dig(record, path) for name, path in fields.items()} if isinstance(record, dict) else {}
        item_id = str(values.get("id") or "").strip()
        text = values.get("text")
        if not item_id or not isinstance(text, str):
            label = item_id or f"record {position}"
            sink.fail(
                ItemFailure(label, Unreadable(f"{label} has no `{fields['id']}` or no text in `{fields['text']}`"))
            )
            return
        title = str(values.get("title") or "").strip() or None
        url = str(values.get("url") or "").strip() or None
        if url is None and self.config.url_template:
            try:
                url = self.config.url_template.format_map({**record, "id": item_id})
            except (KeyError, ValueError, IndexError):
                url = None
        groups = _strings(values.get("groups")) or self.groups
        tags = tuple(dict.fromkeys([*self.tags, *_strings(values.get("tags"))]))
        content = self._content(title, text)
        updated = values.get("updated")
        version = str(updated) if updated else hashlib.sha256(content + repr((url, groups)).encode()).hexdigest()
        fmt = TEXT_FORMATS[self.config.text_format]
        sink.add(SourceItem(item_id, version, fmt, title, url, content, tags=tags, groups=groups))

    def _content(self, title: str | None, text: str) -> bytes:
        if self.config.text_format == "html":
            head = f"<title>{html.escape(title)}</title>" if title else ""
            return f"<html><head>{head}</head><body><main>{text}</main></body></html>".encode()
        return text.encode()
