"""The GitHub Actions workflows shipped for users: valid against the workflow schema, and doing
the steps the README promises (they cannot run here: no GitHub, no AWS)."""

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def runs(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(workflow))


def test_workflows_match_the_github_workflow_schema():
    checker = Path(sys.executable).with_name("check-jsonschema")
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    assert len(files) == 2
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ci_runs_the_tests_and_synthesizes_both_stages():
    ci = load("ci.yml")
    on = ci[True] if True in ci else ci["on"]  # YAML 1.1 reads the key `on` as True
    assert "pull_request" in on
    assert ci["permissions"] == {"contents": "read"}
    commands = runs(ci)
    assert "make test" in commands
    assert "make synth STAGE=sandbox" in commands and "make synth STAGE=prod" in commands


def test_deploy_assumes_a_role_by_oidc_and_gates_on_the_deployed_api():
    deploy = load("deploy.yml")
    assert deploy["permissions"]["id-token"] == "write"
    credentials = [s for s in steps(deploy) if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")]
    assert len(credentials) == 1
    assert "role-to-assume" in credentials[0]["with"]
    assert "aws-access-key-id" not in credentials[0]["with"]  # no long-lived keys
    commands = runs(deploy)
    assert "npx cdk deploy" in commands and "-c use_case=" in commands
    assert "liftoff eval run" in commands and "--target api" in commands and "--gate" in commands
    # the gate runs after the deploy
    assert commands.index("npx cdk deploy") < commands.index("liftoff eval run")
