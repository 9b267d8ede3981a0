"""Benchmark scripts run end to end on tiny generated inputs with a fake embedder, so they keep working."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

import assistant.components as components
import benchmarks.quality_vs_langchain as quality
from assistant.components import build_sync_options
from assistant.settings import Settings
from benchmarks.langchain_baseline import as_chunk, build_store, folder_documents, store_chunks
from benchmarks.reindex_speed import FakeEmbedder, Setup, fake_setup, run_benchmark, write_corpus
from eval.judges import QuoteJudge, eval_set_questions
from eval.matching import matched_entries
from eval.sets import parse_item
from eval.workbench import EvalRequest, evaluate
from ingest.sync import SyncOptions
from tests import conftest, fakes

# Every passage of a generated document carries its title, so its tag names the file it came from.
_TAG = re.compile(r"zq\d{3}")


def _beir_corpus(folder: Path, count: int) -> Path:
    """A BEIR corpus.jsonl of short English records, each long enough for a few small passages."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        sentences = [f"Sample {j} of batch {i} was stored at {4 + j} degrees for {i + j} days." for j in range(6)]
        rows.append({"_id": f"doc{i}", "title": f"Record zq{i:03d}", "text": " ".join(sentences)})
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return folder


def test_reindex_speed_embeds_nothing_unchanged_and_only_the_changed_files(tmp_path: Path, capsys) -> None:
    dataset = _beir_corpus(tmp_path / "beir", 40)
    root = tmp_path / "work" / "corpus"
    assert write_corpus(dataset, 30, root) == 30
    embedder = FakeEmbedder("fake-reindex")
    setup = Setup(embedder, {}, "fake")
    options = SyncOptions(chunk_max_tokens=40, chunk_min_tokens=5)

    result = run_benchmark(root, tmp_path / "work", setup, options, changed_files=3)

    rows = result.rows
    assert list(rows) == ["cold", "unchanged", "changed", "rebuild"]
    assert rows["cold"].chunks > 30 and rows["cold"].embedded == rows["cold"].chunks
    assert rows["unchanged"].embedded == 0
    changed_tags = {_TAG.search((root / name).read_text(encoding="utf-8"))[0] for name in result.changed}
    assert len(changed_tags) == 3 and rows["changed"].files_changed == 3
    # The fake also embeds each passage's sentences, so its log is passages and sentences: the texts
    # carrying a changed file's new tag (only written by the 1% change) account for what it embedded.
    assert rows["changed"].embedded > 0
    tags_seen = [set(_TAG.findall(text)) for text in embedder.embedded]
    assert {tag for tags in tags_seen for tag in tags} >= changed_tags
    assert sum(1 for tags in tags_seen if tags & changed_tags) >= rows["changed"].embedded
    assert rows["rebuild"].embedded == 0 and rows["rebuild"].chunks == rows["changed"].chunks
    out = capsys.readouterr().out
    assert "| step | files changed | chunks embedded | chunks in index | seconds |" in out
    for row in rows.values():
        assert f"| {row.step} | {row.files_changed} | {row.embedded} | {row.chunks} |" in out
    assert "**met**" in out and "this run had 30 documents" in out


def test_reindex_speed_cli_row_sees_the_index_unchanged(tmp_path: Path, capsys) -> None:
    root = tmp_path / "work" / "corpus"
    write_corpus(_beir_corpus(tmp_path / "beir", 12), 12, root)
    settings = Settings()
    setup = fake_setup(settings, tmp_path / "work")

    result = run_benchmark(root, tmp_path / "work", setup, build_sync_options(settings), 1, skip_cold=True)

    assert list(result.rows) == ["unchanged", "changed", "rebuild", "cli"]
    cli = result.rows["cli"]
    assert cli.embedded == 0 and cli.chunks == result.rows["changed"].chunks > 0
    assert "--skip-cold" in result.rows["rebuild"].step
    out = capsys.readouterr().out
    assert "assistant ingest FOLDER --index DIR" in out and "Row 1 (cold build) skipped" in out


# --- benchmarks.quality_vs_langchain: our eval next to the plain LangChain pipeline, judged identically ---

