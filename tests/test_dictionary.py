"""Dictionary-translated keyword search: dictd parsing, inflected lookup, target-language terms, retrieval."""

from __future__ import annotations

import gzip
import logging
import math
from pathlib import Path

import pytest

from assistant.dictionary import (
    DICTD_DIR,
    Dictionary,
    DictionaryError,
    QueryTranslator,
    decode_number,
    parse_index,
    read_dictd,
    translations_of,
)
from assistant.retriever import Retriever
from ingest.analyzer import analyze
from ingest.store.layout import IndexStore
from ingest.sync import sync_folder
from tests.conftest import write_corpus

_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

FIN_ENG = {
    "takuu": "takuu /tˈakuː/ <n>\nwarranty, guarantee\nvapaaehtoinen sitoumus, jolla myyjä ottaa vastuun\n",
    "palautus": "palautus /pˈalautus/ <n>\n1. refund (money)\nrahojen maksaminen\n2. return\nesineen tuominen\n",
    "salasana": "salasana <n>\npassword\nsalainen sana\n",
    "pitkä": "pitkä <adj>\nlong, tall\n",
    "kuinka": "kuinka <adv>\nhow\n",
    "tuote": "tuote <n>\nproduct\n",
    "rauta kattila": "rauta kattila <n>\ncast iron pot\n",
}


def encode_number(value: int) -> str:
    digits = ""
    while True:
        value, rest = divmod(value, 64)
        digits = _DIGITS[rest] + digits
        if not value:
            return digits


def write_dictd(folder: Path, name: str, entries: dict[str, str]) -> Path:
    """A dictd dictionary as dictfmt writes it: a tab-separated index into a gzip-compressed text."""
    folder.mkdir(parents=True, exist_ok=True)
    body = b""
    lines = ["00databaseinfo\tA\tB"]
    for headword, entry in sorted(entries.items()):
        data = entry.encode("utf-8")
        lines.append(f"{headword}\t{encode_number(len(body))}\t{encode_number(len(data))}")
        body += data
    (folder / f"freedict-{name}.index").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with gzip.open(folder / f"freedict-{name}.dict.dz", "wb") as handle:
        handle.write(body)
    return folder


@pytest.fixture
def dictionaries(tmp_path: Path) -> Path:
    return write_dictd(tmp_path / "dictd", "fin-eng", FIN_ENG)


def test_dictd_numbers_and_index_lines_decode_as_dictfmt_writes_them() -> None:
    assert decode_number("B") == 1
    assert decode_number("BA") == 64
    assert decode_number("Ks7i") == 10 * 64**3 + 44 * 64**2 + 59 * 64 + 34
    assert parse_index("00databaseinfo\tc\tRA\ntakuu\tO5dF\tCP\n") == [("takuu", decode_number("O5dF"), 143)]
    with pytest.raises(DictionaryError, match="base64"):
        decode_number("a!")
    with pytest.raises(DictionaryError, match="line 1"):
        parse_index("takuu only\n")


def test_translations_drop_labels_notes_sense_numbers_and_glosses() -> None:
    # FreeDict's current layout: translation line, then a gloss in the source language.
    assert translations_of(FIN_ENG["palautus"]) == ["refund", "return"]
    assert translations_of(FIN_ENG["takuu"]) == ["warranty", "guarantee"]
    # pol-eng ends a line with the next sense number and puts domain notes before glosses.
    entry = "gwarancja /ɡva/ <n>\n1. guarantee, warranty 2.\n(ekonomia) odpowiedzialność osoby\n 3.\n"
    assert translations_of(entry) == ["guarantee", "warranty"]
    # eng-pol's older layout indents translations, with grammar and domain labels inline.
    entry = "stiff /stɪf/ <Adj>\n 1.  sztywny\n 2.  [drzwi]  ciężko chodzący\n - znudzony\n"
    assert translations_of(entry) == ["sztywny", "ciężko chodzący"]
    entry = "sideways\nI.  <Adv>  z boku, na bok\nII.  <Adj>  boczny\n"
    assert translations_of(entry) == ["z boku", "na bok", "boczny"]


def test_reading_a_dictd_file_keeps_one_word_headwords(dictionaries: Path) -> None:
    entries = read_dictd(dictionaries / "freedict-fin-eng.index", dictionaries / "freedict-fin-eng.dict.dz")
    assert entries["takuu"] == ["warranty", "guarantee"]
    assert "rauta kattila" not in entries
    assert "00databaseinfo" not in entries


