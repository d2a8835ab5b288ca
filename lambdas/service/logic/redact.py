"""PII redaction for text that is kept: the capture table (capture.enabled), a rating's correction and
comment, and the logs (prompt and output, when `logging.log_prompts` is on).

Powertools' data-masking utility masks known fields of a JSON document; here the PII sits anywhere
inside free text, so each kind is a linear-time pattern that finds candidates plus a check that confirms
them, so look-alikes stay readable. Where a well-kept library knows the format, it decides:

- EMAIL: local@domain.tld, non-ASCII too (`jörg@müller.de`); possessive quantifiers and a start-of-run
  lookbehind keep it linear (the previous pattern backtracked quadratically: ~5 s for 60,000 characters);
- IBAN: grouped or compact, confirmed by `python-stdnum` (country format and mod-97 check digits);
- CARD: 13-19 digits, spaces or dashes allowed between them, that pass the Luhn check;
- SSN: US social security numbers, with dashes or as 9 digits, that `python-stdnum` accepts (area,
  group and serial rules); a 9-digit order number that is a valid SSN is masked too: privacy first;
- IP: IPv4 with every octet <= 255; IPv6 that `ipaddress` accepts (so `12:30:45` is a time, not an IP);
- PHONE: a run of 7-15 digits with a leading `+` or separators (spaces, dots, dashes, parentheses),
  confirmed by `phonenumbers`' matcher (Google's libphonenumber metadata, any country with `+`, national
  formats of PHONE_REGIONS), or by the grouped shape alone (9-15 digits in groups of 2-4, as before, so
  fictitious numbers like 555-0100 ones are masked too). A bare digit run without `+` or separators is
  left alone: order and account numbers look the same. Dates and versions are not valid numbers.

`phonenumbers` (the lite build, without geocoding data) and `python-stdnum` are imported on the first
redaction, so a function that never redacts never pays for them (make bench measures both).
Use cases add their own kinds in config (`logging.redact_patterns: {NAME: regex}` -> `[NAME]`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

Check = Callable[[str], bool]
# national formats (without +) are read as numbers of these countries; every country's with a +
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IN", "BR")


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


def _email(candidate: str) -> bool:
    """The domain's last label is a top-level domain: 2+ letters (any script)."""
    tld = candidate.rsplit(".", 1)[-1]
    return len(tld) >= 2 and tld.isalpha()


def _iban(candidate: str) -> str | None:
    """The longest prefix of the candidate, on a group boundary, that is a valid IBAN."""
    from stdnum import iban

    while len(candidate.replace(" ", "")) >= 15:
        if iban.is_valid(candidate):
            return candidate
        if " " not in candidate:
            return None
        candidate = candidate.rsplit(" ", 1)[0]
    return None


def _ssn(candidate: str) -> bool:
    from stdnum.us import ssn

    return ssn.is_valid(candidate.replace(" ", "-") if " " in candidate else candidate)


# the grouped shape of the previous rule: optional +country and (area), then groups of 2-4 digits
_GROUPED_PHONE = re.compile(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){1,5}")


@cache
def _phonenumbers():
    import phonenumbers

    return phonenumbers


def _phones(candidate: str, label: str) -> str:
    """The candidate with each phone number in it replaced by the label."""
    digits = sum(c.isdigit() for c in candidate)
    if not 7 <= digits <= 15 or not (candidate.startswith("+") or re.search(r"\d[ .()-]", candidate)):
        return candidate
    pn = _phonenumbers()
    spans: list[tuple[int, int]] = []
    for region in PHONE_REGIONS:
        spans = [(m.start, m.end) for m in pn.PhoneNumberMatcher(candidate, region, leniency=pn.Leniency.VALID)]
        if spans:
            break
    if not spans and digits >= 9 and _GROUPED_PHONE.fullmatch(candidate):
        spans = [(0, len(candidate))]
    for start, end in reversed(spans):
        candidate = candidate[:start] + label + candidate[end:]
    return candidate


@dataclass(frozen=True)
class Rule:
    """A kind of PII: `pattern` finds candidates (linear time); `check` confirms one, or `rewrite`
    returns the candidate with the PII in it replaced by the label; neither: every match is PII."""

    name: str
    pattern: re.Pattern[str]
    check: Check | None = None
    rewrite: Callable[[str, str], str] | None = None

    def apply(self, text: str) -> str:
        label = f"[{self.name}]"
        if self.rewrite is not None:
            return self.pattern.sub(lambda m: self.rewrite(m.group(0), label), text)
        if self.check is None:
            return self.pattern.sub(label, text)
        return self.pattern.sub(lambda m: label if self.check(m.group(0)) else m.group(0), text)


def _iban_rewrite(candidate: str, label: str) -> str:
    valid = _iban(candidate)
    return candidate if valid is None else label + candidate[len(valid) :]


# Order matters: an IBAN's digits must not be eaten as a card or a phone, a card as a phone, an IP as a phone.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("EMAIL", re.compile(r"(?<![\w.%+-])[\w.%+-]++@[\w-]++(?:\.[\w-]++)++"), _email),
    Rule(
        "IBAN",
        re.compile(
            r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?:(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?|[A-Z0-9]{11,30})(?![A-Z0-9])"
        ),
        rewrite=_iban_rewrite,
    ),
    Rule("CARD", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), _luhn),
    Rule("SSN", re.compile(r"(?<![\d-])\d{3}([- ]?)\d{2}\1\d{4}(?![\d-])"), _ssn),
    Rule(
        "IP",
        re.compile(
            r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])"
        ),
    ),
    Rule("IP", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _ipv6),
    Rule(
        "PHONE",
        re.compile(r"(?<![\w+.(-])\+?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .()-]{0,3}\d){6,16}(?![\w-])"),
        rewrite=_phones,
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
