"""Re-sync cost at 10,000 documents: an unchanged folder and one changed file, timed from the CLI.

Usage: .venv/bin/python -m benchmarks.resync_cost [--docs 10000] [--work /tmp/resync-cost] [--no-real]
Writes --docs text files made from every shared BEIR corpus (../shared/datasets/*/corpus.jsonl; past
their 6,575 documents, two documents are joined into one) under --work, never into the repository.
The index is built once in-process with a deterministic fake embedder of the real model's width (768),
because embedding 10,000 documents with the real model would take hours on 2 shared cores. Then
`assistant ingest` runs as a new process (start-up and imports included) with the same fake embedder
swapped in (`python -m benchmarks.resync_cost cli ...`), so the rows measure the sync itself. The real
model's embedding time for the changed file's passages and sentences is measured separately
(model load excluded) unless --no-real.
Targets (issue 19): unchanged re-sync under 3 s; one changed file under 10 s plus its own embedding.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ingest.store.layout import IndexStore

DIM = 768
FAKE_MODEL = "fake-768"
UNCHANGED_TARGET_S = 3.0
CHANGED_TARGET_S = 10.0
EDIT = "\n\nThis paragraph was added after the first index was built, to change one file."


def _documents(datasets: Path) -> list[tuple[str, str]]:
    """(name, text) of every document of every BEIR corpus under `datasets`, in a stable order."""
    out = []
    for corpus in sorted(datasets.glob("*/corpus.jsonl")):
        with corpus.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    title, text = str(row.get("title") or "").strip(), str(row.get("text") or "")
                    out.append((corpus.parent.name, f"{title}\n\n{text}" if title else text))
    return out


def write_folder(datasets: Path, docs: int, folder: Path) -> int:
    """`docs` text files; past the corpora's size, document i is joined with a far-away one."""
    source = _documents(datasets)
    if not source:
        raise SystemExit(f"no BEIR corpus under {datasets}")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for n in range(docs):
        name, text = source[n % len(source)]
        if n >= len(source):
            text = text + "\n\n" + source[(n * 7919) % len(source)][1]
        (folder / f"{n:05d}-{name}.txt").write_text(text, encoding="utf-8")
    return docs


def fake_embedder() -> object:
    from benchmarks.reindex_speed import FakeEmbedder

    return FakeEmbedder(FAKE_MODEL, DIM)


def run_cli(argv: Sequence[str]) -> int:
    """`assistant` itself, with the fake embedder in place of the model (what the timed subprocess runs)."""
    from assistant import cli, components

    embedder = fake_embedder()
    # Ingest and serve both build their embedder through components.build_embedder.
    components.build_embedder = lambda settings: embedder  # type: ignore[assignment,return-value]
    return cli.main(list(argv))


