"""SHA-256 of files, read in blocks so a large file never sits in memory."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, suffix: bytes = b"") -> str:
    """Hex digest of the file's bytes followed by `suffix`."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(suffix)
    return digest.hexdigest()
