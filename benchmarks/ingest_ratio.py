"""A cold `assistant ingest` of one folder at two commits, alternating: the ratio issue 15 bounds (1.5x).

Usage: .venv/bin/python -m benchmarks.ingest_ratio BASELINE_COMMIT [FOLDER] [--repeat 3] [--work /tmp/ingest-ratio]
FOLDER defaults to demo/knowledge_base. The baseline runs from a temporary git worktree of
BASELINE_COMMIT (removed afterwards), the candidate from this checkout, both with this venv's Python.
Each run is the whole CLI command in a new process (start-up, imports, model load, parse, embed,
calibrate, publish) into a new index, with an embedding cache that holds nothing but what `make setup`
puts there at that commit: the model files are linked in from the real cache folder, and the candidate
first runs `python -m assistant.prepare_model` as set-up does (untimed). Runs alternate baseline,
candidate, so a change in the machine's load hits both; the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.settings import Settings
from benchmarks.machine import machine_info

REPO = Path(__file__).resolve().parent.parent
# What set-up leaves in the cache folder besides the embedding cache (models, exports, wheels, dictionaries).
SHARED_CACHE_ENTRIES = ("models", "onnx", "wheels", "dictionaries")


def fresh_cache(real: Path, folder: Path) -> Path:
    """A cache folder with the real model files linked in and no embedding cache."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name in SHARED_CACHE_ENTRIES:
        if (real / name).exists():
            (folder / name).symlink_to(real / name)
    return folder


def cli(checkout: Path, cache: Path, *args: str) -> float:
    """Run `python -m assistant ARGS` from `checkout` and return its wall time; exit 1 (some files skipped) is fine."""
    env = {**os.environ, "ASSISTANT_CACHE_DIR": str(cache), "PYTHONPATH": str(checkout)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", *args], cwd=checkout, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} at {checkout} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def timed_ingest(checkout: Path, folder: Path, work: Path, real_cache: Path, label: str, run: int) -> float:
    cache = fresh_cache(real_cache, work / f"cache-{label}-{run}")
    if label == "candidate":
        cli(checkout, cache, "assistant.prepare_model")
    index = work / f"index-{label}-{run}"
    shutil.rmtree(index, ignore_errors=True)
    seconds = cli(checkout, cache, "assistant", "ingest", str(folder), "--index", str(index))
    shutil.rmtree(cache)
    shutil.rmtree(index)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", help="the commit to compare with, e.g. bf3797f")
    parser.add_argument("folder", nargs="?", type=Path, default=REPO / "demo" / "knowledge_base")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ingest-ratio")
    args = parser.parse_args()
    folder, work = args.folder.resolve(), args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    real_cache = Settings().cache_dir
    baseline = work / "baseline-checkout"
    if baseline.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=REPO, check=False)
    subprocess.run(["git", "worktree", "add", "--detach", str(baseline), args.baseline], cwd=REPO, check=True)
    times: dict[str, list[float]] = {"baseline": [], "candidate": []}
    try:
        for run in range(args.repeat):
            for label, checkout in (("baseline", baseline), ("candidate", REPO)):
                times[label].append(timed_ingest(checkout, folder, work, real_cache, label, run))
                print(f"run {run + 1} {label}: {times[label][-1]:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=REPO, check=False)
    base, cand = statistics.median(times["baseline"]), statistics.median(times["candidate"])
    print(f"\n{machine_info()}")
    print(f"cold `assistant ingest {folder.name}`, median of {args.repeat}")
    print("| commit | runs, s | median s |\n|---|---|---:|")
    for label, name, median in (("baseline", args.baseline, base), ("candidate", "this checkout", cand)):
        print(f"| {name} | {', '.join(f'{t:.1f}' for t in times[label])} | {median:.1f} |")
    print(f"\nratio {cand / base:.2f}x (target at most 1.5x)")


if __name__ == "__main__":
    main()
