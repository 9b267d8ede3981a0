"""Ingest throughput: our pipeline vs raw SentenceTransformer.encode on the same chunks vs plain LangChain.

Usage: .venv/bin/python -m benchmarks.ingest_speed [FOLDER | BEIR_FOLDER [--docs N]] [--skip-langchain] [--repeat N]
FOLDER defaults to demo/knowledge_base; a BEIR folder (e.g. ../shared/datasets/xquad-th) contributes
its first --docs documents as .txt files.
Prints a Markdown table. Each run uses a fresh, empty embedding cache, so every chunk is embedded.
--repeat N times our ingest and the raw encode N times each, alternating, and reports the medians:
two back-to-back raw encodes of the same texts can differ by a few percent on a shared-tenancy CPU.
Our ingest embeds with the configured runtime (ASSISTANT_EMBEDDING_BACKEND, onnx by default); the raw
encode is always sentence-transformers on torch, fp32 like ours.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from assistant.components import build_embedder, build_sync_options
from assistant.settings import Settings
from benchmarks.machine import machine_info
from benchmarks.reindex_speed import write_corpus
from eval.beir import is_beir_folder
from ingest.chunker import embedding_text
from ingest.embedding_cache import EmbeddingCache
from ingest.store.layout import IndexStore
from ingest.sync import sync_folder


def our_pipeline(root: Path, settings: Settings, tmp: Path) -> tuple[float, int, float, list[str]]:
    """Full ingest with an empty cache, then an unchanged re-sync. Returns (s, chunks, resync s, texts)."""
    embedder = build_embedder(settings)
    # Load the model outside the timed region, as the raw-encode baseline does.
    _ = embedder.loaded
    store = IndexStore(tmp / "ours")
    cache = EmbeddingCache(tmp / "cache.sqlite")
    options = build_sync_options(settings)  # exactly what `assistant ingest` uses
    started = time.perf_counter()
    report = sync_folder(root, store, embedder, cache, options)
    elapsed = time.perf_counter() - started
    started = time.perf_counter()
    again = sync_folder(root, store, embedder, cache, options)
    resync = time.perf_counter() - started
    assert again.embedded == 0
    texts = [embedding_text(c) for c in store.load().chunks.values()]
    return elapsed, report.chunks, resync, texts


def raw_encode(texts: list[str], settings: Settings) -> float:
    """The compute limit: sentence-transformers encoding exactly our chunk texts, nothing else (torch)."""
    embedder = build_embedder(settings.model_copy(update={"embedding_backend": "torch"})).loaded
    model = embedder.model  # type: ignore[attr-defined]
    started = time.perf_counter()
    model.encode(texts, prompt_name="document", batch_size=settings.embedding_batch_size, normalize_embeddings=True)
    return time.perf_counter() - started


def langchain_pipeline(root: Path, settings: Settings) -> tuple[float, int]:
    """The pipeline from the LangChain docs: load text, RecursiveCharacterTextSplitter, HF embeddings, FAISS."""
    from benchmarks.langchain_baseline import build_store, folder_documents, langchain_embeddings

    # The model loads outside the timed region, as for the other two rows.
    embeddings = langchain_embeddings(settings)
    started = time.perf_counter()
    docs, _ = folder_documents(root)
    store = build_store(docs, embeddings)
    return time.perf_counter() - started, store.index.ntotal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", default="demo/knowledge_base", help="a folder, or a BEIR dataset folder")
    parser.add_argument("--docs", type=int, default=200, help="documents taken from a BEIR corpus (default 200)")
    parser.add_argument("--skip-langchain", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs of ours and of raw encode; medians reported")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.folder)
        if is_beir_folder(root):
            # A shared benchmark corpus: its first documents as .txt files, as the BEIR evaluation writes them.
            write_corpus(root, args.docs, Path(tmp) / "corpus")
            root = Path(tmp) / "corpus"
        ours, raw = [], []
        for run in range(max(1, args.repeat)):
            ours_s, chunks, resync_s, texts = our_pipeline(root, settings, Path(tmp) / f"run{run}")
            ours.append(ours_s)
            raw.append(raw_encode(texts, settings))
        report(root, args.folder, settings, ours, chunks, resync_s, texts, raw, args.skip_langchain)


def report(
    root: Path,
    name: str,
    settings: Settings,
    ours: list[float],
    chunks: int,
    resync_s: float,
    texts: list[str],
    raw: list[float],
    skip_langchain: bool,
) -> None:
    """Run the LangChain baseline on the same folder and print the table (medians of repeated runs)."""
    ours_s, raw_s = statistics.median(ours), statistics.median(raw)
    rows = [
        (f"our ingest (load, chunk, embed, index, publish; {settings.embedding_backend} runtime)", chunks, ours_s),
        ("raw SentenceTransformer.encode, same chunk texts", len(texts), raw_s),
    ]
    if not skip_langchain:
        lc_s, lc_chunks = langchain_pipeline(root, settings)
        rows.append(("LangChain: RecursiveCharacterTextSplitter(1000,150) + HF embeddings + FAISS", lc_chunks, lc_s))
    print(f"Machine: {machine_info()}  \nCorpus: {name} ({sum(1 for p in root.rglob('*') if p.is_file())} files)\n")
    print("| pipeline | chunks | seconds | chunks/s |\n|---|---:|---:|---:|")
    for name, n, seconds in rows:
        print(f"| {name} | {n} | {seconds:.1f} | {n / seconds:.2f} |")
    print(f"\nOur ingest vs raw encode: {(chunks / ours_s) / (len(texts) / raw_s):.2f}x of the compute limit.")
    if len(ours) > 1:
        runs = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(ours, raw, strict=True))
        print(f"Runs (ours/raw seconds, medians above): {runs}.")
    print(f"Re-sync of the unchanged folder: {resync_s:.2f} s (0 chunks embedded).")


if __name__ == "__main__":
    main()
