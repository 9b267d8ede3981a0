"""Retrieval quality of our pipeline next to the plain LangChain pipeline with the same embedding model.

Usage: .venv/bin/python -m benchmarks.quality_vs_langchain TARGET [TARGET...] [--kb FOLDER] [--index DIR]
           [--mode hybrid,dense] [--limit N] [--json FILE]

A TARGET is a .jsonl eval set (its questions judged against --kb, default demo/knowledge_base) or a BEIR
folder (corpus.jsonl, queries.jsonl, qrels/test.tsv). Our side is exactly `assistant eval`
(eval.workbench.evaluate); the LangChain side is benchmarks.langchain_baseline, its FAISS store cached under
<cache_dir>/langchain per corpus hash and model, so only the first run embeds the corpus. Both sides are judged
by the same judges (eval.judges: quote matching for eval sets, documents ranked by their best chunk for BEIR)
and scored with eval.metrics. Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from langchain_community.vectorstores import FAISS
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import Embeddings

from assistant.components import build_cache, build_embedder, build_sync_options, embedder_identity
from assistant.retriever import Mode
from assistant.settings import Settings
from benchmarks.langchain_baseline import (
    DESCRIPTION,
    as_chunk,
    cached_store,
    corpus_documents,
    embed_queries,
    file_part,
    folder_digest,
    folder_documents,
    langchain_embeddings,
    store_chunks,
)
from benchmarks.machine import machine_info
from eval import beir, metrics
from eval.judges import Judge, QrelsJudge, Question, QuoteJudge, eval_set_questions
from eval.matching import matched_entries, source_matches
from eval.runner import SEARCH_K
from eval.sets import EvalItem, load_eval_set
from eval.workbench import EvalRequest, evaluate
from ingest.checksums import sha256_file
from ingest.documents import Chunk
from ingest.store.layout import IndexStore
from ingest.sync import sync_folder

LANGCHAIN = "LangChain"
METRICS = {"hit@1": "hit@1", "hit@5": "hit@5", "mrr@10": "MRR@10", "ndcg@10": "nDCG@10", "recall@100": "recall@100"}
CROSS_LINGUAL = "cross-lingual"


@dataclass
class Ranking:
    """One question's judged ranking: gains in rank order, the ideal gains, relevant items found and total."""

    id: str
    gains: list[float]
    ideal: list[float]
    found: int
    total: int


def ranking_metrics(rankings: Iterable[Ranking]) -> dict[str, Any]:
    """The ranking metrics of `assistant eval` (eval.summary), over the questions that have relevant items."""
    ranked = [r for r in rankings if r.total > 0]
    values = {
        "hit@1": metrics.mean([metrics.hit_at_k(r.gains, 1) for r in ranked]),
        "hit@5": metrics.mean([metrics.hit_at_k(r.gains, 5) for r in ranked]),
        "mrr@10": metrics.mean([metrics.reciprocal_rank(r.gains, 10) for r in ranked]),
        "ndcg@10": metrics.mean([metrics.ndcg_at_k(r.gains, r.ideal, 10) for r in ranked]),
        "recall@100": metrics.mean([metrics.recall(r.found, r.total) for r in ranked]),
    }
    return {"questions": len(ranked)} | {k: None if v is None else round(v, 4) for k, v in values.items()}


def rankings_from_report(report: Mapping[str, Any]) -> dict[str, list[Ranking]]:
    """Per mode, the rankings an `assistant eval --json` document holds (its relevant ranks rebuilt into gains)."""
    out: dict[str, list[Ranking]] = {}
    for mode, run in report["modes"].items():
        out[mode] = []
        for q in run["questions"]:
            gains = [0.0] * SEARCH_K
            for rank, gain in q["relevant_ranks"]:
                if rank <= SEARCH_K:
                    gains[rank - 1] = gain
            out[mode].append(Ranking(q["id"], gains, q["ideal_gains"], q["recall_found"], q["recall_total"]))
    return out


