"""Reference pages generated from the code: the configuration (pydantic models of liftoff/foundation/config.py), prompt
files (service/models/prompt.py), eval suites, cases and checks (liftoff/foundation/eval_cases.py,
service/evalcore/checks.py) and the CLI (the click commands). The docs site builds them on every `make docs`
(tools/docs_hooks.py), so they cannot drift from what the code accepts."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from liftoff.foundation.config import STAGES, KnowledgeConfig, StageConfig, UseCaseConfig
from liftoff.foundation.eval_cases import EvalCase, Suite
from service.evalcore.checks import Check
from service.models.prompt import PromptSpec, RetrievalSpec


@dataclass(frozen=True)
class FieldDoc:
    path: str  # as written in YAML: `models.timeout_seconds`, `guardrail.denied_topics[].name`
    type: str
    default: str  # "required" when the field has none
    constraints: str
    description: str


_SCALARS = {
    "str": "string",
    "float": "number",
    "int": "integer",
    "bool": "boolean",
    "EmailStr": "email",
    "dict": "mapping",
    "Any": "any",
}


def _tagged_union(annotation: object) -> str | None:
    """The tag of a discriminated union of models (`Check`: `type`), else None."""
    if typing.get_origin(annotation) is not typing.Annotated:
        return None
    return next((m.discriminator for m in typing.get_args(annotation)[1:] if getattr(m, "discriminator", None)), None)


def _type_name(annotation: object) -> str:  # noqa: PLR0911 - one return per kind of annotation
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        tag = _tagged_union(annotation)
        return f"check (a mapping by `{tag}`, below)" if tag else _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(arg) for arg in args if arg is not type(None)]
        return " \\| ".join(names) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[0])} to {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping (below)"
    name = getattr(annotation, "__name__", str(annotation))
    return _SCALARS.get(name, name)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel) or (
        isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values())
    ):
        return "(defaults below)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if (isinstance(value, (list, dict, str)) and not value) or isinstance(value, list):
        return f"`{json.dumps(value)}`"  # `""`, `[]`, `{}`, `["adversarial", "pii"]`: as YAML or JSON reads them
    return f"`{value}`"


_CONSTRAINTS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "min_length": "length >=", "max_length": "length <="}


def _constraints(field: FieldInfo) -> str:
    parts = []
    for item in field.metadata:
        for attribute, symbol in _CONSTRAINTS.items():
            value = getattr(item, attribute, None)
            if value is not None:
                parts.append(f"{symbol} {value:g}" if isinstance(value, float) else f"{symbol} {value}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            parts.append(f"matches `{pattern}`")
    return ", ".join(parts)


def _nested_model(annotation: object) -> tuple[type[BaseModel], str] | None:
    """The model inside a field's type, and how its path continues: `` (a mapping), `[]` (a list of
    mappings) or `.<key>` (a map of mappings)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return None if _tagged_union(annotation) else _nested_model(args[0])
    if origin is list:
        found = _nested_model(args[0])
        return (found[0], "[]") if found else None
    if origin is dict:
        found = _nested_model(args[1])
        return (found[0], ".<key>") if found else None
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _nested_model(arg)
            if found:
                return found
    return None


def written_fields(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo]]:
    """The fields of `model` as a file writes them: by alias (`schema`, not `schema_`), and without the ones
    excluded from the model's dump, which the loader fills (Suite.output_schemas)."""
    for name, field in model.model_fields.items():
        if not field.exclude:
            yield field.alias or name, field


def model_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[type[BaseModel], FieldDoc]]:
    """Every field of `model` and of the models inside it, depth first, with its YAML path."""
    for name, field in written_fields(model):
        path = f"{prefix}{name}"
        yield (
            model,
            FieldDoc(
                path=path,
                type=_type_name(field.annotation),
                default=_default(field),
                constraints=_constraints(field),
                description=" ".join((field.description or "").split()),
            ),
        )
        nested = _nested_model(field.annotation)
        if nested:
            yield from model_fields(nested[0], f"{path}{nested[1]}.")


