"""Without `--use-case`, every command works in a project with one use case; in a project with two and no
default, every command that needs one refuses naming both and the ways to choose; LIFTOFF_USE_CASE and
cdk.json's `liftoff:default_use_case` choose; an unknown name lists the known ones. Each project runs its
commands in one process (tests/cli_in_project.py): real invocations, local mode where they need it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from liftoff.cli import main
from liftoff.foundation.usecases import DEFAULT_USE_CASE_KEY
from liftoff.options import UseCaseOption
from liftoff.scaffold import new_use_case
from tests.fixtures.project import CHECKOUT, link_template

pytestmark = pytest.mark.e2e
PYTHON = sys.executable


def cdk_json(default: str | None = None) -> str:
    """The checkout's cdk.json run from another project, with this project default (or none)."""
    cdk = json.loads((CHECKOUT / "cdk.json").read_text())
    cdk["app"] = f"{PYTHON} {CHECKOUT / 'app.py'}"
    cdk["context"].pop(DEFAULT_USE_CASE_KEY, None)
    if default:
        cdk["context"][DEFAULT_USE_CASE_KEY] = default
    return json.dumps(cdk, indent=2)


def make_project(root: Path, names: list[str]) -> Path:
    """A project of the template's files (linked) and only these use cases, scaffolded by new-use-case."""
    root.mkdir()
    (root / "cdk.json").write_text(cdk_json())
    link_template(root)
    (root / "usecases").mkdir()
    for name in names:
        new_use_case(name, root=root)
    return root


