"""Turn a file into a Document: pick the loader by suffix, type every failure as IngestError."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from assistant import defaults
from ingest.documents import Document
from ingest.errors import CorruptDocument, EmptyDocument, IngestError, TooLarge, UnsupportedFormat
from ingest.loaders.docx import load_docx
from ingest.loaders.html import load_html
from ingest.loaders.markdown import load_markdown
from ingest.loaders.pdf import load_pdf
from ingest.loaders.text import load_text

logger = logging.getLogger(__name__)

Loader = Callable[[bytes, str], Document]

_LOADERS: dict[str, tuple[Loader, str]] = {
    ".pdf": (load_pdf, "PDF"),
    ".docx": (load_docx, "Word document"),
    ".html": (load_html, "HTML page"),
    ".htm": (load_html, "HTML page"),
    ".md": (load_markdown, "Markdown file"),
    ".markdown": (load_markdown, "Markdown file"),
    ".txt": (load_text, "text file"),
}
SUPPORTED_SUFFIXES = frozenset(_LOADERS)

__all__ = ["SUPPORTED_SUFFIXES", "load_bytes", "load_document"]


def _loader_for(suffix: str, source: str) -> tuple[Loader, str]:
    if suffix not in _LOADERS:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise UnsupportedFormat(
            f"{source} has an unsupported format ({suffix or 'no extension'}); convert it to one of {supported}"
        )
    return _LOADERS[suffix]


def load_document(path: Path, source: str, max_bytes: int = defaults.MAX_FILE_BYTES) -> Document:
    """Load one file into a Document.

    Args:
        path: the file on disk.
        source: its path relative to the ingested root, used in the Document and in messages.
        max_bytes: files larger than this are refused before they are read.

    Raises:
        IngestError: always a subclass naming the file and what to do about it; no other
            exception escapes for bad file contents.
    """
    suffix = path.suffix.lower()
    _loader_for(suffix, source)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TooLarge(
                f"{source} is {size / 1_000_000:.1f} MB, over the {max_bytes / 1_000_000:.1f} MB "
                "limit; split it into smaller files"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{source} could not be read: {exc.strerror or exc}") from exc
    return load_bytes(data, source, suffix, max_bytes)


def load_bytes(data: bytes, source: str, suffix: str, max_bytes: int = defaults.MAX_FILE_BYTES) -> Document:
    """Load a document held in memory (a fetched page, an API record) with the loader for `suffix`.

    Raises:
        IngestError: as load_document.
    """
    loader, kind = _loader_for(suffix.lower(), source)
    if len(data) > max_bytes:
        raise TooLarge(
            f"{source} is {len(data) / 1_000_000:.1f} MB, over the {max_bytes / 1_000_000:.1f} MB "
            "limit; split it into smaller files"
        )
    if not data:
        raise EmptyDocument(f"{source} is empty (0 bytes)")
    try:
        document = loader(data, source)
    except IngestError:
        raise
    except RecursionError as exc:
        raise CorruptDocument(f"{source} is nested too deeply to read as a {kind}; simplify or re-export it") from exc
    except Exception as exc:
        logger.debug("%s: %s loader failed", source, kind, exc_info=True)
        raise CorruptDocument(
            f"{source} could not be read as a {kind} ({type(exc).__name__}: {exc}); "
            "it may be damaged, so re-export or download it again"
        ) from exc
    if not document.blocks:
        raise EmptyDocument(f"{source} contains no text after extraction")
    return document
