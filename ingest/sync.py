"""Make the index match its sources: add new items, re-chunk changed ones, drop vanished ones, publish atomically.

A folder (`assistant ingest FOLDER`) and every configured source (ingest/sources) go through the same
steps. Each source owns the documents it brought (their `origin`), so syncing one never touches
another's; a source that cannot be read at all keeps its last good documents.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant import defaults
from ingest.analyzer import analyze
from ingest.calibration import Calibration, calibrate, is_current
from ingest.chunker import chunk_document, embedding_text
from ingest.documents import Chunk, Document
from ingest.embedder import Embedder
from ingest.embedding_cache import EmbeddingCache, embed_queries_with_cache, embed_with_cache
from ingest.errors import IngestError
from ingest.language import detect_language
from ingest.loaders import SUPPORTED_SUFFIXES, load_bytes, load_document
from ingest.parse_server import ParseServer
from ingest.sources.base import ItemFailure, Source, SourceError, SourceItem, SourceMemory
from ingest.sources.folder import SIDECAR_SUFFIX, FolderSource, scan
from ingest.store.backends import create_keyword_index, create_vector_index, describe
from ingest.store.base import VectorIndex
from ingest.store.layout import (
    IndexCorrupt,
    IndexStore,
    LoadedIndex,
    built_vector_backend,
    chunk_int_id,
    ids_of,
    new_version_name,
)
from ingest.store.manifest import DocumentRecord, FailureRecord, Manifest
from ingest.store.sentence_index import SentenceIndex, embed_sentences, quotable_spans

__all__ = ["SIDECAR_SUFFIX", "SourceReport", "SourcesReport", "SyncOptions", "SyncReport", "scan", "sync_folder"]
log = logging.getLogger(__name__)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
# Bump when loaders, the chunker or the quotable sentences change what a file yields, so indexes get rebuilt.
PIPELINE_VERSION = 6


class Progress(Protocol):
    """Where sync reports progress: stages are 'files', 'chunks' and 'embedding'."""

    def begin(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, n: int = 1) -> None: ...


class NullProgress:
    def begin(self, stage: str, total: int) -> None:
        pass

    def advance(self, stage: str, n: int = 1) -> None:
        pass


@dataclass
class SyncOptions:
    max_file_bytes: int = defaults.MAX_FILE_BYTES
    parse_timeout_s: float = defaults.PARSE_TIMEOUT_S
    parse_memory_bytes: int = 2 << 30
    chunk_max_tokens: int = defaults.CHUNK_MAX_TOKENS
    chunk_min_tokens: int = defaults.CHUNK_MIN_TOKENS
    languages: tuple[str, ...] = defaults.LANGUAGES
    keep_versions: int = defaults.KEEP_VERSIONS
    # Parameters of a newly created vector index (ingest.store.backends); {} uses the backend's own.
    vector_params: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """What decides the passages a file yields; an index built with another one is rebuilt."""
        return f"{PIPELINE_VERSION}:{self.chunk_max_tokens}:{self.chunk_min_tokens}:{','.join(self.languages)}"


def _failure_dicts(failures: list[FailureRecord]) -> list[dict[str, str]]:
    return [{"source": f.source, "reason": f.reason, "message": f.message} for f in failures]


@dataclass
class SyncReport:
    """What one ingest did; `--json` prints exactly this."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[FailureRecord] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    index_version: str = ""

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "failed": _failure_dicts(self.failed)}

    @property
    def complete(self) -> bool:
        return not self.failed


@dataclass
class SourceReport:
    """What one sync did for one source. Items are named by the source's ids (URLs, article ids)."""

    name: str
    kind: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[FailureRecord] = field(default_factory=list)
    embedded: int = 0
    items: int = 0  # documents of this source in the published index
    error: FailureRecord | None = None  # the whole source could not be read; its last good items stay
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["failed"] = _failure_dicts(self.failed)
        data["error"] = _failure_dicts([self.error])[0] if self.error else None
        return data

    @property
    def complete(self) -> bool:
        return not self.failed and self.error is None


