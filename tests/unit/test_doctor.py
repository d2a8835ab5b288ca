import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from liftoff import INSTALLED_FROM, REPO_ROOT, doctor

LIFTOFF = Path(sys.executable).parent / "liftoff"


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
    from liftoff.foundation.usecases import load_all_use_cases

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


def active(key):
    return {"TagKey": key, "Status": "Active", "Type": "UserDefined"}


@pytest.mark.parametrize(
    ("tags", "status"),
    [
        ([active("use-case"), active("stage")], doctor.OK),
        # the budget filters on the use case AND the stage: one tag alone lets it see nothing
        ([active("use-case")], doctor.WARN),
        ([], doctor.WARN),
    ],
)
def test_cost_allocation_tags(tags, status):
    ce = boto3.client("ce", region_name="us-east-1")
    stub = Stubber(ce)
    stub.add_response("list_cost_allocation_tags", {"CostAllocationTags": tags}, {"TagKeys": ["use-case", "stage"]})
    with stub:
        check = doctor.cost_tag_check(ce)
    assert check.status == status
    if status == doctor.WARN:
        assert "`stage`" in check.detail and "activate `use-case` and `stage`" in check.fix


def _scratch_project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("cdk.json", "requirements.txt", "package-lock.json"):
        shutil.copy(INSTALLED_FROM / name, copy / name)
    (copy / "lambdas").mkdir()
    shutil.copy(INSTALLED_FROM / "lambdas" / "requirements.txt", copy / "lambdas" / "requirements.txt")
    for folder in ("usecases", "prompts", "evals", "pricing"):
        shutil.copytree(REPO_ROOT / folder, copy / folder)
    return copy


def test_a_broken_use_case_is_reported_with_every_field_synth_names_within_80_columns(tmp_path):
    # Given a use case with two wrong fields
    copy = _scratch_project(tmp_path)
    config = copy / "usecases" / "fixture-triage.yaml"
    text = config.read_text().replace("min_accuracy: 0.85", "min_accuracy: 1.85")
    config.write_text(text.replace("quota_per_day: 10000", "quota_per_day: -1"))

    # When the doctor runs in an 80-column terminal
    done = subprocess.run(
        [str(LIFTOFF), "doctor"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "80"},
    )

    # Then it fails naming both fields as synth does, and no line is wider than the terminal
    assert done.returncode == 1
    assert "field `exit_criteria.min_accuracy`: Input should be less than or equal to 1" in done.stdout
    assert "field `api.quota_per_day`: Input should be greater than 0" in done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80


def test_node_below_the_supported_range_fails_and_the_recommended_one_passes(monkeypatch):
    monkeypatch.setattr(doctor, "_run", lambda command: "v18.19.0")
    assert doctor.check_node().status == doctor.FAIL
    assert "Node.js 20 or newer" in doctor.check_node().fix
    monkeypatch.setattr(doctor, "_run", lambda command: "v20.20.2")
    assert doctor.check_node().status == doctor.OK  # in the range; the fix column recommends 22
    monkeypatch.setattr(doctor, "_run", lambda command: "v22.12.0")
    assert doctor.check_node() == doctor.Check("Node.js", doctor.OK, "v22.12.0")
    assert doctor.main(["--node"]) == 0
    monkeypatch.setattr(doctor, "_run", lambda command: None)
    assert doctor.main(["--node"]) == 1  # what `make setup` runs before npm ci


def test_liftoff_version_works_anywhere(tmp_path):
    done = subprocess.run([str(LIFTOFF), "--version"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout.strip() == f"liftoff {metadata.version('liftoff')}"


def test_no_jsii_end_of_life_banner_where_liftoff_or_the_cdk_app_imports_aws_cdk():
    # Given an environment without the silencer (as when a user types `npx cdk synth` or `liftoff ... --stage`)
    env = {k: v for k, v in os.environ.items() if k != "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"}
    # When a liftoff process imports aws_cdk (what the CDK app and the --stage commands do)
    done = subprocess.run(
        [sys.executable, "-c", "import liftoff.cli, aws_cdk"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    # Then jsii prints no banner (on Node 20 it printed 11 lines of bytes literals)
    assert done.returncode == 0, done.stderr
    assert "end-of-life" not in done.stderr
    # and the CDK app imports liftoff before aws_cdk, so `npx cdk` is quiet too
    imports = [
        line for line in (REPO_ROOT / "app.py").read_text().splitlines() if line.startswith(("import ", "from "))
    ]
    assert imports.index(
        "import liftoff  # noqa: F401 - first: it quiets jsii's Node end-of-life banner before aws_cdk starts jsii"
    ) < imports.index("import aws_cdk as cdk")
