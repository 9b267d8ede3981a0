"""Versioned index folders, atomic publishing via a CURRENT pointer, and verified loading.

Layout of an index directory:
    CURRENT                 name of the live version (replaced atomically with os.replace)
    versions/<version>/     manifest.json, chunks.jsonl, vectors.faiss (or, with Qdrant, qdrant.json: the
                            collection and its size), keyword.npz, keyword_vocab.json, sentences.npz
    qdrant/                 Qdrant's local-mode storage (collections <alias>_<version>), when no server is set
    versions/.tmp-*         a version being written; never read, removed by the next ingest
    .lock                   held by the one ingest allowed at a time
    source-runs.json        when each configured source last ran and how it went (not versioned)
This module is the only code that opens these files.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from assistant.exceptions import AssistantError
from ingest.calibration import Calibration
from ingest.checksums import sha256_file
from ingest.documents import Chunk
from ingest.store.backends import DEFAULT_VECTORS, UnknownBackend, load_indexes, version_catalog
from ingest.store.base import (
    BackendDataMissing,
    BackendUnavailable,
    Connection,
    KeywordIndex,
    VectorIndex,
    VersionCatalog,
)
from ingest.store.manifest import FILE as MANIFEST_FILE
from ingest.store.manifest import FORMAT_VERSION, Manifest
from ingest.store.sentence_index import FILE as SENTENCES_FILE
from ingest.store.sentence_index import SentenceIndex

CHUNKS_FILE = "chunks.jsonl"
RUNS_FILE = "source-runs.json"
TMP_PREFIX = ".tmp-"


class IndexError_(AssistantError):
    """Base for index problems a user must act on."""

    status = 503
    code = "index_unavailable"


class IndexNotFound(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    pass


class IndexFormatMismatch(IndexError_):
    pass


def chunk_int_id(chunk_id: str) -> int:
    """FAISS and the keyword index key chunks by a positive int64 derived from the chunk id."""
    return int(chunk_id[:15], 16)


def new_version_name() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")[:-3] + "-" + secrets.token_hex(3)


def _file_stat(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}.{stat.st_mtime_ns}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class LoadedIndex:
    """One version in memory: everything the query side needs, read-only."""

    manifest: Manifest
    chunks: dict[int, Chunk]
    vectors: VectorIndex
    keywords: KeywordIndex
    sentences: SentenceIndex

    @cached_property
    def calibration(self) -> Calibration | None:
        """The manifest's null distribution, parsed once per loaded version (read on every question)."""
        return Calibration.from_dict(self.manifest.calibration)

    @property
    def version(self) -> str:
        return self.manifest.index_version


