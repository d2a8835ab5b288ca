"""liftoff kb sync / status against Stubber-faked bedrock-agent and CloudFormation clients: every call is stubbed
in order with botocore's shapes (an unexpected call or parameter fails), on the fixture retrieval use case."""

from datetime import UTC, datetime
from pathlib import Path

import boto3
import click
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from liftoff import kb as kb_module
from liftoff.cli import main
from liftoff.foundation.names import stack_name
from liftoff.foundation.usecases import load_use_case
from liftoff.kb import (
    KnowledgeBase,
    KnowledgeBaseRef,
    client_token,
    knowledge_base_refs,
    refs_from_outputs,
    status,
    sync,
)

FIXTURE_PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "project"
REGION = "us-east-1"
KB_ID, DS_ID = "KB12345678", "DS12345678"
IDS = {"knowledgeBaseId": KB_ID, "dataSourceId": DS_ID}
REF = KnowledgeBaseRef("fixture-rag", "sandbox", KB_ID, DS_ID, "liftoff-fixture-rag-docs")
WHEN = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
NEWEST_FIRST = {"sortBy": {"attribute": "STARTED_AT", "order": "DESCENDING"}}


@pytest.fixture
def rag():
    return load_use_case("fixture-rag", FIXTURE_PROJECT)


@pytest.fixture
def agent():
    client = boto3.client("bedrock-agent", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def job(job_id="JOB0000001", state="IN_PROGRESS", failure_reasons=None, **statistics) -> dict:
    answer = {**IDS, "ingestionJobId": job_id, "status": state, "startedAt": WHEN, "updatedAt": WHEN}
    if statistics:
        answer["statistics"] = statistics
    if failure_reasons:
        answer["failureReasons"] = failure_reasons
    return answer


def summary(job_id, state):
    return {**IDS, "ingestionJobId": job_id, "status": state, "startedAt": WHEN, "updatedAt": WHEN}


def document(name, state, reason=None):
    detail = {
        **IDS,
        "status": state,
        "identifier": {"dataSourceType": "S3", "s3": {"uri": f"s3://liftoff-fixture-rag-docs/{name}"}},
    }
    if reason:
        detail["statusReason"] = reason
    return detail


def expect_recent(stub, jobs, count=1):
    stub.add_response(
        "list_ingestion_jobs", {"ingestionJobSummaries": jobs}, {**IDS, **NEWEST_FIRST, "maxResults": count}
    )


def expect_start(stub, answer, token=ANY):
    stub.add_response(
        "start_ingestion_job",
        {"ingestionJob": answer},
        {**IDS, "clientToken": token, "description": "liftoff kb sync"},
    )


def expect_documents(stub, pages):
    for index, page in enumerate(pages):
        response = {"documentDetails": page}
        if index < len(pages) - 1:
            response["nextToken"] = f"page-{index + 1}"
        params = {**IDS} if index == 0 else {**IDS, "nextToken": f"page-{index}"}
        stub.add_response("list_knowledge_base_documents", response, params)


def run_sync(client, **options):
    lines: list[str] = []
    code = sync(KnowledgeBase(REF, client), lines.append, pause=lambda s: None, **options)
    return code, "\n".join(lines)


def test_sync_starts_a_job_and_prints_its_progress_until_complete(agent):
    # Given no job has run yet, and a job that goes STARTING -> IN_PROGRESS -> COMPLETE
    client, stub = agent
    expect_recent(stub, [])
    expect_start(stub, job(state="STARTING"), token=client_token(REF, None))
    stub.add_response(
        "get_ingestion_job",
        {"ingestionJob": job(numberOfDocumentsScanned=3, numberOfNewDocumentsIndexed=1)},
        {**IDS, "ingestionJobId": "JOB0000001"},
    )
    stub.add_response(
        "get_ingestion_job",
        {
            "ingestionJob": job(
                state="COMPLETE", numberOfDocumentsScanned=5, numberOfNewDocumentsIndexed=5, numberOfDocumentsFailed=0
            )
        },
        {**IDS, "ingestionJobId": "JOB0000001"},
    )
    expect_documents(stub, [[document("leave-policy.md", "INDEXED")]])
    # When it syncs
    code, out = run_sync(client)
    # Then each change of status and counters is a line, and the end says every document is indexed
    assert code == 0
    assert "started ingestion job JOB0000001 on knowledge base KB12345678" in out
    lines = out.splitlines()
    assert lines[1].split() == ["STARTING", "no", "statistics", "yet"]
    assert "IN_PROGRESS scanned 3, new 1" in out
    assert "COMPLETE    scanned 5, new 5, failed 0" in out
    assert "failed documents: none" in out
    assert out.endswith("ingestion COMPLETE: every document is indexed")


def test_a_failed_job_lists_its_reasons_and_every_failed_document_across_pages(agent):
    # Given a job that fails, and two pages of documents with three that did not index
    client, stub = agent
    expect_recent(stub, [summary("JOB0000000", "COMPLETE")])
    expect_start(stub, job(state="STARTING"), token=client_token(REF, "JOB0000000"))
    reasons = ["The knowledge base role is not authorized to perform s3vectors:PutVectors"]
    stub.add_response(
        "get_ingestion_job",
        {"ingestionJob": job(state="FAILED", failure_reasons=reasons, numberOfDocumentsFailed=3)},
        {**IDS, "ingestionJobId": "JOB0000001"},
    )
    expect_documents(
        stub,
        [
            [
                document("leave-policy.md", "INDEXED"),
                document("scan.pdf", "FAILED", "The file could not be parsed"),
            ],
            [
                document("huge.md", "FAILED", "Filterable metadata exceeds 2048 bytes"),
                document("remote-work.txt", "METADATA_UPDATE_FAILED", "Invalid metadata file"),
                document("per-diem-rates.md", "INDEXED"),
            ],
        ],
    )
    # When it syncs
    code, out = run_sync(client)
    # Then it exits 1, names the job's reason and each failed document with its own reason
    assert code == 1
    assert "reason: The knowledge base role is not authorized to perform s3vectors:PutVectors" in out
    assert "failed documents (3):" in out
    assert "FAILED           s3://liftoff-fixture-rag-docs/scan.pdf: The file could not be parsed" in out
    assert "s3://liftoff-fixture-rag-docs/huge.md: Filterable metadata exceeds 2048 bytes" in out
    assert "METADATA_UPDATE_FAILED s3://liftoff-fixture-rag-docs/remote-work.txt: Invalid metadata file" in out
    assert "leave-policy.md" not in out
    assert "ingestion FAILED" in out


def test_a_throttled_start_is_sent_again_with_the_same_client_token(agent):
    # Given Bedrock throttles the first StartIngestionJob
    client, stub = agent
    token = client_token(REF, "JOB0000000")
    expect_recent(stub, [summary("JOB0000000", "COMPLETE")])
    stub.add_client_error(
        "start_ingestion_job",
        "ThrottlingException",
        "Rate exceeded",
        429,
        expected_params={**IDS, "clientToken": token, "description": "liftoff kb sync"},
    )
    expect_start(stub, job(state="STARTING"), token=token)
    # When it syncs without waiting
    code, out = run_sync(client, wait=False)
    # Then the retry carried the same token (the Stubber compared it), so Bedrock starts one job
    assert code == 0
    assert "started ingestion job JOB0000001" in out
    assert "liftoff kb status --use-case fixture-rag --stage sandbox" in out


def test_the_client_token_is_stable_for_the_same_state_and_changes_after_a_job():
    first = client_token(REF, "JOB0000000")
    assert first == client_token(REF, "JOB0000000")  # a second run before any job started: the same request
    assert first != client_token(REF, "JOB0000001")  # once a job ran, a new sync is a new job
    assert 33 <= len(first) <= 256 and first.replace("-", "").isalnum()  # StartIngestionJob's ClientToken shape


def test_a_running_job_is_followed_and_no_second_job_is_started(agent):
    # Given a job is already running (a sync whose answer was lost, or the deploy's own ingestion)
    client, stub = agent
    expect_recent(stub, [summary("JOB0000007", "IN_PROGRESS")])
    stub.add_response(
        "get_ingestion_job",
        {"ingestionJob": job("JOB0000007", state="COMPLETE", numberOfDocumentsScanned=5)},
        {**IDS, "ingestionJobId": "JOB0000007"},
    )
    expect_documents(stub, [[]])
    # When it syncs: no start_ingestion_job is stubbed, so a start would fail the test
    code, out = run_sync(client)
    # Then it follows that job
    assert code == 0
    assert "ingestion job JOB0000007 is already IN_PROGRESS: following it" in out


def test_a_conflict_on_start_follows_the_job_that_started_meanwhile(agent):
    client, stub = agent
    expect_recent(stub, [])
    stub.add_client_error("start_ingestion_job", "ConflictException", "An ingestion job is already running", 409)
    expect_recent(stub, [summary("JOB0000009", "STARTING")])
    stub.add_response(
        "get_ingestion_job",
        {"ingestionJob": job("JOB0000009", state="COMPLETE")},
        {**IDS, "ingestionJobId": "JOB0000009"},
    )
    expect_documents(stub, [[]])
    code, out = run_sync(client)
    assert code == 0
    assert "ingestion job JOB0000009 started meanwhile: following it" in out


def test_access_denied_says_which_action_to_grant(agent):
    client, stub = agent
    expect_recent(stub, [])
    stub.add_client_error("start_ingestion_job", "AccessDeniedException", "not authorized", 403)
    with pytest.raises(click.ClickException) as raised:
        run_sync(client)
    message = raised.value.message
    assert "not allowed to call bedrock:StartIngestionJob" in message
    assert f"arn:aws:bedrock:{REGION}:<account>:knowledge-base/{KB_ID}" in message


def test_a_knowledge_base_deleted_outside_the_stack_says_deploy_again(agent):
    client, stub = agent
    stub.add_client_error("list_ingestion_jobs", "ResourceNotFoundException", "Knowledge base not found", 404)
    with pytest.raises(click.ClickException, match="deleted outside the stack .*npx cdk deploy -c stage=sandbox"):
        run_sync(client)


def test_a_job_that_does_not_finish_in_time_is_left_running_with_how_to_follow_it(agent):
    client, stub = agent
    expect_recent(stub, [])
    expect_start(stub, job(state="IN_PROGRESS"))
    times = iter([0.0, 10.0])
    with pytest.raises(click.ClickException, match="still IN_PROGRESS after 5 s: it goes on running"):
        run_sync(client, timeout_s=5, clock=lambda: next(times))


def test_status_shows_the_knowledge_base_the_data_source_the_jobs_and_failed_documents(agent):
    client, stub = agent
    stub.add_response(
        "get_knowledge_base",
        {
            "knowledgeBase": {
                "knowledgeBaseId": KB_ID,
                "name": "liftoff-fixture-rag-sandbox",
                "knowledgeBaseArn": f"arn:aws:bedrock:{REGION}:123456789012:knowledge-base/{KB_ID}",
                "roleArn": "arn:aws:iam::123456789012:role/kb",
                "knowledgeBaseConfiguration": {
                    "type": "VECTOR",
                    "vectorKnowledgeBaseConfiguration": {
                        "embeddingModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/amazon.titan-embed-text-v2:0"
                    },
                },
                "storageConfiguration": {"type": "S3_VECTORS"},
                "status": "ACTIVE",
                "createdAt": WHEN,
                "updatedAt": WHEN,
            }
        },
        {"knowledgeBaseId": KB_ID},
    )
    stub.add_response(
        "get_data_source",
        {
            "dataSource": {
                **IDS,
                "name": "documents",
                "status": "AVAILABLE",
                "dataSourceConfiguration": {
                    "type": "S3",
                    "s3Configuration": {"bucketArn": "arn:aws:s3:::liftoff-fixture-rag-docs"},
                },
                "vectorIngestionConfiguration": {
                    "chunkingConfiguration": {
                        "chunkingStrategy": "FIXED_SIZE",
                        "fixedSizeChunkingConfiguration": {"maxTokens": 300, "overlapPercentage": 20},
                    }
                },
                "createdAt": WHEN,
                "updatedAt": WHEN,
            }
        },
        IDS,
    )
    expect_recent(stub, [summary("JOB0000002", "FAILED"), summary("JOB0000001", "COMPLETE")], count=5)
    expect_documents(stub, [[document("scan.pdf", "FAILED", "The file could not be parsed")]])
    lines: list[str] = []
    code = status([KnowledgeBase(REF, client)], lines.append)
    out = "\n".join(lines)
    assert code == 1  # the newest job failed
    assert "knowledge base KB12345678 (liftoff-fixture-rag-sandbox): ACTIVE, storage S3_VECTORS" in out
    assert "foundation-model/amazon.titan-embed-text-v2:0" in out
    assert (
        "data source DS12345678 (documents): AVAILABLE, arn:aws:s3:::liftoff-fixture-rag-docs, chunking FIXED_SIZE"
        in out
    )
    assert out.index("JOB0000002  FAILED") < out.index("JOB0000001  COMPLETE")
    assert "s3://liftoff-fixture-rag-docs/scan.pdf: The file could not be parsed" in out


# --- the stack's outputs ------------------------------------------------------------------------------


@pytest.fixture
def cloudformation():
    client = boto3.client("cloudformation", region_name=REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def stack(outputs: dict) -> dict:
    return {
        "Stacks": [
            {
                "StackName": stack_name("fixture-rag", "sandbox"),
                "CreationTime": WHEN,
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


def test_the_ids_come_from_the_stack_outputs(rag, cloudformation):
    client, stub = cloudformation
    stub.add_response(
        "describe_stacks",
        stack({"KnowledgeBaseId": KB_ID, "DataSourceId": DS_ID, "DocumentsBucket": "docs-bucket"}),
        {"StackName": "Liftoff-fixture-rag-sandbox"},
    )
    assert knowledge_base_refs(rag, "sandbox", client) == [
        KnowledgeBaseRef("fixture-rag", "sandbox", KB_ID, DS_ID, "docs-bucket")
    ]


def test_every_data_source_the_stack_lists_is_one_ref():
    # the repository's folder and an existing bucket are a data source each (DataSourceIds; DataSourceId: the first)
    outputs = {"KnowledgeBaseId": KB_ID, "DataSourceId": DS_ID, "DataSourceIds": f"{DS_ID},DS87654321"}
    refs = refs_from_outputs("fixture-rag", "sandbox", outputs)
    assert [r.data_source_id for r in refs] == [DS_ID, "DS87654321"]
    assert {r.knowledge_base_id for r in refs} == {KB_ID}


def test_a_stack_that_is_not_deployed_says_how_to_deploy_it(rag, cloudformation):
    client, stub = cloudformation
    stub.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id Liftoff-fixture-rag-sandbox does not exist", 400
    )
    with pytest.raises(click.ClickException) as raised:
        knowledge_base_refs(rag, "sandbox", client)
    assert "stack Liftoff-fixture-rag-sandbox is not deployed in us-east-1" in raised.value.message
    assert "npx cdk deploy -c stage=sandbox -c use_case=fixture-rag" in raised.value.message


def test_a_stack_deployed_before_knowledge_was_added_says_deploy_again(rag, cloudformation):
    client, stub = cloudformation
    stub.add_response(
        "describe_stacks", stack({"InvokeUrl": "https://x"}), {"StackName": "Liftoff-fixture-rag-sandbox"}
    )
    with pytest.raises(click.ClickException, match="has no KnowledgeBaseId output: it was deployed before"):
        knowledge_base_refs(rag, "sandbox", client)


def test_a_use_case_without_knowledge_is_refused_naming_its_file():
    from liftoff import REPO_ROOT
    from liftoff.foundation.usecases import load_all_use_cases

    plain = next(u for u in load_all_use_cases(REPO_ROOT) if u.config.knowledge is None)
    with pytest.raises(click.ClickException, match=rf"usecases/{plain.name}.yaml has no `knowledge:` section"):
        knowledge_base_refs(plain, "sandbox")


# --- the commands -------------------------------------------------------------------------------------


def test_the_command_needs_a_stage_or_local():
    result = CliRunner().invoke(main, ["kb", "sync"])  # (a --use-case given must name a use case of the project)
    assert result.exit_code == 2
    assert "give either --stage sandbox|prod (a deployed stack) or --local" in result.output


def test_local_sync_reports_what_the_stand_in_indexed(rag):
    # With no local mode running, the documents folder is indexed in the command's process
    lines: list[str] = []
    assert kb_module.local_sync(rag, lines.append) == 0
    assert "lexical (BM25), not semantic" in lines[0] and "5 documents" in lines[0] and "(fixed_size)" in lines[0]
