"""Plain-text loader: detect the encoding, split paragraphs on blank lines."""

from __future__ import annotations

import re

from ingest.documents import Document
from ingest.loaders._build import DocumentBuilder, clean_text
from ingest.loaders._encoding import decode_text

_BLANK_LINES = re.compile(r"\n[^\S\n]*\n\s*")
_MAX_TITLE = 100


def load_text(data: bytes, source: str) -> Document:
    """Load a .txt file: each blank-line-separated paragraph is a block, its lines kept."""
    text, encoding = decode_text(data, source)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    builder = DocumentBuilder(source)
    for paragraph in _BLANK_LINES.split(text):
        builder.add(paragraph)
    first_line = clean_text(text.strip().split("\n", 1)[0])
    title = first_line if len(first_line) < _MAX_TITLE else None
    return builder.build(title, {"encoding": encoding})
