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
