"""What every source kind shares: the item it yields, the memory it gets back, and its typed errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class SourceError(Exception):
    """A source, or one of its items, could not be read. `reason` is for machines, the message for people."""

    reason = "source_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OutsideFolder(SourceError):
    """A folder item is a link to a file outside the folder: never indexed, never served."""

    reason = "outside_folder"


class Unreadable(SourceError):
    """One item could not be read (a file that vanished mid-scan, a malformed record)."""

    reason = "unreadable"


class SourceConfigError(SourceError):
    """The sources file is wrong: a missing key, an unknown kind, a bad schedule."""

    reason = "bad_config"


class SourceUnavailable(SourceError):
    """The server is down, refuses connections or answers 5xx: keep the source's last good items."""

    reason = "unavailable"


class SourceTimeout(SourceUnavailable):
    reason = "timeout"


class SourceUnauthorized(SourceError):
    """401 or 403: the credentials are missing, wrong or expired."""

    reason = "unauthorized"


class BlockedAddress(SourceError):
    """The host resolves to a loopback, private or link-local address and the source does not allow it."""

    reason = "blocked_address"


class ResponseTooLarge(SourceError):
    reason = "too_large"


class NotFound(SourceError):
    """404 or 410: the item is gone and leaves the index."""

    reason = "not_found"


class BadResponse(SourceError):
    """The server answered, but not with something we can read (bad JSON, an unexpected status)."""

    reason = "bad_response"


class DisallowedByRobots(SourceError):
    reason = "robots_disallowed"


@dataclass(frozen=True)
class SourceItem:
    """One document a source offers.

    `content` is None when the source knows the item is unchanged since `version` was indexed
    (an HTTP 304, an article the incremental listing did not return); `path` is set instead of
    content for files on disk. `format` is the loader suffix (".html", ".md", ".txt", ".pdf"...).
    """

    id: str
    version: str
    format: str
    title: str | None = None
    url: str | None = None
    content: bytes | None = None
    path: Path | None = None
    tags: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    stat: str = ""  # files: the stat signature that lets the next scan skip hashing (ingest/sources/folder.py)


@dataclass
class ItemFailure:
    """An item that exists but could not be read this time; its last good version stays indexed."""

    id: str
    error: SourceError


@dataclass
class SourceMemory:
    """What the index remembers of a source: versions of the items it holds, and the source's own state."""

    known: dict[str, str] = field(default_factory=dict)  # item id -> version indexed
    state: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, str] = field(default_factory=dict)  # item id -> stat signature recorded with its version


class Sink(Protocol):
    """Where a source delivers items as it reads them, so a large site never sits in memory whole."""

    def expect(self, total: int) -> None:
        """How many items are coming, when the source knows (for progress bars)."""

    def add(self, item: SourceItem) -> None: ...

    def fail(self, failure: ItemFailure) -> None: ...


class Source(Protocol):
    """A kind of source. `collect` delivers every item the source has now and returns its new state.

    Raises:
        SourceError: the source as a whole could not be read (server down, 401, timeouts); the
            sync then keeps every item it had from this source.
    """

    name: str
    kind: str

    def collect(self, memory: SourceMemory, sink: Sink) -> dict[str, Any]: ...
