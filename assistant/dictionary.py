"""Bilingual dictionaries (FreeDict, dictd format): a question's words as keyword terms of another language."""

from __future__ import annotations

import gzip
import json
import logging
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from assistant import defaults
from ingest.analyzer import analyze, content_words, stem

log = logging.getLogger(__name__)

DICTD_DIR = defaults.DICTD_DIR
# FreeDict names its dictionaries by ISO 639-3 codes; Thai has none.
ISO_639_3 = {"en": "eng", "fi": "fin", "pl": "pol"}
_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
# A sense number ("2.", "II.") opening a line; anywhere else it is dropped too (FreeDict pol-eng
# closes lines with the next sense's number, eng-pol puts it after a grammar label).
_SENSE = re.compile(r"^\s*(?:\d+|[IVX]+)\.\s*")
_ANY_SENSE = re.compile(r"(?:^|\s)(?:\d+|[IVX]+)\.(?=\s|$)")
# Grammar labels <n>, domain labels [drzwi], notes (ekonomia), {…} and wiki anchors (#Englanti).
_LABEL = re.compile(r"<[^>]*>|\[[^\]]*\]|\([^)]*\)|\{[^}]*\}|#\S*")
# Headword-prefix matching for inflected words: a prefix must be this long and leave at most this
# many letters of ending ("zwrotu" -> "zwrot", "salasanan" -> "salasana").
MIN_PREFIX = 4
MAX_ENDING = 4
COMPILED_FORMAT = 2
# Translations taken per question word (first senses first): more finds synonyms, and noise.
TRANSLATIONS_PER_WORD = 3


class DictionaryError(Exception):
    """A dictd file that cannot be read as one."""


def decode_number(text: str) -> int:
    """dictd's base64 numbers: most significant digit first, no padding."""
    value = 0
    for char in text:
        try:
            value = value * 64 + _B64[char]
        except KeyError:
            raise DictionaryError(f"'{text}' is not a dictd base64 number") from None
    return value


def parse_index(text: str) -> list[tuple[str, int, int]]:
    """(headword, offset, length) per line of a dictd .index file, without its 00database entries."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("\t")
        if len(fields) < 3:
            raise DictionaryError(f"index line {number} has {len(fields)} fields, expected 3")
        headword = fields[0].strip()
        if headword and not headword.startswith("00database"):
            entries.append((headword, decode_number(fields[1]), decode_number(fields[2])))
    return entries


def translations_of(entry: str) -> list[str]:
    """The translations an entry gives, in sense order, without labels, notes or glosses.

    FreeDict entries open with a headword line; then each sense's translations either follow it
    directly or start a line with a sense number, and a source-language gloss may follow on the
    next line. Older files (eng-pol) indent their translation lines instead.
    """
    found: list[str] = []
    for position, line in enumerate(entry.split("\n")[1:]):
        if not line.strip() or line.lstrip().startswith("-"):
            continue
        if not (position == 0 or _SENSE.match(line) or line[:1].isspace()):
            continue
        text = _ANY_SENSE.sub(" ", _LABEL.sub(" ", _SENSE.sub("", line)))
        for part in re.split(r"[,;]", text):
            part = " ".join(part.split())
            if part and part not in found:
                found.append(part)
    return found


@dataclass
class Dictionary:
    """Headword -> translations of one language pair, with the stems that find inflected words."""

    source: str
    target: str
    entries: dict[str, list[str]]  # casefolded one-word headword -> translations in sense order
    stems: dict[str, list[str]]  # the source analyzer's stem -> headwords with that stem

    @classmethod
    def build(cls, source: str, target: str, entries: dict[str, list[str]]) -> Dictionary:
        stems: dict[str, list[str]] = {}
        for headword in entries:
            stems.setdefault(stem(headword, source), []).append(headword)
        return cls(source, target, entries, stems)

    def headwords_for(self, word: str) -> list[str]:
        """Headwords that may be `word`'s base form: itself, those sharing its stem, else its longest prefix."""
        return self.lookup(word)[1]

    def lookup(self, word: str) -> tuple[str | None, list[str]]:
        """(how it matched: "exact", "stem", "prefix" or None, the headwords) for one casefolded word."""
        if word in self.entries:
            return "exact", [word]
        same_stem = self.stems.get(stem(word, self.source))
        if same_stem:
            return "stem", same_stem
        for end in range(len(word) - 1, max(MIN_PREFIX, len(word) - MAX_ENDING) - 1, -1):
            if word[:end] in self.entries:
                return "prefix", [word[:end]]
        return None, []

    def translate(self, word: str, per_word: int) -> list[str]:
        """Up to `per_word` translations of one casefolded word, first senses first.

        Several headwords can share a stem ("aika", "aikaa"); they take turns, so one word never
        brings in every sense of all of them.
        """
        senses = [self.entries[h] for h in self.headwords_for(word)]
        out: list[str] = []
        for rank in range(max((len(s) for s in senses), default=0)):
            for translations in senses:
                if rank < len(translations) and translations[rank] not in out:
                    out.append(translations[rank])
        return out[:per_word]


