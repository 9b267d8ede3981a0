"""Dense vector search in Qdrant: a collection `<name>_<version>` per index version, alias `<name>` on the live one.

Without a URL the client runs Qdrant's local mode in `<index folder>/qdrant`: the same client code,
brute force in memory, and a storage that one process at a time may open (Qdrant's rule).
"""

from __future__ import annotations

import atexit
import json
import secrets
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import ApiException

from ingest.store.base import BackendDataMissing, BackendUnavailable, Connection

NAME = "qdrant"
FILE = "qdrant.json"
LOCAL_FOLDER = "qdrant"
VECTOR = "dense"
# Filter fields of every point, each with a keyword payload index on a server.
PAYLOAD_FIELDS = ("groups", "lang", "source", "doc_id", "version")
BATCH = 512
DRAFT = "draft-"


class _Handle:
    """One client per storage or server in this process; local mode also needs one caller at a time."""

    def __init__(self, client: QdrantClient, local: bool, where: str) -> None:
        self.client = client
        self.local = local
        self.where = where
        self._lock = threading.RLock()

    @contextmanager
    def use(self) -> Iterator[None]:
        """Around every client call: one at a time in local mode; a server's failures as BackendUnavailable."""
        with self._lock if self.local else nullcontext():
            try:
                yield
            except ApiException as exc:
                raise BackendUnavailable(f"Qdrant at {self.where} failed: {exc}") from exc


_handles: dict[str, _Handle] = {}
_handles_lock = threading.Lock()


def handle(connection: Connection) -> _Handle:
    """The process's client for `connection`, opened once (a local storage admits a single opener)."""
    storage = connection.root / LOCAL_FOLDER
    key = f"{connection.url} {connection.api_key}" if connection.url else str(storage.resolve())
    with _handles_lock:
        found = _handles.get(key)
        if found is not None:
            return found
        if connection.url:
            # Connects on the first call; failures then surface through _Handle.use.
            client = QdrantClient(url=connection.url, api_key=connection.api_key or None)
            _handles[key] = _Handle(client, False, connection.url)
            return _handles[key]
        storage.mkdir(parents=True, exist_ok=True)
        try:
            client = QdrantClient(path=str(storage), force_disable_check_same_thread=True)
        except RuntimeError as exc:
            raise BackendUnavailable(
                f"{exc} Another process (a running `assistant serve`?) holds this local Qdrant storage: "
                "re-index through that service (its manage page), stop it first, or set ASSISTANT_QDRANT_URL."
            ) from exc
        _handles[key] = _Handle(client, True, str(storage))
        return _handles[key]


def close_clients() -> None:
    """Close every client this process opened (releases local storages; tests and shutdown)."""
    with _handles_lock:
        for found in _handles.values():
            found.client.close()
        _handles.clear()


# Before interpreter teardown, or the local client's own __del__ fails to import its unlock code.
atexit.register(close_clients)


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)


def _hits(points: Sequence[qm.ScoredPoint]) -> tuple[np.ndarray, np.ndarray]:
    """A query's points as (ids, scores), best first."""
    if not points:
        return _empty()
    return np.array([int(p.id) for p in points], dtype=np.int64), np.array([p.score for p in points], dtype=np.float32)