def _cell(text: str) -> str:
    """Text for a table cell: a pipe outside a code span is escaped (it would end the cell); inside a code span
    Python-Markdown (mkdocs) already keeps it, and an escape there would show as a literal `\\|`."""
    parts = text.split("`")
    return "`".join(part if i % 2 else part.replace("\\|", "|").replace("|", "\\|") for i, part in enumerate(parts))


def _row(doc: FieldDoc) -> str:
    return f"| `{doc.path}` | {doc.type} | {_cell(doc.default)} | {_cell(doc.constraints)} | {_cell(doc.description)} |"


_HEADER = ["| field | type | default | constraints | description |", "|---|---|---|---|---|"]


def _text(docstring: str | None) -> str:
    return " ".join((docstring or "").split())


def _file_reference(
    root: type[BaseModel],
    *,
    title: str | None,
    level: str,
    defaults: dict[str, str] | None = None,
    extra: dict[str, list[FieldDoc]] | None = None,
) -> list[str]:
    """A table of `root`'s own fields (headed `title` when given), then one per nested model at its path.
    `defaults` overrides a field's default as a loader fills it; `extra` adds rows a loader accepts beyond
    the model, to the section of that path."""
    defaults, extra = defaults or {}, extra or {}

    def rows(model: type[BaseModel], prefix: str, *, own: bool = False) -> list[str]:
        docs = [doc for owner, doc in model_fields(model, prefix) if not own or owner is model]
        docs += extra.get(prefix.removesuffix("."), [])
        return [_row(dataclasses.replace(doc, default=defaults.get(doc.path, doc.default))) for doc in docs]

    fields = dict(written_fields(root))
    sections = [(name, nested) for name, field in fields.items() if (nested := _nested_model(field.annotation))]
    out = ([f"{level} {title}", ""] if title else []) + [*_HEADER, *rows(root, "", own=True)]
    for name, (model, suffix) in sections:
        path = f"{name}{suffix}"
        intro = _text(model.__doc__) or _text(fields[name].description)
        out += ["", f"{level} `{path}`", "", intro, "", *_HEADER, *rows(model, f"{path}.")]
    return out


def config_reference() -> str:
    """Markdown: one table per section of `usecases/<name>.yaml`, then the stage settings."""
    out = _file_reference(UseCaseConfig, title="Top level", level="###")
    out += [
        "",
        "### Stage settings",
        "",
        " ".join((StageConfig.__doc__ or "").split())
        + " They are fixed per stage in `liftoff/foundation/config.py` (`STAGES`) and chosen with `-c stage=...`.",
        "",
        "| setting | " + " | ".join(STAGES) + " | description |",
        "|---|" + "---|" * len(STAGES) + "---|",
    ]
    for name, field in StageConfig.model_fields.items():
        values = " | ".join(f"`{getattr(stage, name)}`" for stage in STAGES.values())
        out.append(f"| `{name}` | {values} | {_cell(' '.join((field.description or '').split()))} |")
    return "\n".join(out) + "\n"


# What load_prompt_file (liftoff/foundation/usecases.py) does around PromptSpec; tests/unit/test_docs.py checks each claim
PROMPT_FILE_DEFAULTS = {"prompt_id": "the file's name"}
PROMPT_FILE_EXTRA = {
    "output": [
        FieldDoc(
            path="output.schema_file",
            type="string",
            default="null",
            constraints="",
            description="Instead of `schema`: a JSON file holding it, relative to the prompt file's folder "
            "(`schemas/triage.json`). Read at load; its content is the `schema`.",
        )
    ]
}


