"""Fuzz the local API from its OpenAPI document (schemathesis): no 5xx, every response matches the
document, every 4xx is a JSON error body. Bounded here (LIFTOFF_FUZZ_EXAMPLES, default 60);
`make fuzz` runs 2,000 examples."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from liftoff.openapi import OPENAPI_FILE, render

pytestmark = pytest.mark.e2e
EXAMPLES = int(os.environ.get("LIFTOFF_FUZZ_EXAMPLES", "60"))


def test_the_committed_openapi_document_is_the_generated_one():
    assert OPENAPI_FILE.read_text(encoding="utf-8") == render(), "run `python -m liftoff.openapi`"


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzz_invoke(local, mode):
    """Valid bodies (positive) and bodies that break the schema on purpose (negative). schemathesis's
    pytest plugin is not used (it does not load under pytest 9): the operation's hypothesis strategy is."""
    operation = schemathesis.openapi.from_url(f"{local.api_url}/openapi.json")["/v1/invoke"]["POST"]
    seen: dict[int, int] = {}

    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def one(case):
        response = case.call(headers={"x-api-key": local.api_key})
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        case.validate_response(response)  # no 5xx; status, content type and body as documented
        if 400 <= response.status_code < 500:
            error = response.json()["error"]
            assert error["code"] and error["message"]

    one()
    assert sum(seen.values()) >= min(EXAMPLES, 20)
    assert not any(status >= 500 for status in seen), seen
