"""Cross-lingual BEIR folders from parallel datasets: one dataset's questions against another's corpus.

XQuAD's Thai and English sets translate each other with the same question ids, so the Thai questions
judged against the English paragraphs (and the reverse) measure the case of an agent asking in one
language about a document written in another, on 1,190 public questions instead of the demo set's 36.
The new folder links to the two datasets' queries and corpus; only the judgements are rewritten, for
the questions both sets have.

Usage: .venv/bin/python -m benchmarks.cross_lingual_pairs QUESTIONS_DIR CORPUS_DIR [--out DIR]
Prints the folder, which `assistant eval` and `benchmarks.quality_vs_langchain` take like any BEIR folder.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from assistant.settings import Settings
from eval.beir import QRELS, BeirError, is_beir_folder, load_beir, load_qrels


def pair_folder(questions: Path, corpus: Path, out: Path) -> tuple[Path, int, int]:
    """`out/<questions>-questions-on-<corpus>`: queries of `questions`, corpus and qrels of `corpus`.

    Only questions present in both datasets are judged (XQuAD th lacks 4 of the English ones).
    Returns (folder, questions judged, questions dropped).
    """
    for folder in (questions, corpus):
        if not is_beir_folder(folder):
            raise BeirError(f"{folder} is not a BEIR folder (needs corpus.jsonl, queries.jsonl and {QRELS})")
    judged = load_qrels(corpus / QRELS)
    asked = load_beir(questions).queries
    shared = [q for q in judged if q in asked]
    if len(shared) < len(judged) / 2:
        raise BeirError(
            f"only {len(shared)} of {len(judged)} questions judged in {corpus.name} are in {questions.name}: "
            "the two datasets are not parallel"
        )
    target = out / f"{questions.name}-questions-on-{corpus.name}"
    (target / QRELS).parent.mkdir(parents=True, exist_ok=True)
    for link, source in (
        (target / "queries.jsonl", questions / "queries.jsonl"),
        (target / "corpus.jsonl", corpus / "corpus.jsonl"),
    ):
        link.unlink(missing_ok=True)
        link.symlink_to(source.resolve())
    rows = "".join(f"{q}\t{doc}\t{grade}\n" for q in shared for doc, grade in judged[q].items())
    (target / QRELS).write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
    return target, len(shared), len(judged) - len(shared)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path, help="BEIR folder whose questions are asked")
    parser.add_argument("corpus", type=Path, help="BEIR folder whose corpus and judgements are used")
    parser.add_argument("--out", type=Path, help="where to create the folder (default <cache_dir>/crosslingual)")
    args = parser.parse_args(argv)
    folder, kept, dropped = pair_folder(args.questions, args.corpus, args.out or Settings().cache_dir / "crosslingual")
    print(f"{folder} ({kept} questions judged; {dropped} not asked in {args.questions.name})")


if __name__ == "__main__":
    main()
