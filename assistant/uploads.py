"""Save uploaded documents into the ingested folder: plain names, supported formats, bounded size, all or nothing."""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from assistant.exceptions import AssistantError
from ingest.loaders import SUPPORTED_SUFFIXES

BLOCK = 1 << 20
TMP_PREFIX = ".upload-"
MAX_NAME_BYTES = 255
# Windows device names: "CON.md" on a share opens the console, not a file. Matched before the first dot.
RESERVED_NAMES = re.compile(r"(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|(COM|LPT)[0-9¹²³])", re.IGNORECASE)
# Characters Windows refuses in names (":" would also open an NTFS alternate stream).
WINDOWS_FORBIDDEN = set('<>:"|?*')


class UploadRejected(AssistantError):
    """An upload the knowledge manager must fix; carries the HTTP status and a machine code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, status=status, code=code)


@dataclass
class Incoming:
    name: str
    stream: BinaryIO


@dataclass
class Saved:
    source: str
    bytes: int
    replaced: bool


def check_name(name: str) -> str:
    """A file name without any folder part, visible to the scanner, in a format we can read.

    The folder may be a Windows share, so names that only Windows treats as paths or devices are
    refused too: backslashes, drive letters, reserved names (CON, NUL, COM1, ...), trailing dots.
    """
    if not name or not name.strip():
        raise UploadRejected(422, "bad_file_name", "A file has no name.")
    # NFKC folds look-alikes such as a fullwidth solidus into the separator they imitate.
    folded = unicodedata.normalize("NFKC", name)
    if any(sep in text for text in (name, folded) for sep in ("/", "\\", "..")):
        raise UploadRejected(422, "bad_file_name", f"{name!r} is not a plain file name; remove folder parts and '..'.")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name) or len(name.encode()) > MAX_NAME_BYTES:
        raise UploadRejected(
            422, "bad_file_name", f"{name!r} has control characters or is longer than {MAX_NAME_BYTES} bytes."
        )
    if WINDOWS_FORBIDDEN & set(folded) or name != name.rstrip(" ."):
        raise UploadRejected(
            422, "bad_file_name", f'{name!r} has a character Windows forbids (<>:"|?*) or ends in a dot or space.'
        )
    if RESERVED_NAMES.fullmatch(folded.split(".")[0].rstrip(" ")):
        raise UploadRejected(422, "bad_file_name", f"{name!r} is a reserved device name on Windows; rename it.")
    # The scanner skips hidden files, so such an upload would silently never be indexed.
    if name.startswith("."):
        raise UploadRejected(422, "bad_file_name", f"{name!r} starts with a dot; hidden files are not indexed.")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        kind = suffix or "no extension"
        raise UploadRejected(415, "unsupported_format", f"{name} has an unsupported format ({kind}); use {supported}.")
    return name


def _copy_bounded(stream: BinaryIO, target: Path, name: str, max_bytes: int) -> int:
    size = 0
    with target.open("wb") as out:
        while block := stream.read(BLOCK):
            size += len(block)
            if size > max_bytes:
                limit = f"{max_bytes:,} bytes"
                raise UploadRejected(413, "file_too_large", f"{name} is larger than the limit of {limit}; split it.")
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    return size


def save_uploads(root: Path, files: list[Incoming], max_bytes: int) -> list[Saved]:
    """Write every file into `root`, or none of them if any is rejected."""
    if not files:
        raise UploadRejected(422, "no_files", "Choose at least one file to upload.")
    names = [check_name(f.name) for f in files]
    if len(set(names)) != len(names):
        raise UploadRejected(422, "duplicate_file_name", "Two uploaded files have the same name.")
    if not root.is_dir():
        raise UploadRejected(409, "folder_missing", f"The knowledge-base folder {root.name} no longer exists.")
    base = root.resolve()
    for name in names:
        # A checked name has no folder part; this holds even if a check above were ever loosened.
        if (base / name).parent != base:
            raise UploadRejected(422, "bad_file_name", f"{name!r} would be written outside the knowledge-base folder.")
    # Hidden temporary names: a re-index running meanwhile never picks up a half-written file.
    temps: list[tuple[Path, int]] = []
    try:
        for name, incoming in zip(names, files, strict=True):
            temp = root / f"{TMP_PREFIX}{secrets.token_hex(4)}-{name}"
            temps.append((temp, 0))
            temps[-1] = (temp, _copy_bounded(incoming.stream, temp, name, max_bytes))
    except BaseException:
        for temp, _ in temps:
            temp.unlink(missing_ok=True)
        raise
    saved = []
    for name, (temp, size) in zip(names, temps, strict=True):
        final = root / name
        replaced = final.exists()
        os.replace(temp, final)
        saved.append(Saved(name, size, replaced))
    return saved
