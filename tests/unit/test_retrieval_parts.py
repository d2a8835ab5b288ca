"""The parts of a grounded answer below the handler: a passage's source and excerpt, the grounding
assessment read from a Converse trace, the knowledge settings and one Retrieve's prices."""

import pytest

from liftoff.foundation.errors import ConfigError
from liftoff.foundation.pricing import load_pricing, retrieval_price
from service.dal.knowledge_client import RetrievedChunk
from service.dal.model_client import grounding_assessment
from service.logic.cost import query_tokens_estimate, retrieval_cost_lines
from service.logic.retrieval import RetrievalPlan, keep, source_name
from service.models.errors import Misconfigured
from service.models.retrieval import EXCERPT_CHARS, Passage
from service.settings import _knowledge

PRICES = '{"embedding_per_1k_tokens": 0.00002, "vector_query_per_request": 0.0000025}'


def test_a_source_is_the_file_relative_to_the_documents_prefix():
    assert source_name("s3://docs/policies/2026/leave.md", "policies/") == "2026/leave.md"
    assert source_name("s3://docs/leave%20policy.md") == "leave policy.md"
    # outside the prefix (the stack's own bucket beside an existing one): the key as it is
    assert source_name("s3://docs/other/leave.md", "policies/") == "other/leave.md"


def test_a_prefix_without_its_slash_strips_whole_folders_only():
    # Given `prefix: policies` (S3 inclusion prefixes are plain string prefixes: policies-archive/ is in the data
    # source too)
    assert source_name("s3://docs/policies/leave.md", "policies") == "leave.md"
    # Then a key that only starts with the same letters keeps its folder, not "-archive/leave.md"
    assert source_name("s3://docs/policies-archive/leave.md", "policies") == "policies-archive/leave.md"


def test_an_excerpt_is_at_most_300_characters_with_whitespace_collapsed():
    passage = Passage(id="P1", text="word  \n" * 200, source_uri="s3://b/a.md", source="a.md", score=0.5)
    assert len(passage.excerpt) == EXCERPT_CHARS and passage.excerpt.endswith("\u2026") and "  " not in passage.excerpt
    assert Passage(id="P1", text=" short\ntext ", source_uri="", source="", score=0.5).excerpt == "short text"


def test_passages_keep_the_rank_order_and_drop_blank_and_low_chunks():
    chunks = [
        RetrievedChunk(text="b", source_uri="s3://x/b.md", score=0.5, metadata={"effective_date": "2026-01-01"}),
        RetrievedChunk(text="   ", source_uri="s3://x/blank.md", score=0.9),
        RetrievedChunk(text="a", source_uri="s3://x/a.md", score=0.7),
        RetrievedChunk(text="c", source_uri="s3://x/c.md", score=0.39),
    ]
    kept = keep(chunks, RetrievalPlan(query="q", top_k=5, min_score=0.4))
    assert [(p.id, p.source, p.effective_date) for p in kept] == [("P1", "b.md", "2026-01-01"), ("P2", "a.md", None)]


def test_a_trace_without_grounding_filters_has_no_assessment_and_missing_scores_are_not_grounded():
    assert grounding_assessment({"trace": {"guardrail": {"outputAssessments": {"g": [{}]}}}}) is None
    only_grounding = {"type": "GROUNDING", "threshold": 0.75, "score": 0.9, "action": "NONE"}
    trace = {
        "trace": {
            "guardrail": {"outputAssessments": {"g": [{"contextualGroundingPolicy": {"filters": [only_grounding]}}]}}
        }
    }
    assessment = grounding_assessment(trace)
    assert assessment.grounding_score == 0.9 and assessment.relevance_score is None
    assert assessment.grounded is False  # the relevance half is unknown: not counted grounded


def test_knowledge_settings_are_read_only_with_a_knowledge_base_and_refuse_a_bad_action():
    assert _knowledge({}) is None
    env = {
        "LIFTOFF_KNOWLEDGE_BASE_ID": "KBFIXTURE1",
        "LIFTOFF_RETRIEVAL_TOP_K": "5",
        "LIFTOFF_RETRIEVAL_MIN_SCORE": "0.4",
        "LIFTOFF_RETRIEVAL_PRICES": PRICES,
        "LIFTOFF_RETRIEVE_CONNECT_TIMEOUT_S": "1",
        "LIFTOFF_RETRIEVE_READ_TIMEOUT_S": "2.5",
        "LIFTOFF_RETRIEVE_MAX_ATTEMPTS": "2",
    }
    settings = _knowledge(env)
    assert (settings.top_k, settings.min_score, settings.grounding) == (5, 0.4, None)
    assert (settings.connect_timeout_s, settings.read_timeout_s, settings.max_attempts) == (1, 2.5, 2)
    without_timeouts = {k: v for k, v in env.items() if not k.startswith("LIFTOFF_RETRIEVE_")}
    with pytest.raises(Misconfigured, match="LIFTOFF_RETRIEVE_CONNECT_TIMEOUT_S is not set"):
        _knowledge(without_timeouts)
    with pytest.raises(Misconfigured, match="LIFTOFF_GROUNDING='block' is not one of BLOCK, NONE"):
        _knowledge({**env, "LIFTOFF_GROUNDING": "block"})
    with pytest.raises(Misconfigured, match="LIFTOFF_RETRIEVAL_PRICES"):
        _knowledge({**env, "LIFTOFF_RETRIEVAL_PRICES": '{"embedding": 1}'})


def test_a_retrieve_costs_the_query_embedding_and_one_vector_query_at_the_pricing_files_prices():
    price = retrieval_price("amazon.titan-embed-text-v2:0")
    table = load_pricing().retrieval
    assert price.embedding_per_1k_tokens == table.embedding_models["amazon.titan-embed-text-v2:0"].input_per_1k
    assert price.vector_query_per_request == table.s3_vectors.query_per_1k_requests / 1000
    assert query_tokens_estimate("x" * 10) == 4  # 3 characters a token, rounded up
    lines = retrieval_cost_lines(price, "x" * 3000)
    assert lines == {"embedding": pytest.approx(1000 * price.embedding_per_1k_tokens / 1000), "vector_query": 2.5e-06}
    with pytest.raises(ConfigError, match=r"retrieval\.embedding_models\.cohere\.embed-v4"):
        retrieval_price("cohere.embed-v4")
