"""Local mode's knowledge base stand-in (liftoff/local/knowledge_base.py): bedrock-agent-runtime's Retrieve
over the fixture use case's documents, in botocore's own request and response shapes, lexical ranking
with scores on 0..1, chunking by the use case's settings, and the index kept current."""

import json
import math
import shutil

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import ParamValidator

from liftoff.foundation.config import ChunkingConfig
from liftoff.foundation.eval_cases import load_cases
from liftoff.foundation.usecases import load_use_case
from liftoff.local.bedrock_simulator import SimulatorConfig, start_simulator
from liftoff.local.knowledge_base import (
    K1,
    LocalAgentRuntimeClient,
    LocalKnowledgeBase,
    chunk_document,
    local_knowledge_base_id,
    status,
    sync,
    words,
)
from tests.fixtures.project import CONTENT

USE_CASE = "fixture-rag"


def operation(name: str):
    return botocore.session.get_session().get_service_model("bedrock-agent-runtime").operation_model(name)


def problems(value: dict, shape) -> str:
    report = ParamValidator().validate(value, shape)
    return report.generate_report() if report.has_errors() else ""


def request(kb_id: str, text: str, k: int = 5) -> dict:
    return {
        "knowledgeBaseId": kb_id,
        "retrievalQuery": {"text": text},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": k}},
    }


@pytest.fixture(scope="module")
def use_case():
    return load_use_case(USE_CASE, CONTENT)


@pytest.fixture(scope="module")
def kb(use_case):
    return LocalKnowledgeBase.for_use_case(use_case)


