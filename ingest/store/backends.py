"""Creates and loads vector and keyword backends by name, as the manifest records them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ingest.store import bm25_index, faiss_index
from ingest.store.base import KeywordIndex, KeywordLoader, VectorIndex, VectorLoader

DEFAULT_VECTORS = faiss_index.NAME
DEFAULT_KEYWORDS = bm25_index.NAME

_VECTOR_MAKERS: dict[str, Callable[[int, Mapping[str, Any]], VectorIndex]] = {
    faiss_index.NAME: lambda dim, params: faiss_index.FaissVectorIndex(dim, faiss_index.FaissParams.from_dict(params)),
}
_VECTOR_LOADERS: dict[str, VectorLoader] = {faiss_index.NAME: faiss_index.FaissVectorIndex.load}
_KEYWORD_MAKERS: dict[str, Callable[[Mapping[str, Any]], KeywordIndex]] = {
    bm25_index.NAME: lambda params: bm25_index.BM25Index(**params),
}
_KEYWORD_LOADERS: dict[str, KeywordLoader] = {bm25_index.NAME: bm25_index.BM25Index.load}


class UnknownBackend(ValueError):
    """A manifest or setting names a backend this build does not have."""


def _pick(registry: Mapping[str, Any], name: str) -> Any:
    if name not in registry:
        raise UnknownBackend(f"unknown index backend {name!r}; known: {', '.join(sorted(registry))}")
    return registry[name]


def create_vector_index(dim: int, name: str = DEFAULT_VECTORS, params: Mapping[str, Any] | None = None) -> VectorIndex:
    return _pick(_VECTOR_MAKERS, name)(dim, params or {})  # type: ignore[no-any-return]


def create_keyword_index(name: str = DEFAULT_KEYWORDS, params: Mapping[str, Any] | None = None) -> KeywordIndex:
    return _pick(_KEYWORD_MAKERS, name)(params or {})  # type: ignore[no-any-return]


def load_vector_index(folder: Path, spec: Mapping[str, Any] | None = None) -> VectorIndex:
    """Load the vector index of a version from its manifest entry (None: the default backend)."""
    spec = spec or {"name": DEFAULT_VECTORS}
    return _pick(_VECTOR_LOADERS, spec["name"])(folder, spec.get("params") or {})  # type: ignore[no-any-return]


def load_keyword_index(folder: Path, spec: Mapping[str, Any] | None = None) -> KeywordIndex:
    spec = spec or {"name": DEFAULT_KEYWORDS}
    return _pick(_KEYWORD_LOADERS, spec["name"])(folder, spec.get("params") or {})  # type: ignore[no-any-return]


def load_indexes(folder: Path, backends: Mapping[str, Any]) -> tuple[VectorIndex, KeywordIndex]:
    """Load a version's two indexes as its manifest says they were built; manifests without it used the defaults."""
    return load_vector_index(folder, backends.get("vectors")), load_keyword_index(folder, backends.get("keywords"))


def describe(vectors: VectorIndex, keywords: KeywordIndex) -> dict[str, Any]:
    """What the manifest records under `backends`."""
    return {"vectors": vectors.describe(), "keywords": keywords.describe()}
