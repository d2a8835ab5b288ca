"""liftoff cost project for a use case with knowledge: (issue 23 item 5): the knowledge base's ingestion, storage,
per-request retrieval lines and idle cost beside the alternatives', each recomputed here by hand from the price
files and the fixture corpus (tests/fixtures/project/knowledge/fixture-rag/)."""

import functools
import json
import math

import pytest
import yaml
from click.testing import CliRunner

from liftoff import INSTALLED_FROM, REPO_ROOT
from liftoff import cost_project as cp
from liftoff.foundation import eval_cases
from liftoff.foundation.usecases import load_use_case
from tests.fixtures.project import build_project

AWS = yaml.safe_load((REPO_ROOT / "pricing" / "aws.yaml").read_text())
BEDROCK = yaml.safe_load((REPO_ROOT / "pricing" / "bedrock.yaml").read_text())
TITAN = BEDROCK["retrieval"]["embedding_models"]["amazon.titan-embed-text-v2:0"]["input_per_1k"]
QUERY = BEDROCK["retrieval"]["s3_vectors"]["query_per_1k_requests"] / 1000
GROUNDING = BEDROCK["guardrails"]["contextual_grounding_per_1k_units"] / 1000


@pytest.fixture
def rag(tmp_path, monkeypatch):
    """fixture-rag's project, and `liftoff cost project` reading its use cases from it."""
    project = build_project(tmp_path / "project")
    from liftoff import options

    monkeypatch.setattr(cp, "load_use_case", functools.partial(load_use_case, root=project))
    monkeypatch.setattr(options, "resolve_use_case", lambda name: name)  # --use-case checks the checkout's names
    monkeypatch.setattr(eval_cases, "golden_cases", functools.partial(eval_cases.golden_cases, root=project))
    cp.knowledge_cost.cache_clear()
    cp.golden_size.cache_clear()
    yield project
    cp.knowledge_cost.cache_clear()
    cp.golden_size.cache_clear()


def by_hand(project):
    """The fixture corpus counted by hand: 300-token fixed-size chunks (225 words, 20 % = 45 words overlap)."""
    folder = project / "knowledge" / "fixture-rag"
    docs = sorted(p for p in folder.iterdir() if not p.name.endswith(".metadata.json"))
    chunks, tokens, stored = 0, 0, 0
    for doc in docs:
        text = doc.read_text()
        words = text.split()
        starts = range(0, max(1, len(words)), 225 - 45)
        pieces = []
        for start in starts:
            pieces.append(words[start : start + 225])
            if start + 225 >= len(words):
                break
        sidecar = doc.with_name(doc.name + ".metadata.json")
        for piece in pieces:
            chunks += 1
            tokens += math.ceil(len(piece) / 0.75)
            # the chunk's text as written (whitespace between its first and last word kept)
            first, last = text.index(piece[0]), text.rindex(piece[-1]) + len(piece[-1])
            stored += 1024 * 4 + len(text[first:last].encode()) + 200
            stored += len(sidecar.read_bytes()) if sidecar.exists() else 0
    return len(docs), chunks, tokens, stored


def test_ingestion_and_storage_are_the_corpus_at_the_files_prices(rag):
    # Given fixture-rag's five documents (each under one chunk), Titan V2 at 1,024 dimensions
    documents, chunks, tokens, stored = by_hand(rag)
    kb = cp.knowledge_cost("fixture-rag")
    assert (kb.corpus.documents, kb.corpus.chunks, kb.corpus.embedded_tokens) == (documents, chunks, tokens)
    assert kb.corpus.stored_bytes == pytest.approx(stored)
    gib = stored / 1024**3
    # Then one full sync costs the tokens at Titan's price and the GiB written at the PUT price
    assert kb.ingestion_embedding_usd == pytest.approx(tokens * TITAN / 1000)
    assert kb.ingestion_put_usd == pytest.approx(gib * AWS["s3_vectors"]["put_per_gb"])
    # and a month of storage, the knowledge base's only idle cost, the GiB at the storage price
    assert kb.storage_per_month_usd == pytest.approx(gib * AWS["s3_vectors"]["storage_per_gb_month"])


