"""The eval checks: one implementation, in the function package (service/evalcore/checks.py), so the
golden canary in Lambda scores exactly as `liftoff eval` does."""

from service.evalcore.checks import *  # noqa: F403
from service.evalcore.checks import (  # the names the harness uses, explicitly
    MISSING,
    Check,
    CheckResult,
    Judge,
    normalise,
    parse_json,
    value_at,
)

__all__ = ["MISSING", "Check", "CheckResult", "Judge", "normalise", "parse_json", "value_at"]
