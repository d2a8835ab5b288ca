"""How a retrieval answer is scored: the policy `liftoff eval` (liftoff/evals/runner.py) and the golden
canary (service/handlers/canary.py) share, read from the answer's `retrieval` and `grounding` (the API's
response shape, docs/grounded-answers.md).

- Retrieved sources: the passages' source files in rank order, each once (several passages of one file count
  as that file, at its best rank).
- recall@k of a case naming `expected_sources` (and answered with its `retrieval`: a 422 guardrail block
  carries none, so what it retrieved is not counted either way): |expected ∩ the first k sources| / |expected|, k being the
  `top_k` the answer was retrieved with; its reciprocal rank: 1 / the rank of the first expected source (0
  when none was retrieved). The run's recall@k and MRR are the means over those cases.
- A refusal is what the caller got instead of an answer: the prompt's fixed refusal (`retrieval.outcome` is
  `no_context`: nothing reached min_score), an answer equal to the prompt's `retrieval.refusal` text (the model
  declined, as the prompt tells it to), or the grounding check blocking the answer (`grounding.blocked`). An
  `answerable: false` case passes only on a refusal.
- The hallucination rate counts, per scored case of a retrieval prompt, each case once if any of these holds:
  it answered a question the documents do not cover (`answerable: false`, not refused); the grounding check
  found the model's answer ungrounded (`grounding.grounded` false: counted whether the guardrail then blocked
  it or only measured it, so the rate is the model's, and matches the production `Ungrounded` metric); the
  judge found the answer unfaithful to the retrieved passages (only where a judge is configured). Each part is
  reported on its own too.
- The ungrounded rate: ungrounded answers / answers the grounding check scored (as `max_ungrounded_rate` is
  measured in production).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from service.evalcore.checks import CheckResult, LlmJudge, normalise, parse_json, value_at
from service.evalcore.score import GUARDRAIL_BLOCK

NO_CONTEXT = "no_context"
FAITHFULNESS_CHECK = "faithfulness"
FAITHFULNESS = LlmJudge(
    type="llm_judge",
    rubric=(
        "Faithfulness to the passages given as inputs: 5 when every statement of the answer is supported by "
        "those passages; 3 when a detail goes beyond them; 1 when the answer states something the passages do "
        "not say or contradicts them. Judge support only, not style or completeness."
    ),
    min_score=4,
)


def _plain(value: Any) -> Any:
    """A pydantic model (the canary reads the service's response objects) as plain data."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def _source_key(source: str) -> str:
    return source.strip().removeprefix("./").lstrip("/")


def retrieved_sources(passages: Iterable[Any]) -> list[str]:
    """The passages' source files in rank order (the order the service numbered them), each once."""
    seen: list[str] = []
    for passage in passages:
        source = _source_key(str(_plain(passage).get("source") or ""))
        if source and source not in seen:
            seen.append(source)
    return seen


def recall_at_k(expected: Sequence[str], sources: Sequence[str], k: int) -> float:
    """|expected ∩ the first k sources| / |expected| (1.0 for no expected source: nothing to find)."""
    wanted = {_source_key(s) for s in expected}
    if not wanted:
        return 1.0
    return len(wanted & set(sources[:k])) / len(wanted)


def reciprocal_rank(expected: Sequence[str], sources: Sequence[str]) -> float:
    """1 / the rank of the first expected source among the sources; 0 when none was retrieved."""
    wanted = {_source_key(s) for s in expected}
    return next((1 / rank for rank, source in enumerate(sources, start=1) if source in wanted), 0.0)


def answer_text(output: str) -> str:
    """The `answer` field of a JSON answer (prompts with retrieval answer `{"answer", "citations"}`), else
    the whole output."""
    try:
        found = value_at(parse_json(output), "answer")
    except ValueError:
        return output
    return found if isinstance(found, str) else output


def scored_output(output: str | None, output_json: Any, retrieval: Any) -> str | None:
    """The text a retrieval answer's checks read: a no-context refusal's `output` is the refusal text alone
    (the API's contract), and its JSON form, which the prompt's output schema describes, is `output_json`."""
    retrieval = _plain(retrieval) or {}
    if output is not None and retrieval.get("outcome") == NO_CONTEXT and output_json is not None:
        return json.dumps(output_json, ensure_ascii=False)
    return output


def is_refusal(
    output: str | None, retrieval: Any, grounding: Any, refusal: str | None, error_code: str | None = None
) -> bool:
    """Whether the caller got a refusal instead of an answer (see the module's docstring); a guardrail block
    (422 GuardrailIntervened: the grounding check's BLOCK answers so) is one."""
    if error_code == GUARDRAIL_BLOCK:
        return True
    retrieval, grounding = _plain(retrieval), _plain(grounding)
    if (retrieval or {}).get("outcome") == NO_CONTEXT:
        return True
    if (grounding or {}).get("blocked"):
        return True
    return output is not None and refusal is not None and normalise(answer_text(output)) == normalise(refusal)


def passages_as_source(variables: dict[str, str], retrieval: dict | None, citations: Any) -> dict[str, str] | None:
    """What a judge reads as its source for a retrieval answer: the case's variables and the retrieved passages'
    text (`retrieval.passages[].text`, else the cited passages' excerpts); None when the answer carries no
    passage text to judge against."""
    texts: dict[str, str] = {}
    for passage in map(_plain, (retrieval or {}).get("passages") or []):
        if passage.get("text"):
            texts[f"passage {passage.get('id', '?')} (source: {passage.get('source', '?')})"] = passage["text"]
    if not texts:
        for cited in map(_plain, _plain(citations) or []):
            if cited.get("excerpt"):
                label = f"passage {cited.get('id', '?')} (source: {cited.get('source', '?')}, excerpt)"
                texts[label] = cited["excerpt"]
    return {**variables, **texts} if texts else None


@dataclass(frozen=True)
class RetrievalScore:
    """One retrieval case: what was retrieved, how well, and which hallucination it shows."""

    sources: tuple[str, ...]  # retrieved, rank order, each once
    expected: tuple[str, ...]
    k: int
    recall: float | None  # None: the case names no expected sources
    reciprocal_rank: float | None
    answerable: bool
    refused: bool
    outcome: str | None  # the service's retrieval.outcome (answered | no_context)
    ungrounded: bool | None  # None: the grounding check did not score it
    unfaithful: bool | None  # None: not judged (no judge, a refusal, or no passage text)
    grounding_score: float | None = None

    @property
    def answered_unanswerable(self) -> bool:
        return not self.answerable and not self.refused

    @property
    def hallucinated(self) -> bool:
        return self.answered_unanswerable or bool(self.ungrounded) or bool(self.unfaithful)

    def as_dict(self) -> dict:
        return {
            "sources": list(self.sources),
            "expected_sources": list(self.expected),
            "k": self.k,
            "recall": self.recall,
            "reciprocal_rank": self.reciprocal_rank,
            "answerable": self.answerable,
            "refused": self.refused,
            "outcome": self.outcome,
            "grounding_score": self.grounding_score,
            "ungrounded": self.ungrounded,
            "unfaithful": self.unfaithful,
            "answered_unanswerable": self.answered_unanswerable,
            "hallucinated": self.hallucinated,
        }


def score_retrieval(
    *,
    output: str | None,
    retrieval: Any,
    grounding: Any,
    refusal: str | None,
    expected_sources: Sequence[str],
    answerable: bool,
    top_k: int,
    judged: CheckResult | None = None,
    error_code: str | None = None,
) -> RetrievalScore:
    """A case's retrieval score from its answer (`output`, the response's `retrieval` and `grounding`); `top_k`
    is the prompt's, used when the answer does not say; `judged` the faithfulness judge's result, if any."""
    retrieval, grounding = _plain(retrieval) or {}, _plain(grounding) or {}
    sources = retrieved_sources(retrieval.get("passages") or [])
    k = int(retrieval.get("top_k") or top_k)
    # no `retrieval` in the answer (a 422 guardrail block carries none): what was retrieved is unknown, not missed
    named = bool(expected_sources) and bool(retrieval)
    grounded = grounding.get("grounded")
    return RetrievalScore(
        sources=tuple(sources),
        expected=tuple(expected_sources),
        k=k,
        recall=recall_at_k(expected_sources, sources, k) if named else None,
        reciprocal_rank=reciprocal_rank(expected_sources, sources) if named else None,
        answerable=answerable,
        refused=is_refusal(output, retrieval, grounding, refusal, error_code),
        outcome=retrieval.get("outcome"),
        ungrounded=None if grounded is None else not grounded,
        unfaithful=None if judged is None or judged.passed is None else not judged.passed,
        grounding_score=grounding.get("grounding_score"),
    )


@dataclass(frozen=True)
class RetrievalTally:
    """Retrieval over a run's scored cases (or one tag's): recall@k and MRR over the cases naming expected
    sources, the hallucination rate and its parts over every case."""

    cases: int
    with_sources: int
    recall: float | None
    mrr: float | None
    unanswerable: int  # `answerable: false` cases
    answered_unanswerable: int
    checked: int  # answers the grounding check scored
    ungrounded: int
    judged: int  # answers the judge scored for faithfulness
    unfaithful: int
    hallucinated: int  # cases with any of the three, each once
    hallucination_rate: float | None
    ungrounded_rate: float | None


def tally_retrieval(scores: Iterable[RetrievalScore]) -> RetrievalTally:
    scores = list(scores)
    named = [s for s in scores if s.recall is not None]
    checked = [s for s in scores if s.ungrounded is not None]
    hallucinated = sum(s.hallucinated for s in scores)
    return RetrievalTally(
        cases=len(scores),
        with_sources=len(named),
        recall=sum(s.recall for s in named) / len(named) if named else None,
        mrr=sum(s.reciprocal_rank for s in named) / len(named) if named else None,
        unanswerable=sum(not s.answerable for s in scores),
        answered_unanswerable=sum(s.answered_unanswerable for s in scores),
        checked=len(checked),
        ungrounded=sum(bool(s.ungrounded) for s in checked),
        judged=sum(s.unfaithful is not None for s in scores),
        unfaithful=sum(bool(s.unfaithful) for s in scores),
        hallucinated=hallucinated,
        hallucination_rate=hallucinated / len(scores) if scores else None,
        ungrounded_rate=sum(bool(s.ungrounded) for s in checked) / len(checked) if checked else None,
    )
