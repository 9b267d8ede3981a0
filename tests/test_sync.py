"""Ingest keeps the index in step with the folder: add, change, delete, unchanged, bad files, kills."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from ingest.embedding_cache import EmbeddingCache
from ingest.store.layout import IndexCorrupt, IndexStore
from ingest.sync import sync_folder
from tests.conftest import CORPUS
from tests.fakes import FakeEmbedder


def ingest(root: Path, store: IndexStore, embedder: FakeEmbedder, cache: EmbeddingCache):
    return sync_folder(root, store, embedder, cache)


def test_first_ingest_adds_every_file(corpus, store, embedder, cache) -> None:
    report = ingest(corpus, store, embedder, cache)
    assert sorted(report.added) == sorted(CORPUS)
    assert report.failed == [] and report.complete
    index = store.load()
    assert index.version == report.index_version
    assert {c.source for c in index.chunks.values()} == set(CORPUS)
    assert report.chunks == len(index.chunks) == index.vectors.count() == index.keywords.count()
    assert {index.manifest.documents[s].language for s in CORPUS} == {"en", "fi", "pl", "th"}


def test_a_linked_folder_outside_the_folder_is_never_indexed(corpus, store, embedder, cache, tmp_path) -> None:
    outside = tmp_path / "outside-hr"
    outside.mkdir()
    (outside / "salaries.md").write_text("# Salaries\n\nEvery salary of the company, by name.")
    (corpus / "hr").symlink_to(outside, target_is_directory=True)
    report = sync_folder(corpus, store, embedder, cache)
    assert not any(source.startswith("hr/") for source in report.added) and not report.failed
    assert all("Salaries" not in c.text for c in store.load().chunks.values())


def test_a_link_to_a_file_outside_the_folder_is_reported_not_indexed(corpus, store, embedder, cache, tmp_path) -> None:
    secret = tmp_path / "outside" / "salaries.md"
    secret.parent.mkdir()
    secret.write_text("# Salaries\n\nCANARY-OUTSIDE-4411 the chief executive earns a lot.", encoding="utf-8")
    (corpus / "salaries.md").symlink_to(secret)
    (corpus / "inside-link.md").symlink_to(corpus / "returns.md")
    report = ingest(corpus, store, embedder, cache)
    assert [(f.source, f.reason) for f in report.failed] == [("salaries.md", "outside_folder")]
    assert "outside the folder" in report.failed[0].message
    index = store.load()
    assert "salaries.md" not in index.manifest.documents and "inside-link.md" in index.manifest.documents
    assert not any("CANARY-OUTSIDE" in c.text for c in index.chunks.values())


def test_unchanged_folder_embeds_nothing_and_keeps_the_version(corpus, store, embedder, cache) -> None:
    first = ingest(corpus, store, embedder, cache)
    embedder.embedded.clear()
    again = ingest(corpus, store, embedder, cache)
    assert sorted(again.unchanged) == sorted(CORPUS)
    assert again.added == again.updated == again.removed == []
    assert again.embedded == 0 and embedder.embedded == []
    assert again.index_version == first.index_version


def test_the_lazy_embedder_stays_unloaded_when_nothing_needs_embedding(corpus, store, embedder, cache) -> None:
    from ingest.embedder import LazyEmbedder

    ingest(corpus, store, embedder, cache)

    def load_the_model() -> FakeEmbedder:
        raise AssertionError("the model was loaded although nothing needed embedding")

    lazy = LazyEmbedder(load_the_model, embedder.model_id)
    assert sync_folder(corpus, store, lazy, cache).unchanged == sorted(CORPUS)
    # A removal writes a new version from the kept passages: still nothing to embed.
    (corpus / "toimitus.md").unlink()
    assert sync_folder(corpus, store, lazy, cache).removed == ["toimitus.md"]


def test_changed_file_is_rechunked_and_only_new_text_is_embedded(corpus, store, embedder, cache) -> None:
    ingest(corpus, store, embedder, cache)
    embedder.embedded.clear()
    path = corpus / "returns.md"
    path.write_text(path.read_text() + "\n\n## Exchanges\n\nExchanges are free within 14 days.")
    report = ingest(corpus, store, embedder, cache)
    assert report.updated == ["returns.md"]
    assert report.embedded == 1 and "Exchanges are free within 14 days." in embedder.embedded[0]
    texts = [c.text for c in store.load().chunks.values()]
    assert "Exchanges are free within 14 days." in texts


def test_deleted_file_disappears_from_every_index(corpus, store, embedder, cache) -> None:
    ingest(corpus, store, embedder, cache)
    (corpus / "toimitus.md").unlink()
    report = ingest(corpus, store, embedder, cache)
    assert report.removed == ["toimitus.md"]
    index = store.load()
    assert "toimitus.md" not in index.manifest.documents
    assert all(c.source != "toimitus.md" for c in index.chunks.values())
    assert index.vectors.count() == index.keywords.count() == len(index.chunks)


def test_bad_files_are_reported_and_the_rest_is_indexed(corpus, store, embedder, cache) -> None:
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj garbage")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "image.png").write_bytes(b"\x89PNG\r\n")
    report = ingest(corpus, store, embedder, cache)
    failed = {f.source: f.reason for f in report.failed}
    assert failed == {"broken.pdf": "corrupt", "empty.txt": "empty", "image.png": "unsupported_format"}
    assert sorted(report.added) == sorted(CORPUS)
    assert not report.complete
    assert [f.source for f in store.load().manifest.failures] == sorted(failed)


def test_file_that_turns_unreadable_keeps_its_last_good_version(corpus, store, embedder, cache) -> None:
    ingest(corpus, store, embedder, cache)
    (corpus / "returns.md").write_bytes(b"\xff\xfe\x00\x00" * 100 + b"\x00\x01\x02" * 50)
    report = ingest(corpus, store, embedder, cache)
    assert [f.source for f in report.failed] == ["returns.md"]
    assert any(c.source == "returns.md" for c in store.load().chunks.values())


def test_sidecar_metadata_sets_tags_and_changes_trigger_update(corpus, store, embedder, cache) -> None:
    (corpus / "returns.md.meta.json").write_text(json.dumps({"tags": ["policy"], "groups": ["agents"]}))
    ingest(corpus, store, embedder, cache)
    record = store.load().manifest.documents["returns.md"]
    assert (record.tags, record.groups) == (["policy"], ["agents"])
    (corpus / "returns.md.meta.json").write_text(json.dumps({"tags": ["policy", "eu"]}))
    assert ingest(corpus, store, embedder, cache).updated == ["returns.md"]


def test_other_model_rebuilds_everything(corpus, store, embedder, cache) -> None:
    ingest(corpus, store, embedder, cache)
    other = FakeEmbedder(dim=16, model_id="other-model")
    report = sync_folder(corpus, store, other, cache)
    assert sorted(report.added) == sorted(CORPUS)
    assert store.load().manifest.model == "other-model"


def test_corrupted_index_file_is_refused(corpus, store, embedder, cache) -> None:
    ingest(corpus, store, embedder, cache)
    version = store.current_version()
    vectors = store.segments / str(version) / "passage_vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-5] ^= 0xFF
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt, match="passage_vectors.npy"):
        store.load()


def test_old_versions_are_collected(corpus, store, embedder, cache) -> None:
    for n in range(5):
        (corpus / "extra.md").write_text(f"# Extra\n\nVersion {n} of the extra page.")
        ingest(corpus, store, embedder, cache)
    names = [p.name for p in store.versions.iterdir()]
    assert len(names) == 3 and store.current_version() in names


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ingest.embedding_cache import EmbeddingCache
    from ingest.store.layout import IndexStore
    from ingest.sync import sync_folder
    from tests.fakes import FakeEmbedder
    emb = FakeEmbedder()
    sync_folder(Path(sys.argv[1]), IndexStore(Path(sys.argv[2])), emb,
                EmbeddingCache(Path(sys.argv[3])))
    """
)


