"""HTML loader (BeautifulSoup): the page's main content as headings, paragraphs and tables."""

from __future__ import annotations

import logging
import re

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PageElement, PreformattedString

from ingest.documents import Document
from ingest.loaders._build import DocumentBuilder
from ingest.loaders._encoding import decode_text

logger = logging.getLogger(__name__)

# Page furniture and invisible content; <header> only when it is the page header (see is_dropped).
# fmt: off
_DROP = frozenset({
    "script", "style", "noscript", "template", "nav", "footer", "aside", "form", "svg",
    "iframe", "object", "embed", "canvas", "button", "select", "textarea", "head",
})
# fmt: on
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Elements that start a new block; text between them is gathered into paragraphs.
# fmt: off
_BLOCKS = frozenset({
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "header", "hr", "html", "legend", "li",
    "main", "ol", "p", "section", "summary", "ul",
})
# fmt: on
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_WHITESPACE = re.compile(r"\s+")
_END = object()  # marks where a block element closes during the walk


def _is_text(node: PageElement) -> bool:
    # Comments, doctypes and processing instructions are PreformattedStrings, not content.
    return isinstance(node, NavigableString) and not isinstance(node, PreformattedString)


def is_dropped(tag: Tag) -> bool:
    """Page furniture or content a reader never sees (hidden, aria-hidden, display:none...)."""
    if tag.name in _DROP:
        return True
    if tag.name == "header" and tag.find_parent(["article", "main", "section"]) is None:
        return True
    attrs = tag.attrs or {}
    return (
        "hidden" in attrs
        or str(attrs.get("aria-hidden", "")).lower() == "true"
        or bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))
    )


def prune(soup: BeautifulSoup) -> None:
    """Remove dropped elements, walking with a stack and never into a subtree already doomed."""
    # Not find_all plus Tag.decomposed: that property is a descendant search, quadratic when deep.
    doomed: list[Tag] = []
    stack: list[Tag] = [soup]
    while stack:
        for child in stack.pop().contents:
            if isinstance(child, Tag):
                (doomed if is_dropped(child) else stack).append(child)
    for tag in doomed:
        tag.decompose()


def flat_text(tag: Tag) -> str:
    """All text under `tag` on one line; block boundaries and <br> become spaces."""
    parts: list[str] = []
    for node in tag.descendants:
        if isinstance(node, Tag):
            if node.name == "br" or node.name in _BLOCKS:
                parts.append(" ")
        elif _is_text(node):
            parts.append(str(node))
    return _WHITESPACE.sub(" ", "".join(parts)).strip()


def table_lines(table: Tag) -> list[str]:
    """One "cell | cell" line per row of this table; nested tables stay inside their cell."""
    lines = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells = [flat_text(c) for c in row.find_all(["td", "th"]) if c.find_parent("tr") is row]
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def _walk(root: Tag, builder: DocumentBuilder) -> None:
    """Emit blocks in document order with an explicit stack, so deep nesting cannot recurse."""
    buffer: list[str] = []

    def flush() -> None:
        builder.add("".join(buffer))
        buffer.clear()

    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if node is _END:
            flush()
        elif isinstance(node, Tag):
            name = node.name
            if name in _HEADINGS:
                flush()
                builder.heading(flat_text(node), int(name[1]))
            elif name == "table":
                flush()
                builder.add("\n".join(table_lines(node)), "table")
            elif name == "pre":
                flush()
                builder.add(node.get_text())
            elif name == "br":
                buffer.append("\n")
            else:
                if name in _BLOCKS:
                    flush()
                    stack.append(_END)
                stack.extend(reversed(node.contents))
        elif isinstance(node, PageElement) and _is_text(node):
            buffer.append(_WHITESPACE.sub(" ", str(node)))
    flush()


def _content_roots(soup: BeautifulSoup) -> list[Tag]:
    """<main> when present, else the top-level <article>s, else the whole body."""
    main = soup.find("main") or soup.find(True, attrs={"role": "main"})
    if isinstance(main, Tag):
        return [main]
    articles = [a for a in soup.find_all("article") if a.find_parent("article") is None]
    if articles:
        return articles
    return [soup.body if soup.body is not None else soup]


def _parse(text: str) -> BeautifulSoup:
    try:
        return BeautifulSoup(text, "lxml")
    except Exception as exc:  # lxml missing or choking; the stdlib parser is slower but lenient
        logger.debug("lxml could not parse, falling back to html.parser: %s", exc)
        return BeautifulSoup(text, "html.parser")


def load_html(data: bytes, source: str) -> Document:
    """Load an HTML page; the title is <title>, else the first <h1>."""
    declared = _META_CHARSET.search(data[:4096])
    text, encoding = decode_text(data, source, declared.group(1).decode() if declared else None)
    soup = _parse(text)
    title = flat_text(soup.title) if soup.title is not None else None
    html = soup.find("html")
    language = html.get("lang") if isinstance(html, Tag) else None
    prune(soup)
    builder = DocumentBuilder(source)
    for root in _content_roots(soup):
        _walk(root, builder)
    metadata = {"encoding": encoding}
    if isinstance(language, str) and language:
        metadata["html_lang"] = language
    return builder.build(title or builder.first_heading(max_level=1), metadata)
