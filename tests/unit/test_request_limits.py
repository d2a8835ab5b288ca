"""The request-size limits agree for every use case on disk: the gateway's model never refuses a
variable that fits in a body the handler accepts, and a body over the limit that the model lets
through is the handler's 413 (what `liftoff smoke` sends)."""

import json

import pytest
from jsonschema import Draft4Validator

from liftoff.foundation.usecases import load_use_case, use_case_names
from liftoff.smoke import bad_requests, sample_request
from service.models.invoke import invoke_request_schema


@pytest.mark.parametrize("name", use_case_names())
def test_a_variable_as_long_as_the_body_limit_passes_the_gateway_model(name):
    # Given the use case's body limit and its gateway model
    limit = load_use_case(name).config.api.max_body_bytes
    model = Draft4Validator(invoke_request_schema(limit))
    prompt = load_use_case(name).prompts[0]
    # When a body just within the limit holds one long variable / Then the model lets it through
    wrapper = len(json.dumps({"prompt_id": prompt.prompt_id, "variables": {"v": ""}}))
    within = {"prompt_id": prompt.prompt_id, "variables": {"v": "x" * (limit - wrapper)}}
    assert len(json.dumps(within).encode()) == limit and model.is_valid(within)
    # and a longer variable cannot be in an accepted body: the model may refuse it
    assert not model.is_valid({"prompt_id": prompt.prompt_id, "variables": {"v": "x" * (limit + 1)}})


@pytest.mark.parametrize("name", use_case_names())
def test_smokes_too_large_body_is_over_the_limit_and_valid_for_the_gateway(name):
    # Given smoke's 'body too large' request for the use case
    use_case = load_use_case(name)
    (too_big,) = [b for b in bad_requests(use_case, sample_request(use_case), "k") if b.status == 413]
    # Then it is over the body limit, so the handler answers 413, and the gateway's model passes it on
    assert len(too_big.body.encode()) > use_case.config.api.max_body_bytes
    assert Draft4Validator(invoke_request_schema(use_case.config.api.max_body_bytes)).is_valid(json.loads(too_big.body))
