"""The checkout's use cases (liftoff.INSTALLED_FROM / usecases), found when the tests are collected, and the heavy
work done on them once per session: both stages synthesized, cfn-lint and checkov over them, and each use case in
local mode (smoke, a short eval run). The session stands in the fixture project, and the stacks and `liftoff`
read the project through liftoff.REPO_ROOT, which a process fixes when it imports liftoff: so all of it runs in
processes of their own, started from the checkout. The jobs the selected tests need start together, so the
synths, the checks and the local modes share the cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from liftoff import INSTALLED_FROM
from liftoff.foundation.usecases import use_case_names
from liftoff.local import runtime
from tests.checks import CheckovRun, cfn_lint_findings, checkov_findings
from tests.synth import NAG_FINDINGS_EXIT, STAGES

USE_CASES = use_case_names(INSTALLED_FROM)
LIFTOFF = Path(sys.executable).parent / "liftoff"
EVAL_CASES = 15  # a fixed sample of each eval set, run one at a time on the environment smoke warmed
LOG_WAIT_S = "10"


def checkout_env() -> dict[str, str]:
    """The environment of a process on the checkout: no LIFTOFF_* setting of the session (LIFTOFF_PROJECT,
    LIFTOFF_USE_CASE, local mode's test knobs), the checkout's code importable as `make` has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIFTOFF_")}
    env["PYTHONPATH"] = os.pathsep.join([str(INSTALLED_FROM), str(INSTALLED_FROM / "lambdas")])
    return env


def run_in_checkout(*command: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=INSTALLED_FROM, env=checkout_env(), capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass(frozen=True)
class Synthesized:
    outdirs: dict[str, Path]  # stage -> its cdk.out
    cfn_lint: dict[str, list[str]]  # template file name -> findings
    checkov: CheckovRun


@dataclass(frozen=True)
class LocalRun:
    """What `liftoff local up`, `liftoff smoke --local` and `liftoff eval run` did for one use case."""

    up: subprocess.CompletedProcess
    smoke: subprocess.CompletedProcess | None
    evals: subprocess.CompletedProcess | None
    report: dict | None  # the eval run's report.json


def _synthesize(outdirs: dict[str, Path]) -> Synthesized:
    """Both stages at once (`python -m tests.synth`), then cfn-lint and checkov at once over both outdirs."""
    synths = {
        stage: subprocess.Popen(
            [sys.executable, "-m", "tests.synth", stage, str(outdir)],
            cwd=INSTALLED_FROM,
            env=checkout_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for stage, outdir in outdirs.items()
    }
    for stage, process in synths.items():
        output, _ = process.communicate(timeout=600)
        # a cdk-nag finding still writes every template and the report: the tests say whose it is
        if process.returncode not in (0, NAG_FINDINGS_EXIT):
            raise AssertionError(f"the checkout's {stage} synth failed (exit {process.returncode}):\n{output}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        lint = pool.submit(cfn_lint_findings, *outdirs.values())
        checkov = pool.submit(checkov_findings, *outdirs.values())
        return Synthesized(outdirs, lint.result(), checkov.result())


def _run_locally(name: str, out: Path) -> LocalRun:
    """Local mode for `name` as a user starts it, smoke against it, a short eval run on it, then stopped (one
    already running in the checkout is used as it is, and left running)."""
    use_case = ("--use-case", name)
    was_running = runtime.is_running(runtime.read_state(name, INSTALLED_FROM))
    up = run_in_checkout(str(LIFTOFF), "local", "up", *use_case, timeout=120)
    if up.returncode != 0:
        return LocalRun(up, None, None, None)
    try:
        smoke = run_in_checkout(str(LIFTOFF), "smoke", "--local", *use_case, "--log-wait", LOG_WAIT_S, timeout=300)
        evals = run_in_checkout(
            *(str(LIFTOFF), "eval", "run", *use_case, "--limit", str(EVAL_CASES), "--concurrency", "1"),
            *("--out", str(out), "--gate"),
            timeout=300,
        )
    finally:
        if not was_running:
            run_in_checkout(str(LIFTOFF), "local", "down", *use_case, timeout=60)
    report = out / "report.json"
    return LocalRun(up, smoke, evals, json.loads(report.read_text()) if report.is_file() else None)


@pytest.fixture(scope="session")
def checkout_jobs(request, tmp_path_factory) -> dict[str, Future]:
    """The heavy jobs the selected tests need, started at once in the background: `synthesized` (both stages
    and their checks) and `local:<use case>` (its local run)."""
    needed = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    pool = ThreadPoolExecutor(max_workers=1 + len(USE_CASES))
    jobs: dict[str, Future] = {}
    if "synthesized_checkout" in needed:
        outdirs = {stage: tmp_path_factory.mktemp(f"checkout-{stage}") for stage in STAGES}
        jobs["synthesized"] = pool.submit(_synthesize, outdirs)
    if "local_run" in needed:
        for name in USE_CASES:
            jobs[f"local:{name}"] = pool.submit(_run_locally, name, tmp_path_factory.mktemp(f"eval-{name}"))
    yield jobs
    pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def synthesized_checkout(checkout_jobs) -> Synthesized:
    return checkout_jobs["synthesized"].result()


@pytest.fixture
def local_run(checkout_jobs, name) -> LocalRun:
    """The local run of the use case the test is parametrised with (`name`)."""
    return checkout_jobs[f"local:{name}"].result()
