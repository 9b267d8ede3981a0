"""Re-index speed: re-sync of an unchanged folder and of one with 1% of files changed, beside a full rebuild.

Usage: .venv/bin/python -m benchmarks.reindex_speed [--docs 1000] [--dataset ../shared/datasets/scifact]
       [--fake] [--skip-cold]
Writes the first --docs documents of a BEIR corpus as .txt files into a temp folder and times the real
ingest path (`sync_folder` with the CLI's options) against a new, empty embedding cache, then the
`assistant ingest` command itself as a subprocess. Target: unchanged re-sync of 1,000 documents within 10 s.
--fake swaps the model for a deterministic hash embedder (a smoke run; embedding costs nothing).
--skip-cold leaves out row 1; the cache is then filled by an untimed build first, which embeds the
same passages, so it saves no time with a fresh cache unless --seed-cache starts it from a copy of
an embedding cache that already holds them (e.g. ~/.cache/assistant/embeddings.sqlite after
`assistant eval ../shared/datasets/scifact`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import numpy as np

from assistant.components import build_embedder, build_sync_options, embedder_identity
from assistant.settings import Settings
from benchmarks.machine import machine_info
from eval.beir import materialize
from ingest.embedder import Embedder, normalise, rough_token_count
from ingest.embedding_cache import EmbeddingCache
from ingest.store.layout import IndexStore
from ingest.sync import SyncOptions, sync_folder

SENTENCE = "This passage was revised after the first index was built."
TARGET_S = 10.0
TARGET_DOCS = 1000


class FakeEmbedder:
    """Stand-in for smoke runs: a unit vector seeded by each text's SHA-256; remembers what it embedded."""

    def __init__(self, model_id: str, dim: int = 32) -> None:
        self.model_id = model_id
        self.dim = dim
        self.embedded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        self.embedded.extend(texts)
        if progress is not None:
            progress(len(texts))
        return self.embed_queries(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.vstack([self._vector(t) for t in texts]))

    def count_tokens(self, text: str) -> int:
        return rough_token_count(text)


@dataclass
class Setup:
    """The embedder for the in-process rows (its model_id is what the index records) and the CLI's environment."""

    embedder: Embedder
    cli_env: dict[str, str]
    description: str


@dataclass
class Row:
    step: str
    seconds: float
    embedded: int
    chunks: int
    files_changed: int = 0
    failed: int = 0


@dataclass
class Measurement:
    rows: dict[str, Row] = field(default_factory=dict)  # cold, unchanged, changed, rebuild, cli
    changed: list[str] = field(default_factory=list)
    documents: int = 0