@pytest.fixture(scope="module")
def client(kb):
    """The real boto3 client, pointed at the simulator's server, which serves the stand-in."""
    server, url = start_simulator(config=SimulatorConfig(knowledge_bases=[kb]))
    yield boto3.client(
        "bedrock-agent-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )
    server.shutdown()


@pytest.fixture
def scratch_kb(tmp_path, use_case):
    folder = tmp_path / "docs"
    shutil.copytree(CONTENT / "knowledge" / USE_CASE, folder)
    return LocalKnowledgeBase(USE_CASE, folder, use_case.config.knowledge.chunking)


def test_a_policy_question_retrieves_its_document_in_the_real_response_shape(kb, client):
    # Given the fixture use case's five documents, and a request in the shape the service takes
    body = request(kb.knowledge_base_id, "How many unused leave days can be carried over?")
    assert problems(body, operation("Retrieve").input_shape) == ""
    # When it is sent through boto3 (botocore parses the reply with the service model)
    response = client.retrieve(**body)
    # Then the reply holds only members of Retrieve's output shape, the best passage is the leave policy's,
    # and each result carries its S3 location and the service's metadata keys
    raw = kb.retrieve(**body)
    assert problems(raw, operation("Retrieve").output_shape) == ""
    best = response["retrievalResults"][0]
    uri = f"s3://liftoff-local-{USE_CASE}/leave-policy.md"
    assert best["location"] == {"type": "S3", "s3Location": {"uri": uri}}
    assert best["content"]["type"] == "TEXT" and "Up to 5 unused days can be carried over" in best["content"]["text"]
    assert best["metadata"]["x-amz-bedrock-kb-source-uri"] == uri
    assert best["metadata"]["x-amz-bedrock-kb-chunk-id"] and best["metadata"]["x-amz-bedrock-kb-data-source-id"]
    assert [r["score"] for r in response["retrievalResults"]] == sorted(
        (r["score"] for r in response["retrievalResults"]), reverse=True
    )


def test_sidecar_metadata_attributes_are_in_each_results_metadata(kb):
    response = kb.retrieve(**request(kb.knowledge_base_id, "hotel cap per night in capital cities"))
    by_file = {
        r["location"]["s3Location"]["uri"].rsplit("/", 1)[1]: r["metadata"] for r in response["retrievalResults"]
    }
    assert by_file["travel-policy-2026.md"]["effective_date"] == "2026-01-01"
    assert by_file["travel-policy-2026.md"]["status"] == "current"
    assert by_file["travel-policy-2024.md"]["status"] == "superseded"
    assert "effective_date" not in by_file["per-diem-rates.md"]  # no sidecar, only the service's keys


def test_number_of_results_caps_the_results(kb):
    response = kb.retrieve(**request(kb.knowledge_base_id, "days policy travel hotel leave remote", k=2))
    assert len(response["retrievalResults"]) == 2


def test_min_score_on_the_normalised_scores_separates_answerable_from_unanswerable_cases(kb, use_case):
    # Given the fixture eval set, and the use case's min_score
    min_score = use_case.config.knowledge.min_score
    for case in load_cases(USE_CASE, root=CONTENT):
        results = kb.retrieve(**request(kb.knowledge_base_id, case.variables["question"]))["retrievalResults"]
        kept = [r for r in results if r["score"] >= min_score]
        assert all(0 <= r["score"] <= 1 for r in results)
        if case.answerable:  # Then an answerable question keeps a passage of its expected source
            sources = {r["location"]["s3Location"]["uri"].rsplit("/", 1)[1] for r in kept}
            assert set(case.expected_sources) <= sources, case.id
        else:  # and an unanswerable one keeps none: the prompt's refusal, with no model call
            assert kept == [], case.id


def test_the_score_is_the_share_of_the_querys_idf_a_chunk_holds(tmp_path):
    # Given two documents of equal length (so both are of average length): one holds both query words once
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("alpha beta gamma delta")
    (folder / "b.md").write_text("gamma delta epsilon zeta")
    kb = LocalKnowledgeBase("t", folder)
    # When the query is those two words, it scores exactly 1: each word's bm25 part is idf / (1 + k1)
    ((chunk, score),) = kb.scores("alpha beta")
    assert chunk.source == "a.md" and score == pytest.approx(1.0)
    # And with a third word no document has, the score is the share of the query's idf that was found
    idf_found, idf_absent = math.log(1 + 1.5 / 1.5), math.log(1 + 2.5 / 0.5)  # df 1 and 0 of N = 2
    ((_, score),) = kb.scores("alpha beta omega")
    assert score == pytest.approx(2 * idf_found / (2 * idf_found + idf_absent))
    assert K1 == 1.5  # the reference's 1 + k1 is the tf part of a word found once at average length


def test_a_word_repeated_does_not_make_up_for_a_missing_one(tmp_path):
    # Given a chunk that repeats one query word four times, and another that holds both words once
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("canteen canteen canteen canteen")
    (folder / "b.md").write_text("canteen lyon menu today")
    kb = LocalKnowledgeBase("t", folder)
    # Then the chunk holding both ranks first with 1.0, and the repetition scores only the word's share
    (best, top), (other, score) = kb.scores("Lyon canteen")
    assert (best.source, top) == ("b.md", pytest.approx(1.0))
    idf_canteen, idf_lyon = math.log(1 + 0.5 / 2.5), math.log(1 + 1.5 / 1.5)  # df 2 and 1 of N = 2
    assert other.source == "a.md" and score == pytest.approx(idf_canteen / (idf_canteen + idf_lyon))


def test_fault_markers_are_not_words_of_the_query(kb):
    plain = kb.retrieve(**request(kb.knowledge_base_id, "What is the per-diem in Lisbon?"))
    marked = kb.retrieve(**request(kb.knowledge_base_id, "What is the per-diem in Lisbon? [[sim:ungrounded]]"))
    assert marked == plain


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (request("ABCDEFGHIJ", "hotel"), "ResourceNotFoundException"),
        (request(local_knowledge_base_id(USE_CASE), "hotel [[sim:kb-throttle]]"), "ThrottlingException"),
        (request(local_knowledge_base_id(USE_CASE), "hotel [[sim:kb-denied]]"), "AccessDeniedException"),
        (
            {
                **request(local_knowledge_base_id(USE_CASE), "hotel"),
                "retrievalConfiguration": {
                    "vectorSearchConfiguration": {"filter": {"equals": {"key": "status", "value": "current"}}}
                },
            },
            "ValidationException",
        ),
    ],
    ids=["unknown-id", "throttled", "denied", "filter"],
)
def test_errors_come_as_the_services_error_codes(client, body, code):
    # The real client raises botocore's ClientError with the code, as from Bedrock
    with pytest.raises(ClientError) as raised:
        client.retrieve(**body)
    assert raised.value.response["Error"]["Code"] == code
    error_codes = {shape.name for shape in operation("Retrieve").error_shapes}
    assert code in error_codes


def test_the_in_memory_client_answers_and_fails_like_boto3(kb):
    fake = LocalAgentRuntimeClient(kb)
    response = fake.retrieve(**request(kb.knowledge_base_id, "remote work days per week"))
    assert response["retrievalResults"][0]["location"]["s3Location"]["uri"].endswith("/remote-work.txt")
    arn = f"arn:aws:bedrock:us-east-1:000000000000:knowledge-base/{kb.knowledge_base_id}"
    assert fake.retrieve(**request(arn, "remote work"))["retrievalResults"]
    with pytest.raises(ClientError) as raised:
        fake.retrieve(**request("ZZZZZZZZZZ", "remote work"))
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_the_index_follows_the_folder(scratch_kb):
    # Given a knowledge base that has answered once
    query = request(scratch_kb.knowledge_base_id, "Where do bicycles park?")
    assert scratch_kb.retrieve(**query)["retrievalResults"] == []
    # When a document is added to its folder
    (scratch_kb.folder / "parking.md").write_text("# Parking\n\nBicycles park free in the office garage.\n")
    # Then the next call finds it, without a restart
    found = scratch_kb.retrieve(**query)["retrievalResults"]
    assert found[0]["location"]["s3Location"]["uri"].endswith("/parking.md")
    assert scratch_kb.status().documents == 6


