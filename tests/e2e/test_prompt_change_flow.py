"""How a prompt change reaches production, as a user types it in a checkout of their own: edit the file,
publish it (live stays), evaluate exactly that version, promote it only once its eval passed, roll back
step by step. In a scratch copy with its own local mode, so the session's local mode is untouched."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from liftoff import REPO_ROOT
from liftoff.evals.runner import LATENCY_WARM
from liftoff.foundation.usecases import load_prompt_file

pytestmark = pytest.mark.e2e
LIFTOFF = Path(sys.executable).parent / "liftoff"
USE_CASE = "fixture-triage"
PASSING_TAGS = ("--tag", "punctuation", "--tag", "markup")  # cases the simulator's keyword rule answers right


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    copy = tmp_path_factory.mktemp("checkout")
    shutil.copy(REPO_ROOT / "cdk.json", copy / "cdk.json")
    for folder in ("usecases", "prompts", "evals", "pricing", "charters", "knowledge"):
        if (REPO_ROOT / folder).is_dir():
            shutil.copytree(REPO_ROOT / folder, copy / folder)
    yield copy
    subprocess.run([str(LIFTOFF), "local", "down"], cwd=copy, capture_output=True, timeout=60, check=False)


def liftoff(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LIFTOFF_AUTHOR": "e2e", "LIFTOFF_LOCAL_PROMPT_CACHE_TTL_S": "0"}
    return subprocess.run(
        [str(LIFTOFF), *args], cwd=checkout, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def ok(checkout: Path, *args: str) -> str:
    done = liftoff(checkout, *args)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def edit(checkout: Path, line: str) -> str:
    """Add a line to the system prompt of triage.yaml; the content hash the registry will compute."""
    path = checkout / "prompts" / USE_CASE / "triage.yaml"
    path.write_text(path.read_text().replace("system: |\n", f"system: |\n  {line}\n", 1))
    return load_prompt_file(path).content_hash()


def live(checkout: Path) -> int:
    (row,) = json.loads(ok(checkout, "prompts", "list", "--json"))
    return row["live"]


def test_a_local_eval_judges_p95_on_warm_requests_and_counts_the_cold_starts(checkout):
    # Given local mode just started: no execution environment runs yet
    ok(checkout, "local", "up", "--use-case", USE_CASE)
    # When 7 cases run at concurrency 8
    out = checkout / "reports" / "warm"
    done = liftoff(checkout, "eval", "run", "--limit", "7", "--concurrency", "8", "--out", str(out))
    assert done.returncode in (0, 1), done.stderr
    # Then p95 is judged on warm requests, and the cold starts it set aside are counted and said
    (run,) = json.loads((out / "report.json").read_text())["runs"]
    assert run["latency_basis"] == LATENCY_WARM
    cold = run["environments_warmed"] + run["cold_starts_excluded"]
    assert cold >= 1 and len(run["cold_start_ms"]) == cold
    assert f"{cold} cold start(s) set aside" in " ".join(done.stdout.split())
    assert "judged on warm requests" in (out / "report.md").read_text()


def test_edit_publish_evaluate_promote_and_roll_back(checkout):
    ok(checkout, "local", "up", "--use-case", USE_CASE)
    # Given the prompt file edited and published: v2, live still on v1
    v2_hash = edit(checkout, "Keep the summary short.")
    assert "triage: published v2" in ok(checkout, "prompts", "publish", "triage")
    assert live(checkout) == 1

    # When v2 is promoted before any eval / Then it is refused, naming the command to run
    refused = liftoff(checkout, "prompts", "promote", "triage", "2")
    assert refused.returncode == 1
    assert f"liftoff eval run --use-case {USE_CASE} --version 2" in " ".join(refused.stderr.split())
    assert live(checkout) == 1

    # When v2 is evaluated / Then the report names v2 and its hash, and the result is recorded
    out = checkout / "reports" / "v2"
    evaluated = ok(checkout, "eval", "run", "--version", "2", *PASSING_TAGS, "--out", str(out))
    evaluated = " ".join(evaluated.split())  # as a terminal of any width shows it, lines joined
    assert f"evaluated: triage v2, sha256:{v2_hash}" in evaluated
    assert "recorded in the local registry: triage v2" in evaluated
    report = json.loads((out / "report.json").read_text())
    assert (report["evaluated"]["version"], report["evaluated"]["content_hash"], report["passed"]) == (2, v2_hash, True)

    # Then the promote is accepted, with that evidence
    promoted = ok(checkout, "prompts", "promote", "triage", "2")
    assert "live -> v2" in promoted and str(out / "report.json") in promoted
    assert live(checkout) == 2

    # Given v3 edited and published, then through the deploy gate's steps: the pending version
    # evaluated (pinned), its canary started only after that pass, then promoted
    edit(checkout, "Never guess a category you are unsure of: say other.")
    ok(checkout, "prompts", "publish", "triage")
    gate = ok(checkout, "eval", "run", "--pending", *PASSING_TAGS, "--gate", "--out", str(checkout / "reports" / "v3"))
    assert gate.startswith(f"{USE_CASE}: PASS triage v3")
    assert "canary v3 at 10%" in ok(checkout, "prompts", "canary", "--pending", "--weight", "10")
    ok(checkout, "prompts", "promote", "triage", "3")
    assert live(checkout) == 3
    assert "nothing pending" in ok(checkout, "eval", "run", "--pending", "--gate")

    # When rolled back twice / Then live lands on v2, then on v1
    assert "live -> v2" in ok(checkout, "prompts", "rollback", "triage")
    assert "live -> v1" in ok(checkout, "prompts", "rollback", "triage")
    assert live(checkout) == 1
    history = ok(checkout, "prompts", "history", "triage")
    assert "eval PASS on local (simulator, sample)" in history  # the tagged cases: labelled as a sample