class IndexStore:
    """Reads and writes the versioned index under `root`.

    `vector_backend` builds new versions; `connection` says where a server-backed one keeps them
    (default: local storage inside `root`). CURRENT stays the one pointer readers follow; a backend
    with versions of its own (Qdrant's alias) is switched first, so what CURRENT names is always complete.
    """

    def __init__(self, root: Path, vector_backend: str = DEFAULT_VECTORS, connection: Connection | None = None) -> None:
        self.root = Path(root)
        self.versions = self.root / "versions"
        self.vector_backend = vector_backend
        self.connection = connection or Connection(self.root)

    def _catalog(self) -> VersionCatalog | None:
        try:
            return version_catalog(self.vector_backend, self.connection)
        except BackendUnavailable as exc:
            raise IndexError_(str(exc)) from exc

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time; raises BlockingIOError-derived IndexError_ if another ingest runs."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise IndexError_(f"another ingest is writing {self.root}; try again when it ends") from exc
            yield

    def current_version(self) -> str | None:
        try:
            name = (self.root / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return name or None

    def current_manifest(self) -> Manifest | None:
        version = self.current_version()
        return Manifest.read(self.versions / version) if version else None

    def write_version(
        self,
        manifest: Manifest,
        chunks: list[Chunk],
        vectors: VectorIndex,
        keywords: KeywordIndex,
        sentences: SentenceIndex,
    ) -> Path:
        """Write a complete version beside the live one; it becomes visible only via publish()."""
        self.versions.mkdir(parents=True, exist_ok=True)
        tmp = self.versions / f"{TMP_PREFIX}{manifest.index_version}"
        tmp.mkdir()
        chunk_path = tmp / CHUNKS_FILE
        with chunk_path.open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        files = [chunk_path, *vectors.save(tmp), *keywords.save(tmp), *sentences.save(tmp)]
        manifest.checksums = {p.name: sha256_file(p) for p in files}
        manifest.chunk_count = len(chunks)
        for path in files:
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        manifest.file_stats = {p.name: _file_stat(p) for p in files}
        (tmp / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        with (tmp / MANIFEST_FILE).open("rb") as handle:
            os.fsync(handle.fileno())
        final = self.versions / manifest.index_version
        tmp.rename(final)
        _fsync_dir(self.versions)
        return final

    def publish(self, version: str) -> None:
        """Switch the backend's alias (if it has one), then CURRENT, each in one atomic step."""
        catalog = self._catalog()
        if catalog is not None:
            catalog.publish(version)
        pointer = self.root / f"CURRENT.{secrets.token_hex(4)}"
        pointer.write_text(version + "\n", encoding="utf-8")
        with pointer.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(pointer, self.root / "CURRENT")
        _fsync_dir(self.root)

    def _manifest(self, version: str) -> Manifest:
        try:
            manifest = Manifest.read(self.versions / version)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorrupt(f"manifest of index version {version} is unreadable: {exc}") from exc
        if manifest.format_version != FORMAT_VERSION:
            raise IndexFormatMismatch(f"index format {manifest.format_version} is not {FORMAT_VERSION}; re-run ingest")
        return manifest

    def _verify(self, manifest: Manifest, quick: bool) -> None:
        """Refuse a version whose files do not match their checksums; `quick` trusts files whose size
        and mtime are still those recorded when they were written (no file is read)."""
        folder = self.versions / manifest.index_version
        for name, expected in manifest.checksums.items():
            path = folder / name
            try:
                if quick and manifest.file_stats.get(name) == _file_stat(path):
                    continue
                intact = sha256_file(path) == expected
            except OSError:
                intact = False
            if not intact:
                raise IndexCorrupt(
                    f"index file {name} of version {manifest.index_version} is missing or corrupted "
                    "(checksum mismatch); re-run ingest to rebuild it"
                )

    def live_manifest(self) -> Manifest:
        """The live version's manifest, its files checked by size and mtime only: what an ingest plans with.

        Raises:
            IndexNotFound: nothing is published. IndexCorrupt: the manifest or a changed file is bad.
        """
        version = self.current_version()
        if version is None:
            raise IndexNotFound(f"no index at {self.root}; run `assistant ingest FOLDER` first")
        manifest = self._manifest(version)
        self._verify(manifest, quick=True)
        return manifest

    def load(self, version: str | None = None, verify: bool = True) -> LoadedIndex:
        """Load a version (default: the live one), refusing files whose checksum does not match."""
        version = version or self.current_version()
        if version is None:
            raise IndexNotFound(f"no index at {self.root}; run `assistant ingest FOLDER` first")
        folder = self.versions / version
        manifest = self._manifest(version)
        if verify:
            self._verify(manifest, quick=False)
        chunks: dict[int, Chunk] = {}
        with (folder / CHUNKS_FILE).open(encoding="utf-8") as handle:
            for line in handle:
                chunk = Chunk.from_dict(json.loads(line))
                chunks[chunk_int_id(chunk.chunk_id)] = chunk
        try:
            vectors, keywords = load_indexes(folder, manifest.backends, self.connection)
        except UnknownBackend as exc:
            raise IndexFormatMismatch(f"index version {version}: {exc}; re-run ingest with this build") from exc
        except BackendDataMissing as exc:
            raise IndexCorrupt(f"index version {version}: {exc}; re-run ingest to rebuild it") from exc
        except BackendUnavailable as exc:
            raise IndexError_(f"index version {version}: {exc}") from exc
        # Versions written before sentence vectors existed still serve (answers fall back to words).
        has_sentences = (folder / SENTENCES_FILE).exists()
        sentences = SentenceIndex.load(folder) if has_sentences else SentenceIndex(vectors.dim)
        return LoadedIndex(manifest, chunks, vectors, keywords, sentences)

    def finished_versions(self) -> list[str]:
        """Names of the complete versions on disk, newest first (names sort by creation time)."""
        if not self.versions.exists():
            return []
        names = [p.name for p in self.versions.iterdir() if p.is_dir() and not p.name.startswith(TMP_PREFIX)]
        return sorted(names, reverse=True)

    def collect_garbage(self, keep: int) -> None:
        """Delete all but the newest `keep` versions (never the live one) and abandoned temp folders.

        A backend's own copies go too; opening it here, before any parsing, also reports an
        unreachable server or a held local storage at once.
        """
        catalog = self._catalog()
        if not self.versions.exists():
            if catalog is not None:
                catalog.collect(set())
            return
        live = self.current_version()
        finished = sorted(p for p in self.versions.iterdir() if not p.name.startswith(TMP_PREFIX))
        for path in finished[:-keep]:
            if path.name != live:
                shutil.rmtree(path, ignore_errors=True)
        # Called under the writer lock, so any temp folder left is from a killed ingest.
        for path in self.versions.glob(f"{TMP_PREFIX}*"):
            shutil.rmtree(path, ignore_errors=True)
        if catalog is not None:
            catalog.collect(set(self.finished_versions()))

    def source_runs(self) -> dict[str, Any]:
        """The last run of each configured source, as saved by save_source_runs ({} when none or unreadable)."""
        try:
            data = json.loads((self.root / RUNS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save_source_runs(self, runs: dict[str, Any]) -> None:
        """Replace the run log in one rename, so a reader never sees half of it."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f"{RUNS_FILE}.{secrets.token_hex(4)}"
        tmp.write_text(json.dumps(runs, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.root / RUNS_FILE)

    def size_on_disk(self) -> int:
        version = self.current_version()
        if version is None:
            return 0
        return sum(p.stat().st_size for p in (self.versions / version).iterdir())


def ids_of(chunks: list[Chunk]) -> np.ndarray:
    return np.array([chunk_int_id(c.chunk_id) for c in chunks], dtype=np.int64)
