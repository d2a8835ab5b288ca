"""KnowledgeIngestion: a deploy whose documents changed starts an ingestion job, after the documents are
in the bucket and the data source exists.

One custom resource per data source calls bedrock-agent StartIngestionJob on create and on update. Its
properties carry the data source's id and a hash of its documents computed at synth from the files
(stacks/constructs/knowledge_documents.documents_digest), so CloudFormation updates it (and a job starts)
exactly when a document changed or the data source was replaced; unchanged documents start nothing.
Deleting it does nothing.

It only starts the job: ingestion takes minutes and can fail per document, which a deploy should not wait
for. A start that fails (a job still running from an earlier deploy, throttling, a service quota, a role
not yet usable) does not fail the deploy either, so a deploy and its rollback can never get stuck on it;
the function logs the error. `liftoff kb status` and `liftoff smoke` report the latest job's result, and
`liftoff kb sync` starts one again.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr
from constructs import Construct

from liftoff.foundation.config import StageConfig
from stacks.constructs.knowledge_base import KnowledgeBase
from stacks.constructs.knowledge_documents import KnowledgeDocuments
from stacks.lambda_factory import log_retention
from stacks.nag import SERVERLESS, acknowledge

# every error StartIngestionJob can answer (botocore's bedrock-agent model): none fails the deploy
START_ERRORS = (
    "ThrottlingException|AccessDeniedException|ValidationException|InternalServerException|"
    "ResourceNotFoundException|ConflictException|ServiceQuotaExceededException"
)


class KnowledgeIngestion(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageConfig,
        documents: KnowledgeDocuments,
        knowledge_base: KnowledgeBase,
    ):
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention(stage.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY if stage.destroy_on_delete else RemovalPolicy.RETAIN,
        )
        self.triggers: dict[str, cr.AwsCustomResource] = {}
        kb = knowledge_base.knowledge_base
        for source in documents.sources:
            data_source = knowledge_base.data_sources[source.name]
            call = cr.AwsSdkCall(
                service="bedrock-agent",
                action="StartIngestionJob",
                parameters={
                    "knowledgeBaseId": kb.attr_knowledge_base_id,
                    "dataSourceId": data_source.attr_data_source_id,
                    "description": f"Liftoff deploy: {source.name.lower()} documents {source.digest}",
                },
                physical_resource_id=cr.PhysicalResourceId.of(f"ingestion-{source.name.lower()}"),
                ignore_error_codes_matching=START_ERRORS,
            )
            trigger = cr.AwsCustomResource(
                self,
                f"{source.name}Ingestion",
                resource_type="Custom::LiftoffKnowledgeIngestion",
                on_create=call,
                on_update=call,
                install_latest_aws_sdk=False,  # the runtime's SDK has bedrock-agent; no download at deploy
                log_group=self.log_group,
                policy=cr.AwsCustomResourcePolicy.from_statements(
                    [
                        iam.PolicyStatement(
                            sid="StartIngestionOfOwnKnowledgeBase",
                            actions=["bedrock:StartIngestionJob"],
                            resources=[knowledge_base.arn],
                        )
                    ]
                ),
            )
            # in order: the documents are in the bucket and the data source exists before the job starts
            trigger.node.add_dependency(data_source)
            if source.name == "Repository" and documents.deployment is not None:
                trigger.node.add_dependency(documents.deployment)
            self.triggers[source.name] = trigger
        self._acknowledge_provider()

    def _acknowledge_provider(self) -> None:
        """The function CDK runs every AwsCustomResource of the stack with (one per stack)."""
        provider = Stack.of(self).node.try_find_child("AWS679f53fac002430cb0da5b7982bd2287")
        if provider is None:
            return
        reason = (
            "CDK's AwsCustomResource function: CloudFormation invokes it synchronously at deploy time only, to "
            "start an ingestion job; CDK sets its runtime and memory, the call it makes is one small request."
        )
        for rule in ("LambdaDLQ", "LambdaTracing", "LambdaDefaultMemorySize", "LambdaLatestVersion"):
            acknowledge(provider, rule, reason, pack=SERVERLESS)
        acknowledge(
            provider,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's AwsCustomResource function logs with the AWS-managed basic execution policy (log writes only); "
            "its one other grant is bedrock:StartIngestionJob on this stack's knowledge base.",
        )
