"""The documentation site builds with --strict (broken links fail), and its generated references list
every configuration field, prompt-file field, eval suite and case field, check type and CLI command: they
are made from the code, so they cannot drift."""

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from pydantic import TypeAdapter

from liftoff import INSTALLED_FROM
from liftoff.cli import main
from liftoff.foundation.config import STAGES, StageConfig, UseCaseConfig
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.eval_cases import DEFAULT_GOLDEN_SIZE, EvalCase, Suite
from liftoff.foundation.usecases import load_prompt_file
from liftoff.reference import (
    case_reference,
    check_models,
    check_types,
    checks_reference,
    cli_reference,
    config_reference,
    config_summary,
    knowledge_reference,
    model_fields,
    prompt_file_reference,
    retrieval_reference,
    suite_reference,
)
from service.evalcore.checks import Check
from service.logic.render import render_prompt
from service.models.errors import MissingVariable
from service.models.prompt import PromptSpec

MKDOCS = Path(sys.executable).parent / "mkdocs"


def test_every_config_field_has_a_description_and_a_row_in_the_reference():
    reference = config_reference()
    fields = [doc for _, doc in model_fields(UseCaseConfig)]
    assert len(fields) > 50
    undocumented = [doc.path for doc in fields if not doc.description]
    assert not undocumented, f"give these fields a docstring in liftoff/foundation/config.py: {undocumented}"
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
        cwd=INSTALLED_FROM,
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
    prompt_files = (tmp_path / "site" / "prompt-files" / "index.html").read_text()
    assert "variables[].required" in prompt_files and "output.schema_file" in prompt_files
    # the example prompt file, included as it is (the highlighter puts each token in a span)
    assert "schema_file: schemas/triage.json" in re.sub(r"<[^>]+>", "", prompt_files)
    grounded = (tmp_path / "site" / "grounded-answers" / "index.html").read_text()
    assert "knowledge.grounding.relevance_threshold" in grounded and "retrieval.no_context" in grounded
    assert "liftoff:knowledge-reference" not in grounded and "liftoff:retrieval-reference" not in grounded
    # the scaffold's own knowledge: section and prompt, included as they are
    text = re.sub(r"<[^>]+>", "", grounded)
    assert "overlap_percentage: 20" in text and "no_context: refuse" in text
    # cost.md's idle table of the other vector stores (kept equal to cost project's), included, not copied
    assert "Amazon Kendra, Developer Edition index" in text and "--8&lt;--" not in grounded
    evaluation = (tmp_path / "site" / "evaluation" / "index.html").read_text()
    assert "golden.tag" in evaluation and "<code>expect_error</code>" in evaluation and "min_score" in evaluation
    for page, html in (("prompt-files", prompt_files), ("evaluation", evaluation)):
        assert "<!-- liftoff:" not in html, page  # every marker was replaced
    for page in ("cli", "configuration", "prompt-files", "evaluation"):
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
        if field.annotation.__module__ == "liftoff.foundation.config" and hasattr(field.annotation, "model_fields")
    ]
    assert {"observability", "capture", "monitoring"} <= set(sections)
    for name in sections:
        assert f"| [`{name}`](#{name}) |" in summary, name


def _undocumented_and_missing(model, reference: str) -> tuple[list[str], list[str]]:
    fields = [doc for _, doc in model_fields(model)]
    undocumented = [doc.path for doc in fields if not doc.description]
    missing = [doc.path for doc in fields if f"| `{doc.path}` |" not in reference]
    return undocumented, missing


def test_every_prompt_file_field_has_a_description_and_a_row_in_the_reference():
    # Given the prompt models (Lambda code: descriptions from Field(), never attribute docstrings, which
    # parse the module's source at every cold start)
    reference = prompt_file_reference()
    assert not PromptSpec.model_config.get("use_attribute_docstrings")
    # Then every field, nested ones included, has a description and a row, by the name a file writes
    undocumented, missing = _undocumented_and_missing(PromptSpec, reference)
    assert not undocumented, f"give these fields Field(description=...) in service/models/prompt.py: {undocumented}"
    assert not missing
    assert len([doc for _, doc in model_fields(PromptSpec)]) >= 18
    assert "| `output.schema` |" in reference and "`output.schema_` |" not in reference  # the alias a file uses
    assert "| `variables[].max_length` | integer | `4000` | >= 1, <= 100000 |" in reference
    assert '| `description` | string | `""` |' in reference
    for section in ("### `variables[]`", "### `inference`", "### `output`"):
        assert section in reference


