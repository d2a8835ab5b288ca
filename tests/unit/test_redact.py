import pytest

from service.logic.redact import Redactor

REDACT = Redactor()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # e-mail addresses
        ("write to jane.doe+tickets@example.co.uk today", "write to [EMAIL] today"),
        ("JOHN_SMITH@Mail.Example.COM", "[EMAIL]"),
        # card numbers: only ones that pass the Luhn check
        ("card 4111 1111 1111 1111 was charged", "card [CARD] was charged"),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("amex 378282246310005", "amex [CARD]"),
        # phone numbers
        ("call (555) 123-4567", "call [PHONE]"),
        ("call 555-123-4567 or 555.123.4567", "call [PHONE] or [PHONE]"),
        ("uk +44 20 7946 0958", "uk [PHONE]"),
        ("whatsapp +14155552671", "whatsapp [PHONE]"),
        # IP addresses
        ("from 192.168.10.254 at noon", "from [IP] at noon"),
        ("v6 2001:db8::8a2e:370:7334 here", "v6 [IP] here"),
        # several kinds in one text
        ("a@b.io, 10.0.0.1, +33 1 23 45 67 89", "[EMAIL], [IP], [PHONE]"),
    ],
)
def test_pii_is_redacted(text, expected):
    assert REDACT(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 12345678 shipped",  # an order number, not a phone
        "account 5551234567",  # a bare digit run without +: left alone (see module docs)
        "card 4111 1111 1111 1112",  # fails Luhn
        "version 1.2.3 released on 2026-11-25",  # version and date
        "meeting at 12:30:45",  # a time, not an IPv6 address
        "999.1.1.1 is not an address",  # octet above 255
        "total 1,299.00 USD",
        "ticket #4521, priority high",
        "user@localhost",  # no dot in the domain
    ],
)
def test_look_alikes_stay_readable(text):
    assert REDACT(text) == text


def test_configured_patterns_come_first_and_name_their_label():
    redact = Redactor({"ORDER_ID": r"ORD-\d{6,}", "EMPLOYEE": r"\bE\d{5}\b"})
    assert redact("ORD-1234567 for E12345, mail a@b.io") == "[ORDER_ID] for [EMPLOYEE], mail [EMAIL]"
