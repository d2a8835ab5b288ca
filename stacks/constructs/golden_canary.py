"""GoldenCanary: the definition of done, kept measured after launch.

- An EventBridge Scheduler schedule (`monitoring.canary.schedule`, default hourly in prod and daily in
  sandbox, `off` allowed) invokes the canary function with the golden cases of the deployed commit's
  eval set (liftoff/foundation/canary.py); the function (service/handlers/canary.py) runs them through the API's
  own invoke path and scores them with the eval's checks, and publishes CanaryAccuracy and
  CanaryVersionAccuracy (the alarms are in Monitoring).
- A rollback function (service/handlers/canary_rollback.py), triggered through an EventBridge rule
  when one of the prompt canary's alarms goes into ALARM (`end_canaries_on`, once Monitoring has made
  them), ends the canary and tells the alarm topic.
- Both functions are invoked asynchronously, with Lambda's own retries off (a retried run bills its cases
  again); the schedule sits in a schedule group of its own, so its AWS/Scheduler metrics are this stack's.
  Monitoring alarms on the functions' errors and on the schedule's failed invocations.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from liftoff.foundation.canary import canary_payload
from liftoff.foundation.config import StageConfig, canary_schedule, schedule_seconds
from liftoff.foundation.function_env import POWERTOOLS_ENVIRONMENT
from liftoff.foundation.memory import invoke_memory_mb
from liftoff.foundation.usecases import UseCase
from stacks.lambda_factory import FunctionProps, allow, python_function
from stacks.nag import SERVERLESS, acknowledge
from stacks.table_factory import TABLE_KEY_ACTIONS


class GoldenCanary(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        use_case: UseCase,
        stage: StageConfig,
        canary_function: lambda_.Function,
        prompts_table: dynamodb.ITableV2,
        topic: sns.ITopic,
        topic_key: kms.IKey,
    ):
        super().__init__(scope, construct_id)
        self._label = f"Liftoff {use_case.name} ({stage.name})"
        self.canary_function = canary_function
        expression = canary_schedule(use_case.config, stage)
        self.schedule = None
        self.schedule_group = None
        if schedule_seconds(expression) is not None:
            stack = Stack.of(self)
            role = iam.Role(
                self,
                "ScheduleRole",
                assumed_by=iam.ServicePrincipal(
                    "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}
                ),
                description=f"Liftoff {use_case.name} ({stage.name}): EventBridge Scheduler invokes the golden canary",
            )
            function_id = stack.get_logical_id(canary_function.node.default_child)
            acknowledge(
                role,
                f"IAM5[Resource::<{function_id}.Arn>:*]",
                "CDK's grantInvoke names the function and its versions (ARN:*); the schedule invokes only the "
                "golden canary function, and only the scheduler service of this account can assume the role.",
            )
            # Scheduler's metrics have one dimension, the group: a group of its own makes them this canary's.
            # Names are per account and Region. It holds only this schedule, which goes with the stack.
            self.schedule_group = scheduler.ScheduleGroup(
                self,
                "ScheduleGroup",
                schedule_group_name=f"liftoff-{use_case.name}-{stage.name}",
                removal_policy=RemovalPolicy.DESTROY,
            )
            self.schedule = scheduler.Schedule(
                self,
                "Schedule",
                schedule_group=self.schedule_group,
                description=f"Liftoff {use_case.name} ({stage.name}): the golden canary",
                schedule=scheduler.ScheduleExpression.expression(expression),
                target=scheduler_targets.LambdaInvoke(
                    canary_function,
                    role=role,
                    input=scheduler.ScheduleTargetInput.from_object(canary_payload(use_case.name, use_case.root)),
                    retry_attempts=0,  # a missed run is the next run's job: a retry would bill the cases twice
                    max_event_age=Duration.hours(1),
                ),
            )
            # CDK writes the group's name, not a reference: without this the schedule may be created first
            self.schedule.node.add_dependency(self.schedule_group)
        self.rollback = python_function(
            self,
            "Rollback",
            FunctionProps(
                handler="service.handlers.canary_rollback.lambda_handler",
                description=f"Liftoff {use_case.name} ({stage.name}): end a prompt canary when its alarm fires",
                timeout_seconds=30,
                memory_mb=invoke_memory_mb(None),
                log_retention_days=stage.log_retention_days,
                destroy_on_delete=stage.destroy_on_delete,
                tracing=use_case.config.observability.tracing,
                async_invoker="an EventBridge rule (a canary alarm's state change)",
                environment={
                    **POWERTOOLS_ENVIRONMENT,
                    "LIFTOFF_USE_CASE": use_case.name,
                    "LIFTOFF_PROMPTS_TABLE": prompts_table.table_name,
                    "LIFTOFF_ALARM_TOPIC_ARN": topic.topic_arn,
                },
            ),
        )
        # read the aliases and list the prompts (a scan, off the request path), move an alias (a conditional put)
        allow(
            self.rollback,
            "EndPromptCanaries",
            ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem"],
            [prompts_table.table_arn],
        )
        allow(self.rollback, "NotifyAlarmTopic", ["sns:Publish"], [topic.topic_arn])
        # the topic is encrypted with its own key: publishing needs a data key from it
        allow(self.rollback, "UseAlarmTopicKey", ["kms:GenerateDataKey", "kms:Decrypt"], [topic_key.key_arn])
        if prompts_table.encryption_key:
            allow(self.rollback, "UseTableKey", list(TABLE_KEY_ACTIONS), [prompts_table.encryption_key.key_arn])
        self.rule = None

    def end_canaries_on(self, rollback_alarm_names: list[str]) -> None:
        """The rule that sends these alarms' state changes into ALARM to the rollback function."""
        self.rule = events.Rule(
            self,
            "OnCanaryAlarm",
            description=f"{self._label}: a prompt canary's alarm fired",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": rollback_alarm_names, "state": {"value": ["ALARM"]}},
            ),
            targets=[events_targets.LambdaFunction(self.rollback, retry_attempts=2)],
        )
        acknowledge(
            self.rule,
            "EventBusDLQ",
            "The rollback is idempotent and the alarm keeps firing while the canary is unhealthy; a lost event "
            "is retried by the rule (2 attempts) and the alarm e-mail still reaches a person.",
            pack=SERVERLESS,
        )
