"""A use case with `knowledge:` (tests/fixtures/project's fixture-rag): its stack holds the documents bucket
and their deployment, the S3 Vectors bucket and index, the Bedrock knowledge base on S3_VECTORS with its data
source, and an ingestion trigger; every new role's IAM is exactly what it needs; retention follows the stage;
cdk-nag, cfn-lint and checkov stay clean (test_checks.py, over the same synth). A use case without `knowledge:` gets
none of it."""

from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from liftoff.cost_project import ALARMS, alarm_count
from liftoff.foundation.config import ChunkingConfig, EmbeddingConfig, GroundingConfig, get_stage
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.names import stack_name
from liftoff.foundation.usecases import load_use_case
from stacks.constructs.knowledge_base import bedrock_name, chunking_configuration
from stacks.constructs.knowledge_documents import KnowledgeDocuments, documents_digest
from stacks.constructs.model_guardrail import policy_properties, version_description
from stacks.constructs.vector_store import index_name
from stacks.nag import add_nag_checks
from stacks.usecase_stack import UseCaseStack
from tests.fixtures.project import CONTENT
from tests.synth import ENV

from .test_effective_permissions import as_list, boundary_refusals, identity_statements

FIXTURE = "fixture-rag"
ACCOUNT = "111111111111"
OWN_ACCOUNT = {"StringEquals": {"aws:ResourceAccount": ACCOUNT}}
KNOWLEDGE_TYPES = (
    "AWS::S3Vectors::VectorBucket",
    "AWS::S3Vectors::Index",
    "AWS::Bedrock::KnowledgeBase",
    "AWS::Bedrock::DataSource",
    "AWS::S3::Bucket",
    "Custom::CDKBucketDeployment",
    "Custom::LiftoffKnowledgeIngestion",
)


def fixture_use_case():
    return load_use_case(FIXTURE, root=CONTENT)


def synth(outdir: str, stage: str, use_case) -> dict:
    """`use_case`'s stack in `stage`, synthesized with cdk-nag on (as app.py); its template."""
    app = cdk.App(outdir=outdir)
    stack = UseCaseStack(app, stack_name(use_case.name, stage), use_case=use_case, stage=get_stage(stage), env=ENV)
    add_nag_checks(app)
    app.synth()
    return Template.from_stack(stack).to_json()


@pytest.fixture
def rag(synthesized):
    """(stage, outdir, template) of fixture-rag, from the session's synth of the fixture project (tests/infra/
    conftest.py), which test_checks.py also holds to cdk-nag, cfn-lint and checkov: fixture-rag is one of its stacks."""
    stage, outdir, templates = synthesized
    return stage, outdir, templates[FIXTURE].to_json()


def of_type(template: dict, kind: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def one(template: dict, kind: str) -> tuple[str, dict]:
    (found,) = of_type(template, kind).items()
    return found


def get_att(template: dict, kind: str, attribute: str) -> dict:
    return {"Fn::GetAtt": [one(template, kind)[0], attribute]}


def arn(*parts) -> dict:
    """A CloudFormation ARN as CDK writes it: "arn:" + partition + the rest."""
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, *parts]]}


EMBEDDING_ARN = arn(":bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0")


def policy_of(template: dict, role_id: str) -> list[dict]:
    return [
        s
        for p in of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in as_list(p["Properties"]["PolicyDocument"]["Statement"])
    ]


def role_of_function(template: dict, handler: str) -> str:
    (function,) = [
        f for f in of_type(template, "AWS::Lambda::Function").values() if f["Properties"].get("Handler") == handler
    ]
    return function["Properties"]["Role"]["Fn::GetAtt"][0]


# -- the resources --------------------------------------------------------------------------------------