def test_status_names_the_documents_it_could_not_index(scratch_kb):
    (scratch_kb.folder / "leave-policy.md.metadata.json").write_text("{not json")
    (scratch_kb.folder / "handbook.pdf").write_bytes(b"%PDF-1.7")
    (scratch_kb.folder / "orphan.md.metadata.json").write_text(json.dumps({"metadataAttributes": {}}))
    report = scratch_kb.rebuild()
    failed = dict(report.failed)
    assert report.documents == 4 and report.label.startswith("lexical")
    assert "not valid JSON" in failed["leave-policy.md"]
    assert "not read locally" in failed["handbook.pdf"]
    assert "for no document" in failed["orphan.md.metadata.json"]


def test_sync_and_status_ask_the_running_local_mode_first(use_case):
    asked = []

    def running(name, method, kb_id):
        asked.append((name, method, kb_id))

    # With no local mode running (the asker answers None), the folder is indexed here
    assert sync(use_case, ask=running).documents == 5
    assert status(use_case, ask=running).chunks >= 5
    assert asked == [
        (USE_CASE, "POST", local_knowledge_base_id(USE_CASE)),
        (USE_CASE, "GET", local_knowledge_base_id(USE_CASE)),
    ]


def text_of(n: int) -> str:
    return " ".join(f"w{i}" for i in range(n))


def test_fixed_size_chunks_are_max_tokens_long_and_overlap():
    # 100 tokens = 75 words; 20 % overlap = 15 words repeated from the chunk before
    chunks = chunk_document("d.md", text_of(200), ChunkingConfig(max_tokens=100, overlap_percentage=20))
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert len(first) == 75 and first[-15:] == second[:15]
    assert chunks[-1].text.split()[-1] == "w199"  # nothing is lost at the end


def test_hierarchical_chunking_searches_children_and_returns_their_parent_once(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "long.md").write_text(f"{text_of(100)} vacation carryover {text_of(250)}")
    chunking = ChunkingConfig(strategy="hierarchical", parent_max_tokens=400, child_max_tokens=40, overlap_tokens=4)
    kb = LocalKnowledgeBase("t", folder, chunking)
    chunks = chunk_document("long.md", (folder / "long.md").read_text(), chunking)
    assert len({c.parent for c in chunks}) == 2 and all(len(c.searched.split()) <= 30 for c in chunks)
    results = kb.retrieve(**request(kb.knowledge_base_id, "vacation carryover"))["retrievalResults"]
    assert len(results) == 1 and len(results[0]["content"]["text"].split()) > 30  # the parent's text


def test_semantic_chunking_approximation_starts_a_chunk_at_each_heading():
    text = "# Leave\n\nTwenty-eight days.\n\n# Travel\n\nEconomy class.\n\nReceipts in 14 days."
    chunks = chunk_document("p.md", text, ChunkingConfig(strategy="semantic", max_tokens=300))
    assert [c.text for c in chunks] == [
        "# Leave\n\nTwenty-eight days.",
        "# Travel\n\nEconomy class.\n\nReceipts in 14 days.",
    ]


def test_words_are_stemmed_and_question_words_dropped():
    assert words("How many days can I carry over? Carried, capped, caps") == [
        "day",
        "carri",
        "over",
        "carri",
        "cap",
        "cap",
    ]


def test_a_documents_folder_that_is_not_there_is_a_failure_not_an_empty_sync(tmp_path):
    # Given a use case whose documents folder does not exist (a typo in knowledge.documents.path, or not created)
    kb = LocalKnowledgeBase("t", tmp_path / "missing")
    # When it is indexed (what `liftoff kb sync --local` does)
    status = kb.rebuild()
    # Then it says the folder is missing, so the sync fails, rather than reporting 0 documents indexed
    assert status.documents == 0
    ((where, reason),) = status.failed
    assert where == str(tmp_path / "missing") and "does not exist" in reason and "documents.path" in reason
    assert kb.scores("anything") == []


def test_a_binary_document_and_a_non_utf8_sidecar_are_reported_not_raised(tmp_path):
    # Given a .txt of binary bytes, and a Markdown document whose sidecar is not UTF-8
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "scan.txt").write_bytes(b"\x00\x01\x02\xff\xfe" * 50)
    (folder / "a.md").write_text("alpha beta")
    (folder / "a.md.metadata.json").write_bytes(b'{"metadataAttributes": {"x": "\xff"}}')
    (folder / "b.md").write_text("")
    # When indexed / Then nothing raises (bm25s cannot index a corpus without a word): each is a failure with its
    # reason, and Retrieve answers no passage
    kb = LocalKnowledgeBase("t", folder)
    failed = dict(kb.rebuild().failed)
    assert "not valid JSON" in failed["a.md"] and failed["b.md"] == "empty document"
    assert "no words the lexical stand-in can search" in failed["scan.txt"]
    assert kb.retrieve(knowledgeBaseId=kb.knowledge_base_id, retrievalQuery={"text": "alpha"}) == {
        "retrievalResults": []
    }
