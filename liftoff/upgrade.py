"""`liftoff upgrade REF`: merge a release of the template (a tag of `upstream`) into a clone.

The clone's own content (its use cases, prompts, eval sets, charters, documents) is never touched by the
template's code changes, so those merge as usual. The one conflict git cannot settle alone: the clone removed
a shipped example (`liftoff remove-use-case`) that the release changed, which git reports as a modify/delete
conflict on each of its files, and the release may add files to it. A use case the clone removed is one
whose `usecases/NAME.yaml` existed where the clone and the template last met (the merge base) and no longer
exists in the clone: its files stay removed. Anything else that conflicts is left to a person, listed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from liftoff import REPO_ROOT
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.usecases import USECASES_DIR

# Where a use case's content lives: `usecases/NAME.yaml`, `charters/NAME.yaml`, and these folders of NAME
CONTENT_FILES = (USECASES_DIR, "charters")
CONTENT_FOLDERS = ("prompts", "evals", "knowledge")


@dataclass
class Upgrade:
    ref: str
    merged: bool = False  # committed
    up_to_date: bool = False
    kept_removed: list[str] = field(default_factory=list)  # files of removed use cases that stay removed
    conflicts: list[str] = field(default_factory=list)  # left for a person


def _git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)  # noqa: S603, S607
    if check and done.returncode != 0:
        raise ConfigError(f"git {' '.join(args)} failed: {(done.stderr or done.stdout).strip()}")
    return done


def _use_cases_at(root: Path, commit: str) -> set[str]:
    listed = _git(root, "ls-tree", "--name-only", f"{commit}:{USECASES_DIR}", check=False).stdout.split()
    return {name.removesuffix(".yaml") for name in listed if name.endswith(".yaml")}


def owner(path: str) -> str | None:
    """The use case whose content `path` is (None: not a use case's content)."""
    top, _, rest = path.partition("/")
    if top in CONTENT_FILES and "/" not in rest and rest.endswith(".yaml"):
        return rest.removesuffix(".yaml")
    if top in CONTENT_FOLDERS and "/" in rest:
        return rest.split("/", 1)[0]
    return None


def upgrade(ref: str, root: Path = REPO_ROOT) -> Upgrade:
    """Merge `ref`; keep the use cases this clone removed removed; commit when nothing else conflicts."""
    if _git(root, "status", "--porcelain", "--untracked-files=no").stdout.strip():
        raise ConfigError("the working tree has uncommitted changes: commit them first, then upgrade")
    if _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False).returncode != 0:
        raise ConfigError(f"no commit `{ref}`: fetch it first (git fetch upstream --tags)")
    result = Upgrade(ref)
    found = _git(root, "merge-base", "HEAD", ref, check=False)
    if found.returncode != 0:
        raise ConfigError(
            f"this repository and `{ref}` share no history (a project made with GitHub's 'Use this template' or from "
            "a copy of the files starts a history of its own), so git cannot tell your changes from the release's. "
            f"Merge it once by hand, keeping your content: git merge --allow-unrelated-histories {ref}, resolve the "
            "conflicts, run make test and commit; `liftoff upgrade` works from then on (docs/upgrading.md)"
        )
    base = found.stdout.strip()
    removed = _use_cases_at(root, base) - _use_cases_at(root, "HEAD")
    merge = _git(root, "merge", "--no-ff", "--no-commit", ref, check=False)
    if "Already up to date" in merge.stdout:
        result.up_to_date = True
        return result
    if _git(root, "rev-parse", "--verify", "--quiet", "MERGE_HEAD", check=False).returncode != 0:
        raise ConfigError(f"git merge {ref} did not start: {(merge.stderr or merge.stdout).strip()}")
    unmerged = set(_git(root, "diff", "--name-only", "--diff-filter=U").stdout.split())
    # files of a removed use case: conflicting (changed by the release) or new in it (added by the release)
    added = set(_git(root, "diff", "--cached", "--name-only", "--diff-filter=A", "HEAD").stdout.split())
    stale = sorted(p for p in unmerged | added if owner(p) in removed)
    if stale:
        _git(root, "rm", "--quiet", "-f", "--", *stale)
    result.kept_removed = stale
    result.conflicts = sorted(unmerged - set(stale))
    if not result.conflicts:
        kept = f"; kept removed: {', '.join(sorted(removed))}" if stale else ""
        _git(root, "commit", "--quiet", "-m", f"Merge template {ref}{kept}")
        result.merged = True
    return result
