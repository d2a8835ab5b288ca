"""Render a prompt's `{{variables}}` with a request's values (one pass: values are never expanded)."""

from __future__ import annotations

from dataclasses import dataclass

from service.models.errors import MissingVariable, UnknownVariable, VariableTooLong
from service.models.prompt import CONTEXT_PLACEHOLDER, PLACEHOLDER, PromptSpec


@dataclass(frozen=True)
class RenderedPrompt:
    system: str | None
    user_text: str
    # where the retrieved passages ({{context}}) sit in `user_text` (start, end); None: not in the user text
    context_span: tuple[int, int] | None = None


def check_values(spec: PromptSpec, values: dict[str, str]) -> None:
    """Refuse `values` that do not fit the prompt's declared variables (400s, before anything is called)."""
    declared = {v.name: v for v in spec.variables}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise UnknownVariable(
            f"prompt {spec.prompt_id} has no variable(s) {', '.join(unknown)}; "
            f"it takes: {', '.join(sorted(declared)) or 'none'}"
        )
    missing = sorted(n for n, v in declared.items() if v.required and not values.get(n, "").strip())
    if missing:
        raise MissingVariable(f"prompt {spec.prompt_id} needs variable(s): {', '.join(missing)}")
    for name, value in values.items():
        limit = declared[name].max_length
        if len(value) > limit:
            raise VariableTooLong(f"variable `{name}` is {len(value)} characters; the limit is {limit}")


def substitute(text: str, values: dict[str, str]) -> str:
    """`text` with each `{{name}}` replaced by its value (empty when it has none)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)


def render_prompt(spec: PromptSpec, values: dict[str, str], context: str | None = None) -> RenderedPrompt:
    """Check `values` against the prompt's declared variables, then substitute them; `context` (the
    rendered passages, prompts with `retrieval:`) fills `{{context}}`."""
    check_values(spec, values)
    if context is None:
        return RenderedPrompt(
            system=substitute(spec.system, values) if spec.system else None,
            user_text=substitute(spec.template, values),
        )
    filled = {**values, CONTEXT_PLACEHOLDER: context}
    span: tuple[int, int] | None = None
    parts: list[str] = []
    at = 0
    for match in PLACEHOLDER.finditer(spec.template):  # one pass, recording where the passages land
        parts.append(spec.template[at : match.start()])
        start = sum(len(p) for p in parts)
        value = filled.get(match.group(1), "")
        parts.append(value)
        if match.group(1) == CONTEXT_PLACEHOLDER and span is None:
            span = (start, start + len(value))
        at = match.end()
    parts.append(spec.template[at:])
    return RenderedPrompt(
        system=substitute(spec.system, filled) if spec.system else None,
        user_text="".join(parts),
        context_span=span,
    )