QUESTIONS = ["How many days do I have to return an item?", "Jak zapłacić BLIKIEM?", "Kuinka kauan toimitus kestää?"]


def _answers(service) -> tuple[set[str], list[list[tuple[str, float]]]]:
    """What a serving process answers right now: the versions that answered, each question's hits and scores."""
    versions = set()
    hits = []
    for question in QUESTIONS:
        result, version = service.search(question, 5)
        versions.add(version)
        hits.append([(h.chunk.chunk_id, round(h.score, 6)) for h in result.hits])
    return versions, hits


def _answers_once_caught_up(service, version: str | None, timeout_s: float = 10.0):
    """The service reloads a newly published version in the background; wait until it serves `version`."""
    deadline = time.monotonic() + timeout_s
    while True:
        answers = _answers(service)
        if answers[0] == {version} or time.monotonic() > deadline:
            assert answers[0] == {version}, f"the service still serves {answers[0]}, not {version}"
            return answers
        time.sleep(0.05)


@pytest.mark.slow
def test_sigkill_during_ingest_keeps_the_previous_version_serving(corpus, store, embedder, cache, tmp_path) -> None:
    from assistant.service import KnowledgeService, ServiceConfig

    ingest(corpus, store, embedder, cache)
    # A process that was serving before the kills and keeps serving through them.
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
    service.load()
    rng = random.Random(1)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    command = [sys.executable, "-c", KILL_SCRIPT, str(corpus), str(store.root), str(tmp_path / "kc.sqlite")]

    def change_pages(trial: int) -> None:
        # Every trial changes 40 pages, so each killed ingest has real work in hand when it dies.
        for n in range(40):
            (corpus / f"page{n}.md").write_text(f"# Page {n}\n\n" + f"Sentence {n} of round {trial}. " * 30)

    # How long one whole ingest takes on this machine now, so the kills land before and after its
    # publish on a loaded machine as on a quiet one.
    change_pages(-1)
    started = time.monotonic()
    subprocess.run(command, env=env, check=True)
    whole = time.monotonic() - started
    kept_previous = 0
    for trial in range(20):
        live = store.current_version()
        served = _answers_once_caught_up(service, live)
        change_pages(trial)
        proc = subprocess.Popen(command, env=env)
        time.sleep(rng.uniform(0.1, 1.5) * whole)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        loaded = store.load()  # never raises: CURRENT always names a complete version
        assert loaded.vectors.count() == loaded.keywords.count() == len(loaded.chunks)
        rounds = {c.text.split(" of round ")[1].split(".")[0] for c in loaded.chunks.values() if " of round " in c.text}
        assert len(rounds) <= 1, f"version {loaded.version} mixes the pages of rounds {sorted(rounds)}"
        # The serving process answers through every kill; while the previous version is live its
        # answers are the very same hits with the very same scores.
        versions, hits = _answers(service)
        if loaded.version == live:
            kept_previous += 1
            assert (versions, hits) == served
        else:
            assert rounds == {str(trial)} and versions <= {live, loaded.version} and all(hits)
            assert {c.source for c in loaded.chunks.values()} >= {f"page{n}.md" for n in range(40)}
    # The kills landed both before and after the new version was published.
    assert 3 <= kept_previous <= 19, f"{kept_previous} of 20 kills kept the previous version"
    # After the kills a normal ingest still completes and cleans up temp folders.
    report = ingest(corpus, store, embedder, cache)
    assert report.complete
    assert not list(store.versions.glob(".tmp-*"))
    # Killed ingests left no segment behind: what remains is exactly what the kept versions read.
    read = {s.name for version in store.finished_versions() for s in store.load(version).manifest.segments}
    assert {p.name for p in store.segments.iterdir()} == read


