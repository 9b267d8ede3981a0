"""What makes a written index file durable and checkable: fsync, its checksum, and its size-and-mtime stamp."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ingest.checksums import sha256_file


def file_stat(path: Path) -> str:
    """Size and mtime: a file still showing the stamp recorded when it was written is trusted by a quick check."""
    stat = path.stat()
    return f"{stat.st_size}.{stat.st_mtime_ns}"


def save_arrays(folder: Path, arrays: Mapping[str, np.ndarray]) -> list[Path]:
    """Write each array as `folder/name` in .npy form (no pickles); returns the paths, for sealing."""
    paths = []
    for name, array in arrays.items():
        with (folder / name).open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
        paths.append(folder / name)
    return paths


def fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def seal(files: list[Path]) -> tuple[dict[str, str], dict[str, str]]:
    """Checksum and fsync freshly written files; returns (checksums, stats) by file name."""
    checksums = {p.name: sha256_file(p) for p in files}
    for path in files:
        fsync_file(path)
    return checksums, {p.name: file_stat(p) for p in files}
