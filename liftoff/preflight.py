"""`liftoff preflight`: is this AWS account and Region ready for `cdk deploy` of a use case?

Run before a deploy (deploy.yml does): a first deploy either succeeds or is refused here, before
CloudFormation starts, with the fix named. One line per check, PASS / WARN / FAIL; any FAIL exits 1.

Checks, each read-only:
- credentials and Region (STS);
- the CDK bootstrap stack and its version (SSM parameter `/cdk-bootstrap/<qualifier>/version`);
- model access for every model the use case calls, in this Region and, for a cross-Region inference
  profile, in every Region it routes to from this one (Bedrock GetInferenceProfile: the profile must
  exist here, and its routes must be Regions the invoke role may call; then
  GetFoundationModelAvailability in each); third-party models need a one-time enablement (Anthropic:
  AWS Marketplace subscription and the first-use form);
- a use case with `knowledge:`: access to its embedding model here, and the S3 Vectors API answering here
  (ListVectorBuckets; no endpoint in the Region, or access denied, is a FAIL);
- Lambda concurrency headroom: Lambda refuses a reservation that leaves fewer than 100 unreserved
  executions (GetAccountSettings; a deployed function's own reservation is counted back in);
- the `use-case` and `stage` cost-allocation tags the budget filters on (Cost Explorer), a warning;
- the Bedrock tokens-per-minute quota against the peak the API admits (Service Quotas), a warning.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from liftoff import REPO_ROOT
from liftoff.doctor import THIRD_PARTY_ENABLEMENT, Check, availability_problems, cost_tag_check
from liftoff.foundation.bedrock_ids import GLOBAL_PREFIX, PROFILE_DESTINATION_REGIONS, split_model_id
from liftoff.foundation.usecases import UseCase

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
# The bootstrap version the synthesized templates require (their CheckBootstrapVersion rule refuses
# 1-5; tests/unit/test_preflight.py reads the rule from a synthesized template to keep this true).
MIN_BOOTSTRAP_VERSION = 6
DEFAULT_QUALIFIER = "hnb659fds"
# Lambda keeps this many executions unreserved in every account (Lambda developer guide, reserved concurrency)
UNRESERVED_MINIMUM = 100
AWS_TIMEOUT_S = 5


class Clients:
    """boto3 clients for one account and Region, with short timeouts; `client(service, region)`."""

    def __init__(self, session: Any):
        from botocore.config import Config

        self._session = session
        self._config = Config(
            connect_timeout=AWS_TIMEOUT_S, read_timeout=AWS_TIMEOUT_S, retries={"total_max_attempts": 2}
        )
        self.region = session.region_name

    def client(self, service: str, region: str | None = None) -> Any:
        return self._session.client(service, region_name=region or self.region, config=self._config)


@dataclass(frozen=True)
class Target:
    use_case: UseCase
    stage: str


def bootstrap_qualifier() -> str:
    context = json.loads((REPO_ROOT / "cdk.json").read_text()).get("context", {})
    return context.get("@aws-cdk/core:bootstrapQualifier", DEFAULT_QUALIFIER)


def check_identity(clients: Clients) -> tuple[Check, str | None]:
    from botocore.exceptions import BotoCoreError, ClientError

    if not clients.region:
        return Check("AWS Region", FAIL, "not set", "set AWS_REGION (or a profile's region)"), None
    try:
        identity = clients.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return Check(
            "AWS credentials", FAIL, f"cannot use them: {exc}", "configure or refresh them (`aws sso login`)"
        ), None
    return Check("AWS credentials", PASS, f"{identity['Arn']} in {clients.region}"), identity["Account"]


def check_bootstrap(clients: Clients, account: str) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    qualifier = bootstrap_qualifier()
    fix = f"npx cdk bootstrap aws://{account}/{clients.region}"
    try:
        value = clients.client("ssm").get_parameter(Name=f"/cdk-bootstrap/{qualifier}/version")["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return Check("CDK bootstrap", FAIL, f"{account}/{clients.region} is not bootstrapped", f"run `{fix}`")
        return Check("CDK bootstrap", FAIL, f"cannot read the bootstrap version: {exc}", "allow ssm:GetParameter")
    except BotoCoreError as exc:
        return Check("CDK bootstrap", FAIL, f"cannot read the bootstrap version: {exc}", "check the network")
    if int(value) < MIN_BOOTSTRAP_VERSION:
        return Check(
            "CDK bootstrap",
            FAIL,
            f"version {value}; the templates need {MIN_BOOTSTRAP_VERSION} or newer",
            f"run `{fix}` to upgrade",
        )
    return Check("CDK bootstrap", PASS, f"version {value} (qualifier {qualifier})")


@dataclass(frozen=True)
class ModelRoutes:
    """Where a model id's calls are served from this Region, or why that cannot be known or used."""

    foundation: str
    regions: list[str]
    problem: str | None = None
    fix: str | None = None