QUALITY_SET = [
    # The quote differs from the passage in case and whitespace: the eval's normalised matching must still find it.
    {"id": "en-1", "question": "How many days to return an item for a full refund?", "lang": "en",
     "relevant": [{"source": "returns.md", "quote": "WITHIN 30\n  DAYS of delivery"}]},
    # Asked in Polish, answered by an English passage: the one cross-lingual question.
    {"id": "pl-1", "question": "Ile dni mam na zwrot towaru?", "lang": "pl",
     "relevant": [{"source": "returns", "quote": "full refund"}]},
    {"id": "fi-1", "question": "Toimitamme tilaukset Postin noutopisteisiin?", "lang": "fi",
     "relevant": [{"source": "toimitus.md", "quote": "Postin noutopisteisiin 2–4 arkipäivässä"}]},
    {"id": "th-1", "question": "ชำระเงินปลายทาง ได้ไหม", "lang": "th",
     "relevant": [{"source": "songkran.md", "quote": "ชำระเงินปลายทางได้"}]},
]  # fmt: skip
# Holds en-1's quote too, but under another source: a passage of it must never count for en-1.
DECOY = {"decoy.md": "# Notes\n\nReturns within 30 days of delivery are handled by the returns team."}


class FakeLangChainEmbeddings(Embeddings):
    """LangChain's Embeddings interface over the deterministic fake embedder; counts the documents it embeds."""

    def __init__(self) -> None:
        self.fake = fakes.FakeEmbedder()
        self.documents = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return self.fake.embed_documents(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.fake.embed_query(text).tolist()


@pytest.fixture
def quality_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, FakeLangChainEmbeddings]:
    """Fake models on both sides: ours through assistant.components, LangChain's through the benchmark."""
    monkeypatch.setattr(components, "SentenceTransformerEmbedder", lambda *a, **k: fakes.FakeEmbedder())
    lc = FakeLangChainEmbeddings()
    monkeypatch.setattr(quality, "langchain_embeddings", lambda settings: lc)
    return Settings(embedding_model="fake-embedder", cache_dir=tmp_path / "cache", min_dense_score=0.2), lc


def _quality_set(path: Path) -> Path:
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in QUALITY_SET), encoding="utf-8")
    return path


def _tiny_beir(folder: Path) -> Path:
    docs = [
        {"_id": "d1", "title": "สงกรานต์", "text": "การจัดส่งช่วงสงกรานต์อาจล่าช้าสามถึงห้าวันทำการ"},
        {"_id": "d2", "text": "ลูกค้าสามารถชำระเงินปลายทางได้สำหรับคำสั่งซื้อไม่เกิน 5000 บาท"},
        {"_id": "d3", "text": "คืนสินค้าได้ภายใน 30 วัน"},
    ]
    queries = [{"_id": "q1", "text": "ชำระเงินปลายทาง"}, {"_id": "q2", "text": "คืนสินค้า"}, {"_id": "q3", "text": "x"}]
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in queries), "utf-8")
    # q3 has no judgements, so it must not count.
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td3\t1\n", encoding="utf-8")
    return folder


def test_langchain_chunks_are_judged_by_the_eval_quote_matching(tmp_path: Path) -> None:
    kb = conftest.write_corpus(tmp_path / "kb", conftest.CORPUS | DECOY)
    embeddings = FakeLangChainEmbeddings()
    docs, skipped = folder_documents(kb)
    store = build_store(docs, embeddings)
    chunks = store_chunks(store)
    assert skipped == [] and {c.source for c in chunks} == set(conftest.CORPUS) | set(DECOY)
    items = [parse_item(row) for row in QUALITY_SET]
    questions = eval_set_questions(items)

    rankings, notes = quality.langchain_rankings(questions, store, embeddings, QuoteJudge(items, chunks), 100)

    assert notes == []
    for item, question, ranking in zip(items, questions, rankings, strict=True):
        retrieved = [as_chunk(d) for d in store.similarity_search(question.text, k=100)]
        expected = [1.0 if matched_entries(c.source, c.text, item.relevant) else 0.0 for c in retrieved]
        assert ranking.gains == expected and sum(expected) == 1.0 and ranking.found == ranking.total == 1
    en = rankings[0]
    retrieved = [as_chunk(d) for d in store.similarity_search(QUALITY_SET[0]["question"], k=100)]
    assert [c.source for c, g in zip(retrieved, en.gains, strict=True) if g] == ["returns.md"]
    assert "decoy.md" in [c.source for c in retrieved]


