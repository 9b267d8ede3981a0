"""Checks a generated answer against its passages: markers must point somewhere, sentences must be supported."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ingest.sentences import sentence_spans

_MARKER = re.compile(r"\[(\d{1,2})\]")
_MARKER_AFTER_END = re.compile(r"\s*([.!?…])\s*((?:\[\d{1,2}\])+)")
# Web links, protocol-relative links, other schemes a renderer might follow, and e-mail addresses.
_URL = re.compile(
    r"https?://[^\s)\]>\"']+|www\.[^\s)\]>\"']+"
    r"|(?<![\w:/])//[\w-]+(?:\.[\w-]+)+[^\s)\]>\"']*"
    r"|\b(?:mailto|javascript|data|file|ftp|tel|sms):[^\s)\]>\"']+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    re.IGNORECASE,
)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)")
# An HTML tag (not an <https://...> autolink): answers are plain text, markup could load or run things.
_HTML_TAG = re.compile(r"</?[a-zA-Z][\w-]*(?:\s[^<>]*)?/?>")


@dataclass
class CheckedAnswer:
    text: str
    cited: list[int]  # passage numbers (1-based) the kept sentences cite, in order of first use
    removed: list[str] = field(default_factory=list)  # sentences dropped, for logs and tests
    flags: list[str] = field(default_factory=list)


def strip_foreign_links(text: str, passages: list[str]) -> tuple[str, list[str]]:
    """Remove images, HTML tags and links that do not appear in any passage (no exfiltration through links)."""
    flags: list[str] = []
    allowed = " ".join(passages)
    if _IMAGE.search(text):
        flags.append("image removed")
        text = _IMAGE.sub("", text)
    if _HTML_TAG.search(text):
        flags.append("html removed")
        text = _HTML_TAG.sub("", text)

    def link(match: re.Match[str]) -> str:
        return match.group(1)

    text = _LINK.sub(link, text)

    def url(match: re.Match[str]) -> str:
        if match.group(0) in allowed:
            return match.group(0)
        flags.append(f"url removed: {match.group(0)}")
        return ""

    return _URL.sub(url, text), flags


def check_citations(
    answer: str,
    passages: list[str],
    support: Callable[[str, int], float],
    min_support: float,
) -> CheckedAnswer:
    """Keep sentences whose markers point to real passages and whose text a cited passage supports.

    `support(sentence, n)` scores how well passage n (1-based) backs the sentence, e.g. cosine
    similarity of their embeddings. Markers to missing passages are removed; a sentence left
    with no valid marker, or with no supporting cited passage, is dropped.
    """
    answer, flags = strip_foreign_links(answer, passages)
    # "Text. [1] Next" hides the sentence end behind the marker; "Text [1]. Next" does not.
    answer = _MARKER_AFTER_END.sub(r" \2\1", answer)
    kept: list[str] = []
    cited: list[int] = []
    removed: list[str] = []
    for start, end in sentence_spans(answer):
        sentence = answer[start:end]
        numbers = [int(n) for n in _MARKER.findall(sentence)]
        valid = [n for n in numbers if 1 <= n <= len(passages)]
        if len(valid) < len(numbers):
            flags.append(f"marker to a missing passage in: {sentence}")
        body = _MARKER.sub("", sentence).strip()
        if not valid or not body:
            removed.append(sentence)
            continue
        supported = [n for n in dict.fromkeys(valid) if support(body, n) >= min_support]
        if not supported:
            flags.append(f"unsupported: {sentence}")
            removed.append(sentence)
            continue
        body = re.sub(r"\s+([.!?…])$", r"\1", body)
        kept.append(body + " " + "".join(f"[{n}]" for n in supported))
        cited.extend(n for n in supported if n not in cited)
    return CheckedAnswer(" ".join(kept), cited, removed, flags)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))