def test_the_vector_bucket_and_index(rag):
    _, _, template = rag
    embedding = fixture_use_case().config.knowledge.embedding
    _, bucket = one(template, "AWS::S3Vectors::VectorBucket")
    assert bucket["Properties"]["EncryptionConfiguration"] == {"SseType": "AES256"}
    assert "VectorBucketName" not in bucket["Properties"]  # CloudFormation names it: a replacement never collides
    _, index = one(template, "AWS::S3Vectors::Index")
    props = index["Properties"]
    assert props["VectorBucketArn"] == get_att(template, "AWS::S3Vectors::VectorBucket", "VectorBucketArn")
    assert (props["Dimension"], props["DistanceMetric"], props["DataType"]) == (1024, "cosine", "float32")
    assert props["Dimension"] == embedding.dimension
    assert props["MetadataConfiguration"] == {
        "NonFilterableMetadataKeys": ["AMAZON_BEDROCK_TEXT", "AMAZON_BEDROCK_METADATA"]
    }
    assert props["EncryptionConfiguration"] == {"SseType": "AES256"}
    assert props["IndexName"] == index_name(embedding)


def test_the_knowledge_base_stores_on_s3_vectors_with_the_configured_embedding(rag):
    _, _, template = rag
    _, kb = one(template, "AWS::Bedrock::KnowledgeBase")
    props = kb["Properties"]
    assert props["KnowledgeBaseConfiguration"] == {
        "Type": "VECTOR",
        "VectorKnowledgeBaseConfiguration": {
            "EmbeddingModelArn": EMBEDDING_ARN,
            "EmbeddingModelConfiguration": {
                "BedrockEmbeddingModelConfiguration": {"Dimensions": 1024, "EmbeddingDataType": "FLOAT32"}
            },
        },
    }
    assert props["StorageConfiguration"] == {
        "Type": "S3_VECTORS",
        "S3VectorsConfiguration": {
            "IndexArn": get_att(template, "AWS::S3Vectors::Index", "IndexArn"),
            "VectorBucketArn": get_att(template, "AWS::S3Vectors::VectorBucket", "VectorBucketArn"),
        },
    }
    assert props["RoleArn"] == {"Fn::GetAtt": [kb_role(template), "Arn"]}
    # the role's policy exists before the knowledge base (and is deleted after its data source)
    assert set(kb["DependsOn"]) >= {kb_role(template)} and any("DefaultPolicy" in d for d in kb["DependsOn"])


def test_the_data_source_reads_the_documents_bucket_with_the_configured_chunking(rag):
    _, _, template = rag
    _, source = one(template, "AWS::Bedrock::DataSource")
    props = source["Properties"]
    assert props["KnowledgeBaseId"] == get_att(template, "AWS::Bedrock::KnowledgeBase", "KnowledgeBaseId")
    assert props["DataSourceConfiguration"] == {
        "Type": "S3",
        "S3Configuration": {"BucketArn": get_att(template, "AWS::S3::Bucket", "Arn")},  # the whole bucket
    }
    assert props["VectorIngestionConfiguration"] == {
        "ChunkingConfiguration": {
            "ChunkingStrategy": "FIXED_SIZE",
            "FixedSizeChunkingConfiguration": {"MaxTokens": 300, "OverlapPercentage": 20},
        }
    }
    assert props["DataDeletionPolicy"] == "DELETE"  # a replaced data source takes its chunks out of the index


