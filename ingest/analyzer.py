"""Keyword-index tokenization per language: Thai word segmentation, stemming for inflected languages."""

from __future__ import annotations

import contextlib
import io
import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache

import snowballstemmer

_THAI_RUN = re.compile(r"[\u0E00-\u0E7F]+")
_WORD = re.compile(r"[\u0E00-\u0E7F]+|[^\W_]+", re.UNICODE)
_SNOWBALL = {"en": "english", "fi": "finnish"}
# Function words carry no evidence; in a small knowledge base their idf is not low enough to ignore.
_STOPWORDS = {
    "en": "a an and are as at be but by can do does for from had has have how i if in into is it its me "
    "my no not of on or our so such that the their then there these they this to was we what when where "
    "which who will with you your",
    "fi": "ja on ei se että kun jos niin kuin mutta tai myös ole olen olla oli ovat voi voin miten mikä "
    "mitä missä minä sinä me te he tämä tuo nämä ne sen jo vain vai",
    "pl": "i w z na do się nie to jest że o a jak czy co po od za ze dla są ten ta te tego mnie mi "
    "mam być by lub oraz ale już tak jestem możemy można",
}
_STOPWORD_SETS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}
# Unstemmed words longer than this are cut: a cheap stand-in for stemming in unknown languages.
_PREFIX = 7


@cache
def _snowball(language: str) -> Callable[[str], str]:
    stemmer = snowballstemmer.stemmer(_SNOWBALL[language])
    return stemmer.stemWord  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _polish() -> Callable[[str], str | None]:
    from pystempel import Stemmer

    # pystempel draws a tqdm bar while loading its table; keep it off our output.
    with contextlib.redirect_stderr(io.StringIO()):
        stemmer = Stemmer.default()
    return stemmer  # type: ignore[no-any-return]


@lru_cache(maxsize=200_000)
def _stem(word: str, language: str) -> str:
    if word.isdigit():
        return word
    if language in _SNOWBALL:
        return _snowball(language)(word)
    if language == "pl":
        return _polish()(word) or word
    return word[:_PREFIX]


@lru_cache(maxsize=1)
def _thai_stopwords() -> frozenset[str]:
    from pythainlp.corpus import thai_stopwords

    return frozenset(thai_stopwords())


def _thai_words(run: str) -> list[str]:
    from pythainlp.tokenize import word_tokenize

    return [w for w in word_tokenize(run, engine="newmm", keep_whitespace=False) if w.strip()]


def stem(word: str, language: str) -> str:
    """The keyword-index form of one casefolded word (as `analyze` produces it)."""
    return _stem(word, language)


def content_words(text: str, language: str) -> list[str]:
    """The casefolded non-Thai words `analyze` would stem, before stemming (stopwords dropped)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    stopwords = _STOPWORD_SETS.get(language, frozenset())
    return [t for t in (m.group(0) for m in _WORD.finditer(text)) if not _THAI_RUN.fullmatch(t) and t not in stopwords]


def analyze(text: str, language: str) -> list[str]:
    """Terms for the keyword index: NFKC, casefolded, Thai segmented, words stemmed by `language`."""
    text = unicodedata.normalize("NFKC", text).casefold()
    stopwords = _STOPWORD_SETS.get(language, frozenset())
    terms: list[str] = []
    for match in _WORD.finditer(text):
        token = match.group(0)
        if _THAI_RUN.fullmatch(token):
            terms.extend(w for w in _thai_words(token) if w not in _thai_stopwords())
        elif token not in stopwords:
            terms.append(_stem(token, language))
    return terms
