"""What a use case's knowledge base costs (`liftoff cost project` for a use case with `knowledge:`).

- The corpus: the documents folder (`knowledge.documents_path`) chunked with the use case's chunking settings
  by the one chunker of the template (liftoff/local/knowledge_base.py, which local mode's stand-in uses), so the
  overlap is counted: each chunk is embedded once, its overlap included. Tokens are counted as that chunker
  counts them (one token = 0.75 words). Files it cannot read (PDF, Word) are listed, not counted. Documents in
  an existing bucket (`knowledge.documents.bucket`) are not on this machine: they are not counted either, and
  the output says so.
- Ingestion (one full sync): the chunks' tokens at the embedding model's price, and the vectors written at S3
  Vectors' PUT price per GB. A sync after a change re-embeds the changed documents only.
- Vector storage per month: vectors x (dimension x 4 bytes + metadata), the metadata being the chunk's text
  (Bedrock stores it as AMAZON_BEDROCK_TEXT), its source URI, the document's sidecar attributes, and the key
  (VECTOR_OVERHEAD_BYTES for the key, the URI and the keys' names).
- Per request of a retrieval prompt: the query's embedding (its tokens estimated as the function estimates
  them: service.logic.cost.CHARS_PER_TOKEN_ESTIMATE characters a token), one S3 Vectors query, and the
  grounding check's text units (1 unit = 1,000 characters of source + query + answer). When the eval's answers
  carry the request's `cost_lines` (the API's bill by line), those measured figures are used instead.
- Idle: S3 Vectors storage only; no cluster runs. Beside it, the idle cost of the vector stores the anchors'
  users complain about (pricing/aws.yaml `vector_store_alternatives`, each with its source and whether the
  figure could be verified).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

from liftoff.foundation.config import UseCaseConfig
from liftoff.foundation.usecases import UseCase
from service.logic.cost import CHARS_PER_TOKEN_ESTIMATE
from service.models.prompt import PLACEHOLDER, PromptSpec

HOURS_PER_MONTH = 24 * 30  # the projection's 30 days
GIB = 1024**3
FLOAT32_BYTES = 4
# a vector's key (a UUID), its source URI and the names of its metadata keys: about this many bytes beside the text
VECTOR_OVERHEAD_BYTES = 200
GROUNDING_UNIT_CHARS = 1000
RETRIEVAL_LINES = ("Query embedding", "Vector query (S3 Vectors)", "Grounding check")
# the response's cost_lines (service.models.retrieval.COST_LINES) behind each line
MEASURED_LINES = {"embedding": RETRIEVAL_LINES[0], "vector_query": RETRIEVAL_LINES[1], "grounding": RETRIEVAL_LINES[2]}


@dataclass(frozen=True)
class Corpus:
    """The documents folder as the knowledge base ingests it."""

    folder: str
    documents: int
    chars: int
    chunks: int  # = vectors
    embedded_tokens: int  # every chunk's tokens, overlap included
    stored_bytes: float  # vectors + metadata, all chunks
    chunk_chars: float  # a chunk's average length (what a retrieved passage holds)
    not_counted: tuple[str, ...] = ()  # files the chunker cannot read
    estimated: bool = False  # semantic chunking: the sentence-embedding pass is an estimate


def corpus(use_case: UseCase) -> Corpus:
    """Count the use case's documents folder (see the module)."""
    from liftoff.local.knowledge_base import DOCUMENT_SUFFIXES, SIDECAR_SUFFIX, WORDS_PER_TOKEN, chunk_document

    knowledge = use_case.config.knowledge
    folder = use_case.root / knowledge.documents_path(use_case.config.name)
    chunking = knowledge.chunking
    files = (
        sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []
    )
    documents, chars, chunks, tokens, stored, chunk_chars, skipped = 0, 0, 0, 0, 0.0, 0, []
    for path in files:
        if path.name.endswith(SIDECAR_SUFFIX):
            continue
        source = path.relative_to(folder).as_posix()
        if path.suffix.lower() not in DOCUMENT_SUFFIXES:
            skipped.append(source)
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
        metadata_bytes = len(sidecar.read_bytes()) if sidecar.is_file() else 0
        documents += 1
        chars += len(text)
        for chunk in chunk_document(source, text, chunking):
            chunks += 1
            tokens += math.ceil(len(chunk.searched.split()) / WORDS_PER_TOKEN)
            chunk_chars += len(chunk.text)
            metadata = len(chunk.text.encode()) + metadata_bytes + VECTOR_OVERHEAD_BYTES
            stored += knowledge.embedding.dimension * FLOAT32_BYTES + metadata
    semantic = chunking.strategy == "semantic"
    if semantic:  # every sentence is embedded (with buffer_size neighbours each side) to find the breakpoints
        tokens += tokens * (1 + 2 * chunking.buffer_size)
    return Corpus(
        folder=str(folder.relative_to(use_case.root)) if folder.is_relative_to(use_case.root) else str(folder),
        documents=documents,
        chars=chars,
        chunks=chunks,
        embedded_tokens=tokens,
        stored_bytes=stored,
        chunk_chars=chunk_chars / chunks if chunks else 0.0,
        not_counted=tuple(skipped),
        estimated=semantic,
    )


