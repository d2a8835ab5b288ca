"""A use case on disk: `usecases/<name>.yaml` plus its prompt files `prompts/<name>/*.yaml`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from liftoff import REPO_ROOT
from liftoff.foundation.config import (
    USE_CASE_NAME,
    UseCaseConfig,
    display_path,
    format_validation_error,
    load_use_case_config,
    read_yaml,
)
from liftoff.foundation.errors import ConfigError
from liftoff.foundation.pricing import load_pricing, prices_for, structured_output_mechanism
from service.logic.cost import ModelPrice
from service.models.prompt import PromptSpec

USECASES_DIR = "usecases"
PROMPTS_DIR = "prompts"


@dataclass(frozen=True)
class UseCase:
    config: UseCaseConfig
    prompts: tuple[PromptSpec, ...]
    prices: dict[str, ModelPrice]
    root: Path = REPO_ROOT  # the project it was loaded from (its eval set is there too)

    @property
    def name(self) -> str:
        return self.config.name


def load_prompt_file(path: Path) -> PromptSpec:
    """Read one prompt file; its id is the file name. Errors name the file and the field."""
    data = read_yaml(path)
    declared_id = data.pop("prompt_id", path.stem)
    if declared_id != path.stem:
        raise ConfigError(
            f"{display_path(path)}: field `prompt_id` is `{declared_id}` but the file is `{path.stem}.yaml`"
        )
    output = data.get("output")
    if isinstance(output, dict) and "schema_file" in output:
        output = dict(output)
        schema_path = path.parent / str(output.pop("schema_file"))
        try:
            output["schema"] = json.loads(schema_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"{display_path(path)}: field `output.schema_file`: cannot read {display_path(schema_path)} as JSON: {exc}"
            ) from exc
        data["output"] = output
    try:
        return PromptSpec.model_validate({"prompt_id": path.stem, **data})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from exc


def load_prompts(config: UseCaseConfig, root: Path = REPO_ROOT) -> tuple[PromptSpec, ...]:
    folder = root / PROMPTS_DIR / config.name
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError(f"{display_path(folder)}: no prompt files (*.yaml) for use case `{config.name}`")
    prompts = []
    for path in files:
        spec = load_prompt_file(path)
        if spec.model_id not in config.models.allowed:
            raise ConfigError(
                f"{display_path(path)}: field `model_id` is `{spec.model_id}`, which is not in `models.allowed` "
                f"of {USECASES_DIR}/{config.name}.yaml ({', '.join(config.models.allowed)})"
            )
        if spec.output.format == "json":
            _check_structured_output(path, spec, config)
        if spec.retrieval is not None:
            _check_retrieval(path, spec, config)
        prompts.append(spec)
    return tuple(prompts)


def _check_structured_output(path: Path, spec: PromptSpec, config: UseCaseConfig) -> None:
    """A JSON answer needs a model that can be asked for one (the prompt's, and the fallback that may
    answer instead): pricing/bedrock.yaml says which mechanism each model has."""
    table = load_pricing()
    for model_id in filter(None, (spec.model_id, config.models.fallback)):
        if structured_output_mechanism(model_id, table) == "none":
            raise ConfigError(
                f"{display_path(path)}: field `output.format` is `json`, but model `{model_id}` supports no structured "
                "output mechanism (pricing/bedrock.yaml `structured_output`); use `format: text` or another model"
            )


def _check_retrieval(path: Path, spec: PromptSpec, config: UseCaseConfig) -> None:
    """A prompt that retrieves needs the use case's knowledge base, and an answer that names its passages:
    JSON with `answer` (text) and `citations` (passage ids), so the service can hold each citation to a
    passage it retrieved."""
    if config.knowledge is None:
        raise ConfigError(
            f"{display_path(path)}: field `retrieval` is set, but {USECASES_DIR}/{config.name}.yaml has no "
            "`knowledge:` section to retrieve from: add one, or remove `retrieval`"
        )
    properties = (spec.output.schema_ or {}).get("properties", {}) if spec.output.format == "json" else {}
    answer, citations = properties.get("answer", {}), properties.get("citations", {})
    if answer.get("type") != "string" or citations.get("type") != "array":
        raise ConfigError(
            f"{display_path(path)}: field `output`: a prompt with `retrieval` answers JSON whose schema has "
            '`answer` (type string) and `citations` (type array of passage ids such as "P1"); '
            "set `output: {format: json, schema_file: ...}` with both"
        )


def use_case_names(root: Path = REPO_ROOT) -> list[str]:
    return sorted(p.stem for p in (root / USECASES_DIR).glob("*.yaml"))


class UnknownUseCase(ConfigError):
    """A use case was named that has no `usecases/<name>.yaml`; the message lists the ones that exist."""


class UseCaseNotChosen(ConfigError):
    """No use case was named and the project cannot tell which one is meant (several, no default; or none)."""


def require_use_case(name: str, root: Path = REPO_ROOT, *, named_by: str = "") -> None:
    """UnknownUseCase (listing the known ones) unless `usecases/<name>.yaml` exists; `named_by` says where the
    name came from (`LIFTOFF_USE_CASE`, cdk.json) when it was not typed. Only a name of a file in usecases/ is a
    use case: a path (`../openapi`, `/tmp/x`) never is, so no command reads, moves or deletes outside its folders."""
    names = use_case_names(root)
    valid = USE_CASE_NAME.match(name) is not None  # `.` or `..` from a file `usecases/..yaml` is no name either
    if not valid or name not in names or not (root / USECASES_DIR / f"{name}.yaml").is_file():
        known = ", ".join(names) or "none"
        where = f"{named_by} names `{name}`, but there is no such use case" if named_by else f"no use case `{name}`"
        why = (
            f"{USECASES_DIR}/{name}.yaml does not exist"
            if valid
            else "a use-case name is 3-40 characters of a-z, 0-9 and '-', not a path"
        )
        raise UnknownUseCase(f"{where} ({why}); known: {known}")


# How a command picks its use case when `--use-case` is not given (resolve_use_case): this variable, then the
# project default in cdk.json's context under this key, then the only use case in usecases/. (The deployed
# function reads a variable of the same name, set to its own use case: liftoff/function_env.py.)
USE_CASE_ENV = "LIFTOFF_USE_CASE"
DEFAULT_USE_CASE_KEY = "liftoff:default_use_case"
NO_USE_CASES = f"no use cases: add one under {USECASES_DIR}/ (liftoff new-use-case NAME)"
HOW_TO_CHOOSE = (
    f'pass --use-case NAME, set {USE_CASE_ENV}=NAME, or set the project default in cdk.json: "context": '
    f'{{"{DEFAULT_USE_CASE_KEY}": "NAME"}}'
)


@dataclass(frozen=True)
class UseCaseChoice:
    name: str
    how: str  # "--use-case", "LIFTOFF_USE_CASE", "cdk.json", "the only use case"


def project_default_use_case(root: Path = REPO_ROOT) -> str | None:
    """cdk.json's `context` -> `liftoff:default_use_case` (None when it is not set)."""
    path = root / "cdk.json"
    try:
        context = json.loads(path.read_text(encoding="utf-8")).get("context") or {}
    except FileNotFoundError:
        return None
    except (ValueError, AttributeError) as exc:
        raise ConfigError(f"{display_path(path)}: not a JSON object with a `context` object: {exc}") from exc
    value = context.get(DEFAULT_USE_CASE_KEY) if isinstance(context, dict) else None
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{display_path(path)}: field `context.{DEFAULT_USE_CASE_KEY}` must be a use-case name")
    return value or None