def timed_cli(folder: Path, index: Path, cache: Path) -> tuple[float, dict[str, object]]:
    command = [sys.executable, "-m", "benchmarks.resync_cost", "cli", "ingest", str(folder), "--index", str(index)]
    env = {**os.environ, "ASSISTANT_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed, json.loads(done.stdout)


def real_embedding_s(folder: Path, changed: str) -> tuple[float, int, int]:
    """Seconds the real model takes to embed the changed file's passages and sentences (model load excluded)."""
    from assistant.components import build_embedder, build_sync_options
    from assistant.settings import Settings
    from ingest.chunker import embedding_text
    from ingest.loaders import load_document
    from ingest.store.sentence_index import quotable_spans
    from ingest.sync import prepare_chunks

    settings = Settings()
    embedder = build_embedder(settings)
    _ = embedder.loaded
    options = build_sync_options(settings)
    chunks = prepare_chunks(load_document(folder / changed, changed, options.max_file_bytes), embedder, options)
    sentences = [c.text[s:e] for c in chunks for s, e in quotable_spans(c.text)]
    started = time.perf_counter()
    embedder.embed_documents([embedding_text(c) for c in chunks])
    embedder.embed_documents(sentences)
    return time.perf_counter() - started, len(chunks), len(sentences)


def written_by(store: IndexStore, before: str, after: str) -> dict[str, int]:
    """Bytes of the files version `after` reads that `before` did not (what publishing it wrote), by file name."""
    old = set(store.files(before))
    out: dict[str, int] = {}
    for path in store.files(after):
        if path not in old:
            out[path.name] = out.get(path.name, 0) + path.stat().st_size
    return out


def _rows(work: Path, docs: int, datasets: Path, real: bool) -> Iterator[str]:
    from benchmarks.machine import machine_info
    from ingest.embedding_cache import EmbeddingCache
    from ingest.sources.folder import RACY_NS
    from ingest.store.layout import IndexStore
    from ingest.sync import SyncOptions, sync_folder

    folder, index, cache_dir = work / "corpus", work / "index", work / "cache"
    for path in (index, cache_dir):
        shutil.rmtree(path, ignore_errors=True)
    cache_dir.mkdir(parents=True)
    write_folder(datasets, docs, folder)
    # Files written this instant are not trusted by their stat (ingest.sources.folder.RACY_NS);
    # a real knowledge base's files were written before the ingest that first indexed them.
    time.sleep(RACY_NS / 1e9)
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
    yield f"Machine: {machine_info()}  "
    yield f"Folder: {docs} text files from {datasets}/*/corpus.jsonl ({size_mb:.1f} MB) under {folder}  "
    yield f"Embedder in every row: deterministic fake, {DIM} dimensions (model id {FAKE_MODEL}).\n"
    embedder = fake_embedder()
    store = IndexStore(index)
    cache = EmbeddingCache(cache_dir / "embeddings.sqlite")
    started = time.perf_counter()
    report = sync_folder(folder, store, embedder, cache, SyncOptions())  # type: ignore[arg-type]
    build_s = time.perf_counter() - started
    cache.close()
    on_disk = store.size_on_disk() / 1e6
    yield "| step | files changed | passages embedded | passages in index | seconds |"
    yield "|---|---:|---:|---:|---:|"
    first = f"| first ingest, in-process ({on_disk:.0f} MB on disk) | {docs}"
    yield f"{first} | {report.embedded} | {report.chunks} | {build_s:.1f} |"
    unchanged_s, unchanged = timed_cli(folder, index, cache_dir)
    yield (
        f"| `assistant ingest` (new process), unchanged folder | 0 | {unchanged['embedded']} "
        f"| {unchanged['chunks']} | **{unchanged_s:.2f}** |"
    )
    changed = sorted(p.name for p in folder.iterdir())[docs // 2]
    with (folder / changed).open("a", encoding="utf-8") as handle:
        handle.write(EDIT)
    changed_s, after = timed_cli(folder, index, cache_dir)
    yield (
        f"| `assistant ingest` (new process), one file changed | 1 | {after['embedded']} "
        f"| {after['chunks']} | **{changed_s:.2f}** |"
    )
    yield ""
    written = written_by(store, str(unchanged["index_version"]), str(after["index_version"]))
    parts = ", ".join(f"{name} {size / 1e6:.2f}" for name, size in sorted(written.items(), key=lambda kv: -kv[1]))
    whole = store.size_on_disk() / 1e6
    yield (
        f"- Bytes the one-changed-file publish wrote: **{sum(written.values()) / 1e6:.1f} MB** of the "
        f"{whole:.0f} MB the new version reads (MB by file: {parts})."
    )
    verdict = "met" if unchanged_s < UNCHANGED_TARGET_S else "NOT met"
    yield f"- Unchanged re-sync: {unchanged_s:.2f} s, target < {UNCHANGED_TARGET_S:.0f} s: **{verdict}**."
    if real:
        embed_s, passages, sentences = real_embedding_s(folder, changed)
        yield (
            f"- The changed file's own embedding with the real model: {embed_s:.2f} s "
            f"({passages} passages, {sentences} sentences; model load excluded)."
        )
    verdict = "met" if changed_s < CHANGED_TARGET_S else "NOT met"
    target = f"target < {CHANGED_TARGET_S:.0f} s"
    yield f"- One changed file, sync without embedding: {changed_s:.2f} s, {target}: **{verdict}**."


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["cli"]:
        return run_cli(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000, help="documents in the generated folder")
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"), help="folder of BEIR corpora")
    parser.add_argument("--work", type=Path, default=Path("/tmp/resync-cost"), help="where folder and index go")
    parser.add_argument("--no-real", action="store_true", help="skip timing the real model on the changed file")
    args = parser.parse_args(argv)
    for line in _rows(args.work, args.docs, args.datasets.resolve(), not args.no_real):
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