def prompt_file_reference() -> str:
    """Markdown: the fields of `prompts/<use_case>/<prompt_id>.yaml`, one table per mapping."""
    out = _file_reference(PromptSpec, title=None, level="###", defaults=PROMPT_FILE_DEFAULTS, extra=PROMPT_FILE_EXTRA)
    return "\n".join(out) + "\n"


def suite_reference() -> str:
    """Markdown: the fields of `evals/<use_case>/suite.yaml`, one table per mapping."""
    return "\n".join(_file_reference(Suite, title=None, level="####")) + "\n"


def case_reference() -> str:
    """Markdown: the fields of one case (a line of `evals/<use_case>/*.jsonl`)."""
    return "\n".join(_file_reference(EvalCase, title=None, level="####")) + "\n"


def check_models() -> list[type[BaseModel]]:
    """The models of the `Check` union, in its order."""
    union = typing.get_args(Check)[0]
    return list(typing.get_args(union))


def check_types(model: type[BaseModel]) -> tuple[str, ...]:
    """The `type` values a check model takes (`Contains`: `contains`, `not_contains`)."""
    return typing.get_args(model.model_fields["type"].annotation)


def checks_reference() -> str:
    """Markdown: for each check type, when it passes and a table of its fields."""
    out: list[str] = []
    for model in check_models():
        names = ", ".join(f"`{t}`" for t in check_types(model))
        out += ["", f"#### {names}", "", _text(model.__doc__), "", *_HEADER]
        out += [_row(doc) for _, doc in model_fields(model)]
    return "\n".join(out[1:]) + "\n"


def knowledge_reference() -> str:
    """Markdown: every field of a use case's `knowledge:` section, in one table (docs/grounded-answers.md)."""
    return "\n".join([*_HEADER, *(_row(doc) for _, doc in model_fields(KnowledgeConfig, "knowledge."))]) + "\n"


def retrieval_reference() -> str:
    """Markdown: every field of a prompt file's `retrieval:` mapping, in one table (docs/grounded-answers.md)."""
    return "\n".join([*_HEADER, *(_row(doc) for _, doc in model_fields(RetrievalSpec, "retrieval."))]) + "\n"


def config_summary() -> str:
    """Markdown: one row per section of `usecases/<name>.yaml` (what it is for and its fields), from the models,
    so a new section shows up here without an edit."""
    out = ["| section | what it holds | fields |", "|---|---|---|"]
    for name, field in UseCaseConfig.model_fields.items():
        nested = _nested_model(field.annotation)
        if not nested:
            continue
        purpose = " ".join((field.description or "").split())
        fields = ", ".join(f"`{sub}`" for sub in nested[0].model_fields)
        out.append(f"| [`{name}`](#{name}) | {_cell(purpose)} | {fields} |")
    return "\n".join(out) + "\n"


def _commands(group: click.Group, prefix: str) -> Iterator[tuple[str, click.Command]]:
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from _commands(command, path)


def cli_reference() -> str:
    """Markdown: every `liftoff` command with its usage, help and options, from the click objects."""
    from liftoff.cli import main

    out: list[str] = []
    for path, command in _commands(main, "liftoff"):
        context = click.Context(command, info_name=path)
        level = "###" if path.count(" ") > 1 else "##"
        out += [f"{level} `{path}`", "", "```", command.get_usage(context).removeprefix("Usage: "), "```", ""]
        out += [(command.help or "").strip(), ""]
        if isinstance(command, click.Group):
            continue
        rows = []
        for param in command.get_params(context):
            record = param.get_help_record(context)
            if record is None:
                if isinstance(param, click.Argument):
                    rows.append(
                        f"| `{param.human_readable_name}` | argument{' (required)' if param.required else ''} |"
                    )
                continue
            flags, text = record
            if flags != "--help":
                rows.append(f"| {_cell(f'`{flags}`')} | {_cell(' '.join(text.split()))} |")
        if rows:
            out += ["| argument or option | what it does |", "|---|---|", *rows, ""]
    return "\n".join(out) + "\n"
