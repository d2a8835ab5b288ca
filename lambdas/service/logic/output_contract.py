"""The output contract of a prompt (`output:` in its file): ask the model for the declared shape,
validate the answer against the schema, ask again with what was wrong (up to `repair_attempts`),
or refuse with 502 ModelOutputInvalid. Always validated, whatever the mechanism: a guardrail that
anonymises PII rewrites the answer after the model, and native modes have documented limits.

jsonschema (Draft 2020-12, what the prompt files declare) rather than Powertools' fastjsonschema,
which stops at draft 7; a validator is built once per schema and kept for the environment's life."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from service.dal.model_client import AnswerCheck, ModelReply, Repair, StructuredOutput
from service.logic.json_depth import nesting_depth
from service.models.errors import ModelOutputInvalid, ModelOutputTruncated
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


# An answer that nests deeper than this is refused like one too deep to parse: the response could not carry
# it (pydantic-core stops serialising a JSON value at 254 levels, measured; the 200 became a 500 after the bill)
MAX_ANSWER_DEPTH = 128


def problem_with(text: str, schema: dict) -> tuple[str | None, Any]:
    """(None, value) for a valid answer; else (where, and which rule of the schema it breaks; None).
    Never the answer itself: the problem goes to the client and the log. An answer nested too deeply
    to parse or validate is a problem like any other (the model can be asked again)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"not JSON ({exc.msg} at character {exc.pos})", None
    except RecursionError:
        return NESTED_TOO_DEEPLY, None
    if nesting_depth(value, MAX_ANSWER_DEPTH) > MAX_ANSWER_DEPTH:
        return NESTED_TOO_DEEPLY, None
    validator = _validator(schema)
    try:
        if validator.is_valid(value):  # the common case, without building error objects
            return None, value
        from jsonschema.exceptions import best_match

        error = best_match(validator.iter_errors(value))
    except RecursionError:
        return NESTED_TOO_DEEPLY, None
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    # built from the schema's side only: jsonschema's own message quotes the answer's values
    rule = json.dumps(error.validator_value, default=str, ensure_ascii=False)[:160]
    return f"{path}: must satisfy {error.validator}={rule}", None


NESTED_TOO_DEEPLY = "$: nested too deeply to be an answer"


def unknown_citation(value: Any, citable: frozenset[str]) -> str | None:
    """Where the answer cites a passage id that was not retrieved (prompts with `retrieval:`); None if it
    cites none. An answer whose schema has no `citations` list is not checked here."""
    cited = value.get("citations") if isinstance(value, dict) else None
    if not isinstance(cited, list):
        return None
    for index, item in enumerate(cited):
        if item not in citable:
            retrieved = ", ".join(sorted(citable, key=lambda i: (len(i), i))) or "none"
            shown = json.dumps(item, ensure_ascii=False)[:40]
            return f"$.citations[{index}]: {shown} is not the id of a retrieved passage (retrieved: {retrieved})"
    return None


def _problem(
    reply: ModelReply, output: OutputSpec, max_tokens: int | None, citable: frozenset[str] | None = None
) -> tuple[str | None, Any]:
    """problem_with, and the two problems no repair can mend: an answer cut off at `max_tokens`, and a
    schema that fails while validating (a stored version's `$ref` that cannot be resolved, say). With
    `citable` (the retrieved passages' ids), a citation of any other id is a problem too."""
    try:
        problem, value = problem_with(reply.text, output.schema_)
        if problem is None and citable is not None:
            problem = unknown_citation(value, citable)
            value = None if problem is not None else value
    except Exception as exc:  # the schema's fault, not the answer's: asking again would fail the same way
        error = ModelOutputInvalid("the prompt's output schema cannot validate the answer; fix the prompt's schema")
        error.detail = f"{type(exc).__name__}: {exc}"
        raise error from exc
    if problem is not None and reply.stop_reason == "max_tokens":
        limit = f" ({max_tokens})" if max_tokens else ""
        raise ModelOutputTruncated(
            f"the model's answer was cut off at the prompt's max_tokens{limit} before its JSON was complete "
            f"({problem}); raise the prompt's `inference.max_tokens`, or send a shorter input"
        )
    return problem, value


def ask(
    call: Callable[..., ModelReply],
    output: OutputSpec,
    mechanism: str,
    max_tokens: int | None = None,
    citable: frozenset[str] | None = None,
) -> Answer:
    """`call(structured=..., repair=...)` makes one model call (the caller keeps the bill of every call).
    Text prompts: one call, as is. JSON: validated, repaired, or refused; with `citable`, an answer citing a
    passage id outside it is invalid like one that breaks the schema."""
    if output.format != "json":
        return Answer(reply=(reply := call(structured=None, repair=None)), replies=[reply])
    structured = StructuredOutput(mechanism=mechanism, schema=output.schema_)
    replies = [call(structured=structured, repair=None)]
    if _withheld(replies[-1]):
        return Answer(reply=replies[-1], replies=replies)
    problem, value = _problem(replies[-1], output, max_tokens, citable)
    while problem is not None and len(replies) <= output.repair_attempts:
        replies.append(call(structured=structured, repair=Repair(previous=replies[-1], problem=problem)))
        if _withheld(replies[-1]):
            return Answer(reply=replies[-1], replies=replies)
        problem, value = _problem(replies[-1], output, max_tokens, citable)
    if problem is not None:
        raise ModelOutputInvalid(
            f"the model's answer does not match the prompt's output schema after {len(replies) - 1} repair "
            f"attempt(s): {problem}"
        )
    return Answer(reply=replies[-1], value=value, replies=replies)


def _withheld(reply: ModelReply) -> bool:
    """No answer to validate: the guardrail blocked it, or the model's own filter withheld it (the caller
    answers 422 for those)."""
    return reply.guardrail == "blocked" or (reply.stop_reason == "content_filtered" and not reply.text.strip())


MASKED_INVALID = (
    "the answer was withheld: the guardrail's masking left it invalid against the prompt's output schema; "
    "rephrase the input"
)


def needs_output_check(answer: Answer, *, guardrail: bool) -> bool:
    """Whether the answer still needs the output guardrail on its own (ApplyGuardrail): a forced tool's input,
    which the guardrail of the Converse call does not evaluate, unless the guardrail already blocked the call."""
    return guardrail and answer.reply.tool_use_id is not None and answer.reply.guardrail != "blocked"


def checked_answer(
    answer: Answer, check: AnswerCheck, output: OutputSpec, citable: frozenset[str] | None = None
) -> Answer:
    """`answer` after the guardrail's check of its output. Blocked: the guardrail's blocked answer. Anonymised:
    the masked JSON, when it is still valid against the schema (and, with `citable`, cites retrieved passages
    only); else it is withheld as a blocked output (MASKED_INVALID): an answer that breaks the contract is never
    returned, and the unmasked one never is either."""
    value, outcome, text = answer.value, check.outcome, check.text
    if outcome == "masked":
        problem, value = problem_with(text, output.schema_)
        if problem is None and citable is not None:
            problem = unknown_citation(value, citable)
        if problem is not None:
            value, outcome, text = None, "blocked", MASKED_INVALID
    reply = answer.reply
    checked = dataclasses.replace(
        reply, text=text, guardrail=outcome or reply.guardrail, grounding=check.grounding or reply.grounding
    )
    return dataclasses.replace(answer, reply=checked, value=value)
