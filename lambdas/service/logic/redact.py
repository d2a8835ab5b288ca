"""PII redaction for text that goes to the logs (prompt and output, when `logging.log_prompts` is on).

Powertools' data-masking utility masks known fields of a JSON document; here the PII sits anywhere
inside free text, so this is a small pattern scanner. Each kind is a regex that finds candidates
plus an optional check that confirms them, so look-alikes stay readable in the logs:

- EMAIL: local@domain.tld
- CARD: 13-19 digits, spaces or dashes allowed between them, that pass the Luhn check
- IP: IPv4 with every octet <= 255; IPv6 that `ipaddress` accepts (so `12:30:45` is a time, not an IP)
- PHONE: 9-15 digits in groups split by spaces, dots or dashes, optional +country and (area) code;
  or a run of 10-15 digits after a `+`. A bare digit run without `+` is left alone: order and
  account numbers look the same. Dates (2026-11-25) and versions (1.2.3) have too few digits.

Use cases add their own kinds in config (`logging.redact_patterns: {NAME: regex}` -> `[NAME]`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Check = Callable[[str], bool]


def _luhn(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    doubled = [d * 2 - 9 if d * 2 > 9 else d * 2 for d in digits[-2::-2]]
    return (sum(digits[-1::-2]) + sum(doubled)) % 10 == 0


def _ipv6(candidate: str) -> bool:
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return True


def _phone_digits(candidate: str) -> bool:
    return 9 <= sum(c.isdigit() for c in candidate) <= 15


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    check: Check | None = None

    def apply(self, text: str) -> str:
        label = f"[{self.name}]"
        if self.check is None:
            return self.pattern.sub(label, text)
        return self.pattern.sub(lambda m: label if self.check(m.group(0)) else m.group(0), text)


# Order matters: a card number must not be half-eaten as a phone number, an IP not as a phone.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    Rule("CARD", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), _luhn),
    Rule(
        "IP",
        re.compile(
            r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])"
        ),
    ),
    Rule("IP", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _ipv6),
    Rule(
        "PHONE",
        re.compile(
            r"(?<![\w.+-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,5}(?![\w.-])"
            r"|(?<![\w+])\+\d{10,15}(?!\w)"
        ),
        _phone_digits,
    ),
)


class Redactor:
    """Replaces PII in text with `[KIND]`; the default kinds plus any configured ones."""

    def __init__(self, extra: Mapping[str, str] | None = None):
        custom = tuple(Rule(name.upper(), re.compile(pattern)) for name, pattern in (extra or {}).items())
        self.rules = custom + DEFAULT_RULES  # custom first: a use case's own ids may contain digits

    def __call__(self, text: str) -> str:
        for rule in self.rules:
            text = rule.apply(text)
        return text
