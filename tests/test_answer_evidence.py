"""Answers on any collection: the null distribution measured at ingest, sentence choice by meaning across passages."""

from __future__ import annotations

import numpy as np
import pytest

import assistant.answer as answer_module
import assistant.retriever as retriever_module
import ingest.calibration as calibration
from assistant.answer import (
    CONFIDENCE_WEIGHTS,
    COVERAGE_WEIGHT,
    MIN_SPREAD,
    ExtractiveAnswerer,
    confidence,
    null_for,
    question_evidence,
)
from assistant.retriever import Retriever
from ingest.sync import sync_folder
from tests.conftest import write_corpus
from tests.fakes import TableEmbedder, unit_vector

DIM = 8


def unit(*parts: tuple[int, float]) -> np.ndarray:
    return unit_vector(DIM, *parts)


# Finnish warranty terms and a candle-care section; the question is Polish and shares no word with either.
WARRANTY = "Tuotteillamme on kahden vuoden takuu ostopäivästä alkaen."
WEAR = "Takuu ei kata tavallista kulumista eikä väärää käyttöä."
CANDLE = "Polta kynttilää enintään neljä tuntia kerrallaan."
FLAME = "Pidä liekki aina kaukana verhoista ja lapsista."
QUESTION = "Jak długa jest gwarancja na produkty?"
DOCS = {
    "takuu.md": f"# Takuuehdot\n\n{WARRANTY} {WEAR}",
    "kynttilat.md": f"# Kynttilöiden hoito\n\n{CANDLE} {FLAME}",
}
# The candle passage ranks first by dense similarity; the sentence that answers sits in the second passage.
VECTORS = {
    QUESTION: unit((0, 1.0)),
    "Kynttilöiden hoito": unit((0, 0.62), (1, 0.78)),
    "Takuuehdot": unit((0, 0.55), (2, 0.83)),
    WARRANTY: unit((0, 0.9), (2, 0.44)),
    WEAR: unit((0, 0.35), (2, 0.94)),
    CANDLE: unit((0, 0.3), (1, 0.95)),
    FLAME: unit((0, 0.25), (1, 0.97)),
}
# Off-topic questions and where they point: the null distribution is known by construction.
BANK = {
    "pl": [
        "Ile księżyców ma Jowisz?",
        "Jak upiec sernik?",
        "Kto napisał Pana Tadeusza?",
        "Jak nastroić gitarę?",
    ]
}
BANK_VECTORS = [unit((0, 0.1), (5, 1.0)), unit((0, 0.2), (5, 1.0)), unit((0, 0.05), (6, 1.0)), unit((1, 0.1), (6, 1.0))]
for text, vector in zip(BANK["pl"], BANK_VECTORS, strict=True):
    VECTORS[text] = vector


@pytest.fixture
def indexed(tmp_path, store, cache, monkeypatch):
    monkeypatch.setattr(calibration, "off_topic_bank", lambda: BANK)
    embedder = TableEmbedder(VECTORS, DIM)
    sync_folder(write_corpus(tmp_path / "kb", DOCS), store, embedder, cache)
    index = store.load()
    return Retriever(index, embedder), index


def test_the_null_distribution_is_the_off_topic_banks_scores_on_this_collection(indexed) -> None:
    _, index = indexed
    passages = index.vectors.vectors(np.array(list(index.chunks)))
    best = np.array([max(float(p @ q) for p in passages) for q in BANK_VECTORS])
    null = null_for_index(index)
    assert null.questions == 4
    assert null.mean["dense_top"] == pytest.approx(best.mean(), abs=1e-4)
    assert null.std["dense_top"] == pytest.approx(best.std(), abs=1e-4)
    # Only languages the bank has are listed; the answerer compares with all of them pooled.
    assert set(index.manifest.calibration["languages"]) == {"pl"}
    assert index.manifest.calibration["languages"]["pl"] == index.manifest.calibration["pooled"]


def null_for_index(index):
    return calibration.Calibration.from_dict(index.manifest.calibration).pooled


def test_the_answer_decision_compares_evidence_with_the_collections_null(indexed) -> None:
    retriever, index = indexed
    result = retriever.search(QUESTION, 5)
    evidence, null = question_evidence(result), null_for(result)
    assert evidence is not None and null is not None
    expected = COVERAGE_WEIGHT * evidence.coverage + sum(
        weight * (evidence.value(signal) - null.mean[signal]) / max(null.std[signal], MIN_SPREAD[signal])
        for signal, weight in CONFIDENCE_WEIGHTS.items()
    )
    assert confidence(evidence, null) == pytest.approx(expected)
    assert ExtractiveAnswerer(min_confidence=expected - 0.01).answer(QUESTION, result).found
    assert not ExtractiveAnswerer(min_confidence=expected + 0.01).answer(QUESTION, result).found
    # An operator's fixed threshold overrides the calibration.
    assert not ExtractiveAnswerer(min_dense_score=0.99, min_confidence=-100).answer(QUESTION, result).found


def test_the_passage_whose_sentence_answers_outranks_a_section_that_only_shares_the_topic(indexed) -> None:
    retriever, _ = indexed
    assert retriever.search(QUESTION, 5).hits[0].chunk.source == "takuu.md"


