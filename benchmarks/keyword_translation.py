"""Dictionary-translated keyword search (FreeDict) on and off, per language pair of question and answering document.

A question's pair is its language -> the languages of the documents that answer it; it is
same-language when one of them is in its language. The cross-lingual questions are split by the
parity of their id's number: the even ones were used to design the feature, the odd ones are held out.

Usage: .venv/bin/python -m benchmarks.keyword_translation eval/sets/demo.jsonl --index DIR [--weight W ...]
Prints a Markdown table per variant (off, then on with each weight) and writes the raw rows as JSON with --json.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant import dictionary
from assistant.components import build_store
from assistant.settings import Settings
from eval import metrics
from eval.sets import load_eval_set
from eval.workbench import EvalRequest, evaluate
from ingest.analyzer import content_words

METRICS = ("hit@5", "ndcg@10", "answer_hit", "false_abstention", "no_answer_accuracy")


def source_languages(index_dir: Path, settings: Settings) -> dict[str, str]:
    """Each document's language: the one most of its passages are in."""
    index = build_store(settings, index_dir).load()
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    for chunk in index.chunks.values():
        votes[chunk.source][chunk.language] += 1
    return {source: counts.most_common(1)[0][0] for source, counts in votes.items()}


def pair_of(item: dict[str, Any], languages: dict[str, str]) -> str:
    """'fi->en', 'fi->en+fi' is same-language 'fi', unanswerable questions 'fi (none)'."""
    lang = item["lang"]
    answering = sorted({languages[r["source"]] for r in item["relevant"] if r["source"] in languages})
    if not answering:
        return f"{lang} (unanswerable)"
    return lang if lang in answering else f"{lang}->{'+'.join(answering)}"


def held_out(question_id: str) -> bool:
    digits = "".join(c for c in question_id if c.isdigit())
    return bool(digits) and int(digits) % 2 == 1


def row(records: Sequence[dict[str, Any]]) -> dict[str, float | int | None]:
    """The metrics of a group of per-question records from the eval --json output."""
    answerable = [r for r in records if r["answerable"]]
    gains = []
    ndcgs = []
    for r in answerable:
        g = [0.0] * 10
        for rank, gain in r["relevant_ranks"]:
            if rank <= 10:
                g[rank - 1] = gain
        gains.append(g)
        ndcgs.append(metrics.ndcg_at_k(g, r["ideal_gains"], 10))
    unanswerable = [r for r in records if not r["answerable"]]
    return {
        "n": len(records),
        "hit@5": metrics.mean([metrics.hit_at_k(g, 5) for g in gains]),
        "ndcg@10": metrics.mean(ndcgs),
        "answer_hit": metrics.share([bool(r["answer_hit"]) for r in answerable]),
        "false_abstention": metrics.share([not r["found"] for r in answerable]),
        "no_answer_accuracy": metrics.share([not r["found"] for r in unanswerable]),
    }


