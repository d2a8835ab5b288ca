"""Liftoff: configuration, prompt files and developer tooling (the `liftoff` CLI and local mode).

The project is found like `cdk` and `git` find theirs: from the current directory up to the first
folder that holds `cdk.json` and `usecases/`. So one virtualenv serves any number of checkouts, and a
command works on the checkout you stand in, not on the one the package was installed from.
"""

import os
from pathlib import Path

# The Node.js versions this template supports: the CDK CLI and jsii (under aws-cdk-lib) need 20 or newer; 22 LTS is
# recommended. `make setup` and `liftoff doctor` check it (liftoff/doctor.py, check_node).
NODE_MIN_MAJOR = 20
NODE_RECOMMENDED_MAJOR = 22
# jsii prints an 11-line end-of-life banner on Node 20 from inside every process that imports aws_cdk (the CDK app,
# `liftoff ... --stage`), and Python shows it as bytes literals. Node 20 is in the supported range, so say it once in
# the docs instead. Set here, the first thing any liftoff or CDK-app process imports, before aws_cdk starts jsii.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", str(NODE_MIN_MAJOR))

PROJECT_MARKERS = ("cdk.json", "usecases")
INSTALLED_FROM = Path(__file__).resolve().parent.parent


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above `start` (default: the current directory) holding `cdk.json`
    and `usecases/`; None when there is none."""
    try:
        here = (start or Path.cwd()).resolve()
    except FileNotFoundError:  # the current directory was deleted
        return None
    for folder in (here, *here.parents):
        if (folder / "cdk.json").is_file() and (folder / "usecases").is_dir():
            return folder
    return None


# `LIFTOFF_PROJECT=/path/to/project` names the project outright (scripts, CI, and the tests, which run on a
# fixture project of their own: tests/fixtures/project); it must hold cdk.json and usecases/ (liftoff/cli.py says so).
PROJECT_ENV = "LIFTOFF_PROJECT"


def named_project() -> Path | None:
    """The folder `LIFTOFF_PROJECT` names, if it is set."""
    value = os.environ.get(PROJECT_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else None


def is_project(folder: Path) -> bool:
    return all((folder / marker).exists() for marker in PROJECT_MARKERS)


# Library code (the stacks, the tests, local mode's processes) runs inside a project; outside one the
# package's own checkout stands in, and the `liftoff` command refuses to run (liftoff/cli.py).
REPO_ROOT = named_project() or find_project_root() or INSTALLED_FROM
