"""A folder on disk: every non-hidden file, versioned by the SHA-256 of its bytes and its sidecar metadata.

A file whose size, times and inode (and its sidecar's) are those recorded at the last ingest keeps its
recorded version without being read again, as git trusts its index: re-syncing a large unchanged folder
costs one stat per file, not one hash per file.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.checksums import sha256_file
from ingest.sources.base import (
    ItemFailure,
    OutsideFolder,
    Sink,
    SourceItem,
    SourceMemory,
    SourceUnavailable,
    Unreadable,
)
from ingest.sources.config import SourceConfig

SIDECAR_SUFFIX = ".meta.json"
# A file changed within this long of being hashed could change again without its mtime moving
# (coarse timestamps); its stat is not trusted next time, so it is hashed again.
RACY_NS = 2_000_000_000


@dataclass
class Scanned:
    source: str
    path: Path
    sha256: str
    size: int
    meta: dict[str, list[str]]
    stat: str = ""  # stat_signature() when it can be trusted next time, else ""


def _signature(stat: os.stat_result) -> str:
    return f"{stat.st_size}.{stat.st_mtime_ns}.{stat.st_ctime_ns}.{stat.st_ino}"


def stat_signature(path: Path, now_ns: int | None = None) -> str:
    """The file's and its sidecar's size, mtime, ctime and inode; "" when too recent to be trusted.

    Raises:
        OSError: the file vanished.
    """
    stats = [path.stat()]
    try:
        stats.append(path.with_name(path.name + SIDECAR_SUFFIX).stat())
    except FileNotFoundError:
        pass
    now_ns = time.time_ns() if now_ns is None else now_ns
    if any(now_ns - max(s.st_mtime_ns, s.st_ctime_ns) < RACY_NS for s in stats):
        return ""
    return "/".join(_signature(s) for s in stats)


def _read_sidecar(path: Path) -> tuple[dict[str, list[str]], bytes]:
    """Optional `<file>.meta.json` beside a document: {"tags": [...], "groups": [...]}."""
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.exists():
        return {}, b""
    raw = sidecar.read_bytes()
    data = json.loads(raw)
    # Strict: a misspelt sidecar must not silently make a restricted document public.
    if not isinstance(data, dict) or any(
        not isinstance(data.get(k, []), list) or not all(isinstance(v, str) for v in data.get(k, []))
        for k in ("tags", "groups")
    ):
        raise ValueError(f'{sidecar.name} must be {{"tags": ["..."], "groups": ["..."]}} with lists of strings')
    return {k: list(data.get(k, [])) for k in ("tags", "groups")}, raw


def scan(
    root: Path, known: Mapping[str, tuple[str, str]] | None = None
) -> tuple[list[Scanned], list[tuple[str, str, str]]]:
    """Every non-hidden file under root with its content hash (sidecar metadata included).

    Args:
        known: source -> (stat signature, version) recorded at the last ingest; a file whose
            signature is unchanged gets that version without being hashed.

    Returns the files and (source, reason, message) for each file that could not be read.
    """
    known = known or {}
    found, failures = [], []
    base = root.resolve()
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        source = relative.as_posix()
        # A link to a file elsewhere would publish it to every agent; the document route refuses it too.
        # Only a link can lead out: rglob does not descend into linked folders, so any other file is
        # under `base` (resolving every file took 0.85 s of a 10,000-file re-sync).
        if path.is_symlink() and not path.resolve().is_relative_to(base):
            message = f"{source} is a link to a file outside the folder; copy the file in instead."
            failures.append((source, OutsideFolder.reason, message))
            continue
        try:
            # Taken before reading: a write during the hash moves it, so the next scan hashes again.
            signature = stat_signature(path)
            meta, sidecar = _read_sidecar(path)
            recorded, version = known.get(source, ("", ""))
            # A metadata change re-indexes the file: the sidecar is part of its version.
            digest = version if signature and signature == recorded else sha256_file(path, b"\x00" + sidecar)
            size = path.stat().st_size
        except (OSError, ValueError) as exc:
            failures.append((source, Unreadable.reason, f"{source} could not be read: {exc}"))
            continue
        found.append(Scanned(source, path, digest, size, meta, signature))
    return found, failures


class FolderSource:
    """Files under `root`; `groups` and `tags` of the source are added to each file's sidecar ones."""

    kind = "folder"

    def __init__(self, name: str, root: Path, groups: tuple[str, ...] = (), tags: tuple[str, ...] = ()) -> None:
        self.name = name
        self.root = root
        self.groups = groups
        self.tags = tags

    @classmethod
    def from_config(cls, config: SourceConfig) -> FolderSource:
        path = Path(config.options.text("path")).expanduser()
        config.options.finish()
        return cls(config.name, path if path.is_absolute() else config.base_dir / path, config.groups, config.tags)

    def collect(self, memory: SourceMemory, sink: Sink) -> dict[str, Any]:
        root = self.root.resolve()
        if not root.is_dir():
            raise SourceUnavailable(f"{root} is not a folder (missing or unmounted?)")
        files, failures = scan(root, {k: (v, memory.known.get(k, "")) for k, v in memory.stats.items()})
        sink.expect(len(files) + len(failures))
        for source, reason, message in failures:
            error = OutsideFolder(message) if reason == OutsideFolder.reason else Unreadable(message)
            sink.fail(ItemFailure(source, error))
        for item in files:
            sink.add(
                SourceItem(
                    id=item.source,
                    version=item.sha256,
                    format=item.path.suffix.lower(),
                    path=item.path,
                    stat=item.stat,
                    tags=tuple(dict.fromkeys([*self.tags, *item.meta.get("tags", [])])),
                    groups=tuple(dict.fromkeys([*self.groups, *item.meta.get("groups", [])])),
                )
            )
        return {"root": str(root)}
