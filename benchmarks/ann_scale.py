"""The product's FAISS backend, exact vs approximate: recall@10, p50/p95 latency, build time, bytes per passage.

Usage: .venv/bin/python -m benchmarks.ann_scale [--sizes 100000,1000000] [--dim 768] [--queries 200]
       [--ef 64,128,256] [--beir-index ~/.cache/assistant/beir/scifact-.../index]
       [--embedding-cache ~/.cache/assistant/embeddings.sqlite]
Synthetic vectors are clustered (benchmarks.faiss_scale.clustered); `--beir-index` takes the real
passage embeddings of an index `assistant eval` built, `--embedding-cache` every vector of the
embedding cache (real model vectors of whatever was embedded); both hold out `--queries` as queries.
Latency is one query at a time, measured twice; the quieter run (lower p50) is reported.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.faiss_scale import clustered, noisy_queries
from benchmarks.machine import machine_info
from ingest.store.backends import create_vector_index, load_vector_index
from ingest.store.base import VectorIndex
from ingest.store.layout import IndexStore


def timed_search(index: VectorIndex, queries: np.ndarray, allowed: np.ndarray | None) -> tuple[list, float, float]:
    runs = []
    for _ in range(2):
        found, latencies = [], []
        for query in queries:
            started = time.perf_counter()
            ids, _ = index.search(query, 10, allowed)
            latencies.append((time.perf_counter() - started) * 1000)
            found.append(ids)
        runs.append((statistics.median(latencies), float(np.percentile(latencies, 95)), found))
    p50, p95, found = min(runs, key=lambda run: run[0])
    return found, p50, p95


def bytes_per_passage(index: VectorIndex) -> float:
    with tempfile.TemporaryDirectory() as folder:
        return sum(p.stat().st_size for p in index.save(Path(folder))) / index.count()


def recall(found: list, truth: list) -> float:
    return float(np.mean([len(set(f) & set(t)) / max(1, len(t)) for f, t in zip(found, truth, strict=True)]))


def rows(label: str, vectors: np.ndarray, queries: np.ndarray, efs: list[int], group: float) -> None:
    n, dim = vectors.shape
    ids = np.arange(1, n + 1, dtype=np.int64)
    rng = np.random.default_rng(1)
    allowed = np.sort(rng.choice(ids, max(10, int(n * group)), replace=False))
    started = time.perf_counter()
    exact = create_vector_index(dim, params={"hnsw_above": n + 1})
    exact.add(ids, vectors)
    build = time.perf_counter() - started
    truth, p50, p95 = timed_search(exact, queries, None)
    truth_group, _, _ = timed_search(exact, queries, allowed)
    size = bytes_per_passage(exact)
    print(f"| {label} | {n:,} | exact (flat) | {build:.1f} | 1.000 | {p50:.2f} | {p95:.2f} | 1.000 | {size:.0f} |")
    del exact
    started = time.perf_counter()
    approx = create_vector_index(dim, params={"hnsw_above": 0, "ef_search": efs[0]})
    approx.add(ids, vectors)
    build = time.perf_counter() - started
    params = approx.describe()["params"]
    folder = tempfile.TemporaryDirectory()
    size = sum(p.stat().st_size for p in approx.save(Path(folder.name))) / n
    del approx
    for ef in efs:
        # Loaded as the service loads a version, with efSearch from the manifest's parameters.
        approx = load_vector_index(Path(folder.name), {"name": "faiss", "params": {**params, "ef_search": ef}})
        found, p50, p95 = timed_search(approx, queries, None)
        found_group, _, _ = timed_search(approx, queries, allowed)
        print(
            f"| {label} | {n:,} | HNSW M{params['m']} efC{params['ef_construction']} efSearch {ef} | {build:.1f} | "
            f"{recall(found, truth):.3f} | {p50:.2f} | {p95:.2f} | {recall(found_group, truth_group):.3f} | "
            f"{size:.0f} |"
        )
    folder.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef", default="64,128,256", help="HNSW efSearch values to measure")
    parser.add_argument("--group", type=float, default=0.01, help="share of passages a filtered query may see")
    parser.add_argument("--beir-index", type=Path, help="an index folder built by `assistant eval BEIR_FOLDER`")
    parser.add_argument("--embedding-cache", type=Path, help="an embeddings.sqlite whose vectors to use")
    args = parser.parse_args()
    efs = [int(x) for x in args.ef.split(",")]
    print(f"Machine: {machine_info()}  \n{args.queries} single queries, top 10; group = {args.group:.0%} of passages\n")
    print("| vectors | passages | index | build s | recall@10 | p50 ms | p95 ms | group recall@10 | bytes/passage |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    real: list[tuple[str, np.ndarray]] = []
    if args.beir_index:
        loaded = IndexStore(args.beir_index).load()
        real.append((args.beir_index.parent.name[:7], loaded.vectors.vectors(np.array(sorted(loaded.chunks)))))
    if args.embedding_cache:
        db = sqlite3.connect(f"file:{args.embedding_cache}?mode=ro", uri=True)
        blobs = [row[0] for row in db.execute("SELECT vector FROM vectors ORDER BY rowid")]
        db.close()
        vectors = [np.frombuffer(b, dtype=np.float32) for b in blobs if len(b) == 4 * args.dim]
        real.append(("embedding cache", np.vstack(vectors)))
    for name, everything in real:
        held_out = np.random.default_rng(0).permutation(len(everything))
        queries, corpus = everything[held_out[: args.queries]], everything[held_out[args.queries :]]
        rows(f"real ({name})", corpus, queries, efs, max(args.group, 0.05))
    rng = np.random.default_rng(0)
    for n in (int(x) for x in args.sizes.split(",") if x):
        data = clustered(n, args.dim, rng)
        rows("synthetic", data, noisy_queries(data, args.queries, rng), efs, args.group)
        del data


if __name__ == "__main__":
    main()
