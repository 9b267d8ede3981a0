"""The product's FAISS backend, exact vs IVF: recall@10, p50/p95 latency, build and removal time, bytes per passage.

Usage: .venv/bin/python -m benchmarks.ann_scale [--sizes 100000,1000000] [--dim 768] [--queries 200]
       [--probe-shares 0.01,0.02,0.04] [--min-probes 16] [--mixed]
       [--beir-index ~/.cache/assistant/beir/scifact-.../index]
       [--embedding-cache ~/.cache/assistant/embeddings.sqlite]
       [--beir ../shared/datasets/scifact [--distractors ~/.cache/assistant/embeddings.sqlite]]
Synthetic vectors are clustered (benchmarks.faiss_scale.clustered); `--mixed` adds vectors that blend
three topics each, whose neighbourhoods straddle clusters as real passages' do; `--beir-index` takes
the real passage embeddings of an index `assistant eval` built, `--embedding-cache` every vector of the
embedding cache; both hold out `--queries` as queries. `--beir` cuts a BEIR corpus into the product's
passages, embeds them and the dataset's own queries with the configured model (through the embedding
cache, so a run resumes and a later `assistant eval` reuses them; sentences are not embedded, search
does not need them) and adds, beside recall, dense nDCG@10 of exact and IVF search against the
dataset's judgements (documents ranked by their best passage); `--distractors` adds every other
vector of an embedding cache to that corpus, each as a document of its own that no query is judged
on (a larger real index for the same queries). Both indexes are built before any search, so they
build on every core, as ingestion does; searches run on one thread, as the service's do.
Latency is one query at a time, measured twice; the quieter run (lower p50) is reported.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from assistant.components import build_cache, build_embedder, build_sync_options
from assistant.settings import Settings
from benchmarks.faiss_scale import clustered, noisy_queries
from benchmarks.machine import machine_info
from eval.beir import doc_id_lookup, load_beir, materialize
from eval.metrics import ndcg_at_k
from ingest.chunker import embedding_text
from ingest.embedding_cache import embed_queries_with_cache, embed_with_cache
from ingest.loaders import load_document
from ingest.store.backends import create_vector_index, load_vector_index
from ingest.store.base import VectorIndex
from ingest.store.faiss_index import FaissParams
from ingest.store.layout import IndexStore
from ingest.sync import prepare_chunks

REMOVED = 1000
GROUPS = ("group", "broad")


def mixed(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Each vector blends three random topics with random weights, plus noise: no clean clusters."""
    centres = rng.standard_normal((max(16, n // 200), dim)).astype(np.float32)
    data = 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    weights = rng.dirichlet(np.ones(3), n).astype(np.float32)
    for column in range(3):
        data += weights[:, column : column + 1] * centres[rng.integers(0, len(centres), n)]
    faiss.normalize_L2(data)
    return data


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


def recall(found: list, truth: list) -> float:
    return float(np.mean([len(set(f) & set(t)) / max(1, len(t)) for f, t in zip(found, truth, strict=True)]))


def groups(ids: np.ndarray, share: float) -> dict[str, np.ndarray]:
    """A small group (searched exactly over its vectors) and, when the collection is large enough, the
    smallest group searched inside the IVF search: the most selective filter that path meets."""
    rng = np.random.default_rng(1)
    chosen = {"group": np.sort(rng.choice(ids, max(10, int(len(ids) * share)), replace=False))}
    broad = FaissParams().exact_filter_below + 1
    if len(ids) >= 2 * broad:
        chosen["broad"] = np.sort(rng.choice(ids, broad, replace=False))
    return chosen


def rows(
    label: str, vectors: np.ndarray, queries: np.ndarray, shares: list[float], group: float, min_probes: int
) -> None:
    n, dim = vectors.shape
    ids = np.arange(1, n + 1, dtype=np.int64)
    filters = groups(ids, group)
    started = time.perf_counter()
    exact = create_vector_index(dim, params={"approximate_above": n + 1})
    exact.add(ids, vectors)
    exact_build = time.perf_counter() - started
    started = time.perf_counter()
    approx = create_vector_index(dim, params={"approximate_above": 0})
    approx.add(ids, vectors)
    build = time.perf_counter() - started
    described = approx.describe()
    folder = tempfile.TemporaryDirectory()
    size = sum(p.stat().st_size for p in approx.save(Path(folder.name))) / n
    del approx
    truth, p50, p95 = timed_search(exact, queries, None)
    truths = {name: timed_search(exact, queries, allowed) for name, allowed in filters.items()}
    with tempfile.TemporaryDirectory() as flat_folder:
        flat_size = sum(p.stat().st_size for p in exact.save(Path(flat_folder))) / n
    cells = " | ".join(f"1.000 / {truths[name][1]:.2f}" if name in filters else "–" for name in GROUPS)
    print(
        f"| {label} | {n:,} | exact (flat) | {exact_build:.1f} | 1.000 | {p50:.2f} | {p95:.2f} | {cells} | – | "
        f"{flat_size:.0f} |"
    )
    del exact
    for share in shares:
        # Loaded as the service loads a version, with the probe share from the manifest's parameters.
        params = {**described["params"], "probe_share": share, "min_probes": min_probes}
        approx = load_vector_index(Path(folder.name), {"name": "faiss", "params": params})
        nprobe = approx.describe()["nprobe"]
        found, p50, p95 = timed_search(approx, queries, None)
        timed = {name: timed_search(approx, queries, allowed) for name, allowed in filters.items()}
        cells = " | ".join(
            f"{recall(timed[name][0], truths[name][0]):.3f} / {timed[name][1]:.2f}" if name in filters else "–"
            for name in GROUPS
        )
        removed = np.random.default_rng(2).choice(ids, min(REMOVED, n // 2), replace=False)
        started = time.perf_counter()
        approx.remove(removed)
        removal = time.perf_counter() - started
        print(
            f"| {label} | {n:,} | IVF{described['nlist']} nprobe {nprobe} ({share:.0%}) | {build:.1f} | "
            f"{recall(found, truth):.3f} | {p50:.2f} | {p95:.2f} | {cells} | {removal * 1000:.1f} | {size:.0f} |"
        )
        del approx
    folder.cleanup()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"\n({label}, {n:,}: peak resident memory of the process so far {peak:.1f} GB)\n")


def real_vectors(args: argparse.Namespace) -> list[tuple[str, np.ndarray]]:
    real: list[tuple[str, np.ndarray]] = []
    if args.beir_index:
        loaded = IndexStore(args.beir_index).load()
        real.append((args.beir_index.parent.name[:7], loaded.vectors.vectors(np.array(sorted(loaded.chunks)))))
    if args.embedding_cache:
        real.append(("embedding cache", cache_vectors(args.embedding_cache, args.dim)))
    return real


def cache_vectors(path: Path, dim: int) -> np.ndarray:
    """Every vector of an embedding cache file of this width (passages, sentences and questions alike)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    blobs = [row[0] for row in db.execute("SELECT vector FROM vectors ORDER BY rowid")]
    db.close()
    return np.vstack([np.frombuffer(b, dtype=np.float32) for b in blobs if len(b) == 4 * dim])


def with_distractors(vectors: np.ndarray, queries: np.ndarray, others: np.ndarray) -> np.ndarray:
    """`vectors` followed by the rows of `others` that are neither a passage nor a query (by their bytes)."""
    known = {row.tobytes() for row in vectors} | {row.tobytes() for row in queries}
    extra = [row for row in others if row.tobytes() not in known]
    return np.vstack([vectors, *([np.vstack(extra)] if extra else [])])


def beir_passages(folder: Path, work: Path) -> tuple[np.ndarray, list[str], np.ndarray, list[str], dict]:
    """The product's passage vectors of a BEIR corpus, each passage's document id, and the queries'.

    Returns (passage vectors, passage doc ids, query vectors, query ids, qrels).
    """
    settings = Settings()
    embedder = build_embedder(settings)
    options = build_sync_options(settings)
    cache = build_cache(settings)
    dataset = load_beir(folder)
    renamed = materialize(dataset.corpus, work)
    doc_of = doc_id_lookup(renamed)
    texts, docs = [], []
    for path in sorted(work.glob("*.txt")):
        for chunk in prepare_chunks(load_document(path, path.name), embedder, options):
            texts.append(embedding_text(chunk))
            docs.append(doc_of(path.name))
    print(f"({dataset.name}: {len(texts):,} passages of {len(set(docs)):,} documents, {len(dataset.queries)} queries)")
    vectors, _ = embed_with_cache(embedder, cache, texts)
    query_ids = list(dataset.queries)
    queries = embed_queries_with_cache(embedder, cache, [dataset.queries[q] for q in query_ids])
    return vectors, docs, queries, query_ids, dataset.qrels


def beir_rows(
    folder: Path, shares: list[float], group: float, min_probes: int, distractors: np.ndarray | None = None
) -> None:
    """Recall@10 against exact and dense nDCG@10 of exact and IVF search, on real passages and queries.

    `distractors` (other real vectors, e.g. the rest of the embedding cache) join the corpus as passages
    of no document: a larger real index, with more lists, for the same judged queries.
    """
    with tempfile.TemporaryDirectory() as work:
        vectors, docs, queries, query_ids, qrels = beir_passages(folder, Path(work))
    label = f"real ({folder.name}, own queries)"
    if distractors is not None:
        own = len(vectors)
        vectors = with_distractors(vectors, queries, distractors)
        docs = docs + [f"distractor-{n}" for n in range(len(vectors) - own)]  # each its own unjudged document
        label = f"real ({folder.name} + {len(vectors) - own:,} other cached vectors, its queries)"
    rows(label, vectors, queries, shares, group, min_probes)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    exact = create_vector_index(vectors.shape[1], params={"approximate_above": len(vectors) + 1})
    exact.add(ids, vectors)
    approx = create_vector_index(vectors.shape[1], params={"approximate_above": 0})
    approx.add(ids, vectors)
    for name, index in (("exact", exact), (f"IVF {approx.describe()['nlist']} lists, default probes", approx)):
        gains = []
        for qid, query in zip(query_ids, queries, strict=True):
            found, _ = index.search(query, 100, None)
            ranked = list(dict.fromkeys(docs[i - 1] for i in found))
            judged = qrels[qid]
            gains.append(ndcg_at_k([judged.get(d, 0) for d in ranked], list(judged.values()), 10))
        print(f"dense nDCG@10 over {len(gains)} {folder.name} queries, {name}: {float(np.mean(gains)):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--probe-shares", default="0.01,0.02,0.04", help="IVF probe shares (of the lists) to measure")
    parser.add_argument("--min-probes", type=int, default=FaissParams().min_probes, help="IVF probes at least")
    parser.add_argument("--mixed", action="store_true", help="also measure blended-topic synthetic vectors")
    parser.add_argument("--group", type=float, default=0.01, help="share of passages a filtered query may see")
    parser.add_argument("--beir-index", type=Path, help="an index folder built by `assistant eval BEIR_FOLDER`")
    parser.add_argument("--embedding-cache", type=Path, help="an embeddings.sqlite whose vectors to use")
    parser.add_argument("--beir", type=Path, help="a BEIR folder whose corpus and queries to embed and measure")
    parser.add_argument(
        "--distractors", type=Path, help="with --beir: an embeddings.sqlite whose other vectors join the corpus"
    )
    args = parser.parse_args()
    shares = [float(x) for x in args.probe_shares.split(",")]
    print(
        f"Machine: {machine_info()}  \n{args.queries} single queries, top 10; group = {args.group:.0%} of passages, "
        f"broad = {FaissParams().exact_filter_below + 1:,} passages; removal of {REMOVED:,} ids\n"
    )
    print(
        "| vectors | passages | index | build s | recall@10 | p50 ms | p95 ms | group recall@10 / p50 ms | "
        "broad recall@10 / p50 ms | remove ms | bytes/passage |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, everything in real_vectors(args):
        held_out = np.random.default_rng(0).permutation(len(everything))
        queries, corpus = everything[held_out[: args.queries]], everything[held_out[args.queries :]]
        rows(f"real ({name})", corpus, queries, shares, max(args.group, 0.05), args.min_probes)
    if args.beir:
        distractors = cache_vectors(args.distractors, args.dim) if args.distractors else None
        beir_rows(args.beir, shares, max(args.group, 0.05), args.min_probes, distractors)
    rng = np.random.default_rng(0)
    makers = [("synthetic", clustered)] + ([("synthetic, mixed topics", mixed)] if args.mixed else [])
    for n in (int(x) for x in args.sizes.split(",") if x):
        for label, make in makers:
            data = make(n, args.dim, rng)
            rows(label, data, noisy_queries(data, args.queries, rng), shares, args.group, args.min_probes)
            del data


if __name__ == "__main__":
    main()
