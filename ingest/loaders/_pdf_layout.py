"""PDF page layout: lines with position and font, running headers and footers, headings, lists and paragraphs."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from pypdf import PageObject

from ingest.documents import BlockKind
from ingest.loaders._build import clean_text

# A line this much shorter than the page's longest line ends its paragraph.
_SHORT_LINE = 0.6
# Below this width every line is short, so only blank lines split paragraphs.
_MIN_WIDTH = 40
# A gap this many times the normal line step separates paragraphs.
_GAP = 1.4
# Points; closer baselines are the same line (sub- and superscripts), not a line step.
_MIN_STEP = 2.0
# Points; a line starting this far right of a list marker continues that list item.
_INDENT = 1.0
# A line this many times the body font size is a heading.
_LARGER = 1.15
# Bold headings are at least (about) body size: smaller bold text is table headers or captions.
_BOLD_MIN = 0.95
_MAX_HEADING = 100
# Lines this far from the top or bottom of a page (in reading order) may be running headers/footers.
_EDGE_LINES = 2
# List markers: bullets, "1." / "1)" and "a)" / "a." followed by a space.
_BULLET = re.compile(r"^(?:[•◦▪▫‣⁃●○■□∙·*\-–—]|\d{1,2}[.)]|[a-zA-Z][.)])\s")
_SENTENCE_END = (".", ":", ";", "!", "?")
# "3", "1/2", "Page 2 of 3", "Sivu 2 (3)", "Strona 2 z 3", "- 2 -", "หน้า 2".
_PAGE_NUMBER = re.compile(
    r"^(?:(?:page|p\.|sivu|s\.|strona|str\.|หน้า)\s*)?[-–—]?\s*\d{1,4}\s*"
    r"(?:(?:/|of|z|\|)\s*\d{1,4}|\(\d{1,4}\))?\s*[-–—]?$",
    re.IGNORECASE,
)


class PdfLine(NamedTuple):
    """One extracted line; position and font are None when pypdf did not report them."""

    text: str
    y: float | None = None  # baseline height where the line starts
    x: float | None = None  # left edge where the line starts
    size: float | None = None  # effective font size (points) of most of the line's characters
    bold: bool = False  # every visible character is in a bold font


@dataclass(frozen=True)
class PdfBlock:
    """A block read from one page; `level` > 0 marks a heading."""

    kind: BlockKind
    text: str
    level: int = 0


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


def _is_bold(font: Any) -> bool:
    try:
        return "bold" in str(font.get("/BaseFont", "")).lower()
    except Exception:  # no or odd font dictionary: no bold
        return False


class _Fragment(NamedTuple):
    text: str
    x: float
    y: float
    size: float | None
    bold: bool


def page_lines(page: PageObject) -> list[PdfLine]:
    """The page's extracted lines with where each starts and the font it is set in.

    pypdf's plain extraction never emits blank lines, so paragraph gaps are read from positions.
    """
    fragments: list[_Fragment] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any = None, size: Any = None) -> None:
        if not text:
            return
        # Text space to page space: the text matrix, then the current transformation matrix.
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = math.hypot(tm[2] * cm[0] + tm[3] * cm[2], tm[2] * cm[1] + tm[3] * cm[3])
        known = isinstance(size, int | float) and size > 0 and scale > 0
        fragments.append(_Fragment(text, x, y, float(size) * scale if known else None, _is_bold(font)))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(fragment.text for fragment in fragments) != text:
        return [PdfLine(line) for line in text.split("\n")]
    lines: list[PdfLine] = []
    parts: list[tuple[str, _Fragment]] = []
    for fragment in fragments:
        for index, part in enumerate(fragment.text.split("\n")):
            if index:
                lines.append(_line(parts))
                parts = []
            parts.append((part, fragment))
    lines.append(_line(parts))
    return lines


def _line(parts: list[tuple[str, _Fragment]]) -> PdfLine:
    text = "".join(part for part, _ in parts)
    visible = [(part, fragment) for part, fragment in parts if part.strip()]
    if not visible:
        return PdfLine(text)
    first = visible[0][1]
    sizes: Counter[float] = Counter()
    for part, fragment in visible:
        if fragment.size is not None:
            sizes[fragment.size] += len(part.strip())
    size = sizes.most_common(1)[0][0] if sizes else None
    return PdfLine(text, first.y, first.x, size, all(fragment.bold for _, fragment in visible))


def _normalise(text: str) -> str:
    return re.sub(r"\d+", "#", clean_text(text, keep_lines=False).casefold())


def _edges(lines: list[PdfLine]) -> set[int]:
    """Indices of the lines at the top and bottom of a page, by reading order and by height."""
    visible = [index for index, line in enumerate(lines) if line.text.strip()]
    edges = set(visible[:_EDGE_LINES] + visible[-_EDGE_LINES:])
    placed = [index for index in visible if lines[index].y is not None]
    if placed:
        edges.add(max(placed, key=lambda index: lines[index].y or 0.0))
        edges.add(min(placed, key=lambda index: lines[index].y or 0.0))
    return edges


def drop_running_lines(pages: list[list[PdfLine]]) -> list[list[PdfLine]]:
    """Remove running headers and footers and lone page numbers from each page's lines.

    A line at a page's top or bottom is running text when the same line (digits aside, so
    "Guide | 1/2" matches "Guide | 2/2") sits at the top or bottom of at least two pages and at
    least half of them.
    """
    edges = [_edges(lines) for lines in pages]
    seen: Counter[str] = Counter()
    for lines, indices in zip(pages, edges, strict=True):
        seen.update({_normalise(lines[index].text) for index in indices})
    repeated = {key for key, count in seen.items() if count >= 2 and count * 2 >= len(pages)}
    kept = []
    for lines, indices in zip(pages, edges, strict=True):
        kept.append(
            [
                line
                for index, line in enumerate(lines)
                if index not in indices
                or not (
                    _normalise(line.text) in repeated or _PAGE_NUMBER.match(clean_text(line.text, keep_lines=False))
                )
            ]
        )
    return kept


def heading_levels(pages: list[list[PdfLine]]) -> Callable[[PdfLine], int]:
    """A function giving a line's heading level (1 = top) or 0 for body text, from font sizes.

    Body size is the size most characters are set in. Lines notably larger, or bold, short and
    unpunctuated, are headings; their distinct sizes, largest first, are the levels, with
    anything larger than the title (the largest heading on page 1) folded into level 1.
    Without font information every line is body text.
    """
    sizes: Counter[float] = Counter()
    bold: Counter[float] = Counter()
    for lines in pages:
        for line in lines:
            if line.size is not None:
                sizes[_round(line.size)] += len(line.text.strip())
                bold[_round(line.size)] += len(line.text.strip()) if line.bold else 0
    if not sizes:
        return lambda _: 0
    body = sizes.most_common(1)[0][0]
    # In a document set entirely in bold, boldness marks nothing.
    bold_marks = bold[body] * 2 < sizes[body]

    def is_heading(line: PdfLine) -> bool:
        text = clean_text(line.text, keep_lines=False)
        if line.size is None or not text or len(text) > _MAX_HEADING or _BULLET.match(text):
            return False
        if not any(char.isalpha() for char in text):
            return False
        if line.size >= body * _LARGER:
            return True
        return bold_marks and line.bold and line.size >= body * _BOLD_MIN and not text.endswith(_SENTENCE_END)

    found = sorted({_round(line.size or 0) for lines in pages for line in lines if is_heading(line)}, reverse=True)
    first_page = [_round(line.size or 0) for line in (pages[0] if pages else []) if is_heading(line)]
    title = max(first_page, default=found[0] if found else 0.0)

    def level(line: PdfLine) -> int:
        if not is_heading(line):
            return 0
        size = _round(line.size or 0)
        return 1 + sum(1 for other in found if size < other <= title)

    return level


def _round(size: float) -> float:
    return round(size * 2) / 2


def _merge_soft_hyphens(lines: list[PdfLine]) -> list[PdfLine]:
    # A soft hyphen at a line end marks a word the layout split: rejoin it, keep the first line's place.
    merged: list[PdfLine] = []
    for line in lines:
        if merged and merged[-1].text.rstrip().endswith("\u00ad"):
            previous = merged.pop()
            merged.append(previous._replace(text=previous.text.rstrip()[:-1] + line.text.lstrip()))
        else:
            merged.append(line)
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


@dataclass
class _Unit:
    """A heading, list item or paragraph being gathered line by line."""

    kind: str  # "heading", "item" or "paragraph"
    lines: list[str]
    level: int = 0
    marker_x: float | None = None
    closed: bool = False


def split_blocks(
    lines: Sequence[PdfLine | tuple[str, float | None]], level_of: Callable[[PdfLine], int]
) -> list[PdfBlock]:
    """Group one page's lines into headings, lists (one item per line) and paragraphs.

    A paragraph ends at a blank line, at a vertical gap wider than the normal line step, where
    the text jumps up (a new column), after a line much shorter than the page's longest, at a
    heading and at a list marker. A list item goes on while lines are indented past its marker.
    """
    page = [PdfLine(*line) for line in lines]
    # Measured before soft-hyphen merging, which makes lines longer than the page is wide.
    width = max((len(clean_text(line.text)) for line in page), default=0)
    page = _merge_soft_hyphens(page)
    step = _line_step([line.y for line in page])
    units: list[_Unit] = []
    above: PdfLine | None = None
    for line in page:
        text = clean_text(line.text)
        if not text:
            if units:
                units[-1].closed = True
            continue
        gap = (
            step > 0
            and above is not None
            and above.y is not None
            and line.y is not None
            and (above.y - line.y > _GAP * step or line.y > above.y + _MIN_STEP)
        )
        unit = units[-1] if units and not units[-1].closed and not gap else None
        level = level_of(line)
        if level:
            # A heading wrapped over lines continues at the same level right below.
            near = above is None or above.y is None or line.y is None or above.y - line.y <= 2 * (line.size or 0)
            if unit is None or unit.kind != "heading" or unit.level != level or not near:
                units.append(_Unit("heading", [], level))
        elif _starts_item(text, units[-1] if units else None):
            units.append(_Unit("item", [], marker_x=line.x))
        elif (
            unit is None
            or unit.kind == "heading"
            or (
                unit.kind == "item"
                and unit.marker_x is not None
                and line.x is not None
                and line.x <= unit.marker_x + _INDENT
            )
        ):
            units.append(_Unit("paragraph", []))
        units[-1].lines.append(text)
        short = width >= _MIN_WIDTH and len(text) < _SHORT_LINE * width
        if not level and short and not text.endswith(("-", ",")):
            units[-1].closed = True
        above = line
    return _blocks(units)


def _starts_item(text: str, previous: _Unit | None) -> bool:
    """Whether a line opens a list item; a dash, number or letter mid-sentence is just text."""
    if not _BULLET.match(text):
        return False
    if text[0] in "•◦▪▫‣⁃●○■□∙" or previous is None or previous.closed or previous.kind != "paragraph":
        return True
    return previous.lines[-1].endswith(_SENTENCE_END)


def _blocks(units: list[_Unit]) -> list[PdfBlock]:
    blocks: list[PdfBlock] = []
    items: list[str] = []
    for unit in units:
        if unit.kind == "item":
            items.append(join_lines(unit.lines))
            continue
        # Consecutive list items form one list block.
        if items:
            blocks.append(PdfBlock("list", "\n".join(items)))
            items = []
        if unit.kind == "heading":
            blocks.append(PdfBlock("heading", " ".join(unit.lines), unit.level))
        else:
            blocks.append(PdfBlock("paragraph", join_lines(unit.lines)))
    if items:
        blocks.append(PdfBlock("list", "\n".join(items)))
    return blocks


def split_paragraphs(lines: Sequence[PdfLine | tuple[str, float | None]]) -> list[str]:
    """Group a page's lines into paragraph (and list) texts, ignoring fonts."""
    return [block.text for block in split_blocks(lines, lambda _: 0)]
