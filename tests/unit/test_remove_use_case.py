"""`liftoff remove-use-case NAME`, the inverse of `new-use-case`: it removes exactly the use case's content
(config, prompts, eval set, charter agreement, documents, local reports) and nothing else."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from liftoff import REPO_ROOT
from liftoff.foundation.errors import ConfigError
from liftoff.scaffold import content_paths, new_use_case, remove_use_case

LIFTOFF = Path(sys.executable).parent / "liftoff"


@pytest.fixture
def root(tmp_path):
    shutil.copy(REPO_ROOT / "cdk.json", tmp_path / "cdk.json")
    for folder in ("usecases", "prompts", "evals", "charters", "pricing"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    return tmp_path


def test_a_scaffolded_use_case_is_removed_whole_and_the_others_are_untouched(root):
    # Given a new use case beside the shipped ones, with a local report
    new_use_case("faq-bot", root=root)
    (root / "reports" / "faq-bot").mkdir(parents=True)
    (root / "reports" / "faq-bot" / "report.json").write_text("{}")
    before = {p.relative_to(root) for p in root.rglob("*") if "faq-bot" not in p.as_posix()}

    # When it is removed
    removed = remove_use_case("faq-bot", root=root)

    # Then nothing of it is left, and nothing else changed
    assert {p.relative_to(root).as_posix() for p in removed} >= {
        "usecases/faq-bot.yaml",
        "prompts/faq-bot",
        "evals/faq-bot",
        "reports/faq-bot",
    }
    assert not list(root.rglob("*faq-bot*"))
    assert {p.relative_to(root) for p in root.rglob("*")} == before
    assert content_paths("faq-bot", root) == []


def test_an_unknown_use_case_is_refused_naming_the_known_ones(root):
    with pytest.raises(ConfigError, match="no use case `nope`.*known: doc-summary, support-triage"):
        remove_use_case("nope", root=root)


def test_the_command_asks_first_and_refuses_without_a_terminal(root):
    env = {**os.environ}
    done = subprocess.run(
        [str(LIFTOFF), "remove-use-case", "doc-summary"],
        cwd=root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 2
    assert "pass --yes" in done.stderr
    assert (
        "npx cdk destroy -c stage=sandbox -c use_case=doc-summary" in done.stdout
    )  # destroy first: it needs this config
    assert (root / "usecases" / "doc-summary.yaml").exists()  # nothing removed
    done = subprocess.run(
        [str(LIFTOFF), "remove-use-case", "doc-summary", "--yes"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert not (root / "usecases" / "doc-summary.yaml").exists()
    assert not (root / "prompts" / "doc-summary").exists()
    assert not (root / "charters" / "doc-summary.yaml").exists()
    assert (root / "usecases" / "support-triage.yaml").exists()
