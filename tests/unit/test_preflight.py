"""liftoff preflight against Stubber-faked accounts: a fresh one is refused with the fixes named,
a healthy one passes. Every AWS call the checks make is stubbed in order; an unexpected call fails."""

import dataclasses
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from liftoff import preflight
from liftoff.foundation.bedrock_ids import split_model_id
from liftoff.foundation.usecases import load_use_case
from liftoff.preflight import (
    FAIL,
    PASS,
    WARN,
    Clients,
    check_knowledge,
    check_model_access,
    models_in_use,
    run_preflight,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"


class FakeSession:
    """A boto3 Session whose clients are stubbed: one client per (service, Region)."""

    region_name = REGION

    def __init__(self):
        self.clients: dict = {}
        self.stubs: dict = {}

    def get_credentials(self):
        return object()

    def client(self, service, region_name=None, config=None):
        return self._get(service, region_name or REGION)[0]

    def stub(self, service, region=REGION) -> Stubber:
        return self._get(service, region)[1]

    def _get(self, service, region):
        key = (service, region)
        if key not in self.clients:
            client = boto3.client(service, region_name=region)
            stub = Stubber(client)
            stub.activate()
            self.clients[key], self.stubs[key] = client, stub
        return self.clients[key], self.stubs[key]

    def assert_all_called(self):
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def with_reservation(use_case, reserved):
    capacity = use_case.config.capacity.model_copy(update={"reserved_concurrency": reserved})
    return dataclasses.replace(use_case, config=use_case.config.model_copy(update={"capacity": capacity}))


AVAILABLE = {
    "modelId": "m",
    "authorizationStatus": "AUTHORIZED",
    "entitlementAvailability": "AVAILABLE",
    "regionAvailability": "AVAILABLE",
    "agreementAvailability": {"status": "AVAILABLE"},
}
NOT_ENABLED = {
    **AVAILABLE,
    "authorizationStatus": "NOT_AUTHORIZED",
    "agreementAvailability": {"status": "NOT_AVAILABLE"},
}


US_ROUTES = ("us-east-1", "us-east-2", "us-west-2")


def inference_profile(model_id: str, routes=US_ROUTES, region=REGION) -> dict:
    """GetInferenceProfile's answer for a system-defined profile routing to `routes` (botocore's shape)."""
    foundation = split_model_id(model_id)[1]
    return {
        "inferenceProfileName": f"US {foundation}",
        "inferenceProfileArn": f"arn:aws:bedrock:{region}:{ACCOUNT}:inference-profile/{model_id}",
        "inferenceProfileId": model_id,
        "models": [{"modelArn": f"arn:aws:bedrock:{r}::foundation-model/{foundation}"} for r in routes],
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def stub_models(session, use_case, availability, routes=US_ROUTES, region=REGION):
    """Each allowed model: its profile read in `region` (a `us.` id), then its access in every route."""
    for model_id in use_case.config.models.allowed:
        prefix, foundation = split_model_id(model_id)
        regions = [region]
        if prefix is not None:
            session.stub("bedrock", region).add_response(
                "get_inference_profile",
                inference_profile(model_id, routes, region),
                {"inferenceProfileIdentifier": model_id},
            )
            regions = sorted({region, *routes})
        for where in regions:
            session.stub("bedrock", where).add_response(
                "get_foundation_model_availability",
                {**availability(model_id), "modelId": foundation},
                {"modelId": foundation},
            )


def stub_knowledge(session, use_case, availability, region=REGION, *, vectors_error=None):
    """A retrieval use case: its embedding model's access here, then S3 Vectors' ListVectorBuckets (answered,
    or the error code `vectors_error`)."""
    model_id = use_case.config.knowledge.embedding.model_id
    session.stub("bedrock", region).add_response(
        "get_foundation_model_availability", {**availability(model_id), "modelId": model_id}, {"modelId": model_id}
    )
    vectors = session.stub("s3vectors", region)
    if vectors_error:
        vectors.add_client_error("list_vector_buckets", vectors_error, "denied", 403, expected_params={"maxResults": 1})
    else:
        vectors.add_response("list_vector_buckets", {"vectorBuckets": []}, {"maxResults": 1})


def stub_account(
    session, use_case, *, bootstrap, availability, concurrency, deployed_reservation=None, quota_value=None
):
    """Queue the answers of an account, in the order preflight asks."""
    session.stub("sts").add_response(
        "get_caller_identity", {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:role/deployer", "UserId": "u"}
    )
    ssm = session.stub("ssm")
    if bootstrap is None:
        ssm.add_client_error("get_parameter", "ParameterNotFound", http_status_code=400)
    else:
        ssm.add_response(
            "get_parameter", {"Parameter": {"Name": "/cdk-bootstrap/hnb659fds/version", "Value": str(bootstrap)}}
        )
    session.stub("ce").add_response(
        "list_cost_allocation_tags", {"CostAllocationTags": []}, {"TagKeys": ["use-case", "stage"]}
    )
    stub_models(session, use_case, availability)
    if use_case.config.knowledge is not None:
        stub_knowledge(session, use_case, availability)
    quota, unreserved = concurrency
    session.stub("lambda").add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": quota, "UnreservedConcurrentExecutions": unreserved}},
    )
    if use_case.config.capacity.reserved_concurrency is not None:
        cloudformation = session.stub("cloudformation")
        if deployed_reservation is None:
            cloudformation.add_client_error("describe_stacks", "ValidationError", "Stack does not exist")
        else:
            cloudformation.add_response(
                "describe_stacks",
                {
                    "Stacks": [
                        {
                            "StackName": "s",
                            "CreationTime": "2026-11-01T00:00:00Z",
                            "StackStatus": "UPDATE_COMPLETE",
                            "Outputs": [{"OutputKey": "InvokeFunctionName", "OutputValue": "fn"}],
                        }
                    ]
                },
            )
            session.stub("lambda").add_response(
                "get_function_concurrency",
                {"ReservedConcurrentExecutions": deployed_reservation},
                {"FunctionName": "fn"},
            )
    quotas = []
    for model_id in sorted(models_in_use(use_case)):
        foundation = model_id.split(".", 1)[1]
        name = "Nova Lite" if "lite" in foundation else "Nova Micro"
        session.stub("bedrock").add_response(
            "get_foundation_model",
            {"modelDetails": {"modelArn": "arn", "modelId": foundation, "modelName": name, "providerName": "Amazon"}},
            {"modelIdentifier": foundation},
        )
        if quota_value is not None:
            quotas.append(
                {
                    "QuotaName": f"Cross-region model inference tokens per minute for Amazon {name}",
                    "QuotaCode": f"L-{len(quotas)}",
                    "Value": quota_value,
                }
            )
    session.stub("service-quotas").add_response("list_service_quotas", {"Quotas": quotas}, {"ServiceCode": "bedrock"})


@pytest.fixture(autouse=True)
def measured_tokens(monkeypatch):
    # tokens at the API's peak come from the latest eval report; fixed here
    monkeypatch.setattr(preflight, "projected_tokens_per_minute", lambda uc: (90_000.0, "5 requests/s x 300 tokens"))


def by_name(checks):
    return {c.name: c for c in checks}


def test_a_fresh_account_refuses_fixture_summary_and_names_each_fix():
    # Given a new account: no bootstrap, no model enabled, a concurrency quota of 10, and fixture-summary
    # reserving 40 executions
    use_case = with_reservation(load_use_case("fixture-summary"), 40)
    session = FakeSession()
    stub_account(session, use_case, bootstrap=None, availability=lambda m: NOT_ENABLED, concurrency=(10, 10))
    # When preflight runs
    checks = by_name(run_preflight([use_case], "sandbox", session_factory=lambda: session))
    session.assert_all_called()
    # Then it refuses, and each failing line says what to do
    assert preflight.exit_code(checks.values()) == 1
    assert checks["CDK bootstrap"].status == FAIL
    assert f"npx cdk bootstrap aws://{ACCOUNT}/{REGION}" in checks["CDK bootstrap"].fix
    lite = checks["fixture-summary: Model us.amazon.nova-lite-v1:0"]
    assert lite.status == FAIL and "us-west-2: authorizationStatus NOT_AUTHORIZED" in lite.detail
    assert "Model access" in lite.fix
    # Claude is allowed but no prompt uses it yet: a warning that says what to do before switching
    claude = checks["fixture-summary: Model us.anthropic.claude-haiku-4-5-20251001-v1:0"]
    assert claude.status == WARN and "first-use form" in claude.fix and "Marketplace" in claude.fix
    concurrency = checks["fixture-summary: Lambda concurrency"]
    assert concurrency.status == FAIL
    assert "Lambda requires 100" in concurrency.detail
    assert "set capacity.reserved_concurrency to 0 or less" in concurrency.fix
    assert checks["Cost-allocation tag"].status == WARN
    tokens = checks["fixture-summary: Tokens/min us.amazon.nova-lite-v1:0"]
    assert tokens.status == WARN and "no quota named" in tokens.detail


def test_a_healthy_account_passes():
    use_case = with_reservation(load_use_case("fixture-summary"), 40)
    session = FakeSession()
    stub_account(
        session,
        use_case,
        bootstrap=27,
        availability=lambda m: AVAILABLE,
        concurrency=(1000, 960),
        deployed_reservation=None,
        quota_value=2_000_000,
    )
    checks = run_preflight([use_case], "sandbox", session_factory=lambda: session)
    session.assert_all_called()
    statuses = {c.name: c.status for c in checks}
    assert preflight.exit_code(checks) == 0
    assert {s for n, s in statuses.items() if n != "Cost-allocation tag"} == {PASS}, statuses


def test_a_redeploy_counts_the_functions_own_reservation_back_in():
    # 40 reserved by the deployed function already: 130 unreserved + 40 - 100 = 70 reservable
    use_case = with_reservation(load_use_case("fixture-summary"), 60)
    session = FakeSession()
    stub_account(
        session,
        use_case,
        bootstrap=27,
        availability=lambda m: AVAILABLE,
        concurrency=(170, 130),
        deployed_reservation=40,
        quota_value=2_000_000,
    )
    checks = by_name(run_preflight([use_case], "sandbox", session_factory=lambda: session))
    assert checks["fixture-summary: Lambda concurrency"].status == PASS


def test_an_old_bootstrap_and_a_low_token_quota():
    use_case = load_use_case("fixture-triage")
    session = FakeSession()
    stub_account(
        session, use_case, bootstrap=5, availability=lambda m: AVAILABLE, concurrency=(1000, 1000), quota_value=10_000
    )
    checks = by_name(run_preflight([use_case], "prod", session_factory=lambda: session))
    assert checks["CDK bootstrap"].status == FAIL and "to upgrade" in checks["CDK bootstrap"].fix
    tokens = checks["fixture-triage: Tokens/min us.amazon.nova-micro-v1:0"]
    assert tokens.status == WARN and "request an increase" in tokens.fix


def test_no_credentials_is_a_failure_that_says_what_to_do():
    class NoCredentials:
        region_name = REGION

        def get_credentials(self):
            return None

    (check,) = run_preflight([load_use_case("fixture-triage")], "sandbox", session_factory=NoCredentials)
    assert check.status == FAIL and "aws configure sso" in check.fix


def test_render_has_one_line_per_check_and_a_verdict():
    checks = [
        preflight.Check("a", PASS, "fine"),
        preflight.Check("b", FAIL, "broken", "fix it"),
    ]
    text = preflight.render(checks)
    assert text.splitlines()[0].startswith("PASS  a")
    assert "-> fix it" in text
    assert text.splitlines()[-1] == "preflight: 1 FAIL, 0 WARN: do not deploy yet; fix the FAIL lines"


def test_a_region_that_is_not_a_source_of_the_profile_fails_before_the_deploy():
    # Given fixture-triage (us.* profiles) and a deploy to eu-west-1, where Bedrock has no `us.` profile
    use_case = load_use_case("fixture-triage")
    session = FakeSession()
    session.region_name = "eu-west-1"
    for model_id in use_case.config.models.allowed:
        session.stub("bedrock", "eu-west-1").add_client_error(
            "get_inference_profile",
            "ResourceNotFoundException",
            "The specified inference profile does not exist",
            http_status_code=404,
            expected_params={"inferenceProfileIdentifier": model_id},
        )
    # When the models are checked
    checks = check_model_access(Clients(session), use_case)
    session.assert_all_called()
    # Then each model the use case calls fails, saying why and what to do; no availability is asked
    micro = by_name(checks)["Model us.amazon.nova-micro-v1:0"]
    assert micro.status == FAIL
    assert "eu-west-1 has no inference profile us.amazon.nova-micro-v1:0" in micro.detail
    assert "Region of the `us` geography" in micro.fix


def test_the_routes_come_from_the_profile_and_outside_ones_are_named_with_the_fix():
    # Given a `us.` profile that, in this account, routes to us-east-1 and ca-central-1: the second is
    # not a Region the invoke role may call (IAM's table says us-east-1, us-east-2, us-west-2)
    use_case = load_use_case("fixture-triage")
    session = FakeSession()
    for model_id in use_case.config.models.allowed:
        session.stub("bedrock").add_response(
            "get_inference_profile",
            inference_profile(model_id, routes=("us-east-1", "ca-central-1")),
            {"inferenceProfileIdentifier": model_id},
        )
    # When the models are checked
    checks = by_name(check_model_access(Clients(session), use_case))
    session.assert_all_called()
    # Then it fails naming the Region and the config line that grants it
    micro = checks["Model us.amazon.nova-micro-v1:0"]
    assert micro.status == FAIL and "routes to ca-central-1" in micro.detail
    assert micro.fix == ("set models.profile_regions.us to [ca-central-1, us-east-1] in usecases/fixture-triage.yaml")


def test_access_is_checked_in_exactly_the_regions_the_profile_routes_to():
    # Given profiles that route to two Regions only, both granted, with the model enabled there
    use_case = load_use_case("fixture-triage")
    session = FakeSession()
    stub_models(session, use_case, lambda m: AVAILABLE, routes=("us-east-1", "us-west-2"))
    # When the models are checked / Then access was asked in those two Regions (no other call: Stubber)
    checks = by_name(check_model_access(Clients(session), use_case))
    session.assert_all_called()
    micro = checks["Model us.amazon.nova-micro-v1:0"]
    assert (micro.status, micro.detail) == (PASS, "accessible in us-east-1, us-west-2")


def test_a_profile_that_cannot_be_read_says_which_permission_is_missing():
    use_case = load_use_case("fixture-triage")
    session = FakeSession()
    for _ in use_case.config.models.allowed:
        session.stub("bedrock").add_client_error(
            "get_inference_profile", "AccessDeniedException", "not authorized", http_status_code=403
        )
    checks = by_name(check_model_access(Clients(session), use_case))
    micro = checks["Model us.amazon.nova-micro-v1:0"]
    assert micro.status == FAIL and micro.fix == "allow bedrock:GetInferenceProfile"


def test_a_global_profile_is_read_as_a_profile_and_every_route_is_granted():
    # Given fixture-triage calling a global cross-Region profile (IAM grants it the Region-less model ARN, so
    # any route is allowed) that routes to three Regions on two continents, the model enabled there
    use_case = load_use_case("fixture-triage")
    model_id = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    models = use_case.config.models.model_copy(update={"allowed": [model_id], "default": model_id, "fallback": None})
    use_case = dataclasses.replace(use_case, config=use_case.config.model_copy(update={"models": models}))
    session = FakeSession()
    stub_models(session, use_case, lambda m: AVAILABLE, routes=("ap-northeast-1", "eu-west-1", "us-east-1"))
    # When the models are checked / Then the profile was read and access asked in its routes (no other call)
    checks = by_name(check_model_access(Clients(session), use_case))
    session.assert_all_called()
    assert (checks[f"Model {model_id}"].status, checks[f"Model {model_id}"].detail) == (
        PASS,
        "accessible in ap-northeast-1, eu-west-1, us-east-1",
    )


# --- a retrieval use case (knowledge:) ------------------------------------------------------------------

FIXTURE_PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "project"


@pytest.fixture
def rag():
    return load_use_case("fixture-rag", FIXTURE_PROJECT)


def test_a_healthy_account_passes_the_retrieval_checks_too(rag):
    # Given an account where every model, the embedding model and S3 Vectors are available
    session = FakeSession()
    stub_account(
        session, rag, bootstrap=27, availability=lambda m: AVAILABLE, concurrency=(1000, 1000), quota_value=2_000_000
    )
    # When preflight runs for the retrieval use case
    checks = by_name(run_preflight([rag], "sandbox", session_factory=lambda: session))
    session.assert_all_called()
    # Then the embedding model and S3 Vectors are checked, and pass
    embedding = checks["fixture-rag: Embedding model amazon.titan-embed-text-v2:0"]
    assert embedding.status == PASS and embedding.detail == f"accessible in {REGION}"
    assert checks["fixture-rag: S3 Vectors"].status == PASS
    assert preflight.exit_code(checks.values()) == 0


def test_an_embedding_model_without_access_fails_with_the_fix(rag):
    session = FakeSession()
    stub_knowledge(session, rag, lambda m: NOT_ENABLED)
    embedding, vectors = check_knowledge(Clients(session), rag)
    session.assert_all_called()
    assert embedding.status == FAIL
    assert "us-east-1: authorizationStatus NOT_AUTHORIZED" in embedding.detail
    assert "Model access" in embedding.fix and "embeds documents and questions" in embedding.fix
    assert vectors.status == PASS


def endpoint_missing(session, region):
    """S3 Vectors has no endpoint in `region`: the request is built and sent, and no host answers (a real,
    unstubbed client whose send fails as a DNS failure does)."""
    from botocore.exceptions import EndpointConnectionError

    client = boto3.client("s3vectors", region_name=region)

    def unreachable(request, **kwargs):
        raise EndpointConnectionError(endpoint_url=request.url)

    client.meta.events.register("before-send.s3vectors.ListVectorBuckets", unreachable)
    session.clients[("s3vectors", region)] = client
    session.stubs[("s3vectors", region)] = Stubber(client)  # never activated: the real request path runs


def test_a_region_without_s3_vectors_fails_naming_where_to_find_the_regions_that_have_it(rag):
    # Given a Region whose S3 Vectors endpoint does not answer
    session = FakeSession()
    session.region_name = "af-south-1"
    session.stub("bedrock", "af-south-1").add_response(
        "get_foundation_model_availability",
        {**AVAILABLE, "modelId": "amazon.titan-embed-text-v2:0"},
        {"modelId": "amazon.titan-embed-text-v2:0"},
    )
    endpoint_missing(session, "af-south-1")
    # When the knowledge checks run
    checks = by_name(check_knowledge(Clients(session), rag))
    # Then S3 Vectors fails, saying where the Regions that offer it are listed
    vectors = checks["S3 Vectors"]
    assert vectors.status == FAIL
    assert "no S3 Vectors endpoint answers in af-south-1" in vectors.detail
    assert preflight.S3_VECTORS_REGIONS_DOC in vectors.fix


def test_access_denied_to_s3_vectors_names_the_actions_to_grant(rag):
    session = FakeSession()
    stub_knowledge(session, rag, lambda m: AVAILABLE, vectors_error="AccessDeniedException")
    vectors = check_knowledge(Clients(session), rag)[1]
    assert vectors.status == FAIL
    assert "s3vectors:ListVectorBuckets" in vectors.fix and "s3vectors:CreateIndex" in vectors.fix


def test_a_use_case_without_knowledge_has_no_retrieval_checks():
    assert check_knowledge(Clients(FakeSession()), load_use_case("fixture-triage")) == []
