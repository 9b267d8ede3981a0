"""Make the index match a folder: add new files, re-chunk changed ones, drop deleted ones, publish atomically."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np

from ingest.analyzer import analyze
from ingest.calibration import calibrate
from ingest.checksums import sha256_file
from ingest.chunker import chunk_document, embedding_text
from ingest.documents import Chunk, Document
from ingest.embedder import Embedder
from ingest.embedding_cache import EmbeddingCache, embed_queries_with_cache, embed_with_cache
from ingest.errors import IngestError
from ingest.language import detect_language
from ingest.loaders import SUPPORTED_SUFFIXES, load_document
from ingest.parse_server import ParseServer
from ingest.store.bm25_index import BM25Index
from ingest.store.faiss_index import FaissVectorIndex
from ingest.store.layout import IndexCorrupt, IndexStore, LoadedIndex, ids_of, new_version_name
from ingest.store.manifest import DocumentRecord, FailureRecord, Manifest
from ingest.store.sentence_index import SentenceIndex, embed_sentences, quotable_spans

log = logging.getLogger(__name__)
SIDECAR_SUFFIX = ".meta.json"
# Bump when loaders or the chunker change the passages they produce, so indexes get rebuilt.
PIPELINE_VERSION = 5


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
    max_file_bytes: int = 50_000_000
    parse_timeout_s: float = 60.0
    parse_memory_bytes: int = 2 << 30
    chunk_max_tokens: int = 200
    chunk_min_tokens: int = 40
    languages: tuple[str, ...] = ("en", "fi", "pl", "th")
    keep_versions: int = 3

    def fingerprint(self) -> str:
        """What decides the passages a file yields; an index built with another one is rebuilt."""
        return f"{PIPELINE_VERSION}:{self.chunk_max_tokens}:{self.chunk_min_tokens}:{','.join(self.languages)}"


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
        return asdict(self)

    @property
    def complete(self) -> bool:
        return not self.failed


@dataclass
class _Scanned:
    source: str
    path: Path
    sha256: str
    size: int
    meta: dict[str, list[str]]


def _read_sidecar(path: Path) -> tuple[dict[str, list[str]], bytes]:
    """Optional `<file>.meta.json` beside a document: {"tags": [...], "groups": [...]}."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.exists():
        return {}, b""
    raw = sidecar.read_bytes()
    data = json.loads(raw)
    # Strict: a misspelt sidecar must not silently make a restricted document public.
    if not isinstance(data, dict) or any(
        not isinstance(data.get(k, []), list) or not all(isinstance(v, str) for v in data.get(k, []))
        for k in ("tags", "groups")
    ):
        raise ValueError(f'{sidecar.name} must be {{"tags": ["..."], "groups": ["..."]}} with lists of strings')
    return {k: list(data.get(k, [])) for k in ("tags", "groups")}, raw


def _content_hash(path: Path, sidecar: bytes) -> str:
    """SHA-256 of the file then its sidecar: a metadata change re-indexes the file."""
    return sha256_file(path, b"\x00" + sidecar)


def scan(root: Path) -> tuple[list[_Scanned], list[FailureRecord]]:
    """Every non-hidden file under root with its content hash (sidecar metadata included)."""
    found, failures = [], []
    base = root.resolve()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        source = relative.as_posix()
        # A link to a file elsewhere would publish it to every agent; the document route refuses it too.
        if not path.resolve().is_relative_to(base):
            message = f"{source} is a link to a file outside the folder; copy the file in instead."
            failures.append(FailureRecord(source, "outside_folder", message))
            continue
        try:
            meta, sidecar = _read_sidecar(path)
            digest = _content_hash(path, sidecar)
        except (OSError, ValueError) as exc:
            failures.append(FailureRecord(source, "unreadable", f"{source} could not be read: {exc}"))
            continue
        found.append(_Scanned(source, path, digest, path.stat().st_size, meta))
    return found, failures


# The loader the parse server runs for each file, by reference: the real one imports only the loaders.
_load = load_document


def prepare_chunks(doc: Document, embedder: Embedder, options: SyncOptions) -> list[Chunk]:
    """Detect the document's language, then cut it into passages sized in the model's tokens."""
    languages = options.languages
    doc.language = detect_language(doc.text, languages)
    return chunk_document(
        doc,
        embedder.count_tokens,
        options.chunk_max_tokens,
        options.chunk_min_tokens,
        language_of=lambda text: detect_language(text, languages, default=doc.language or "en"),
    )