def test_quality_metrics_agree_with_assistant_eval(quality_setup, tmp_path: Path) -> None:
    settings, _ = quality_setup
    kb = conftest.write_corpus(tmp_path / "kb")
    index = quality.index_knowledge_base(kb, settings)
    report = evaluate(EvalRequest(_quality_set(tmp_path / "set.jsonl"), ["hybrid", "dense"], index), settings)

    ours = quality.rankings_from_report(report)

    for mode, rankings in ours.items():
        mine, theirs = quality.ranking_metrics(rankings), report["modes"][mode]["overall"]
        assert mine == {"questions": theirs["ranked"]} | {k: theirs[k] for k in quality.METRICS}
    assert report["modes"]["hybrid"]["overall"]["ranked"] == 4


def test_quality_vs_langchain_end_to_end_with_fake_models(quality_setup, tmp_path: Path, capsys) -> None:
    settings, lc = quality_setup
    kb = conftest.write_corpus(tmp_path / "kb")
    eval_set, dataset = _quality_set(tmp_path / "set.jsonl"), _tiny_beir(tmp_path / "tiny-th")
    out = tmp_path / "quality.json"

    assert quality.main([str(eval_set), str(dataset), "--kb", str(kb), "--json", str(out)], settings) == 0

    table = capsys.readouterr().out
    assert "| set | slice | pipeline | questions | hit@1 | hit@5 | MRR@10 | nDCG@10 | recall@100 |" in table
    for target in ("set.jsonl", "tiny-th"):
        for pipeline in ("ours (hybrid)", "ours (dense)", "LangChain"):
            assert re.search(rf"\| {target} \| all \| {re.escape(pipeline)} \| [24] \|", table), (target, pipeline)
    assert re.search(r"\| set.jsonl \| cross-lingual \| LangChain \| 1 \|", table)
    assert re.search(r"ours \(hybrid\) nDCG@10 at or above LangChain on \d of 7 sets and slices", table)
    first, beir_run = json.loads(out.read_text(encoding="utf-8"))["targets"]
    assert first["slices"] == {"all": 4, "cross-lingual": 1, "en": 1, "fi": 1, "pl": 1, "th": 1}
    assert beir_run["slices"] == {"all": 2}
    for run in (first, beir_run):
        assert set(run["metrics"]) == {"ours (hybrid)", "ours (dense)", "LangChain"}
        # Every chunk of these tiny corpora is within the top 100, and every quote/qrel is found on both sides.
        assert all(m["all"]["recall@100"] == 1.0 for m in run["metrics"].values())
        assert all(0 < m["all"]["ndcg@10"] <= 1 for m in run["metrics"].values())
    assert lc.documents > 0 and any("store built" in n for n in first["notes"])

    # A second run reuses the cached LangChain stores: nothing is embedded as a document again.
    embedded = lc.documents
    assert quality.main([str(eval_set), str(dataset), "--kb", str(kb), "--json", str(out)], settings) == 0
    assert lc.documents == embedded
    assert all(any("store loaded" in n for n in t["notes"]) for t in json.loads(out.read_text("utf-8"))["targets"])


def _parallel_beir(folder: Path, questions: dict[str, str], passages: dict[str, str]) -> Path:
    (folder / "qrels").mkdir(parents=True)
    corpus = [{"_id": pid, "title": "", "text": text} for pid, text in passages.items()]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus) + "\n", encoding="utf-8")
    queries = [{"_id": qid, "text": text} for qid, text in questions.items()]
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in queries) + "\n", encoding="utf-8")
    pairs = zip(questions, passages, strict=True)
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{p}\t1\n" for q, p in pairs), encoding="utf-8"
    )
    return folder


