"""Versions share append-only segments: a change writes only its own passages, merges keep them few, GC is safe."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from ingest.checksums import sha256_file
from ingest.store import layout, segments
from ingest.store.durable import file_stat
from ingest.store.layout import IndexStore, LoadedIndex, chunk_int_id, new_version_name
from ingest.store.manifest import LEGACY_FORMAT, SegmentRecord
from ingest.store.sentence_index import SentenceIndex
from ingest.sync import sync_folder
from tests.conftest import CORPUS, write_corpus


def segment_names(store: IndexStore, version: str | None = None) -> list[str]:
    return [s.name for s in store.load(version).manifest.segments]


def same_content(index: LoadedIndex, reference: LoadedIndex) -> None:
    """The same passages with the same sentences, however they are stored."""
    assert index.chunks == reference.chunks
    for chunk_int in reference.chunks:
        mine, theirs = index.sentences.of(chunk_int), reference.sentences.of(chunk_int)
        assert np.array_equal(mine[0], theirs[0]) and np.array_equal(mine[1], theirs[1])


def from_scratch(corpus: Path, tmp_path: Path, embedder, cache) -> LoadedIndex:
    store = IndexStore(tmp_path / "scratch")
    sync_folder(corpus, store, embedder, cache)
    return store.load()


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_one_changed_file_writes_one_segment_of_its_own_passages(
    corpus, store, embedder, cache, tmp_path, monkeypatch
) -> None:
    first = sync_folder(corpus, store, embedder, cache).index_version
    before = store.load()
    old_ids = {c.chunk_id for c in before.chunks.values() if c.source == "returns.md"}
    untouched = stamps(store.segments / first)
    hashed: list[Path] = []
    monkeypatch.setattr(layout, "sha256_file", lambda path: hashed.append(path) or sha256_file(path))
    path = corpus / "returns.md"
    path.write_text(path.read_text() + "\n\n## Exchanges\n\nExchanges are free within 14 days.")
    second = sync_folder(corpus, store, embedder, cache).index_version
    hashed_by_ingest = list(hashed)
    after = store.load(second)
    manifest = after.manifest
    assert [s.name for s in manifest.segments] == [first, second]
    # Only the passages the edit changed are written again; an identical passage stays shared.
    changed = [c for i, c in after.chunks.items() if before.chunks.get(i) != c]
    assert {c.source for c in changed} == {"returns.md"} and 0 < len(changed) < len(after.chunks)
    new_rows = [json.loads(line)["chunk_id"] for line in (store.segments / second / "chunks.jsonl").open()]
    assert sorted(new_rows) == sorted(c.chunk_id for c in changed)
    assert set(manifest.segments[0].deleted) == {
        c for c in old_ids if c not in {x.chunk_id for x in after.chunks.values()}
    }
    assert stamps(store.segments / first) == untouched
    # The ingest never checksummed the old sentence files (only its passages and the indexes it rewrites).
    assert not [p for p in hashed_by_ingest if p.parent.name == first and p.name.startswith("sentence")]
    assert any(p.parent.name == first and p.name == "chunks.jsonl" for p in hashed_by_ingest)
    same_content(store.load(second), from_scratch(corpus, tmp_path, embedder, cache))


def test_a_removal_writes_no_segment_only_a_deletion_list(corpus, store, embedder, cache) -> None:
    first = sync_folder(corpus, store, embedder, cache).index_version
    gone = {c.chunk_id for c in store.load().chunks.values() if c.source == "toimitus.md"}
    (corpus / "toimitus.md").unlink()
    second = sync_folder(corpus, store, embedder, cache).index_version
    manifest = store.load(second).manifest
    assert [(s.name, set(s.deleted)) for s in manifest.segments] == [(first, gone)]
    assert not (store.segments / second).exists()
    assert all(c.source != "toimitus.md" for c in store.load().chunks.values())


def test_dead_rows_past_half_are_compacted_into_one_segment(corpus, store, embedder, cache, tmp_path) -> None:
    sync_folder(corpus, store, embedder, cache)
    for name in ("toimitus.md", "platnosci.md", "songkran.md"):
        (corpus / name).unlink()
    version = sync_folder(corpus, store, embedder, cache).index_version
    manifest = store.load(version).manifest
    assert [(s.name, s.deleted) for s in manifest.segments] == [(version, [])]
    assert manifest.segments[0].passages == len(store.load().chunks)
    same_content(store.load(), from_scratch(corpus, tmp_path, embedder, cache))


def test_past_max_segments_the_small_ones_merge_and_the_big_one_stays(
    corpus, store, embedder, cache, tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(segments, "MAX_SEGMENTS", 2)
    names = sorted(CORPUS)
    write_corpus(corpus, {f"extra{n}.md": f"# Extra {n}\n\nExtra page {n} about parcels." for n in range(6)})
    first = sync_folder(corpus, store, embedder, cache).index_version
    (corpus / names[0]).write_text("# Changed\n\nThe first changed page.", encoding="utf-8")
    second = sync_folder(corpus, store, embedder, cache).index_version
    assert segment_names(store) == [first, second]
    (corpus / names[1]).write_text("# Changed too\n\nThe second changed page.", encoding="utf-8")
    third = sync_folder(corpus, store, embedder, cache).index_version
    assert segment_names(store) == [first, third]
    merged = {json.loads(line)["source"] for line in (store.segments / third / "chunks.jsonl").open(encoding="utf-8")}
    assert merged == {names[0], names[1]}
    same_content(store.load(), from_scratch(corpus, tmp_path, embedder, cache))


def test_garbage_collection_keeps_exactly_the_segments_kept_versions_read(corpus, store, embedder, cache) -> None:
    for n in range(5):
        (corpus / "extra.md").write_text(f"# Extra\n\nVersion {n} of the extra page.")
        sync_folder(corpus, store, embedder, cache)
    # Leftovers of killed ingests: a partial segment under its temp name, and one renamed but never published.
    (store.segments / f"{segments.TMP_PREFIX}killed").mkdir()
    orphan = store.segments / new_version_name()
    orphan.mkdir()
    (orphan / "chunks.jsonl").write_text("{}\n")
    (corpus / "extra.md").write_text("# Extra\n\nThe last version of the extra page.")
    sync_folder(corpus, store, embedder, cache)
    kept = store.finished_versions()
    assert len(kept) == 3
    read = {name for version in kept for name in segment_names(store, version)}
    assert {p.name for p in store.segments.iterdir()} == read
    for version in kept:
        store.load(version)


def write_format_1(store: IndexStore, index: LoadedIndex) -> str:
    """A version as format 1 wrote it: passages and sentences.npz inside its own folder."""
    version = new_version_name()
    folder = store.versions / version
    folder.mkdir()
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as handle:
        for chunk in index.chunks.values():
            handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    ids = sorted(index.chunks)
    rows = [index.sentences.of(i) for i in ids]
    np.savez(
        folder / "sentences.npz",
        dim=np.array([index.sentences.dim]),
        ids=np.array(ids, dtype=np.int64),
        counts=np.array([len(s) for s, _ in rows], dtype=np.int64),
        spans=np.vstack([s for s, _ in rows]),
        vectors=np.vstack([v for _, v in rows]).astype(np.float16),
    )
    files = [folder / "chunks.jsonl", folder / "sentences.npz"]
    files += [*index.vectors.save(folder), *index.keywords.save(folder)]
    manifest = replace(
        index.manifest, index_version=version, format_version=LEGACY_FORMAT, segments=[], vectors_in_segments=False
    )
    manifest.checksums = {p.name: sha256_file(p) for p in files}
    manifest.file_stats = {p.name: file_stat(p) for p in files}
    (folder / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    store.publish(version)
    return version


def test_a_format_1_version_still_serves_and_the_next_ingest_moves_it_to_a_segment(
    corpus, store, embedder, cache, tmp_path
) -> None:
    sync_folder(corpus, store, embedder, cache)
    built = store.load()
    legacy = write_format_1(store, built)
    loaded = store.load(legacy)
    assert loaded.manifest.format_version == LEGACY_FORMAT and not loaded.segment_ids
    same_content(loaded, built)
    (corpus / "gift.md").write_text("# Gift wrapping\n\nGift wrapping costs 5 euros per parcel.", encoding="utf-8")
    report = sync_folder(corpus, store, embedder, cache)
    assert report.added == ["gift.md"]
    assert segment_names(store) == [report.index_version]
    same_content(store.load(), from_scratch(corpus, tmp_path, embedder, cache))


def record(name: str, passages: int) -> SegmentRecord:
    return SegmentRecord(name, passages, {}, {})


def test_shared_segments_follows_the_two_compaction_rules(monkeypatch) -> None:
    monkeypatch.setattr(segments, "MAX_SEGMENTS", 3)
    base = [record("a", 100), record("b", 10)]
    # One passage replaced: both stay shared.
    assert segments.shared_segments(base, {"a": 99, "b": 10}, 1) == {"a", "b"}
    # A segment with no live passage is dropped, the rest stays.
    assert segments.shared_segments(base, {"a": 100}, 0) == {"a"}
    # 56 dead of 110 stored: more than half, so everything is rewritten.
    assert segments.shared_segments(base, {"a": 44, "b": 10}, 0) == set()
    # A fourth segment would pass MAX_SEGMENTS: all but the biggest merge into the new one.
    three = [*base, record("c", 5)]
    assert segments.shared_segments(three, {"a": 100, "b": 10, "c": 5}, 2) == {"a"}
    assert segments.shared_segments(three, {"a": 100, "b": 10, "c": 5}, 0) == {"a", "b", "c"}


def unit_rows(n: int, dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float16)


def test_the_packed_sentence_index_returns_what_was_added(tmp_path) -> None:
    index = SentenceIndex(4)
    spans = [np.array([[0, 9], [10, 30]], dtype=np.int32), np.zeros((0, 2), dtype=np.int32), np.array([[3, 12]])]
    vectors = [unit_rows(2, 4, 1), unit_rows(0, 4, 2), unit_rows(1, 4, 3)]
    index.add([30, 10, 20], spans, vectors)
    for chunk_int, s, v in zip([30, 10, 20], spans, vectors, strict=True):
        got_spans, got_vectors = index.of(chunk_int)
        assert np.array_equal(got_spans, s) and got_vectors.dtype == np.float32
        assert np.array_equal(got_vectors, v.astype(np.float32))
    assert index.of(99)[0].shape == (0, 2) and index.of(99)[1].shape == (0, 4)
    assert index.count() == 3
    # Added again, a passage gets its new rows; keep_only forgets the others.
    index.add([20], [np.array([[1, 2]])], [unit_rows(1, 4, 4)])
    assert np.array_equal(index.of(20)[0], [[1, 2]])
    index.keep_only([20, 30])
    assert index.of(10)[0].shape == (0, 2) and index.count() == 3
    # Saved and mapped back, the same values; saving a subset keeps only those passages.
    index.save(tmp_path)
    mapped = SentenceIndex.load(tmp_path, mmap=True)
    for chunk_int in (20, 30):
        assert all(np.array_equal(a, b) for a, b in zip(mapped.of(chunk_int), index.of(chunk_int), strict=True))
    (tmp_path / "subset").mkdir()
    index.save(tmp_path / "subset", [30])
    subset = SentenceIndex.load(tmp_path / "subset")
    assert subset.count() == 2 and subset.of(20)[0].shape == (0, 2)


@pytest.mark.parametrize("mmap", [False, True])
def test_a_loaded_index_reads_sentences_from_every_segment(corpus, store, embedder, cache, mmap) -> None:
    sync_folder(corpus, store, embedder, cache)
    (corpus / "gift.md").write_text("# Gift wrapping\n\nGift wrapping costs 5 euros per parcel.", encoding="utf-8")
    sync_folder(corpus, store, embedder, cache)
    index = store.load(map_sentences=mmap)
    assert len(index.segment_ids) == 2
    gift = next(i for i, c in index.chunks.items() if c.source == "gift.md")
    spans, vectors = index.sentences.of(gift)
    assert len(spans) == len(vectors) > 0 and chunk_int_id(index.chunks[gift].chunk_id) == gift
