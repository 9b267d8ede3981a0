"""Bytes to text: byte-order marks, UTF-8, our languages' legacy code pages, charset-normalizer."""

from __future__ import annotations

import codecs
import logging
import unicodedata

from charset_normalizer import from_bytes

from ingest.errors import UndecodableText

logger = logging.getLogger(__name__)

# UTF-32 LE must be tried before UTF-16 LE: its BOM starts with the same two bytes.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Our documents are Finnish, Polish, Thai and English: their usual pre-Unicode code pages.
_LEGACY = ("cp1252", "cp1250", "iso-8859-2", "cp874")
# Letters and marks those languages use; a code page that yields mostly these is the right one.
# charset-normalizer alone reads short Finnish cp1252 text as cp1250 (Å becomes Ĺ).
_EXPECTED = set("äöåÄÖÅšžŠŽéüÉÜąćęłńóśźżĄĆĘŁŃÓŚŹŻ\u00a0–—‘’‚“”„…•€°§«»×·©®™")
_MAX_BAD_RATIO = 0.05
# Control, unassigned, private-use and surrogate code points: what misdecoded bytes turn into.
_BAD_CATEGORIES = {"Cc", "Cn", "Co", "Cs"}


def _is_expected(char: str) -> bool:
    return char in _EXPECTED or "\u0e01" <= char <= "\u0e5b"


def looks_like_text(text: str) -> bool:
    """False when replacement, control or unassigned characters are more than a few percent."""
    if not text:
        return True
    bad = sum(1 for c in text if c == "\ufffd" or (unicodedata.category(c) in _BAD_CATEGORIES and c not in "\t\n\r\f"))
    return bad <= _MAX_BAD_RATIO * len(text)


def _normalize_declared(name: str | None) -> str | None:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip()).name
    except LookupError:
        return None
    # Browsers read latin-1 and ASCII labels as windows-1252, and ignore a declared UTF-16.
    if codec in ("latin-1", "iso8859-1", "ascii"):
        return "cp1252"
    return None if codec.startswith(("utf-16", "utf-32")) else codec


def _guess_legacy(data: bytes) -> tuple[str, str] | None:
    best: tuple[int, str, str] | None = None
    for encoding in _LEGACY:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        non_ascii = [c for c in text if ord(c) > 127]
        expected = sum(1 for c in non_ascii if _is_expected(c))
        if expected >= 0.9 * len(non_ascii) and (best is None or expected > best[0]):
            best = (expected, text, encoding)
    return (best[1], best[2]) if best else None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str] | None:
    """Decode `data` as text.

    Args:
        data: the file's bytes.
        declared: an encoding the file itself names (an HTML meta charset), tried after BOMs
            and UTF-8.

    Returns:
        (text, encoding name), or None when the bytes do not look like text.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data.decode(encoding, errors="replace")
            return (text, encoding) if looks_like_text(text) else None
    # NUL bytes never occur in 8-bit or UTF-8 text; without a BOM this is a binary file.
    if b"\x00" in data:
        return None
    # Valid UTF-8 with non-ASCII bytes is almost never anything else, even when a page says so.
    candidates = [c for c in ("utf-8", _normalize_declared(declared)) if c]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return (text, encoding) if looks_like_text(text) else None
    guess = _guess_legacy(data)
    if guess is None:
        match = from_bytes(data).best()
        guess = (str(match), match.encoding) if match is not None else None
    if guess is None or not looks_like_text(guess[0]):
        return None
    logger.debug("decoded as %s", guess[1])
    return guess


def decode_text(data: bytes, source: str, declared: str | None = None) -> tuple[str, str]:
    """Like `decode_bytes`, but raise UndecodableText naming the file when it is not text."""
    decoded = decode_bytes(data, declared)
    if decoded is None:
        raise UndecodableText(
            f"{source} is not readable text (binary content or an unknown character encoding); save it as UTF-8 text"
        )
    return decoded