def _load_previous(store: IndexStore) -> LoadedIndex | None:
    """The live version to update, or None to build from scratch (nothing yet, or it is corrupt)."""
    if not store.current_version():
        return None
    try:
        return store.load()
    except IndexCorrupt as exc:
        log.error("%s; rebuilding the index from the folder", exc)
        return None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sync_folder(
    root: Path,
    store: IndexStore,
    embedder: Embedder,
    model_id: str,
    cache: EmbeddingCache,
    options: SyncOptions | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Bring the index at `store` in line with the files under `root` and publish the result.

    `embedder` may load its model lazily: it is not touched when nothing needs embedding.
    """
    options = options or SyncOptions()
    progress = progress or NullProgress()
    root = root.resolve()
    report = SyncReport()
    with store.lock(), ParseServer() as parser:
        store.collect_garbage(options.keep_versions)
        previous = _load_previous(store)
        pipeline = options.fingerprint()
        # Another model or another chunking means no old passage can be reused: rebuild everything.
        same_model = (
            previous is not None and previous.manifest.model == model_id and previous.manifest.pipeline == pipeline
        )
        old_docs = previous.manifest.documents if previous and same_model else {}
        files, report.failed = scan(root)
        progress.begin("files", len(files))

        new_chunks: list[Chunk] = []
        records: dict[str, DocumentRecord] = {}
        stale_sources: set[str] = set()
        for item in files:
            old = old_docs.get(item.source)
            if old is not None and old.sha256 == item.sha256:
                records[item.source] = old
                report.unchanged.append(item.source)
                progress.advance("files")
                continue
            try:
                if Path(item.source).suffix.lower() not in SUPPORTED_SUFFIXES:
                    # Raises UnsupportedFormat at once; no child process needed for that.
                    doc = load_document(item.path, item.source, options.max_file_bytes)
                else:
                    doc = parser.parse(
                        _load,
                        (item.path, item.source, options.max_file_bytes),
                        item.source,
                        options.parse_timeout_s,
                        options.parse_memory_bytes,
                    )
                chunks = prepare_chunks(doc, embedder, options)
            except IngestError as exc:
                report.failed.append(FailureRecord(item.source, exc.reason, exc.message))
                log.warning("skipping %s: %s", item.source, exc.message)
                if old is not None:
                    # Keep serving the last good version of a file that is now unreadable.
                    records[item.source] = old
                progress.advance("files")
                continue
            (report.updated if old is not None else report.added).append(item.source)
            if old is not None:
                stale_sources.add(item.source)
            new_chunks.extend(chunks)
            records[item.source] = DocumentRecord(
                sha256=item.sha256,
                chunks=len(chunks),
                title=doc.title,
                language=doc.language or "und",
                bytes=item.size,
                indexed_at=_now(),
                tags=item.meta.get("tags", []),
                groups=item.meta.get("groups", []),
            )
            progress.advance("files")

        report.removed = sorted(set(old_docs) - set(records))
        stale_sources.update(report.removed)
        changed = report.added or report.updated or report.removed or not same_model
        failures_same = previous is not None and previous.manifest.failures == report.failed
        if previous is not None and not changed and failures_same:
            report.chunks = previous.manifest.chunk_count
            report.index_version = previous.version
            return report

        progress.begin("chunks", len(new_chunks))
        progress.advance("chunks", len(new_chunks))
        texts = [embedding_text(c) for c in new_chunks]
        # Passages, then their sentences (what answers quote and highlight), as one embedding stage.
        sentence_count = sum(len(quotable_spans(c.text)) for c in new_chunks)
        progress.begin("embedding", len(texts) + sentence_count)

        def advance(n: int) -> None:
            progress.advance("embedding", n)

        vectors, report.embedded = embed_with_cache(embedder, cache, texts, progress=advance)
        sentence_spans, sentence_vectors = embed_sentences(
            new_chunks,
            lambda sentences: embed_with_cache(embedder, cache, sentences, progress=advance)[0],
            embedder.dim,
        )
        new_ids = ids_of(new_chunks)
        if previous is not None and same_model:
            kept = [c for c in previous.chunks.values() if c.source not in stale_sources]
            vector_index, keyword_index = previous.vectors, previous.keywords
            sentence_index = previous.sentences
            stale_ids = np.array([i for i, c in previous.chunks.items() if c.source in stale_sources], dtype=np.int64)
            vector_index.remove(stale_ids)
            keyword_index.remove(stale_ids)
            sentence_index.keep_only(i for i, c in previous.chunks.items() if c.source not in stale_sources)
        else:
            kept = []
            vector_index, keyword_index = FaissVectorIndex(embedder.dim), BM25Index()
            sentence_index = SentenceIndex(embedder.dim)
        vector_index.add(new_ids, vectors)
        keyword_index.add(new_ids, [analyze(t, c.language) for t, c in zip(texts, new_chunks, strict=True)])
        sentence_index.add(new_ids.tolist(), sentence_spans, sentence_vectors)

        all_chunks = kept + new_chunks
        manifest = Manifest(
            index_version=new_version_name(),
            model=model_id,
            dimensions=vector_index.dim,
            created_at=_now(),
            root=str(root),
            documents=dict(sorted(records.items())),
            failures=report.failed,
            pipeline=pipeline,
        )
        calibration = calibrate(
            lambda questions: embed_queries_with_cache(embedder, cache, questions),
            vector_index,
            keyword_index,
            sentence_index,
            options.languages,
        )
        manifest.calibration = calibration.to_dict() if calibration is not None else None
        store.write_version(manifest, all_chunks, vector_index, keyword_index, sentence_index)
        store.publish(manifest.index_version)
        store.collect_garbage(options.keep_versions)
        report.chunks = len(all_chunks)
        report.index_version = manifest.index_version
        return report