def test_inflected_words_find_their_headword_by_stem_or_prefix() -> None:
    dictionary = Dictionary.build("fi", "en", {"takuu": ["warranty"], "salasana": ["password"], "tuote": ["product"]})
    assert dictionary.translate("takuu", 3) == ["warranty"]
    # Partitive "takuuta" shares the Snowball stem "taku"; genitive "salasanan" starts with its headword.
    assert dictionary.translate("takuuta", 3) == ["warranty"]
    assert dictionary.translate("salasanan", 3) == ["password"]
    # A prefix must leave a short ending: "tuotantolaitos" is not a form of "tuote".
    assert dictionary.translate("tuotantolaitos", 3) == []
    senses = Dictionary.build("fi", "en", {"pitkä": ["long", "tall", "lengthy"]})
    assert senses.translate("pitkä", 2) == ["long", "tall"]


def test_translated_terms_are_written_as_the_target_language_analyzer_writes_them(dictionaries: Path) -> None:
    translator = QueryTranslator(dictionaries)
    terms = translator.terms("Kuinka pitkä takuu tuotteilla on?", "fi", "en")
    # English stems ("warranti"), English stopwords dropped ("how"), the Finnish words themselves absent.
    assert analyze("warranty", "en")[0] in terms
    assert analyze("long", "en")[0] in terms
    assert "how" not in terms and "takuu" not in terms
    assert translator.available("fi", "en") and not translator.available("en", "fi")
    assert translator.terms("Kuinka pitkä takuu on?", "fi", "pl") == []


def test_an_unreadable_dictionary_is_skipped_with_a_warning(tmp_path: Path, caplog) -> None:
    folder = write_dictd(tmp_path / "dictd", "fin-eng", FIN_ENG)
    (folder / "freedict-fin-eng.dict.dz").write_bytes(b"not gzip at all")
    with caplog.at_level(logging.WARNING, logger="assistant.dictionary"):
        assert QueryTranslator(folder).terms("takuu", "fi", "en") == []
    assert "fi->en skipped" in caplog.text


def test_a_compiled_copy_is_kept_in_the_cache_and_replaced_when_the_source_changes(
    dictionaries: Path, tmp_path: Path, monkeypatch
) -> None:
    import assistant.dictionary as module

    cache = tmp_path / "cache"
    first = QueryTranslator(dictionaries, cache).terms("takuu", "fi", "en")
    assert len(list((cache / "dictionaries").glob("freedict-fin-eng.dict.dz-*.json"))) == 1

    def no_parsing(*args: object) -> dict[str, list[str]]:
        raise AssertionError("parsed the dictd file although a compiled copy exists")

    with monkeypatch.context() as patched:
        patched.setattr(module, "read_dictd", no_parsing)
        assert QueryTranslator(dictionaries, cache).terms("takuu", "fi", "en") == first
    # A new package version (other size): parsed again, not answered from the stale copy.
    write_dictd(dictionaries, "fin-eng", {**FIN_ENG, "takuu": "takuu <n>\nwarranty\n", "uusi": "uusi <adj>\nnew\n"})
    assert QueryTranslator(dictionaries, cache).terms("takuu", "fi", "en") == [analyze("warranty", "en")[0]]


WARRANTY = "# Warranty\n\nAll products carry a two-year warranty from the date of delivery."
CORPUS = {
    "warranty.md": WARRANTY,
    "shipping.md": "# Shipping\n\nParcels to Germany arrive in three to five days.",
    "toimitus.md": "# Toimitus\n\nKuinka pitkä toimitus on? Toimitus kestää kolme päivää.",
}


@pytest.fixture
def index(tmp_path: Path, embedder, cache):
    store = IndexStore(tmp_path / "index")
    sync_folder(write_corpus(tmp_path / "kb", CORPUS), store, embedder, cache)
    return store.load()


