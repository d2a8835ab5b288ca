"""UseCaseStack: everything one use case needs in one stage, composed from the constructs."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Fn, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from liftoff.foundation.config import StageConfig, canary_schedule, schedule_seconds
from liftoff.foundation.names import fitted_name
from liftoff.foundation.usecases import UseCase
from stacks.constructs.alarm_topic import AlarmTopic
from stacks.constructs.api_front_door import ApiFrontDoor
from stacks.constructs.capture_table import CaptureTable
from stacks.constructs.feedback_function import FeedbackFunction
from stacks.constructs.feedback_key import FeedbackKey
from stacks.constructs.golden_canary import GoldenCanary
from stacks.constructs.idempotency_table import IdempotencyTable
from stacks.constructs.invoke_function import InvokeFunction
from stacks.constructs.knowledge_base import KnowledgeBase
from stacks.constructs.knowledge_documents import KnowledgeDocuments
from stacks.constructs.knowledge_ingestion import KnowledgeIngestion
from stacks.constructs.model_guardrail import GUARDRAIL_NAME_MAX, ModelGuardrail
from stacks.constructs.model_profiles import ModelProfiles
from stacks.constructs.monitoring import Monitoring
from stacks.constructs.monthly_budget import STAGE_TAG, USE_CASE_TAG, MonthlyBudget
from stacks.constructs.permissions_boundary import PermissionsBoundary
from stacks.constructs.prompt_sync import PromptSync
from stacks.constructs.prompts_table import PromptsTable
from stacks.constructs.spend_table import SpendTable
from stacks.constructs.vector_store import VectorStore
from stacks.constructs.web_acl import WebAcl
from stacks.nag import acknowledge
from stacks.names import regional_name

PROJECT_TAG = "liftoff"


class UseCaseStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, use_case: UseCase, stage: StageConfig, **kwargs):
        super().__init__(scope, construct_id, description=f"Liftoff {use_case.name} ({stage.name})", **kwargs)
        config = use_case.config
        for key, value in (
            ("project", PROJECT_TAG),
            (USE_CASE_TAG, config.name),
            (STAGE_TAG, stage.name),
            ("cost-center", config.cost_center),
        ):
            Tags.of(self).add(key, value)

        label = f"{config.name} ({stage.name})"
        table_key = (
            kms.Key.from_key_arn(self, "TableKey", config.security.table_kms_key_arn)
            if config.security.table_kms_key_arn
            else None
        )
        self.prompts = PromptsTable(self, "Prompts", stage=stage, kms_key=table_key)
        self.spend = SpendTable(self, "Spend", stage=stage, kms_key=table_key)
        self.idempotency = IdempotencyTable(self, "Idempotency", stage=stage, kms_key=table_key)
        self.capture = CaptureTable(self, "Capture", stage=stage, kms_key=table_key)
        self.feedback_key = FeedbackKey(self, "FeedbackKey", name=f"liftoff-{config.name}-{stage.name}", stage=stage)
        self.guardrail = (
            ModelGuardrail(
                self,
                "Guardrail",
                name=fitted_name(f"liftoff-{config.name}-{stage.name}", GUARDRAIL_NAME_MAX),
                config=config.guardrail,
                grounding=config.knowledge.grounding if config.knowledge else None,
            )
            if config.guardrail.enabled
            else None
        )
        self.knowledge_base = self._build_knowledge(use_case, stage) if config.knowledge else None
        self.model_profiles = ModelProfiles(
            self, "Models", use_case=config.name, stage=stage.name, model_ids=list(config.models.allowed)
        )
        # the API's function and the golden canary's run the same invoke path against the same resources
        invoke_path = {
            "use_case": use_case,
            "stage": stage,
            "prompts_table": self.prompts.table,
            "spend_table": self.spend.table,
            "idempotency_table": self.idempotency.table,
            "capture_table": self.capture.table,
            "feedback_secret": self.feedback_key.secret,
            "guardrail": self.guardrail,
            "model_profiles": self.model_profiles,
            "knowledge_base": self.knowledge_base,
        }
        self.invoke = InvokeFunction(self, "Invoke", **invoke_path)
        self.canary_function = InvokeFunction(self, "Canary", **invoke_path, golden_canary=True)
        self.feedback = FeedbackFunction(
            self,
            "Feedback",
            use_case=use_case,
            stage=stage,
            resources=self.invoke.resources,
            capture_table=self.capture.table,
            secret=self.feedback_key.secret,
        )
        self.prompt_sync = PromptSync(
            self,
            "PromptSync",
            use_case_name=config.name,
            stage=stage,
            prompts=use_case.prompts,
            prompts_table=self.prompts.table,
        )
        self.alarm_topic = AlarmTopic(self, "Alarms", stage=stage, emails=config.budget.alert_emails, label=label)
        self.boundary = PermissionsBoundary(
            self,
            "Boundary",
            name=regional_name(f"liftoff-{config.name}-{stage.name}", "-boundary"),  # IAM names are account-wide
            # the knowledge base's role embeds with its model: the boundary's model list holds it too
            model_arns=self.invoke.model_arns
            + ([self.knowledge_base.embedding_model_arn] if self.knowledge_base else []),
            existing_arn=config.security.permissions_boundary_arn,
            table_key_arns=[table_key.key_arn] if table_key else [],
            secret_arns=[self.feedback_key.secret.secret_arn],
            topic_arn=self.alarm_topic.topic.topic_arn,
            topic_key_arn=self.alarm_topic.key.key_arn,
            knowledge=self.knowledge_base is not None,
        )
        self.api = ApiFrontDoor(
            self,
            "Api",
            use_case=config,
            stage=stage,
            handler=self.invoke.entry,  # the function, or with SnapStart its published version's alias
            feedback_handler=self.feedback.function,
        )
        # API Gateway's logging role is account-wide and outlives this stack (retained): it must not
        # depend on this stack's boundary policy, which goes when the stack goes.
        iam.PermissionsBoundary.of(self.api.api.node.find_child("CloudWatchRole")).clear()
        if stage.waf:
            self.waf = WebAcl(
                self,
                "Waf",
                name=f"liftoff-{config.name}-{stage.name}",
                stage=self.api.api.deployment_stage,
                rate_limit_per_5min=config.api.waf_rate_limit_per_5min,
            )
        else:
            acknowledge(
                self.api.api.deployment_stage,
                "APIG3",
                f"WAF is off in the {stage.name} stage by its config (StageConfig.waf): a disposable sandbox "
                "behind an API key, usage-plan throttling and a daily quota; prod has the web ACL.",
            )
        self.budget = MonthlyBudget(
            self,
            "Budget",
            name=f"liftoff-{config.name}-{stage.name}",
            use_case=config.name,
            stage=stage.name,
            budget=config.budget,
            topic=self.alarm_topic.topic,
        )
        self.golden_canary = GoldenCanary(
            self,
            "GoldenCanary",
            use_case=use_case,
            stage=stage,
            canary_function=self.canary_function.function,
            prompts_table=self.prompts.table,
            topic=self.alarm_topic.topic,
            topic_key=self.alarm_topic.key,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            use_case=config,
            stage=stage,
            function=self.invoke.function,
            api=self.api.api,
            feedback_function=self.feedback.function,
            topic=self.alarm_topic.topic,
            canary_period=Duration.seconds(period)
            if (period := schedule_seconds(canary_schedule(config, stage)))
            else None,
            golden_canary=self.golden_canary,
        )
        self.golden_canary.end_canaries_on(self.monitoring.canary_version_alarm_names)

        CfnOutput(self, "InvokeUrl", value=self.api.api.url_for_path("/v1/invoke"))
        if self.api.api_key is not None:
            CfnOutput(self, "ApiKeyId", value=self.api.api_key.key_id)
        if self.api.user_pool is not None:
            CfnOutput(self, "UserPoolId", value=self.api.user_pool.user_pool_id)
            CfnOutput(self, "UserPoolClientId", value=self.api.user_pool_client.user_pool_client_id)
        CfnOutput(self, "PromptsTableName", value=self.prompts.table.table_name)
        if self.guardrail is not None:  # `liftoff eval run --target bedrock --stage S` attaches the same one
            CfnOutput(self, "GuardrailId", value=self.guardrail.guardrail.attr_guardrail_id)
            CfnOutput(self, "GuardrailVersion", value=self.guardrail.version.attr_version)
        CfnOutput(self, "InvokeFunctionName", value=self.invoke.function.function_name)
        CfnOutput(self, "SpendTableName", value=self.spend.table.table_name)
        CfnOutput(self, "CaptureTableName", value=self.capture.table.table_name)
        CfnOutput(self, "FeedbackUrl", value=self.api.api.url_for_path("/v1/feedback"))
        CfnOutput(self, "InvokeLogGroupName", value=self.invoke.function.log_group.log_group_name)
        CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        self._knowledge_outputs()

    def _build_knowledge(self, use_case: UseCase, stage: StageConfig) -> KnowledgeBase:
        """The documents, the vector store, the knowledge base over them, and ingestion on deploy."""
        config = use_case.config
        self.documents = KnowledgeDocuments(self, "KnowledgeDocuments", use_case=use_case, stage=stage)
        self.vectors = VectorStore(self, "Vectors", embedding=config.knowledge.embedding, stage=stage)
        knowledge_base = KnowledgeBase(
            self,
            "Knowledge",
            name=f"liftoff-{config.name}-{stage.name}",
            knowledge=config.knowledge,
            sources=self.documents.sources,
            vectors=self.vectors,
        )
        self.ingestion = KnowledgeIngestion(
            self, "Ingestion", stage=stage, documents=self.documents, knowledge_base=knowledge_base
        )
        return knowledge_base

    def _knowledge_outputs(self) -> None:
        """What `liftoff kb sync|status` and smoke read: the knowledge base, its data sources (the first is
        the repository's when there is one), and where its documents are. None without `knowledge:`."""
        if self.knowledge_base is None:
            return
        CfnOutput(self, "KnowledgeBaseId", value=self.knowledge_base.knowledge_base.attr_knowledge_base_id)
        data_sources = list(self.knowledge_base.data_sources.values())
        CfnOutput(self, "DataSourceId", value=data_sources[0].attr_data_source_id)
        CfnOutput(self, "DataSourceIds", value=Fn.join(",", [d.attr_data_source_id for d in data_sources]))
        CfnOutput(self, "DocumentsBucket", value=self.documents.sources[0].bucket.bucket_name)
        if self.documents.sources[0].prefix:
            CfnOutput(self, "DocumentsPrefix", value=self.documents.sources[0].prefix)