class QdrantVectorIndex:
    """Cosine search over a named `dense` vector; `allowed` becomes a filter inside the query (before top-k).

    An index made by the factory has no collection until its first add (a draft) or fork; a loaded one
    serves its version's collection, which is never edited after publishing: an ingest forks it.
    """

    def __init__(self, dim: int, connection: Connection, collection: str | None = None) -> None:
        self._dim = dim
        self.connection = connection
        self.collection = collection
        self._handle = handle(connection)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def rows_in_segments(self) -> bool:
        """The vectors live in the server's collection, which each version keeps (qdrant.json names it)."""
        return False

    def _create(self, name: str) -> None:
        client = self._handle.client
        with self._handle.use():
            dense = qm.VectorParams(size=self._dim, distance=qm.Distance.COSINE)
            if self._handle.local:
                client.create_collection(name, vectors_config={VECTOR: dense})
            else:
                client.create_collection(
                    name,
                    vectors_config={VECTOR: dense},
                    shard_number=self.connection.shards,
                    replication_factor=self.connection.replicas,
                )
                # Local mode brute-forces every query; payload indexes only matter on a server.
                for field in PAYLOAD_FIELDS:
                    client.create_payload_index(name, field, qm.PayloadSchemaType.KEYWORD)

    def _writable(self) -> str:
        if self.collection is None:
            self.collection = f"{self.connection.name}_{DRAFT}{secrets.token_hex(4)}"
            self._create(self.collection)
        return self.collection

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if not len(ids):
            return
        name = self._writable()
        vectors = np.asarray(vectors, dtype=np.float32)
        for lo in range(0, len(ids), BATCH):
            points = [
                qm.PointStruct(id=int(i), vector={VECTOR: v.tolist()})
                for i, v in zip(ids[lo : lo + BATCH], vectors[lo : lo + BATCH], strict=True)
            ]
            with self._handle.use():
                self._handle.client.upsert(name, points, wait=True)

    def remove(self, ids: np.ndarray) -> None:
        if not len(ids) or self.collection is None:
            return
        for lo in range(0, len(ids), BATCH):
            selector = qm.PointIdsList(points=[int(i) for i in ids[lo : lo + BATCH]])
            with self._handle.use():
                self._handle.client.delete(self.collection, selector, wait=True)

    def label(self, ids: np.ndarray, labels: Sequence[Mapping[str, Any]]) -> None:
        """Set the filter payload; points sharing one (a document's passages) go in one operation."""
        if not len(ids):
            return
        name = self._writable()
        shared: dict[str, tuple[dict[str, Any], list[int]]] = {}
        for point, payload in zip(ids, labels, strict=True):
            kept = {k: payload[k] for k in PAYLOAD_FIELDS if k in payload}
            shared.setdefault(repr(sorted(kept.items())), (kept, []))[1].append(int(point))
        operations = [
            qm.SetPayloadOperation(set_payload=qm.SetPayload(payload=payload, points=points))
            for payload, points in shared.values()
        ]
        for lo in range(0, len(operations), BATCH):
            with self._handle.use():
                self._handle.client.batch_update_points(name, operations[lo : lo + BATCH], wait=True)

    def _points(self, with_vectors: bool = True) -> Iterator[list[qm.Record]]:
        """Every point of the collection, in pages."""
        if self.collection is None:
            return
        offset: Any = None
        while True:
            with self._handle.use():
                page, offset = self._handle.client.scroll(
                    self.collection, limit=BATCH, offset=offset, with_payload=True, with_vectors=with_vectors
                )
            if page:
                yield page
            if offset is None:
                return

    def fork(self, version: str) -> QdrantVectorIndex:
        """A new collection `<name>_<version>` filled with this one's points (vectors and payload)."""
        target = QdrantVectorIndex(self._dim, self.connection, f"{self.connection.name}_{version}")
        assert target.collection is not None
        with self._handle.use():
            if self._handle.client.collection_exists(target.collection):
                # Left by an ingest killed before its folder was finished: never published, safe to redo.
                self._handle.client.delete_collection(target.collection)
        target._create(target.collection)
        for page in self._points():
            points = [qm.PointStruct(id=r.id, vector=r.vector or {}, payload=r.payload or {}) for r in page]
            with self._handle.use():
                self._handle.client.upsert(target.collection, points, wait=True)
        return target

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.collection is None or k <= 0 or (allowed is not None and len(allowed) == 0):
            return _empty()
        query_filter = None
        if allowed is not None:
            query_filter = qm.Filter(must=[qm.HasIdCondition(has_id=[int(i) for i in allowed])])
            k = min(k, len(allowed))
        with self._handle.use():
            found = self._handle.client.query_points(
                self.collection,
                query=np.asarray(query, dtype=np.float32).ravel().tolist(),
                using=VECTOR,
                query_filter=query_filter,
                limit=k,
                with_payload=False,
            ).points
        return _hits(found)

    def search_many(self, queries: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if self.collection is None or k <= 0 or not len(queries):
            return [_empty() for _ in range(len(queries))]
        requests = [
            qm.QueryRequest(query=np.asarray(q, dtype=np.float32).ravel().tolist(), using=VECTOR, limit=k)
            for q in queries
        ]
        with self._handle.use():
            responses = self._handle.client.query_batch_points(self.collection, requests=requests)
        return [_hits(r.points) for r in responses]

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self._dim), dtype=np.float32)
        if self.collection is None:
            raise KeyError(f"ids not in the index: {list(ids[:5])}")
        with self._handle.use():
            records = self._handle.client.retrieve(self.collection, [int(i) for i in ids], with_vectors=True)
        by_id = {int(r.id): r.vector for r in records}
        missing = [int(i) for i in ids if int(i) not in by_id]
        if missing:
            raise KeyError(f"ids not in the index: {missing[:5]}")
        rows = [by_id[int(i)] for i in ids]
        return np.array([r[VECTOR] if isinstance(r, dict) else r for r in rows], dtype=np.float32)

    def count(self) -> int:
        if self.collection is None:
            return 0
        with self._handle.use():
            return int(self._handle.client.count(self.collection, exact=True).count)

    def describe(self) -> dict[str, Any]:
        return {"name": NAME, "params": {"collection": self.collection, "dim": self._dim}}

    def save(self, folder: Path) -> list[Path]:
        """Record the collection and its size beside the version's files (checksummed with them)."""
        path = folder / FILE
        path.write_text(json.dumps({"collection": self.collection, "count": self.count()}), encoding="utf-8")
        return [path]

    @classmethod
    def load(cls, folder: Path, params: Mapping[str, Any], connection: Connection) -> QdrantVectorIndex:
        """The version's collection, refused when the server lacks it or holds another number of points."""
        recorded = json.loads((folder / FILE).read_text(encoding="utf-8"))
        name = params.get("collection") or recorded["collection"]
        index = cls(int(params["dim"]), connection, name)
        with index._handle.use():
            exists = index._handle.client.collection_exists(name)
        if not exists:
            raise BackendDataMissing(f"Qdrant collection {name} does not exist")
        if index.count() != recorded["count"]:
            raise BackendDataMissing(f"Qdrant collection {name} holds {index.count()} points, not {recorded['count']}")
        return index