@dataclass
class Comparison:
    """One target: rankings per pipeline, question slices (name -> ids), passage counts and notes."""

    target: str
    slices: dict[str, set[str]]
    pipelines: dict[str, list[Ranking]]
    passages: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, dict[str, dict[str, Any]]]:
        """pipeline -> slice -> metrics."""
        return {
            name: {s: ranking_metrics(r for r in rankings if r.id in ids) for s, ids in self.slices.items()}
            for name, rankings in self.pipelines.items()
        }


def langchain_rankings(
    questions: Sequence[Question], store: FAISS, embeddings: Embeddings, judge: Judge, k: int
) -> tuple[list[Ranking], list[str]]:
    """Search the store for every question (k chunks) and judge the chunks with the eval's own judge."""
    out, notes = [], []
    vectors = embed_queries(embeddings, [q.text for q in questions])
    for question, vector in zip(questions, vectors, strict=True):
        chunks = [as_chunk(d, n) for n, d in enumerate(store.similarity_search_by_vector(vector, k=k))]
        judged = judge.rank(question, chunks, SEARCH_K)
        out.append(Ranking(question.id, [i.gain for i in judged.items], judged.ideal, judged.found, judged.total))
        notes += [f"{LANGCHAIN} {question.id}: {note}" for note in judged.notes]
    return out, notes


def index_knowledge_base(kb: Path, settings: Settings) -> Path:
    """Our index of `kb` under <cache_dir>/quality, kept in sync; the embedding cache makes re-runs cheap."""
    where = hashlib.sha256(str(kb.resolve()).encode()).hexdigest()[:8]
    embedder = build_embedder(settings)
    store = IndexStore(settings.cache_dir / "quality" / f"{file_part(kb.name)}-{where}-{file_part(embedder.model_id)}")
    cache = build_cache(settings)
    try:
        sync_folder(kb, store, embedder, cache, build_sync_options(settings))
    finally:
        cache.close()
    return store.root


def cross_lingual_ids(items: Sequence[EvalItem], lang_of: Mapping[str, str], chunks: Iterable[Chunk]) -> set[str]:
    """Questions asked in another language than every passage of our index that holds one of their quotes."""
    chunks = list(chunks)
    out = set()
    for item in items:
        holders = [c for c in chunks if matched_entries(c.source, c.text, item.relevant)]
        # A quote no passage holds: fall back to the language of the documents the entries name.
        holders = holders or [c for c in chunks if any(source_matches(c.source, r.source) for r in item.relevant)]
        languages = {c.language for c in holders}
        if languages and lang_of.get(item.id) not in languages:
            out.add(item.id)
    return out


def eval_set_slices(
    items: Sequence[EvalItem], report: Mapping[str, Any], chunks: Iterable[Chunk]
) -> dict[str, set[str]]:
    """all, cross-lingual and one slice per question language (as `assistant eval` detected or read it)."""
    first = next(iter(report["modes"].values()))["questions"]
    lang_of = {q["id"]: q["lang"] for q in first}
    slices = {"all": set(lang_of), CROSS_LINGUAL: cross_lingual_ids(items, lang_of, chunks)}
    for lang in sorted(set(lang_of.values())):
        slices[lang] = {i for i, v in lang_of.items() if v == lang}
    return slices


def ours(report: Mapping[str, Any]) -> dict[str, list[Ranking]]:
    return {f"ours ({mode})": rankings for mode, rankings in rankings_from_report(report).items()}