def model_routes(clients: Clients, model_id: str, overrides: dict[str, list[str]], use_case: str) -> ModelRoutes:
    """A foundation model is served in this Region. A cross-Region profile is served where
    GetInferenceProfile, asked in this Region, says it routes; those Regions must be among the ones
    the invoke role may call (stacks/bedrock_access.py's table, or `models.profile_regions`), which
    IAM fixes at synth, when no AWS call is made."""
    from botocore.exceptions import BotoCoreError, ClientError

    prefix, foundation = split_model_id(model_id)
    if prefix is None:
        return ModelRoutes(foundation, [clients.region])
    try:
        profile = clients.client("bedrock").get_inference_profile(inferenceProfileIdentifier=model_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("ResourceNotFoundException", "ValidationException"):
            return ModelRoutes(
                foundation,
                [],
                f"{clients.region} has no inference profile {model_id}: it is not a source Region of the "
                f"`{prefix}` profile, so the deploy's application inference profile could not copy it",
                f"deploy to a Region of the `{prefix}` geography, or name this Region's profile of the model "
                f"in usecases/{use_case}.yaml (models) and the prompts",
            )
        return ModelRoutes(
            foundation, [], f"cannot read the inference profile: {exc}", "allow bedrock:GetInferenceProfile"
        )
    except BotoCoreError as exc:
        return ModelRoutes(foundation, [], f"cannot read the inference profile: {exc}", "check the network")
    # a route is a foundation-model ARN: arn:<partition>:bedrock:<Region>::foundation-model/<id>
    routes = sorted({region for model in profile["models"] if (region := model["modelArn"].split(":")[3])})
    # a global profile's grant is the Region-less model ARN: every route is allowed
    granted = (
        set(routes) if prefix == GLOBAL_PREFIX else set(overrides.get(prefix, PROFILE_DESTINATION_REGIONS[prefix]))
    )
    outside = [region for region in routes if region not in granted]
    if outside:
        return ModelRoutes(
            foundation,
            routes,
            f"the profile routes to {', '.join(outside)}, where the invoke role may not call the model "
            f"(it may in {', '.join(sorted(granted))}): routed calls there would be denied",
            f"set models.profile_regions.{prefix} to [{', '.join(routes)}] in usecases/{use_case}.yaml",
        )
    # access is needed where the profile is called too (normally one of its routes)
    return ModelRoutes(foundation, sorted({clients.region, *routes}))


def models_in_use(use_case: UseCase) -> set[str]:
    """What the use case calls today: its prompts' models and the fallback."""
    used = {p.model_id for p in use_case.prompts}
    if use_case.config.models.fallback:
        used.add(use_case.config.models.fallback)
    return used


def model_access(
    clients: Clients, model_id: str, overrides: dict[str, list[str]], use_case: str
) -> tuple[ModelRoutes, list[str], str]:
    """Where `model_id` is served from this Region, what stops the account calling it there (empty: nothing),
    and the fix (GetFoundationModelAvailability in each Region it is served from)."""
    from botocore.exceptions import BotoCoreError, ClientError

    routes = model_routes(clients, model_id, overrides, use_case)
    failing = [routes.problem] if routes.problem else []
    for region in routes.regions if not routes.problem else ():
        try:
            answer = clients.client("bedrock", region).get_foundation_model_availability(modelId=routes.foundation)
        except (BotoCoreError, ClientError) as exc:
            failing.append(f"{region}: cannot check ({exc})")
            continue
        problems = availability_problems(answer)
        if problems:
            failing.append(f"{region}: {', '.join(problems)}")
    provider = routes.foundation.split(".", 1)[0]
    fix = routes.fix or THIRD_PARTY_ENABLEMENT.get(
        provider, "Bedrock console > Model access: enable the model in each Region listed"
    )
    return routes, failing, fix


def check_model_access(clients: Clients, use_case: UseCase) -> list[Check]:
    """FAIL for a model the use case calls; WARN for one it may call (in `allowed`, no prompt uses it yet)."""
    models = use_case.config.models
    used = models_in_use(use_case)
    checks = []
    for model_id in models.allowed:
        routes, failing, fix = model_access(clients, model_id, models.profile_regions, use_case.name)
        name = f"Model {model_id}"
        if not failing:
            checks.append(Check(name, PASS, f"accessible in {', '.join(routes.regions)}"))
            continue
        if model_id in used:
            checks.append(Check(name, FAIL, "; ".join(failing), fix))
        else:
            checks.append(
                Check(
                    name, WARN, "no prompt uses it yet; " + "; ".join(failing), "before a prompt switches to it: " + fix
                )
            )
    return checks


# Where S3 Vectors is offered changes as it rolls out: the S3 User Guide's S3 Vectors pages list the Regions
S3_VECTORS_REGIONS_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-vectors.html"


def check_knowledge(clients: Clients, use_case: UseCase) -> list[Check]:
    """A use case with `knowledge:`: its embedding model is accessible here, and S3 Vectors answers here."""
    knowledge = use_case.config.knowledge
    if knowledge is None:
        return []
    model_id = knowledge.embedding.model_id
    routes, failing, fix = model_access(clients, model_id, {}, use_case.name)
    name = f"Embedding model {model_id}"
    embedding = (
        Check(name, FAIL, "; ".join(failing), fix + " (the knowledge base embeds documents and questions with it)")
        if failing
        else Check(name, PASS, f"accessible in {', '.join(routes.regions)}")
    )
    return [embedding, check_s3_vectors(clients)]


def check_s3_vectors(clients: Clients) -> Check:
    """S3 Vectors (the knowledge base's vector store) answers in this Region: ListVectorBuckets, one result."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        EndpointResolutionError,
        UnknownEndpointError,
    )

    name = "S3 Vectors"
    try:
        clients.client("s3vectors").list_vector_buckets(maxResults=1)
    except (EndpointConnectionError, UnknownEndpointError, EndpointResolutionError) as exc:
        return Check(
            name,
            FAIL,
            f"no S3 Vectors endpoint answers in {clients.region} ({exc}): the knowledge base's vector store cannot "
            "be created here",
            f"deploy to a Region that offers S3 Vectors (listed in {S3_VECTORS_REGIONS_DOC}) and where the "
            "embedding and answer models are accessible",
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in ("AccessDeniedException", "AccessDenied"):
            return Check(
                name,
                FAIL,
                f"not allowed to call S3 Vectors in {clients.region}: {error.get('Message', '')}",
                "allow s3vectors:ListVectorBuckets to the identity running preflight, and to the deploy "
                "(CloudFormation) role s3vectors:CreateVectorBucket, s3vectors:CreateIndex and s3vectors:GetIndex; "
                "check that no SCP denies s3vectors:*",
            )
        return Check(name, FAIL, f"S3 Vectors answered {error.get('Code')}: {exc}", "try again; check the Region")
    except BotoCoreError as exc:
        return Check(name, FAIL, f"cannot reach S3 Vectors in {clients.region}: {exc}", "check the network")
    return Check(name, PASS, f"the API answers in {clients.region}")


def check_concurrency(clients: Clients, use_case: UseCase, stage: str) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    reserved = use_case.config.capacity.reserved_concurrency
    try:
        settings = clients.client("lambda").get_account_settings()["AccountLimit"]
    except (BotoCoreError, ClientError) as exc:
        return Check(
            "Lambda concurrency", FAIL, f"cannot read the account settings: {exc}", "allow lambda:GetAccountSettings"
        )
    quota, unreserved = settings["ConcurrentExecutions"], settings["UnreservedConcurrentExecutions"]
    if reserved is None:
        return Check("Lambda concurrency", PASS, f"no reservation; account quota {quota}, {unreserved} unreserved")
    already = _deployed_reservation(clients, use_case.name, stage)
    available = unreserved + already - UNRESERVED_MINIMUM
    if reserved <= available:
        return Check("Lambda concurrency", PASS, f"reserves {reserved} of {available} reservable (quota {quota})")
    return Check(
        "Lambda concurrency",
        FAIL,
        f"capacity.reserved_concurrency {reserved} would leave {unreserved + already - reserved} unreserved; Lambda "
        f"requires {UNRESERVED_MINIMUM} (account quota {quota}, {unreserved} unreserved now)",
        f"set capacity.reserved_concurrency to {max(available, 0)} or less (or remove it) in usecases/{use_case.name}.yaml, "
        "or request a higher Lambda 'Concurrent executions' quota (Service Quotas, L-B99A9384)",
    )


def _deployed_reservation(clients: Clients, use_case: str, stage: str) -> int:
    """The reservation the deployed invoke function already holds (it is counted in `unreserved`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from liftoff.foundation.names import stack_name

    try:
        stacks = clients.client("cloudformation").describe_stacks(StackName=stack_name(use_case, stage))["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        function = outputs.get("InvokeFunctionName")
        if not function:
            return 0
        answer = clients.client("lambda").get_function_concurrency(FunctionName=function)
    except (BotoCoreError, ClientError):  # not deployed yet: nothing reserved
        return 0
    return int(answer.get("ReservedConcurrentExecutions") or 0)


def projected_tokens_per_minute(use_case: UseCase) -> tuple[float, str] | None:
    """Tokens a minute at the API's throttle rate (the most it admits), with tokens per request
    measured in the latest eval report (as `liftoff cost project` measures them); None without one."""
    import click

    from liftoff.cost_project import measured_usage

    try:
        usage = measured_usage(use_case.name, None)
    except click.ClickException:  # no report, or no answered case in it
        return None
    per_request = usage.input_tokens + usage.output_tokens
    rate = use_case.config.api.throttle_rate_per_s
    return rate * 60 * per_request, f"{rate:g} requests/s (api.throttle_rate_per_s) x {per_request:.0f} tokens"


def check_token_quota(clients: Clients, use_case: UseCase) -> list[Check]:
    from botocore.exceptions import BotoCoreError, ClientError

    need = projected_tokens_per_minute(use_case)
    if need is None:
        return [
            Check(
                "Bedrock tokens per minute",
                WARN,
                "no eval report to measure tokens per request",
                f"run `liftoff eval run --use-case {use_case.name}`, then preflight again",
            )
        ]
    tpm, how = need
    try:
        pages = clients.client("service-quotas").get_paginator("list_service_quotas").paginate(ServiceCode="bedrock")
        quotas = [q for page in pages for q in page.get("Quotas", [])]
    except (BotoCoreError, ClientError) as exc:
        return [
            Check(
                "Bedrock tokens per minute",
                WARN,
                f"cannot read the quotas: {exc}",
                "allow servicequotas:ListServiceQuotas",
            )
        ]
    checks = []
    for model_id in sorted(models_in_use(use_case)):
        prefix, foundation = split_model_id(model_id)
        try:
            details = clients.client("bedrock").get_foundation_model(modelIdentifier=foundation)["modelDetails"]
        except (BotoCoreError, ClientError):
            details = {}
        label = " ".join(x for x in (details.get("providerName"), details.get("modelName")) if x) or foundation
        kind = (
            "Global cross-Region model inference tokens per minute"
            if prefix == GLOBAL_PREFIX
            else "Cross-region model inference tokens per minute"
            if prefix
            else "On-demand model inference tokens per minute"
        )
        quota = next(
            (q for q in quotas if q.get("QuotaName", "").lower().startswith(kind.lower()) and label in q["QuotaName"]),
            None,
        )
        name = f"Tokens/min {model_id}"
        if quota is None:
            checks.append(
                Check(
                    name,
                    WARN,
                    f"need ~{tpm:,.0f} ({how}); no quota named '{kind} for {label}'",
                    "compare in Service Quotas > Amazon Bedrock",
                )
            )
        elif quota["Value"] < tpm:
            checks.append(
                Check(
                    name,
                    WARN,
                    f"quota {quota['Value']:,.0f} < ~{tpm:,.0f} needed at peak ({how})",
                    f"request an increase of '{quota['QuotaName']}' ({quota['QuotaCode']}), or lower api.throttle_rate_per_s",
                )
            )
        else:
            checks.append(Check(name, PASS, f"quota {quota['Value']:,.0f} >= ~{tpm:,.0f} at peak ({how})"))
    return checks


def run_preflight(
    use_cases: Sequence[UseCase], stage: str, *, session_factory: Callable[[], Any] | None = None
) -> list[Check]:
    """Every check, for every use case given."""
    import boto3

    session = (session_factory or boto3.Session)()
    if session.get_credentials() is None:
        return [
            Check("AWS credentials", FAIL, "none found", "configure credentials (`aws configure sso`), then run again")
        ]
    clients = Clients(session)
    identity, account = check_identity(clients)
    if account is None:
        return [identity]
    checks = [identity, check_bootstrap(clients, account), cost_tag_check(clients.client("ce", "us-east-1"))]
    checks[-1] = _as_preflight(checks[-1])
    for use_case in use_cases:
        prefix = f"{use_case.name}: "
        for check in (
            *check_model_access(clients, use_case),
            *check_knowledge(clients, use_case),
            check_concurrency(clients, use_case, stage),
            *check_token_quota(clients, use_case),
        ):
            checks.append(Check(prefix + check.name, check.status, check.detail, check.fix))
    return checks


def _as_preflight(check: Check) -> Check:
    """doctor says OK where preflight says PASS."""
    return Check(check.name, PASS if check.status == "OK" else check.status, check.detail, check.fix)


def exit_code(checks: Sequence[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0


def render(checks: Sequence[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix and c.status != PASS:
            lines.append(f"{'':<4}  {'':<{width}}  -> {c.fix}")
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    lines.append(
        f"preflight: {failed} FAIL, {warned} WARN: "
        + ("do not deploy yet; fix the FAIL lines" if failed else "ready to deploy")
    )
    return "\n".join(lines)
