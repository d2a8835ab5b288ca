"""Reference pages generated from the code: the configuration (pydantic models of liftoff/config.py) and
the CLI (the click commands). The docs site builds them on every `make docs` (tools/docs_hooks.py), so
they cannot drift from what the code accepts."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from liftoff.config import STAGES, StageConfig, UseCaseConfig


@dataclass(frozen=True)
class FieldDoc:
    path: str  # as written in YAML: `models.timeout_seconds`, `guardrail.denied_topics[].name`
    type: str
    default: str  # "required" when the field has none
    constraints: str
    description: str


_SCALARS = {"str": "string", "float": "number", "int": "integer", "bool": "boolean", "EmailStr": "email"}


def _type_name(annotation: object) -> str:  # noqa: PLR0911 - one return per kind of annotation
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
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
        return _nested_model(args[0])
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


def model_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[type[BaseModel], FieldDoc]]:
    """Every field of `model` and of the models inside it, depth first, with its YAML path."""
    for name, field in model.model_fields.items():
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


def config_reference() -> str:
    """Markdown: one table per section of `usecases/<name>.yaml`, then the stage settings."""
    top_level = [doc for model, doc in model_fields(UseCaseConfig) if model is UseCaseConfig]
    out = ["### Top level", "", *_HEADER]
    sections = []
    for doc in top_level:
        out.append(_row(doc))
        nested = _nested_model(UseCaseConfig.model_fields[doc.path].annotation)
        if nested:
            sections.append((doc, nested[0]))
    for doc, model in sections:
        out += ["", f"### `{doc.path}`", "", " ".join((model.__doc__ or doc.description).split()), "", *_HEADER]
        out += [_row(field) for _, field in model_fields(model, f"{doc.path}.")]
    out += [
        "",
        "### Stage settings",
        "",
        " ".join((StageConfig.__doc__ or "").split())
        + " They are fixed per stage in `liftoff/config.py` (`STAGES`) and chosen with `-c stage=...`.",
        "",
        "| setting | " + " | ".join(STAGES) + " | description |",
        "|---|" + "---|" * len(STAGES) + "---|",
    ]
    for name, field in StageConfig.model_fields.items():
        values = " | ".join(f"`{getattr(stage, name)}`" for stage in STAGES.values())
        out.append(f"| `{name}` | {values} | {_cell(' '.join((field.description or '').split()))} |")
    return "\n".join(out) + "\n"


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
