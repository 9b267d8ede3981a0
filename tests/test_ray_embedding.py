"""Embedding through Ray Data gives the local executor's vectors and cache hits (a real local Ray, 2 CPUs)."""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from assistant import cli, components
from assistant.settings import Settings
from ingest.embedding_cache import EmbeddingCache, embed_with_cache
from ingest.ray_embedder import RayEmbedder
from tests.fakes import FakeEmbedder

pytestmark = pytest.mark.slow
TEXTS = [
    "You can return any item within 30 days of delivery for a full refund.",
    "Toimitamme tilaukset Postin noutopisteisiin 2–4 arkipäivässä.",
    "Akceptujemy płatności BLIK, karty płatnicze oraz przelewy.",
    "ในช่วงเทศกาลสงกรานต์ การจัดส่งอาจล่าช้าสามถึงห้าวันทำการ",
] + [f"Order {n} ships from the Helsinki warehouse within {n % 5 + 1} days." for n in range(60)]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    # A throwaway single-machine Ray for the test: no token (ray.init would otherwise switch token auth on
    # for the whole process by setting RAY_AUTH_MODE).
    before = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = before


def test_ray_gives_the_same_vectors_and_cache_hits_as_local(local_ray, tmp_path: Path) -> None:
    local_cache, ray_cache = EmbeddingCache(tmp_path / "local.sqlite"), EmbeddingCache(tmp_path / "ray.sqlite")
    ray_embedder = RayEmbedder(FakeEmbedder(), FakeEmbedder)
    try:
        # Half the texts are already cached on both sides: only the other half is embedded, on Ray.
        embed_with_cache(FakeEmbedder(), local_cache, TEXTS[::2])
        embed_with_cache(FakeEmbedder(), ray_cache, TEXTS[::2])
        expected, local_new = embed_with_cache(FakeEmbedder(), local_cache, TEXTS)
        got, ray_new = embed_with_cache(ray_embedder, ray_cache, TEXTS)
        assert ray_new == local_new == len(TEXTS[1::2])
        assert sum(ray_embedder.last_nodes.values()) == len(TEXTS[1::2])
        assert np.allclose(got, expected, atol=1e-6)
        # The cache holds what Ray embedded: a second run is all hits and never reaches Ray.
        ray_embedder.last_nodes.clear()
        again, none_new = embed_with_cache(ray_embedder, ray_cache, TEXTS)
        assert none_new == 0 and not ray_embedder.last_nodes and np.array_equal(again, got)
    finally:
        local_cache.close()
        ray_cache.close()


def test_the_pool_leaves_a_cpu_for_the_read_tasks(local_ray) -> None:
    assert RayEmbedder(FakeEmbedder(), FakeEmbedder).pool_size() == 1


def test_ingest_with_the_ray_executor_fills_the_same_cache_as_local(local_ray, corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(components, "build_embedder", lambda settings: FakeEmbedder())
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    assert cli.main(["ingest", str(corpus), "--executor", "ray", "--json"], settings=settings) == 0
    by_ray = json.loads(capsys.readouterr().out)
    assert by_ray["embedded"] == by_ray["chunks"] > 0
    # A local ingest of the same folder into another index finds every passage in the cache.
    other = ["ingest", str(corpus), "--index", str(tmp_path / "local-index"), "--executor", "local", "--json"]
    assert cli.main(other, settings=settings) == 0
    local = json.loads(capsys.readouterr().out)
    assert local["chunks"] == by_ray["chunks"] and local["embedded"] == 0


def test_the_onnx_model_on_ray_matches_it_locally(local_ray) -> None:
    settings = Settings()
    if not (settings.cache_dir / "onnx").is_dir():
        pytest.skip("the ONNX export is made by `make setup`")
    local = components.build_embedder(settings)
    texts = TEXTS[:4]
    on_ray = RayEmbedder(local, partial(components.build_embedder, settings)).embed_documents(texts)
    assert np.allclose(on_ray, local.embed_documents(texts), atol=1e-5)