def run_in(project: Path, steps: list[dict], tmp_path: Path, *, local: bool = False) -> list[dict]:
    """Run the steps in one process on `project`; `local`: they start local mode (stopped at the end)."""
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    env = {**os.environ, "LIFTOFF_PROJECT": str(project)}
    env.pop("LIFTOFF_USE_CASE", None)
    done = subprocess.run(
        [PYTHON, "-m", "tests.cli_in_project", tmp_path / "steps.json", tmp_path / "results.json"],
        cwd=CHECKOUT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    results = json.loads((tmp_path / "results.json").read_text()) if done.returncode == 0 else []
    if local and (not results or results[-1]["output"].strip() != "stopped."):  # stop what the steps left running
        subprocess.run(
            [PYTHON, "-m", "liftoff.cli", "local", "down"], cwd=CHECKOUT, env=env, capture_output=True, check=False
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return results


def use_case_commands() -> list[tuple[list[str], click.Command, UseCaseOption]]:
    """Every command of `liftoff` with a --use-case option, by its path."""
    found = []

    def walk(group: click.Group, path: list[str]) -> None:
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk(command, [*path, name])
                continue
            for param in command.params:
                if "--use-case" in getattr(param, "opts", ()):
                    found.append(([*path, name], command, param))

    walk(main, [])
    return found


def required_args(command: click.Command) -> list[str]:
    """Values for a command's required parameters that parse, so that --use-case is the one left to decide."""

    def value(param: click.Parameter) -> str:
        if isinstance(param.type, click.Choice):
            return str(param.type.choices[0])
        if isinstance(param.type, click.Path):
            return "cdk.json"  # a file that exists where the commands run
        if isinstance(param.type, (click.IntRange, click.FloatRange)):
            return str(param.type.min or 1)
        return "1" if param.type in (click.INT, click.FLOAT) else "x"

    args = []
    for param in command.params:
        if param.required and isinstance(param, click.Argument):
            args.append(value(param))
        elif param.required:
            args += [param.opts[0], value(param)]
    return args


def test_every_use_case_option_is_the_shared_one_and_shows_no_fixed_default():
    commands = use_case_commands()
    assert len(commands) >= 25  # every prompts, eval, charter, canary, cost, local command, and the rest
    for path, command, param in commands:
        assert isinstance(param, UseCaseOption), path
        assert param.default is None, path
        text = " ".join(command.get_help(click.Context(command)).split())
        assert "fixture-triage" not in text, path
        assert {"every": "every use case", "one": "the only use case", "knowledge": "`knowledge:`"}[param.kind] in text
    # the commands that work on every use case unless told otherwise, and those on the retrieval use case
    every = sorted(" ".join(path) for path, _, param in commands if param.every)
    assert every == ["local down", "preflight", "scope check", "smoke"]
    assert sorted(" ".join(path) for path, _, param in commands if param.kind == "knowledge") == [
        "kb status",
        "kb sync",
    ]


# (command, what its output shows once it worked on faq-bot); in this order: local up before what needs it
ONE_USE_CASE = [
    (["use-cases"], "faq-bot  (default: the only use case)"),
    (["charter", "show"], "not agreed yet: liftoff charter agree --use-case faq-bot"),
    (["charter", "agree", "--by", "tests"], "usecases/faq-bot.yaml: replace the placeholders"),  # a new charter's
    (["charter", "amend", "--by", "tests", "--why", "w"], "faq-bot: no agreement to amend"),
    (["scope", "check"], "PASS  faq-bot"),
    (["local", "up"], "local mode is up for faq-bot"),
    (["prompts", "publish"], "answer: unchanged, still v1"),
    (["prompts", "list"], "answer"),
    (["prompts", "history", "answer"], "v1"),
    (["eval", "run", "--limit", "1"], "recorded in the local registry: answer v1"),
    (["eval", "gate"], "faq-bot: "),
    (["eval", "augment"], "variants of"),
    (["eval", "harvest", "--since", "1h"], "nothing new for evals/faq-bot/harvested.jsonl"),
    (["cost", "report"], "faq-bot: cost per request"),
    (["cost", "project"], "faq-bot"),
    (["canary", "run"], "stable (answer v1)"),
    (["canary", "rollback", "--alarm", "test"], "no prompt canary to roll back"),
    (["smoke", "--local", "--log-wait", "5"], "faq-bot on local"),
    (["local", "down"], "stopped."),
]


@pytest.fixture(scope="module")
def one_use_case_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("one")
    project = make_project(tmp / "project", ["faq-bot"])
    return run_in(project, [{"args": args} for args, _ in ONE_USE_CASE], tmp, local=True)


@pytest.mark.parametrize(("index", "marker"), [(i, m) for i, (_, m) in enumerate(ONE_USE_CASE)])
def test_in_a_one_use_case_project_every_command_works_without_the_option(one_use_case_run, index, marker):
    # Given a project whose only use case is faq-bot / When the command runs without --use-case
    result = one_use_case_run[index]
    # Then it worked on faq-bot (a refusal, exit 2, would be a usage error; no traceback)
    assert result["exception"] is None, result["exception"]
    assert result["exit_code"] != 2, result["output"]
    assert marker in result["output"], result["output"][-3000:]
    print(f"{' '.join(result['args'])}: {result['seconds']} s")


def test_in_a_two_use_case_project_the_choice_is_explicit_or_the_project_default(tmp_path):
    # Given two use cases and no project default
    project = make_project(tmp_path / "project", ["faq-bot", "hr-bot"])
    refusals = [
        {"args": [*path, *required_args(cmd)]} for path, cmd, param in use_case_commands() if param.kind == "one"
    ]
    chosen = [
        {"args": ["charter", "show"], "env": {"LIFTOFF_USE_CASE": "hr-bot"}},
        {"args": ["charter", "show", "--use-case", "faq-bot"], "env": {"LIFTOFF_USE_CASE": "hr-bot"}},
        {"args": ["charter", "show"], "env": {"LIFTOFF_USE_CASE": "nope"}},
        {"args": ["charter", "show", "--use-case", "nope"]},
        {"args": ["use-cases"]},
        # then with a project default in cdk.json
        {"args": ["charter", "show"], "files": {"cdk.json": cdk_json(default="hr-bot")}},
        {"args": ["charter", "show"], "env": {"LIFTOFF_USE_CASE": "faq-bot"}},
        {"args": ["use-cases", "--default"]},
        {"args": ["charter", "show"], "files": {"cdk.json": cdk_json(default="gone-bot")}},
        {"args": ["use-cases"]},  # with that stale default: the command that diagnoses it still lists them
    ]
    # When every command that needs one use case runs without --use-case, and then with one chosen
    results = run_in(project, refusals + chosen, tmp_path)
    # Then each refuses (usage error) naming both and the three ways to choose
    for result in results[: len(refusals)]:
        assert result["exit_code"] == 2, (result["args"], result["output"])
        assert "which use case? usecases/ has 2 (faq-bot, hr-bot) and none is chosen" in result["output"]
        assert "--use-case NAME, set LIFTOFF_USE_CASE=NAME" in result["output"], result["args"]
        assert f'"{DEFAULT_USE_CASE_KEY}": "NAME"' in result["output"], result["args"]
    by_env, typed, unknown_env, unknown_typed, listed, by_cdk, env_first, default, stale, listed_stale = results[
        len(refusals) :
    ]
    # LIFTOFF_USE_CASE picks, and --use-case beats it
    assert by_env["exit_code"] == 0 and "--use-case hr-bot" in by_env["output"]
    assert typed["exit_code"] == 0 and "--use-case faq-bot" in typed["output"]
    # an unknown name, typed or set, lists the known ones
    assert unknown_env["exit_code"] == 2
    assert "LIFTOFF_USE_CASE=nope names `nope`, but there is no such use case" in unknown_env["output"]
    assert "known: faq-bot, hr-bot" in unknown_env["output"]
    assert unknown_typed["exit_code"] == 2
    assert "Invalid value for '--use-case': no use case `nope`" in unknown_typed["output"]
    assert "known: faq-bot, hr-bot" in unknown_typed["output"]
    assert "no default: a command without --use-case refuses" in listed["output"]
    # cdk.json's default picks, LIFTOFF_USE_CASE comes before it, and a default naming no use case says so
    assert by_cdk["exit_code"] == 0 and "--use-case hr-bot" in by_cdk["output"]
    assert env_first["exit_code"] == 0 and "--use-case faq-bot" in env_first["output"]
    assert default["output"].strip() == "hr-bot"
    assert stale["exit_code"] == 2
    assert f"cdk.json's context `{DEFAULT_USE_CASE_KEY}` names `gone-bot`, but there is no such" in stale["output"]
    assert listed_stale["exit_code"] == 2 and listed_stale["output"].startswith("faq-bot\nhr-bot\n")
    assert "the default is wrong: cdk.json's context" in listed_stale["output"]
