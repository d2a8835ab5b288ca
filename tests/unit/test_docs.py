"""The documentation site builds with --strict (broken links fail), and its generated references list
every configuration field and every CLI command: they are made from the code, so they cannot drift."""

import os
import subprocess
import sys
from pathlib import Path

import click

from liftoff import REPO_ROOT
from liftoff.cli import main
from liftoff.config import STAGES, StageConfig, UseCaseConfig
from liftoff.reference import cli_reference, config_reference, config_summary, model_fields

MKDOCS = Path(sys.executable).parent / "mkdocs"


def test_every_config_field_has_a_description_and_a_row_in_the_reference():
    reference = config_reference()
    fields = [doc for _, doc in model_fields(UseCaseConfig)]
    assert len(fields) > 50
    undocumented = [doc.path for doc in fields if not doc.description]
    assert not undocumented, f"give these fields a docstring in liftoff/config.py: {undocumented}"
    missing = [doc.path for doc in fields if f"| `{doc.path}` |" not in reference]
    assert not missing
    for name, field in StageConfig.model_fields.items():
        assert field.description, f"StageConfig.{name} needs a docstring"
        assert f"| `{name}` |" in reference


def test_the_reference_shows_defaults_constraints_and_stage_values():
    reference = config_reference()
    assert "| `models.timeout_seconds` | number | `6.0` | > 0, <= 25 |" in reference
    assert "| `budget.daily_cap_usd` | number | required | > 0 |" in reference
    assert "| `api.auth` | `api_key` \\| `iam` \\| `cognito` | `api_key` |" in reference
    assert "| `guardrail.denied_topics[].name` |" in reference
    assert "| `guardrail.content_filters.<key>.input` |" in reference
    assert (
        f"| `log_retention_days` | `{STAGES['sandbox'].log_retention_days}` | `{STAGES['prod'].log_retention_days}` |"
        in reference
    )


def _all_commands(group: click.Group, prefix: str = "liftoff"):
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from _all_commands(command, f"{prefix} {name}")


def test_the_cli_reference_lists_every_command_and_option():
    reference = cli_reference()
    for path, command in _all_commands(main):
        assert f"`{path}`" in reference, path
        for param in command.params:
            if isinstance(param, click.Option) and "--help" not in param.opts:
                assert any(opt in reference for opt in param.opts), f"{path} {param.opts}"


def test_the_site_builds_strict_with_the_generated_pages(tmp_path):
    done = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    configuration = (tmp_path / "site" / "configuration" / "index.html").read_text()
    assert "models.connect_timeout_seconds" in configuration
    assert "liftoff:config-reference" not in configuration  # the marker was replaced
    cli = (tmp_path / "site" / "cli" / "index.html").read_text()
    assert "liftoff prompts canary" in cli
    # a choice inside a code span keeps its pipe and shows no escape (it showed `[sandbox\|prod]` 7 times)
    assert "<code>--stage [sandbox|prod]</code>" in cli
    for page in ("cli", "configuration"):
        assert "\\|" not in (tmp_path / "site" / page / "index.html").read_text(), page
    home = (tmp_path / "site" / "index.html").read_text()
    assert "a POC usually lacks" in home and "--8&lt;--" not in home  # the README's table, included


def test_the_configuration_summary_has_a_row_for_every_section():
    # A section added to UseCaseConfig (observability, capture and monitoring were missing from a hand-kept table)
    # shows up in the summary with a link to its fields.
    summary = config_summary()
    sections = [
        name
        for name, field in UseCaseConfig.model_fields.items()
        if field.annotation.__module__ == "liftoff.config" and hasattr(field.annotation, "model_fields")
    ]
    assert {"observability", "capture", "monitoring"} <= set(sections)
    for name in sections:
        assert f"| [`{name}`](#{name}) |" in summary, name
