"""Sentence boundaries as character spans, for Finnish, Polish, English and (spaceless) Thai."""

from __future__ import annotations

import re

_THAI = re.compile(r"[\u0E00-\u0E7F]")
# A sentence ends at . ! ? … (optionally followed by quotes/brackets) before whitespace, or at a
# line break. Thai marks sentence ends with a space, so a space between two Thai characters counts.
_BOUNDARY = re.compile(
    r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[^\s\da-zäöåąćęłńóśźż])"
    r"|\n+"
    r"|(?<=[\u0E00-\u0E7F])[ \t]+(?=[\u0E00-\u0E7F])"
)
# Abbreviations after which a period does not end a sentence (lower-cased, without the dot).
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "no",
        "nr",
        "esim",
        "ns",
        "mm",
        "jne",
        "tms",
        "yms",
        "ks",
        "vrt",
        "klo",
        "puh",
        "np",
        "tzn",
        "tj",
        "itd",
        "itp",
        "ul",
        "tel",
        "godz",
        "wg",
        "ok",
        "ds",
        "min",
        "max",
        "approx",
        "incl",
    ]
)
_LAST_WORD = re.compile(r"([\w.]+)\.$")


def _ends_with_abbreviation(text: str) -> bool:
    match = _LAST_WORD.search(text)
    return match is not None and match.group(1).lower() in _ABBREVIATIONS


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Split `text[start:end]` into sentences; returns (start, end) offsets into `text`, stripped."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        is_space = match.group(0).strip() == "" and "\n" not in match.group(0)
        if is_space and _ends_with_abbreviation(text[cursor : match.start()]):
            continue
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    return [_strip(text, s, e) for s, e in spans if text[s:e].strip()]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def has_thai(text: str) -> bool:
    return bool(_THAI.search(text))


# A heading names a topic and answers nothing: a short line of its own, without sentence-ending
# punctuation, digits (a date or a price is information) or a list marker, followed by more text.
_HEADING_MAX_CHARS = 60
_HEADING_MAX_WORDS = 8
# Thai writes a whole clause without spaces, so its headings are told by length alone.
_HEADING_MAX_THAI_CHARS = 32
_HEADING_END = re.compile(r"[.!?…:;,)\]\"'”’]$")
_LIST_MARKER = re.compile(r"^(?:[-*•·–]|\d+[.)])\s")
_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s")


def _looks_like_heading(line: str) -> bool:
    if _MARKDOWN_HEADING.match(line):
        return True
    longest = _HEADING_MAX_THAI_CHARS if has_thai(line) else _HEADING_MAX_CHARS
    if len(line) > longest or len(line.split()) > _HEADING_MAX_WORDS:
        return False
    return not (_HEADING_END.search(line) or _LIST_MARKER.match(line) or any(ch.isdigit() for ch in line))


def heading_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the lines of `text` that are headings: never quoted as an answer.

    A last line is never a heading (a heading introduces something), nor is the only line.
    """
    out: list[tuple[int, int]] = []
    lines = [m for m in re.finditer(r"[^\n]+", text) if m.group(0).strip()]
    for match in lines[:-1]:
        start, end = _strip(text, match.start(), match.end())
        if _looks_like_heading(text[start:end]):
            out.append((start, end))
    return out
