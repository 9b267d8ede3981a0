"""Chunking follows headings, paragraphs and sentences in all four languages, sized in tokens."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest

from ingest.analyzer import analyze
from ingest.chunker import chunk_document, embedding_text
from ingest.documents import Block, Chunk, Document
from ingest.embedder import rough_token_count
from ingest.sentences import sentence_spans


def make_doc(sections: list[tuple[str, list[str]]], source: str = "doc.md") -> Document:
    """A document with one heading per section and the given paragraphs under it."""
    text, blocks = "", []
    for heading, paragraphs in sections:
        for kind, value in [("heading", heading)] + [("paragraph", p) for p in paragraphs]:
            if text:
                text += "\n\n"
            start = len(text)
            text += value
            blocks.append(Block(start, len(text), kind, headings=(heading,), level=1 if kind == "heading" else 0))
    return Document(source=source, text=text, blocks=blocks, title="Doc", language="en")


SENTENCES = {
    "en": "Refunds reach the card within five days. Call us if they do not. We answer on weekdays.",
    "fi": "Palautus hyvitetään viiden päivän kuluessa. Ota yhteyttä esim. chatissa! Vastaamme arkisin.",
    "pl": "Zwrot trafi na kartę w ciągu 5 dni. Np. BLIK działa od razu. Odpowiadamy w dni robocze.",
    "th": "ลูกค้าสามารถคืนสินค้าได้ภายใน 30 วัน โดยสินค้าต้องอยู่ในสภาพเดิม กรุณาติดต่อฝ่ายบริการลูกค้า",
}


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_sentences_split_at_real_boundaries(language: str) -> None:
    text = SENTENCES[language]
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert len(sentences) == 3
    assert "".join(sentences).replace(" ", "") == text.replace(" ", "")


def test_abbreviations_and_decimals_do_not_end_sentences() -> None:
    text = "Ota yhteyttä esim. chatissa. Price is 4.50 EUR. Call Dr. Smith now."
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Ota yhteyttä esim. chatissa.",
        "Price is 4.50 EUR.",
        "Call Dr. Smith now.",
    ]


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_long_sections_split_on_sentences_within_token_budget(language: str) -> None:
    paragraph = " ".join([SENTENCES[language]] * 12)
    doc = make_doc([("Section", [paragraph])])
    chunks = chunk_document(doc, rough_token_count, max_tokens=60, min_tokens=10)
    assert len(chunks) > 2
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert rough_token_count(chunk.text) <= 60 + 10
        # Every chunk ends at a sentence end, never mid-sentence.
        assert chunk.text.endswith((".", "!", "ค้า"))


def test_chunks_never_cross_sections_and_keep_heading_path() -> None:
    doc = make_doc([("Returns", ["Return within 30 days."]), ("Shipping", ["Ships in 2 days."])])
    chunks = chunk_document(doc, rough_token_count, max_tokens=200, min_tokens=0)
    assert [(c.section, c.text) for c in chunks] == [
        ("Returns", "Return within 30 days."),
        ("Shipping", "Ships in 2 days."),
    ]
    assert embedding_text(chunks[0]) == "Doc > Returns\n\nReturn within 30 days."


def test_small_paragraphs_are_merged_into_one_passage() -> None:
    doc = make_doc([("FAQ", ["Short one.", "Another short one.", "Third."])])
    chunks = chunk_document(doc, rough_token_count, max_tokens=200, min_tokens=40)
    assert len(chunks) == 1
    assert chunks[0].text == "Short one.\n\nAnother short one.\n\nThird."


def test_a_sentence_longer_than_the_budget_is_cut_not_dropped() -> None:
    words = " ".join(f"word{i}" for i in range(300))
    doc = make_doc([("Long", [words])])
    chunks = chunk_document(doc, rough_token_count, max_tokens=50, min_tokens=0)
    assert " ".join(c.text for c in chunks).split() == words.split()
    assert all(rough_token_count(c.text) <= 50 for c in chunks)


def test_chunk_ids_are_stable_and_unique() -> None:
    doc = make_doc([("A", ["One.", "Two."]), ("B", ["Three."])])
    first = chunk_document(doc, rough_token_count, 200, 0)
    again = chunk_document(doc, rough_token_count, 200, 0)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)


def test_language_is_detected_per_chunk() -> None:
    doc = make_doc(
        [
            ("Mixed", ["Palautus hyvitetään viiden päivän kuluessa tilauksesta."]),
            ("Mieszane", ["Zwrot pieniędzy trwa do pięciu dni roboczych od zgłoszenia."]),
        ]
    )
    from ingest.language import detect_language

    chunks = chunk_document(doc, rough_token_count, 200, 0, language_of=detect_language)
    assert [c.language for c in chunks] == ["fi", "pl"]


def test_ingest_detects_each_languages_sections_with_the_fast_detector(tmp_path) -> None:
    from ingest.embedding_cache import EmbeddingCache
    from ingest.store.layout import IndexStore
    from ingest.sync import sync_folder
    from tests.conftest import write_corpus
    from tests.fakes import FakeEmbedder

    store = IndexStore(tmp_path / "index")
    sync_folder(write_corpus(tmp_path / "kb"), store, FakeEmbedder(), EmbeddingCache(tmp_path / "cache.sqlite"))
    by_source: dict[str, set[str]] = {}
    for chunk in store.load().chunks.values():
        by_source.setdefault(chunk.source, set()).add(chunk.language)
    expected = {"returns.md": {"en"}, "toimitus.md": {"fi"}, "platnosci.md": {"pl"}, "songkran.md": {"th"}}
    assert by_source == expected


def test_keyword_analysis_segments_thai_and_stems_inflected_words() -> None:
    assert analyze("ลูกค้าสามารถคืนสินค้าได้", "th") == ["ลูกค้า", "คืน", "สินค้า"]
    assert analyze("przesyłki", "pl") == analyze("przesyłka", "pl")
    assert analyze("palautuksen", "fi") == analyze("palautukset", "fi")
    assert analyze("Returns", "en") == analyze("returned", "en")


def _nested_doc(parts: list[tuple[tuple[str, ...], str]]) -> Document:
    """Paragraphs under explicit heading paths (the heading blocks themselves are left out)."""
    text, blocks = "", []
    for headings, paragraph in parts:
        if text:
            text += "\n\n"
        start = len(text)
        text += paragraph
        blocks.append(Block(start, len(text), "paragraph", headings=headings, level=0))
    return Document(source="payments.html", text=text, blocks=blocks, title="Payments", language="en")


def test_a_tiny_lead_in_joins_the_first_subsection_instead_of_standing_alone() -> None:
    cards = "We accept Visa and Mastercard. The card is charged when the order ships, not when it is placed."
    invoice = "Invoices are due in 14 days. A reminder costs 5 euros and is sent after the due date."
    doc = _nested_doc(
        [
            (("Payments",), "Updated 10 February 2025"),
            (("Payments", "Cards"), cards),
            (("Payments", "Cash on delivery"), "Not available."),
            (("Payments", "Invoice"), invoice),
        ]
    )
    chunks = chunk_document(doc, rough_token_count, max_tokens=60, min_tokens=10)

    first = chunks[0]
    assert first.text.startswith("Updated 10 February 2025") and first.text.endswith(cards)
    assert first.section == "Payments > Cards"
    # A short section of its own is a real answer: it is not folded into its sibling.
    assert [c.text for c in chunks[1:]] == ["Not available.", invoice]
    assert [c.section for c in chunks[1:]] == ["Payments > Cash on delivery", "Payments > Invoice"]


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_a_chunk_reads_back_from_the_index_file_unchanged(language: str) -> None:
    doc = make_doc([("Returns", [SENTENCES[language]] * 6), ("Ostoskori > Maksu", [SENTENCES[language]])])
    chunks = [
        replace(c, url="https://help.example.com/returns", page=2) for c in chunk_document(doc, rough_token_count)
    ]
    chunks.append(replace(chunks[0], title=None, section=None, url=None, page=None))
    # As the index writes and loads them: one JSON line each.
    loaded = [Chunk.from_dict(json.loads(json.dumps(asdict(c), ensure_ascii=False))) for c in chunks]
    assert loaded == chunks
    assert [replace(c, ordinal=c.ordinal + 1).ordinal for c in loaded] == [c.ordinal + 1 for c in chunks]