def test_cross_lingual_pair_asks_one_sets_questions_against_the_others_passages(tmp_path: Path) -> None:
    from benchmarks.cross_lingual_pairs import pair_folder
    from eval.beir import BeirError, load_beir

    thai = _parallel_beir(tmp_path / "th", {"q1": "คืนเงินกี่วัน", "q2": "ส่งของกี่วัน"}, {"t1": "คืนเงิน 14 วัน", "t2": "ส่ง 3 วัน"})
    english = _parallel_beir(
        tmp_path / "en", {"q1": "Refund days?", "q2": "Delivery days?"}, {"e1": "Refund 14 days", "e2": "3 days"}
    )
    folder, kept, dropped = pair_folder(thai, english, tmp_path / "pairs")
    pair = load_beir(folder)
    assert (kept, dropped) == (2, 0)
    assert pair.queries == {"q1": "คืนเงินกี่วัน", "q2": "ส่งของกี่วัน"}
    assert pair.qrels == {"q1": {"e1": 1}, "q2": {"e2": 1}}
    assert (pair.corpus).read_text(encoding="utf-8") == (english / "corpus.jsonl").read_text(encoding="utf-8")

    # A question only one side has is left out; sets that barely overlap are refused.
    partial = _parallel_beir(tmp_path / "th1", {"q2": "ส่งของกี่วัน"}, {"t2": "ส่ง 3 วัน"})
    assert load_beir(pair_folder(partial, english, tmp_path / "pairs")[0]).qrels == {"q2": {"e2": 1}}
    other = _parallel_beir(tmp_path / "pl", {"x9": "Ile dni?"}, {"p1": "14 dni"})
    with pytest.raises(BeirError, match="not parallel"):
        pair_folder(other, english, tmp_path / "pairs")


def test_length_batching_counts_the_padding_each_order_costs() -> None:
    from benchmarks.length_batching import padded_tokens

    # Two batches of two: in document order each batch pads a 10-token text to 200 tokens.
    assert padded_tokens([10, 200, 10, 200], 2) == 800
    assert padded_tokens([200, 200, 10, 10], 2) == 420
    assert padded_tokens([5, 7, 3], 2) == 2 * 7 + 3


def test_web_sync_speed_rows_on_a_small_site(tmp_path: Path) -> None:
    from benchmarks.web_sync_speed import measure, render

    embedder = FakeEmbedder("fake-web")
    rows = measure(40, Setup(embedder, {}, "fake"), SyncOptions(), tmp_path)
    first, unchanged, changed = rows
    assert first.changed == 40 and first.embedded == first.chunks > 0
    # Unchanged: every page (and the sitemap) answered 304, nothing parsed or embedded.
    assert unchanged.changed == 0 and unchanged.embedded == 0 and unchanged.not_modified == 41
    assert changed.changed == 1 and 0 < changed.embedded < first.embedded
    assert "Target: unchanged re-crawl of 40 pages" in render(rows, 40)


def test_followup_latency_runs_on_a_tiny_conversation_set(tmp_path: Path, monkeypatch, capsys) -> None:
    import sys

    import benchmarks.followup_latency as followup_latency
    from ingest.embedding_cache import EmbeddingCache
    from ingest.store.layout import IndexStore
    from ingest.sync import sync_folder

    fake = fakes.FakeEmbedder()
    monkeypatch.setattr(components, "build_embedder", lambda settings: fake)
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    sync_folder(conftest.write_corpus(tmp_path / "kb"), IndexStore(tmp_path / "index"), fake, cache)
    cache.close()
    dialogue = {
        "id": "d1",
        "lang": "en",
        "turns": [
            {
                "question": "How many days do I have to return an item?",
                "relevant": [{"source": "returns.md", "quote": "30 days"}],
            },
            {"question": "and if it arrived damaged?", "relevant": [{"source": "returns.md", "quote": "send a photo"}]},
        ],
    }
    conversations = tmp_path / "conversations.jsonl"
    conversations.write_text(json.dumps(dialogue) + "\n", encoding="utf-8")
    monkeypatch.setattr(
        sys, "argv", ["followup_latency", "--index", str(tmp_path / "index"), "--set", str(conversations)]
    )
    followup_latency.main()
    out = capsys.readouterr().out
    assert "1 later turns" in out and "(1 resolved as follow-ups)" in out
    assert "| **added by resolution, the 1 follow-ups** |" in out and "one query embedding (p50):" in out