def write_corpus(dataset: Path, docs: int, folder: Path) -> int:
    """The first `docs` documents of a BEIR corpus as `<id>.txt` files, as the BEIR evaluation writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    head = folder.parent / f"{folder.name}.jsonl"
    with (dataset / "corpus.jsonl").open(encoding="utf-8") as source:
        head.write_text("".join(islice((line for line in source if line.strip()), docs)), encoding="utf-8")
    materialize(head, folder)
    return sum(1 for _ in folder.iterdir())


def _cli_env(work: Path, model_source: str) -> dict[str, str]:
    # Its own embedding cache for the CLI too; the model is named by its folder, so it is found where it lives.
    return {**os.environ, "ASSISTANT_CACHE_DIR": str(work / "cli-cache"), "ASSISTANT_EMBEDDING_MODEL": model_source}


def _cli_settings(settings: Settings, work: Path, model_source: str) -> Settings:
    """The settings the CLI subprocess will read from `_cli_env`."""
    return settings.model_copy(update={"cache_dir": work / "cli-cache", "embedding_model": model_source})


def real_setup(settings: Settings, work: Path) -> Setup:
    """The model as `assistant ingest` loads it, loaded here so its load time stays out of the rows."""
    embedder = build_embedder(settings)
    started = time.perf_counter()
    _ = embedder.loaded
    load_s = time.perf_counter() - started
    source = settings.model_path_or_name
    index_model = embedder.model_id
    cli_model = embedder_identity(_cli_settings(settings, work, source))
    if cli_model != index_model:
        # The CLI would see another model and re-embed the whole corpus.
        raise SystemExit(f"the CLI would record model {cli_model!r}, the index has {index_model!r}")
    return Setup(embedder, _cli_env(work, source), f"{index_model}, loaded in {load_s:.1f} s (not in rows)")


def fake_setup(settings: Settings, work: Path) -> Setup:
    """The fake embedder; the CLI gets an empty folder as its model, so it can never run a real one."""
    guard = work / "fake-embedder"
    guard.mkdir(parents=True, exist_ok=True)
    # The identity the CLI's embedder will have, so the CLI row finds the index up to date.
    cli_model = embedder_identity(_cli_settings(settings, work, str(guard)))
    description = "deterministic fake (--fake): no model, embedding costs nothing"
    return Setup(FakeEmbedder(cli_model), _cli_env(work, str(guard)), description)


def edit_files(root: Path, count: int) -> list[str]:
    """Append a sentence to `count` files spread over the folder; returns their sources."""
    files = sorted(p for p in root.iterdir() if p.is_file())
    chosen = files[:: max(1, len(files) // max(count, 1))][:count]
    for path in chosen:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(" " + SENTENCE)
    return [p.name for p in chosen]


def _timed_sync(
    step: str,
    root: Path,
    store: IndexStore,
    setup: Setup,
    cache: EmbeddingCache,
    options: SyncOptions,
    changed: int = 0,
) -> Row:
    started = time.perf_counter()
    report = sync_folder(root, store, setup.embedder, cache, options)
    return Row(step, time.perf_counter() - started, report.embedded, report.chunks, changed, len(report.failed))


def _assistant_command() -> list[str]:
    script = Path(sys.executable).parent / "assistant"
    return [str(script)] if script.exists() else [sys.executable, "-m", "assistant"]


def cli_resync(root: Path, index: Path, env: dict[str, str]) -> Row:
    """Wall time of `assistant ingest` in a fresh process: start-up and imports included."""
    command = [*_assistant_command(), "ingest", str(root), "--index", str(index), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    # Exit code 1 means some files failed to load; the rest was still checked and reported.
    try:
        report = json.loads(done.stdout) if done.returncode in (0, 1) else None
    except json.JSONDecodeError:
        report = None
    if not isinstance(report, dict):
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    step = "`assistant ingest FOLDER --index DIR --json`, unchanged folder (subprocess, with start-up)"
    return Row(step, elapsed, int(report["embedded"]), int(report["chunks"]))


def measure(
    root: Path,
    work: Path,
    setup: Setup,
    options: SyncOptions,
    changed_files: int,
    skip_cold: bool,
    seed_cache: Path | None = None,
) -> Measurement:
    """Time rows 1-5 against a new embedding cache under `work`; the CLI row is left out without `setup.cli_env`."""
    result = Measurement(documents=sum(1 for p in root.iterdir() if p.is_file()))
    store = IndexStore(work / "index")
    if seed_cache is not None:
        shutil.copyfile(seed_cache, work / "embeddings.sqlite")
    cache = EmbeddingCache(work / "embeddings.sqlite")
    rows = result.rows
    try:
        if skip_cold:
            sync_folder(root, store, setup.embedder, cache, options)
        else:
            rows["cold"] = _timed_sync("full build, empty embedding cache (cold)", root, store, setup, cache, options)
        rows["unchanged"] = _timed_sync("re-sync, unchanged folder", root, store, setup, cache, options)
        result.changed = edit_files(root, changed_files)
        share = len(result.changed) / max(result.documents, 1)
        files = f"{len(result.changed)} file" + ("s" if len(result.changed) != 1 else "")
        step = f"re-sync, {files} changed ({share:.0%}, a sentence appended to each)"
        rows["changed"] = _timed_sync(step, root, store, setup, cache, options, len(result.changed))
        step = "full rebuild into a new empty index, embedding cache warm" + (
            " (filled by an untimed build first: --skip-cold)" if skip_cold else ""
        )
        rows["rebuild"] = _timed_sync(step, root, IndexStore(work / "rebuild"), setup, cache, options)
        if setup.cli_env:
            rows["cli"] = cli_resync(root, store.root, setup.cli_env)
    finally:
        cache.close()
    return result


def render(result: Measurement, skip_cold: bool) -> str:
    """The Markdown table, then whether the 10 s target for an unchanged re-sync is met."""
    lines = [
        "| step | files changed | chunks embedded | chunks in index | seconds |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in result.rows.values():
        lines.append(f"| {row.step} | {row.files_changed} | {row.embedded} | {row.chunks} | {row.seconds:.2f} |")
    lines.append("")
    if skip_cold:
        lines.append("Row 1 (cold build) skipped: --skip-cold.")
    failed = result.rows["rebuild"].failed
    if failed:
        lines.append(f"{failed} of {result.documents} files could not be indexed (reported by ingest, left out).")
    unchanged = result.rows["unchanged"].seconds
    cli = result.rows.get("cli")
    judged = cli.seconds if cli else unchanged
    verdict = "met" if judged <= TARGET_S else "NOT met"
    detail = f"CLI {cli.seconds:.2f} s wall, in-process {unchanged:.2f} s" if cli else f"in-process {unchanged:.2f} s"
    scope = "" if result.documents == TARGET_DOCS else f"; this run had {result.documents} documents"
    lines.append(
        f"Target: unchanged re-sync of {TARGET_DOCS:,} documents within {TARGET_S:.0f} s: "
        f"**{verdict}** ({detail}{scope})."
    )
    return "\n".join(lines)


def run_benchmark(
    root: Path,
    work: Path,
    setup: Setup,
    options: SyncOptions,
    changed_files: int,
    skip_cold: bool = False,
    seed_cache: Path | None = None,
) -> Measurement:
    """Measure and print the table; returns the rows for callers that check them."""
    result = measure(root, work, setup, options, changed_files, skip_cold, seed_cache)
    print(render(result, skip_cold))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=TARGET_DOCS, help="documents taken from the corpus")
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/scifact"), help="a BEIR folder")
    parser.add_argument("--fake", action="store_true", help="deterministic fake embedder instead of the model")
    parser.add_argument("--skip-cold", action="store_true", help="leave out the cold full build (row 1)")
    parser.add_argument("--seed-cache", type=Path, help="start from a copy of this embedding cache (with --skip-cold)")
    args = parser.parse_args(argv)
    if args.seed_cache and not args.skip_cold:
        parser.error("--seed-cache would make the cold build warm; use it with --skip-cold")
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="reindex-speed-") as tmp:
        work = Path(tmp)
        root = work / "corpus"
        files = write_corpus(args.dataset, args.docs, root)
        size_mb = sum(p.stat().st_size for p in root.iterdir()) / 1e6
        setup = (fake_setup if args.fake else real_setup)(settings, work)
        print(f"Machine: {machine_info()}  ")
        print(f"Corpus: first {files} documents of {args.dataset} as .txt files ({size_mb:.1f} MB), temp folder  ")
        caches = f"a copy of {args.seed_cache}" if args.seed_cache else "new SQLite files in the temp folder"
        print(f"Embedder: {setup.description}; embedding caches: {caches}\n")
        changed = max(1, round(files / 100))
        run_benchmark(root, work, setup, build_sync_options(settings), changed, args.skip_cold, args.seed_cache)


if __name__ == "__main__":
    main()
