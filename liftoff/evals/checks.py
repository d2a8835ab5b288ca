"""The eval checks: one implementation, in the function package (service/evalcore/checks.py), so the
golden canary in Lambda scores exactly as `liftoff eval` does."""

from service.evalcore.checks import Check, CheckResult, Judge, normalise, parse_json

__all__ = ["Check", "CheckResult", "Judge", "normalise", "parse_json"]
