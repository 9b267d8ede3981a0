"""The assistant end to end on Qdrant (local mode; a server when ASSISTANT_QDRANT_URL is set) against FAISS."""

from __future__ import annotations

import json
import os
import random
import secrets
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import models as qm

from assistant import cli, components
from assistant.components import build_store
from assistant.retriever import Filters
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import Settings
from ingest.embedding_cache import EmbeddingCache
from ingest.store import qdrant_index
from ingest.store.layout import IndexError_, IndexStore
from ingest.sync import SyncOptions, sync_folder
from tests.conftest import write_corpus
from tests.fakes import FakeEmbedder

QUESTIONS = [
    "How many days do I have to return an item?",
    "Kuinka kauan toimitus kestää?",
    "Jak długo trwa zwrot pieniędzy?",
    "การจัดส่งช่วงสงกรานต์ล่าช้ากี่วัน",
    "damaged item photo",
]
SERVER = os.environ.get("ASSISTANT_QDRANT_URL", "")
needs_server = pytest.mark.skipif(
    not SERVER,
    reason="needs a Qdrant server: set ASSISTANT_QDRANT_URL (and ASSISTANT_QDRANT_API_KEY); "
    "local mode has no shards, replicas or snapshots",
)


@pytest.fixture(autouse=True)
def _fresh_clients():  # type: ignore[no-untyped-def]
    yield
    qdrant_index.close_clients()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    fake = FakeEmbedder()
    # The CLI builds its ingest embedder through components.build_embedder.
    monkeypatch.setattr(components, "build_embedder", lambda settings: fake)
    return fake


def settings_for(tmp_path: Path, backend: str, **extra: object) -> Settings:
    return Settings(
        index_dir=tmp_path / f"index-{backend}",
        cache_dir=tmp_path / "cache",
        min_dense_score=0.4,
        vector_backend=backend,  # type: ignore[arg-type]
        **extra,  # type: ignore[arg-type]
    )


def run(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = cli.main(list(argv), settings=settings)
    return code, json.loads(capsys.readouterr().out)


def cited(answer: dict) -> list[tuple[str, str | None]]:  # type: ignore[type-arg]
    return [(c["source"], c["section"]) for c in answer["citations"]]


def qdrant_store(tmp_path: Path, **extra: object) -> IndexStore:
    return build_store(settings_for(tmp_path, "qdrant", **extra))


def alias_target(store: IndexStore) -> str | None:
    client = qdrant_index.handle(store.connection).client
    found = [a.collection_name for a in client.get_aliases().aliases if a.alias_name == store.connection.name]
    return found[0] if found else None


def collections(store: IndexStore) -> set[str]:
    client = qdrant_index.handle(store.connection).client
    prefix = store.connection.name + "_"
    return {c.name for c in client.get_collections().collections if c.name.startswith(prefix)}


def test_ingest_and_ask_give_the_same_citations_as_faiss(corpus, fake, tmp_path, capsys) -> None:
    faiss, qdrant = settings_for(tmp_path, "faiss"), settings_for(tmp_path, "qdrant")
    for settings in (faiss, qdrant):
        code, report = run(capsys, settings, "ingest", str(corpus), "--json")
        assert code == 0 and len(report["added"]) == 4
    _, status = run(capsys, qdrant, "status", "--json")
    assert status["backends"]["vectors"] == "qdrant" and status["backends"]["keywords"] == "bm25"
    assert status["backends"]["collection"] == f"kb_{status['index_version']}"
    _, status = run(capsys, faiss, "status", "--json")
    assert status["backends"]["vectors"] == "faiss (flat)"
    for question in QUESTIONS:
        _, expected = run(capsys, faiss, "ask", question, "--json")
        _, answer = run(capsys, qdrant, "ask", question, "--json")
        assert cited(answer) == cited(expected), question
        assert (answer["found"], answer["answer"]) == (expected["found"], expected["answer"])
        assert [c["score"] for c in answer["citations"]] == pytest.approx([c["score"] for c in expected["citations"]])


def test_a_group_filter_never_leaks_and_the_payload_carries_it(tmp_path, embedder, cache) -> None:
    files = {f"public-{i}.md": f"# Parcel {i}\n\nParcels of size {i} ship within {i} days." for i in range(6)}
    files["secret.md"] = "# Parcel prices for partners\n\nPartner parcels ship within 1 day at a discount."
    files["secret.md.meta.json"] = json.dumps({"groups": ["partners"]})
    root = write_corpus(tmp_path / "kb", files)
    store = qdrant_store(tmp_path)
    sync_folder(root, store, embedder, cache)
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
    retriever = service.retriever()
    for query in ("partner parcels ship within 1 day", "parcel discount", "parcels"):
        for mode in ("dense", "hybrid"):
            hits = retriever.search(query, 10, Filters(groups=("agents",)), mode).hits  # type: ignore[arg-type]
            assert hits and all(h.chunk.source != "secret.md" for h in hits)
        assert retriever.search(query, 10, Filters(groups=("partners",))).hits[0].chunk.source == "secret.md"
    client = qdrant_index.handle(store.connection).client
    secret = [i for i, c in retriever.index.chunks.items() if c.source == "secret.md"]
    (record,) = client.retrieve(f"kb_{retriever.index.version}", secret[:1], with_payload=True)
    assert record.payload is not None
    assert record.payload["groups"] == ["partners"] and record.payload["doc_id"] == "secret.md"
    assert record.payload["lang"] == "en" and record.payload["version"] == retriever.index.version
    # A new access group changes no passage: nothing is embedded, the payload follows the sidecar.
    (root / "secret.md.meta.json").write_text(json.dumps({"groups": ["partners", "agents"]}), encoding="utf-8")
    report = sync_folder(root, store, embedder, cache)
    assert report.embedded == 0 and report.updated == ["secret.md"]
    (record,) = client.retrieve(f"kb_{report.index_version}", secret[:1], with_payload=True)
    assert record.payload is not None and record.payload["groups"] == ["partners", "agents"]
    retriever = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4)).retriever()
    hits = retriever.search("partner parcels ship within 1 day", 10, Filters(groups=("agents",))).hits
    assert hits[0].chunk.source == "secret.md"


