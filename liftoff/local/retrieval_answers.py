"""The Bedrock simulator's answers to retrieval prompts, and its local contextual grounding check.

THESE SAY NOTHING ABOUT MODEL QUALITY. The answer is extractive, by a word-overlap rule: the sentence of
the given passages that shares the most words with the question (see `retrieval_answer`), cited by its
passage id. The grounding check is a word count, not Bedrock's model: grounding = the share of the
answer's words found in the grounding sources, relevance = the share of the question's words found in
the answer (words as the local knowledge base counts them: stemmed, stop words dropped). Both exist so
that citations, the grounding trace, BLOCK and the Ungrounded metric run end to end without AWS.

`[[sim:ungrounded]]` in the question makes an answer with an invented figure, citing the first passage:
its grounding score is low, so a BLOCK guardrail intervenes (and NONE counts it as ungrounded).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from liftoff.local.knowledge_base import SIM_MARKER, words

# the rendered context's passage header (contract: `[P1] (source: leave-policy.md, effective 2026-01-01)`)
PASSAGE_HEADER = re.compile(r"^\[(?P<id>P\d+)\] \(source: (?P<about>[^\n]*)\)[ \t]*$", re.M)
UNGROUNDED = "[[sim:ungrounded]]"
EFFECTIVE = re.compile(r"effective[: ]+(\d{4}-\d{2}-\d{2})", re.I)
SUPERSEDED = re.compile(r"\bsuperseded\b", re.I)
REFUSAL = re.compile(r"answer exactly\s*\n?\s*\"([^\"]+)\"", re.I)
DEFAULT_REFUSAL = "I could not find this in the documents."


@dataclass(frozen=True)
class Passage:
    id: str
    about: str  # the header's text after `source:` (file name, effective date, status)
    text: str
    rank: int


def has_passages(user_text: str) -> bool:
    return PASSAGE_HEADER.search(user_text) is not None


def question_of(user_text: str, query: str | None = None) -> str:
    """The question: the guardContent query block when there is one, else the prompt's <question>, else
    its last line."""
    if query:
        return query.strip()
    found = re.search(r"<question>\s*(.*?)\s*</question>", user_text, re.S)
    if found:
        return found.group(1)
    lines = [line for line in user_text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def passages(user_text: str, question: str) -> list[Passage]:
    """The numbered passages of the rendered context, each up to the next header (the last one up to the
    question), once per id."""
    headers = list(PASSAGE_HEADER.finditer(user_text))
    out: dict[str, Passage] = {}
    for rank, header in enumerate(headers):
        end = headers[rank + 1].start() if rank + 1 < len(headers) else len(user_text)
        body = user_text[header.end() : end]
        for stop in ("<question>", question):
            cut = body.find(stop) if stop else -1
            if cut >= 0:
                body = body[:cut]
        out.setdefault(header["id"], Passage(header["id"], header["about"], body.strip(), rank))
    return list(out.values())


def _table_rows(lines: list[str]) -> list[str]:
    """A Markdown table's rows as sentences that name their columns ("City: Lisbon; Per-diem (EUR): 28")."""
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    head, rows = cells[0], [r for r in cells[1:] if not all(re.fullmatch(r":?-{2,}:?", c) for c in r if c)]
    return ["; ".join(f"{h}: {v}" for h, v in zip(head, row, strict=False)) + "." for row in rows]


def sentences(text: str) -> list[str]:
    """A passage's sentences: prose split at sentence ends (Markdown emphasis dropped), a table row by row;
    headings and questions (an FAQ's "Q?" is not an answer) left out."""
    out: list[str] = []
    table: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        if table:
            out.extend(_table_rows(table))
            table.clear()
        if prose:
            joined = " ".join(prose)
            joined = re.sub(r"\*\*|__|`", "", joined)
            split = (s.strip() for s in re.split(r"(?<=[.!?])\s+", joined))
            out.extend(s for s in split if s and not s.endswith("?"))
            prose.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            if prose:
                flush()
            table.append(stripped)
        elif not stripped or stripped.startswith("#"):
            flush()
        else:
            if table:
                flush()
            prose.append(stripped)
    flush()
    return out


def refusal_of(system: str, user_text: str) -> str:
    """The refusal the prompt asks for (`... answer exactly "<refusal>"`), else a generic one."""
    found = REFUSAL.search(system) or REFUSAL.search(user_text)
    return found.group(1) if found else DEFAULT_REFUSAL


def _invented(question: str, cite: str) -> str:
    """An answer to the question (its words, so it reads relevant) with figures and a source no passage has."""
    asked = re.sub(r"\s+", " ", SIM_MARKER.sub(" ", question)).strip().rstrip("?")
    digest = hashlib.sha256(asked.encode()).digest()
    first, second = 700 + digest[0] % 200, 900 + digest[1] % 90
    answer = f"As to '{asked}': the 1987 executive handbook sets {first} units, rising to {second} for senior staff."
    return json.dumps({"answer": answer, "citations": [cite]})


def retrieval_answer(system: str, user_text: str, query: str | None = None) -> str:
    """`{"answer", "citations"}` from the passages: the sentence sharing the most question words (at
    least two, or all of a shorter question's); on a tie, a passage not marked superseded, then the later
    effective date in its header, then the better rank. No such sentence: the prompt's refusal, no citations."""
    question = question_of(user_text, query)
    found = passages(user_text, question)
    if UNGROUNDED in question or UNGROUNDED in user_text:
        return _invented(question, found[0].id if found else "P1")
    wanted = set(words(SIM_MARKER.sub(" ", question)))
    best, best_key = None, None
    for passage in found:
        superseded = bool(SUPERSEDED.search(passage.about) or SUPERSEDED.search(passage.text))
        effective = EFFECTIVE.search(passage.about)
        for position, sentence in enumerate(sentences(passage.text)):
            overlap = len(wanted & set(words(sentence)))
            key = (overlap, not superseded, effective.group(1) if effective else "", -passage.rank, -position)
            if best_key is None or key > best_key:
                best, best_key = (passage.id, sentence), key
    if best is None or best_key[0] < min(2, len(wanted)) or not wanted:
        return json.dumps({"answer": refusal_of(system, user_text), "citations": []})
    return json.dumps({"answer": re.sub(r"\s+", " ", best[1]), "citations": [best[0]]})


def answer_text(output: str) -> str:
    """What the grounding check reads of an output: its `answer` when it is the JSON answer, else all of it."""
    try:
        value = json.loads(output)
    except ValueError:
        return output
    return value["answer"] if isinstance(value, dict) and isinstance(value.get("answer"), str) else output


def grounding_scores(answer: str, sources: list[str], query: str) -> tuple[float, float]:
    """(grounding, relevance), each 0..1: the share of the answer's words found in the sources, and the
    share of the query's words found in the answer or in the passage it was drawn from (a word count, not
    Bedrock's model). A short extractive answer ("The standard monthly limit is 3,000 EUR.") repeats few of
    the question's words; the passage it comes from is what answers the question, so it counts too."""
    said = set(words(answer))
    known = set(words(" ".join(sources)))
    asked = set(words(SIM_MARKER.sub(" ", query)))
    grounding = len(said & known) / len(said) if said else 0.0
    drawn_from = [set(words(source)) for source in sources]
    drawn_from = [passage for passage in drawn_from if said and len(said & passage) / len(said) >= 0.8]
    addressed = said.union(*drawn_from)
    relevance = len(asked & addressed) / len(asked) if asked else 0.0
    return round(grounding, 2), round(relevance, 2)
