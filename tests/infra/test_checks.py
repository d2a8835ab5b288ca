import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam

from stacks.nag import acknowledge, add_nag_checks

REPO = Path(__file__).resolve().parents[2]


def test_nag_runs_clean_and_every_acknowledgement_has_a_reason(synthesized):
    # synthesizing at all means zero unacknowledged findings (the plugin fails synth otherwise)
    _, outdir, _ = synthesized
    report = json.loads((Path(outdir) / "validation-report.json").read_text())
    plugins = {p["pluginName"]: p for p in report["pluginReports"]}
    assert set(plugins) == {"AwsSolutions", "Serverless"}
    for plugin in plugins.values():
        assert plugin["violations"] == []
        acknowledged = plugin["suppressedViolations"]
        assert acknowledged, "expected the documented acknowledgements to be recorded"
        for finding in acknowledged:
            assert len(finding["reason"]) > 40, finding["ruleName"]


def _stack_with_wildcard_role(app: cdk.App) -> iam.Role:
    stack = cdk.Stack(app, "Probe")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=["*"]))
    return role


def test_an_unacknowledged_finding_fails_synth(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    _stack_with_wildcard_role(app)
    add_nag_checks(app)
    with pytest.raises(RuntimeError, match=r"AwsSolutions-IAM5\[Resource::\*\]"):
        app.synth()


def test_acknowledge_silences_exactly_that_finding(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    role = _stack_with_wildcard_role(app)
    acknowledge(role, "IAM5[Resource::*]", "probe: a documented reason that is long enough")
    add_nag_checks(app)
    app.synth()


def test_acknowledge_refuses_an_empty_reason(tmp_path):
    with pytest.raises(ValueError, match="needs a real reason"):
        acknowledge(cdk.Stack(cdk.App(outdir=str(tmp_path)), "S"), "L1", "because")


def test_cfn_lint_is_clean(synthesized):
    _, outdir, _ = synthesized
    templates = sorted(str(p) for p in Path(outdir).glob("*.template.json"))
    assert templates
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(REPO / ".cfnlintrc.yaml"),
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