def test_an_ingest_that_fails_mid_way_leaves_the_alias_and_the_service_as_they_were(
    corpus, tmp_path, embedder, cache, monkeypatch
) -> None:
    store = qdrant_store(tmp_path)
    first = sync_folder(corpus, store, embedder, cache)
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
    assert service.retriever().index.version == first.index_version
    (corpus / "new.md").write_text("# Gift wrapping\n\nGift wrapping costs 5 euros per parcel.")
    client = qdrant_index.handle(store.connection).client
    real_upsert, calls = client.upsert, []

    def upsert_then_die(name, points, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(name)
        if len(calls) == 3:
            raise ConnectionError("Qdrant went away")
        return real_upsert(name, points, **kwargs)

    monkeypatch.setattr(qdrant_index, "BATCH", 4)
    monkeypatch.setattr(client, "upsert", upsert_then_die)
    with pytest.raises(ConnectionError):
        sync_folder(corpus, store, embedder, cache)
    # The copy had started: a half-filled collection exists, but nothing points at it.
    assert len(collections(store)) == 2
    assert alias_target(store) == f"kb_{first.index_version}"
    assert store.current_version() == first.index_version
    assert service.retriever().index.version == first.index_version
    assert service.search("gift wrapping", 3)[0].hits[0].chunk.source != "new.md"
    monkeypatch.setattr(client, "upsert", real_upsert)
    second = sync_folder(corpus, store, embedder, cache)
    # The next ingest drops the abandoned collection and publishes its own.
    assert collections(store) == {f"kb_{first.index_version}", f"kb_{second.index_version}"}
    assert alias_target(store) == f"kb_{second.index_version}"


KILL_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ingest.embedding_cache import EmbeddingCache
    from ingest.store.layout import IndexStore
    from ingest.sync import sync_folder
    from tests.fakes import FakeEmbedder
    emb = FakeEmbedder()
    sync_folder(Path(sys.argv[1]), IndexStore(Path(sys.argv[2]), "qdrant"), emb,
                EmbeddingCache(Path(sys.argv[3])))
    """
)


@pytest.mark.slow
def test_sigkill_during_ingest_never_points_the_alias_at_an_incomplete_collection(corpus, tmp_path, embedder) -> None:
    store = IndexStore(tmp_path / "index", "qdrant")
    kill_cache = tmp_path / "kc.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    rng = random.Random(3)
    for trial in range(6):
        for n in range(40):
            (corpus / f"page{n}.md").write_text(f"# Page {n}\n\n" + f"Sentence {n} of round {trial}. " * 30)
        # This process must not hold the local storage while the ingest runs: Qdrant admits one opener.
        qdrant_index.close_clients()
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(corpus), str(store.root), str(kill_cache)], env=env
        )
        time.sleep(rng.uniform(0.5, 7.0))  # an ingest here takes about 5 s
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if store.current_version() is None:
            continue  # killed before the first version was published
        loaded = store.load()
        assert loaded.vectors.count() == len(loaded.chunks) > 0
        target = alias_target(store)
        # The alias moves just before CURRENT: it names CURRENT's collection, or (killed between the
        # two steps) a newer version whose folder and collection were already complete.
        assert target is not None and target.removeprefix("kb_") in store.finished_versions()
        assert target.removeprefix("kb_") >= loaded.version
    qdrant_index.close_clients()
    cache = EmbeddingCache(kill_cache)
    try:
        report = sync_folder(corpus, store, embedder, cache)
    finally:
        cache.close()
    assert alias_target(store) == f"kb_{report.index_version}"
    assert collections(store) == {f"kb_{v}" for v in store.finished_versions()}


def test_the_service_follows_the_alias_to_new_versions_without_restart(corpus, tmp_path, embedder, cache) -> None:
    store = qdrant_store(tmp_path)
    keep_two = SyncOptions(keep_versions=2)
    sync_folder(corpus, store, embedder, cache, keep_two)
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
    service.load()
    published = []
    for n in range(3):
        (corpus / f"new-{n}.md").write_text(f"# Gift wrapping {n}\n\nGift wrapping style {n} costs {n} euros.")
        report = sync_folder(corpus, store, embedder, cache, keep_two)
        published.append(report.index_version)
        assert alias_target(store) == f"kb_{report.index_version}"
        deadline = time.monotonic() + 20
        while service.retriever().index.version != report.index_version:
            assert time.monotonic() < deadline, "the service never switched to the new version"
            time.sleep(0.02)
        hits = service.search(f"gift wrapping style {n}", 3)[0].hits
        assert hits[0].chunk.source == f"new-{n}.md"
    # keep_versions=2 on disk, and the same two collections on Qdrant.
    assert collections(store) == {f"kb_{v}" for v in published[-2:]}
    assert set(store.finished_versions()) == set(published[-2:])


def test_an_unchanged_folder_whose_live_collection_was_dropped_is_rebuilt_from_the_cache(
    corpus, tmp_path, embedder, cache
) -> None:
    store = qdrant_store(tmp_path)
    first = sync_folder(corpus, store, embedder, cache)
    client = qdrant_index.handle(store.connection).client
    drop = qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=store.connection.name))
    client.update_collection_aliases(change_aliases_operations=[drop])
    client.delete_collection(f"kb_{first.index_version}")
    with pytest.raises(IndexError_):
        store.load()
    embedded = len(embedder.embedded)
    again = sync_folder(corpus, store, embedder, cache)
    assert again.index_version != first.index_version
    assert sorted(again.added) == sorted(first.added) and again.embedded == 0
    assert len(embedder.embedded) == embedded  # every passage and sentence came from the embedding cache
    assert alias_target(store) == f"kb_{again.index_version}"
    service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
    service.load()
    assert service.search("How many days do I have to return an item?", 3)[0].hits


def test_repeated_loads_open_one_client_and_leak_no_files_or_threads(corpus, tmp_path, embedder, cache) -> None:
    store = qdrant_store(tmp_path)
    sync_folder(corpus, store, embedder, cache)
    for _ in range(3):
        KnowledgeService(store, embedder, ServiceConfig(0.4)).load()
    fds, threads = len(os.listdir("/proc/self/fd")), threading.active_count()
    for _ in range(30):
        fresh = KnowledgeService(store, embedder, ServiceConfig(0.4))
        fresh.load()
        assert fresh.search("returns", 3)[0].hits
    assert len(os.listdir("/proc/self/fd")) <= fds
    assert threading.active_count() <= threads


def test_a_serving_process_re_indexes_its_local_storage_through_its_own_ingest_job(corpus, tmp_path, fake) -> None:
    """Local mode admits one process: the service holds the storage, and its manage page's job shares it."""
    from assistant.components import build_service
    from assistant.ingest_job import IngestJob

    settings = settings_for(tmp_path, "qdrant")
    cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
    try:
        sync_folder(corpus, build_store(settings), fake, cache)
    finally:
        cache.close()
    service = build_service(settings)
    before = service.retriever().index.version
    (corpus / "new.md").write_text("# Gift wrapping\n\nGift wrapping costs 5 euros per parcel.")
    job = IngestJob(service, settings)
    assert job.start(corpus)
    job.wait(timeout=60)
    status = job.status()
    assert status.state == "done", status.error
    assert status.report is not None and status.report["added"] == ["new.md"]
    deadline = time.monotonic() + 20
    while service.retriever().index.version == before:
        assert time.monotonic() < deadline, "the service never switched to the re-indexed version"
        time.sleep(0.02)
    assert service.search("gift wrapping price", 3)[0].hits[0].chunk.source == "new.md"
    assert alias_target(service.store) == f"kb_{service.retriever().index.version}"


def test_switching_the_backend_moves_the_vectors_without_embedding_again(corpus, tmp_path, embedder) -> None:
    cache = EmbeddingCache(tmp_path / "other-cache.sqlite")  # a cold cache: a re-embed would show
    try:
        faiss_store = IndexStore(tmp_path / "index")
        sync_folder(corpus, faiss_store, embedder, cache)
        before = faiss_store.load()
        embedded = len(embedder.embedded)
        cache.close()
        cache = EmbeddingCache(tmp_path / "empty-cache.sqlite")
        moved = build_store(settings_for(tmp_path, "qdrant"), tmp_path / "index")
        report = sync_folder(corpus, moved, embedder, cache)
        assert report.embedded == 0 and len(embedder.embedded) == embedded
        after = moved.load()
        assert (
            after.manifest.backends["vectors"]["name"] == "qdrant" and after.vectors.count() == before.vectors.count()
        )
        query = before.vectors.vectors(np.array(sorted(before.chunks)[:1]))[0]
        assert list(after.vectors.search(query, 5)[0]) == list(before.vectors.search(query, 5)[0])
    finally:
        cache.close()


def test_a_local_storage_held_by_another_process_is_a_clear_error(corpus, tmp_path, embedder, cache) -> None:
    store = qdrant_store(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from qdrant_client import QdrantClient; "
            f"c = QdrantClient(path={str(store.root / 'qdrant')!r}); print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(IndexError_, match="Another process.*ASSISTANT_QDRANT_URL"):
            sync_folder(corpus, store, embedder, cache)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    sync_folder(corpus, store, embedder, cache)
    assert alias_target(store) == f"kb_{store.current_version()}"


# The client's start-up version check warns about the same refused connection.
@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
def test_an_unreachable_server_is_a_clear_error_and_changes_nothing(corpus, fake, tmp_path, capsys) -> None:
    local = settings_for(tmp_path, "qdrant")
    assert run(capsys, local, "ingest", str(corpus), "--json")[0] == 0
    before = build_store(local).current_version()
    qdrant_index.close_clients()
    # Port 9 (discard) refuses connections here: the same failure as a server that is down.
    down = local.model_copy(update={"qdrant_url": "http://127.0.0.1:9"})
    assert cli.main(["ingest", str(corpus), "--json"], settings=down) == 2
    assert "Qdrant at http://127.0.0.1:9 failed" in capsys.readouterr().err
    assert build_store(local).current_version() == before
    with pytest.raises(IndexError_, match="127.0.0.1:9"):
        KnowledgeService(build_store(down), fake, ServiceConfig(0.4)).load()


# --- A real Qdrant server (skipped without ASSISTANT_QDRANT_URL) ---


def server_store(tmp_path: Path, **extra: object) -> IndexStore:
    """An index on the server under an alias of its own, so runs never touch each other's collections."""
    alias = f"test{secrets.token_hex(4)}"
    key = os.environ.get("ASSISTANT_QDRANT_API_KEY", "")
    return qdrant_store(tmp_path, qdrant_url=SERVER, qdrant_api_key=key, qdrant_collection=alias, **extra)


def drop_all(store: IndexStore) -> None:
    client = qdrant_index.handle(store.connection).client
    drop = qm.DeleteAliasOperation(delete_alias=qm.DeleteAlias(alias_name=store.connection.name))
    if alias_target(store) is not None:
        client.update_collection_aliases(change_aliases_operations=[drop])
    for name in collections(store):
        client.delete_collection(name)


@needs_server
def test_server_collections_are_sharded_and_replicated_as_configured(corpus, tmp_path, embedder, cache) -> None:
    store = server_store(tmp_path, qdrant_shards=2, qdrant_replicas=2)
    try:
        report = sync_folder(corpus, store, embedder, cache)
        info = qdrant_index.handle(store.connection).client.get_collection(
            f"{store.connection.name}_{report.index_version}"
        )
        assert info.config.params.shard_number == 2 and info.config.params.replication_factor == 2
        assert set(info.payload_schema) == set(qdrant_index.PAYLOAD_FIELDS)
        assert store.load().vectors.count() == report.chunks
    finally:
        drop_all(store)


@needs_server
def test_server_snapshot_of_the_live_version_lists_and_serves(corpus, tmp_path, embedder, cache) -> None:
    store = server_store(tmp_path)
    try:
        report = sync_folder(corpus, store, embedder, cache)
        client = qdrant_index.handle(store.connection).client
        name = f"{store.connection.name}_{report.index_version}"
        snapshot = client.create_snapshot(name, wait=True)
        assert snapshot is not None and snapshot.name in {s.name for s in client.list_snapshots(name)}
        service = KnowledgeService(store, embedder, ServiceConfig(min_dense_score=0.4))
        assert service.search("return an item within 30 days", 3)[0].hits[0].chunk.source == "returns.md"
        client.delete_snapshot(name, snapshot.name, wait=True)
    finally:
        drop_all(store)
