"""The GitHub Actions workflows shipped for users: valid against the workflow schema, and doing
the steps the docs promise (they cannot run here: no GitHub, no AWS)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
CLONE_JOB = "clone-with-its-own-use-case"


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
    # preflight, deploy, smoke, gate, canary: in that order
    order = [
        "liftoff preflight --stage",
        "npx cdk deploy",
        "liftoff smoke --stage",
        "liftoff eval run",
        "liftoff prompts canary --pending",
    ]
    assert [commands.index(c) for c in order] == sorted(commands.index(c) for c in order)


def test_the_deploy_gate_evaluates_the_change_and_only_a_pass_starts_its_canary():
    # the gate pins the version the deploy published (not live, the incumbent), and the canary step
    # comes after it in the same job: a failing gate stops the job before any alias moves
    (gate,) = [s for s in steps(load("deploy.yml")) if "liftoff eval run" in s.get("run", "")]
    assert "--pending" in gate["run"] and "--target api" in gate["run"] and "--gate" in gate["run"]
    (canary,) = [s for s in steps(load("deploy.yml")) if "prompts canary" in s.get("run", "")]
    assert "--pending" in canary["run"] and "if" not in canary  # runs only when every step before passed
    script = (REPO / "tools" / "test-aws").read_text()
    assert script.index("--pending --gate") < script.index("prompts canary --pending")
    # the gate runs the whole eval set: a stage does not count a sample (--limit, --tag, --file) as evidence
    for run in [gate["run"], *(line for line in script.splitlines() if "--pending --gate" in line)]:
        assert not {"--limit", "--tag", "--file"} & set(run.split()), run


def test_workflows_test_and_deploy_with_the_lambda_python_and_node_22():
    for name in ("ci.yml", "deploy.yml"):
        for job_id, job in load(name)["jobs"].items():
            setup = {s["uses"].split("@")[0]: s.get("with", {}) for s in job["steps"] if "uses" in s}
            assert setup["actions/setup-python"]["python-version"] == "3.13", (name, job_id)
            assert setup["actions/setup-node"]["node-version"] == "22", (name, job_id)


def test_ci_runs_make_test_in_a_clone_without_the_shipped_use_cases_and_with_its_own():
    jobs = load("ci.yml")["jobs"]
    assert CLONE_JOB in jobs, f"ci.yml has no {CLONE_JOB} job"
    clone_steps = jobs[CLONE_JOB]["steps"]
    # Given the test job's setup (checkout, Python, Node and their caches), step for step
    setup = [s for s in clone_steps if "uses" in s]
    assert setup == [s for s in jobs["test"]["steps"] if "uses" in s]
    assert clone_steps[: len(setup)] == setup
    # When the job runs: a clone, every shipped use case removed (asked nothing: no terminal), faq-bot
    # scaffolded, then make test; in that order, one step each, and every step after the clone in the clone
    commands = [s["run"] for s in clone_steps[len(setup) :]]
    order = ["git clone", "liftoff remove-use-case", "liftoff new-use-case faq-bot", "make test"]
    first = [next((i for i, run in enumerate(commands) if step in run), None) for step in order]
    assert None not in first, dict(zip(order, first, strict=True))
    assert first == sorted(first) and len(set(first)) == len(first), dict(zip(order, first, strict=True))
    assert commands[0].split()[-1] == '"$RUNNER_TEMP/clone"'
    for step in clone_steps[len(setup) + 1 :]:
        assert step.get("working-directory") == "${{ runner.temp }}/clone", step
    assert 'test "$(ls usecases)" = "faq-bot.yaml"' in commands[first[2]]  # nothing shipped is left
    # Then make test is the job's last step: what it checks is the clone as the steps left it
    assert commands[-1].strip() == "make test"


# A stand-in for .venv/bin/liftoff in the clone job's removal step: records each call in $FAKE/ran;
# `use-cases --names` prints $FAKE/names and exits $FAKE/names_exit.
FAKE_REMOVER = """#!/bin/bash
echo "$*" >> "$FAKE/ran"
if [ "$1" = use-cases ]; then
  cat "$FAKE/names"
  exit "$(cat "$FAKE/names_exit")"
