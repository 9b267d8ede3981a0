"""Creates and loads vector and keyword backends by name, as the manifest records them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ingest.store import bm25_index, faiss_index
from ingest.store.base import Connection, KeywordIndex, KeywordLoader, VectorIndex, VectorLoader, VersionCatalog

DEFAULT_VECTORS = faiss_index.NAME
DEFAULT_KEYWORDS = bm25_index.NAME
QDRANT = "qdrant"
VECTOR_BACKENDS = (faiss_index.NAME, QDRANT)


def _qdrant() -> ModuleType:
    """Imported on first use: qdrant-client takes 0.6 s to import, which FAISS-only processes never pay."""
    from ingest.store import qdrant_index

    return qdrant_index


_VECTOR_MAKERS: dict[str, Callable[[int, Mapping[str, Any], Connection | None], VectorIndex]] = {
    faiss_index.NAME: lambda dim, params, _: faiss_index.FaissVectorIndex(
        dim, faiss_index.FaissParams.from_dict(params)
    ),
    QDRANT: lambda dim, _, connection: _qdrant().QdrantVectorIndex(dim, _needs(connection)),
}
_VECTOR_LOADERS: dict[str, VectorLoader] = {
    faiss_index.NAME: faiss_index.FaissVectorIndex.load,
    QDRANT: lambda folder, params, connection: _qdrant().QdrantVectorIndex.load(folder, params, _needs(connection)),
}
_KEYWORD_MAKERS: dict[str, Callable[[Mapping[str, Any]], KeywordIndex]] = {
    bm25_index.NAME: lambda params: bm25_index.BM25Index(**params),
}
_KEYWORD_LOADERS: dict[str, KeywordLoader] = {bm25_index.NAME: bm25_index.BM25Index.load}
# Backends that keep versions outside the index folder, published and collected with it.
_CATALOGS: dict[str, Callable[[Connection], VersionCatalog]] = {
    QDRANT: lambda connection: _qdrant().QdrantCatalog(connection),
}


class UnknownBackend(ValueError):
    """A manifest or setting names a backend this build does not have."""


def _needs(connection: Connection | None) -> Connection:
    if connection is None:
        raise ValueError("a server-backed index needs a Connection (the index folder, or a server URL)")
    return connection


def _pick(registry: Mapping[str, Any], name: str) -> Any:
    if name not in registry:
        raise UnknownBackend(f"unknown index backend {name!r}; known: {', '.join(sorted(registry))}")
    return registry[name]


def create_vector_index(
    dim: int, name: str = DEFAULT_VECTORS, params: Mapping[str, Any] | None = None, connection: Connection | None = None
) -> VectorIndex:
    """A new, empty vector index; `params` are the FAISS parameters (other backends ignore them)."""
    return _pick(_VECTOR_MAKERS, name)(dim, params or {}, connection)  # type: ignore[no-any-return]


def create_keyword_index(name: str = DEFAULT_KEYWORDS, params: Mapping[str, Any] | None = None) -> KeywordIndex:
    return _pick(_KEYWORD_MAKERS, name)(params or {})  # type: ignore[no-any-return]


def load_vector_index(
    folder: Path, spec: Mapping[str, Any] | None = None, connection: Connection | None = None
) -> VectorIndex:
    """Load the vector index of a version from its manifest entry (None: the default backend)."""
    spec = spec or {"name": DEFAULT_VECTORS}
    loader = _pick(_VECTOR_LOADERS, spec["name"])
    return loader(folder, spec.get("params") or {}, connection)  # type: ignore[no-any-return]


def load_keyword_index(folder: Path, spec: Mapping[str, Any] | None = None) -> KeywordIndex:
    spec = spec or {"name": DEFAULT_KEYWORDS}
    return _pick(_KEYWORD_LOADERS, spec["name"])(folder, spec.get("params") or {})  # type: ignore[no-any-return]


def load_indexes(
    folder: Path, backends: Mapping[str, Any], connection: Connection | None = None
) -> tuple[VectorIndex, KeywordIndex]:
    """Load a version's two indexes as its manifest says they were built; manifests without it used the defaults."""
    vectors = load_vector_index(folder, backends.get("vectors"), connection)
    return vectors, load_keyword_index(folder, backends.get("keywords"))


def version_catalog(name: str, connection: Connection) -> VersionCatalog | None:
    """The backend's catalogue of versions outside the folder (Qdrant's collections and alias); None for FAISS."""
    _pick(_VECTOR_MAKERS, name)
    maker = _CATALOGS.get(name)
    return maker(connection) if maker is not None else None


def describe(vectors: VectorIndex, keywords: KeywordIndex) -> dict[str, Any]:
    """What the manifest records under `backends`."""
    return {"vectors": vectors.describe(), "keywords": keywords.describe()}