def test_qdrant_vs_faiss_gives_the_same_quality_and_neighbours_on_tiny_inputs(quality_setup, tmp_path: Path) -> None:
    import benchmarks.qdrant_vs_faiss as qdrant_vs_faiss

    settings, _ = quality_setup
    found = qdrant_vs_faiss.quality(_tiny_beir(tmp_path / "tiny-th"), None, settings)
    for mode in qdrant_vs_faiss.MODES:
        faiss, qdrant = found["faiss"][mode], found["qdrant"][mode]
        assert faiss["ranked_ids"] == qdrant["ranked_ids"] and len(faiss["ranked_ids"]) == 2
        assert qdrant["ndcg@10"] == pytest.approx(faiss["ndcg@10"]) and faiss["ndcg@10"] > 0
    assert {p.name.endswith("-qdrant") for p in (settings.cache_dir / "beir").iterdir()} == {True, False}
    rows = qdrant_vs_faiss.latency([300], 16, 5, tmp_path / "latency")
    assert [(r["backend"], r["filter"]) for r in rows] == [
        ("faiss", "all"),
        ("faiss", "10%"),
        ("qdrant local", "all"),
        ("qdrant local", "10%"),
    ]
    assert all(r["agree"] == 1.0 and r["p50"] > 0 for r in rows)


def test_suggest_latency_compares_a_ticket_with_one_ask(tmp_path: Path, monkeypatch, capsys) -> None:
    import sys

    import benchmarks.suggest_latency as suggest_latency
    from ingest.embedding_cache import EmbeddingCache
    from ingest.store.layout import IndexStore
    from ingest.sync import sync_folder

    fake = fakes.FakeEmbedder()
    monkeypatch.setattr(components, "build_embedder", lambda settings: fake)
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    sync_folder(conftest.write_corpus(tmp_path / "kb"), IndexStore(tmp_path / "index"), fake, cache)
    cache.close()
    monkeypatch.setattr(suggest_latency, "TICKETS", suggest_latency.TICKETS[:1])
    monkeypatch.setattr(
        sys,
        "argv",
        ["suggest_latency", "--index", str(tmp_path / "index"), "--rounds", "1"],
    )
    suggest_latency.main()
    out = capsys.readouterr().out
    assert "1 five-message tickets in four languages, 3 questions found (3-3 per ticket), 1 rounds" in out
    assert "| one /v1/ask |" in out and "| /v1/suggest, one five-message ticket |" in out
    assert "/ one /v1/ask (p50):" in out and "(target at most 3x)" in out


def test_index_footprint_counts_what_the_index_holds(service, store, capsys, monkeypatch) -> None:
    """The sizing inputs of deploy/README.md: passages, sentences and bytes per passage of a built index."""
    import sys

    from benchmarks import index_footprint

    loaded = store.load()
    row = index_footprint.footprint(store.root, rss_bytes=1000 * len(loaded.chunks))
    assert row["passages"] == len(loaded.chunks) > 0
    assert row["sentences"] == sum(len(loaded.sentences.of(i)[0]) for i in loaded.chunks) > row["passages"]
    chunk_bytes = sum(store.segments.joinpath(s.name, "chunks.jsonl").stat().st_size for s in loaded.manifest.segments)
    assert row["bytes_per_passage"]["chunks.jsonl"] == round(chunk_bytes / row["passages"])
    assert set(row["bytes_per_passage"]) >= {"passage_vectors.npy", "sentence_vectors.npy", "manifest.json"}
    assert row["rss_bytes_per_passage"] == 1000
    cost = index_footprint.load_cost(store.root)
    assert cost["passages"] == row["passages"] and cost["rss_bytes"] >= 0

    monkeypatch.setattr(sys, "argv", ["index_footprint", str(store.root), str(store.root.parent / "nothing")])
    index_footprint.main()
    out = capsys.readouterr().out
    assert f"| {store.root} | {row['passages']:,} | {row['sentences']:,} |" in out
    assert "nothing | no published version, skipped" in out