def test_overlap_is_embedded_twice(rag):
    # Given a document of 1,000 words: 225-word windows stepping 180 words -> 6 chunks (the last from word 900)
    (rag / "knowledge" / "fixture-rag" / "long.md").write_text(" ".join(f"w{i}" for i in range(1000)))
    kb = cp.knowledge_cost("fixture-rag")
    _, chunks, tokens, _ = by_hand(rag)
    assert kb.corpus.chunks == chunks
    # 5 windows of 225 words and a last one of 100: 5 x 300 + ceil(100 / 0.75) tokens, the overlap included
    long_tokens = 5 * 300 + math.ceil(100 / 0.75)
    assert kb.corpus.embedded_tokens == tokens and long_tokens > 1000 / 0.75


def report(tmp_path, rows) -> object:
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "report.json").write_text(json.dumps({"simulated": True}))
    return folder


GROUNDED = {
    "ok": True,
    "output": '{"answer": "180 EUR.", "citations": ["P1"]}',
    "input_tokens": 250,
    "output_tokens": 20,
    "latency_ms": 900,
    "cost_usd": 0.0006328,  # the sum of its lines
    "retrieval": {"outcome": "answered"},
    "cost_lines": {
        "model": 3e-05,
        "guardrail": 0.0005,
        "embedding": 3e-07,
        "vector_query": 2.5e-06,
        "grounding": 0.0001,
    },
}
REFUSED = {
    **GROUNDED,
    "output": "I could not find this.",
    "cost_usd": 2.8e-06,
    "retrieval": {"outcome": "no_context"},
    "cost_lines": {"model": 0.0, "guardrail": 0.0, "embedding": 3e-07, "vector_query": 2.5e-06, "grounding": 0.0},
}


def test_measured_lines_split_the_bill_and_every_line_is_counted_once(rag, tmp_path):
    # Given an eval of three grounded answers and one refusal, with the API's cost lines
    usage = cp.measured_usage("fixture-rag", report(tmp_path, [GROUNDED, GROUNDED, GROUNDED, REFUSED]))
    # Then the model line is model + guardrail only, and each retrieval line its mean over the four requests
    assert usage.model_cost_usd == pytest.approx(3 * (3e-05 + 0.0005) / 4)
    assert usage.retrieval == pytest.approx(
        {"Query embedding": 3e-07, "Vector query (S3 Vectors)": 2.5e-06, "Grounding check": 3 * 0.0001 / 4}
    )
    assert usage.grounded_answer["grounding"] == pytest.approx(0.0001)
    assert usage.spend_usd == pytest.approx((3 * 0.0006328 + 2.8e-06) / 4)
    # and at 1,000 requests a day the month's lines are 30,000 times each, S3 Vectors storage beside them
    costs = cp.monthly_costs("fixture-rag", "sandbox", 1000, usage, 2000)
    assert costs["Bedrock model"] == pytest.approx(30_000 * usage.model_cost_usd)
    assert costs["Grounding check"] == pytest.approx(30_000 * 3 * 0.0001 / 4)
    assert costs["S3 Vectors storage"] == pytest.approx(cp.knowledge_cost("fixture-rag").storage_per_month_usd)
    # the daily cap counts the retrieval lines too
    projection = cp.project_use_case("fixture-rag", "sandbox", 1000, usage, 2000)
    assert projection.daily_spend_usd == pytest.approx(1000 * usage.spend_usd)