def choose_use_case(explicit: str | None, root: Path = REPO_ROOT) -> UseCaseChoice:
    """The use case a command works on: `explicit` (--use-case), else $LIFTOFF_USE_CASE, else cdk.json's
    `liftoff:default_use_case`, else the only one in usecases/. UseCaseNotChosen when there are several and
    nothing chose one (the message names them all and the three ways to choose); UnknownUseCase for a name
    that does not exist, wherever it came from."""
    env = os.environ.get(USE_CASE_ENV, "").strip()
    for name, how, named_by in (
        (explicit, "--use-case", ""),
        (env, USE_CASE_ENV, f"{USE_CASE_ENV}={env}"),
        (project_default_use_case(root), "cdk.json", f"cdk.json's context `{DEFAULT_USE_CASE_KEY}`"),
    ):
        if name:
            require_use_case(name, root, named_by=named_by)
            return UseCaseChoice(name, how)
    names = use_case_names(root)
    if len(names) == 1:
        return UseCaseChoice(names[0], "the only use case")
    if not names:
        raise UseCaseNotChosen(NO_USE_CASES)
    raise UseCaseNotChosen(
        f"which use case? {USECASES_DIR}/ has {len(names)} ({', '.join(names)}) and none is chosen: {HOW_TO_CHOOSE}"
    )


def resolve_use_case(explicit: str | None, root: Path = REPO_ROOT) -> str:
    """The name choose_use_case picks."""
    return choose_use_case(explicit, root).name


def load_use_case(name: str, root: Path = REPO_ROOT) -> UseCase:
    require_use_case(name, root)
    path = root / USECASES_DIR / f"{name}.yaml"
    config = load_use_case_config(path)
    prices = prices_for(list(config.models.allowed), load_pricing())
    return UseCase(config=config, prompts=load_prompts(config, root), prices=prices, root=root)


def load_all_use_cases(root: Path = REPO_ROOT) -> list[UseCase]:
    names = use_case_names(root)
    if not names:
        raise ConfigError(NO_USE_CASES)
    return [load_use_case(name, root) for name in names]
