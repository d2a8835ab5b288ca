import boto3
import pytest
from botocore.stub import Stubber

from liftoff import doctor


def test_local_toolchain_checks_pass_on_a_set_up_machine():
    checks = {c.name: c for c in doctor.run_checks(session_factory=NoCredentials)}
    assert checks["Python"].status == doctor.OK
    assert checks["CDK CLI"].status == doctor.OK
    assert checks["Python packages"].status == doctor.OK
    assert checks["Use cases"].status == doctor.OK
    assert checks["AWS credentials"].status == doctor.SKIP  # local mode needs none


class NoCredentials:
    region_name = None

    def get_credentials(self):
        return None


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (
            {
                "modelId": "m",
                "authorizationStatus": "AUTHORIZED",
                "entitlementAvailability": "AVAILABLE",
                "regionAvailability": "AVAILABLE",
                "agreementAvailability": {"status": "AVAILABLE"},
            },
            doctor.OK,
        ),
        (
            {
                "modelId": "m",
                "authorizationStatus": "NOT_AUTHORIZED",
                "entitlementAvailability": "AVAILABLE",
                "regionAvailability": "AVAILABLE",
                "agreementAvailability": {"status": "PENDING"},
            },
            doctor.WARN,
        ),
    ],
)
def test_model_access_is_checked_for_every_configured_model(answer, status):
    from liftoff.usecases import load_all_use_cases

    models = sorted({m for u in load_all_use_cases() for m in u.config.models.allowed})
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    stub = Stubber(bedrock)
    for model in models:
        foundation = model.split(".", 1)[1] if model.startswith(("us.", "eu.", "apac.", "global.")) else model
        stub.add_response("get_foundation_model_availability", answer, {"modelId": foundation})
    with stub:
        checks = doctor.model_access_checks(bedrock)
    assert [c.name for c in checks] == [f"Model {m}" for m in models]
    assert {c.status for c in checks} == {status}
    if status == doctor.WARN:
        assert "Model access" in checks[0].fix and "NOT_AUTHORIZED" in checks[0].detail


@pytest.mark.parametrize(
    ("tags", "status"),
    [([{"TagKey": "use-case", "Status": "Active", "Type": "UserDefined"}], doctor.OK), ([], doctor.WARN)],
)
def test_cost_allocation_tag(tags, status):
    ce = boto3.client("ce", region_name="us-east-1")
    stub = Stubber(ce)
    stub.add_response("list_cost_allocation_tags", {"CostAllocationTags": tags}, {"TagKeys": ["use-case"]})
    with stub:
        assert doctor.cost_tag_check(ce).status == status