@dataclass
class SourcesReport:
    """What `assistant sync` did: one report per source, and the index version now live."""

    sources: list[SourceReport]
    index_version: str = ""
    chunks: int = 0

    def to_dict(self) -> dict[str, object]:
        return {"sources": [s.to_dict() for s in self.sources], "index_version": self.index_version}

    @property
    def complete(self) -> bool:
        return all(s.complete for s in self.sources)


# The loaders the parse server runs for each item, by reference: the real ones import only the loaders.
_load = load_document
_load_bytes = load_bytes


def prepare_chunks(doc: Document, embedder: Embedder, options: SyncOptions) -> list[Chunk]:
    """Detect the document's language, then cut it into passages sized in the model's tokens.

    Documents and sections are prose, long enough for the fast detector (see detect_language).
    """
    languages = options.languages
    doc.language = detect_language(doc.text, languages, precise=False)
    return chunk_document(
        doc,
        embedder.count_tokens,
        options.chunk_max_tokens,
        options.chunk_min_tokens,
        language_of=lambda text: detect_language(text, languages, default=doc.language or "en", precise=False),
    )


def _live_manifest(store: IndexStore) -> Manifest | None:
    """The live version's manifest to plan against, or None to build from scratch (nothing yet, or corrupt).

    Only the manifest is read, and the version's files checked by their recorded sizes and times:
    an unchanged folder re-syncs without loading or checksumming the whole index.
    """
    if not store.current_version():
        return None
    try:
        manifest = store.live_manifest()
    except IndexCorrupt as exc:
        log.error("%s; rebuilding the index from its sources", exc)
        return None
    if not store.backend_holds(manifest):
        log.error(
            "the vectors of index version %s are gone from its backend; rebuilding the index from its sources",
            manifest.index_version,
        )
        return None
    return manifest


class _LiveCorrupt(Exception):
    """The live version passed the quick check but failed to load: plan again from scratch."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class _Batch:
    """One source's part of a sync: the records it keeps or makes, the chunks to embed, what went stale."""

    source: Source
    prefix: str
    report: SourceReport
    old: dict[str, DocumentRecord]  # this source's documents in the live version, by key
    records: dict[str, DocumentRecord] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    stale: set[str] = field(default_factory=set)
    failures: list[FailureRecord] = field(default_factory=list)
    state: dict[str, Any] | None = None  # None: keep the state the index had
    pending: list[SourceItem] = field(default_factory=list)  # changed items the parse step reads
    queued: set[str] = field(default_factory=set)  # their keys

    def key(self, item_id: str) -> str:
        """The document's name in the index: `source/` + the item id, a URL without its scheme."""
        return self.prefix + (_SCHEME.sub("", item_id) if self.prefix else item_id)

    def item_id(self, key: str) -> str:
        record = self.old.get(key) or self.records.get(key)
        return (record.item_id if record and record.item_id else None) or key[len(self.prefix) :]


