"""`make bench`: every benchmark in turn, into one report (reports/bench.json, a section each).

The full run also records the report as benchmarks/results.json (committed) and renders the figures
the README and docs/benchmarks.md quote from it (benchmarks/figures.py), so a figure no run produced
cannot stand there. `--quick` runs every section with a few samples (tests/e2e/test_bench.py, in
`make test`): it proves each still runs and writes its figures, and records nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from benchmarks.figures import RESULTS, update_docs
from benchmarks.report import bench_run
from liftoff import REPO_ROOT

SCRIPTS = (
    *("bench_prompt_cache", "bench_observability_overhead", "bench_output_contract", "bench_redaction"),
    "bench_scale",
)


def main() -> None:
    run = bench_run(__doc__)
    run.report.unlink(missing_ok=True)  # every section from this run, none left from an earlier one
    for script in SCRIPTS:
        print(f"==> benchmarks/{script}.py{' --quick' if run.quick else ''}", flush=True)
        command = [sys.executable, "-m", f"benchmarks.{script}", "--report", str(run.report)]
        done = subprocess.run([*command, *(["--quick"] if run.quick else [])], check=False, cwd=REPO_ROOT)  # noqa: S603
        if done.returncode != 0:
            sys.exit(f"benchmarks/{script}.py failed (exit {done.returncode}); nothing recorded")
    if not run.quick:
        shutil.copyfile(run.report, RESULTS)
        changed = update_docs(json.loads(RESULTS.read_text()))
        print(
            f"-> {RESULTS.relative_to(REPO_ROOT)}; figures rendered into {', '.join(changed) or 'the docs (unchanged)'}"
        )


if __name__ == "__main__":
    main()
