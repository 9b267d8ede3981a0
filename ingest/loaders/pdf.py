"""PDF loader (pypdf): text per page, paragraphs rebuilt from the line structure."""

from __future__ import annotations

import io
import logging
import re

from pypdf import PageObject, PasswordType, PdfReader
from pypdf.errors import DependencyError

from ingest.documents import Document
from ingest.errors import CorruptDocument, EncryptedDocument, NoTextLayer
from ingest.loaders._build import DocumentBuilder, clean_text

logger = logging.getLogger(__name__)

# A line this much shorter than the page's longest line ends its paragraph.
_SHORT_LINE = 0.6
# Below this width every line is short, so only blank lines split paragraphs.
_MIN_WIDTH = 40
# A gap this many times the normal line step separates paragraphs.
_GAP = 1.4
# Points; closer baselines are the same line (sub- and superscripts), not a line step.
_MIN_STEP = 2.0
_MAX_TITLE = 100
# A line of page text and the height of its baseline, when pypdf reported one.
Line = tuple[str, float | None]
# Titles that PDF producers fill in on their own and that name nothing.
_JUNK_TITLE = re.compile(r"^(untitled|title|document\d*|microsoft (word|powerpoint) - .*)$", re.I)


def join_lines(lines: list[str]) -> str:
    """Join the lines of one paragraph, undoing hyphenation at line ends."""
    text = lines[0]
    for line in lines[1:]:
        if text.endswith("-") and len(text) > 1 and text[-2].isalnum():
            # "tuot-/teen" was split by the layout; "EU-/maat" and "1990-/2000" keep the hyphen.
            lowercase_split = text[-2].islower() and line[:1].islower()
            text = text[:-1] + line if lowercase_split else text + line
        else:
            text = f"{text} {line}"
    return text


def page_lines(page: PageObject) -> list[Line]:
    """The page's extracted lines, each with the baseline height where it starts (None if unknown).

    pypdf's plain extraction never emits blank lines, so paragraph gaps are read from positions.
    """
    fragments: list[tuple[str, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        if text:
            fragments.append((text, tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(fragment for fragment, _ in fragments) != text:
        return [(line, None) for line in text.split("\n")]
    lines: list[Line] = []
    current, height = "", None
    for fragment, y in fragments:
        for index, part in enumerate(fragment.split("\n")):
            if index:
                lines.append((current, height))
                current, height = "", None
            if height is None and part.strip():
                height = y
            current += part
    lines.append((current, height))
    return lines


def _merge_soft_hyphens(lines: list[Line]) -> list[Line]:
    # A soft hyphen at a line end marks a word the layout split: rejoin it, keep the first height.
    merged: list[Line] = []
    for text, height in lines:
        if merged and merged[-1][0].rstrip().endswith("\u00ad"):
            previous, first_height = merged.pop()
            merged.append((previous.rstrip()[:-1] + text.lstrip(), first_height))
        else:
            merged.append((text, height))
    return merged


def _line_step(heights: list[float | None]) -> float:
    """The normal distance between consecutive lines, 0 when unknown.

    The lower quartile of the downward gaps: a few smaller gaps (footnotes) or larger ones
    (paragraph spacing) do not move it.
    """
    gaps = sorted(
        above - below
        for above, below in zip(heights, heights[1:], strict=False)
        if above is not None and below is not None and above - below >= _MIN_STEP
    )
    return gaps[len(gaps) // 4] if gaps else 0.0


def split_paragraphs(lines: list[Line]) -> list[str]:
    """Group a page's (text, height) lines into paragraphs.

    A paragraph ends at a blank line, at a vertical gap wider than the normal line step, where
    the text jumps up (a new column), or after a line much shorter than the page's longest.
    """
    # Measured before soft-hyphen merging, which makes lines longer than the page is wide.
    width = max((len(clean_text(text)) for text, _ in lines), default=0)
    lines = _merge_soft_hyphens(lines)
    texts = [clean_text(text) for text, _ in lines]
    heights = [height for _, height in lines]
    step = _line_step(heights)
    paragraphs: list[str] = []
    current: list[str] = []
    for index, text in enumerate(texts):
        above, here = (heights[index - 1] if index else None), heights[index]
        gap_before = (
            step > 0
            and above is not None
            and here is not None
            and (above - here > _GAP * step or here > above + _MIN_STEP)
        )
        if current and (not text or gap_before):
            paragraphs.append(join_lines(current))
            current = []
        if not text:
            continue
        current.append(text)
        short = width >= _MIN_WIDTH and len(text) < _SHORT_LINE * width
        if short and not text.endswith(("-", ",")):
            paragraphs.append(join_lines(current))
            current = []
    if current:
        paragraphs.append(join_lines(current))
    return paragraphs


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
    first: str | None = None
    for number, page in enumerate(pages, start=1):
        try:
            lines = page_lines(page)
        except Exception as exc:  # one unreadable page should not lose the rest
            failed += 1
            logger.warning("%s: could not read page %d: %s", source, number, exc)
            continue
        for paragraph in split_paragraphs(lines):
            first = first or paragraph
            builder.add(paragraph, page=number, keep_lines=False)
    if not builder.blocks and failed:
        raise CorruptDocument(f"{source}: none of its {len(pages)} pages could be read; re-export it")
    if not builder.blocks:
        raise NoTextLayer(
            f"{source} has no text layer (it looks like a scan); run OCR on it or export it from the original with text"
        )
    title = _metadata_title(reader) or (first if first and _heading_like(first) else None)
    return builder.build(title, {"pages": str(len(pages))})
