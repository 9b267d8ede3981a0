"""Resident memory of `assistant serve` by passage count, beyond the passage and sentence vectors.

Usage: .venv/bin/python -m benchmarks.serve_memory [--passages 10000 100000] [--work /tmp/serve-memory]
Writes a synthetic index per size (random unit vectors of 768 dimensions, passages of 60 words drawn
from a 50,000-word vocabulary, 5 sentence vectors each, 200 passages per document) through the
store's own writer, then starts `assistant serve` on it in a new process with the deterministic fake
embedder in place of the model (`python -m benchmarks.resync_cost cli serve`, so the model's own
memory stays out), waits for /readyz and reads VmRSS. A 100-passage index gives the baseline.
Per passage beyond the vectors = (RSS - baseline RSS - float32 passage vectors - float16 sentence
vectors) / passages. Target (issue 19): at most 2 KB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/serve-memory"))
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    main()