class _Sink:
    """Compares a source's items with the live manifest as they arrive.

    Unchanged items keep their record; the others are parsed and chunked at once (`parse_now`, for
    sources that stream their content) or wait in `batch.pending` for the parse step.
    """

    def __init__(self, run: _Sync, batch: _Batch, parse_now: bool) -> None:
        self.run = run
        self.batch = batch
        self.parse_now = parse_now

    def expect(self, total: int) -> None:
        self.run.progress.begin("files", total)

    def fail(self, failure: ItemFailure) -> None:
        _fail(self.run, self.batch, failure)

    def add(self, item: SourceItem) -> None:
        batch, report = self.batch, self.batch.report
        key = batch.key(item.id)
        if key in batch.records or key in batch.queued:
            return  # the same item reached twice (a redirect and its target): the first one counts
        old = batch.old.get(key)
        tags, groups = list(item.tags), list(item.groups)
        if old is not None and (old.version or old.sha256) == item.version and old.url == item.url:
            if (old.tags, old.groups) == (tags, groups):
                report.unchanged.append(item.id)
                batch.records[key] = old if old.stat == item.stat else replace(old, stat=item.stat)
            else:
                # Access groups and tags live in the record only: no passage changes.
                report.updated.append(item.id)
                batch.records[key] = replace(old, tags=tags, groups=groups, stat=item.stat)
            self.run.progress.advance("files")
            return
        if item.content is None and item.path is None:
            self.fail(ItemFailure(item.id, SourceError(f"{item.id} came without content although it changed")))
            return
        if self.parse_now:
            self.run.parse_item(batch, item)
        else:
            batch.queued.add(key)
            batch.pending.append(item)


def _fail(run: _Sync, batch: _Batch, failure: ItemFailure) -> None:
    """Report an item that could not be read; its last good version stays."""
    key = batch.key(failure.id)
    if key in batch.records:
        return
    record = FailureRecord(key, failure.error.reason, failure.error.message, batch.source.name)
    batch.failures.append(record)
    batch.report.failed.append(replace(record, source=failure.id))
    log.warning("skipping %s: %s", failure.id, failure.error.message)
    old = batch.old.get(key)
    if old is not None:
        # Keep serving the last good version of an item that cannot be read now.
        batch.records[key] = old
    run.progress.advance("files")


def _labels(chunk: Chunk, record: DocumentRecord, version: str) -> dict[str, Any]:
    """The filter fields a backend may keep with a passage (ingest.store.base.VectorIndex.label)."""
    return {
        "groups": record.groups,
        "lang": chunk.language,
        "source": record.origin,
        "doc_id": chunk.source,
        "version": version,
    }


def _as_source_error(exc: IngestError) -> SourceError:
    error = SourceError(exc.message)
    error.reason = exc.reason
    return error


