"""PermissionsBoundary: the ceiling on every role the stack creates (`PermissionsBoundary.of(stack)`).

A boundary grants nothing; a role can use only what both its own policy and the boundary allow. This
one allows the services the template uses, and explicitly denies IAM changes (no role can create
or widen roles, or drop its boundary) and any Bedrock model outside the use case's list. A company
that manages boundaries centrally names its own in config (`security.permissions_boundary_arn`)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from liftoff.foundation.names import digest
from stacks.nag import acknowledge
from stacks.table_factory import TABLE_KEY_ACTIONS

SERVICES_IN_USE = ("dynamodb", "logs", "xray", "lambda", "bedrock")
# a use case with `knowledge:`: its documents bucket (and the deployment that fills it) and its vector index
KNOWLEDGE_SERVICES = ("s3", "s3vectors")
IAM_ESCALATION = (
    "iam:Create*",
    "iam:Put*",
    "iam:Attach*",
    "iam:Update*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:PassRole",
    "iam:SetDefaultPolicyVersion",
    "iam:AddUserToGroup",
)
# Converse and ConverseStream are authorised by these two actions (there is no bedrock:Converse action)
MODEL_CALLS = ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream")
# A managed policy's Description is immutable (AWS::IAM::ManagedPolicy: "Update requires: Replacement"),
# and a replacement under the same fixed name fails (CloudFormation creates the new policy first).
# So the description is fixed text, and the policy's name carries its hash: editing it renames the
# policy, and the replacement goes through cleanly.
DESCRIPTION = "Liftoff permissions boundary: template services only, no IAM changes, named models only"


def policy_name(name: str) -> str:
    """The boundary's policy name: `name` and a hash of the (immutable) description."""
    return f"{name}-{digest(DESCRIPTION, 6)}"


class PermissionsBoundary(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        model_arns: list[str],
        existing_arn: str | None,
        table_key_arns: list[str] = (),
        secret_arns: list[str] = (),
        topic_arn: str | None = None,
        topic_key_arn: str | None = None,
        knowledge: bool = False,
    ):
        super().__init__(scope, construct_id)
        services = SERVICES_IN_USE + (KNOWLEDGE_SERVICES if knowledge else ())
        if existing_arn:
            self.policy = iam.ManagedPolicy.from_managed_policy_arn(self, "Existing", existing_arn)
        else:
            policy = iam.ManagedPolicy(
                self,
                "Policy",
                managed_policy_name=policy_name(name),
                description=DESCRIPTION,
                statements=[
                    iam.PolicyStatement(
                        sid="TemplateServicesOnly", actions=[f"{s}:*" for s in services], resources=["*"]
                    ),
                    *(
                        [
                            # the deployment of the documents reads CDK's asset bucket, whose objects are
                            # encrypted with the bootstrap's KMS key: decrypted by S3 on the caller's behalf only
                            iam.PolicyStatement(
                                sid="AssetDecryptViaS3Only",
                                actions=["kms:Decrypt"],
                                resources=["*"],
                                conditions={
                                    "StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}
                                },
                            )
                        ]
                        if knowledge
                        else []
                    ),
                    *(
                        [
                            # the tables' customer-managed key (security.table_kms_key_arn), that key only
                            iam.PolicyStatement(
                                sid="TableKeyOnly", actions=list(TABLE_KEY_ACTIONS), resources=list(table_key_arns)
                            )
                        ]
                        if table_key_arns
                        else []
                    ),
                    *(
                        [
                            # the stack's own secrets (the feedback key), read only
                            iam.PolicyStatement(
                                sid="OwnSecretsReadOnly",
                                actions=["secretsmanager:GetSecretValue"],
                                resources=list(secret_arns),
                            ),
                            # Secrets Manager decrypts them with its AWS-managed key on the caller's behalf
                            iam.PolicyStatement(
                                sid="SecretsDecryptViaSecretsManagerOnly",
                                actions=["kms:Decrypt"],
                                resources=["*"],
                                conditions={
                                    "StringEquals": {
                                        "kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com"
                                    }
                                },
                            ),
                        ]
                        if secret_arns
                        else []
                    ),
                    *(
                        [
                            # the stack's own alarm topic (the canary rollback tells it), and its key
                            iam.PolicyStatement(
                                sid="OwnAlarmTopicOnly", actions=["sns:Publish"], resources=[topic_arn]
                            ),
                            iam.PolicyStatement(
                                sid="AlarmTopicKeyOnly",
                                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                                resources=[topic_key_arn],
                            ),
                        ]
                        if topic_arn and topic_key_arn
                        else []
                    ),
                    iam.PolicyStatement(
                        sid="NoIamEscalation", effect=iam.Effect.DENY, actions=list(IAM_ESCALATION), resources=["*"]
                    ),
                    iam.PolicyStatement(
                        sid="NamedModelsOnly",
                        effect=iam.Effect.DENY,
                        actions=list(MODEL_CALLS),
                        not_resources=model_arns,
                    ),
                ],
            )
            acknowledge(
                policy,
                "IAM5[Action::dynamodb:*]",
                "A permissions boundary grants nothing by itself: it caps each role's own least-privilege "
                "policy to the services the template uses; IAM changes and unlisted models are denied outright.",
            )
            for service in services[1:]:
                acknowledge(
                    policy,
                    f"IAM5[Action::{service}:*]",
                    "Boundary ceiling, not a grant: the roles' own policies name exact actions and resources.",
                )
            acknowledge(
                policy,
                "IAM5[Resource::*]",
                "Boundary ceiling over the template's services; resource-level limits live in each role's own "
                "policy and in this boundary's explicit denies.",
            )
            skips = [
                {
                    "id": check,
                    "comment": "A permissions boundary is a ceiling, not a grant: it denies IAM "
                    "changes and unlisted models; each role's own policy names exact actions and resources.",
                }
                for check in ("CKV_AWS_109", "CKV_AWS_110", "CKV_AWS_111")
            ]
            if knowledge:  # s3:* in the ceiling: which objects a role reads is in its own policy
                skips.append(
                    {
                        "id": "CKV_AWS_108",
                        "comment": "A permissions boundary is a ceiling, not a grant: S3 reads are granted by "
                        "each role's own policy, on the documents bucket and the deployment's asset only.",
                    }
                )
            policy.node.default_child.add_metadata("checkov", {"skip": skips})
            self.policy = policy
        iam.PermissionsBoundary.of(Stack.of(self)).apply(self.policy)
