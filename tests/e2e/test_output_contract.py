"""The output contract through local mode, as a client sees it."""

import pytest
import requests

from liftoff.foundation.usecases import load_use_case
from liftoff.local import runtime
from liftoff.prompts_cli import open_store

pytestmark = pytest.mark.e2e
CATEGORIES = {"billing", "technical", "account", "shipping", "other"}


def test_a_triage_answer_is_validated_json_a_bad_one_repaired_or_refused(local, post):
    # A fixture-triage request returns output_json with a category from the schema's enum
    status, body = post({"prompt_id": "triage", "variables": {"message": "Where is my parcel?"}})
    assert status == 200 and body["output_json"]["category"] in CATEGORIES and body["repairs"] == 0

    # The invalid-output fault, with the prompt's repair_attempts (1): repaired, 200
    status, body = post({"prompt_id": "triage", "variables": {"message": "refund [[sim:invalid-output]]"}})
    assert (status, body["repairs"]) == (200, 1)
    assert body["output_json"]["category"] in CATEGORIES

    # The same fault with repair_attempts 0: 502 ModelOutputInvalid. Shown on fixture-summary's registry (a
    # version pinned by the request), so fixture-triage's registry stays as the registry-flow test expects
    runtime.up("fixture-summary")
    prompt = load_use_case("fixture-summary").prompts[0]
    strict = prompt.model_copy(update={"output": prompt.output.model_copy(update={"repair_attempts": 0})})
    version = open_store("fixture-summary", None).publish(strict, author="e2e", message="no repairs").version
    state = runtime.read_state("fixture-summary")
    document = "The office moves to Lyon on 3 May. Badges change the same week. [[sim:invalid-output]]"
    response = requests.post(
        state.invoke_url,
        json={
            "prompt_id": prompt.prompt_id,
            "version": version,
            "variables": {"document": document, "max_words": "20"},
        },
        headers={"x-api-key": state.api_key},
        timeout=30,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (502, "ModelOutputInvalid")
    assert "after 0 repair attempt(s)" in response.json()["error"]["message"]
