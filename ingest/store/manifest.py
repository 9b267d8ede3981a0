"""The manifest: what an index version holds, what built it, and checksums of its files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# 3: a flat FAISS version keeps no vectors.faiss; its segments hold their passages' vectors
# (ingest.store.segment_vectors). 2: passages and their sentences live in shared segments
# (ingest.store.segments), listed by each manifest. 1: each version folder held a full copy of them.
# All three are read (ingest.store.layout).
FORMAT_VERSION = 3
SEGMENTS_FORMAT = 2
LEGACY_FORMAT = 1
READABLE_FORMATS = (FORMAT_VERSION, SEGMENTS_FORMAT, LEGACY_FORMAT)
FILE = "manifest.json"


@dataclass
class DocumentRecord:
    """One indexed document. `sha256` is of its bytes; `chunks` is how many passages it gave.

    Documents from a configured source (ingest/sources) also record which source brought them
    (`origin`), the source's own id and version of the item, and the live URL citations open.
    A folder ingested with `assistant ingest` has origin "" and no url.
    """

    sha256: str
    chunks: int
    title: str | None
    language: str
    bytes: int
    indexed_at: str
    tags: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    origin: str = ""
    item_id: str = ""
    version: str = ""
    url: str | None = None
    stat: str = ""  # folder files: size, times and inode when indexed (ingest.sources.folder.stat_signature)


@dataclass
class FailureRecord:
    source: str
    reason: str
    message: str
    origin: str = ""  # the configured source whose item failed; "" for `assistant ingest FOLDER`


@dataclass
class SegmentRecord:
    """A shared segment a version reads: its files' checksums and stamps as written, how many passages
    it stores, and which of them (chunk ids) this version no longer holds."""

    name: str
    passages: int
    checksums: dict[str, str]
    file_stats: dict[str, str]
    deleted: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    index_version: str
    model: str
    dimensions: int
    created_at: str
    root: str
    format_version: int = FORMAT_VERSION
    documents: dict[str, DocumentRecord] = field(default_factory=dict)
    failures: list[FailureRecord] = field(default_factory=list)
    checksums: dict[str, str] = field(default_factory=dict)
    # Size and mtime of each checksummed file as written: a file still matching is trusted by the
    # ingest's quick check (IndexStore.live_manifest); the service always verifies checksums.
    file_stats: dict[str, str] = field(default_factory=dict)
    chunk_count: int = 0
    pipeline: str = ""  # SyncOptions.fingerprint() of the ingest that built it
    # ingest.calibration.Calibration.to_dict(): the collection's null evidence per question language
    calibration: dict[str, Any] | None = None
    # Per configured source: {"kind", "state"}; state is the source's own memory (ETags, cursors),
    # published with the documents it describes so the two never disagree.
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    # ingest.store.backends.describe(): {"vectors": {name, kind, params}, "keywords": {name, params}};
    # empty in versions written before it, which were built by the default backends.
    backends: dict[str, Any] = field(default_factory=dict)
    # The segments holding this version's passages, oldest first; empty in format-1 versions.
    segments: list[SegmentRecord] = field(default_factory=list)
    # Whether the passage vectors are the segments' own rows (no vector file in the version folder);
    # False in versions of formats 1 and 2, and for backends that cannot share them (IVF, Qdrant).
    vectors_in_segments: bool = False

    def to_json(self) -> str:
        # What asdict gives, built shallowly: asdict deep-copies every record (seconds at 10k documents).
        data = dict(vars(self))
        data["documents"] = {k: vars(v) for k, v in self.documents.items()}
        data["failures"] = [vars(f) for f in self.failures]
        data["segments"] = [vars(s) for s in self.segments]
        return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        data = dict(data)
        data["documents"] = {k: DocumentRecord(**v) for k, v in data.get("documents", {}).items()}
        data["failures"] = [FailureRecord(**f) for f in data.get("failures", [])]
        data["segments"] = [SegmentRecord(**s) for s in data.get("segments", [])]
        return cls(**data)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        return cls.from_dict(json.loads((folder / FILE).read_text(encoding="utf-8")))


def segment_names(folder: Path) -> list[str]:
    """The segments a version's manifest lists, without building its document records (what GC needs)."""
    data = json.loads((folder / FILE).read_text(encoding="utf-8"))
    return [str(s["name"]) for s in data.get("segments", [])]