def table(groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [{"group": name, **row(records)} for name, records in groups.items() if records]


def grouped(report: dict[str, Any], items: dict[str, dict[str, Any]], languages: dict[str, str]) -> dict[str, list]:
    """Per pair (all, design, held-out), same-language overall and cross-lingual overall."""
    questions = report["modes"]["hybrid"]["questions"]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in questions:
        pair = pair_of(items[record["id"]], languages)
        record = {**record, "answerable": items[record["id"]]["answerable"]}
        if "->" in pair:
            groups[pair].append(record)
            split = "cross-lingual, held out (odd)" if held_out(record["id"]) else "cross-lingual, design (even)"
            groups[split].append(record)
            groups["cross-lingual, all"].append(record)
        elif "unanswerable" in pair:
            groups["unanswerable"].append(record)
        else:
            groups[f"{pair} (same language)"].append(record)
            groups["same-language, all"].append(record)
    return dict(sorted(groups.items()))


def markdown(rows: list[dict[str, Any]], title: str) -> str:
    lines = [f"### {title}", "", "| group | n | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 2) + "|"]
    for r in rows:
        cells = ["–" if r[m] is None else f"{r[m]:.3f}" for m in METRICS]
        lines.append(f"| {r['group']} | {r['n']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def lookup_coverage(items: Sequence[dict[str, Any]], translator: dictionary.QueryTranslator) -> list[str]:
    """Share of the questions' words that find a headword (exact, same stem, prefix) per dictionary, and
    for fi<->pl the terms of the direct dictionary against pivoting through English."""
    lines = ["| dictionary | words | exact | + same stem | + prefix |", "|---|---|---|---|---|"]
    for source, target in (("fi", "en"), ("pl", "en"), ("en", "fi"), ("en", "pl"), ("fi", "pl"), ("pl", "fi")):
        book = translator.dictionary(source, target)
        if book is None:
            continue
        words = [w for i in items if i["lang"] == source for w in content_words(i["question"], source)]
        kinds = Counter(book.lookup(w)[0] for w in words if not w.isdigit())
        total = max(sum(kinds.values()), 1)
        cumulative = (kinds["exact"], kinds["exact"] + kinds["stem"], total - kinds[None])
        lines.append(f"| {source}->{target} | {total} | " + " | ".join(f"{n / total:.2f}" for n in cumulative) + " |")
    lines += ["", "| pair | questions | terms direct | terms via en | shared |", "|---|---|---|---|---|"]
    for source, target in (("fi", "pl"), ("pl", "fi")):
        questions = [i["question"] for i in items if i["lang"] == source]
        direct = [set(translator.terms(q, source, target)) for q in questions]
        pivot = [set(pivot_terms(translator, q, source, target)) for q in questions]
        shared = [d & p for d, p in zip(direct, pivot, strict=True)]
        sizes = " | ".join(f"{mean_size(x):.1f}" for x in (direct, pivot, shared))
        lines.append(f"| {source}->{target} | {len(questions)} | {sizes} |")
    return lines


def pivot_terms(translator: dictionary.QueryTranslator, question: str, source: str, target: str) -> list[str]:
    """`source` -> English -> `target`: the English translations of the question's words, translated again."""
    book = translator.dictionary(source, "en")
    if book is None:
        return []
    words = content_words(question, source)
    english = ", ".join(t for w in words for t in book.translate(w, dictionary.TRANSLATIONS_PER_WORD))
    return translator.terms(english, "en", target)


def mean_size(sets: Sequence[set[str]]) -> float:
    return sum(len(s) for s in sets) / max(len(sets), 1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("eval_set", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--weight", type=float, action="append", help="translated_keyword_weight values to try")
    parser.add_argument("--per-word", type=int, default=dictionary.TRANSLATIONS_PER_WORD)
    parser.add_argument("--json", type=Path, help="write every variant's rows here")
    parser.add_argument("--lookups", action="store_true", help="only print how question words find headwords")
    args = parser.parse_args(argv)
    base = Settings()
    items = {item["id"]: item for item in (json.loads(line) for line in args.eval_set.read_text().splitlines() if line)}
    if args.lookups:
        print("\n".join(lookup_coverage(list(items.values()), dictionary.QueryTranslator(base.dictionary_dir))))
        return
    load_eval_set(args.eval_set)  # refuses a malformed set with the harness's own error
    languages = source_languages(args.index, base)
    dictionary.TRANSLATIONS_PER_WORD = args.per_word
    variants: list[tuple[str, Settings]] = [("off", base.model_copy(update={"keyword_translation": False}))]
    for weight in args.weight or [base.translated_keyword_weight]:
        update = {"keyword_translation": True, "translated_keyword_weight": weight}
        variants.append((f"on, weight {weight}, {args.per_word} per word", base.model_copy(update=update)))
    out = {}
    for name, settings in variants:
        report = evaluate(EvalRequest(args.eval_set, index_dir=args.index), settings)
        rows = table(grouped(report, items, languages))
        out[name] = rows
        print(markdown(rows, name), end="\n\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
