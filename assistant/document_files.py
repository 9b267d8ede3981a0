"""Serve an original document: only from inside its folder, shown by a browser but never run on our origin."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from assistant.headers import SANDBOX_POLICY

# Shown in the tab: a PDF in the browser's viewer, the rest as a sandboxed page or plain text.
INLINE_TYPES = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".svg": "image/svg+xml",
    ".xml": "application/xml",
    ".md": "text/markdown; charset=utf-8",
    ".markdown": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
FALLBACK_NAME_CHAR = "_"


@dataclass(frozen=True)
class FileHeaders:
    media_type: str
    headers: dict[str, str]


def resolve_inside(root: Path, source: str) -> Path | None:
    """The regular file `source` names under `root`, or None if it, or a symlink on the way, leads outside root."""
    try:
        base = root.resolve(strict=True)
        # resolve() follows every symlink, so the test below sees where the bytes really are.
        target = (base / source).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, or a NUL in the name
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def content_disposition(disposition: str, name: str) -> str:
    """`inline` or `attachment` with the file name as an ASCII fallback and RFC 5987 `filename*` in UTF-8.

    The fallback keeps only printable ASCII without quotes, backslashes or semicolons, so no name can
    end the quoted string, look like another parameter to a naive parser, or break the header line.
    """
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\;' else FALLBACK_NAME_CHAR for c in name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_headers(name: str) -> FileHeaders:
    """Type and headers for the original called `name`: known types inline, others downloaded.

    Every type gets the script-less CSP sandbox whatever its content, and nosniff (added to every
    response) keeps a browser from reading a file as another type than the one sent here.
    """
    suffix = Path(name).suffix.lower()
    media_type = INLINE_TYPES.get(suffix)
    disposition = "inline"
    if media_type is None:
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        disposition = "attachment"
    return FileHeaders(
        media_type,
        {
            "Content-Disposition": content_disposition(disposition, name),
            "Content-Security-Policy": SANDBOX_POLICY,
            # Agents open restricted documents; a shared machine's cache should not keep them.
            "Cache-Control": "private, no-cache",
        },
    )
