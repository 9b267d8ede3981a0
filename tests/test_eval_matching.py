"""Quote matching rules, the entry matching behind graded gains, and eval-set validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.judges import QrelsJudge, Question, QuoteJudge
from eval.matching import EntryMatching, ideal_count, matched_entries, source_matches
from eval.sets import EvalItem, EvalSetError, Relevant, load_eval_set
from ingest.documents import Chunk


def chunk(source: str, text: str, n: int = 0) -> Chunk:
    return Chunk(f"{source}-{n}", source, text, 0, len(text), None, None, None, "en", n)


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("policies/returns-policy.md", True),
        ("returns-policy.md", True),
        ("returns-policy", True),
        ("returns", False),
        ("policies/returns-policy", False),
        ("other/returns-policy.md", False),
        ("returns-policy.pdf", False),
    ],
)
def test_source_matches_by_path_name_or_stem(wanted: str, expected: bool) -> None:
    assert source_matches("policies/returns-policy.md", wanted) is expected


def test_quotes_match_ignoring_case_and_all_whitespace() -> None:
    text = "You can return any item\nwithin 30 days of delivery.\n\nThe item must be unused."
    relevant = [
        Relevant("returns.md", "WITHIN 30\n  days of   DELIVERY"),
        Relevant("returns", "withi n30days"),
        Relevant("returns.md", "within 31 days"),
        Relevant("toimitus.md", "within 30 days"),
    ]
    assert matched_entries("returns.md", text, relevant) == {0, 1}
    thai = "ในช่วงเทศกาลสงกรานต์ การจัดส่งอาจล่าช้า"
    assert matched_entries("songkran.md", thai, [Relevant("songkran", "สงกรานต์การจัดส่ง")]) == {0}


def test_entry_matching_counts_each_entry_once_and_reassigns() -> None:
    matching = EntryMatching()
    assert matching.add(frozenset({0, 1}))
    # Only entry 0: the first passage moves to entry 1, so this one counts too.
    assert matching.add(frozenset({0}))
    assert not matching.add(frozenset({1}))
    assert matching.size == 2
    relevant = [Relevant("a.md", "alpha"), Relevant("a.md", "beta"), Relevant("a.md", "not there")]
    passages = [("a.md", "alpha beta"), ("a.md", "alpha again")]
    assert ideal_count(relevant, passages) == 3  # two matchable passages + one quote no passage holds


def test_quote_judge_gains_recall_and_missing_quotes() -> None:
    item = EvalItem("q", "?", "en", True, (Relevant("a.md", "alpha"), Relevant("b.md", "lost quote")))
    index = [chunk("a.md", "alpha one", 0), chunk("a.md", "alpha two", 1), chunk("b.md", "something", 2)]
    judge = QuoteJudge([item], index)
    question = Question("q", "?")
    judged = judge.rank(question, [index[2], index[0], index[1]], 100)
    assert [i.gain for i in judged.items] == [0.0, 1.0, 0.0]
    assert judged.ideal == [1.0, 1.0] and (judged.found, judged.total) == (1, 2)
    assert judged.notes and "lost quote" in judged.notes[0]
    assert judge.relevant(question, index[1]) and not judge.relevant(question, index[2])


def test_qrels_judge_ranks_documents_by_their_best_passage() -> None:
    judge = QrelsJudge({"q": {"d1": 2, "d2": 0, "d3": 1}}, lambda source: source.removesuffix(".txt"))
    ranked = [chunk("d2.txt", "x", 0), chunk("d1.txt", "y", 1), chunk("d2.txt", "z", 2), chunk("d3.txt", "w", 3)]
    judged = judge.rank(Question("q", "?"), ranked, 100)
    assert [(i.key, i.gain) for i in judged.items] == [("d2", 0.0), ("d1", 2.0), ("d3", 1.0)]
    assert judged.ideal == [2.0, 1.0] and (judged.found, judged.total) == (2, 2)


def write_lines(path: Path, lines: list[object]) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines), encoding="utf-8")
    return path


GOOD = {"id": "a", "question": "Q?", "lang": "en", "relevant": [{"source": "a.md", "quote": "x"}]}


def test_eval_set_loads_with_defaults(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "set.jsonl",
        [GOOD, "", {"id": "b", "question": "Nope?", "answerable": False, "relevant": []}],
    )
    items = load_eval_set(path)
    assert [i.id for i in items] == ["a", "b"]
    assert items[0].answerable and items[0].relevant == (Relevant("a.md", "x"),)
    assert items[1].lang is None and not items[1].answerable


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"id": "b", "question": ', "not valid JSON"),
        (["a list"], "JSON object"),
        ({"id": "b", "relevant": []}, '"question"'),
        ({**GOOD, "id": "b", "answerable": "yes"}, '"answerable"'),
        ({**GOOD, "id": "b", "relevant": [{"source": "a.md"}]}, '"relevant"[0]: "quote"'),
        ({**GOOD, "id": "b", "relevant": []}, "at least one"),
        ({**GOOD, "id": "b", "answerable": False}, "cannot list"),
        (GOOD, "duplicate id"),
    ],
)
def test_malformed_line_names_its_line_number(tmp_path: Path, bad: object, message: str) -> None:
    path = write_lines(tmp_path / "set.jsonl", [GOOD, bad])
    with pytest.raises(EvalSetError) as caught:
        load_eval_set(path)
    assert caught.value.line == 2
    assert f"{path}:2:" in str(caught.value) and message in str(caught.value)
