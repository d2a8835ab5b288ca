"""KnowledgeDocuments: where the knowledge base reads its documents from.

The repository folder (`knowledge.documents_path`, default `knowledge/<use case>/`) is uploaded at
deploy into the stack's own documents bucket (SSE-S3, public access blocked, TLS only, versioned,
noncurrent versions expire). An existing bucket (`knowledge.documents.bucket` + `prefix`) is only read:
the stack never writes into it. Either, or both; each becomes one data source of the knowledge base.

Retention follows the stage: prod retains the bucket and its objects, sandbox deletes them with the
stack (autoDeleteObjects empties it first; S3 refuses to delete a bucket that holds objects).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from liftoff.foundation.config import StageConfig, display_path
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import USECASES_DIR, UseCase
from stacks.lambda_factory import log_retention
from stacks.nag import SERVERLESS, acknowledge

# an old copy of a changed document is kept this long (a deploy overwrote or pruned it), then expires
NONCURRENT_VERSION_DAYS = 30


def documents_digest(folder: Path) -> str:
    """A hash of every file under `folder` (its path relative to the folder, and its bytes): it changes
    exactly when a deploy uploads something different, which is when ingestion must run."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix().encode()
        digest.update(len(relative).to_bytes(4, "big") + relative)
        content = path.read_bytes()
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()[:16]


def asset_bucket_finding(stack: Stack) -> str:
    """CDK's asset bucket name as cdk-nag prints it (`<AWS::AccountId>` for an environment-agnostic stack)."""
    qualifier = getattr(stack.synthesizer, "bootstrap_qualifier", None) or DefaultStackSynthesizer.DEFAULT_QUALIFIER
    account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
    region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
    return f"cdk-{qualifier}-assets-{account}-{region}"


@dataclass(frozen=True)
class DocumentSource:
    """One place the knowledge base ingests from (one data source)."""

    name: str  # "Repository" (the stack's bucket) or "Existing" (a bucket the stack only reads)
    bucket: s3.IBucket
    prefix: str  # "" for the whole bucket
    digest: str  # changes when its content is known to have changed (the repository's files)

    @property
    def object_arns(self) -> str:
        return self.bucket.arn_for_objects(f"{self.prefix}*")