def test_a_polish_question_quotes_and_highlights_the_finnish_sentence_that_answers_it(indexed, monkeypatch) -> None:
    retriever, _ = indexed
    # Passage vectors alone: the candle section ranks first, the answering sentence sits in the second passage.
    monkeypatch.setattr(retriever_module, "SENTENCE_WEIGHT", 0.0)
    result = retriever.search(QUESTION, 5)
    assert result.hits[0].chunk.source == "kynttilat.md"
    answer = ExtractiveAnswerer(min_confidence=-100).answer(QUESTION, result)
    assert answer.found
    lead = answer.citations[0]
    assert lead.n == 1 and lead.hit.chunk.source == "takuu.md"
    assert answer.text.startswith(f"{WARRANTY} [1]")
    assert lead.highlight is not None
    assert lead.hit.chunk.text[lead.highlight[0] : lead.highlight[1]] == WARRANTY
    # The candle passage is still shown, as related, not cited.
    assert "kynttilat.md" in [c.hit.chunk.source for c in answer.related]
    assert CANDLE not in answer.text


def test_answers_join_sentences_from_several_passages_when_they_score_alike(indexed, monkeypatch) -> None:
    retriever, _ = indexed
    monkeypatch.setattr(retriever_module, "SENTENCE_WEIGHT", 0.0)
    result = retriever.search(QUESTION, 5)

    # Wide enough margin that the candle sentence (0.3 + prior) joins the warranty sentence (0.9 + prior).
    monkeypatch.setattr(answer_module, "SENTENCE_MARGIN", 0.7)
    answer = ExtractiveAnswerer(min_confidence=-100).answer(QUESTION, result)
    cited = [c.hit.chunk.source for c in answer.citations]
    assert cited == ["takuu.md", "kynttilat.md"]
    assert answer.text.index("[1]") < answer.text.index("[2]")


def test_sentence_vectors_survive_a_resync_and_leave_with_their_document(indexed, tmp_path, store, cache) -> None:
    _, index = indexed
    before = {i: index.sentences.of(i)[0].tolist() for i in index.chunks}
    assert all(before.values())
    embedder = TableEmbedder(VECTORS, DIM)
    root = tmp_path / "kb"
    (root / "kynttilat.md").unlink()
    sync_folder(root, store, embedder, cache)
    after = store.load()
    assert {c.source for c in after.chunks.values()} == {"takuu.md"}
    for i in after.chunks:
        assert after.sentences.of(i)[0].tolist() == before[i]
    assert after.sentences.count() == sum(len(v) for k, v in before.items() if k in after.chunks)


def test_a_new_question_bank_recalibrates_an_unchanged_collection_without_embedding_it(
    indexed, tmp_path, store, cache, monkeypatch
) -> None:
    _, index = indexed
    embedder = TableEmbedder(VECTORS, DIM)
    root = tmp_path / "kb"
    unchanged = sync_folder(root, store, embedder, cache)
    assert unchanged.index_version == index.version  # same bank: nothing to do
    monkeypatch.setattr(calibration, "off_topic_bank", lambda: {"pl": BANK["pl"][:2]})
    report = sync_folder(root, store, embedder, cache)
    assert report.index_version != index.version and report.embedded == 0
    assert report.unchanged == sorted(DOCS)
    recalibrated = store.load().calibration
    assert recalibrated is not None and recalibrated.pooled is not None and recalibrated.pooled.questions == 2


class _CountingQueries(TableEmbedder):
    """The test collection's table embedder, recording every question it embeds."""

    def __init__(self) -> None:
        super().__init__(VECTORS, DIM)
        self.questions: list[str] = []

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        self.questions.extend(texts)
        return super().embed_queries(texts)


def test_setup_embeds_the_off_topic_bank_so_a_first_ingest_does_not(tmp_path, monkeypatch) -> None:
    import assistant.components as components
    from assistant.settings import Settings
    from ingest.embedding_cache import EmbeddingCache
    from ingest.store.layout import IndexStore

    monkeypatch.setattr(calibration, "off_topic_bank", lambda: BANK)
    settings = Settings(cache_dir=tmp_path / "cache", languages=["pl"])
    at_setup = _CountingQueries()
    monkeypatch.setattr(components, "build_embedder", lambda _settings: at_setup)
    assert components.prepare_off_topic_vectors(settings) == len(BANK["pl"])
    assert sorted(at_setup.questions) == sorted(BANK["pl"])

    at_ingest = _CountingQueries()
    cache = EmbeddingCache(settings.cache_dir / "embeddings.sqlite")
    sync_folder(write_corpus(tmp_path / "kb", DOCS), IndexStore(tmp_path / "index"), at_ingest, cache)
    cache.close()
    assert at_ingest.questions == []
    assert IndexStore(tmp_path / "index").load().calibration.pooled.questions == len(BANK["pl"])  # type: ignore[union-attr]
    assert components.prepare_off_topic_vectors(settings) == len(BANK["pl"])
    assert len(at_setup.questions) == len(BANK["pl"])  # second set-up: all cached
