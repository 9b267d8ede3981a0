"""A flat FAISS version keeps its passage vectors in the shared segments: a change writes only its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from assistant.components import build_sync_options
from assistant.settings import Settings
from ingest.checksums import sha256_file
from ingest.store import segments
from ingest.store.durable import file_stat
from ingest.store.layout import IndexCorrupt, IndexStore, LoadedIndex, new_version_name
from ingest.store.manifest import FORMAT_VERSION, SEGMENTS_FORMAT, Manifest
from ingest.store.segment_vectors import IDS_FILE, VECTORS_FILE
from ingest.sync import SyncOptions, sync_folder
from tests.conftest import write_corpus

GIFT = "# Gift wrapping\n\nGift wrapping costs 5 euros per parcel."
QUERIES = ["refund within 30 days", "toimitus arkipäivässä", "faktura VAT", "gift wrapping price", "สงกรานต์"]
EXTRAS = {f"extra{n}.md": f"# Extra {n}\n\nExtra page {n} about parcels and lockers." for n in range(6)}


def from_scratch(corpus: Path, tmp_path: Path, embedder, cache) -> LoadedIndex:
    store = IndexStore(tmp_path / "scratch")
    sync_folder(corpus, store, embedder, cache)
    return store.load()


def same_search(index: LoadedIndex, reference: LoadedIndex, embedder) -> None:
    """Every query finds the same passages with the same scores in both."""
    assert index.vectors.count() == reference.vectors.count() == len(reference.chunks)
    for query in QUERIES:
        vector = embedder.embed_query(query)
        ids, scores = index.vectors.search(vector, len(reference.chunks))
        expected_ids, expected_scores = reference.vectors.search(vector, len(reference.chunks))
        assert list(ids) == list(expected_ids)
        assert np.allclose(scores, expected_scores, atol=1e-6)


def rows(store: IndexStore, segment: str) -> tuple[np.ndarray, np.ndarray]:
    folder = store.segments / segment
    return np.load(folder / IDS_FILE), np.load(folder / VECTORS_FILE)


def version_files(store: IndexStore) -> set[str]:
    return {p.name for version in store.finished_versions() for p in (store.versions / version).iterdir()}


def threshold(above: int) -> SyncOptions:
    return build_sync_options(Settings(vector_approximate_above=above))


def test_a_one_file_resync_writes_no_vector_file_and_only_the_changed_passages_vectors(
    corpus, store, embedder, cache, tmp_path
) -> None:
    first = sync_folder(corpus, store, embedder, cache).index_version
    before = store.load()
    untouched = {p.name: file_stat(p) for p in (store.segments / first).iterdir()}
    path = corpus / "returns.md"
    path.write_text(path.read_text() + "\n\n## Exchanges\n\nExchanges are free within 14 days.", encoding="utf-8")
    second = sync_folder(corpus, store, embedder, cache).index_version
    after = store.load()
    assert after.manifest.format_version == FORMAT_VERSION and after.manifest.vectors_in_segments
    assert "vectors.faiss" not in version_files(store)
    assert [s.name for s in after.manifest.segments] == [first, second]
    changed = sorted(i for i, c in after.chunks.items() if before.chunks.get(i) != c)
    ids, vectors = rows(store, second)
    assert sorted(ids.tolist()) == changed and 0 < len(changed) < len(after.chunks)
    assert np.allclose(vectors, after.vectors.vectors(ids), atol=1e-6)
    # The first segment's vectors are shared, not rewritten.
    assert {p.name: file_stat(p) for p in (store.segments / first).iterdir()} == untouched
    same_search(after, from_scratch(corpus, tmp_path, embedder, cache), embedder)


def test_a_removed_file_is_hidden_by_the_deletion_list_its_vectors_stay_on_disk(
    corpus, store, embedder, cache, tmp_path
) -> None:
    first = sync_folder(corpus, store, embedder, cache).index_version
    gone = [i for i, c in store.load().chunks.items() if c.source == "toimitus.md"]
    (corpus / "toimitus.md").unlink()
    sync_folder(corpus, store, embedder, cache)
    loaded = store.load()
    assert [s.name for s in loaded.manifest.segments] == [first] and loaded.manifest.segments[0].deleted
    assert set(gone) <= set(rows(store, first)[0].tolist())
    found, _ = loaded.vectors.search(embedder.embed_query("Toimitamme tilaukset Postin noutopisteisiin"), 100)
    assert len(found) == len(loaded.chunks) and not set(gone) & set(found.tolist())
    same_search(loaded, from_scratch(corpus, tmp_path, embedder, cache), embedder)


def write_format_2(store: IndexStore, index: LoadedIndex) -> str:
    """A version as format 2 wrote it: vectors.faiss in its folder, segments without passage vectors."""
    version = new_version_name()
    chunks = list(index.chunks.values())
    record = segments.write_segment(store.segments, version, chunks, index.sentences, list(index.chunks))
    folder = store.versions / version
    folder.mkdir()
    files = [*index.vectors.save(folder), *index.keywords.save(folder)]
    data = json.loads(index.manifest.to_json())
    data.update(index_version=version, format_version=SEGMENTS_FORMAT, segments=[vars(record)])
    data.update(checksums={p.name: sha256_file(p) for p in files}, file_stats={p.name: file_stat(p) for p in files})
    del data["vectors_in_segments"]
    (folder / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    store.publish(version)
    return version


def test_a_format_2_version_still_serves_and_the_next_ingest_moves_its_vectors_into_a_segment(
    corpus, store, embedder, cache, tmp_path
) -> None:
    sync_folder(corpus, store, embedder, cache)
    built = store.load()
    old = write_format_2(store, built)
    loaded = store.load(old)
    assert loaded.manifest.format_version == SEGMENTS_FORMAT and not loaded.manifest.vectors_in_segments
    assert not (store.segments / old / VECTORS_FILE).exists()
    same_search(loaded, built, embedder)
    (corpus / "gift.md").write_text(GIFT, encoding="utf-8")
    report = sync_folder(corpus, store, embedder, cache)
    assert report.added == ["gift.md"]
    moved = store.load()
    # The old segment had no vectors: its passages, with their vectors, are written once into the new one.
    assert [s.name for s in moved.manifest.segments] == [report.index_version]
    assert sorted(rows(store, report.index_version)[0].tolist()) == sorted(moved.chunks)
    assert not (store.versions / report.index_version / "vectors.faiss").exists()
    same_search(moved, from_scratch(corpus, tmp_path, embedder, cache), embedder)


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", [VECTORS_FILE, IDS_FILE])
def test_a_corrupt_passage_vectors_file_is_refused(corpus, store, embedder, cache, name) -> None:
    version = sync_folder(corpus, store, embedder, cache).index_version
    flip_a_byte(store.segments / version / name)
    with pytest.raises(IndexCorrupt, match=name):
        store.load()
    # An ingest's quick check sees the new mtime and hashes the file again.
    with pytest.raises(IndexCorrupt, match=name):
        store.live_manifest()


def test_a_truncated_vectors_file_loaded_without_verifying_is_still_corrupt(corpus, store, embedder, cache) -> None:
    version = sync_folder(corpus, store, embedder, cache).index_version
    path = store.segments / version / VECTORS_FILE
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(IndexCorrupt, match="passage vectors"):
        store.load(verify=False)


def test_garbage_collection_removes_the_segments_and_vectors_no_kept_version_reads(
    corpus, store, embedder, cache
) -> None:
    written = []
    for n in range(6):
        (corpus / "extra.md").write_text(f"# Extra\n\nVersion {n} of the extra page.", encoding="utf-8")
        written.append(sync_folder(corpus, store, embedder, cache).index_version)
    kept = store.finished_versions()
    assert len(kept) == 3
    read = {s.name for version in kept for s in store.load(version).manifest.segments}
    assert {p.name for p in store.segments.iterdir()} == read
    assert not read & set(written[1:3])
    for version, n in zip(written[-3:], range(3, 6), strict=True):
        loaded = store.load(version)
        top = loaded.vectors.search(embedder.embed_query(f"Version {n} of the extra page."), 1)[0][0]
        assert loaded.chunks[int(top)].text.endswith(f"Version {n} of the extra page.")


def test_flat_to_ivf_and_back_as_the_collection_grows_past_the_threshold_and_shrinks(
    corpus, store, embedder, cache, tmp_path
) -> None:
    first = sync_folder(corpus, store, embedder, cache).index_version
    above = len(store.load().chunks)
    write_corpus(corpus, EXTRAS)
    grown = sync_folder(corpus, store, embedder, cache, threshold(above)).index_version
    ivf = store.load()
    assert ivf.manifest.backends["vectors"]["kind"] == "ivf" and not ivf.manifest.vectors_in_segments
    assert (store.versions / grown / "vectors.faiss").exists()
    assert not (store.segments / grown / VECTORS_FILE).exists()
    same_search(ivf, from_scratch(corpus, tmp_path / "grown", embedder, cache), embedder)
    for name in EXTRAS:
        (corpus / name).unlink()
    shrunk = sync_folder(corpus, store, embedder, cache, threshold(above)).index_version
    flat = store.load()
    assert flat.manifest.backends["vectors"]["kind"] == "flat" and flat.manifest.vectors_in_segments
    assert not (store.versions / shrunk / "vectors.faiss").exists()
    assert [s.name for s in flat.manifest.segments] == [first]
    same_search(flat, from_scratch(corpus, tmp_path / "shrunk", embedder, cache), embedder)


def test_a_flat_version_after_an_ivf_one_writes_the_vectors_its_segments_lack_once(
    corpus, store, embedder, cache, tmp_path
) -> None:
    first = sync_folder(corpus, store, embedder, cache, threshold(2)).index_version
    assert store.load().manifest.backends["vectors"]["kind"] == "ivf"
    assert not (store.segments / first / VECTORS_FILE).exists()
    (corpus / "gift.md").write_text(GIFT, encoding="utf-8")
    # Back to the default threshold: the IVF version's vectors move into a flat index.
    flat_version = sync_folder(corpus, store, embedder, cache, build_sync_options(Settings())).index_version
    flat = store.load()
    assert flat.manifest.backends["vectors"]["kind"] == "flat" and flat.manifest.vectors_in_segments
    assert [s.name for s in flat.manifest.segments] == [flat_version]
    assert sorted(rows(store, flat_version)[0].tolist()) == sorted(flat.chunks)
    same_search(flat, from_scratch(corpus, tmp_path, embedder, cache), embedder)
    # From then on a change writes only its own passages again.
    (corpus / "gift.md").write_text(GIFT + " Ribbons are free.", encoding="utf-8")
    later = sync_folder(corpus, store, embedder, cache).index_version
    assert [s.name for s in store.load().manifest.segments] == [flat_version, later]
    assert len(rows(store, later)[0]) == 1


def test_a_manifest_naming_vectors_its_segments_lack_is_refused(corpus, store, embedder, cache) -> None:
    version = sync_folder(corpus, store, embedder, cache).index_version
    path = store.versions / version / "manifest.json"
    manifest = Manifest.read(path.parent)
    record = manifest.segments[0]
    record.checksums = {k: v for k, v in record.checksums.items() if k not in (IDS_FILE, VECTORS_FILE)}
    path.write_text(manifest.to_json(), encoding="utf-8")
    (store.segments / version / VECTORS_FILE).unlink()
    with pytest.raises(IndexCorrupt, match="passage vectors"):
        store.load()


def test_loading_again_and_again_leaves_no_file_open(corpus, store, embedder, cache) -> None:
    sync_folder(corpus, store, embedder, cache)
    (corpus / "gift.md").write_text(GIFT, encoding="utf-8")
    sync_folder(corpus, store, embedder, cache)
    store.load()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(30):
        loaded = store.load()
        assert loaded.vectors.count() == len(loaded.chunks)
    del loaded
    assert len(os.listdir("/proc/self/fd")) <= before
