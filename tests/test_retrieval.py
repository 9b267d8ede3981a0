"""Retrieval: fusion, filters, near-duplicates, model mismatch, and the optional reranker plumbing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.retriever import Filters, ModelMismatch, Retriever, coverage_score_fusion, reciprocal_rank_fusion
from ingest.sync import sync_folder
from tests.conftest import CORPUS, write_corpus
from tests.fakes import FakeEmbedder


def test_reciprocal_rank_fusion_matches_hand_computation() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert sorted(fused, key=lambda i: -fused[i]) == [1, 3, 2]


def test_coverage_score_fusion_matches_hand_computation() -> None:
    fused = coverage_score_fusion({1: 0.8, 2: 0.6}, {2: 5.0, 3: 10.0}, max_keyword=10.0, weight=0.2)
    assert fused[1] == pytest.approx(0.8)
    assert fused[2] == pytest.approx(0.6 + 0.2 * 0.5**2)
    # A keyword-only hit gets the weakest dense score of the pool as its dense part.
    assert fused[3] == pytest.approx(0.6 + 0.2)


def test_a_stray_keyword_match_cannot_outrank_a_clearly_better_dense_match() -> None:
    fused = coverage_score_fusion({1: 0.70, 2: 0.55}, {2: 3.0}, max_keyword=12.0, weight=0.15)
    assert fused[1] > fused[2]
    rrf = reciprocal_rank_fusion([[1, 2], [2]])
    assert rrf[2] > rrf[1]  # the failure mode measured on the demo eval set


def test_bm25_max_score_is_the_sum_of_idfs() -> None:
    from ingest.store.backends import create_keyword_index

    index = create_keyword_index()
    index.add(np.arange(4, dtype=np.int64), [["blik", "kod"], ["kod"], ["karta"], ["przelew"]])
    # A passage of average length holding the term once scores exactly its idf.
    idf_blik = np.log1p((4 - 1 + 0.5) / 1.5)
    assert index.max_score(["blik"]) == pytest.approx(idf_blik)
    # Unknown words count at the highest idf.
    assert index.max_score(["blik", "zzz"]) == pytest.approx(2 * idf_blik)


@pytest.fixture
def retriever(service) -> Retriever:
    return service.retriever()


def test_hybrid_finds_what_either_retriever_finds(retriever) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        hits = retriever.search("BLIK płatności", 3, mode=mode).hits
        assert hits[0].chunk.source == "platnosci.md", mode
    hybrid = retriever.search("BLIK płatności", 10).hits
    assert hybrid[0].dense_score is not None and hybrid[0].keyword_score is not None


def test_language_filter_and_source_prefix_apply_before_ranking(retriever) -> None:
    hits = retriever.search("days", 10, Filters(languages=("fi",))).hits
    assert hits and {h.chunk.language for h in hits} == {"fi"}
    hits = retriever.search("returns", 10, Filters(source_prefix="songkran")).hits
    assert hits and {h.chunk.source for h in hits} == {"songkran.md"}


def test_tag_and_group_filters(tmp_path: Path, embedder, cache) -> None:
    import json

    from assistant.service import KnowledgeService, ServiceConfig
    from ingest.store.layout import IndexStore

    root = write_corpus(tmp_path / "kb")
    (root / "returns.md.meta.json").write_text(json.dumps({"tags": ["policy"], "groups": ["internal"]}))
    store = IndexStore(tmp_path / "idx")
    sync_folder(root, store, embedder, cache)
    retriever = KnowledgeService(store, embedder, ServiceConfig(0.4)).retriever()
    tagged = retriever.search("return item", 10, Filters(tags=("policy",))).hits
    assert {h.chunk.source for h in tagged} == {"returns.md"}
    outsider = retriever.search("return item within 30 days", 10, Filters(groups=("agents",))).hits
    assert outsider and all(h.chunk.source != "returns.md" for h in outsider)
    insider = retriever.search("return item within 30 days", 10, Filters(groups=("internal",))).hits
    assert insider[0].chunk.source == "returns.md"


def test_a_restricted_document_does_not_shift_an_outsiders_scores(tmp_path: Path, embedder, cache) -> None:
    """Keyword statistics count only what the caller may see: scores cannot reveal a hidden document."""
    import json

    from assistant.service import KnowledgeService, ServiceConfig
    from ingest.store.layout import IndexStore

    secret = "# Bonus\n\nThe delivery bonus is paid within 30 days for Postin deliveries."

    def retriever_over(root: Path, name: str) -> Retriever:
        store = IndexStore(tmp_path / name)
        sync_folder(root, store, embedder, cache)
        return KnowledgeService(store, embedder, ServiceConfig(0.4)).retriever()

    with_secret = write_corpus(tmp_path / "kb", {**CORPUS, "hr/bonus.md": secret})
    (with_secret / "hr" / "bonus.md.meta.json").write_text(json.dumps({"groups": ["hr"]}))
    restricted = retriever_over(with_secret, "idx-secret")
    public_only = retriever_over(write_corpus(tmp_path / "kb-public"), "idx-public")
    for query in ("delivery within 30 days", "Postin toimitus", "bonus"):
        for mode in ("bm25", "hybrid"):
            outsider = restricted.search(query, 10, Filters(groups=("agents",)), mode=mode).hits
            reference = public_only.search(query, 10, mode=mode).hits
            assert [(h.chunk.source, h.chunk.text) for h in outsider] == [
                (h.chunk.source, h.chunk.text) for h in reference
            ]
            assert [h.score for h in outsider] == pytest.approx([h.score for h in reference], rel=1e-5)
    insider = restricted.search("delivery bonus", 3, Filters(groups=("hr",)), mode="bm25").hits
    assert insider[0].chunk.source == "hr/bonus.md"


def test_withheld_passages_are_searched_as_if_never_ingested(tmp_path: Path, embedder, cache) -> None:
    """What `assistant eval --withhold` relies on: hits, scores and the answer's evidence all equal an
    index that never held the withheld document."""
    from assistant.answer import question_evidence
    from assistant.service import KnowledgeService, ServiceConfig
    from ingest.store.layout import IndexStore

    extra = "# Bonus\n\nThe delivery bonus is paid within 30 days for Postin deliveries."

    def retriever_over(root: Path, name: str) -> Retriever:
        store = IndexStore(tmp_path / name)
        sync_folder(root, store, embedder, cache)
        return KnowledgeService(store, embedder, ServiceConfig(0.4)).retriever()

    full = retriever_over(write_corpus(tmp_path / "kb", {**CORPUS, "bonus.md": extra}), "idx-full")
    without = retriever_over(write_corpus(tmp_path / "kb-without"), "idx-without")
    withheld = frozenset(i for i, c in full.index.chunks.items() if c.source == "bonus.md")
    assert withheld
    for query in ("delivery bonus within 30 days", "Postin toimitus", "bonus"):
        for mode in ("bm25", "hybrid"):
            asked = full.search(query, 10, Filters(withheld=withheld), mode=mode)
            reference = without.search(query, 10, mode=mode)
            assert [(h.chunk.source, h.chunk.text) for h in asked.hits] == [
                (h.chunk.source, h.chunk.text) for h in reference.hits
            ]
            assert [h.score for h in asked.hits] == pytest.approx([h.score for h in reference.hits], rel=1e-5)
            assert asked.coverage == pytest.approx(reference.coverage, rel=1e-5)
        asked = full.search(query, 5, Filters(withheld=withheld))
        assert question_evidence(asked) is not None
        assert asked.dense_scores.tolist() == pytest.approx(without.search(query, 5).dense_scores.tolist(), rel=1e-5)
    # Without the filter the document is there to be found, also for a caller whose groups were
    # searched with it withheld before (the group mask is cached and must not keep the withholding).
    assert full.search("delivery bonus", 3, mode="bm25").hits[0].chunk.source == "bonus.md"
    agents = ("agents",)
    assert (
        full.search("delivery bonus", 3, Filters(groups=agents, withheld=withheld), mode="bm25").hits[0].chunk.source
        != "bonus.md"
    )
    assert full.search("delivery bonus", 3, Filters(groups=agents), mode="bm25").hits[0].chunk.source == "bonus.md"


def test_identical_passages_in_two_files_are_shown_once(tmp_path: Path, embedder, cache) -> None:
    from assistant.service import KnowledgeService, ServiceConfig
    from ingest.store.layout import IndexStore

    text = "# Gift cards\n\nGift cards are valid for 36 months from purchase."
    root = write_corpus(tmp_path / "kb", {"a/gift.md": text, "b/gift-copy.md": text, "other.md": "# Other\n\nHello."})
    store = IndexStore(tmp_path / "idx")
    sync_folder(root, store, embedder, cache)
    retriever = KnowledgeService(store, embedder, ServiceConfig(0.4)).retriever()
    hits = retriever.search("gift card validity", 5).hits
    assert [h.chunk.text for h in hits].count("Gift cards are valid for 36 months from purchase.") == 1


def test_an_index_built_with_another_model_is_refused_by_the_serving_embedders_identity(corpus, store, cache) -> None:
    """The embedder's own model_id is checked against the index: same vectors, another name, still refused."""
    from assistant.service import KnowledgeService, ServiceConfig

    sync_folder(corpus, store, FakeEmbedder(model_id="model-a"), cache)
    serving = FakeEmbedder(model_id="model-b")
    with pytest.raises(ModelMismatch, match="built with model 'model-a' but the configured model is 'model-b'"):
        Retriever(store.load(), serving)
    with pytest.raises(ModelMismatch, match="'model-a'.*'model-b'"):
        KnowledgeService(store, serving, ServiceConfig(0.4)).load()
    assert Retriever(store.load(), FakeEmbedder(model_id="model-a")).search("refund", 3).hits


def _tiny_cross_encoder(folder: Path) -> Path:
    """A randomly initialised two-layer BERT cross-encoder with a toy vocabulary, saved locally."""
    from sentence_transformers import CrossEncoder
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(
        set(
            [
                "return",
                "item",
                "within",
                "days",
                "refund",
                "blik",
                "card",
                "gift",
                "shipping",
                "the",
                "a",
                "of",
                "30",
                "you",
                "can",
            ]
        )
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(words))
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"))
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=1,
    )
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CrossEncoder(str(folder), device="cpu").save(str(folder))
    return folder


def test_reranker_reorders_candidates_by_cross_encoder_score(service, tmp_path: Path) -> None:
    from assistant.reranker import CrossEncoderReranker

    reranker = CrossEncoderReranker(str(_tiny_cross_encoder(tmp_path / "ce")), candidates=5)
    service.reranker = reranker
    service.load()
    result = service.retriever().search("return item within 30 days", 5)
    assert "rerank" in result.timings_ms
    pairs = [("return item within 30 days", h.chunk.text) for h in result.hits]
    expected = reranker.model.predict(pairs)
    assert [round(h.score, 5) for h in result.hits] == sorted((round(float(x), 5) for x in expected), reverse=True)
