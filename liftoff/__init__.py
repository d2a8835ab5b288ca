"""Liftoff: configuration, prompt files and developer tooling (the `liftoff` CLI and local mode).

The project is found like `cdk` and `git` find theirs: from the current directory up to the first
folder that holds `cdk.json` and `usecases/`. So one virtualenv serves any number of checkouts, and a
command works on the checkout you stand in, not on the one the package was installed from.
"""

from pathlib import Path

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


# Library code (the stacks, the tests, local mode's processes) runs inside a project; outside one the
# package's own checkout stands in, and the `liftoff` command refuses to run (liftoff/cli.py).
REPO_ROOT = find_project_root() or INSTALLED_FROM