fi
"""


def run_step_with_a_stand_in(tmp_path, step: dict, script: str, names: list[str], names_exit: int, files=None):
    """Run a workflow step with bash -e (how GitHub runs a step that names no shell) in `tmp_path`, `script` standing
    in for .venv/bin/liftoff (it lists `names`, exiting `names_exit`, and reads `files` from $FAKE); the exit code,
    and the commands the stand-in recorded."""
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "names").write_text("".join(f"{name}\n" for name in names))
    (fake / "names_exit").write_text(str(names_exit))
    for name, text in (files or {}).items():
        (fake / name).write_text(text)
    liftoff = tmp_path / ".venv" / "bin" / "liftoff"
    liftoff.parent.mkdir(parents=True)
    liftoff.write_text(script)
    liftoff.chmod(0o755)
    (tmp_path / "step.sh").write_text(step["run"])
    done = subprocess.run(
        ["bash", "-e", "step.sh"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "FAKE": str(fake)},
        capture_output=True,
        text=True,
        check=False,
    )
    ran = (fake / "ran").read_text().splitlines() if (fake / "ran").exists() else []
    return done.returncode, ran


def run_clone_removal_step(tmp_path, names: list[str], names_exit: int = 0) -> tuple[int, list[str]]:
    (step,) = [s for s in load("ci.yml")["jobs"][CLONE_JOB]["steps"] if "remove-use-case" in s.get("run", "")]
    return run_step_with_a_stand_in(tmp_path, step, FAKE_REMOVER, names, names_exit)


def test_the_clone_job_removes_every_use_case_the_clone_has_without_asking(tmp_path):
    # Given a clone whose use cases are whatever the commit ships / When the removal step runs
    code, ran = run_clone_removal_step(tmp_path, ["doc-summary", "hr-bot", "policy-qa"])
    # Then it removed each one with --yes (no terminal in CI: without it the command refuses)
    assert code == 0
    assert ran == [
        "use-cases --names",
        "remove-use-case doc-summary --yes",
        "remove-use-case hr-bot --yes",
        "remove-use-case policy-qa --yes",
    ]


def test_the_clone_job_fails_when_the_use_cases_cannot_be_listed(tmp_path):
    # Given `liftoff use-cases --names` failing / Then the step fails, not a loop over none
    code, ran = run_clone_removal_step(tmp_path, [], names_exit=1)
    assert code != 0 and ran == ["use-cases --names"]


def test_the_real_aws_suite_does_nothing_without_credentials_and_says_why(tmp_path):
    # Given no credentials anywhere / When `make test-aws` runs its script / Then it exits 0, deploying nothing
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run([str(REPO / "tools" / "test-aws")], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "no AWS credentials found, so nothing was deployed" in result.stdout


# A stand-in for .venv/bin/liftoff in the ci eval step: `use-cases --names` prints $FAKE/names (exit
# $FAKE/names_exit), `eval run --use-case NAME ... --out DIR` records NAME in $FAKE/ran and does what
# $FAKE/NAME says: "CODE report" writes DIR/report.json and exits CODE, "CODE" exits CODE without one.
FAKE_LIFTOFF = """#!/bin/bash
if [ "$1" = use-cases ]; then
  [ "$2" = --names ] || exit 2
  cat "$FAKE/names"
  exit "$(cat "$FAKE/names_exit")"
fi
while [ $# -gt 0 ]; do
  case "$1" in --use-case) use_case=$2; shift ;; --out) out=$2; shift ;; esac
  shift
done
echo "$use_case" >> "$FAKE/ran"
read -r code report < "$FAKE/$use_case"
if [ "$report" = report ]; then mkdir -p "$out" && echo '{}' > "$out/report.json"; fi
exit "$code"
"""


def run_ci_eval_step(tmp_path, outcomes: dict[str, str], names_exit: int = 0):
    (step,) = [s for s in steps(load("ci.yml")) if "liftoff eval run" in s.get("run", "")]
    files = {name: outcome + "\n" for name, outcome in outcomes.items()}
    code, ran = run_step_with_a_stand_in(tmp_path, step, FAKE_LIFTOFF, list(outcomes), names_exit, files)
    return code, [word for line in ran for word in line.split()]


def test_ci_evaluates_every_use_case_of_the_project_whatever_their_names(tmp_path):
    # Given a project whose use cases the template never shipped, one of them failing its criteria on the
    # simulator (a verdict: the wiring works)
    outcomes = {"faq-bot": "0 report", "hr-bot": "1 report", "it-desk": "0 report"}
    # When ci's local eval step runs / Then it ran each and passes
    code, ran = run_ci_eval_step(tmp_path, outcomes)
    assert (code, ran) == (0, ["faq-bot", "hr-bot", "it-desk"])


@pytest.mark.parametrize(
    "broken",
    [
        "3 report",  # nothing answered: local mode is broken
        "1",  # refused before any case ran (a broken eval set or config): no verdict
        "2",  # a usage error
    ],
)
def test_ci_fails_on_an_eval_run_that_reaches_no_verdict(tmp_path, broken):
    code, ran = run_ci_eval_step(tmp_path, {"faq-bot": "0 report", "hr-bot": broken, "it-desk": "0 report"})
    assert code != 0 and ran == ["faq-bot", "hr-bot"]


def test_ci_fails_when_the_use_cases_cannot_be_listed(tmp_path):
    # Given `liftoff use-cases --names` failing (no use cases, no project) / Then the step fails, not a loop over none
    code, ran = run_ci_eval_step(tmp_path, {"faq-bot": "0 report"}, names_exit=1)
    assert code != 0 and ran == []


def test_use_cases_names_prints_the_project_s_use_cases_one_a_line(monkeypatch):
    from click.testing import CliRunner

    from liftoff.cli import main
    from liftoff.foundation import usecases

    # Given the session's project / When a script asks for the names / Then it gets exactly them
    listed = CliRunner().invoke(main, ["use-cases", "--names"])
    assert listed.exit_code == 0 and listed.output.splitlines() == usecases.use_case_names()
    assert listed.output.splitlines() == ["fixture-rag", "fixture-summary", "fixture-triage"]
    # Given none / Then it refuses (a loop over its output would do nothing and succeed), saying how to add one
    monkeypatch.setattr(usecases, "use_case_names", lambda root=None: [])
    empty = CliRunner().invoke(main, ["use-cases", "--names"])
    assert empty.exit_code == 1 and usecases.NO_USE_CASES in empty.output
    both = CliRunner().invoke(main, ["use-cases", "--names", "--default"])
    assert both.exit_code == 2 and "give --default or --names, not both" in both.output