class _Sync:
    """One sync run under the index lock: plan each source against the live manifest, parse what
    changed, embed the new passages, then write and publish one version."""

    def __init__(
        self,
        store: IndexStore,
        embedder: Embedder,
        cache: EmbeddingCache,
        options: SyncOptions,
        progress: Progress,
        parser: ParseServer,
        rebuild: bool = False,
    ) -> None:
        self.store, self.embedder, self.cache = store, embedder, cache
        self.options, self.progress, self.parser = options, progress, parser
        self.manifest = None if rebuild else _live_manifest(store)
        self._previous: LoadedIndex | None = None
        manifest = self.manifest
        # Another model or another chunking means no old passage can be reused: rebuild everything.
        self.same_model = (
            manifest is not None and manifest.model == embedder.model_id and manifest.pipeline == options.fingerprint()
        )
        self.old_docs = manifest.documents if manifest and self.same_model else {}
        self.old_sources = manifest.sources if manifest and self.same_model else {}

    def previous(self) -> LoadedIndex:
        """The live version, loaded only when a new version is written from it.

        Its passages and indexes are read and checksummed; its sentence files stay in their shared
        segments, mapped: only the rows calibration asks for are read, and no segment is copied.
        """
        if self._previous is None:
            assert self.manifest is not None
            try:
                self._previous = self.store.load(self.manifest.index_version, map_sentences=True)
            except IndexCorrupt as exc:
                log.error("%s; rebuilding the index from its sources", exc)
                raise _LiveCorrupt from exc
        return self._previous

    def load(self, item: SourceItem, key: str) -> tuple[Document, int, str]:
        """The item's document, its size and the SHA-256 of its bytes; parsed in the isolated parse server."""
        options = self.options
        supported = item.format.lower() in SUPPORTED_SUFFIXES
        if item.path is not None:
            if not supported:
                # Raises UnsupportedFormat at once; no child process needed for that.
                load_document(item.path, key, options.max_file_bytes)
            args: tuple[Any, ...] = (item.path, key, options.max_file_bytes)
            doc = self.parser.parse(_load, args, key, options.parse_timeout_s, options.parse_memory_bytes)
            return doc, item.path.stat().st_size, item.version
        content = item.content or b""
        if not supported:
            load_bytes(content, key, item.format, options.max_file_bytes)
        args = (content, key, item.format, options.max_file_bytes)
        doc = self.parser.parse(_load_bytes, args, key, options.parse_timeout_s, options.parse_memory_bytes)
        return doc, len(content), hashlib.sha256(content).hexdigest()

    def parse_item(self, batch: _Batch, item: SourceItem) -> None:
        """Parse and chunk one new or changed item into `batch` (or report why it could not be read)."""
        key, report = batch.key(item.id), batch.report
        old = batch.old.get(key)
        try:
            doc, size, digest = self.load(item, key)
            if item.title:
                doc.title = item.title
            chunks = prepare_chunks(doc, self.embedder, self.options)
        except IngestError as exc:
            _fail(self, batch, ItemFailure(item.id, _as_source_error(exc)))
            return
        if item.url:
            chunks = [replace(c, url=item.url) for c in chunks]
        (report.updated if old is not None else report.added).append(item.id)
        if old is not None:
            batch.stale.add(key)
        batch.chunks.extend(chunks)
        batch.records[key] = DocumentRecord(
            sha256=digest,
            chunks=len(chunks),
            title=doc.title,
            language=doc.language or "und",
            bytes=size,
            indexed_at=_now(),
            tags=list(item.tags),
            groups=list(item.groups),
            origin=batch.source.name,
            item_id=item.id if batch.prefix else "",
            version=item.version,
            url=item.url,
            stat=item.stat,
        )
        self.progress.advance("files")

    def plan(self, source: Source, prefix: str, parse_now: bool = False) -> _Batch:
        """Ask the source for its items and compare each with the live manifest; nothing is loaded.

        With `parse_now` changed items are parsed as they arrive (sources that hold content in memory).
        """
        started = time.perf_counter()
        name = source.name
        old = {k: r for k, r in self.old_docs.items() if r.origin == name}
        batch = _Batch(source, prefix, SourceReport(name, source.kind), old)
        known = {batch.item_id(k): r.version or r.sha256 for k, r in old.items()}
        stats = {batch.item_id(k): r.stat for k, r in old.items() if r.stat}
        memory = SourceMemory(known, dict(self.old_sources.get(name, {}).get("state", {})), stats)
        self.progress.begin("files", len(known))
        try:
            batch.state = source.collect(memory, _Sink(self, batch, parse_now))
        except SourceError as exc:
            log.error("source %s could not be read, keeping its last good items: %s", name or "folder", exc.message)
            failure = FailureRecord(name, exc.reason, exc.message, name)
            batch.report = SourceReport(name, source.kind, error=failure, unchanged=sorted(known))
            batch.records, batch.chunks, batch.stale, batch.state = dict(old), [], set(), None
            batch.pending, batch.queued = [], set()
            batch.failures = [f for f in self._old_failures() if f.origin == name]
        batch.report.seconds = time.perf_counter() - started
        return batch

    def parse(self, batch: _Batch) -> _Batch:
        """Parse and chunk the items the plan found new or changed; then settle what was removed."""
        started = time.perf_counter()
        for item in batch.pending:
            self.parse_item(batch, item)
        batch.pending, batch.queued = [], set()
        if batch.report.error is None:
            removed = sorted(set(batch.old) - set(batch.records))
            batch.report.removed = [batch.item_id(k) for k in removed]
            batch.stale.update(removed)
        batch.report.items = len(batch.records)
        batch.report.seconds += time.perf_counter() - started
        return batch

    def _old_failures(self) -> list[FailureRecord]:
        return self.manifest.failures if self.manifest else []

    def unchanged(self, batches: list[_Batch], drop_origins: AbstractSet[str] = frozenset()) -> bool:
        """Whether the live version already says everything the plan found: then nothing is written."""
        if self.manifest is None or not self.same_model or self._dropped(batches, drop_origins):
            return False
        if built_vector_backend(self.manifest) != self.store.vector_backend:
            return False  # the same passages, moved to the backend now configured
        if self._vector_settings_changed(self.manifest.backends.get("vectors")):
            return False  # the same passages, in an index built as the settings now say
        if self.manifest.chunk_count and not is_current(Calibration.from_dict(self.manifest.calibration)):
            # Same passages, but their null was measured with another bank (or not at all): publish
            # a recalibrated version; nothing is embedded again but the bank's questions, once.
            return False
        for batch in batches:
            report = batch.report
            if report.added or report.updated or report.removed:
                return False
            if (
                batch.state is not None
                and batch.prefix
                and self.old_sources.get(batch.source.name, {}).get("state") != batch.state
            ):
                return False
        return self._merged_failures(batches) == self._old_failures()

    def _dropped(self, batches: list[_Batch], drop_origins: AbstractSet[str]) -> set[str]:
        mine = {b.source.name for b in batches}
        return {k for k, r in self.old_docs.items() if r.origin in drop_origins and r.origin not in mine}

    def _merged_failures(self, batches: list[_Batch]) -> list[FailureRecord]:
        mine = {b.source.name for b in batches}
        kept = [f for f in self._old_failures() if f.origin not in mine] if self.same_model else []
        return sorted(kept + [f for b in batches for f in b.failures], key=lambda f: (f.origin, f.source))

    def _vector_settings_changed(self, built: Mapping[str, Any] | None) -> bool:
        """Whether a vector index setting (ASSISTANT_VECTOR_APPROXIMATE_ABOVE) differs from the one the
        live index was built with: its vectors then move into an index built as the setting now says."""
        params = (built or {}).get("params") or {}
        return any(key in params and params[key] != value for key, value in self.options.vector_params.items())

    def _new_vectors(self, dim: int) -> VectorIndex:
        store = self.store
        return create_vector_index(dim, store.vector_backend, self.options.vector_params, store.connection)

    def _switched(self, previous: LoadedIndex, kept: list[Chunk], version: str) -> VectorIndex:
        """A new backend (ASSISTANT_VECTOR_BACKEND changed) filled with the kept vectors: nothing is re-embedded."""
        fresh = self._new_vectors(previous.vectors.dim).fork(version)
        kept_ids = ids_of(kept)
        for lo in range(0, len(kept_ids), 4096):
            part = kept_ids[lo : lo + 4096]
            fresh.add(part, previous.vectors.vectors(part))
        return fresh

    def _labels_changed(self, source: str, records: dict[str, DocumentRecord]) -> bool:
        old = self.old_docs.get(source)
        return old is None or old.groups != records[source].groups

    def embed(self, batches: list[_Batch]) -> _Embedded:
        """Vectors for the new passages and for their quotable sentences (from the cache when seen before)."""
        embedded = _Embedded()
        total = sum(len(b.chunks) for b in batches)
        self.progress.begin("chunks", total)
        self.progress.advance("chunks", total)
        # Passages, then their sentences (what answers quote and highlight), as one embedding stage.
        sentence_count = sum(len(quotable_spans(c.text)) for b in batches for c in b.chunks)
        self.progress.begin("embedding", total + sentence_count)

        def advance(n: int) -> None:
            self.progress.advance("embedding", n)

        for batch in batches:
            if not batch.chunks:
                continue  # nothing new: a lazy embedder's model stays unloaded
            texts = [embedding_text(c) for c in batch.chunks]
            vectors, batch.report.embedded = embed_with_cache(self.embedder, self.cache, texts, progress=advance)
            embedded.chunks.extend(batch.chunks)
            embedded.vectors.append(vectors)
            # `embedded` stays the passages' count ("chunks embedded"); sentences ride along.
            spans, parts = embed_sentences(
                batch.chunks, lambda texts: embed_with_cache(self.embedder, self.cache, texts, progress=advance)[0]
            )
            embedded.sentence_spans += spans
            embedded.sentence_vectors += parts
        return embedded

    def write(
        self,
        batches: list[_Batch],
        embedded: _Embedded,
        root: str | None,
        drop_origins: AbstractSet[str] = frozenset(),
    ) -> tuple[str, int]:
        """Merge the new passages with what the live version keeps, write a version and switch CURRENT.

        Returns (version, chunks in it).
        """
        mine = {b.source.name for b in batches}
        dropped = self._dropped(batches, drop_origins)
        stale = {k for b in batches for k in b.stale} | dropped
        new_chunks = embedded.chunks
        records = {k: r for k, r in self.old_docs.items() if r.origin not in mine and k not in dropped}
        for batch in batches:
            records.update(batch.records)
        version = new_version_name()
        previous: LoadedIndex | None = None
        if self.manifest is not None and self.same_model:
            previous = self.previous()
            kept = [c for c in previous.chunks.values() if c.source not in stale and c.source in records]
            built = previous.vectors.describe()
            switched = built["name"] != self.store.vector_backend or self._vector_settings_changed(built)
            vector_index = self._switched(previous, kept, version) if switched else previous.vectors.fork(version)
            keyword_index, sentence_index = previous.keywords, previous.sentences
            gone = [i for i, c in previous.chunks.items() if c.source in stale or c.source not in records]
            stale_ids = np.array(gone, dtype=np.int64)
            vector_index.remove(stale_ids)
            keyword_index.remove(stale_ids)
            sentence_index.keep_only(chunk_int_id(c.chunk_id) for c in kept)
        else:
            kept, switched = [], False
            vector_index = self._new_vectors(self.embedder.dim).fork(version)
            keyword_index = create_keyword_index()
            sentence_index = SentenceIndex(self.embedder.dim)
        new_ids = ids_of(new_chunks)
        if new_chunks:
            vector_index.add(new_ids, np.vstack(embedded.vectors))
            texts = [embedding_text(c) for c in new_chunks]
            keyword_index.add(new_ids, [analyze(t, c.language) for t, c in zip(texts, new_chunks, strict=True)])
            sentence_index.add(new_ids.tolist(), embedded.sentence_spans, embedded.sentence_vectors)
        relabel = new_chunks + [c for c in kept if switched or self._labels_changed(c.source, records)]
        vector_index.label(ids_of(relabel), [_labels(c, records[c.source], version) for c in relabel])
        sources = {k: v for k, v in self.old_sources.items() if k not in drop_origins}
        for batch in batches:
            name = batch.source.name
            if name and batch.state is not None:
                sources[name] = {"kind": batch.source.kind, "state": batch.state}
        all_chunks = kept + new_chunks
        manifest = Manifest(
            index_version=version,
            model=self.embedder.model_id,
            dimensions=vector_index.dim,
            created_at=_now(),
            root=root if root is not None else (self.manifest.root if self.manifest else ""),
            documents=dict(sorted(records.items())),
            failures=self._merged_failures(batches),
            pipeline=self.options.fingerprint(),
            sources=dict(sorted(sources.items())),
            backends=describe(vector_index, keyword_index),
        )
        calibration = calibrate(
            lambda questions: embed_queries_with_cache(self.embedder, self.cache, questions),
            vector_index,
            sentence_index,
            self.options.languages,
            passage_languages={chunk_int_id(c.chunk_id): c.language for c in all_chunks},
        )
        manifest.calibration = calibration.to_dict() if calibration is not None else None
        try:
            self.store.write_version(manifest, all_chunks, vector_index, keyword_index, sentence_index, previous)
        except IndexCorrupt as exc:
            log.error("%s; rebuilding the index from its sources", exc)
            raise _LiveCorrupt from exc
        self.store.publish(manifest.index_version)
        for batch in batches:
            batch.report.items = sum(1 for r in records.values() if r.origin == batch.source.name)
        return manifest.index_version, len(all_chunks)


