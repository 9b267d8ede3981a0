"""The small interfaces every vector and keyword backend implements (one shared contract suite checks them).

Code outside ingest/store uses only these protocols and ingest.store.backends, never a concrete class,
so another backend is one new file, one registry entry and one contract test subclass.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant import defaults
from assistant.exceptions import AssistantError


@dataclass(frozen=True)
class Connection:
    """Where a server-backed index lives: runtime settings, never recorded in a manifest (it holds a key).

    root: the index folder; an embedded engine (Qdrant's local mode) keeps its files under it.
    url, api_key: the server, when one is configured. name: what a server publishes the live version
        under (Qdrant: the alias; collections are `<name>_<version>`), one per index folder on a shared server.
    shards, replicas: how a server spreads and copies each new collection (ignored by embedded engines).
    """

    root: Path
    url: str = ""
    api_key: str = ""
    name: str = defaults.QDRANT_COLLECTION
    shards: int = defaults.QDRANT_SHARDS
    replicas: int = defaults.QDRANT_REPLICAS


class BackendUnavailable(AssistantError):
    """A server-backed index cannot be reached or opened (down, wrong key, storage held by another process)."""

    status = 503
    code = "index_unavailable"


class BackendDataMissing(RuntimeError):
    """A version's data on a server is gone or incomplete (a dropped collection, a partial copy)."""


class VectorIndex(Protocol):
    """Inner-product search over L2-normalised vectors keyed by int64 ids."""

    @property
    def dim(self) -> int: ...

    @property
    def rows_in_segments(self) -> bool:
        """Whether this index is nothing but its vectors, rebuilt at load from the rows the segments store
        (FAISS flat): its versions then save no file of their own. False when the index holds more than
        the rows (IVF's lists, trained over all of them) or keeps them elsewhere (a server)."""
        ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def label(self, ids: np.ndarray, labels: Sequence[Mapping[str, Any]]) -> None:
        """Attach each id's filter fields (groups, lang, source, doc_id, version); id-only backends ignore them."""
        ...

    def fork(self, version: str) -> VectorIndex:
        """The index a new `version` is written into, holding this one's vectors; its edits never reach
        the version this one serves (FAISS edits itself in memory; a server copies into a new collection)."""
        ...

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...

    def search_many(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search` for each row of `queries`, unfiltered, in one call: an ingest's calibration asks the
        whole off-topic bank at once (180 questions over 21,252 flat vectors: 0.22 s, one at a time 0.56 s)."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray: ...

    def count(self) -> int: ...

    def save(self, folder: Path) -> list[Path]: ...

    def describe(self) -> dict[str, Any]:
        """Backend name and parameters, recorded in the manifest so a version is loaded as it was built."""
        ...


class KeywordIndex(Protocol):
    """Term-based ranking over analysed token lists keyed by int64 ids."""

    def add(self, ids: np.ndarray, terms: list[list[str]]) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(
        self, terms: list[str], k: int, allowed: np.ndarray | None = None, collection: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def max_score(self, terms: list[str], collection: np.ndarray | None = None) -> float: ...

    def warm(self) -> None:
        """Build now whatever the first search would otherwise build (the service calls it before a swap)."""
        ...

    def count(self) -> int: ...

    def save(self, folder: Path) -> list[Path]: ...

    def describe(self) -> dict[str, Any]: ...


class VersionCatalog(Protocol):
    """The versions a backend keeps outside the index folder, published and collected with the folder's."""

    def publish(self, version: str) -> None:
        """Make `version` the one the server's readers see, in one atomic step."""
        ...

    def live(self) -> str | None: ...

    def holds(self, version: str, count: int) -> bool:
        """Whether `version`'s data is all on the backend (`count` vectors): a re-sync that finds
        nothing changed in its sources still rebuilds a version whose collection was dropped."""
        ...

    def collect(self, keep: Collection[str]) -> None:
        """Drop every version not in `keep` (collected ones, and the partial ones of killed ingests)."""
        ...


class VectorLoader(Protocol):
    def __call__(self, folder: Path, params: Mapping[str, Any], connection: Connection | None) -> VectorIndex: ...


class KeywordLoader(Protocol):
    def __call__(self, folder: Path, params: Mapping[str, Any]) -> KeywordIndex: ...