def test_without_cost_lines_the_request_is_estimated_from_the_prices(rag, tmp_path):
    # Given an eval whose answers carry no cost lines
    plain = {k: v for k, v in GROUNDED.items() if k != "cost_lines"}
    usage = cp.measured_usage("fixture-rag", report(tmp_path, [plain]))
    assert "estimated" in usage.retrieval_source
    # Then the embedding is the cases' mean query tokens (3 characters a token, rounded up) at Titan's price
    cases = [c for c in eval_cases.load_cases("fixture-rag", root=rag)]
    tokens = sum(-(-len(c.variables["question"]) // 3) for c in cases) / len(cases)
    assert usage.retrieval["Query embedding"] == pytest.approx(tokens * TITAN / 1000)
    assert usage.retrieval["Vector query (S3 Vectors)"] == pytest.approx(QUERY)
    # and the grounding check the text units of top_k passages (5 chunks: all 5), the query and the answer
    kb = cp.knowledge_cost("fixture-rag")
    query_chars = sum(len(c.variables["question"]) for c in cases) / len(cases)
    units = math.ceil((5 * kb.corpus.chunk_chars + query_chars + len(plain["output"])) / 1000)
    assert usage.retrieval["Grounding check"] == pytest.approx(units * GROUNDING)


def test_the_idle_cost_stands_beside_the_alternatives(rag):
    by_name = {a.name: a for a in cp_alternatives()}
    oss = AWS["vector_store_alternatives"]["opensearch_serverless"]
    assert by_name["OpenSearch Serverless, vector collection (redundant, the default)"].monthly_usd == pytest.approx(
        oss["per_ocu_hour"] * oss["min_ocus_redundant"] * 720
    )
    kendra = AWS["vector_store_alternatives"]["kendra"]
    assert by_name["Amazon Kendra, Developer Edition index"].monthly_usd == pytest.approx(
        kendra["developer_per_hour"] * 720
    )
    assert by_name["Amazon Kendra, Enterprise Edition index"].status == "unverified"
    aurora = AWS["vector_store_alternatives"]["aurora_serverless_v2"]
    assert by_name["Aurora Serverless v2 with pgvector (minimum capacity, not paused)"].monthly_usd == pytest.approx(
        aurora["per_acu_hour"] * aurora["min_acu"] * 720
    )
    # every figure names its source, its date and how far it could be verified
    assert all(a.source.startswith("https://") and a.checked and a.status for a in cp_alternatives())


def cp_alternatives():
    from liftoff.cost_knowledge import alternatives

    return alternatives(AWS)


def test_the_command_shows_the_knowledge_base_in_every_format(rag, tmp_path):
    folder = report(tmp_path, [GROUNDED, REFUSED])
    text = CliRunner().invoke(
        cp.project, ["--use-case", "fixture-rag", "--report", str(folder)], env={"COLUMNS": "200"}
    )
    assert text.exit_code == 0, text.output
    out = " ".join(text.output.split())
    assert "Grounding check" in out and "S3 Vectors storage" in out and "ingestion, one full sync" in out
    assert "Amazon Kendra, Enterprise Edition index" in out and "unverified" in out
    document = json.loads(
        CliRunner().invoke(cp.project, ["--use-case", "fixture-rag", "--report", str(folder), "--json"]).output
    )
    knowledge = document["knowledge"]
    assert knowledge["idle_usd_per_month"]["knowledge base"] == pytest.approx(knowledge["storage_usd_per_month"])
    assert knowledge["per_request_usd"]["total"] == pytest.approx((0.0006328 + 2.8e-06) / 2)
    assert len(knowledge["alternatives_idle_usd_per_month"]) == 5
    markdown = CliRunner().invoke(cp.project, ["--use-case", "fixture-rag", "--report", str(folder), "--markdown"])
    assert "| Grounding check |" in markdown.output
    assert "| Amazon Kendra, Enterprise Edition index | 1,008.00 |" in markdown.output
    # a use case without knowledge shows none of it
    cp.knowledge_cost.cache_clear()


def test_the_idle_table_in_docs_cost_md_is_the_tools():
    text = (INSTALLED_FROM / "docs" / "cost.md").read_text()
    block = text.split("<!-- vector-store-idle:begin -->\n", 1)[1].split("<!-- vector-store-idle:end -->", 1)[0]
    assert block == cp.alternatives_markdown(), (
        "docs/cost.md's idle table is out of date: replace the block between the vector-store-idle markers with "
        f"this (from pricing/aws.yaml):\n{cp.alternatives_markdown()}"
    )
