"""A regular expression, checked where it is declared (config fields, eval checks)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator


def valid_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regex: {exc}") from exc
    return pattern


RegexPattern = Annotated[str, AfterValidator(valid_regex)]
