"""Versioned index folders, atomic publishing via a CURRENT pointer, and verified loading.

Layout of an index directory:
    CURRENT                 name of the live version (replaced atomically with os.replace)
    versions/<version>/     manifest.json (which segments the version reads, and the passages of each
                            it no longer holds), keyword.npz, keyword_vocab.json, and, for a vector
                            index that is more than its rows, its own file: vectors.faiss (IVF), or
                            with Qdrant qdrant.json (the collection and its size)
    segments/<name>/        chunks.jsonl, sentence_rows.npy, sentence_spans.npy, sentence_vectors.npy,
                            and for flat FAISS passage_ids.npy, passage_vectors.npy: passages, their
                            sentences and vectors, written once by the ingest that added them (named
                            after its version) and shared by every later version that keeps them
                            (ingest.store.segments: when segments are merged)
    qdrant/                 Qdrant's local-mode storage (collections <alias>_<version>), when no server is set
    versions/.tmp-*         a version being written; never read, removed by the next ingest
    segments/.tmp-*         a segment being written; never named by a manifest, removed by the next ingest
    .lock                   held by the one ingest allowed at a time
    source-runs.json        when each configured source last ran and how it went (not versioned)
This module (with segments.py and the backends it loads) is the only code that opens these files.
The keyword index, and a vector index that is more than its rows, are still written whole into every
version folder: their backends own their files. A flat FAISS index is rebuilt at load from its
segments' rows (ingest.store.segment_vectors). A format-1 version (chunks.jsonl and sentences.npz in
its own folder) and a format-2 one (vectors.faiss in every version) are still read; the next ingest
moves their passages, or their vectors, into segments.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from assistant.exceptions import AssistantError
from ingest.calibration import Calibration
from ingest.checksums import sha256_file
from ingest.documents import Chunk
from ingest.store import segment_vectors, segments
from ingest.store.backends import DEFAULT_VECTORS, UnknownBackend, load_indexes, load_keyword_index, version_catalog
from ingest.store.base import (
    BackendDataMissing,
    BackendUnavailable,
    Connection,
    KeywordIndex,
    VectorIndex,
    VersionCatalog,
)
from ingest.store.durable import file_stat, fsync_dir, fsync_file, seal
from ingest.store.manifest import FILE as MANIFEST_FILE
from ingest.store.manifest import LEGACY_FORMAT, READABLE_FORMATS, Manifest, SegmentRecord, segment_names
from ingest.store.segments import CHUNKS_FILE, read_chunks
from ingest.store.sentence_index import FILES as SENTENCE_FILES
from ingest.store.sentence_index import LEGACY_FILE as LEGACY_SENTENCES_FILE
from ingest.store.sentence_index import SentenceIndex

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


def built_vector_backend(manifest: Manifest) -> str:
    """The vector backend a version was built with, from its manifest (versions without the record used the default)."""
    return str((manifest.backends.get("vectors") or {}).get("name", DEFAULT_VECTORS))


@dataclass
class LoadedIndex:
    """One version in memory: everything the query side needs, read-only."""

    manifest: Manifest
    chunks: dict[int, Chunk]
    vectors: VectorIndex
    keywords: KeywordIndex
    sentences: SentenceIndex
    # The live passage ids each segment holds for this version (empty for a format-1 version).
    segment_ids: dict[str, np.ndarray] = field(default_factory=dict)

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
        self.segments = self.root / segments.DIR
        self.vector_backend = vector_backend
        self.connection = connection or Connection(self.root)
        self._segments_of: dict[str, list[str]] = {}

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
        base: LoadedIndex | None = None,
    ) -> Path:
        """Write a complete version beside the live one; it becomes visible only via publish().

        Passages `base` (the version this one is made from) holds unchanged stay in its segments;
        the others, with their sentences from `sentences` (and their vectors from `vectors`, when
        that index is only its rows), go into one new segment.

        Raises:
            IndexCorrupt: a segment about to be merged (copied) fails its checksum.
        """
        self.versions.mkdir(parents=True, exist_ok=True)
        in_segments = vectors.rows_in_segments
        shared, fresh = self._share(chunks, base, in_segments)
        if fresh:
            ids = ids_of(fresh)
            rows = vectors.vectors(ids) if in_segments else None
            shared.append(segments.write_segment(self.segments, manifest.index_version, fresh, sentences, ids, rows))
        manifest.segments, manifest.vectors_in_segments = shared, in_segments
        tmp = self.versions / f"{TMP_PREFIX}{manifest.index_version}"
        tmp.mkdir()
        own = keywords.save(tmp) if in_segments else [*vectors.save(tmp), *keywords.save(tmp)]
        manifest.checksums, manifest.file_stats = seal(own)
        manifest.chunk_count = len(chunks)
        (tmp / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        fsync_file(tmp / MANIFEST_FILE)
        final = self.versions / manifest.index_version
        tmp.rename(final)
        fsync_dir(self.versions)
        return final

    def _share(
        self, chunks: list[Chunk], base: LoadedIndex | None, in_segments: bool
    ) -> tuple[list[SegmentRecord], list[Chunk]]:
        """The segments of `base` the new version keeps reading, and the passages for its new segment.

        With `in_segments` a segment written without vectors (format 2, or while the index was IVF or
        in Qdrant) is merged: its passages' vectors are written into the new segment, once.
        """
        if base is None or not base.segment_ids:
            return [], list(chunks)
        ids = [chunk_int_id(c.chunk_id) for c in chunks]
        records = base.manifest.segments
        lacking = {r.name for r in records if not segment_vectors.stored_in(r)} if in_segments else set()
        plan = segments.plan(records, base.segment_ids, base.chunks, chunks, ids, lacking)
        # A merge copies rows into a new checksummed segment: never copy corrupt ones.
        self._verify_files(base.manifest, [self._segment_files(r) for r in plan.merged], quick=False)
        return plan.shared, plan.fresh

    def publish(self, version: str) -> None:
        """Switch the backend's alias (if it has one), then CURRENT, each in one atomic step."""
        catalog = self._catalog()
        if catalog is not None:
            catalog.publish(version)
        pointer = self.root / f"CURRENT.{secrets.token_hex(4)}"
        pointer.write_text(version + "\n", encoding="utf-8")
        fsync_file(pointer)
        os.replace(pointer, self.root / "CURRENT")
        fsync_dir(self.root)

    def _manifest(self, version: str) -> Manifest:
        try:
            manifest = Manifest.read(self.versions / version)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorrupt(f"manifest of index version {version} is unreadable: {exc}") from exc
        if manifest.format_version not in READABLE_FORMATS:
            readable = ", ".join(map(str, READABLE_FORMATS))
            raise IndexFormatMismatch(f"index format {manifest.format_version} is not {readable}; re-run ingest")
        return manifest

    def _segment_files(self, record: SegmentRecord) -> list[tuple[str, Path, str, str]]:
        folder = self.segments / record.name
        return [
            (f"{segments.DIR}/{record.name}/{name}", folder / name, expected, record.file_stats.get(name, ""))
            for name, expected in record.checksums.items()
        ]

    def _files(self, manifest: Manifest) -> list[list[tuple[str, Path, str, str]]]:
        """Every file a version reads, as (name shown, path, checksum, stamp), its own folder's first."""
        folder = self.versions / manifest.index_version
        own = [(n, folder / n, c, manifest.file_stats.get(n, "")) for n, c in manifest.checksums.items()]
        return [own, *(self._segment_files(r) for r in manifest.segments)]

    def _verify(self, manifest: Manifest, quick: bool, skim_sentences: bool = False) -> None:
        """Refuse a version whose files do not match their checksums; `quick` trusts files whose size
        and mtime are still those recorded when they were written (no file is read), and so does
        `skim_sentences` for the segments' sentence files alone."""
        self._verify_files(manifest, self._files(manifest), quick, skim_sentences)

    def _verify_files(
        self, manifest: Manifest, groups: list[list[tuple[str, Path, str, str]]], quick: bool, skim: bool = False
    ) -> None:
        for label, path, expected, stamp in (f for group in groups for f in group):
            try:
                if (quick or (skim and path.name in SENTENCE_FILES)) and stamp == file_stat(path):
                    continue
                intact = sha256_file(path) == expected
            except OSError:
                intact = False
            if not intact:
                raise IndexCorrupt(
                    f"index file {label} of version {manifest.index_version} is missing or corrupted "
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

    def backend_holds(self, manifest: Manifest) -> bool:
        """Whether a backend that keeps versions outside the folder still has all of this one's vectors
        (True for FAISS, whose vectors are the folder's own files, checked by `_verify`)."""
        try:
            catalog = version_catalog(built_vector_backend(manifest), self.connection)
        except (BackendUnavailable, UnknownBackend) as exc:
            raise IndexError_(str(exc)) from exc
        return catalog is None or catalog.holds(manifest.index_version, manifest.chunk_count)

    def load(self, version: str | None = None, verify: bool = True, map_sentences: bool = False) -> LoadedIndex:
        """Load a version (default: the live one), refusing files whose checksum does not match.

        `map_sentences`: what the next version's writer needs; the sentence files stay in place,
        mapped (only the rows asked for are read), and are checked by their stamps only.
        """
        version = version or self.current_version()
        if version is None:
            raise IndexNotFound(f"no index at {self.root}; run `assistant ingest FOLDER` first")
        folder = self.versions / version
        manifest = self._manifest(version)
        if verify:
            self._verify(manifest, quick=False, skim_sentences=map_sentences)
        if manifest.format_version == LEGACY_FORMAT:
            vectors, keywords = self._indexes(manifest, {})
            chunks = {chunk_int_id(c.chunk_id): c for c in read_chunks(folder / CHUNKS_FILE)}
            # Versions written before sentence vectors existed still serve (answers fall back to words).
            has_sentences = (folder / LEGACY_SENTENCES_FILE).exists()
            sentences = SentenceIndex.load_legacy(folder) if has_sentences else SentenceIndex(vectors.dim)
            return LoadedIndex(manifest, chunks, vectors, keywords, sentences)
        chunks, sentences, segment_ids = {}, SentenceIndex(manifest.dimensions), {}
        for record in manifest.segments:
            try:
                held = self._segment_chunks(record)
                part = SentenceIndex.load(self.segments / record.name, mmap=map_sentences)
            except (OSError, ValueError, TypeError) as exc:
                raise IndexCorrupt(f"segment {record.name} of index version {version} is unreadable: {exc}") from exc
            chunks.update(held)
            segment_ids[record.name] = np.fromiter(held, dtype=np.int64, count=len(held))
            part.keep_only(held)
            sentences.include(part)
        vectors, keywords = self._indexes(manifest, segment_ids)
        return LoadedIndex(manifest, chunks, vectors, keywords, sentences, segment_ids)

    def _indexes(self, manifest: Manifest, segment_ids: dict[str, np.ndarray]) -> tuple[VectorIndex, KeywordIndex]:
        """The version's vector and keyword indexes as it was built: loaded from its folder, or (vectors
        in its segments) the vector index made again from the rows `segment_ids` says it holds."""
        version, folder, spec = manifest.index_version, self.versions / manifest.index_version, manifest.backends
        try:
            if not manifest.vectors_in_segments:
                return load_indexes(folder, spec, self.connection)
            keywords = load_keyword_index(folder, spec.get("keywords"))
            vectors = segment_vectors.rebuild(
                spec.get("vectors"), manifest.dimensions, self.segments, manifest.segments, segment_ids
            )
        except UnknownBackend as exc:
            raise IndexFormatMismatch(f"index version {version}: {exc}; re-run ingest with this build") from exc
        except BackendDataMissing as exc:
            raise IndexCorrupt(f"index version {version}: {exc}; re-run ingest to rebuild it") from exc
        except BackendUnavailable as exc:
            raise IndexError_(f"index version {version}: {exc}") from exc
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"passage vectors of index version {version} are unreadable: {exc}") from exc
        return vectors, keywords

    def _segment_chunks(self, record: SegmentRecord) -> dict[int, Chunk]:
        """The passages of a segment its version still holds, by int id."""
        deleted = set(record.deleted)
        held = (c for c in read_chunks(self.segments / record.name / CHUNKS_FILE) if c.chunk_id not in deleted)
        return {chunk_int_id(c.chunk_id): c for c in held}

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
        # A segment goes once no kept version reads it; no version is being written meanwhile (the lock).
        segments.collect(self.segments, {name for version in self.finished_versions() for name in self._read(version)})
        if catalog is not None:
            catalog.collect(set(self.finished_versions()))

    def _read(self, version: str) -> list[str]:
        """The segments a version reads; none if its manifest is unreadable (it cannot be loaded either).

        Remembered per version (a finished version's manifest never changes): a sync collects garbage
        before and after it writes, and a 10,000-document manifest takes 0.1 s to parse.
        """
        if version not in self._segments_of:
            try:
                self._segments_of[version] = segment_names(self.versions / version)
            except (OSError, ValueError, TypeError, KeyError):
                return []
        return self._segments_of[version]

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

    def files(self, version: str | None = None) -> list[Path]:
        """Every file a version (default: the live one) reads: its folder's and its segments'."""
        version = version or self.current_version()
        if version is None:
            return []
        manifest = self._manifest(version)
        return [
            self.versions / version / MANIFEST_FILE,
            *(path for group in self._files(manifest) for _, path, _, _ in group),
        ]

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.files() if p.exists())


def ids_of(chunks: list[Chunk]) -> np.ndarray:
    return np.array([chunk_int_id(c.chunk_id) for c in chunks], dtype=np.int64)
