"""AlarmTopic: the one SNS topic every alarm and budget notification of a use case goes to.

Encrypted with a customer managed KMS key: CloudWatch alarms and AWS Budgets can publish to an
encrypted topic only when the key policy lets their service principals use the key, and the AWS
managed `alias/aws/sns` key's policy cannot be changed. TLS-only: a topic policy denies any
request made without TLS (`enforce_ssl`)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from liftoff.foundation.config import StageConfig

PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com")


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig, emails: list[str], label: str):
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        removal = RemovalPolicy.DESTROY if stage.destroy_on_delete else RemovalPolicy.RETAIN
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the alarm topic of {label}",
            enable_key_rotation=True,
            removal_policy=removal,
            pending_window=Duration.days(7) if stage.destroy_on_delete else Duration.days(30),
        )
        # In a key policy, resource "*" means this key only. CloudWatch's grant is conditioned on this
        # account (AWS documents source keys for alarm publishing). For Budgets the condition stays on
        # the topic policy only: a key condition its requests might not carry would drop every notice
        # silently; the key lets Budgets encrypt, the topic decides who may publish.
        key_conditions = {
            "cloudwatch.amazonaws.com": {"StringEquals": {"aws:SourceAccount": stack.account}},
            "budgets.amazonaws.com": None,
        }
        for service in PUBLISHERS:
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"Publish{service.split('.')[0].capitalize()}",
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=["*"],
                    conditions=key_conditions[service],
                )
            )
        self.topic = sns.Topic(
            self, "Topic", display_name=f"Liftoff alarms: {label}", master_key=self.key, enforce_ssl=True
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsAndBudgetsPublish",
                principals=[iam.ServicePrincipal(service) for service in PUBLISHERS],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
