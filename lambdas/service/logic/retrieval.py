"""Retrieval for a prompt with `retrieval:`: the query from the request's variables, the knowledge base's
passages at `min_score` or above numbered P1..Pn in rank order, and `{{context}}` rendered from them:

    [P1] (source: leave-policy.md, effective 2026-01-01)
    <passage text>

    [P2] (source: ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from service.dal.knowledge_client import MAX_QUERY_CHARS, KnowledgeClient, RetrievedChunk
from service.logic.render import substitute
from service.models.errors import BadRequest
from service.models.prompt import PromptSpec
from service.models.retrieval import Citation, Passage, PassageRef, RetrievalSummary
from service.settings import KnowledgeSettings

EFFECTIVE_DATE = "effective_date"  # the metadata attribute a passage's header shows (knowledge/<uc>/*.metadata.json)


@dataclass(frozen=True)
class RetrievalPlan:
    """What to ask the knowledge base, before asking it."""

    query: str
    top_k: int
    min_score: float


@dataclass(frozen=True)
class Context:
    """The passages kept for the prompt and `{{context}}` rendered from them."""

    plan: RetrievalPlan
    passages: list[Passage]
    text: str
    latency_ms: int

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(p.id for p in self.passages)

    def summary(self) -> RetrievalSummary:
        return RetrievalSummary(
            passages=[
                PassageRef(id=p.id, source=p.source, source_uri=p.source_uri, score=p.score) for p in self.passages
            ],
            top_k=self.plan.top_k,
            min_score=self.plan.min_score,
            outcome="answered" if self.passages else "no_context",
        )

    def citations(self, answer: object) -> list[Citation]:
        """The passages the answer's `citations` names (in the answer's order, each once)."""
        cited = answer.get("citations") if isinstance(answer, dict) else None
        by_id = {p.id: p for p in self.passages}
        ids = [c for c in dict.fromkeys(cited) if isinstance(c, str) and c in by_id] if isinstance(cited, list) else []
        return [
            Citation(id=p.id, source_uri=p.source_uri, source=p.source, score=p.score, excerpt=p.excerpt)
            for p in (by_id[i] for i in ids)
        ]


def plan(spec: PromptSpec, values: dict[str, str], knowledge: KnowledgeSettings) -> RetrievalPlan:
    """The query (the prompt's `retrieval.query` rendered with the request's values) and its limits: the
    prompt's own top_k and min_score, else the use case's. An empty or over-long query is the caller's
    to fix (400), before anything is billed."""
    retrieval = spec.retrieval
    query = substitute(retrieval.query, values).strip()
    if not query:
        raise BadRequest(f"prompt {spec.prompt_id} searches its documents for `{retrieval.query}`, which is empty here")
    if len(query) > MAX_QUERY_CHARS:
        raise BadRequest(
            f"the search query is {len(query)} characters; the knowledge base takes at most {MAX_QUERY_CHARS}"
        )
    return RetrievalPlan(
        query=query,
        top_k=retrieval.top_k if retrieval.top_k is not None else knowledge.top_k,
        min_score=retrieval.min_score if retrieval.min_score is not None else knowledge.min_score,
    )


def source_name(uri: str, prefix: str = "") -> str:
    """The file a passage came from, relative to the documents' prefix: s3://bucket/<prefix>policies/a.md ->
    policies/a.md (the object key itself when it is outside the prefix)."""
    parsed = urlparse(uri)
    key = unquote(parsed.path.lstrip("/")) if parsed.scheme == "s3" else uri
    prefix = prefix.lstrip("/")
    folder = prefix if not prefix or prefix.endswith("/") else prefix + "/"  # whole folders: not policies-archive/
    return key[len(folder) :].lstrip("/") if folder and key.startswith(folder) else key


def _effective_date(chunk: RetrievedChunk) -> str | None:
    value = chunk.metadata.get(EFFECTIVE_DATE)
    return str(value) if isinstance(value, (str, int, float)) and str(value).strip() else None


def keep(chunks: list[RetrievedChunk], plan: RetrievalPlan, prefix: str = "") -> list[Passage]:
    """The chunks at `min_score` or above, numbered P1..Pn in the knowledge base's rank order."""
    kept = [c for c in chunks if c.score >= plan.min_score and c.text.strip()]
    return [
        Passage(
            id=f"P{rank}",
            text=c.text.strip(),
            source_uri=c.source_uri,
            source=source_name(c.source_uri, prefix) or "unknown",
            score=c.score,
            effective_date=_effective_date(c),
        )
        for rank, c in enumerate(kept, start=1)
    ]


def passage_block(passage: Passage) -> str:
    """One passage as the prompt shows it: its id, source and effective date, then its text."""
    effective = f", effective {passage.effective_date}" if passage.effective_date else ""
    return f"[{passage.id}] (source: {passage.source}{effective})\n{passage.text}"


PASSAGE_SEPARATOR = "\n\n"


def render_context(passages: list[Passage]) -> str:
    return PASSAGE_SEPARATOR.join(passage_block(p) for p in passages)


def retrieve(plan: RetrievalPlan, client: KnowledgeClient, knowledge: KnowledgeSettings):
    """Ask the knowledge base (the dal call; the caller bills it). Returns the client's Retrieved."""
    return client.retrieve(knowledge_base_id=knowledge.knowledge_base_id, query=plan.query, top_k=plan.top_k)


def context_of(plan: RetrievalPlan, retrieved, knowledge: KnowledgeSettings) -> Context:
    passages = keep(retrieved.chunks, plan, knowledge.documents_prefix)
    return Context(plan=plan, passages=passages, text=render_context(passages), latency_ms=retrieved.latency_ms)