@dataclass(frozen=True)
class Prices:
    """The unit prices a knowledge base is billed at, each from its file."""

    embedding_per_1k_tokens: float  # pricing/bedrock.yaml retrieval.embedding_models
    query_per_request: float  # pricing/bedrock.yaml retrieval.s3_vectors
    grounding_per_unit: float  # pricing/bedrock.yaml guardrails.contextual_grounding_per_1k_units
    storage_per_gb_month: float  # pricing/aws.yaml s3_vectors
    put_per_gb: float  # pricing/aws.yaml s3_vectors


def prices(config: UseCaseConfig, aws: dict) -> Prices:
    from liftoff.foundation.pricing import load_pricing, retrieval_price

    table = load_pricing()
    one = retrieval_price(config.knowledge.embedding.model_id, table)
    return Prices(
        embedding_per_1k_tokens=one.embedding_per_1k_tokens,
        query_per_request=one.vector_query_per_request,
        grounding_per_unit=table.guardrails.per_unit()["contextual_grounding"],
        storage_per_gb_month=aws["s3_vectors"]["storage_per_gb_month"],
        put_per_gb=aws["s3_vectors"]["put_per_gb"],
    )


@dataclass(frozen=True)
class KnowledgeBaseCost:
    """What the knowledge base costs whatever the traffic: one full ingestion, and storage per month."""

    corpus: Corpus
    prices: Prices
    ingestion_embedding_usd: float
    ingestion_put_usd: float
    storage_per_month_usd: float

    @property
    def ingestion_usd(self) -> float:
        return self.ingestion_embedding_usd + self.ingestion_put_usd


def knowledge_base_cost(use_case: UseCase, aws: dict) -> KnowledgeBaseCost:
    found = corpus(use_case)
    unit = prices(use_case.config, aws)
    gib = found.stored_bytes / GIB
    return KnowledgeBaseCost(
        corpus=found,
        prices=unit,
        ingestion_embedding_usd=found.embedded_tokens * unit.embedding_per_1k_tokens / 1000,
        ingestion_put_usd=gib * unit.put_per_gb,
        storage_per_month_usd=gib * unit.storage_per_gb_month,
    )


@dataclass(frozen=True)
class RequestLines:
    """One retrieval request's lines (RETRIEVAL_LINES -> USD), where they come from, and what they are made of."""

    lines: dict[str, float]
    source: str
    quantities: dict[str, float] = field(default_factory=dict)


def rendered_query(spec: PromptSpec, variables: dict[str, str]) -> str:
    """The text a request sends to Retrieve: the prompt's `retrieval.query` over the case's variables."""
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), ""), spec.retrieval.query)