def test_the_prompt_file_reference_says_what_the_loader_and_the_renderer_do(tmp_path):
    # The facts a user had to read the code for, each checked against the code
    reference = prompt_file_reference()
    folder = tmp_path / "prompts" / "x"
    (folder / "schemas").mkdir(parents=True)
    (folder / "schemas" / "out.json").write_text('{"type": "object"}')
    base = "model_id: us.amazon.nova-micro-v1:0\ntemplate: 'Hello {{name}}'\n"

    # `default:` is refused (the mapping forbids any key not in its table)
    assert "(such as `default:`) is refused" in reference
    (folder / "greet.yaml").write_text(base + "variables: [{name: name, required: false, default: friend}]\n")
    with pytest.raises(ConfigError, match=r"variables\.0\.default"):
        load_prompt_file(folder / "greet.yaml")

    # an optional variable that is not sent renders empty; a required one sent blank is MissingVariable
    assert "an optional variable that a request does not send renders as an empty string" in reference
    assert "a request must send a value that is not blank, else 400 `MissingVariable`" in reference
    (folder / "greet.yaml").write_text(
        base + "output: {format: json, schema_file: schemas/out.json}\nvariables: [{name: name, required: false}]\n"
    )
    spec = load_prompt_file(folder / "greet.yaml")
    assert render_prompt(spec, {}).user_text == "Hello "
    required = spec.model_copy(update={"variables": (spec.variables[0].model_copy(update={"required": True}),)})
    with pytest.raises(MissingVariable):
        render_prompt(required, {"name": "  "})

    # `schema_file` is read relative to the prompt file's folder; `prompt_id` is the file's name
    assert "| `output.schema_file` | string | null |" in reference
    assert "relative to the prompt file's folder" in reference
    assert spec.output.schema_ == {"type": "object"} and spec.prompt_id == "greet"
    assert "| `prompt_id` | string | the file's name |" in reference
    (folder / "greet.yaml").write_text("prompt_id: other\n" + base + "variables: [{name: name}]\n")
    with pytest.raises(ConfigError, match="field `prompt_id`"):
        load_prompt_file(folder / "greet.yaml")


def test_every_suite_and_case_field_has_a_description_and_a_row_in_the_reference():
    suite, case = suite_reference(), case_reference()
    for model, reference in ((Suite, suite), (EvalCase, case)):
        undocumented, missing = _undocumented_and_missing(model, reference)
        assert not undocumented, f"give these fields a docstring in liftoff/foundation/eval_cases.py: {undocumented}"
        assert not missing, model.__name__
    assert "| `golden.tag` |" in suite and "| `judge.enabled` | boolean | false |" in suite
    assert '| `blocked_passes_tags` | list of string | `["adversarial", "pii"]` |' in suite
    assert f"the first {DEFAULT_GOLDEN_SIZE} " in suite
    # filled by the loader from the prompt files, not written in suite.yaml
    assert "output_schemas" not in suite
    # a list of checks points at the check tables instead of listing one check model's fields as its own
    assert "| `default_checks` | list of check (a mapping by `type`, below) |" in suite
    assert "default_checks[]." not in suite and "checks[]." not in case


def test_every_check_type_has_its_table_with_every_field():
    # Given every `type` the Check union accepts (pydantic's own mapping, not the reference's reading of it)
    mapping = TypeAdapter(Check).json_schema()["discriminator"]["mapping"]
    assert len(mapping) >= 13
    reference = checks_reference()
    sections = {heading.split("\n", 1)[0]: heading for heading in reference.split("#### ")[1:]}
    for model in check_models():
        # Then each has a section headed by its types, saying when it passes, with a row for every field
        assert not model.model_config.get("use_attribute_docstrings"), model.__name__  # Lambda code
        heading = ", ".join(f"`{t}`" for t in check_types(model))
        assert heading in sections, heading
        assert model.__doc__, f"{model.__name__} needs a docstring saying when it passes"
        for _, doc in model_fields(model):
            assert doc.description, f"{model.__name__}.{doc.path} needs Field(description=...)"
            assert f"| `{doc.path}` |" in sections[heading], f"{heading}: {doc.path}"
    covered = {t for model in check_models() for t in check_types(model)}
    assert covered == set(mapping)
    assert "| `schema` | mapping | required |" in sections["`json_schema`"]  # the alias a case writes


def test_the_grounded_answers_page_lists_every_knowledge_and_retrieval_field():
    from liftoff.foundation.config import KnowledgeConfig
    from service.models.prompt import RetrievalSpec

    page = (Path(__file__).resolve().parents[2] / "docs" / "grounded-answers.md").read_text()
    for marker, make, model, prefix in (
        ("<!-- liftoff:knowledge-reference -->", knowledge_reference, KnowledgeConfig, "knowledge."),
        ("<!-- liftoff:retrieval-reference -->", retrieval_reference, RetrievalSpec, "retrieval."),
    ):
        assert marker in page
        table = make()
        paths = [doc.path for _, doc in model_fields(model, prefix)]
        assert len(paths) >= 5
        missing = [path for path in paths if f"| `{path}` |" not in table]
        assert not missing