def test_changed_chunking_settings_rebuild_every_document(corpus, store, embedder, cache) -> None:
    from ingest.sync import SyncOptions

    sync_folder(corpus, store, embedder, cache, SyncOptions(chunk_max_tokens=200))
    report = sync_folder(corpus, store, embedder, cache, SyncOptions(chunk_max_tokens=20))
    assert sorted(report.added) == sorted(CORPUS)
    assert store.load().manifest.pipeline == SyncOptions(chunk_max_tokens=20).fingerprint()


def test_new_texts_reach_the_model_longest_first_and_come_back_in_order(tmp_path: Path) -> None:
    from ingest.embedding_cache import embed_with_cache

    rng = random.Random(7)
    texts = [" ".join(f"word{rng.randrange(50)}" for _ in range(rng.randrange(1, 40))) for _ in range(600)]
    embedder, cache = FakeEmbedder(), EmbeddingCache(tmp_path / "cache.sqlite")
    vectors, embedded = embed_with_cache(embedder, cache, texts)

    unique = list(dict.fromkeys(texts))
    assert embedded == len(unique) and sorted(embedder.embedded) == sorted(unique)
    # One length order (in the model's tokens) across the commit slices, as one big batch plan would.
    tokens = [embedder.count_tokens(t) for t in embedder.embedded]
    assert tokens == sorted(tokens, reverse=True)
    assert np.allclose(vectors, embedder.embed_documents(texts))