class KnowledgeDocuments(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, use_case: UseCase, stage: StageConfig):
        super().__init__(scope, construct_id)
        knowledge = use_case.config.knowledge
        documents = knowledge.documents
        folder = use_case.root / knowledge.documents_path(use_case.name)
        config_file = f"{USECASES_DIR}/{use_case.name}.yaml"
        if documents.path and not folder.is_dir():
            raise ConfigError(
                f"{config_file}: field `knowledge.documents.path`: folder {display_path(folder)} does not exist; "
                "create it with the documents, or point the field at the folder that holds them"
            )
        if not folder.is_dir() and not documents.bucket:
            raise ConfigError(
                f"{config_file}: field `knowledge.documents`: no documents: {display_path(folder)} does not exist "
                "and no `bucket` is named; add the folder, or name the existing bucket (and prefix) they are in"
            )
        self.sources: list[DocumentSource] = []
        self.bucket: s3.Bucket | None = None
        self.deployment: s3deploy.BucketDeployment | None = None
        if folder.is_dir():
            self.bucket = self._build_bucket(stage)
            self.deployment = self._build_deployment(folder, stage)
            self.sources.append(DocumentSource("Repository", self.bucket, "", documents_digest(folder)))
        if documents.bucket:
            existing = s3.Bucket.from_bucket_name(self, "ExistingBucket", documents.bucket)
            # its content changes outside the stack: ingestion starts once here (`liftoff kb sync` after)
            marker = hashlib.sha256(f"{documents.bucket}/{documents.prefix}".encode()).hexdigest()[:16]
            self.sources.append(DocumentSource("Existing", existing, documents.prefix, marker))

    def _build_bucket(self, stage: StageConfig) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireReplacedDocuments",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.DESTROY if stage.destroy_on_delete else RemovalPolicy.RETAIN,
            auto_delete_objects=stage.destroy_on_delete,
        )
        reason = (
            "Its only writer is the deployment (BucketDeployment, from the repository folder under version "
            "control: git history says what changed and when) and its only reader the knowledge base's role; "
            "versioning keeps every overwritten copy for 30 days. Access logs would need a second bucket."
        )
        acknowledge(bucket, "S1", reason)
        bucket.node.default_child.add_metadata("checkov", {"skip": [{"id": "CKV_AWS_18", "comment": reason}]})
        if stage.destroy_on_delete:
            self._acknowledge_auto_delete()
        return bucket

    def _acknowledge_auto_delete(self) -> None:
        """CDK's auto-delete-objects provider (sandbox only): a CloudFormation-managed function that empties
        the bucket when the stack is deleted."""
        provider = Stack.of(self).node.try_find_child("Custom::S3AutoDeleteObjectsCustomResourceProvider")
        if provider is None:
            return
        reason = (
            "CDK's auto-delete-objects provider (sandbox only, where the documents bucket goes with the stack) "
            "runs once, at stack deletion, to empty the bucket; CDK fixes its runtime, memory and tracing."
        )
        for rule in ("LambdaDLQ", "LambdaTracing", "LambdaDefaultMemorySize", "LambdaLatestVersion"):
            acknowledge(provider, rule, reason, pack=SERVERLESS)
        acknowledge(provider, "L1", reason)

    def _build_deployment(self, folder: Path, stage: StageConfig) -> s3deploy.BucketDeployment:
        deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[s3deploy.Source.asset(str(folder))],
            destination_bucket=self.bucket,
            prune=True,  # a document removed from the folder leaves the bucket (and, at ingestion, the index)
            retain_on_delete=True,  # the bucket's own removal policy decides (prod keeps, sandbox empties it)
            memory_limit=512,
            log_group=logs.LogGroup(
                self,
                "DeploymentLogs",
                retention=log_retention(stage.log_retention_days),
                removal_policy=RemovalPolicy.DESTROY if stage.destroy_on_delete else RemovalPolicy.RETAIN,
            ),
        )
        self._acknowledge_deployment_function()
        # The copy must not start before its function may read the asset and write the bucket: the grants land
        # in the handler role's default policy, which nothing else orders before the custom resource (on a first
        # deploy the copy could fail with AccessDenied). tests/infra/test_deploy_order.py holds it.
        deployment.node.add_dependency(deployment.handler_role)
        return deployment

    def _acknowledge_deployment_function(self) -> None:
        """CDK's BucketDeployment function (one per stack and memory size) and its role."""
        stack = Stack.of(self)
        (function,) = [c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        reason = (
            "CDK's BucketDeployment function copies the repository's documents into the documents bucket during "
            "a deployment only: CloudFormation invokes it synchronously and gets its errors; CDK fixes its "
            "runtime (with the AWS CLI layer) and tracing."
        )
        acknowledge(function, "L1", reason)
        for rule in ("LambdaDLQ", "LambdaLatestVersion", "LambdaTracing"):
            acknowledge(function, rule, reason, pack=SERVERLESS)
        acknowledge(
            function,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's BucketDeployment function logs with the AWS-managed basic execution policy (log writes only).",
        )
        bucket = stack.get_logical_id(self.bucket.node.default_child)
        assets = asset_bucket_finding(stack)
        copy = (
            "BucketDeployment's grants (CDK): read the deployment's asset object in CDK's asset bucket, and "
            "sync (put, overwrite, prune) the objects of this stack's own documents bucket; scoped to those buckets."
        )
        for finding in (
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:DeleteObject*",
            "Action::s3:Abort*",
            f"Resource::<{bucket}.Arn>/*",
            f"Resource::arn:<AWS::Partition>:s3:::{assets}/*",
        ):
            acknowledge(function, f"IAM5[{finding}]", copy)
