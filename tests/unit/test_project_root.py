"""The CLI works on the project you stand in (like `cdk` and `git`), not on the checkout the package
was installed from: one virtualenv can serve several checkouts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from liftoff import REPO_ROOT, find_project_root

LIFTOFF = Path(sys.executable).parent / "liftoff"


def _scratch_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "second-checkout"
    copy.mkdir()
    shutil.copy(REPO_ROOT / "cdk.json", copy / "cdk.json")
    for folder in ("usecases", "prompts", "evals", "pricing"):
        shutil.copytree(REPO_ROOT / folder, copy / folder)
    return copy


def test_the_root_is_found_by_walking_up_from_a_subfolder(tmp_path):
    copy = _scratch_copy(tmp_path)
    (copy / "prompts" / "deep" / "er").mkdir(parents=True)
    assert find_project_root(copy / "prompts" / "deep" / "er") == copy.resolve()
    assert find_project_root(tmp_path) is None  # cdk.json and usecases/ both needed


def test_new_use_case_in_a_second_checkout_writes_into_that_checkout(tmp_path):
    copy = _scratch_copy(tmp_path)
    done = subprocess.run(
        [str(LIFTOFF), "new-use-case", "faq-bot"],
        cwd=copy / "prompts",  # from a subfolder, as with cdk
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (copy / "usecases" / "faq-bot.yaml").is_file()
    assert (copy / "prompts" / "faq-bot" / "answer.yaml").is_file()
    assert not (REPO_ROOT / "usecases" / "faq-bot.yaml").exists()
    assert "usecases/faq-bot.yaml" in done.stdout


def test_outside_a_project_the_cli_says_where_to_go(tmp_path):
    done = subprocess.run(
        [str(LIFTOFF), "prompts", "list"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "not inside a Liftoff project" in done.stderr
    assert "cdk.json and usecases/" in done.stderr
    assert "Traceback" not in done.stderr
    helped = subprocess.run([str(LIFTOFF), "--help"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert helped.returncode == 0  # help works anywhere


def test_liftoff_project_names_the_project_from_anywhere(tmp_path):
    # Given LIFTOFF_PROJECT naming a project / When a command runs from elsewhere / Then it works on that project
    copy = _scratch_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "LIFTOFF_PROJECT": str(copy)}
    done = subprocess.run(
        [str(LIFTOFF), "new-use-case", "faq-bot"], cwd=elsewhere, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (copy / "usecases" / "faq-bot.yaml").is_file()
    # and a LIFTOFF_PROJECT that is no project is named, with what to do
    env["LIFTOFF_PROJECT"] = str(elsewhere)
    refused = subprocess.run(
        [str(LIFTOFF), "prompts", "list"], cwd=copy, env=env, capture_output=True, text=True, check=False
    )
    assert refused.returncode == 2
    assert f"LIFTOFF_PROJECT={elsewhere.resolve()} is not a Liftoff project" in refused.stderr
    assert "Traceback" not in refused.stderr