def test_ann_scale_distractors_join_the_corpus_once_and_never_duplicate_a_passage_or_query(tmp_path: Path) -> None:
    import sqlite3

    import numpy as np

    from benchmarks.ann_scale import cache_vectors, with_distractors

    rows = np.eye(6, dtype=np.float32)
    db = sqlite3.connect(tmp_path / "embeddings.sqlite")
    db.execute("CREATE TABLE vectors (key TEXT PRIMARY KEY, vector BLOB)")
    db.executemany("INSERT INTO vectors VALUES (?, ?)", [(str(i), r.tobytes()) for i, r in enumerate(rows)])
    db.execute("INSERT INTO vectors VALUES ('narrow', ?)", (np.ones(3, dtype=np.float32).tobytes(),))
    db.commit()
    db.close()
    others = cache_vectors(tmp_path / "embeddings.sqlite", 6)
    assert others.shape == (6, 6)  # the vector of another width is left out
    corpus = with_distractors(rows[:2], rows[2:3], others)
    assert corpus[:2].tolist() == rows[:2].tolist()  # the passages keep their rows (their ids) first
    assert sorted(map(tuple, corpus[2:].tolist())) == sorted(map(tuple, rows[3:].tolist()))


def _question(dense_top: float, coverage: float, *, answerable=True, negative=False, withheld=False) -> dict:
    """An eval report question whose only signal above the null is the best passage's similarity."""
    null = {"dense_top": 0.2, "dense_margin": 0.0, "sentence_top": 0.2, "coverage": 0.0}
    spread = {"dense_top": 0.1, "dense_margin": 0.1, "sentence_top": 0.1, "coverage": 0.1}
    evidence = {"dense_top": dense_top, "dense_margin": 0.0, "sentence_top": 0.2, "coverage": coverage}
    return {"evidence": evidence, "null_mean": null, "null_std": spread, "answerable": answerable,
            "negative": negative, "withheld": withheld, "recall_total": 1 if answerable else 0}  # fmt: skip


def test_abstention_ceiling_replays_the_rule_and_finds_the_oracle_threshold() -> None:
    from benchmarks.abstention_ceiling import PRODUCT_WEIGHTS, auc, gap, groups, per_set

    # Confidence = 0.5 * (dense_top - 0.2) / 0.1 + 2 * coverage: answerable 3.5-6.5, withheld 1.0 and 4.5.
    questions = [_question(t, 0.0) for t in (0.9, 1.1, 1.3, 1.5)]
    questions += [
        _question(0.4, 0.0, answerable=False, withheld=True),
        _question(0.9, 0.5, answerable=False, withheld=True),
    ]
    questions.append(_question(0.2, 0.0, answerable=False, negative=True))
    sets = groups({"modes": {"hybrid": {"questions": questions}}})
    assert {k: len(v) for k, v in sets.items()} == {"answerable": 4, "negatives": 1, "unanswerable": 0, "withheld": 2}
    assert (sets["answerable"] @ PRODUCT_WEIGHTS).tolist() == pytest.approx([3.5, 4.5, 5.5, 6.5])
    assert (sets["withheld"] @ PRODUCT_WEIGHTS).tolist() == pytest.approx([1.0, 4.5])
    # 4.5 ties one answerable question: pairs 8, outscored 6, one tie -> (6 + 0.5) / 8.
    assert auc(sets["answerable"] @ PRODUCT_WEIGHTS, sets["withheld"] @ PRODUCT_WEIGHTS) == pytest.approx(6.5 / 8)
    # At 2.75 the rule answers every answerable question and refuses the withheld one scoring 1.0.
    assert per_set("tiny", sets, 2.75).startswith("| tiny | 2 | 0.500 | 0.000 | 0.812 |")
    # The 5% quantile of answerable scores (3.65) allows refusing below it; 90% of withheld (4.15) is above it.
    assert gap(PRODUCT_WEIGHTS, {"tiny": sets}, ("negatives", "withheld")) == pytest.approx(3.65 - 4.15)
    assert gap(PRODUCT_WEIGHTS, {"tiny": sets}, ("negatives",)) == pytest.approx(3.65 - 0.0)
