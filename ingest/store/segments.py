"""Append-only segments: passages and their sentences written once and shared by every version that keeps them.

An ingest that adds passages writes one new segment (its new passages and their sentences) and a
manifest listing the segments the version reads, each with the passages it no longer holds (a
deletion list): unchanged passages are never copied. Compaction (`shared_segments`) bounds what
that costs readers:
- when dead rows would pass half of the rows the version's segments store, every live passage is
  written into the new segment (a load would otherwise read, and a disk keep, mostly deleted rows);
- when the version would read more than MAX_SEGMENTS segments, every segment but the one holding
  the most live passages is merged into the new one (each segment is files to open, checksum and
  map at every load); the big one stays shared, so a merge costs the small segments, not the index.
A segment may also hold its passages' vectors (ingest.store.segment_vectors); a version whose vectors
live in its segments merges, once, every segment written without them.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ingest.documents import Chunk
from ingest.store import segment_vectors
from ingest.store.durable import fsync_dir, seal
from ingest.store.manifest import SegmentRecord
from ingest.store.sentence_index import SentenceIndex

DIR = "segments"
CHUNKS_FILE = "chunks.jsonl"
TMP_PREFIX = ".tmp-"
MAX_SEGMENTS = 8


def read_chunks(path: Path) -> Iterator[Chunk]:
    """The passages of a chunks.jsonl, in order (the one place they are parsed)."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield Chunk.from_dict(json.loads(line))


def write_segment(
    folder: Path,
    name: str,
    chunks: Sequence[Chunk],
    sentences: SentenceIndex,
    chunk_ints: Iterable[int],
    vectors: np.ndarray | None = None,
) -> SegmentRecord:
    """Write `chunks` (whose ids are `chunk_ints`), their sentences and, when given, their `vectors`
    (one row per chunk, in order) as segment `name` under `folder`.

    The files go to a temp folder, are checksummed and fsynced once, and the folder is renamed into
    place: a killed ingest leaves only a temp folder, which no manifest names.
    """
    ids = np.fromiter(chunk_ints, dtype=np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f"{TMP_PREFIX}{name}-{secrets.token_hex(3)}"
    tmp.mkdir()
    try:
        chunk_path = tmp / CHUNKS_FILE
        with chunk_path.open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
        files = [chunk_path, *sentences.save(tmp, ids)]
        if vectors is not None:
            files += segment_vectors.save(tmp, ids, vectors)
        checksums, stats = seal(files)
        fsync_dir(tmp)
        tmp.rename(folder / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(folder)
    return SegmentRecord(name, len(chunks), checksums, stats)


def shared_segments(segments: Sequence[SegmentRecord], live: Mapping[str, int], new_rows: int) -> set[str]:
    """Which segments the next version keeps reading; the live passages of the others are merged into
    its new segment (see the module docstring for when and why).

    Args:
        segments: the segments of the version the next one is written from.
        live: passages of each segment the next version still holds unchanged.
        new_rows: passages the next version adds (its new segment, before any merge).
    """
    holding = [s for s in segments if live.get(s.name, 0) > 0]
    stored = sum(s.passages for s in holding) + new_rows
    dead = sum(s.passages - live[s.name] for s in holding)
    if dead * 2 > stored:
        return set()
    if len(holding) + (1 if new_rows else 0) > MAX_SEGMENTS:
        return {max(holding, key=lambda s: live[s.name]).name}
    return {s.name for s in holding}


@dataclass
class Plan:
    """How the next version stores its passages."""

    shared: list[SegmentRecord]  # segments it keeps reading, each with its updated deletion list
    fresh: list[Chunk]  # passages its new segment holds: the new ones and those of merged segments
    merged: list[SegmentRecord]  # segments whose live passages are copied into the new one


def plan(
    records: Sequence[SegmentRecord],
    segment_ids: Mapping[str, np.ndarray],
    base_chunks: Mapping[int, Chunk],
    chunks: Sequence[Chunk],
    chunk_ints: Sequence[int],
    unshareable: Set[str] = frozenset(),
) -> Plan:
    """Which of the base version's segments (`records`, holding `segment_ids`) the next version, of
    `chunks` with ids `chunk_ints`, shares; and what its new segment must hold. Segments named in
    `unshareable` (those lacking the vectors the next version reads from its segments) are merged."""
    home = {i: name for name, ids in segment_ids.items() for i in ids.tolist()}
    unchanged: dict[str, set[int]] = {}
    for chunk, chunk_int in zip(chunks, chunk_ints, strict=True):
        name = home.get(chunk_int)
        # Shared only if the base holds this very passage: a re-chunked file may give a passage of
        # the same id at another offset.
        if name is not None and base_chunks.get(chunk_int) == chunk:
            unchanged.setdefault(name, set()).add(chunk_int)
    new_rows = len(chunks) - sum(len(v) for v in unchanged.values())
    keep = shared_segments(records, {k: len(v) for k, v in unchanged.items()}, new_rows) - unshareable
    shared = []
    for record in records:
        if record.name in keep:
            held = unchanged[record.name]
            gone = {base_chunks[i].chunk_id for i in segment_ids[record.name].tolist() if i not in held}
            shared.append(replace(record, deleted=sorted(set(record.deleted) | gone)))
    kept = set().union(*(unchanged[name] for name in keep))
    fresh = [c for c, i in zip(chunks, chunk_ints, strict=True) if i not in kept]
    merged = [r for r in records if r.name not in keep and r.name in unchanged]
    return Plan(shared, fresh, merged)


def collect(folder: Path, referenced: set[str]) -> None:
    """Delete every segment no kept version names, and the temp folders of killed ingests (under the writer lock)."""
    if not folder.exists():
        return
    for path in folder.iterdir():
        if path.name not in referenced:
            shutil.rmtree(path, ignore_errors=True)
