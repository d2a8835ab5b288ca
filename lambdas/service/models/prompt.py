"""A prompt as written in prompts/<use_case>/<prompt_id>.yaml, and the rules it must obey."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
PROMPT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# Filled by the service with the retrieved passages (prompts with `retrieval:`), never by the caller.
CONTEXT_PLACEHOLDER = "context"

Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class _Strict(BaseModel):
    # Field descriptions are given with Field(description=...), not as attribute docstrings
    # (use_attribute_docstrings): that option reads and parses this module's source when the classes are
    # built, on every Lambda cold start. The reference pages (liftoff/reference.py) are made from them.
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptVariable(_Strict):
    """One `{{name}}` placeholder: whether a request must supply it and how long it may be. There is no
    `default`: a key not listed here (such as `default:`) is refused; an optional variable that a request
    does not send renders as an empty string."""

    name: Name = Field(
        description="The placeholder, `{{name}}` in `template` or `system`. Each declared variable must be used, "
        "and each used one declared."
    )
    required: bool = Field(
        default=True,
        description="`true`: a request must send a value that is not blank, else 400 `MissingVariable`. "
        "`false`: it may send it blank or leave it out; left out, it renders as an empty string.",
    )
    max_length: int = Field(
        default=4000,
        ge=1,
        le=100_000,
        description="The most characters a request's value may have; longer: 400 `VariableTooLong`.",
    )
    description: str = Field(default="", description="What the value is, for people; not sent to the model.")


class InferenceParams(_Strict):
    """Converse `inferenceConfig`, in snake_case."""

    max_tokens: int = Field(
        default=512, ge=1, le=64_000, description="Converse `maxTokens`: the most tokens the answer may have."
    )
    temperature: float = Field(default=0.0, ge=0.0, le=1.0, description="Converse `temperature`.")
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="Converse `topP`; null: not sent.")
    stop_sequences: list[str] = Field(
        default_factory=list, max_length=4, description="Converse `stopSequences`; empty: not sent."
    )

    def to_converse(self) -> dict:
        config: dict = {"maxTokens": self.max_tokens, "temperature": self.temperature}
        if self.top_p is not None:
            config["topP"] = self.top_p
        if self.stop_sequences:
            config["stopSequences"] = list(self.stop_sequences)
        return config


class OutputSpec(_Strict):
    """The shape of the prompt's answer. `json`: the answer must be a JSON value valid against `schema`
    (JSON Schema 2020-12); the service asks the model for it with the best mechanism the model has,
    validates it, asks again up to `repair_attempts` times with what was wrong, or refuses (502
    ModelOutputInvalid). A schema is part of the prompt's content: changing it is a new version."""

    format: Literal["text", "json"] = Field(
        default="text", description="`text`: the answer as written. `json`: one JSON value, valid against `schema`."
    )
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="The answer's JSON Schema (2020-12), inline. Required with `format: json`, refused with "
        "`text`; it must be a valid schema whose every `$ref` resolves inside it.",
    )
    repair_attempts: int = Field(
        default=1,
        ge=0,
        le=2,
        description="How many times an invalid answer is sent back to the model with what was wrong; still "
        "invalid: 502 `ModelOutputInvalid`.",
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    @model_validator(mode="after")
    def _schema_goes_with_json(self) -> OutputSpec:
        if self.format == "json" and not self.schema_:
            raise ValueError("`format: json` needs a `schema` (or `schema_file`)")
        if self.format == "text" and self.schema_:
            raise ValueError("a `schema` needs `format: json`")
        if self.schema_ is not None:
            from jsonschema import Draft202012Validator
            from jsonschema.exceptions import SchemaError

            try:
                Draft202012Validator.check_schema(self.schema_)
            except SchemaError as exc:
                where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
                raise ValueError(f"schema is not a valid JSON Schema 2020-12 at {where}: {exc.message}") from exc
            dangling = unresolvable_refs(self.schema_)
            if dangling:  # check_schema lets them through; every answer would then fail to validate
                raise ValueError(f"schema has a `$ref` that cannot be resolved: {'; '.join(dangling)}")
        return self


# Keywords whose values are data, not subschemas: a `$ref` key inside them is not a reference
_VALUE_KEYWORDS = frozenset({"enum", "const", "default", "examples"})


def unresolvable_refs(schema: dict) -> list[str]:
    """Every `$ref` in `schema` that does not resolve within it ("<where>: <ref>"). Remote references
    count as unresolvable: the function never fetches a schema over the network."""
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    root = Resource.from_contents(schema, default_specification=DRAFT202012)
    base = root.id() or ""
    found: list[str] = []

    def walk(node: Any, resolver: Any, where: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, resolver, f"{where}/{index}")
            return
        if not isinstance(node, dict):
            return
        if node is not schema and isinstance(node.get("$id"), str):  # a nested resource: its own base URI
            resolver = resolver.in_subresource(Resource.from_contents(node, default_specification=DRAFT202012))
        ref = node.get("$ref")
        if isinstance(ref, str):
            try:
                resolver.lookup(ref)
            except Unresolvable:
                found.append(f"{where or '(top level)'}: {ref}")
        for key, value in node.items():
            if key not in _VALUE_KEYWORDS:
                walk(value, resolver, f"{where}/{key}")

    walk(schema, Registry().with_resource(base, root).crawl().resolver(base_uri=base), "")
    return found


class RetrievalSpec(_Strict):
    """Answers grounded in the use case's knowledge base: what to search for, and what to do with no match."""

    query: str = Field(
        min_length=1,
        max_length=1000,
        description="The text sent to the knowledge base, a template over the prompt's variables "
        "(for example `{{question}}`).",
    )
    top_k: int | None = Field(
        default=None, ge=1, le=100, description="Passages retrieved (null: the use case's `knowledge.top_k`)."
    )
    min_score: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="A passage scoring below it is dropped (null: the use case's `knowledge.min_score`).",
    )
    no_context: Literal["refuse", "call"] = Field(
        default="refuse",
        description="With no passage at `min_score` or above: `refuse` answers `refusal` without calling the model "
        "(cheaper, and nothing can be hallucinated); `call` asks the model anyway, with an empty context.",
    )
    refusal: str = Field(
        default="I could not find the answer in the documents I have.",
        min_length=1,
        max_length=1000,
        description="The fixed answer when `no_context` is `refuse` and nothing was found.",
    )