def test_a_finnish_question_finds_the_english_passage_only_through_the_dictionary(
    index, embedder, dictionaries: Path
) -> None:
    question = "takuuta tuotteille?"
    plain = Retriever(index, embedder)
    translating = Retriever(index, embedder, translator=QueryTranslator(dictionaries))
    assert plain.search(question, 5, mode="bm25").hits == []
    hits = translating.search(question, 5, mode="bm25").hits
    assert [h.chunk.source for h in hits] == ["warranty.md"]
    # In hybrid search the English passage gains the keyword boost on top of its cosine similarity.
    before = {h.chunk.source: h for h in plain.search(question, 5).hits}["warranty.md"]
    after = {h.chunk.source: h for h in translating.search(question, 5).hits}["warranty.md"]
    assert before.keyword_score is None and after.keyword_score is not None
    assert after.score > before.score


def test_translations_are_matched_only_against_passages_of_their_language(
    tmp_path: Path, embedder, cache, dictionaries: Path
) -> None:
    # A Finnish passage that happens to hold the English word must not match the translated term.
    store = IndexStore(tmp_path / "index2")
    files = {"fi.md": "# Ohje\n\nSana warranty on englantia.", "en.md": WARRANTY}
    sync_folder(write_corpus(tmp_path / "kb2", files), store, embedder, cache)
    retriever = Retriever(store.load(), embedder, translator=QueryTranslator(dictionaries))
    assert [h.chunk.source for h in retriever.search("takuuta", 5, mode="bm25").hits] == ["en.md"]


def test_the_setting_off_and_same_language_questions_leave_results_unchanged(
    index, embedder, dictionaries: Path, tmp_path: Path
) -> None:
    from assistant.components import build_service
    from assistant.settings import Settings

    off = Settings(index_dir=tmp_path / "index", keyword_translation=False, dictionary_dir=dictionaries)
    assert build_service(off).config.translator is None
    translator = build_service(Settings(index_dir=tmp_path / "index", dictionary_dir=dictionaries)).config.translator
    assert translator is not None and translator.installed() == [("fi", "en")]
    plain = Retriever(index, embedder)
    translating = Retriever(index, embedder, translator=QueryTranslator(dictionaries))
    # English passages are searched with the English words; no en->fi dictionary is installed here.
    for question in ("two-year warranty", "parcels to Germany"):
        expected = [(h.chunk.text, h.score) for h in plain.search(question, 5).hits]
        assert [(h.chunk.text, h.score) for h in translating.search(question, 5).hits] == expected


freedict = pytest.mark.skipif(
    not (DICTD_DIR / "freedict-fin-eng.index").is_file() or not (DICTD_DIR / "freedict-pol-eng.index").is_file(),
    reason="FreeDict dictionaries not installed (`make dictionaries`, Debian dict-freedict-fin-eng/pol-eng)",
)


@freedict
def test_the_installed_freedict_dictionaries_translate_inflected_questions() -> None:
    translator = QueryTranslator()
    assert analyze("warranty", "en")[0] in translator.terms("Kuinka pitkä takuu tuotteilla on?", "fi", "en")
    assert analyze("refund", "en")[0] in translator.terms("Ile dni czeka się na zwrot pieniędzy?", "pl", "en")
    assert analyze("password", "en")[0] in translator.terms("mikä on salasanan vähimmäispituus?", "fi", "en")


def test_the_benchmark_groups_questions_by_language_pair_and_id_parity() -> None:
    from benchmarks.keyword_translation import held_out, pair_of, row

    languages = {"warranty.pdf": "en", "takuu.txt": "fi", "zwrot.pdf": "pl"}
    item = {"lang": "fi", "relevant": [{"source": "warranty.pdf"}, {"source": "zwrot.pdf"}]}
    assert pair_of(item, languages) == "fi->en+pl"
    assert pair_of({"lang": "fi", "relevant": [{"source": "takuu.txt"}, {"source": "warranty.pdf"}]}, languages) == "fi"
    assert pair_of({"lang": "pl", "relevant": []}, languages) == "pl (unanswerable)"
    assert held_out("fi-017") and not held_out("fi-018")
    # One question found at rank 2 (nDCG 1/log2(3)) and answered, one missed and abstained.
    found = {"answerable": True, "relevant_ranks": [[2, 1.0]], "ideal_gains": [1.0], "found": True, "answer_hit": True}
    missed = {"answerable": True, "relevant_ranks": [], "ideal_gains": [1.0], "found": False, "answer_hit": False}
    figures = row([found, missed])
    assert figures["hit@5"] == 0.5 and figures["answer_hit"] == 0.5 and figures["false_abstention"] == 0.5
    assert figures["ndcg@10"] == pytest.approx((1 / math.log2(3)) / 2)
