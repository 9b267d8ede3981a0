"""An ingest plans with the live manifest and file stats: unchanged files are not read, the index is not loaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.sources import folder
from ingest.store.layout import IndexStore
from ingest.sync import sync_folder
from tests.conftest import CORPUS


def ingest(corpus: Path, store: IndexStore, embedder, cache):
    return sync_folder(corpus, store, embedder, cache)


@pytest.fixture
def trusted(monkeypatch):
    """Files count as settled the moment they are written (the racy window is seconds in real use)."""
    monkeypatch.setattr(folder, "RACY_NS", 0)


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """The files the folder scan reads to hash them, from the moment the fixture is used."""
    seen: list[str] = []
    original = folder.sha256_file

    def counting(path: Path, suffix: bytes = b"") -> str:
        seen.append(path.name)
        return original(path, suffix)

    monkeypatch.setattr(folder, "sha256_file", counting)
    return seen


def test_unchanged_folder_reads_no_file_and_loads_no_index(
    trusted, corpus, store, embedder, cache, monkeypatch, hashed
) -> None:
    first = ingest(corpus, store, embedder, cache)
    hashed.clear()

    def refuse(*args, **kwargs):
        raise AssertionError("an unchanged re-sync loaded the index")

    monkeypatch.setattr(IndexStore, "load", refuse)
    again = ingest(corpus, store, embedder, cache)
    assert hashed == []
    assert sorted(again.unchanged) == sorted(CORPUS) and again.index_version == first.index_version


def test_an_edit_of_the_same_size_is_found_by_its_new_mtime(trusted, corpus, store, embedder, cache, hashed) -> None:
    ingest(corpus, store, embedder, cache)
    path = corpus / "returns.md"
    text = path.read_text(encoding="utf-8")
    changed = text.replace("30", "45", 1)
    assert changed != text and len(changed) == len(text)
    before = path.stat()
    path.write_text(changed, encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    hashed.clear()
    report = ingest(corpus, store, embedder, cache)
    assert report.updated == ["returns.md"] and hashed == ["returns.md"]
    assert any("45" in c.text for c in store.load().chunks.values() if c.source == "returns.md")


def test_a_sidecar_edit_is_found_by_its_stat(trusted, corpus, store, embedder, cache) -> None:
    ingest(corpus, store, embedder, cache)
    (corpus / "returns.md.meta.json").write_text('{"groups": ["internal"]}')
    assert ingest(corpus, store, embedder, cache).updated == ["returns.md"]
    assert store.load().manifest.documents["returns.md"].groups == ["internal"]


def test_files_written_just_before_the_ingest_are_hashed_again(corpus, store, embedder, cache, hashed) -> None:
    ingest(corpus, store, embedder, cache)
    hashed.clear()
    # Their mtime is within the racy window: a same-size edit in the same clock tick could hide.
    assert sorted(ingest(corpus, store, embedder, cache).unchanged) == sorted(CORPUS)
    assert sorted(hashed) == sorted(CORPUS)


def test_damage_the_quick_check_cannot_see_rebuilds_when_the_index_is_loaded(
    trusted, corpus, store, embedder, cache
) -> None:
    ingest(corpus, store, embedder, cache)
    vectors = store.segments / str(store.current_version()) / "passage_vectors.npy"
    stat = vectors.stat()
    data = bytearray(vectors.read_bytes())
    data[len(data) // 2] ^= 0xFF
    vectors.write_bytes(bytes(data))
    # Same size, and the mtime put back: only reading the file shows the damage.
    os.utime(vectors, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    (corpus / "gift.md").write_text("# Gift wrapping\n\nGift wrapping costs 5 euros per parcel.", encoding="utf-8")
    report = ingest(corpus, store, embedder, cache)
    assert sorted(report.added) == sorted([*CORPUS, "gift.md"]) and report.complete
    rebuilt = store.load()
    assert rebuilt.vectors.count() == len(rebuilt.chunks)