def compare_eval_set(
    path: Path, kb: Path, index_dir: Path | None, settings: Settings, modes: Sequence[Mode], limit: int | None
) -> Comparison:
    """Our `assistant eval` on an index of `kb` next to LangChain chunks of the same files, both quote-judged."""
    notes = []
    if index_dir is None:
        index_dir = index_knowledge_base(kb, settings)
    elif (manifest := IndexStore(index_dir).current_manifest()) and manifest.root != str(kb.resolve()):
        notes.append(f"--index was built from {manifest.root}, the LangChain store from {kb.resolve()}")
        print(f"warning: {notes[-1]}; the two sides do not see the same documents", file=sys.stderr)
    report = evaluate(EvalRequest(path, modes, index_dir, limit), settings)
    our_chunks = list(IndexStore(index_dir).load().chunks.values())
    items = load_eval_set(path)[: limit or None]
    embeddings = langchain_embeddings(settings)
    skipped: list[str] = []

    def docs() -> list[LCDocument]:
        loaded, failed = folder_documents(kb)
        skipped.extend(failed)
        return loaded

    store, how = cached_store(kb.name, folder_digest(kb), settings, embeddings, docs)
    lc_judge = QuoteJudge(items, store_chunks(store))
    lc, lc_notes = langchain_rankings(eval_set_questions(items), store, embeddings, lc_judge, SEARCH_K)
    return Comparison(
        str(path),
        eval_set_slices(items, report, our_chunks),
        ours(report) | {LANGCHAIN: lc},
        {"ours": len(our_chunks), LANGCHAIN: store.index.ntotal},
        notes + [how] + [f"{LANGCHAIN} skipped {s}" for s in skipped] + report["notes"] + lc_notes,
    )


def compare_beir(folder: Path, settings: Settings, modes: Sequence[Mode], limit: int | None) -> Comparison:
    """Our `assistant eval` on a BEIR folder next to LangChain, documents ranked by their best chunk on both sides."""
    report = evaluate(EvalRequest(folder, modes, None, limit), settings)
    dataset = beir.load_beir(folder, limit)
    questions = beir.questions(dataset)
    embeddings = langchain_embeddings(settings)
    corpus = dataset.corpus
    store, how = cached_store(dataset.name, sha256_file(corpus), settings, embeddings, lambda: corpus_documents(corpus))
    documents = len({c.source for c in store_chunks(store)})
    # As eval.beir.chunks_to_search: enough chunks that about DOCS_PER_QUERY documents remain.
    k = min(1000, max(200, beir.DOCS_PER_QUERY * math.ceil(store.index.ntotal / max(documents, 1))))
    lc, _ = langchain_rankings(questions, store, embeddings, QrelsJudge(dataset.qrels, lambda s: s), k)
    # The folder `evaluate` built with its embedder, whose identity these settings give.
    built = beir.cache_folder(settings.cache_dir, dataset, embedder_identity(settings), settings.chunk_max_tokens)
    index = built / "index"
    manifest = IndexStore(index).current_manifest()
    return Comparison(
        str(folder),
        {"all": {q.id for q in questions}},
        ours(report) | {LANGCHAIN: lc},
        {"ours": manifest.chunk_count if manifest else 0, LANGCHAIN: store.index.ntotal},
        [how, f"chunks searched per query: ours {report['settings']['search_k']}, {LANGCHAIN} {k}"] + report["notes"],
    )


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def table(comparisons: Sequence[Comparison], slices: Callable[[Comparison], Iterable[str]]) -> list[str]:
    """Markdown rows: one per target, slice and pipeline, with nDCG@10 relative to LangChain's."""
    header = f"| set | slice | pipeline | questions | {' | '.join(METRICS.values())} | nDCG@10 vs {LANGCHAIN} |"
    lines = [header, "|---|---|---|" + "---:|" * 7]
    for comparison in comparisons:
        scores, target = comparison.metrics(), Path(comparison.target).name
        for name in slices(comparison):
            base = scores[LANGCHAIN][name]["ndcg@10"]
            for pipeline, by_slice in scores.items():
                row = by_slice[name]
                ndcg = row["ndcg@10"]
                delta = "" if pipeline == LANGCHAIN or None in (ndcg, base) else f"{ndcg - base:+.3f}"
                values = " | ".join(_cell(row[k]) for k in METRICS)
                lines.append(f"| {target} | {name} | {pipeline} | {row['questions']} | {values} | {delta} |")
    return lines