@dataclass
class _Embedded:
    """What the embed step made: the new passages in order, their vectors, and their sentences'."""

    chunks: list[Chunk] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    sentence_spans: list[np.ndarray] = field(default_factory=list)
    sentence_vectors: list[np.ndarray] = field(default_factory=list)


def _publish(
    run: _Sync, batches: list[_Batch], root: str | None, drop: AbstractSet[str] = frozenset()
) -> tuple[str, int]:
    """Embed and write, unless the live version already holds everything; (version, chunks)."""
    if run.unchanged(batches, drop):
        assert run.manifest is not None
        return run.manifest.index_version, run.manifest.chunk_count
    return run.write(batches, run.embed(batches), root, drop)


def sync_folder(
    root: Path,
    store: IndexStore,
    embedder: Embedder,
    cache: EmbeddingCache,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Bring the index at `store` in line with the files under `root` and publish the result.

    Plan (stat and compare with the live manifest), parse what changed, embed its new passages, write
    a version: an unchanged folder reads nothing but its file stats and the manifest. Documents brought
    by configured sources are left as they are. `embedder` may load its model lazily: it is not
    touched when nothing needs embedding.
    """
    options = options or SyncOptions()
    root = root.resolve()
    with store.lock(), ParseServer() as parser:
        store.collect_garbage(options.keep_versions)
        for rebuild in (False, True):
            run = _Sync(store, embedder, cache, options, progress or NullProgress(), parser, rebuild)
            batch = run.parse(run.plan(FolderSource("", root), ""))
            try:
                version, chunks = _publish(run, [batch], str(root))
                break
            except _LiveCorrupt:
                continue
        store.collect_garbage(options.keep_versions)
    part = batch.report
    failed = [replace(f, origin="") for f in part.failed]
    if part.error is not None:
        failed.append(part.error)
    return SyncReport(part.added, part.updated, part.unchanged, part.removed, failed, chunks, part.embedded, version)


def sync_sources(
    sources: Sequence[Source],
    store: IndexStore,
    embedder: Embedder,
    cache: EmbeddingCache,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
    configured: Sequence[str] | None = None,
) -> SourcesReport:
    """Sync each source in turn, then publish one index version holding all of them.

    `configured`: every source name in the sources file, when all of them run; documents of a source
    no longer configured are then removed (a source of its own, reported with its removals).
    Items are parsed as each source delivers them, so a large site never sits in memory whole.
    """
    options = options or SyncOptions()
    with store.lock(), ParseServer() as parser:
        store.collect_garbage(options.keep_versions)
        for rebuild in (False, True):
            run = _Sync(store, embedder, cache, options, progress or NullProgress(), parser, rebuild)
            batches = [run.parse(run.plan(source, f"{source.name}/", parse_now=True)) for source in sources]
            gone: set[str] = set()
            if configured is not None:
                gone = {r.origin for r in run.old_docs.values() if r.origin and r.origin not in configured}
                gone |= {name for name in run.old_sources if name not in configured}
            try:
                version, chunks = _publish(run, batches, None, gone)
                break
            except _LiveCorrupt:
                continue
        store.collect_garbage(options.keep_versions)
    reports = [b.report for b in batches]
    for name in sorted(gone):
        removed = sorted(r.item_id for r in run.old_docs.values() if r.origin == name)
        reports.append(SourceReport(name, run.old_sources.get(name, {}).get("kind", ""), removed=removed))
    return SourcesReport(reports, version, chunks)