class QdrantCatalog:
    """The alias `<name>` on the live collection, and collection of the versions the folder no longer keeps."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._handle = handle(connection)

    def publish(self, version: str) -> None:
        alias, target = self.connection.name, f"{self.connection.name}_{version}"
        # Delete and create in one call: Qdrant applies the list atomically, readers never see no alias.
        # The first publish has nothing to delete (a server refuses to delete an alias it lacks).
        create = qm.CreateAliasOperation(create_alias=qm.CreateAlias(collection_name=target, alias_name=alias))
        operations: list[qm.DeleteAliasOperation | qm.CreateAliasOperation] = [create]
        with self._handle.use():
            if any(a.alias_name == alias for a in self._handle.client.get_aliases().aliases):
                operations.insert(0, qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=alias)))
            self._handle.client.update_collection_aliases(change_aliases_operations=operations)

    def live(self) -> str | None:
        prefix = f"{self.connection.name}_"
        with self._handle.use():
            aliases = self._handle.client.get_aliases().aliases
        for alias in aliases:
            if alias.alias_name == self.connection.name and alias.collection_name.startswith(prefix):
                return alias.collection_name[len(prefix) :]
        return None

    def holds(self, version: str, count: int) -> bool:
        name = f"{self.connection.name}_{version}"
        with self._handle.use():
            client = self._handle.client
            return client.collection_exists(name) and client.count(name, exact=True).count == count

    def collect(self, keep: Collection[str]) -> None:
        prefix = f"{self.connection.name}_"
        live = self.live()
        with self._handle.use():
            names = [c.name for c in self._handle.client.get_collections().collections]
        for name in names:
            version = name[len(prefix) :] if name.startswith(prefix) else None
            if version is not None and version not in keep and version != live:
                with self._handle.use():
                    self._handle.client.delete_collection(name)
