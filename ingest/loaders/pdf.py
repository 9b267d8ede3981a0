"""PDF loader (pypdf): headings, lists and paragraphs per page, without running headers and footers."""

from __future__ import annotations

import io
import logging
import re

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from ingest.documents import Document
from ingest.errors import CorruptDocument, EncryptedDocument, NoTextLayer
from ingest.loaders._build import DocumentBuilder, clean_text
from ingest.loaders._pdf_layout import (
    PdfLine,
    drop_running_lines,
    heading_levels,
    join_lines,
    page_lines,
    split_blocks,
    split_paragraphs,
)

logger = logging.getLogger(__name__)

_MAX_TITLE = 100
# Titles that PDF producers fill in on their own and that name nothing.
_JUNK_TITLE = re.compile(r"^(untitled|title|document\d*|microsoft (word|powerpoint) - .*)$", re.I)

__all__ = ["join_lines", "load_pdf", "page_lines", "split_paragraphs"]


def _open(data: bytes, source: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except Exception as exc:
        raise CorruptDocument(f"{source} is damaged or not a PDF ({exc}); re-export or download it again") from exc
    if not reader.is_encrypted:
        return reader
    # Many PDFs are encrypted only to set permissions and open with an empty password.
    try:
        opened = reader.decrypt("")
    except DependencyError as exc:
        raise EncryptedDocument(
            f"{source} is encrypted with AES, which this installation cannot open; export an unprotected copy"
        ) from exc
    except Exception as exc:
        raise EncryptedDocument(
            f"{source} is encrypted and could not be opened ({exc}); export an unprotected copy"
        ) from exc
    if opened == PasswordType.NOT_DECRYPTED:
        raise EncryptedDocument(f"{source} is password-protected; remove the password or export an unprotected copy")
    return reader


def _metadata_title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # a broken info dictionary only costs us the title
        return None
    title = clean_text(str(title or ""), keep_lines=False)
    return title if title and not _JUNK_TITLE.match(title) else None


def _heading_like(paragraph: str) -> bool:
    return len(paragraph) < _MAX_TITLE and not paragraph.endswith((".", ",", ";", ":"))


def load_pdf(data: bytes, source: str) -> Document:
    """Load a PDF; each paragraph is a block carrying its 1-based page number."""
    reader = _open(data, source)
    try:
        pages = list(reader.pages)
    except Exception as exc:
        raise CorruptDocument(f"{source} has a damaged page tree ({exc}); re-export it") from exc
    if not pages:
        raise CorruptDocument(f"{source} has no pages; re-export it")
    builder = DocumentBuilder(source)
    failed = 0
    read: list[tuple[int, list[PdfLine]]] = []
    for number, page in enumerate(pages, start=1):
        try:
            read.append((number, page_lines(page)))
        except Exception as exc:  # one unreadable page should not lose the rest
            failed += 1
            logger.warning("%s: could not read page %d: %s", source, number, exc)
    texts = drop_running_lines([lines for _, lines in read])
    level_of = heading_levels(texts)
    first: str | None = None
    # Pages are split apart, so every block lies on the one page where it starts.
    for (number, _), lines in zip(read, texts, strict=True):
        for block in split_blocks(lines, level_of):
            first = first or block.text
            if block.level:
                builder.heading(block.text, block.level, page=number)
            else:
                builder.add(block.text, block.kind, page=number, keep_lines=block.kind == "list")
    if not builder.blocks and failed:
        raise CorruptDocument(f"{source}: none of its {len(pages)} pages could be read; re-export it")
    if not builder.blocks:
        raise NoTextLayer(
            f"{source} has no text layer (it looks like a scan); run OCR on it or export it from the original with text"
        )
    title = _metadata_title(reader) or builder.first_heading(1) or (first if first and _heading_like(first) else None)
    return builder.build(title, {"pages": str(len(pages))})
