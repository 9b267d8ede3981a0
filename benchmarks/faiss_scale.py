"""FAISS at scale with synthetic vectors: flat vs HNSW vs IVF — recall@10 against flat, latency, memory per chunk.

Usage: .venv/bin/python -m benchmarks.faiss_scale [--sizes 10000,100000,1000000] [--dim 768] [--queries 200]
       [--methods flat,hnsw,ivf]
Flat is always built: it gives the exact neighbours the others are scored against.
"""

from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np

from benchmarks.machine import machine_info


def clustered(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Vectors around a few thousand topics, like passages are, rather than uniform noise."""
    centres = rng.standard_normal((max(16, n // 200), dim)).astype(np.float32)
    data = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    faiss.normalize_L2(data)
    return data


def noisy_queries(data: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Unit queries near random passages of `data`, so each has true neighbours to find."""
    queries = data[rng.integers(0, len(data), count)] + 0.05 * rng.standard_normal((count, data.shape[1])).astype(
        np.float32
    )
    faiss.normalize_L2(queries)
    return queries


def index_bytes(index: faiss.Index) -> int:
    return int(faiss.serialize_index(index).nbytes)


def measure(index: faiss.Index, queries: np.ndarray, truth: np.ndarray | None) -> tuple[float, float, float]:
    latencies, found = [], []
    for q in queries:
        started = time.perf_counter()
        _, ids = index.search(q[None, :], 10)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(ids[0])
    recall = 1.0
    if truth is not None:
        recall = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
    return recall, statistics.median(latencies), float(np.percentile(latencies, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--methods", default="flat,hnsw,ivf", help="which approximate indexes to build besides flat")
    args = parser.parse_args()
    methods = set(args.methods.split(","))
    rng = np.random.default_rng(0)
    print(f"Machine: {machine_info()}  \nSynthetic clustered unit vectors, dim {args.dim}, {args.queries} queries\n")
    print("| chunks | index | build s | recall@10 vs flat | p50 ms | p95 ms | bytes/chunk |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in (int(x) for x in args.sizes.split(",")):
        data = clustered(n, args.dim, rng)
        queries = noisy_queries(data, args.queries, rng)
        flat = faiss.IndexFlatIP(args.dim)
        started = time.perf_counter()
        flat.add(data)
        build = time.perf_counter() - started
        _, truth = flat.search(queries, 10)
        recall, p50, p95 = measure(flat, queries, None)
        print(f"| {n:,} | Flat (exact) | {build:.1f} | 1.000 | {p50:.2f} | {p95:.2f} | {index_bytes(flat) / n:.0f} |")
        if "hnsw" in methods:
            hnsw_row(data, queries, truth, args.dim)
        if "ivf" in methods:
            ivf_row(data, queries, truth, args.dim, rng)
        del data, flat


def hnsw_row(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, dim: int) -> None:
    n = len(data)
    hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    started = time.perf_counter()
    hnsw.add(data)
    build = time.perf_counter() - started
    hnsw.hnsw.efSearch = 64
    recall, p50, p95 = measure(hnsw, queries, truth)
    print(f"| {n:,} | HNSW32 ef64 | {build:.1f} | {recall:.3f} | {p50:.2f} | {p95:.2f} | {index_bytes(hnsw) / n:.0f} |")


def ivf_row(data: np.ndarray, queries: np.ndarray, truth: np.ndarray, dim: int, rng: np.random.Generator) -> None:
    n = len(data)
    nlist = int(4 * np.sqrt(n))
    quantizer = faiss.IndexFlatIP(dim)
    ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    started = time.perf_counter()
    # Faiss needs at least 39 training points per list.
    ivf.train(data[rng.choice(n, min(n, nlist * 40), replace=False)])
    ivf.add(data)
    build = time.perf_counter() - started
    ivf.nprobe = 16
    recall, p50, p95 = measure(ivf, queries, truth)
    print(
        f"| {n:,} | IVF{nlist} nprobe16 | {build:.1f} | {recall:.3f} | {p50:.2f} | {p95:.2f} | "
        f"{index_bytes(ivf) / n:.0f} |"
    )


if __name__ == "__main__":
    main()