def read_dictd(index_path: Path, dict_path: Path) -> dict[str, list[str]]:
    """One-word headwords and their translations from a dictd .index and its (gzip) .dict.dz."""
    try:
        index = parse_index(index_path.read_text(encoding="utf-8"))
        with gzip.open(dict_path) as handle:
            data = handle.read()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DictionaryError(f"cannot read {index_path.name}: {exc}") from exc
    entries: dict[str, list[str]] = {}
    for headword, offset, length in index:
        word = headword.casefold()
        if " " in word or offset + length > len(data):
            continue
        found = translations_of(data[offset : offset + length].decode("utf-8", errors="replace"))
        known = entries.setdefault(word, [])
        known.extend(t for t in found if t not in known)
    return {w: t for w, t in entries.items() if t}


class QueryTranslator:
    """Translates questions with the FreeDict dictionaries found in `folder`; each loaded once, on first use.

    A compiled copy of each dictionary (JSON, keyed by the source file's size and time) is kept in
    `cache_dir`, as parsing the dictd files takes a few seconds.
    """

    def __init__(self, folder: Path = DICTD_DIR, cache_dir: Path | None = None, per_word: int | None = None) -> None:
        self.folder = folder
        self.cache_dir = cache_dir
        self.per_word = per_word
        self._loaded: dict[tuple[str, str], Dictionary | None] = {}
        self._lock = threading.Lock()

    def _paths(self, source: str, target: str) -> tuple[Path, Path] | None:
        if source not in ISO_639_3 or target not in ISO_639_3:
            return None
        stem_name = f"freedict-{ISO_639_3[source]}-{ISO_639_3[target]}"
        index, data = self.folder / f"{stem_name}.index", self.folder / f"{stem_name}.dict.dz"
        return (index, data) if index.is_file() and data.is_file() else None

    def available(self, source: str, target: str) -> bool:
        return source != target and self._paths(source, target) is not None

    def installed(self) -> list[tuple[str, str]]:
        """The language pairs with a dictionary in the folder."""
        return [(s, t) for s in ISO_639_3 for t in ISO_639_3 if self.available(s, t)]

    def dictionary(self, source: str, target: str) -> Dictionary | None:
        """The source->target dictionary, or None when it is not installed or unreadable."""
        key = (source, target)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self._load(source, target)
            return self._loaded[key]

    def _load(self, source: str, target: str) -> Dictionary | None:
        paths = self._paths(source, target)
        if paths is None:
            return None
        started = time.perf_counter()
        try:
            dictionary = self._compiled(source, target, *paths)
        except DictionaryError as exc:
            log.warning("dictionary %s->%s skipped: %s", source, target, exc)
            return None
        seconds = time.perf_counter() - started
        log.info("dictionary %s->%s: %d headwords in %.2fs", source, target, len(dictionary.entries), seconds)
        return dictionary

    def _compiled(self, source: str, target: str, index: Path, data: Path) -> Dictionary:
        """The dictionary from its compiled copy (headwords and their stems), made on first use."""
        if self.cache_dir is None:
            return Dictionary.build(source, target, read_dictd(index, data))
        stat = data.stat()
        name = f"{data.name}-{stat.st_size}-{int(stat.st_mtime)}-v{COMPILED_FORMAT}.json"
        cached = self.cache_dir / "dictionaries" / name
        if cached.is_file():
            try:
                loaded = json.loads(cached.read_text(encoding="utf-8"))
                return Dictionary(source, target, loaded["entries"], loaded["stems"])
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("compiled dictionary %s unreadable; parsing the source again", cached)
        dictionary = Dictionary.build(source, target, read_dictd(index, data))
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            temporary = cached.with_suffix(".tmp")
            compiled = {"entries": dictionary.entries, "stems": dictionary.stems}
            temporary.write_text(json.dumps(compiled, ensure_ascii=False), encoding="utf-8")
            temporary.replace(cached)
        except OSError as exc:
            log.warning("could not keep the compiled dictionary in %s: %s", cached.parent, exc)
        return dictionary

    def terms(self, question: str, source: str, target: str) -> list[str]:
        """Keyword terms in `target` (as its analyzer writes them) for a `source` question; [] without a dictionary."""
        dictionary = self.dictionary(source, target) if source != target else None
        if dictionary is None:
            return []
        per_word = self.per_word or TRANSLATIONS_PER_WORD
        words = dict.fromkeys(w for w in content_words(question, source) if not w.isdigit())
        return _analyzed((t for word in words for t in dictionary.translate(word, per_word)), target)


def _analyzed(translations: Iterable[str], language: str) -> list[str]:
    terms: list[str] = []
    for translation in translations:
        terms.extend(t for t in analyze(translation, language) if t not in terms)
    return terms
