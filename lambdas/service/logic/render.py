"""Render a prompt's `{{variables}}` with a request's values (one pass: values are never expanded)."""

from __future__ import annotations

from dataclasses import dataclass

from service.models.errors import MissingVariable, UnknownVariable, VariableTooLong
from service.models.prompt import PLACEHOLDER, PromptSpec


@dataclass(frozen=True)
class RenderedPrompt:
    system: str | None
    user_text: str


def render_prompt(spec: PromptSpec, values: dict[str, str]) -> RenderedPrompt:
    """Check `values` against the prompt's declared variables, then substitute them."""
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

    def substitute(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)

    return RenderedPrompt(
        system=substitute(spec.system) if spec.system else None,
        user_text=substitute(spec.template),
    )