def estimated_request(
    use_case: UseCase, found: Corpus, unit: Prices, *, answer_chars: float
) -> tuple[dict[str, float], dict[str, float]]:
    """One request's retrieval lines from the prices and the eval cases' queries (their mean length), the top_k
    passages of the corpus's average chunk, and the answer's length; with what went into them."""
    from liftoff.foundation.eval_cases import load_cases, load_suite

    suite = load_suite(use_case.config.name, use_case.root)
    specs = {p.prompt_id: p for p in use_case.prompts if p.retrieval is not None}
    queries = [
        rendered_query(specs[c.prompt_id or suite.prompt_id], c.variables)
        for c in load_cases(use_case.config.name, root=use_case.root)
        if (c.prompt_id or suite.prompt_id) in specs and not c.expect_error
    ]
    query_chars = statistics.fmean(len(q) for q in queries) if queries else 0.0
    query_tokens = statistics.fmean(-(-len(q) // CHARS_PER_TOKEN_ESTIMATE) for q in queries) if queries else 0.0
    top_k = max((p.retrieval.top_k or use_case.config.knowledge.top_k for p in specs.values()), default=0)
    passages = min(top_k, found.chunks)
    grounded = use_case.config.knowledge.grounding.enabled
    source_chars = passages * found.chunk_chars
    units = math.ceil((source_chars + query_chars + answer_chars) / GROUNDING_UNIT_CHARS) if grounded else 0
    lines = {
        RETRIEVAL_LINES[0]: query_tokens * unit.embedding_per_1k_tokens / 1000,
        RETRIEVAL_LINES[1]: unit.query_per_request,
        RETRIEVAL_LINES[2]: units * unit.grounding_per_unit,
    }
    quantities = {
        "query_tokens": query_tokens,
        "query_chars": query_chars,
        "passages": passages,
        "passage_chars": found.chunk_chars,
        "answer_chars": answer_chars,
        "grounding_units": units,
    }
    return lines, quantities


def request_lines(
    use_case: UseCase, kb: KnowledgeBaseCost, *, measured: dict[str, float] | None, answer_chars: float
) -> RequestLines:
    """One request's retrieval lines: `measured` (the eval's mean cost_lines per answered request) when the
    answers carried them, else estimated (estimated_request)."""
    if measured:
        lines = {name: measured.get(key, 0.0) for key, name in MEASURED_LINES.items()}
        return RequestLines(lines, "measured by the eval (the answers' cost_lines)")
    lines, quantities = estimated_request(use_case, kb.corpus, kb.prices, answer_chars=answer_chars)
    return RequestLines(
        lines, "estimated from the prices, the eval cases' queries and the corpus (no measured cost_lines)", quantities
    )


@dataclass(frozen=True)
class Alternative:
    """The idle cost of another vector store, at its smallest, with where the figure comes from."""

    name: str
    monthly_usd: float
    how: str
    source: str
    checked: str
    status: str  # how far the price could be verified (pricing/aws.yaml)


def alternatives(aws: dict) -> list[Alternative]:
    """OpenSearch Serverless, Kendra and Aurora Serverless v2 (pgvector) idle for 30 days at their minimum."""
    alt = aws["vector_store_alternatives"]
    oss, kendra, aurora = alt["opensearch_serverless"], alt["kendra"], alt["aurora_serverless_v2"]

    def monthly(per_hour: float, units: float) -> float:
        return per_hour * units * HOURS_PER_MONTH

    def entry(name: str, usd: float, how: str, prices_of: dict) -> Alternative:
        return Alternative(name, usd, how, prices_of["source"], str(prices_of["checked"]), prices_of["status"])

    ocu = oss["per_ocu_hour"]
    return [
        entry(
            "OpenSearch Serverless, vector collection (redundant, the default)",
            monthly(ocu, oss["min_ocus_redundant"]),
            f"{oss['min_ocus_redundant']:g} OCU x ${ocu:g}/OCU-hour x {HOURS_PER_MONTH} h",
            oss,
        ),
        entry(
            "OpenSearch Serverless, vector collection (redundancy off: dev/test)",
            monthly(ocu, oss["min_ocus_no_redundancy"]),
            f"{oss['min_ocus_no_redundancy']:g} OCU x ${ocu:g}/OCU-hour x {HOURS_PER_MONTH} h",
            oss,
        ),
        entry(
            "Amazon Kendra, Developer Edition index",
            monthly(kendra["developer_per_hour"], 1),
            f"${kendra['developer_per_hour']:g}/hour x {HOURS_PER_MONTH} h",
            kendra,
        ),
        entry(
            "Amazon Kendra, Enterprise Edition index",
            monthly(kendra["enterprise_per_hour"], 1),
            f"${kendra['enterprise_per_hour']:g}/hour x {HOURS_PER_MONTH} h",
            kendra,
        ),
        entry(
            "Aurora Serverless v2 with pgvector (minimum capacity, not paused)",
            monthly(aurora["per_acu_hour"], aurora["min_acu"]),
            f"{aurora['min_acu']:g} ACU x ${aurora['per_acu_hour']:g}/ACU-hour x {HOURS_PER_MONTH} h, before storage",
            aurora,
        ),
    ]