def verdict(comparisons: Sequence[Comparison]) -> str:
    """Where our first mode's nDCG@10 falls below LangChain's, over every set and slice."""
    below, rows, pipeline = [], 0, ""
    for comparison in comparisons:
        scores = comparison.metrics()
        pipeline = next(iter(scores))
        for name in comparison.slices:
            ours_, base = scores[pipeline][name]["ndcg@10"], scores[LANGCHAIN][name]["ndcg@10"]
            if ours_ is None or base is None:
                continue
            rows += 1
            if ours_ < base:
                below.append(f"{Path(comparison.target).name} {name} ({ours_ - base:+.3f})")
    where = f"; below on {', '.join(below)}" if below else ""
    return f"{pipeline} nDCG@10 at or above {LANGCHAIN} on {rows - len(below)} of {rows} sets and slices{where}."


def markdown(comparisons: Sequence[Comparison], machine: str, settings: Settings) -> str:
    out = [f"Machine: {machine}  ", f"Model: {embedder_identity(settings)}; baseline: {DESCRIPTION}", ""]
    out += table(comparisons, lambda c: ["all"])
    sliced = [c for c in comparisons if len(c.slices) > 1]
    if sliced:
        out += ["", "Slices (question language; cross-lingual = asked in another language than its answer):", ""]
        out += table(sliced, lambda c: [s for s in c.slices if s != "all"])
    for comparison in comparisons:
        counts = ", ".join(f"{k} {v}" for k, v in comparison.passages.items())
        out.append(f"\n{Path(comparison.target).name}: passages/chunks {counts}")
    out += ["", verdict(comparisons)]
    return "\n".join(out)


def to_json(comparisons: Sequence[Comparison], machine: str, settings: Settings) -> dict[str, Any]:
    return {
        "machine": machine,
        "model": embedder_identity(settings),
        "baseline": DESCRIPTION,
        "targets": [
            {
                "target": c.target,
                "slices": {name: len(ids) for name, ids in c.slices.items()},
                "metrics": c.metrics(),
                "passages": c.passages,
                "notes": c.notes,
            }
            for c in comparisons
        ],
    }


def main(argv: Sequence[str] | None = None, settings: Settings | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="+", type=Path, help=".jsonl eval sets and BEIR folders")
    parser.add_argument("--kb", type=Path, default=Path("demo/knowledge_base"), help="documents of the eval sets")
    parser.add_argument("--index", type=Path, help="our index of --kb (default: built under <cache_dir>/quality)")
    parser.add_argument("--mode", default="hybrid,dense", help="our modes, comma-separated (default hybrid,dense)")
    parser.add_argument("--limit", type=int, help="only the first N questions of each target (smoke runs)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args(argv)
    settings = settings or Settings()
    modes = [cast(Mode, m) for m in ("hybrid", "dense", "bm25") if m in args.mode.split(",")]
    if not modes or set(args.mode.split(",")) - set(modes):
        parser.error(f"--mode takes hybrid, dense, bm25; got {args.mode!r}")
    for target in args.targets:
        if not beir.is_beir_folder(target) and not (target.is_file() and target.suffix == ".jsonl"):
            parser.error(f"{target} is neither a .jsonl eval set nor a BEIR folder")
    comparisons = []
    for target in args.targets:
        print(f"{target}: ...", file=sys.stderr)
        if beir.is_beir_folder(target):
            comparisons.append(compare_beir(target, settings, modes, args.limit))
        else:
            comparisons.append(compare_eval_set(target, args.kb, args.index, settings, modes, args.limit))
    machine = machine_info()
    print(markdown(comparisons, machine, settings))
    if args.json:
        data = to_json(comparisons, machine, settings)
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
