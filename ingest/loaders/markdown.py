"""Markdown loader: headings, paragraphs, lists, tables and code blocks as readable text."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag
from markdown_it import MarkdownIt
from markdown_it.token import Token

from ingest.documents import BlockKind, Document
from ingest.loaders._build import DocumentBuilder
from ingest.loaders._encoding import decode_text
from ingest.loaders.html import is_dropped, prune

_PARSER = MarkdownIt("commonmark").enable("table")
# YAML front matter would otherwise parse as a rule plus a setext heading.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:[ \t]*[\"']?(.+?)[\"']?[ \t]*$", re.M)
_INLINE_TAG = re.compile(r"<\s*(/)?\s*([A-Za-z][\w:-]*)[^>]*?(/)?\s*>\Z", re.S)
_VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})


def _track_hidden(html: str, hidden: list[str]) -> None:
    """Update the stack of open inline tags whose content a reader never sees (<span hidden>...)."""
    match = _INLINE_TAG.match(html.strip())
    if match is None:  # a comment or processing instruction: no content of its own
        return
    closing, name, self_closing = match.group(1), match.group(2).lower(), match.group(3)
    if closing:
        if hidden and hidden[-1] == name:
            hidden.pop()
    elif not self_closing and name not in _VOID:
        tag = BeautifulSoup(html, "html.parser").find()
        # Inside a hidden tag every opened tag is tracked, so the closing tags pair up.
        if hidden or (isinstance(tag, Tag) and is_dropped(tag)):
            hidden.append(name)


def inline_text(token: Token) -> str:
    """The readable text of an inline token: link text, image alt text, no markup or hidden HTML."""
    parts: list[str] = []
    hidden: list[str] = []
    for child in token.children or []:
        if child.type == "html_inline":
            _track_hidden(child.content, hidden)
        elif hidden:
            continue
        elif child.type in ("text", "code_inline", "image"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts)


def _html_text(html: str) -> str:
    """The visible text of raw HTML embedded in Markdown (hidden elements, scripts and comments dropped)."""
    soup = BeautifulSoup(html, "html.parser")
    prune(soup)
    return soup.get_text("\n")


class _Walker:
    """Turns the flat token stream into blocks; a list or a table is gathered into one block."""

    def __init__(self, builder: DocumentBuilder) -> None:
        self.builder = builder
        self.list_depth = 0
        self.lines: list[str] = []  # lines of the open list or table
        self.prefix = ""  # marker for the next paragraph of the current list item
        self.row: list[str] | None = None

    def walk(self, tokens: list[Token]) -> None:
        for index, token in enumerate(tokens):
            kind = token.type
            if kind == "heading_open":
                self.heading(inline_text(tokens[index + 1]), int(token.tag[1]))
            elif kind == "inline" and tokens[index - 1].type != "heading_open":
                self.inline(inline_text(token))
            elif kind in ("bullet_list_open", "ordered_list_open"):
                self.list_depth += 1
            elif kind == "list_item_open":
                self.prefix = f"{token.info}{token.markup} " if token.info else "- "
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.list_depth -= 1
                self.flush("list")
            elif kind in ("fence", "code_block"):
                self.body(token.content)
            elif kind == "html_block":
                self.body(_html_text(token.content))
            elif kind == "tr_open":
                self.row = []
            elif kind == "tr_close" and self.row is not None:
                self.lines.append(" | ".join(self.row))
                self.row = None
            elif kind == "table_close":
                self.flush("table")

    def heading(self, text: str, level: int) -> None:
        # A heading inside a list item stays a line of that list, keeping blocks in order.
        if self.list_depth:
            self.body(text)
        else:
            self.builder.heading(text, level)

    def inline(self, text: str) -> None:
        if self.row is not None:
            self.row.append(text.replace("\n", " ").strip())
        else:
            self.body(text)

    def body(self, text: str) -> None:
        if self.list_depth:
            self.lines.append(self.prefix + text)
            self.prefix = ""
        else:
            self.builder.add(text)

    def flush(self, kind: BlockKind) -> None:
        # Lists nest and tables may sit in lists: only the outermost container makes a block.
        if not self.list_depth:
            self.builder.add("\n".join(self.lines), kind)
            self.lines = []


def load_markdown(data: bytes, source: str) -> Document:
    """Load a Markdown file; the title is the front-matter title or the first level-1 heading."""
    text, encoding = decode_text(data, source)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    title = None
    front = _FRONT_MATTER.match(text)
    if front:
        found = _FRONT_TITLE.search(front.group(1))
        title = found.group(1) if found else None
        text = text[front.end() :]
    builder = DocumentBuilder(source)
    _Walker(builder).walk(_PARSER.parse(text))
    return builder.build(title or builder.first_heading(max_level=1), {"encoding": encoding})
