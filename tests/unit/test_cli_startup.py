"""Every `liftoff` command pays for what `liftoff.cli` imports: the heavy libraries only some commands use
(charts, the API fuzzer, Locust, the CDK) are imported by those commands, on first use."""

import subprocess
import sys

HEAVY = ["matplotlib", "numpy", "schemathesis", "locust", "aws_cdk", "stacks", "bm25s"]


def test_the_cli_module_imports_no_heavy_library():
    probe = f"import sys, liftoff.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_chart_still_draws_after_the_lazy_import():
    from liftoff.charts import pyplot, svg

    fig, ax = pyplot().subplots(figsize=(2, 1))
    ax.bar(["a"], [1])
    drawn = svg(fig)
    assert drawn.startswith("<svg") and "<text" in drawn  # svg.fonttype none: labels stay text


def test_python_dash_m_runs_the_cli_as_the_script_does():
    # a test that stops a stray local mode with `python -m liftoff.cli local down` relies on it doing something
    done = subprocess.run(
        [sys.executable, "-m", "liftoff.cli", "use-cases", "--names"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.split() == ["fixture-rag", "fixture-summary", "fixture-triage"]
