"""The one way this template makes a Python Lambda function: Python 3.13 on arm64, one deployment
package with the exact dependencies the tests ran (stacks/function_package.py), JSON logs to an
explicit log group with retention, X-Ray active tracing unless the config turns it off, and a role with no managed policies (it may write to its own log group and nothing else until granted)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from liftoff.foundation.function_env import POWERTOOLS_ENVIRONMENT
from liftoff.foundation.packaging import PYTHON_VERSION
from stacks.function_package import ARCH, function_package
from stacks.nag import SERVERLESS, acknowledge

# The wheels in the package are built for exactly this runtime and architecture.
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
if RUNTIME.name != f"python{PYTHON_VERSION}" or ARCH != "aarch64":
    raise RuntimeError(
        "RUNTIME/ARCHITECTURE and PYTHON_VERSION/ARCH (liftoff/foundation/packaging.py, stacks/function_package.py) differ"
    )


LOG_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
}


def log_retention(days: int) -> logs.RetentionDays:
    """CloudWatch accepts only some retention periods; StageConfig validates against these keys."""
    return LOG_RETENTION[days]


@dataclass(frozen=True)
class FunctionProps:
    handler: str
    description: str
    environment: dict[str, str] = field(default_factory=dict)
    timeout_seconds: int = 10
    memory_mb: int = 512
    log_retention_days: int = 14
    destroy_on_delete: bool = True
    reserved_concurrency: int | None = None
    tracing: str = "active"  # active | sdk: X-Ray active tracing; off: none (observability.tracing)
    # who invokes it asynchronously (EventBridge Scheduler, an EventBridge rule), or None: only synchronous
    # callers. An asynchronously invoked function gets Lambda's own retries turned off (a retry re-bills)
    async_invoker: str | None = None
    snapstart: bool = False  # SnapStart on published versions (capacity.snapstart): call published_alias()


def allow(function: lambda_.Function, sid: str, actions: list[str], resources: list[str]) -> None:
    """One named statement on a function's role: exact actions on exact resources."""
    function.add_to_role_policy(iam.PolicyStatement(sid=sid, actions=actions, resources=resources))


def code_asset() -> lambda_.Code:
    """`service/` and its pinned dependencies: what Lambda finds in /var/task."""
    return lambda_.Code.from_asset(str(function_package()))


SNAPSTART_ALIAS = "current"


def published_alias(function: lambda_.Function) -> lambda_.Alias:
    """The alias its callers invoke when SnapStart is on: SnapStart applies to published versions only
    (never $LATEST), so the caller must name one; the alias follows the version CDK publishes whenever the
    code or configuration changes."""
    return lambda_.Alias(function, "CurrentAlias", alias_name=SNAPSTART_ALIAS, version=function.current_version)


def python_function(scope: Construct, construct_id: str, props: FunctionProps) -> lambda_.Function:
    removal = RemovalPolicy.DESTROY if props.destroy_on_delete else RemovalPolicy.RETAIN
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=log_retention(props.log_retention_days),
        removal_policy=removal,
    )
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{props.description} (execution role)",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        )
    )
    function = lambda_.Function(
        scope,
        construct_id,
        description=props.description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=props.handler,
        code=code_asset(),
        role=role,
        memory_size=props.memory_mb,
        timeout=Duration.seconds(props.timeout_seconds),
        tracing=lambda_.Tracing.DISABLED if props.tracing == "off" else lambda_.Tracing.ACTIVE,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        reserved_concurrent_executions=props.reserved_concurrency,
        environment={**POWERTOOLS_ENVIRONMENT, **props.environment},
        snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if props.snapstart else None,
    )
    if props.tracing == "off":
        acknowledge(
            function,
            "LambdaTracing",
            "Tracing is turned off on purpose in the use-case config (observability.tracing: off); logs and "
            "metrics still record every request.",
            pack=SERVERLESS,
        )
    else:
        for scope_with_xray_grant in (role, function):  # CDK puts the grant under either, by feature flags
            acknowledge(
                scope_with_xray_grant,
                "IAM5[Resource::*]",
                "Active X-Ray tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which support no "
                "resource-level permissions (Service Authorization Reference: AWS X-Ray).",
            )
    pinned = (
        "Python 3.13 is pinned on purpose: the deployment package's wheels are built for it and the tests "
        "run on it; moving to a newer runtime is a deliberate upgrade of RUNTIME and PYTHON_VERSION."
    )
    acknowledge(function, "L1", pinned)
    acknowledge(function, "LambdaLatestVersion", pinned, pack=SERVERLESS)
    if props.async_invoker is None:
        dlq_reason = (
            "Invoked synchronously only (by API Gateway, or by the CDK Provider framework during a deployment): "
            "the caller gets the error; a dead-letter queue only catches failed asynchronous invocations."
        )
    else:
        # Lambda retries a failed asynchronous invocation twice by default: off (EventInvokeConfig)
        function.configure_async_invoke(retry_attempts=0)
        dlq_reason = (
            f"Invoked asynchronously by {props.async_invoker}, with Lambda's retries off (MaximumRetryAttempts 0: a "
            "retry would run and bill the work again). A failed invocation is alarmed on the function's Errors "
            "metric and the next event does the work; a queue of failed events would hold nothing to replay."
        )
    acknowledge(function, "LambdaDLQ", dlq_reason, pack=SERVERLESS)
    if props.async_invoker is not None:
        acknowledge(
            function.node.find_child("EventInvokeConfig"), "LambdaAsyncFailureDestination", dlq_reason, pack=SERVERLESS
        )
    return function
