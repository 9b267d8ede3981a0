"""Answer-level eval metrics (answer hit, highlight hit, cross-lingual split, negatives) on hand-computed cases."""

from __future__ import annotations

from assistant.answer import Answer, Citation
from assistant.retriever import Hit
from eval.judges import Question, QuoteJudge
from eval.matching import quote_span
from eval.runner import QuestionResult, _answer_hit, _highlight_hit
from eval.sets import EvalItem, Relevant
from eval.summary import answer_metrics, negatives_metrics, summarize_mode
from ingest.documents import Chunk

TEXT = "Palautusaika on 30 päivää. Palautus on maksuton.\nTakuu on kaksi vuotta."


def _chunk(text: str = TEXT, source: str = "palautus.md") -> Chunk:
    return Chunk("c1", source, text, 0, len(text), "Palautus", None, None, "fi", 0)


def test_quote_span_finds_the_quote_across_case_and_whitespace() -> None:
    assert quote_span(TEXT, "30   PÄIVÄÄ") == (16, 25)
    assert TEXT[slice(*quote_span(TEXT, "on maksuton.\nTakuu"))] == "on maksuton.\nTakuu"
    assert quote_span(TEXT, "90 päivää") is None


def _judge() -> tuple[QuoteJudge, Question]:
    item = EvalItem("pl-1", "Ile dni na zwrot?", "pl", True, (Relevant("palautus.md", "30 päivää"),))
    judge = QuoteJudge([item], [_chunk()])
    return judge, Question(item.id, item.question, "pl", True)


def _answer(highlight: tuple[int, int] | None, source: str = "palautus.md", found: bool = True) -> Answer:
    citations = [Citation(1, Hit(_chunk(source=source), 0.9), highlight)] if found else []
    return Answer("...", found, "pl", citations, [])


def test_highlight_hit_needs_the_highlight_to_overlap_the_gold_quote() -> None:
    judge, question = _judge()
    first_sentence = (0, 26)  # "Palautusaika on 30 päivää."
    last_sentence = (TEXT.index("Takuu"), len(TEXT))
    assert _highlight_hit(question, _answer(first_sentence), judge) is True
    assert _highlight_hit(question, _answer(last_sentence), judge) is False
    # Nothing relevant cited: the highlight cannot be judged; abstaining is not a highlight miss.
    assert _highlight_hit(question, _answer(first_sentence, source="other.md"), judge) is None
    assert _highlight_hit(question, _answer(None, found=False), judge) is None


def test_answer_hit_needs_an_answer_that_cites_a_passage_holding_the_gold() -> None:
    judge, question = _judge()
    assert _answer_hit(question, _answer((0, 26)), judge) is True
    assert _answer_hit(question, _answer((0, 26), source="other.md"), judge) is False
    assert _answer_hit(question, _answer(None, found=False), judge) is False
    unanswerable = Question("pl-2", "Czy macie bitcoin?", "pl", False)
    assert _answer_hit(unanswerable, _answer((0, 26)), judge) is None


def _result(qid: str, rank: int | None, found: bool, answer_hit: bool | None, highlight: bool | None,
            cross: bool | None, negative: bool = False, lang: str = "pl") -> QuestionResult:  # fmt: skip
    answerable = not negative
    return QuestionResult(
        id=qid, lang=lang, question=qid, answerable=answerable, expected=[], retrieved=[],
        relevant_ranks=[(rank, 1.0)] if rank else [], ideal_gains=[1.0] if answerable else [],
        recall_found=1 if rank else 0, recall_total=1 if answerable else 0, first_relevant_rank=rank,
        found=found, answer="", cited=[], best_dense_score=None, abstention_score=None, search_ms=1.0,
        ask_ms=2.0, cross_lingual=cross, answer_hit=answer_hit, highlight_hit=highlight, negative=negative,
    )  # fmt: skip


def test_answer_metrics_against_a_hand_computed_case() -> None:
    results = [
        _result("a", 1, True, True, True, False),
        _result("b", 2, True, True, False, True),
        _result("c", 4, False, False, None, True),  # false abstention
        _result("d", None, True, False, None, False),  # retrieval missed it (not in hit@5)
        _result("n1", None, False, None, None, None, negative=True, lang="th"),
        _result("n2", None, True, None, None, None, negative=True, lang="en"),
    ]
    overall = answer_metrics(results)
    assert overall["questions"] == 4
    assert overall["answer_hit"] == 0.5  # a, b
    assert overall["answer_hit_ratio"] == round(0.5 / 0.75, 4)  # hit@5 = 3 of 4
    assert overall["highlight_hit"] == 0.5 and overall["highlight_judged"] == 2
    assert overall["false_abstention_rate"] == 0.25
    cross = answer_metrics([r for r in results if r.cross_lingual])
    assert cross["answer_hit"] == 0.5 and cross["false_abstention_rate"] == 0.5
    negatives = negatives_metrics(results)
    assert negatives == {"questions": 2, "abstained": 0.5, "per_language": {"en": 0.0, "th": 1.0}}
    mode = summarize_mode(results)
    # Negatives never count as the set's own unanswerable questions.
    assert mode["overall"]["questions"] == 4 and mode["overall"]["unanswerable"] == 0
    assert mode["answers"]["same_language"]["questions"] == 2


def test_the_baseline_gate_guards_what_the_agent_sees() -> None:
    """A drop in answer hit, highlight hit or either refusal rate fails the gate like a retrieval drop."""
    from eval.compare import regressions

    def run(answer_hit: float, highlight: float, negatives: float, withheld: float | None) -> dict:
        hybrid = {
            "overall": {"ndcg@10": 0.9},
            "answers": {"overall": {"answer_hit": answer_hit, "highlight_hit": highlight}},
            "negatives": {"abstained": negatives},
            "withheld": None if withheld is None else {"abstained": withheld},
        }
        return {"modes": {"hybrid": hybrid}}

    baseline = run(0.90, 0.90, 0.99, 0.30)
    assert regressions(run(0.89, 0.90, 0.99, 0.30), baseline, 0.02) == []
    dropped = {d.metric for d in regressions(run(0.85, 0.80, 0.95, 0.20), baseline, 0.02)}
    assert dropped == {"answer_hit", "highlight_hit", "negatives_abstained", "withheld_abstained"}
    # A run without withheld questions is not compared on them.
    assert regressions(run(0.90, 0.90, 0.99, None), baseline, 0.02) == []
    assert regressions(run(0.95, 0.95, 1.0, 0.60), baseline, 0.02) == []
