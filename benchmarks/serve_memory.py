"""Resident memory of `assistant serve` by passage count, beyond the passage and sentence vectors.

Usage: .venv/bin/python -m benchmarks.serve_memory [--passages 10000 100000] [--work /tmp/serve-memory] [--breakdown]
Writes a synthetic index per size (random unit vectors of 768 dimensions, passages of 60 words drawn
from a 50,000-word vocabulary, 5 sentence vectors each, 200 passages per document) through the
store's own writer, then starts `assistant serve` on it in a new process with the deterministic fake
embedder in place of the model (`python -m benchmarks.resync_cost cli serve`, so the model's own
memory stays out), waits for /readyz and reads VmRSS. A 100-passage index gives the baseline.
Per passage beyond the vectors = (RSS - baseline RSS - float32 passage vectors - float16 sentence
vectors) / passages. Target (issue 19): at most 2 KB.
--breakdown then loads each index in a new process as the service does (load, keyword warm-up,
retriever) and splits its memory by the module that allocated it (tracemalloc); the vector index,
which FAISS allocates in C++, is the growth of VmRSS that tracemalloc does not see.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DIM = 768
SENTENCES = 5
WORDS = 60


def build_index(folder: Path, passages: int, seed: int = 0) -> None:
    from benchmarks.resync_cost import FAKE_MODEL
    from ingest.analyzer import analyze
    from ingest.chunker import chunk_id
    from ingest.documents import Chunk
    from ingest.store.backends import create_keyword_index, create_vector_index, describe
    from ingest.store.layout import IndexStore, ids_of, new_version_name
    from ingest.store.manifest import DocumentRecord, Manifest
    from ingest.store.sentence_index import SentenceIndex
    from ingest.sync import SyncOptions

    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(50_000)]
    chunks, records = [], {}
    for n in range(passages):
        source = f"doc{n // 200:05d}.txt"
        text = " ".join(vocabulary[i] for i in rng.integers(0, len(vocabulary), WORDS)) + "."
        chunks.append(
            Chunk(chunk_id(source, n % 200, text), source, text, 0, len(text), None, None, None, "en", n % 200)
        )
        records[source] = DocumentRecord("0" * 64, 200, None, "en", 0, "2026-12-02T00:00:00+00:00")
    ids = ids_of(chunks)
    vectors = rng.standard_normal((passages, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vector_index = create_vector_index(DIM, params={})
    vector_index.add(ids, vectors)
    keyword_index = create_keyword_index()
    keyword_index.add(ids, [analyze(c.text, "en") for c in chunks])
    sentences = SentenceIndex(DIM)
    step = WORDS * 4 // SENTENCES
    spans = [np.array([[i * step, (i + 1) * step] for i in range(SENTENCES)], dtype=np.int32)] * passages
    sentence_vectors = [rng.standard_normal((SENTENCES, DIM)).astype(np.float16) for _ in range(passages)]
    sentences.add(ids.tolist(), spans, sentence_vectors)
    manifest = Manifest(
        new_version_name(), FAKE_MODEL, DIM, "2026-12-02T00:00:00+00:00", str(folder), documents=records
    )
    manifest.pipeline = SyncOptions().fingerprint()
    manifest.backends = describe(vector_index, keyword_index)
    store = IndexStore(folder)
    store.write_version(manifest, chunks, vector_index, keyword_index, sentences)
    store.publish(manifest.index_version)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_rss(index: Path, work: Path) -> int:
    """VmRSS in bytes of `assistant serve` (fake embedder) once /readyz answers 200."""
    port = _free_port()
    env = {**os.environ, "ASSISTANT_CACHE_DIR": str(work / "cache"), "ASSISTANT_FEEDBACK_DB": str(work / "fb.sqlite")}
    command = [sys.executable, "-m", "benchmarks.resync_cost", "cli", "serve", "--index", str(index)]
    proc = subprocess.Popen([*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _rss() -> int:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:"))


UNTRACED = "vector index graph and ids (FAISS, C++), allocator slack: untraced VmRSS growth"
# Allocations are charged to the innermost frame in one of these files (json and numpy run inside them).
PARTS = {
    "ingest/store/layout.py": "passages: Chunk objects, their strings, the id -> passage dict",
    "ingest/documents.py": "passages: Chunk objects, their strings, the id -> passage dict",
    "ingest/store/bm25_index.py": "keyword index (BM25)",
    "ingest/store/sentence_index.py": "sentence index",
    "assistant/retriever.py": "retriever's per-passage filter arrays",
}


def parts(index: Path, traced: bool) -> dict[str, int]:
    """Bytes of each structure of a loaded, warmed `index` with its retriever, in this process.

    Untraced, only the growth of VmRSS (tracemalloc's bookkeeping would inflate it).
    """
    from assistant.retriever import Retriever
    from benchmarks.resync_cost import fake_embedder
    from ingest.store.layout import IndexStore

    def serve(folder: Path) -> Retriever:
        loaded = IndexStore(folder).load()
        loaded.keywords.warm()
        return Retriever(loaded, fake_embedder(), ("en",))

    # Once on a tiny index first, so lazy imports are not counted.
    serve(index.parent / "base")
    gc.collect()
    before = _rss()
    if traced:
        tracemalloc.start(30)
    retriever = serve(index)
    gc.collect()
    if not traced:
        return {"VmRSS growth": _rss() - before}
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    sizes: dict[str, int] = {}
    for stat in snapshot.statistics("traceback"):
        # Innermost frame first (a traceback lists the oldest first).
        files = [frame.filename.replace(os.sep, "/") for frame in reversed(stat.traceback)]
        part = next((PARTS[name] for f in files for name in PARTS if f.endswith(name)), "other")
        sizes[part] = sizes.get(part, 0) + stat.size
    del retriever
    return sizes


def _parts_in_new_process(index: Path, traced: bool) -> dict[str, int]:
    command = [sys.executable, "-m", "benchmarks.serve_memory", "--parts-of", str(index)]
    run = subprocess.run([*command, *(["--traced"] if traced else [])], check=True, capture_output=True, text=True)
    return dict(json.loads(run.stdout))


def breakdown(index: Path, passages: int) -> None:
    """Print `parts` of `index` per passage, vectors left out; FAISS is what tracemalloc does not see."""
    sizes = _parts_in_new_process(index, traced=True)
    grown = _parts_in_new_process(index, traced=False)["VmRSS growth"]
    sizes[UNTRACED] = grown - sum(sizes.values())
    vectors = {"sentence index": passages * SENTENCES * DIM * 2, UNTRACED: passages * DIM * 4}
    print(f"\nWhere it goes at {passages:,} passages, loaded in a new process (bytes a passage, vectors left out):\n")
    print("| part | bytes/passage |\n|---|---:|")
    for part, size in sorted(sizes.items(), key=lambda item: -(item[1] - vectors.get(item[0], 0))):
        print(f"| {part} | {(size - vectors.get(part, 0)) / passages:,.0f} |")
    print(f"| total | {(grown - sum(vectors.values())) / passages:,.0f} |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/serve-memory"))
    parser.add_argument("--breakdown", action="store_true", help="also split each size's memory by structure")
    parser.add_argument("--parts-of", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.parts_of:
        print(json.dumps(parts(args.parts_of, args.traced)))
        return
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    build_index(args.work / "base", 100)
    base = serve_rss(args.work / "base", args.work)
    print(f"Baseline: `assistant serve` on 100 passages, VmRSS {base / 1e6:.0f} MB\n")
    print("| passages | VmRSS MB | passage vectors MB | sentence vectors MB | beyond vectors, bytes/passage |")
    print("|---:|---:|---:|---:|---:|")
    for n in args.passages:
        build_index(args.work / f"n{n}", n)
        rss = serve_rss(args.work / f"n{n}", args.work)
        dense, sentence = n * DIM * 4, n * SENTENCES * DIM * 2
        beyond = (rss - base - dense - sentence) / n
        print(f"| {n:,} | {rss / 1e6:.0f} | {dense / 1e6:.0f} | {sentence / 1e6:.0f} | {beyond:,.0f} |", flush=True)
    if args.breakdown:
        for n in args.passages:
            breakdown(args.work / f"n{n}", n)


if __name__ == "__main__":
    main()