def test_the_documents_bucket_is_encrypted_private_tls_only_and_versioned(rag):
    _, _, template = rag
    bucket_id, bucket = one(template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    (policy,) = of_type(template, "AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert bucket["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_18"  # access logs: skipped with its reason


def test_the_repository_folder_is_deployed_into_the_documents_bucket(rag):
    _, _, template = rag
    _, deployment = one(template, "Custom::CDKBucketDeployment")
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == {"Ref": one(template, "AWS::S3::Bucket")[0]}
    assert props["Prune"] is True and props["RetainOnDelete"] is True
    assert "DestinationBucketKeyPrefix" not in props


# -- IAM, exactly ----------------------------------------------------------------------------------------


def kb_role(template: dict) -> str:
    (role_id,) = [
        k
        for k, r in of_type(template, "AWS::IAM::Role").items()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
        == "bedrock.amazonaws.com"
    ]
    return role_id


def test_the_knowledge_base_role_is_trusted_by_bedrock_for_this_accounts_knowledge_bases_only(rag):
    _, _, template = rag
    role = template["Resources"][kb_role(template)]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": arn(f":bedrock:us-east-1:{ACCOUNT}:knowledge-base/*")},
            },
        }
    ]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    # held to the stack's boundary like every other role
    assert role["PermissionsBoundary"] == {"Ref": one(template, "AWS::IAM::ManagedPolicy")[0]}


def test_the_knowledge_base_role_reads_the_documents_uses_its_index_and_embeds_with_its_model_only(rag):
    _, _, template = rag
    bucket = get_att(template, "AWS::S3::Bucket", "Arn")
    assert policy_of(template, kb_role(template)) == [
        {
            "Sid": "ListDocuments",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket,
            "Condition": OWN_ACCOUNT,
        },
        {
            "Sid": "ReadDocuments",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": {"Fn::Join": ["", [bucket, "/*"]]},
            "Condition": OWN_ACCOUNT,
        },
        {
            "Sid": "UseOwnVectorIndex",
            "Effect": "Allow",
            "Action": [
                "s3vectors:GetIndex",
                "s3vectors:QueryVectors",
                "s3vectors:PutVectors",
                "s3vectors:GetVectors",
                "s3vectors:DeleteVectors",
            ],
            "Resource": get_att(template, "AWS::S3Vectors::Index", "IndexArn"),
            "Condition": OWN_ACCOUNT,
        },
        {
            "Sid": "EmbedWithConfiguredModel",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": EMBEDDING_ARN,
        },
    ]


@pytest.mark.parametrize(
    "handler", ["service.handlers.invoke.lambda_handler", "service.handlers.canary.lambda_handler"]
)
def test_the_invoke_and_canary_functions_may_retrieve_from_their_knowledge_base_only(rag, handler):
    _, _, template = rag
    statements = policy_of(template, role_of_function(template, handler))
    retrieval = [s for s in statements if any(a.startswith(("bedrock:Retrieve", "s3")) for a in as_list(s["Action"]))]
    assert retrieval == [
        {
            "Sid": "RetrieveFromOwnKnowledgeBase",
            "Effect": "Allow",
            "Action": "bedrock:Retrieve",
            "Resource": get_att(template, "AWS::Bedrock::KnowledgeBase", "KnowledgeBaseArn"),
        }
    ]
    # and nothing else new: the same statements as a use case without retrieval, plus that one
    sids = {s.get("Sid") for s in statements}
    assert "RetrieveFromOwnKnowledgeBase" in sids
    assert not any(
        "Knowledge" in str(s["Resource"]) for s in statements if s.get("Sid") != "RetrieveFromOwnKnowledgeBase"
    )


def test_the_invoke_environment_names_the_knowledge_base_and_the_retrieval_defaults(rag):
    _, _, template = rag
    knowledge = fixture_use_case().config.knowledge
    (function,) = [
        f
        for f in of_type(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "service.handlers.invoke.lambda_handler"
    ]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["LIFTOFF_KNOWLEDGE_BASE_ID"] == get_att(template, "AWS::Bedrock::KnowledgeBase", "KnowledgeBaseId")
    assert env["LIFTOFF_RETRIEVAL_TOP_K"] == str(knowledge.top_k) == "5"
    assert env["LIFTOFF_RETRIEVAL_MIN_SCORE"] == str(knowledge.min_score) == "0.4"
    assert env["LIFTOFF_GROUNDING"] == "BLOCK"


def test_the_ingestion_trigger_starts_a_job_only_after_the_documents_and_the_data_source(rag):
    _, _, template = rag
    _, trigger = one(template, "Custom::LiftoffKnowledgeIngestion")
    deployment_id, _ = one(template, "Custom::CDKBucketDeployment")
    source_id, _ = one(template, "AWS::Bedrock::DataSource")
    assert {deployment_id, source_id} <= set(trigger["DependsOn"])
    props = trigger["Properties"]
    assert props["Create"] == props["Update"] and "Delete" not in props  # deleting it starts (and stops) nothing
    assert props["InstallLatestAwsSdk"] is False  # nothing downloaded at deploy time
    separator, parts = props["Create"]["Fn::Join"]
    call = separator.join(json.dumps(p) if isinstance(p, dict) else p for p in parts)
    assert '"service":"bedrock-agent"' in call and '"action":"StartIngestionJob"' in call
    assert json.dumps(get_att(template, "AWS::Bedrock::KnowledgeBase", "KnowledgeBaseId")) in call
    assert json.dumps({"Fn::GetAtt": [source_id, "DataSourceId"]}) in call
    # the documents' hash is in its properties: a changed document updates it (a job starts), no change none
    assert documents_digest(CONTENT / "knowledge" / FIXTURE) in call
    # a start that fails (a job still running, throttling...) never fails the deploy or its rollback
    assert "ConflictException" in call and "AccessDeniedException" in call


def test_the_ingestion_function_may_start_jobs_of_its_knowledge_base_and_nothing_else(rag):
    _, _, template = rag
    role_id = one(template, "Custom::LiftoffKnowledgeIngestion")[1]["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    role_id = template["Resources"][role_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert policy_of(template, role_id) == [
        {
            "Sid": "StartIngestionOfOwnKnowledgeBase",
            "Effect": "Allow",
            "Action": "bedrock:StartIngestionJob",
            "Resource": get_att(template, "AWS::Bedrock::KnowledgeBase", "KnowledgeBaseArn"),
        }
    ]
    role = template["Resources"][role_id]["Properties"]
    assert role["ManagedPolicyArns"] == [arn(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")]
    assert role["PermissionsBoundary"] == {"Ref": one(template, "AWS::IAM::ManagedPolicy")[0]}


def test_the_deployment_function_reads_its_asset_and_writes_the_stacks_documents_bucket_only(rag):
    _, _, template = rag
    role_id = template["Resources"][
        one(template, "Custom::CDKBucketDeployment")[1]["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    ]["Properties"]["Role"]["Fn::GetAtt"][0]
    bucket = get_att(template, "AWS::S3::Bucket", "Arn")
    assets = f":s3:::cdk-hnb659fds-assets-{ACCOUNT}-us-east-1"
    read = ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
    assert policy_of(template, role_id) == [
        {"Action": read, "Effect": "Allow", "Resource": [arn(assets), arn(f"{assets}/*")]},
        {
            "Action": [
                *read,
                "s3:DeleteObject*",
                "s3:PutObject",
                "s3:PutObjectLegalHold",
                "s3:PutObjectRetention",
                "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging",
                "s3:Abort*",
            ],
            "Effect": "Allow",
            "Resource": [bucket, {"Fn::Join": ["", [bucket, "/*"]]}],
        },
    ]


def test_every_new_role_is_within_the_permissions_boundary(rag):
    """A grant the boundary does not allow fails at run time: the knowledge base role's embedding model must
    be among the boundary's named models, and S3 and S3 Vectors among its services."""
    _, _, template = rag
    resources = template["Resources"]
    problems, checked = [], 0
    for role_id, role in of_type(template, "AWS::IAM::Role").items():
        if "PermissionsBoundary" not in role["Properties"]:
            continue
        boundary = resources[role["Properties"]["PermissionsBoundary"]["Ref"]]["Properties"]["PolicyDocument"]
        checked += 1
        for statement in identity_statements(resources, role_id):
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    if why := boundary_refusals(boundary, action, resource):
                        problems.append(f"{role_id}: {action} on {resource}: {why}")
    assert checked >= 9  # the stack's roles, the knowledge base's, the deployment's and the ingestion's
    assert not problems, "\n".join(problems)


# -- retention ------------------------------------------------------------------------------------------


def test_prod_retains_documents_and_vectors_and_sandbox_deletes_them(rag):
    stage, _, template = rag
    policy = "Delete" if get_stage(stage).destroy_on_delete else "Retain"
    for kind in ("AWS::S3::Bucket", "AWS::S3Vectors::VectorBucket", "AWS::S3Vectors::Index"):
        _, resource = one(template, kind)
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (policy, policy), kind
    # S3 refuses to delete a bucket holding objects: sandbox empties it first, prod never
    auto_delete = of_type(template, "Custom::S3AutoDeleteObjects")
    assert len(auto_delete) == (1 if stage == "sandbox" else 0)
    # a vector bucket must be empty (no index) to be deleted: the index references it, so CloudFormation
    # deletes the index (vectors and all) first; the knowledge base references the index, so it goes before
    _, index = one(template, "AWS::S3Vectors::Index")
    assert index["Properties"]["VectorBucketArn"]["Fn::GetAtt"][0] == one(template, "AWS::S3Vectors::VectorBucket")[0]
    assert len(of_type(template, "AWS::S3Vectors::Index")) == 1  # nothing else lives in the vector bucket


# -- guardrail, monitoring, outputs ---------------------------------------------------------------------


def test_the_guardrail_checks_answers_against_their_passages(rag):
    _, _, template = rag
    _, guardrail = one(template, "AWS::Bedrock::Guardrail")
    assert guardrail["Properties"]["ContextualGroundingPolicyConfig"] == {
        "FiltersConfig": [
            {"Type": "GROUNDING", "Threshold": 0.75, "Action": "BLOCK", "Enabled": True},
            {"Type": "RELEVANCE", "Threshold": 0.5, "Action": "BLOCK", "Enabled": True},
        ]
    }


def test_grounding_settings_publish_a_new_guardrail_version_and_off_means_no_filter():
    config = fixture_use_case().config
    grounding = config.knowledge.grounding
    assert "contextualGroundingPolicyConfig" not in policy_properties(config.guardrail)
    assert "contextualGroundingPolicyConfig" not in policy_properties(
        config.guardrail, grounding.model_copy(update={"enabled": False})
    )
    measure = policy_properties(config.guardrail, grounding.model_copy(update={"action": "NONE"}))
    assert {f["action"] for f in measure["contextualGroundingPolicyConfig"]["filtersConfig"]} == {"NONE"}
    stricter = grounding.model_copy(update={"grounding_threshold": 0.9})
    assert version_description(config.guardrail, stricter) != version_description(config.guardrail, grounding)
    # a use case without knowledge keeps exactly the version it had
    assert version_description(config.guardrail, None) == version_description(config.guardrail)


def test_the_ungrounded_rate_alarm_holds_answers_to_the_exit_criterion(rag):
    stage, _, template = rag
    config = fixture_use_case().config
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()
    }
    assert len(alarms) == alarm_count(config) == ALARMS + 1  # what `liftoff cost project` prices
    alarm = alarms[f"liftoff-{FIXTURE}-{stage}-UngroundedRate"]
    assert alarm["Threshold"] == config.exit_criteria.max_ungrounded_rate == 0.05
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"  # no checked answer in a period: nothing to judge
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "ungrounded / (grounded + ungrounded)"
    metrics = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert {i: (m["Metric"]["MetricName"], m["Stat"]) for i, m in metrics.items()} == {
        "ungrounded": ("Ungrounded", "Sum"),
        "grounded": ("Grounded", "Sum"),
    }
    assert {d["Name"]: d["Value"] for d in metrics["ungrounded"]["Metric"]["Dimensions"]} == {
        "UseCase": FIXTURE,
        "Stage": stage,
    }


def test_the_dashboard_shows_grounding_and_retrieval(rag):
    _, _, template = rag
    _, dashboard = one(template, "AWS::CloudWatch::Dashboard")
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for fragment in (
        "Grounding (score of checked answers; ungrounded %)",
        "Retrieval (latency ms; questions with no passage above min_score)",
        '\\"GroundingScore\\"',
        '\\"RetrievalLatency\\"',
        '\\"NoContext\\"',
        "ungrounded / (grounded + ungrounded)",
        '\\"stat\\":\\"p10\\"',
    ):
        assert fragment in body, fragment


def test_the_outputs_the_cli_and_smoke_read(rag):
    _, _, template = rag
    outputs = template["Outputs"]
    assert outputs["KnowledgeBaseId"]["Value"] == get_att(template, "AWS::Bedrock::KnowledgeBase", "KnowledgeBaseId")
    source_id, _ = one(template, "AWS::Bedrock::DataSource")
    assert outputs["DataSourceId"]["Value"] == {"Fn::GetAtt": [source_id, "DataSourceId"]}
    assert outputs["DataSourceIds"]["Value"] == {"Fn::GetAtt": [source_id, "DataSourceId"]}  # one: no comma
    assert outputs["DocumentsBucket"]["Value"] == {"Ref": one(template, "AWS::S3::Bucket")[0]}
    assert "DocumentsPrefix" not in outputs


# -- an existing bucket, and what does not synthesize ---------------------------------------------------


def test_an_existing_bucket_is_read_under_its_prefix_and_never_written(tmp_path):
    use_case = fixture_use_case()
    knowledge = use_case.config.knowledge
    documents = knowledge.documents.model_copy(update={"bucket": "corp-policies", "prefix": "hr/"})
    config = use_case.config.model_copy(update={"knowledge": knowledge.model_copy(update={"documents": documents})})
    template = synth(str(tmp_path), "sandbox", dataclasses.replace(use_case, config=config))
    sources = {
        s["Properties"]["Name"].split("-")[0]: s["Properties"]
        for s in of_type(template, "AWS::Bedrock::DataSource").values()
    }
    assert set(sources) == {"Repository", "Existing"}  # the repository folder, and the existing bucket beside it
    assert sources["Existing"]["DataSourceConfiguration"]["S3Configuration"] == {
        "BucketArn": arn(":s3:::corp-policies"),
        "InclusionPrefixes": ["hr/"],
    }
    # the deployment writes the stack's own bucket only
    (deployment,) = of_type(template, "Custom::CDKBucketDeployment").values()
    assert deployment["Properties"]["DestinationBucketName"] == {"Ref": one(template, "AWS::S3::Bucket")[0]}
    writes = [
        s
        for p in of_type(template, "AWS::IAM::Policy").values()
        for s in as_list(p["Properties"]["PolicyDocument"]["Statement"])
        if any(a.startswith(("s3:Put", "s3:Delete")) for a in as_list(s["Action"]))
    ]
    assert writes and "corp-policies" not in json.dumps(writes)
    statements = {s["Sid"]: s for s in policy_of(template, kb_role(template))}
    assert arn(":s3:::corp-policies") in statements["ListDocuments"]["Resource"]
    assert arn(":s3:::corp-policies/hr/*") in statements["ReadDocuments"]["Resource"]
    # each data source has its own ingestion trigger
    assert len(of_type(template, "Custom::LiftoffKnowledgeIngestion")) == 2
    assert len(template["Outputs"]["DataSourceIds"]["Value"]["Fn::Join"][1]) == 2


def test_documents_that_exist_nowhere_are_a_config_error_naming_the_field(tmp_path):
    use_case = fixture_use_case()
    knowledge = use_case.config.knowledge
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "S", env=ENV)
    sandbox = get_stage("sandbox")

    def with_path(path):
        documents = knowledge.documents.model_copy(update={"path": path})
        update = {"knowledge": knowledge.model_copy(update={"documents": documents})}
        return dataclasses.replace(use_case, config=use_case.config.model_copy(update=update))

    # the default folder (knowledge/<use case>) missing, and no existing bucket named
    with pytest.raises(ConfigError, match=r"fixture-rag\.yaml: field `knowledge\.documents`: no documents"):
        KnowledgeDocuments(stack, "Docs", use_case=dataclasses.replace(with_path(None), root=tmp_path), stage=sandbox)
    # a folder named that does not exist
    with pytest.raises(
        ConfigError, match=r"field `knowledge\.documents\.path`: folder .*knowledge/gone does not exist"
    ):
        KnowledgeDocuments(stack, "Docs2", use_case=with_path("knowledge/gone"), stage=sandbox)


def test_a_use_case_without_knowledge_gets_none_of_it(synthesized):
    _, _, templates = synthesized
    without = {name: t for name, t in templates.items() if load_use_case(name).config.knowledge is None}
    if not without:
        pytest.skip("every use case of this project has `knowledge:`")
    for name, template in without.items():
        resources = template.to_json()["Resources"]
        assert not [r["Type"] for r in resources.values() if r["Type"] in KNOWLEDGE_TYPES], name
        text = json.dumps(template.to_json())
        for fragment in ("bedrock:Retrieve", "s3vectors", "LIFTOFF_KNOWLEDGE_BASE_ID", "ContextualGrounding", "s3:*"):
            assert fragment not in text, (name, fragment)
        assert "KnowledgeBaseId" not in template.to_json()["Outputs"]


# -- create-only properties: a replacement gets a new name ------------------------------------------------


def test_chunking_strategies_map_to_the_data_source_properties():
    assert chunking_configuration(
        ChunkingConfig(strategy="semantic", max_tokens=400, buffer_size=1, breakpoint_percentile_threshold=90)
    ) == {
        "chunkingStrategy": "SEMANTIC",
        "semanticChunkingConfiguration": {"maxTokens": 400, "bufferSize": 1, "breakpointPercentileThreshold": 90},
    }
    assert chunking_configuration(
        ChunkingConfig(strategy="hierarchical", parent_max_tokens=1200, child_max_tokens=200, overlap_tokens=40)
    ) == {
        "chunkingStrategy": "HIERARCHICAL",
        "hierarchicalChunkingConfiguration": {
            "levelConfigurations": [{"maxTokens": 1200}, {"maxTokens": 200}],
            "overlapTokens": 40,
        },
    }


def test_what_forces_a_replacement_renames_what_it_replaces():
    titan = EmbeddingConfig(dimension=1024)
    assert index_name(titan) != index_name(EmbeddingConfig(dimension=512))
    assert index_name(titan) == index_name(EmbeddingConfig(dimension=1024))
    assert len(index_name(titan)) <= 63
    fixed, semantic = (
        chunking_configuration(ChunkingConfig()),
        chunking_configuration(ChunkingConfig(strategy="semantic")),
    )
    assert bedrock_name("Repository-documents", fixed) != bedrock_name("Repository-documents", semantic)
    long = bedrock_name("liftoff-" + "a--b-" * 30, fixed)
    assert len(long) <= 100 and "--" not in long


def test_the_documents_hash_changes_exactly_when_a_document_does(tmp_path):
    (tmp_path / "a.md").write_text("leave: 25 days")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("travel")
    before = documents_digest(tmp_path)
    assert documents_digest(tmp_path) == before  # unchanged documents: the same property, no ingestion
    (tmp_path / "a.md").write_text("leave: 26 days")
    assert documents_digest(tmp_path) != before
    (tmp_path / "a.md").write_text("leave: 25 days")
    assert documents_digest(tmp_path) == before
    (tmp_path / "sub" / "b.md").rename(tmp_path / "b.md")  # a move is a change (the key in the bucket moves)
    assert documents_digest(tmp_path) != before


def test_grounding_off_means_no_filter_no_alarm_and_no_grounding_variable():
    config = fixture_use_case().config
    off = config.model_copy(
        update={
            "knowledge": config.knowledge.model_copy(update={"grounding": GroundingConfig(enabled=False)}),
        }
    )
    assert alarm_count(off) == ALARMS
    from liftoff.foundation.function_env import knowledge_environment

    use_case = dataclasses.replace(fixture_use_case(), config=off)
    assert "LIFTOFF_GROUNDING" not in knowledge_environment(use_case, "KB12345678")
    assert knowledge_environment(fixture_use_case(), "KB12345678")["LIFTOFF_GROUNDING"] == "BLOCK"


def test_the_cdk_app_reports_missing_documents_as_a_configuration_error(tmp_path):
    """`cdk synth` on a project whose knowledge folder is gone: the file and field, no traceback."""
    import os
    import shutil
    import subprocess
    import sys

    from tests.fixtures.project import CHECKOUT, build_project

    project = build_project(tmp_path / "project")
    shutil.rmtree(project / "knowledge" / FIXTURE)
    env = {
        **os.environ,
        "LIFTOFF_PROJECT": str(project),
        "CDK_OUTDIR": str(tmp_path / "out"),
        "CDK_CONTEXT_JSON": json.dumps({"use_case": FIXTURE, "stage": "sandbox"}),
        "PYTHONPATH": f"{CHECKOUT}{os.pathsep}{CHECKOUT / 'lambdas'}",
    }
    result = subprocess.run(
        [sys.executable, str(CHECKOUT / "app.py")], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "liftoff: configuration error" in result.stderr
    assert "fixture-rag.yaml: field `knowledge.documents.path`" in result.stderr
    assert "Traceback" not in result.stderr
