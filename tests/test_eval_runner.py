"""The eval workbench end to end on tiny inline data: runner, BEIR folders, and the `assistant eval` command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import assistant.components as components
from assistant.answer import ExtractiveAnswerer
from assistant.cli import EXIT_FAILED, EXIT_OK, EXIT_REGRESSED, main
from assistant.settings import Settings
from eval import beir
from eval.judges import QuoteJudge, eval_set_questions
from eval.runner import run_questions, without_query_cache
from eval.sets import EvalItem, Relevant
from eval.summary import summarize_mode
from eval.workbench import EvalRequest, evaluate
from tests.fakes import FakeEmbedder

ITEMS = [
    EvalItem("en-1", "return any item within days for a full refund", "en", True,
             (Relevant("returns", "within 30 days of delivery"),)),
    EvalItem("fi-1", "Postin noutopisteisiin toimitamme tilaukset", "fi", True,
             (Relevant("toimitus.md", "Toimitamme tilaukset Postin noutopisteisiin"),)),
    EvalItem("pl-1", "Fakturę VAT pobrać z konta klienta", "pl", True,
             (Relevant("platnosci.md", "Fakturę VAT można pobrać"),)),
    EvalItem("th-1", "การเก็บเงินปลายทาง ชำระเงินปลายทาง", "th", True,
             (Relevant("songkran.md", "ชำระเงินปลายทางได้"),)),
    EvalItem("en-2", "zebra giraffe volcano submarine", "en", False, ()),
]  # fmt: skip


def eval_set_file(path: Path) -> Path:
    rows = [
        {"id": i.id, "question": i.question, "lang": i.lang, "answerable": i.answerable,
         "relevant": [{"source": r.source, "quote": r.quote} for r in i.relevant]}
        for i in ITEMS
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def fake_model(monkeypatch, tmp_path: Path) -> Settings:
    """Settings whose embedding model is the FakeEmbedder, built through assistant.components."""
    monkeypatch.setattr(components, "SentenceTransformerEmbedder", lambda *a, **k: FakeEmbedder())
    return Settings(embedding_model="fake-embedder", cache_dir=tmp_path / "cache", min_dense_score=0.2)


def test_runner_scores_every_mode_through_the_service_retriever(service, store, embedder) -> None:
    retriever = without_query_cache(service.retriever(), embedder)
    judge = QuoteJudge(ITEMS, store.load().chunks.values())
    runs = run_questions(
        eval_set_questions(ITEMS), retriever, ExtractiveAnswerer(0.2), judge, ["dense", "bm25", "hybrid"]
    )
    assert list(runs) == ["dense", "bm25", "hybrid"]
    for mode, results in runs.items():
        assert [r.id for r in results] == [i.id for i in ITEMS]
        answerable = [r for r in results if r.answerable]
        assert all(r.first_relevant_rank == 1 for r in answerable), mode
        assert all(len(r.retrieved) <= 10 and all(len(x["text"]) <= 200 for x in r.retrieved) for r in results)
        assert all(r.search_ms > 0 and r.ask_ms > 0 for r in results)
        summary = summarize_mode(results)
        assert summary["overall"]["hit@1"] == 1.0 and summary["overall"]["ndcg@10"] == 1.0
        assert set(summary["per_language"]) == {"en", "fi", "pl", "th"}
    hybrid = {r.id: r for r in runs["hybrid"]}
    assert hybrid["en-1"].found and hybrid["en-1"].cited[0] == {"source": "returns.md", "relevant": True}
    assert hybrid["en-1"].best_dense_score is not None and hybrid["en-1"].abstention_score is not None
    # Calibration reads the answerer's own score: at its threshold, found == (score >= threshold).
    assert all(r.found == (r.abstention_score >= 0.2) for r in hybrid.values() if r.abstention_score is not None)
    # Without dense scores the answerer cannot vouch for any passage.
    assert not any(r.found for r in runs["bm25"])


def test_cli_eval_json_has_the_documented_shape(service, store, fake_model, tmp_path, capsys) -> None:
    path = eval_set_file(tmp_path / "set.jsonl")
    code = main(["eval", str(path), "--index", str(store.root), "--mode", "dense,bm25", "--mode", "hybrid", "--json"],
                settings=fake_model)  # fmt: skip
    assert code == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert {"target", "index_version", "model", "settings", "modes", "calibration", "created_at"} <= set(report)
    assert report["model"] == "fake-embedder" and report["settings"]["min_dense_score"] == 0.2
    assert list(report["modes"]) == ["dense", "bm25", "hybrid"]
    hybrid = report["modes"]["hybrid"]
    assert set(hybrid) == {"overall", "per_language", "answers", "negatives", "withheld", "questions"}
    assert len(hybrid["questions"]) == len(ITEMS)
    assert hybrid["overall"]["hit@5"] == 1.0
    assert set(report["calibration"]) == {"dense", "hybrid"}
    assert report["calibration"]["hybrid"]["suggested"]["balanced_accuracy"] is not None


def test_withheld_gold_questions_are_asked_without_their_passages(service, store, fake_model, tmp_path, capsys) -> None:
    """`--withhold N`: the first N answerable questions are asked again with the passages that answer them
    withheld; they must abstain, are reported apart, and leave every other metric as it was."""
    path = eval_set_file(tmp_path / "set.jsonl")
    args = ["eval", str(path), "--index", str(store.root), "--mode", "hybrid", "--json"]
    assert main(args, settings=fake_model) == EXIT_OK
    plain = json.loads(capsys.readouterr().out)["modes"]["hybrid"]
    assert plain["withheld"] is None
    html_path = tmp_path / "report.html"
    assert main([*args, "--withhold", "3", "--report", str(html_path)], settings=fake_model) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    html = html_path.read_text(encoding="utf-8")
    assert "<h3>Answers</h3>" in html and "answer_hit" in html and "withheld gold abstained (3)" in html
    assert report["settings"]["withhold"] == 3
    hybrid = report["modes"]["hybrid"]
    asked = [q for q in hybrid["questions"] if q["withheld"]]
    assert [q["id"] for q in asked] == ["withheld:en-1", "withheld:fi-1", "withheld:pl-1"]
    answering = {"withheld:en-1": "returns.md", "withheld:fi-1": "toimitus.md", "withheld:pl-1": "platnosci.md"}
    for q in asked:
        assert not q["answerable"]
        # Each of these documents has one answering passage; its other passages may still be found.
        gold = next(i.relevant[0].quote for i in ITEMS if f"withheld:{i.id}" == q["id"])
        assert all(gold not in r["text"] for r in q["retrieved"] if r["source"] == answering[q["id"]])
    abstained = sum(not q["found"] for q in asked) / len(asked)
    assert hybrid["withheld"]["questions"] == 3
    assert hybrid["withheld"]["abstained"] == pytest.approx(abstained, abs=1e-4)

    def untimed(metrics: dict) -> dict:
        return {k: v for k, v in metrics.items() if not k.endswith("_ms")}

    assert untimed(hybrid["overall"]) == untimed(plain["overall"])
    assert hybrid["answers"]["overall"] == plain["answers"]["overall"]


def test_cli_eval_html_report_is_self_contained(service, store, fake_model, tmp_path, capsys) -> None:
    path = eval_set_file(tmp_path / "set.jsonl")
    html_path = tmp_path / "report.html"
    assert main(["eval", str(path), "--index", str(store.root), "--report", str(html_path)], settings=fake_model) == 0
    html = html_path.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "<svg" in html and "<style>" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html)
    assert "<script" not in html
    assert "mode: hybrid" in capsys.readouterr().out


def test_cli_eval_baseline_exits_3_on_a_regression(service, store, fake_model, tmp_path, capsys) -> None:
    path = eval_set_file(tmp_path / "set.jsonl")
    args = ["eval", str(path), "--index", str(store.root), "--mode", "hybrid", "--json"]
    assert main(args, settings=fake_model) == EXIT_OK
    baseline = json.loads(capsys.readouterr().out)
    same = tmp_path / "same.json"
    same.write_text(json.dumps(baseline))
    assert main([*args, "--baseline", str(same)], settings=fake_model) == EXIT_OK
    capsys.readouterr()

    better = json.loads(json.dumps(baseline))
    better["modes"]["hybrid"]["overall"]["mrr@10"] = 1.0
    better["modes"]["hybrid"]["overall"]["false_abstention_rate"] = -0.5  # now "worse" by 0.5
    regressed = tmp_path / "better.json"
    regressed.write_text(json.dumps(better))
    html_path = tmp_path / "diff.html"
    code = main([*args, "--baseline", str(regressed), "--report", str(html_path)], settings=fake_model)
    assert code == EXIT_REGRESSED
    assert "false_abstention_rate" in capsys.readouterr().err
    assert "Change against the baseline" in html_path.read_text(encoding="utf-8")


def test_cli_eval_refuses_bad_targets(store, fake_model, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "question": "?", "relevant": []}\n')
    assert main(["eval", str(bad), "--index", str(store.root)], settings=fake_model) == EXIT_FAILED
    assert "bad.jsonl:1:" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nothing.txt")], settings=fake_model) == EXIT_FAILED
    assert main(["eval", str(bad), "--mode", "sparse"], settings=fake_model) == EXIT_FAILED
    good = eval_set_file(tmp_path / "set.jsonl")
    assert main(["eval", str(good), "--index", str(tmp_path / "no-index")], settings=fake_model) == EXIT_FAILED
    assert "no index" in capsys.readouterr().err


BEIR_DOCS = [
    {"_id": "d1", "title": "Returns", "text": "Customers may return unused items within thirty days for a refund."},
    {"_id": "d2", "title": "Shipping", "text": "Parcels to Finland arrive in two to four working days."},
    {"_id": "d3", "title": "", "text": "Gift cards are valid for twenty four months after purchase."},
    {"_id": "doc/4 odd id", "title": "Invoices", "text": "A VAT invoice can be downloaded from the customer account."},
    {"_id": "d5", "title": "Payments", "text": "We accept card payments, bank transfers and mobile wallets."},
]
BEIR_QUERIES = [
    {"_id": "q1", "text": "return unused items refund"},
    {"_id": "q2", "text": "download VAT invoice customer account"},
    {"_id": "q3", "text": "gift cards valid months"},
    {"_id": "q-unjudged", "text": "not in qrels"},
]


def beir_folder(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in BEIR_DOCS), encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in BEIR_QUERIES), encoding="utf-8")
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\tdoc/4 odd id\t2\nq2\td5\t0\nq3\td3\t1\n"
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


def test_beir_folder_is_indexed_through_sync_and_scored(fake_model, tmp_path) -> None:
    folder = beir_folder(tmp_path / "tinybeir")
    report = evaluate(EvalRequest(folder, ("dense", "bm25"), lang="en"), fake_model)
    for mode in ("dense", "bm25"):
        overall = report["modes"][mode]["overall"]
        assert overall["questions"] == 3 and overall["hit@1"] == 1.0 and overall["recall@100"] == 1.0
        assert set(report["modes"][mode]["per_language"]) == {"en"}
    first = report["modes"]["dense"]["questions"][1]
    assert first["retrieved"][0]["source"] == "doc/4 odd id" and first["retrieved"][0]["gain"] == 2.0
    built = list((fake_model.cache_dir / "beir").iterdir())
    assert len(built) == 1 and re.fullmatch(r"tinybeir-[0-9a-f]{12}-fake-embedder-200", built[0].name)
    assert "doc/4 odd id" in json.loads((built[0] / beir.IDS_FILE).read_text()).values()
    assert len(list((built[0] / "corpus").glob("*.txt"))) == 5

    again = evaluate(EvalRequest(folder, ("hybrid",), limit=2), fake_model)
    assert again["index_version"] == report["index_version"]  # reused, not rebuilt
    assert again["modes"]["hybrid"]["overall"]["questions"] == 2