class PromptSpec(_Strict):
    """The content of one prompt version. Identical content always has the same `content_hash`."""

    prompt_id: str = Field(
        pattern=PROMPT_ID_PATTERN,
        description="The prompt's id. In a prompt file it may be left out: it is the file's name, and a "
        "different value is refused.",
    )
    description: str = Field(default="", description="What the prompt does, for people; not sent to the model.")
    model_id: str = Field(
        min_length=3,
        max_length=200,
        description="The Bedrock model or inference profile id; it must be in `models.allowed` of the use case.",
    )
    system: str | None = Field(
        default=None, description="The system prompt; may use `{{variables}}`. null: no system prompt."
    )
    template: str = Field(
        min_length=1, max_length=100_000, description="The user message, with `{{name}}` placeholders."
    )
    variables: list[PromptVariable] = Field(
        default_factory=list, description="Every placeholder of `template` and `system`, each once."
    )
    inference: InferenceParams = Field(
        default_factory=InferenceParams, description="The inference parameters sent with every call."
    )
    output: OutputSpec = Field(default_factory=OutputSpec, description="The shape of the answer.")
    retrieval: RetrievalSpec | None = Field(
        default=None,
        description="Ground the answer in the use case's knowledge base: the service retrieves passages and "
        "fills `{{context}}` with them (null: the prompt answers from its variables alone).",
    )

    @model_validator(mode="after")
    def _placeholders_match_declarations(self) -> PromptSpec:
        declared = [v.name for v in self.variables]
        duplicates = sorted({n for n in declared if declared.count(n) > 1})
        if duplicates:
            raise ValueError(f"variables declared twice: {', '.join(duplicates)}")
        used = set(PLACEHOLDER.findall(self.template))
        if self.system:
            used |= set(PLACEHOLDER.findall(self.system))
        if self.retrieval is not None:
            if CONTEXT_PLACEHOLDER in declared:
                raise ValueError(
                    f"`{CONTEXT_PLACEHOLDER}` is filled with the retrieved passages: do not declare it under `variables`"
                )
            if CONTEXT_PLACEHOLDER not in used:
                raise ValueError(
                    f"a prompt with `retrieval:` must place the passages: add {{{{{CONTEXT_PLACEHOLDER}}}}} to "
                    "`template` or `system`"
                )
            used.discard(CONTEXT_PLACEHOLDER)
            unknown = sorted(set(PLACEHOLDER.findall(self.retrieval.query)) - set(declared))
            if unknown:
                raise ValueError(f"retrieval.query uses undeclared variables: {', '.join(unknown)}")
        undeclared = sorted(used - set(declared))
        if undeclared:
            raise ValueError(
                f"template uses undeclared variables: {', '.join(undeclared)} (declare them under `variables`)"
            )
        unused = sorted(set(declared) - used)
        if unused:
            raise ValueError(f"variables declared but never used in the template: {', '.join(unused)}")
        return self

    def content_hash(self) -> str:
        """sha256 over the canonical JSON of the content (what publishing compares). A default (text)
        output spec is left out, so prompts written before it existed keep their hash."""
        content = self.model_dump(mode="json")
        if self.output == OutputSpec():
            content.pop("output")
        if self.retrieval is None:  # likewise for prompts written before retrieval existed
            content.pop("retrieval")
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
