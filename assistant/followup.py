"""Tell a follow-up ("Entä Thaimaassa?", "a ile to kosztuje?", "and for furniture?") from a new question.

A follow-up is short, opens with a cue ("entä", "a ile", "what about", Thai "แล้ว" or a closing
"ล่ะ") or leans on the previous turn through a pronoun ("se", "to", "it", "นั้น"), and brings few
topic words of its own. Pasted text (long, several sentences) is never a follow-up.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ingest.analyzer import analyze

# Phrases that open an elliptical question, per language (compared casefolded, word by word).
OPENING_CUES = {
    "en": (
        "and",
        "what about",
        "how about",
        "and for",
        "and what about",
        "and if",
        "what if",
        "also",
        "same for",
        "same question for",
        "ok and",
        "but what about",
        "then",
        "or",
    ),
    "fi": (
        "entä",
        "entäs",
        "no entä",
        "mites",
        "miten sitten",
        "ja",
        "ja jos",
        "myös",
        "entä jos",
        "koskeeko sama",
        "päteekö sama",
        "pätee",
        "sama",
        "kuinka sitten",
        "ja mitä",
        "onko se",
        "tai",
    ),
    "pl": (
        "a",
        "a co",
        "a ile",
        "a jak",
        "a jeśli",
        "a gdy",
        "a czy",
        "a kiedy",
        "a dla",
        "a w",
        "i",
        "i co",
        "też",
        "także",
        "czy to",
        "to samo",
        "albo",
        "lub",
    ),
}
# Thai has no spaces: cues are matched on the text itself.
THAI_OPENING = ("แล้ว", "และ", "ส่วน", "ถ้า", "หรือ")
THAI_CLOSING = ("ล่ะ", "ละ", "หล่ะ", "ด้วยไหม", "ด้วยมั้ย", "เหมือนกันไหม", "ด้วยหรือเปล่า")
# Words that point back at the previous turn's topic.
BACK_REFERENCES = {
    "en": "it its it's that this those these they them their there same one ones",
    "fi": "se sen sitä siitä siihen sillä siinä ne niitä niistä niihin niille niiden tämä tätä tästä tähän "
    "tuo tuota siellä sinne sieltä sama samaa samat samoin näin noin",
    "pl": "to tego tym tej ten ta te tych je ich go jej nim niej nią tam tak tamten tamta ona ono oni one "
    "tego samego tak samo",
    "th": "นั้น นี้ มัน อันนี้ อันนั้น ที่นั่น ที่นี่ เหมือนกัน ด้วย แบบนี้ แบบนั้น",
}
# Beyond these, a question carries a topic of its own (content words after cues and stopwords);
# a question opening with a cue may carry one more ("and what's the maximum order value for it?").
MAX_TOPIC_TERMS = 3
MAX_TOPIC_TERMS_AFTER_CUE = 4
MAX_FOLLOW_UP_WORDS = 12
# Pasted text: many words or several sentences is a message to search on its own.
PASTED_WORDS = 40
PASTED_SENTENCES = 3
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?。！？]+(?:\s|$)")
_THAI = re.compile(r"[\u0E00-\u0E7F]")


@dataclass(frozen=True)
class Reading:
    """What detection saw in a question: why it is, or is not, a follow-up."""

    follow_up: bool
    cue: str | None  # the opening or closing cue found, if any
    back_reference: str | None  # the pronoun found, if any
    topic_terms: tuple[str, ...]  # the question's own content terms (analysed)
    pasted: bool


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def words_of(text: str, language: str) -> list[str]:
    """Words as a reader counts them (Thai segmented)."""
    folded = _fold(text)
    if language == "th" or _THAI.search(folded):
        from pythainlp.tokenize import word_tokenize

        return [w for w in word_tokenize(folded, engine="newmm", keep_whitespace=False) if _WORD.search(w)]
    return _WORD.findall(folded)


def is_pasted_text(text: str, language: str) -> bool:
    """Long or many-sentence text (a pasted customer message): searched on its own, never as a follow-up."""
    sentences = len(_SENTENCE_END.findall(text.strip() + " "))
    return len(words_of(text, language)) > PASTED_WORDS or sentences > PASTED_SENTENCES


@lru_cache(maxsize=8)
def _cue_words(language: str) -> frozenset[str]:
    words = {w for cue in OPENING_CUES.get(language, ()) for w in cue.split()}
    words |= set(BACK_REFERENCES.get(language, "").split())
    return frozenset(words)


def _opening_cue(words: list[str], text: str, language: str) -> str | None:
    if language == "th" or _THAI.search(text):
        stripped = text.strip().rstrip("?？ ")
        for cue in THAI_OPENING:
            if stripped.startswith(cue):
                return cue
        for cue in THAI_CLOSING:
            if stripped.endswith(cue):
                return cue
        return None
    # Longest cue first: "a ile" before "a".
    for cue in sorted(OPENING_CUES.get(language, ()), key=lambda c: -len(c.split())):
        parts = cue.split()
        if words[: len(parts)] == parts:
            return cue
    return None


def _back_reference(words: list[str], language: str) -> str | None:
    references = set(BACK_REFERENCES.get(language, "").split())
    return next((w for w in words if w in references), None)


def read_question(question: str, language: str) -> Reading:
    """Whether `question` (in `language`) reads as a follow-up to an earlier turn."""
    if is_pasted_text(question, language):
        return Reading(False, None, None, (), True)
    words = words_of(question, language)
    cue = _opening_cue(words, _fold(question), language)
    back = _back_reference(words, language)
    ignored = _cue_words(language)
    own = [w for w in words if w not in ignored]
    # One-letter leftovers ("what's" -> "s") are not topic words.
    topic = tuple(t for t in analyze(" ".join(own), language) if len(t) > 1) if own else ()
    limit = MAX_TOPIC_TERMS_AFTER_CUE if cue is not None else MAX_TOPIC_TERMS
    short = len(words) <= MAX_FOLLOW_UP_WORDS and len(topic) <= limit
    # A lone fragment ("Thaimaassa?", "for furniture?") is elliptical even without a cue.
    fragment = len(words) <= 2 and len(topic) <= 2
    follow_up = short and (cue is not None or back is not None or fragment)
    return Reading(follow_up, cue, back, topic, False)
