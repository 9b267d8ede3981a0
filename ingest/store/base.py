"""The small interfaces every vector and keyword backend implements (one shared contract suite checks them).

Code outside ingest/store uses only these protocols and ingest.store.backends, never a concrete class,
so another backend is one new file, one registry entry and one contract test subclass.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np


class VectorIndex(Protocol):
    """Inner-product search over L2-normalised vectors keyed by int64 ids."""

    @property
    def dim(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> None: ...

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...

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


class VectorLoader(Protocol):
    def __call__(self, folder: Path, params: Mapping[str, Any]) -> VectorIndex: ...


class KeywordLoader(Protocol):
    def __call__(self, folder: Path, params: Mapping[str, Any]) -> KeywordIndex: ...
