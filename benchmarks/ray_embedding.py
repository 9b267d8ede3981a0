"""Local vs Ray embedding of the same passages with the real model: what the Ray executor costs on one machine.

Usage: .venv/bin/python -m benchmarks.ray_embedding [--passages 500] [--repeat 2] [--index DIR ...]
Embeds the first N passages of the indexes (default: the cached xquad-en and iapp-th BEIR indexes;
longest first, as ingest orders them) with the local ONNX embedder and through RayEmbedder on a fresh local Ray
(`ray.init(address="local")`, every core; the pool leaves one CPU to the read tasks). Ray's time
includes starting the actor pool and loading the model in the actor, as every `ingest --executor ray`
run pays; Ray's own start-up is timed apart. The two alternate `--repeat` times (the machine is
shared, so one run alone is noise). Prints the Markdown rows and the vectors' agreement.
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial
from pathlib import Path

import numpy as np

from assistant.components import build_embedder
from assistant.settings import Settings
from benchmarks.machine import machine_info
from ingest.chunker import embedding_text
from ingest.ray_embedder import RayEmbedder
from ingest.store.layout import IndexStore

BEIR = Settings().cache_dir / "beir"
DEFAULT_INDEXES = [
    BEIR / "xquad-en-58ec8c10b4da-embeddinggemma-300m-200" / "index",
    BEIR / "iapp-th-f0338acb3539-embeddinggemma-300m-200" / "index",
]


def timed(work):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--passages", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--index", type=Path, nargs="+", default=DEFAULT_INDEXES)
    args = parser.parse_args()
    settings = Settings()
    chunks = [c for index in args.index for c in IndexStore(index).load().chunks.values()][: args.passages]
    local, load_s = timed(lambda: build_embedder(settings).loaded)
    texts = sorted((embedding_text(c) for c in chunks), key=local.count_tokens, reverse=True)
    local.embed_documents(texts[:4])  # first-call warm-up, outside the timings

    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local Ray
    _, ray_init_s = timed(lambda: ray.init(address="local", include_dashboard=False, log_to_driver=False))
    local_s, ray_s, tiny_s = [], [], []
    try:
        on_ray = RayEmbedder(local, partial(build_embedder, settings))
        actors = on_ray.pool_size()
        for _ in range(max(1, args.repeat)):
            expected, seconds = timed(lambda: local.embed_documents(texts))
            local_s.append(seconds)
            tiny_s.append(timed(lambda: on_ray.embed_documents(texts[:4]))[1])
            got, seconds = timed(lambda: on_ray.embed_documents(texts))
            ray_s.append(seconds)
    finally:
        ray.shutdown()
    cosine = float(np.min(np.sum(expected * got, axis=1)))
    runs = lambda times: ", ".join(f"{t:.1f}" for t in times)  # noqa: E731
    print(machine_info())
    print(f"{len(texts)} passages; model load here {load_s:.1f} s; Ray start {ray_init_s:.1f} s")
    print("| executor | actors | 4 passages, s (each run) | all passages, s (each run) | passages/s (best) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| local | - | - | {runs(local_s)} | {len(texts) / min(local_s):.1f} |")
    print(
        f"| ray (local, {os.cpu_count()} CPUs) | {actors} | {runs(tiny_s)} | {runs(ray_s)} "
        f"| {len(texts) / min(ray_s):.1f} |"
    )
    print(f"lowest cosine local vs Ray: {cosine:.7f}; max abs difference {float(np.max(np.abs(expected - got))):.2e}")


if __name__ == "__main__":
    main()
