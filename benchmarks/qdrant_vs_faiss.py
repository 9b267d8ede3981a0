"""FAISS vs Qdrant (local mode) on the same documents: retrieval quality on a BEIR set, search latency at 1k/10k.

Usage: .venv/bin/python -m benchmarks.qdrant_vs_faiss [--dataset ../shared/datasets/xquad-th] [--limit N]
       [--sizes 1000,10000] [--dim 768] [--queries 200] [--skip-quality]
Quality runs `assistant eval` twice, once per ASSISTANT_VECTOR_BACKEND (same model, chunks and cached
embeddings); latency searches synthetic vectors through each backend's VectorIndex, as the retriever does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.settings import Settings
from benchmarks.faiss_scale import clustered, noisy_queries
from benchmarks.machine import machine_info
from eval.workbench import EvalRequest, evaluate
from ingest.store import qdrant_index
from ingest.store.backends import create_vector_index
from ingest.store.base import Connection, VectorIndex

MODES = ("hybrid", "dense")
METRICS = ("ndcg@10", "recall@100", "hit@1")


def quality(dataset: Path, limit: int | None, base: Settings) -> dict[str, dict[str, Any]]:
    """backend -> mode -> the eval's overall metrics, how often the answerer abstained, the shown rankings."""
    out: dict[str, dict[str, Any]] = {}
    for backend in ("faiss", "qdrant"):
        settings = base.model_copy(update={"vector_backend": backend})
        report = evaluate(EvalRequest(dataset, MODES, limit=limit), settings)
        out[backend] = {mode: report["modes"][mode]["overall"] for mode in MODES}
        for mode in MODES:
            questions = report["modes"][mode]["questions"]
            out[backend][mode]["abstained"] = sum(1 for q in questions if not q["found"])
            out[backend][mode]["ranked_ids"] = [[r["source"] for r in q["retrieved"]] for q in questions]
        qdrant_index.close_clients()
    return out


def timed_searches(index: VectorIndex, queries: np.ndarray, allowed: np.ndarray | None) -> tuple[list[float], list]:  # type: ignore[type-arg]
    latencies, found = [], []
    for query in queries:
        started = time.perf_counter()
        ids, _ = index.search(query, 10, allowed)
        latencies.append((time.perf_counter() - started) * 1000)
        found.append(ids)
    return latencies, found


def latency(sizes: list[int], dim: int, count: int, folder: Path) -> list[dict[str, Any]]:
    rows = []
    rng = np.random.default_rng(11)
    for n in sizes:
        data = clustered(n, dim, rng)
        ids = np.arange(1, n + 1, dtype=np.int64)
        queries = noisy_queries(data, count, rng)
        allowed = np.sort(rng.choice(ids, max(1, n // 10), replace=False))
        faiss = create_vector_index(dim)
        faiss.add(ids, data)
        baseline = {key: timed_searches(faiss, queries, filt)[1] for key, filt in (("all", None), ("10%", allowed))}
        connection = Connection(folder / f"n{n}")
        for name, index in (("faiss", faiss), ("qdrant local", None)):
            started = time.perf_counter()
            if index is None:
                index = create_vector_index(dim, "qdrant", connection=connection).fork(f"bench{n}")
                index.add(ids, data)
            build_s = time.perf_counter() - started if name != "faiss" else None
            for key, filt in (("all", None), ("10%", allowed)):
                times, found = timed_searches(index, queries, filt)
                agree = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, baseline[key], strict=True)])
                rows.append(
                    {
                        "n": n,
                        "backend": name,
                        "filter": key,
                        "p50": statistics.median(times),
                        "p95": float(np.percentile(times, 95)),
                        "agree": float(agree),
                        "build_s": build_s,
                    }
                )
        qdrant_index.close_clients()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/xquad-th"))
    parser.add_argument("--limit", type=int, default=None, help="judged queries to use (default: all)")
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    print(machine_info())
    if not args.skip_quality:
        found = quality(args.dataset, args.limit, Settings())
        print(f"\nQuality on {args.dataset.name} (`assistant eval`, one run per backend)\n")
        print("| mode | backend | " + " | ".join(METRICS) + " | abstained | same shown ranking as FAISS |")
        print("|---|---|" + "---|" * (len(METRICS) + 2))
        for mode in MODES:
            base = found["faiss"][mode]["ranked_ids"]
            for backend in ("faiss", "qdrant"):
                row = found[backend][mode]
                same = np.mean([a == b for a, b in zip(row["ranked_ids"], base, strict=True)]) if base else 1.0
                cells = " | ".join(f"{row[m]:.4f}" for m in METRICS)
                print(f"| {mode} | {backend} | {cells} | {row['abstained']} | {same:.3f} |")
        for mode in MODES:
            delta = found["qdrant"][mode]["ndcg@10"] - found["faiss"][mode]["ndcg@10"]
            print(f"{mode}: nDCG@10 qdrant - faiss = {delta:+.4f} (target |delta| <= 0.005)")
    with tempfile.TemporaryDirectory() as tmp:
        rows = latency([int(s) for s in args.sizes.split(",")], args.dim, args.queries, Path(tmp))
    print(f"\nSearch latency, {args.dim}-d synthetic vectors, {args.queries} queries, top 10 (ms)\n")
    print("| passages | backend | filter | p50 | p95 | top-10 agreement with FAISS | build s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        build = f"{r['build_s']:.1f}" if r["build_s"] is not None else "-"
        timing = f"{r['p50']:.2f} | {r['p95']:.2f}"
        print(f"| {r['n']:,} | {r['backend']} | {r['filter']} | {timing} | {r['agree']:.3f} | {build} |")


if __name__ == "__main__":
    main()
