"""`make bench`: every benchmark in turn, into one report (reports/bench.json, a section each).

Each runs in the template's fixture project (tests/fixtures/project), built afresh in a temporary folder
(the project they measure: the same in every clone, whatever its own use cases; benchmarks/report.py).
The full run also records the report as benchmarks/results.json (committed) and renders the figures
the README and docs/benchmarks.md quote from it (benchmarks/figures.py), so a figure no run produced
cannot stand there. `--quick` runs every section with a few samples (tests/e2e/test_bench.py, in
`make test`): it proves each still runs and writes its figures, and records nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.figures import RESULTS, update_docs
from benchmarks.report import CHECKOUT, bench_run
from liftoff import PROJECT_ENV
from liftoff.foundation.usecases import USE_CASE_ENV
from tests.fixtures.project import build_project

SCRIPTS = (
    *("bench_prompt_cache", "bench_observability_overhead", "bench_output_contract", "bench_redaction"),
    "bench_scale",
)


def main() -> None:
    run = bench_run(__doc__, in_fixture_project=False)
    run.report.unlink(missing_ok=True)  # every section from this run, none left from an earlier one
    with tempfile.TemporaryDirectory(prefix="liftoff-bench-", ignore_cleanup_errors=True) as scratch:
        project = build_project(Path(scratch) / "project")
        # cwd and LIFTOFF_PROJECT both name it: liftoff.REPO_ROOT is the fixture project in every script and in
        # what it starts (local mode, `liftoff load`); a LIFTOFF_USE_CASE of the user's would pick another use case
        # local mode's test settings (LIFTOFF_LOCAL_*: a prompt cache TTL of 0, a spend reading's age) would measure
        # something other than the defaults the function runs with
        env = {k: v for k, v in os.environ.items() if k != USE_CASE_ENV and not k.startswith("LIFTOFF_LOCAL_")} | {
            PROJECT_ENV: str(project)
        }
        for script in SCRIPTS:
            print(f"==> benchmarks/{script}.py{' --quick' if run.quick else ''}", flush=True)
            command = [sys.executable, "-m", f"benchmarks.{script}", "--report", str(run.report)]
            done = subprocess.run(  # noqa: S603 - our interpreter, our scripts
                [*command, *(["--quick"] if run.quick else [])], check=False, cwd=project, env=env
            )
            if done.returncode != 0:
                sys.exit(f"benchmarks/{script}.py failed (exit {done.returncode}); nothing recorded")
    if not run.quick:
        shutil.copyfile(run.report, RESULTS)
        changed = update_docs(json.loads(RESULTS.read_text()))
        print(
            f"-> {RESULTS.relative_to(CHECKOUT)}; figures rendered into {', '.join(changed) or 'the docs (unchanged)'}"
        )


if __name__ == "__main__":
    main()
