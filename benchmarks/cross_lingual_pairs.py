"""Cross-lingual BEIR folders from parallel datasets: one dataset's questions against another's corpus.

XQuAD's Thai and English sets translate each other with the same question ids, so the Thai questions
judged against the English paragraphs (and the reverse) measure the case of an agent asking in one
language about a document written in another, on 1,190 public questions instead of the demo set's 36.
The new folder holds symbolic links to the two datasets; nothing is copied.

Usage: .venv/bin/python -m benchmarks.cross_lingual_pairs QUESTIONS_DIR CORPUS_DIR [--out DIR]
Prints the folder, which `assistant eval` and `benchmarks.quality_vs_langchain` take like any BEIR folder.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from assistant.settings import Settings
from eval.beir import QRELS, BeirError, is_beir_folder, load_beir, load_qrels


def pair_folder(questions: Path, corpus: Path, out: Path) -> Path:
    """`out/<questions>-questions-on-<corpus>`: queries of `questions`, corpus and qrels of `corpus`."""
    for folder in (questions, corpus):
        if not is_beir_folder(folder):
            raise BeirError(f"{folder} is not a BEIR folder (needs corpus.jsonl, queries.jsonl and {QRELS})")
    judged = load_qrels(corpus / QRELS)
    asked = load_beir(questions).queries
    missing = [q for q in judged if q not in asked]
    if missing:
        raise BeirError(
            f"{len(missing)} of {len(judged)} questions judged in {corpus.name} are not in {questions.name} "
            f"(e.g. {missing[0]}): the two datasets are not parallel"
        )
    target = out / f"{questions.name}-questions-on-{corpus.name}"
    (target / QRELS).parent.mkdir(parents=True, exist_ok=True)
    for link, source in (
        (target / "queries.jsonl", questions / "queries.jsonl"),
        (target / "corpus.jsonl", corpus / "corpus.jsonl"),
        (target / QRELS, corpus / QRELS),
    ):
        link.unlink(missing_ok=True)
        link.symlink_to(source.resolve())
    return target


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path, help="BEIR folder whose questions are asked")
    parser.add_argument("corpus", type=Path, help="BEIR folder whose corpus and judgements are used")
    parser.add_argument("--out", type=Path, help="where to create the folder (default <cache_dir>/crosslingual)")
    args = parser.parse_args(argv)
    print(pair_folder(args.questions, args.corpus, args.out or Settings().cache_dir / "crosslingual"))


if __name__ == "__main__":
    main()
