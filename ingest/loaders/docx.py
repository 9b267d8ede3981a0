"""Word (.docx) loader (python-docx): headings, paragraphs, lists and tables in body order."""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.documents import Document
from ingest.errors import CorruptDocument, TooLarge
from ingest.loaders._build import DocumentBuilder

MAX_UNPACKED_BYTES = 200_000_000
# Real .docx parts compress about 5-20x; a zip bomb of repeated bytes reaches 1000x.
MAX_RATIO = 100
# Small archives may compress extremely well without harm, so the ratio is checked above this.
_RATIO_FLOOR = 10_000_000
_MAX_ENTRIES = 10_000
_HEADING_STYLE = re.compile(r"^heading (\d)$", re.I)


def check_archive(data: bytes, source: str, max_unpacked: int = MAX_UNPACKED_BYTES, max_ratio: int = MAX_RATIO) -> None:
    """Refuse archives that would unpack too large (zip bombs) before any part is read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise CorruptDocument(
            f"{source} is damaged or not a Word document (not a valid zip archive); open it in Word and save it again"
        ) from exc
    if len(entries) > _MAX_ENTRIES:
        raise CorruptDocument(f"{source} holds {len(entries)} parts, far more than a Word document")
    unpacked = sum(entry.file_size for entry in entries)
    packed = sum(entry.compress_size for entry in entries) or 1
    if unpacked > max_unpacked:
        raise TooLarge(
            f"{source} unpacks to {unpacked // 1_000_000} MB, over the "
            f"{max_unpacked // 1_000_000} MB limit; split it or remove embedded media"
        )
    if unpacked > _RATIO_FLOOR and unpacked / packed > max_ratio:
        raise CorruptDocument(
            f"{source} is compressed {unpacked // packed}:1, which only zip bombs do; it was not opened"
        )


def _heading_level(paragraph: Paragraph) -> int:
    """1-9 for Title and Heading N paragraphs, 0 for anything else."""
    name = paragraph.style.name if paragraph.style is not None else ""
    if name == "Title":
        return 1
    match = _HEADING_STYLE.match(name or "")
    return int(match.group(1)) if match else 0


def _is_list_item(paragraph: Paragraph) -> bool:
    name = paragraph.style.name if paragraph.style is not None else ""
    numbered = paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None
    return numbered or (name or "").startswith("List")


def table_lines(table: Table) -> list[str]:
    """One "cell | cell" line per non-empty row; a merged cell is written once."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # python-docx repeats a horizontally merged cell once per grid column it spans.
            if cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def load_docx(data: bytes, source: str, max_unpacked: int = MAX_UNPACKED_BYTES) -> Document:
    """Load a .docx file; Title and Heading N styles build the heading path."""
    check_archive(data, source, max_unpacked)
    try:
        word = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise CorruptDocument(
            f"{source} could not be opened as a Word document ({exc}); open it in Word and save it again as .docx"
        ) from exc
    builder = DocumentBuilder(source)
    items: list[str] = []
    for part in word.iter_inner_content():
        if isinstance(part, Paragraph) and _is_list_item(part) and not _heading_level(part):
            items.append(part.text)
            continue
        # Consecutive list paragraphs form one list block.
        builder.add("\n".join(items), "list")
        items = []
        if isinstance(part, Table):
            builder.add("\n".join(table_lines(part)), "table")
        elif level := _heading_level(part):
            builder.heading(part.text, level)
        else:
            builder.add(part.text)
    builder.add("\n".join(items), "list")
    return builder.build(word.core_properties.title or builder.first_heading())
