"""`liftoff remove-use-case NAME`, the inverse of `new-use-case`: it removes exactly the use case's content
(config, prompts, eval set, charter agreement, documents, local reports) and nothing else; and
`liftoff rename-use-case OLD NEW`, which moves that content to a new name."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from liftoff import REPO_ROOT
from liftoff.charter import read_agreement
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import load_cases
from liftoff.foundation.usecases import load_use_case, project_default_use_case, use_case_names
from liftoff.scaffold import content_paths, new_use_case, remove_use_case, rename_use_case

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
    known = ", ".join(use_case_names(root))
    assert known  # the scratch project has use cases to name
    with pytest.raises(ConfigError, match=f"no use case `nope`.*known: {re.escape(known)}$"):
        remove_use_case("nope", root=root)


def test_the_command_asks_first_and_refuses_without_a_terminal(root):
    env = {**os.environ}
    done = subprocess.run(
        [str(LIFTOFF), "remove-use-case", "fixture-summary"],
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
        "npx cdk destroy -c stage=sandbox -c use_case=fixture-summary" in done.stdout
    )  # destroy first: it needs this config
    assert (root / "usecases" / "fixture-summary.yaml").exists()  # nothing removed
    done = subprocess.run(
        [str(LIFTOFF), "remove-use-case", "fixture-summary", "--yes"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert not (root / "usecases" / "fixture-summary.yaml").exists()
    assert not (root / "prompts" / "fixture-summary").exists()
    assert not (root / "charters" / "fixture-summary.yaml").exists()
    assert (root / "usecases" / "fixture-triage.yaml").exists()


def test_removing_the_project_default_drops_that_line_of_cdk_json_and_nothing_else(root):
    # Given cdk.json naming fixture-triage as the project default
    before = (root / "cdk.json").read_text().splitlines(keepends=True)
    assert any('"liftoff:default_use_case": "fixture-triage"' in line for line in before)
    # When fixture-triage is removed
    removed = remove_use_case("fixture-triage", root=root)
    # Then that line is gone and every other line is as it was (the template's flags merge around it)
    after = (root / "cdk.json").read_text().splitlines(keepends=True)
    assert [line for line in before if "liftoff:default_use_case" not in line] == after
    assert root / "cdk.json" in removed
    # and removing another use case leaves cdk.json alone
    remove_use_case("fixture-summary", root=root)
    assert (root / "cdk.json").read_text().splitlines(keepends=True) == after


def test_a_default_that_is_the_last_key_of_context_goes_with_the_comma_before_it(root):
    # Given cdk.json whose project default is the last key of `context` (a team's clone that set it by hand)
    cdk = json.loads((root / "cdk.json").read_text())
    context = {k: v for k, v in cdk["context"].items() if k != "liftoff:default_use_case"}
    cdk["context"] = {**context, "liftoff:default_use_case": "fixture-triage"}
    (root / "cdk.json").write_text(json.dumps(cdk, indent=2) + "\n")
    before = (root / "cdk.json").read_text().splitlines(keepends=True)
    # When fixture-triage is removed / Then that line goes, the line before it loses its comma, and nothing else moves
    remove_use_case("fixture-triage", root=root)
    after = (root / "cdk.json").read_text().splitlines(keepends=True)
    (index,) = [i for i, line in enumerate(before) if "liftoff:default_use_case" in line]
    assert after == [*before[: index - 1], before[index - 1].replace(",\n", "\n"), *before[index + 1 :]]
    assert json.loads("".join(after))["context"] == context


def test_a_renamed_use_case_loads_under_its_new_name_with_everything_it_had(root):
    # Given a shipped use case with a charter agreement and a local report, named by the project default
    (root / "reports" / "fixture-triage").mkdir(parents=True)
    (root / "reports" / "fixture-triage" / "report.json").write_text("{}")
    before = load_use_case("fixture-triage", root)
    # When it is renamed
    moved = rename_use_case("fixture-triage", "triage-bot", root=root)
    # Then it loads as triage-bot with the same prompts and eval set, its agreement and report moved with it,
    # the project default follows, and nothing is left under the old name
    after = load_use_case("triage-bot", root)
    assert after.config.name == "triage-bot"
    assert [p.content_hash() for p in after.prompts] == [p.content_hash() for p in before.prompts]
    assert len(load_cases("triage-bot", root=root)) > 0
    assert read_agreement("triage-bot", root)["use_case"] == "triage-bot"
    assert (root / "reports" / "triage-bot" / "report.json").is_file()
    assert project_default_use_case(root) == "triage-bot"
    assert not list(root.rglob("*fixture-triage*"))
    assert (root / "cdk.json", root / "cdk.json") in moved


def test_a_rename_onto_a_taken_or_invalid_name_moves_nothing(root):
    for new, says in (("fixture-summary", "exists already"), ("Bad_Name", "not a valid use-case name")):
        with pytest.raises(ConfigError, match=says):
            rename_use_case("fixture-triage", new, root=root)
    assert load_use_case("fixture-triage", root).config.name == "fixture-triage"
    with pytest.raises(ConfigError, match="no use case `nope`"):
        rename_use_case("nope", "new-bot", root=root)


def test_only_the_projects_own_local_mode_blocks_a_removal(root, tmp_path_factory, monkeypatch):
    from liftoff.local import runtime

    # Given local mode of fixture-triage running in another project (this session's), and none in `root`
    session = tmp_path_factory.mktemp("session") / ".liftoff"
    session.mkdir()
    state = {k: "x" for k in ("use_case", "api_url", "api_key", "dynamodb_url", "bedrock_url", "table_name")}
    state |= {"pid": 1, "spend_table_name": "x", "idempotency_table_name": "x"}
    (session / "fixture-triage.json").write_text(json.dumps(state))
    monkeypatch.setattr(runtime, "STATE_DIR", session)
    monkeypatch.setattr(runtime, "is_running", lambda found: found is not None)
    # When `root`'s fixture-triage is removed / Then the other project's local mode does not stop it
    remove_use_case("fixture-triage", root=root)
    # And local mode running in `root` itself does
    (root / ".liftoff").mkdir()
    (root / ".liftoff" / "fixture-summary.json").write_text(json.dumps(state))
    with pytest.raises(ConfigError, match="local mode of `fixture-summary` is running: stop it first"):
        remove_use_case("fixture-summary", root=root)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", ["../cdk", "../pricing/bedrock", "../evals/fixture-triage/suite", "OUTSIDE"])
def test_a_path_is_never_a_use_case_and_nothing_anywhere_is_removed_or_moved(root, tmp_path_factory, name):
    # Given files a path could reach: in the project, and outside it (an absolute name)
    outside = tmp_path_factory.mktemp("outside")
    (outside / "important").mkdir()
    (outside / "important" / "data.txt").write_text("keep")
    (outside / "important.yaml").write_text("a: 1\n")
    name = str(outside / "important") if name == "OUTSIDE" else name
    before, before_outside = _tree(root), _tree(outside)
    # When it is named as the use case to remove or rename / Then it is refused, and every file is where it was
    with pytest.raises(ConfigError, match="not a path"):
        remove_use_case(name, root=root)
    with pytest.raises(ConfigError, match="not a path"):
        rename_use_case(name, "faq-bot", root=root)
    assert (_tree(root), _tree(outside)) == (before, before_outside)


def test_the_cli_refuses_a_path_with_a_clear_error_and_no_trace(root):
    done = subprocess.run(
        [LIFTOFF, "remove-use-case", "../pricing/bedrock", "--yes"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "no use case `../pricing/bedrock`" in done.stderr and (root / "pricing" / "bedrock.yaml").is_file()


@pytest.mark.parametrize("command", ["remove", "rename"])
def test_a_cdk_json_it_cannot_edit_is_found_before_anything_is_changed(root, command):
    # Given the project default on a line it does not own (cdk.json written on one line)
    cdk = json.loads((root / "cdk.json").read_text())
    cdk["context"]["liftoff:default_use_case"] = "fixture-summary"
    (root / "cdk.json").write_text(json.dumps(cdk))
    before = _tree(root)
    # When the default's use case is removed or renamed / Then it says what to edit, and nothing changed
    with pytest.raises(ConfigError, match="by hand, then run the command again; nothing changed"):
        if command == "remove":
            remove_use_case("fixture-summary", root=root)
        else:
            rename_use_case("fixture-summary", "summary-bot", root=root)
    assert _tree(root) == before


def test_a_use_case_that_does_not_load_is_not_renamed_half_way(root):
    # Given a use case whose prompts were deleted by hand
    shutil.rmtree(root / "prompts" / "fixture-summary")
    before = _tree(root)
    # When it is renamed / Then it is refused before any move, saying why
    with pytest.raises(ConfigError, match="does not load, so it is not renamed \\(nothing moved\\)"):
        rename_use_case("fixture-summary", "summary-bot", root=root)
    assert _tree(root) == before
    with pytest.raises(ConfigError, match="its own name already"):
        rename_use_case("fixture-triage", "fixture-triage", root=root)


def test_a_linked_documents_folder_is_unlinked_and_what_it_points_to_is_kept(root, tmp_path_factory):
    # Given a use case whose documents are a link to a folder shared with others
    shared = tmp_path_factory.mktemp("shared")
    (shared / "handbook.md").write_text("shared")
    new_use_case("faq-bot", root=root)
    (root / "knowledge").mkdir(exist_ok=True)
    (root / "knowledge" / "faq-bot").symlink_to(shared, target_is_directory=True)
    # When it is removed / Then the link goes, the shared folder stays
    removed = remove_use_case("faq-bot", root=root)
    assert root / "knowledge" / "faq-bot" in removed
    assert not (root / "knowledge" / "faq-bot").is_symlink()
    assert (shared / "handbook.md").read_text() == "shared"


def test_what_a_hand_deleted_config_left_behind_is_removable_and_the_name_reusable(root):
    # Given a use case whose config was deleted by hand: new-use-case cannot take the name
    new_use_case("faq-bot", root=root)
    (root / "usecases" / "faq-bot.yaml").unlink()
    with pytest.raises(ConfigError, match="liftoff remove-use-case faq-bot` removes it"):
        new_use_case("faq-bot", root=root)
    # When what is left is removed / Then the name can be scaffolded again
    removed = remove_use_case("faq-bot", root=root)
    assert {p.relative_to(root).as_posix() for p in removed} >= {"prompts/faq-bot", "evals/faq-bot"}
    new_use_case("faq-bot", root=root)
    assert load_use_case("faq-bot", root).config.name == "faq-bot"


def test_local_state_goes_with_the_use_case(root, monkeypatch):
    monkeypatch.delenv("LIFTOFF_LOCAL_REGISTRY_DIR", raising=False)
    (root / ".liftoff" / "registry").mkdir(parents=True)
    (root / ".liftoff" / "fixture-summary.log").write_text("log")
    (root / ".liftoff" / "registry" / "fixture-summary.json").write_text("{}")
    removed = remove_use_case("fixture-summary", root=root)
    assert {root / ".liftoff" / "fixture-summary.log", root / ".liftoff" / "registry" / "fixture-summary.json"} <= set(
        removed
    )
    assert not list((root / ".liftoff").rglob("fixture-summary*"))


@pytest.mark.parametrize("name", [".", ".."])
def test_a_dot_name_from_an_odd_file_in_usecases_removes_nothing(root, name):
    # Given a file whose stem is `.` or `..` in usecases/ (`..yaml`, `...yaml`)
    shutil.copy(root / "usecases" / "fixture-summary.yaml", root / "usecases" / f"{name}.yaml")
    before = _tree(root)
    # When it is named / Then it is no use case: prompts/.. is the project itself
    with pytest.raises(ConfigError, match="not a path"):
        remove_use_case(name, root=root)
    with pytest.raises(ConfigError, match="not a path"):
        rename_use_case(name, "faq-bot", root=root)
    assert _tree(root) == before


def test_a_new_name_with_a_trailing_newline_is_refused_before_anything_moves(root):
    before = _tree(root)
    with pytest.raises(ConfigError, match="not a valid use-case name"):
        rename_use_case("fixture-summary", "summary-bot\n", root=root)
    assert _tree(root) == before


def test_a_documents_path_that_only_starts_with_the_old_name_is_left_as_it_is(root):
    # Given a retrieval use case whose documents are in knowledge/faq-bot-v2 (not the default folder)
    new_use_case("faq-bot", root=root, retrieval=True)
    (root / "knowledge" / "faq-bot").rename(root / "knowledge" / "faq-bot-v2")
    config = root / "usecases" / "faq-bot.yaml"
    config.write_text(config.read_text().replace("path: knowledge/faq-bot\n", "path: knowledge/faq-bot-v2\n"))
    # When it is renamed / Then its documents are still found where they are
    rename_use_case("faq-bot", "help-bot", root=root)
    assert load_use_case("help-bot", root).config.knowledge.documents_path("help-bot") == "knowledge/faq-bot-v2"
    assert (root / "knowledge" / "faq-bot-v2").is_dir()
    # and the default folder, named exactly, moves with the use case
    new_use_case("hr-bot", root=root, retrieval=True)
    rename_use_case("hr-bot", "people-bot", root=root)
    assert load_use_case("people-bot", root).config.knowledge.documents_path("people-bot") == "knowledge/people-bot"
    assert (root / "knowledge" / "people-bot").is_dir() and not (root / "knowledge" / "hr-bot").exists()


def test_a_registry_kept_outside_the_project_is_neither_removed_nor_a_use_case(root, tmp_path_factory, monkeypatch):
    # Given $LIFTOFF_LOCAL_REGISTRY_DIR shared by clones, holding another clone's claims-bot and this one's
    shared = tmp_path_factory.mktemp("registries")
    monkeypatch.setenv("LIFTOFF_LOCAL_REGISTRY_DIR", str(shared))
    (shared / "claims-bot.json").write_text("{}")
    (shared / "fixture-summary.json").write_text("{}")
    # When either is removed here / Then the registry file is not this project's to delete
    with pytest.raises(ConfigError, match="no use case `claims-bot`"):
        remove_use_case("claims-bot", root=root)
    remove_use_case("fixture-summary", root=root)
    assert {p.name for p in shared.iterdir()} == {"claims-bot.json", "fixture-summary.json"}


def test_a_rename_says_it_dropped_the_local_registry(root, monkeypatch):
    monkeypatch.delenv("LIFTOFF_LOCAL_REGISTRY_DIR", raising=False)
    registry = root / ".liftoff" / "registry" / "fixture-summary.json"
    registry.parent.mkdir(parents=True)
    registry.write_text("{}")
    moves = rename_use_case("fixture-summary", "summary-bot", root=root)
    assert (registry, None) in moves and not registry.exists()


def test_content_in_a_linked_folder_outside_the_project_is_kept(root, tmp_path_factory):
    # Given knowledge/ linked to a store outside the project, holding the use case's documents
    store = tmp_path_factory.mktemp("store")
    new_use_case("faq-bot", root=root, retrieval=True)
    shutil.move(root / "knowledge", store / "knowledge")
    (root / "knowledge").symlink_to(store / "knowledge", target_is_directory=True)
    documents = sorted(p.name for p in (store / "knowledge" / "faq-bot").iterdir())
    # When it is removed / Then the project's content goes, the store's documents stay, and are named as kept
    from liftoff.scaffold import left_outside

    assert left_outside("faq-bot", root) == [root / "knowledge" / "faq-bot"]
    removed = remove_use_case("faq-bot", root=root)
    assert root / "knowledge" / "faq-bot" not in removed and not (root / "usecases" / "faq-bot.yaml").exists()
    assert sorted(p.name for p in (store / "knowledge" / "faq-bot").iterdir()) == documents


def test_a_linked_config_is_not_renamed_through_to_the_file_it_points_to(root, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside") / "shared.yaml"
    shutil.move(root / "usecases" / "fixture-summary.yaml", outside)
    (root / "usecases" / "fixture-summary.yaml").symlink_to(outside)
    before, text = _tree(root), outside.read_text()
    with pytest.raises(ConfigError, match="is a link to .*would change a file outside the project"):
        rename_use_case("fixture-summary", "summary-bot", root=root)
    assert (_tree(root), outside.read_text()) == (before, text)
