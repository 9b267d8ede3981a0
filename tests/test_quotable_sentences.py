"""Which sentences an answer may quote, and how sentences in different languages compete for it."""

from __future__ import annotations

import numpy as np
import pytest

import assistant.retriever as retriever_module
import ingest.calibration as calibration
from assistant.answer import ExtractiveAnswerer, question_evidence
from assistant.retriever import Retriever
from ingest.sentences import heading_spans
from ingest.store.sentence_index import quotable_spans
from ingest.sync import sync_folder
from tests.conftest import write_corpus
from tests.fakes import TableEmbedder, unit_vector


def texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[s:e] for s, e in spans]


def test_headings_are_found_in_every_language_and_format() -> None:
    text = (
        "NORDVIK HOME GIFT CARDS\nUpdated January 2025\n\n## Buying a gift card\n\n"
        "Gift cards are digital.\n\nการขอใบกำกับภาษีเต็มรูป\n\nทำเครื่องหมายที่ช่องในหน้าชำระเงินก่อนยืนยันคำสั่งซื้อทุกครั้ง\n\n"
        "Palautusoikeus\n\nVoit palauttaa tuotteet 30 päivän kuluessa."
    )
    assert texts(text, heading_spans(text)) == [
        "NORDVIK HOME GIFT CARDS",
        "## Buying a gift card",
        "การขอใบกำกับภาษีเต็มรูป",
        "Palautusoikeus",
    ]


def test_lines_that_inform_are_not_headings() -> None:
    # A date, a price or an hour is information; a list item is content; a sentence ends with a stop;
    # the last line introduces nothing; a long Thai line is a sentence, not a title.
    text = (
        "Updated 1 March 2025\n- the billing postcode\nEmail: 24 hours\nDo not handle them yourself.\n"
        "ลูกค้าสามารถคืนสินค้าได้ภายในสิบห้าวันนับจากวันที่ได้รับสินค้าโดยไม่ต้องแจ้งเหตุผล\nContact us"
    )
    assert heading_spans(text) == []


def test_headings_and_questions_are_never_quoted() -> None:
    text = (
        "Changing an order\n\nCan I change the delivery address? Yes, until the order is packed.\n\n"
        "Call us if it is urgent."
    )
    assert texts(text, quotable_spans(text)) == ["Yes, until the order is packed.", "Call us if it is urgent."]


DIM = 8


def unit(*parts: tuple[int, float]) -> np.ndarray:
    return unit_vector(DIM, *parts)


# Axis 0: warranty, 1: how long, 3: "is Polish" (what any Polish text shares with a Polish question),
# 5 and 6: off-topic subjects.
FI_ANSWER = "Tuotteillamme on kahden vuoden takuu ostopäivästä alkaen, ja se koskee kaikkia tuotteita."
PL_TOPIC = "Gwarancja producenta nie obejmuje zwykłego zużycia ani uszkodzeń mechanicznych produktów."
QUESTION = "Jak długa jest gwarancja na produkty?"
DOCS = {
    "takuu.md": f"# Takuuehdot ja niiden voimassaolo\n\n{FI_ANSWER}",
    "gwarancja.md": f"# Warunki gwarancji dla klientów sklepu\n\n{PL_TOPIC}",
}
VECTORS = {
    QUESTION: unit((0, 0.6), (1, 0.6), (3, 0.5)),
    "Takuuehdot ja niiden voimassaolo": unit((0, 0.8), (1, 0.6)),
    "Warunki gwarancji dla klientów sklepu": unit((0, 0.8), (1, 0.3), (3, 0.5)),
    # Raw similarity to the question: the Polish sentence 0.90, the Finnish one that answers 0.85.
    FI_ANSWER: unit((0, 0.6), (1, 0.8)),
    PL_TOPIC: unit((0, 0.75), (1, 0.2), (3, 0.63)),
}
BANK = {"pl": ["Ile księżyców ma Jowisz?", "Jak upiec sernik?"], "fi": ["Kuka voitti Tour de Francen?"]}
VECTORS["Ile księżyców ma Jowisz?"] = unit((5, 1.0), (3, 0.5))
VECTORS["Jak upiec sernik?"] = unit((6, 1.0), (3, 0.5))
VECTORS["Kuka voitti Tour de Francen?"] = unit((5, 1.0))


@pytest.fixture
def bilingual(tmp_path, store, cache, monkeypatch):
    monkeypatch.setattr(calibration, "off_topic_bank", lambda: BANK)
    monkeypatch.setattr(retriever_module, "SENTENCE_WEIGHT", 0.0)
    embedder = TableEmbedder(VECTORS, DIM)
    sync_folder(write_corpus(tmp_path / "kb", DOCS), store, embedder, cache)
    index = store.load()
    return Retriever(index, embedder), index


def test_the_shift_between_languages_is_measured_on_the_collection(bilingual) -> None:
    _, index = bilingual
    assert {c.language for c in index.chunks.values()} == {"fi", "pl"}
    shift = calibration.Calibration.from_dict(index.manifest.calibration).shift
    # Polish off-topic questions score Polish sentences 0.28 on average (the shared axis), Finnish ones 0.
    polish_bonus = float(np.mean([VECTORS[q] @ VECTORS[PL_TOPIC] for q in BANK["pl"]]))
    assert shift("pl", "fi") == pytest.approx(-polish_bonus, abs=1e-4)
    assert shift("pl", "pl") == 0.0
    assert shift("fi", "pl") == pytest.approx(0.0, abs=1e-6)  # Finnish questions have no Polish axis
    assert shift("de", "fi") == 0.0  # a language the bank does not ask in is left as it is


def test_a_polish_question_quotes_the_finnish_sentence_that_answers_over_a_polish_one_on_the_topic(
    bilingual,
) -> None:
    retriever, _ = bilingual
    result = retriever.search(QUESTION, 5)
    assert result.language == "pl"
    answer = ExtractiveAnswerer(min_confidence=-100, max_sentences=1).answer(QUESTION, result)
    assert answer.text == f"{FI_ANSWER} [1]"
    assert answer.citations[0].hit.chunk.source == "takuu.md"


def test_without_a_measured_shift_the_same_language_sentence_wins(bilingual, monkeypatch) -> None:
    """The control for the test above: an index calibrated before the shift existed."""
    retriever, index = bilingual
    monkeypatch.setattr(index.calibration, "sentence_shift", None)
    result = retriever.search(QUESTION, 5)
    answer = ExtractiveAnswerer(min_confidence=-100, max_sentences=1).answer(QUESTION, result)
    assert answer.text == f"{PL_TOPIC} [1]"


def test_the_evidence_for_not_found_weighs_sentences_with_the_same_shift(bilingual) -> None:
    retriever, index = bilingual
    result = retriever.search(QUESTION, 5)
    evidence = question_evidence(result)
    shift = index.calibration.shift
    query = VECTORS[QUESTION]
    shifted = [query @ VECTORS[FI_ANSWER] - shift("pl", "fi"), query @ VECTORS[PL_TOPIC] - shift("pl", "pl")]
    assert evidence is not None and evidence.sentence_top == pytest.approx(max(shifted), abs=1e-3)
    # The bank's questions were measured the same way: their Finnish sentences carry the same shift.
    null = index.calibration.languages["pl"]
    bank = [
        max(VECTORS[q] @ VECTORS[FI_ANSWER] - shift("pl", "fi"), VECTORS[q] @ VECTORS[PL_TOPIC]) for q in BANK["pl"]
    ]
    assert null.mean["sentence_top"] == pytest.approx(float(np.mean(bank)), abs=1e-3)
