"""The output contract of a prompt (`output:` in its file): ask the model for the declared shape,
validate the answer against the schema, ask again with what was wrong (up to `repair_attempts`),
or refuse with 502 ModelOutputInvalid. Always validated, whatever the mechanism: a guardrail that
anonymises PII rewrites the answer after the model, and native modes have documented limits.

jsonschema (Draft 2020-12, what the prompt files declare) rather than Powertools' fastjsonschema,
which stops at draft 7; a validator is built once per schema and kept for the environment's life."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.dal.model_client import ModelReply, Repair, StructuredOutput
from service.models.errors import ModelOutputInvalid
from service.models.prompt import OutputSpec


@dataclass(frozen=True)
class Answer:
    reply: ModelReply  # the reply that is returned
    value: Any = None  # the parsed JSON (format json)
    replies: list[ModelReply] = field(default_factory=list)  # every billed call: the first and each repair

    @property
    def repairs(self) -> int:
        return len(self.replies) - 1


_VALIDATORS: dict[int, tuple[dict, Any]] = {}
MAX_VALIDATORS = 64


def _validator(schema: dict) -> Any:
    """One validator per schema object for the environment's life (a prompt version's schema is one
    object, cached with the version): keyed by identity, checked against reuse of the id. jsonschema is
    imported here, on the first JSON answer: it takes ~110 ms to import, which text-only use cases skip."""
    from jsonschema import Draft202012Validator

    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached[0] is not schema:
        if len(_VALIDATORS) >= MAX_VALIDATORS:  # the prompt cache reloads versions: drop the old objects
            _VALIDATORS.clear()
        cached = _VALIDATORS[id(schema)] = (schema, Draft202012Validator(schema))
    return cached[1]


def problem_with(text: str, schema: dict) -> tuple[str | None, Any]:
    """(None, value) for a valid answer; else (where, and which rule of the schema it breaks; None).
    Never the answer itself: the problem goes to the client and the log."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not JSON ({exc.msg} at character {exc.pos})", None
    validator = _validator(schema)
    if validator.is_valid(value):  # the common case, without building error objects
        return None, value
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(value))
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    # built from the schema's side only: jsonschema's own message quotes the answer's values
    rule = json.dumps(error.validator_value, default=str, ensure_ascii=False)[:160]
    return f"{path}: must satisfy {error.validator}={rule}", None


def ask(call: Callable[..., ModelReply], output: OutputSpec, mechanism: str) -> Answer:
    """`call(structured=..., repair=...)` makes one model call. Text prompts: one call, as is."""
    if output.format != "json":
        return Answer(reply=(reply := call(structured=None, repair=None)), replies=[reply])
    structured = StructuredOutput(mechanism=mechanism, schema=output.schema_)
    replies = [call(structured=structured, repair=None)]
    if _withheld(replies[-1]):
        return Answer(reply=replies[-1], replies=replies)
    problem, value = problem_with(replies[-1].text, output.schema_)
    while problem is not None and len(replies) <= output.repair_attempts:
        replies.append(call(structured=structured, repair=Repair(previous=replies[-1], problem=problem)))
        if _withheld(replies[-1]):
            return Answer(reply=replies[-1], replies=replies)
        problem, value = problem_with(replies[-1].text, output.schema_)
    if problem is not None:
        error = ModelOutputInvalid(
            f"the model's answer does not match the prompt's output schema after {len(replies) - 1} repair "
            f"attempt(s): {problem}"
        )
        error.replies = replies
        raise error
    return Answer(reply=replies[-1], value=value, replies=replies)


def _withheld(reply: ModelReply) -> bool:
    """No answer to validate: the guardrail blocked it, or the model's own filter withheld it (the caller
    answers 422 for those)."""
    return reply.guardrail == "blocked" or (reply.stop_reason == "content_filtered" and not reply.text.strip())
